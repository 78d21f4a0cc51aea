#![no_main]
//! The forward route's sub-path, put in its canonical form before routing:
//! never a panic, and the form is a fixed point (what routes matched is
//! what the agent receives, however often it is read again), never
//! climbs or holds a dot segment, an encoded separator or a control byte.

use hookgate::domain::SubPath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let Ok(path) = SubPath::parse(raw) else {
        return;
    };
    let again = SubPath::parse(path.as_str()).expect("a canonical path parses");
    assert_eq!(again, path, "the canonical form is a fixed point");
    for segment in path.relative().split('/') {
        assert!(segment != "." && segment != "..", "{raw:?} -> {path:?}");
    }
    let upper = path.as_str().to_ascii_uppercase();
    assert!(!upper.contains("%2F") && !upper.contains("%5C") && !upper.contains("%00"));
    assert!(!path.as_str().bytes().any(|b| b.is_ascii_control()));
});
