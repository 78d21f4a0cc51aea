//! Reading a few fields of a JSON body that nobody has verified yet (the
//! repository or app id that names a secret, a timestamp)
//! without building a tree of the whole body: one streaming pass that keeps
//! only the wanted scalars and skips everything else as it goes. Memory is
//! bounded by the wanted values, never by the body, and skipped values are
//! not built. Objects nested past serde_json's recursion limit (128) are
//! refused, as a full parse would refuse them.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// What stands at one wanted path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<'a> {
    /// The path's last key is not there (or an object above it is missing).
    #[default]
    Absent,
    /// Something on the way is not an object (the document itself, or a
    /// value whose key is on the path).
    NotObject,
    Str(Cow<'a, str>),
    Int(i64),
    /// Another kind of value (a float, a bool, null, an array, an object).
    Other,
}

impl Field<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The body is not JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

/// The values at `paths` (each a list of object keys from the top), in one
/// pass. The first occurrence of a repeated key wins.
pub fn find<'a>(body: &'a [u8], paths: &[&[&str]]) -> Result<Vec<Field<'a>>, NotJson> {
    let mut found = vec![Field::Absent; paths.len()];
    // The document is a value: an empty path names it, the others go deeper.
    let (leaves, deeper): (Vec<usize>, Vec<usize>) =
        (0..paths.len()).partition(|&i| paths[i].is_empty());
    let mut de = serde_json::Deserializer::from_slice(body);
    let seed = Value {
        paths,
        leaves: &leaves,
        deeper: &deeper,
        depth: 0,
        found: &mut found,
    };
    seed.deserialize(&mut de).map_err(|_| NotJson)?;
    de.end().map_err(|_| NotJson)?;
    Ok(found)
}

/// An object on the way: `wanted` are the paths whose first `depth` keys led
/// here.
struct Level<'p, 'f, 'a> {
    paths: &'p [&'p [&'p str]],
    wanted: &'p [usize],
    depth: usize,
    found: &'f mut [Field<'a>],
}

impl<'de> Level<'_, '_, 'de> {
    /// Walks an object: values under wanted keys are read (the first of
    /// repeated keys), the rest skipped unbuilt.
    fn walk<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<usize> = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let here: Vec<usize> = self
                .wanted
                .iter()
                .copied()
                .filter(|&i| self.paths[i][self.depth] == key && !seen.contains(&i))
                .collect();
            if here.is_empty() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            seen.extend(&here);
            let (leaves, deeper): (Vec<usize>, Vec<usize>) = here
                .into_iter()
                .partition(|&i| self.paths[i].len() == self.depth + 1);
            map.next_value_seed(Value {
                paths: self.paths,
                leaves: &leaves,
                deeper: &deeper,
                depth: self.depth + 1,
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }
}

/// The value under a wanted key: kept where a path ends here (`leaves`),
/// walked into where paths go deeper.
struct Value<'p, 'f, 'a> {
    paths: &'p [&'p [&'p str]],
    leaves: &'p [usize],
    deeper: &'p [usize],
    depth: usize,
    found: &'f mut [Field<'a>],
}

impl<'a> Value<'_, '_, 'a> {
    fn scalar(self, field: Field<'a>) {
        for &i in self.leaves {
            self.found[i] = field.clone();
        }
        for &i in self.deeper {
            self.found[i] = Field::NotObject;
        }
    }
}

impl<'de, 'p, 'f> DeserializeSeed<'de> for Value<'p, 'f, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'p, 'f> Visitor<'de> for Value<'p, 'f, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        for &i in self.leaves {
            self.found[i] = Field::Other;
        }
        Level {
            paths: self.paths,
            wanted: self.deeper,
            depth: self.depth,
            found: self.found,
        }
        .walk(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.scalar(Field::Other);
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.scalar(Field::Str(Cow::Borrowed(v)));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        // Escaped strings arrive here; only wanted values are copied.
        self.scalar(Field::Str(Cow::Owned(v.to_owned())));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(Field::Int(v));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(i64::try_from(v).map_or(Field::Other, Field::Int));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar(Field::Other);
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar(Field::Other);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Field::Other);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &[&str] = &["repository", "full_name"];
    const REPO_OBJ: &[&str] = &["repository"];

    /// Found by `fuzz/fuzz_targets/json_fields.rs`: an empty path indexed
    /// past its end.
    #[test]
    fn an_empty_path_names_the_document() {
        assert_eq!(find(b"\"x\"", &[&[]]).unwrap(), [Field::Str("x".into())]);
        assert_eq!(
            find(br#"{"":1}"#, &[&[], &[""]]).unwrap(),
            [Field::Other, Field::Int(1)]
        );
        assert_eq!(find(b"{\"\"\xff", &[&[]]), Err(NotJson));
    }

    #[test]
    fn finds_nested_and_top_level_fields_in_one_pass() {
        let body = br#"{"a":[1,{"repository":{"full_name":"no"}}],"repository":{"id":1,"full_name":"octo\/hello"},"n":7}"#;
        let found = find(body, &[REPO, &["n"], &["missing"]]).unwrap();
        assert_eq!(found[0].as_str(), Some("octo/hello"));
        assert_eq!(found[1], Field::Int(7));
        assert_eq!(found[2], Field::Absent);
    }

    #[test]
    fn classifies_what_is_not_there() {
        assert_eq!(find(b"[1,1,1]", &[REPO]).unwrap(), vec![Field::NotObject]);
        assert_eq!(find(b"{}", &[REPO]).unwrap(), vec![Field::Absent]);
        assert_eq!(
            find(br#"{"repository":"x"}"#, &[REPO, REPO_OBJ]).unwrap(),
            vec![Field::NotObject, Field::Str("x".into())]
        );
        assert_eq!(
            find(br#"{"repository":{"full_name":3}}"#, &[REPO, REPO_OBJ]).unwrap(),
            vec![Field::Int(3), Field::Other]
        );
        assert_eq!(find(b"{\"a\":", &[REPO]), Err(NotJson));
        assert_eq!(find(b"{} x", &[REPO]), Err(NotJson));
        assert_eq!(find(b"", &[REPO]), Err(NotJson));
    }

    #[test]
    fn the_first_of_repeated_keys_wins_and_deep_nesting_is_survived() {
        let found = find(br#"{"k":"first","k":"second"}"#, &[&["k"]]).unwrap();
        assert_eq!(found[0].as_str(), Some("first"));
        // Skipped values are not built, however deep.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(find(deep.as_bytes(), &[REPO]), Ok(vec![Field::NotObject]));
        let deep = format!(
            r#"{{"repository":{{"x":{}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(find(deep.as_bytes(), &[REPO]).is_ok());
        let deep_objects = format!("{}{}", r#"{"repository":"#.repeat(1000), "}".repeat(1000));
        assert!(
            find(deep_objects.as_bytes(), &[REPO]).is_err(),
            "refused past the limit, as by a full parse"
        );
    }
}
