//! The forward route's sub-path (what follows `/agents/forward/name/{agent}`)
//! in its one canonical form, decided once before routing: routes match on
//! it, filters and redactions see it, the agent receives it. Without one
//! form, a route's filter and redaction could be bypassed by spelling its
//! path differently (`./gh`, `x/../gh`, `%67h`), and an agent server that
//! resolves dot segments could be made to serve a path above its base.
//!
//! The form (RFC 3986, sections 6.2.2 and 5.2.4, plus two rules of our own):
//! - a percent-encoded octet that may stand literally in a path segment
//!   (unreserved characters, sub-delims, `:` and `@`) is decoded; any other
//!   stays encoded, with upper-case hex; a literal octet that may not stand
//!   in a path is encoded;
//! - `.` and `..` segments are removed (after decoding, so `%2e%2e` is one);
//! - empty segments (`a//b`) are removed, as most servers and proxies merge
//!   them;
//! - refused, so the call is a 400 before anything else: a `..` that climbs
//!   above the agent's base, an encoded `/` or `\` (a separator the agent may
//!   split on that routing here did not), a raw `\`, a NUL or any control
//!   character, a `%` not followed by two hex digits.

use std::fmt::Write;

/// A canonical sub-path: empty, or `/` followed by its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubPath(String);

/// Why a sub-path has no canonical form; the message is the 400's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubPathError {
    #[error("The path climbs above the agent's base with '..'.")]
    AboveBase,
    #[error("The path holds an encoded '/' or '\\' (%2F, %5C) or a '\\'.")]
    EncodedSeparator,
    #[error("The path holds a NUL or control character.")]
    Control,
    #[error("The path holds a '%' that is not followed by two hex digits.")]
    BadEscape,
}

impl SubPath {
    /// The canonical form of `raw`, the sub-path as the request spelled it
    /// (still percent-encoded; empty or starting with `/`).
    pub fn parse(raw: &str) -> Result<Self, SubPathError> {
        if is_canonical(raw) {
            return Ok(Self(raw.to_owned()));
        }
        let mut kept: Vec<String> = Vec::new();
        let mut trailing_slash = false;
        for raw_segment in raw.split('/').skip(usize::from(raw.starts_with('/'))) {
            let segment = canonical_segment(raw_segment)?;
            trailing_slash = matches!(segment.as_str(), "" | "." | "..");
            match segment.as_str() {
                "" | "." => {}
                ".." => {
                    kept.pop().ok_or(SubPathError::AboveBase)?;
                }
                _ => kept.push(segment),
            }
        }
        let mut path = String::with_capacity(raw.len());
        for segment in &kept {
            path.push('/');
            path.push_str(segment);
        }
        if trailing_slash || (kept.is_empty() && raw.starts_with('/')) {
            path.push('/');
        }
        Ok(Self(path))
    }

    /// What the agent receives after its base URL: empty or `/…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What routes match on and filters see: the path without its leading `/`.
    pub fn relative(&self) -> &str {
        self.0.strip_prefix('/').unwrap_or(&self.0)
    }
}

/// Whether `raw` is already canonical (the common case, checked without
/// allocating): only literal bytes, no empty, `.` or `..` segment but a
/// final empty one (a trailing `/`).
fn is_canonical(raw: &str) -> bool {
    if raw.is_empty() {
        return true;
    }
    let Some(rest) = raw.strip_prefix('/') else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    (rest.is_empty() && raw == "/")
        || rest.split('/').all(|segment| {
            !matches!(segment, "" | "." | "..") && segment.bytes().all(is_segment_literal)
        })
}

/// May `byte` stand literally in a path segment (RFC 3986 `pchar` without
/// `%`)?
fn is_segment_literal(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte)
}

fn canonical_segment(raw: &str) -> Result<String, SubPathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let (byte, encoded) = match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(SubPathError::BadEscape)?;
                let hex = std::str::from_utf8(hex).map_err(|_| SubPathError::BadEscape)?;
                let byte = u8::from_str_radix(hex, 16).map_err(|_| SubPathError::BadEscape)?;
                i += 3;
                (byte, true)
            }
            byte => {
                i += 1;
                (byte, false)
            }
        };
        match byte {
            b'/' | b'\\' if encoded => return Err(SubPathError::EncodedSeparator),
            b'\\' => return Err(SubPathError::EncodedSeparator),
            0..=0x1f | 0x7f => return Err(SubPathError::Control),
            _ if is_segment_literal(byte) => out.push(byte as char),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(raw: &str) -> Result<String, SubPathError> {
        SubPath::parse(raw).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn every_spelling_of_one_path_is_one_path() {
        for raw in [
            "/gh",
            "/./gh",
            "/x/../gh",
            "/%2e/gh",
            "/%2E/gh",
            "/%67h",
            "/%67%68",
            "//gh",
            "/x/%2e%2e/gh",
            "/x/.%2E/gh",
            "/gh/.",
            "/gh/",
        ] {
            let path = SubPath::parse(raw).unwrap();
            assert_eq!(path.as_str().trim_end_matches('/'), "/gh", "{raw}");
            assert_eq!(path.relative().trim_end_matches('/'), "gh", "{raw}");
        }
    }

    #[test]
    fn the_quick_check_agrees_with_the_full_one() {
        for raw in [
            "", "/", "/a", "/a/", "/a/b", "//", "/a//", "/./", "/a/.", "/%41", "/a b", "/...",
        ] {
            let canonical = SubPath::parse(raw).map(|p| p.as_str().to_owned());
            if is_canonical(raw) {
                assert_eq!(canonical.as_deref(), Ok(raw), "{raw}");
            }
        }
        assert!(is_canonical("/code_changes") && is_canonical("/github/pr/"));
        assert!(!is_canonical("//") && !is_canonical("/a/./b") && !is_canonical("/%67h"));
    }

    #[test]
    fn keeps_what_differs() {
        assert_eq!(canonical(""), Ok("".into()));
        assert_eq!(canonical("/"), Ok("/".into()));
        assert_eq!(canonical("/a/b/"), Ok("/a/b/".into()));
        assert_eq!(canonical("/a/b/.."), Ok("/a/".into()));
        assert_eq!(canonical("/x/.."), Ok("/".into()));
        assert_eq!(canonical("/a%3fb%23c"), Ok("/a%3Fb%23c".into()));
        assert_eq!(canonical("/a%3Ab%40c"), Ok("/a:b@c".into()));
        assert_eq!(canonical("/caf%c3%a9"), Ok("/caf%C3%A9".into()));
        assert_eq!(canonical("/a%20b"), Ok("/a%20b".into()));
        assert_eq!(canonical("/a\"b"), Ok("/a%22b".into()));
        assert_eq!(canonical("/%252e%252e"), Ok("/%252e%252e".into()));
        assert_eq!(canonical("/..."), Ok("/...".into()));
    }

    #[test]
    fn refuses_what_has_no_canonical_form() {
        for (raw, why) in [
            ("/..", SubPathError::AboveBase),
            ("/a/../../../escape", SubPathError::AboveBase),
            ("/%2e%2e/x", SubPathError::AboveBase),
            ("/a%2fb", SubPathError::EncodedSeparator),
            ("/a%2Fb", SubPathError::EncodedSeparator),
            ("/a%5cb", SubPathError::EncodedSeparator),
            ("/a\\b", SubPathError::EncodedSeparator),
            ("/a%00b", SubPathError::Control),
            ("/a%0d%0ab", SubPathError::Control),
            ("/a%7f", SubPathError::Control),
            ("/a\tb", SubPathError::Control),
            ("/a%2", SubPathError::BadEscape),
            ("/a%zz", SubPathError::BadEscape),
        ] {
            assert_eq!(SubPath::parse(raw), Err(why), "{raw}");
        }
    }
}
