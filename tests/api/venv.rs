//! Python virtualenvs for the tests that run real libraries (the providers'
//! signing libraries, the A2A SDK): made under target/tmp from a
//! requirements file the first time, and reused across runs while that
//! file is unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn project_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The python of the venv `name` holding `requirements` (a project path),
/// made now if it is missing or was made from other requirements.
pub fn python(requirements: &str, name: &str) -> PathBuf {
    let requirements = project_file(requirements);
    let wanted = std::fs::read_to_string(&requirements).expect("read requirements");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return python;
    }
    // Built beside, then renamed into place: a half-made venv is never used.
    let building = venv.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&building),
        "python3 -m venv (these tests need Python 3 with venv)",
    );
    run(
        Command::new(building.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
        &format!("pip install -r {}", requirements.display()),
    );
    std::fs::write(building.join("requirements.txt"), &wanted).expect("stamp venv");
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::rename(&building, &venv).expect("move venv into place");
    python
}
