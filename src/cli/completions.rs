//! `hookgate completions <shell>`: a completion script generated from the
//! command tree by `clap_complete`, so it always matches the commands.

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

pub fn print(args: &CompletionsArgs, mut cmd: clap::Command) {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(args.shell, &mut cmd, name, &mut std::io::stdout());
}
