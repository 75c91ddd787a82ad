//! Checks that make YAML from untrusted files safe to deserialize: the size of the text, how
//! deeply flow collections nest, how many nodes the document has once its aliases are
//! expanded, and that the document is a mapping of keys.
//!
//! `yaml_serde` bounds recursion (128 levels) and alias jumps itself, but only after its
//! parser has read the whole file, and that parser takes time quadratic in the nesting depth
//! of flow collections (`a: [[[[...` 100000 deep takes 20 s); and its alias bound counts jumps,
//! not the nodes each jump expands, so a large anchor referenced many times still multiplies
//! into gigabytes. Hence the checks here, before any typed deserialization.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// The largest YAML file read (1 MiB). An experiment config is 2-4 KB and a settings file a
/// few lines; anything near this is not one of them.
pub const MAX_YAML_BYTES: usize = 1 << 20;

/// The deepest nesting of flow collections (`[` / `{`) accepted. Configs nest 3 levels; 64
/// keeps the parser's quadratic cost negligible.
pub const MAX_FLOW_NESTING: usize = 64;

/// The most nodes (scalars, sequences, mappings) a document may have with its aliases
/// expanded. An experiment config has about 150; an alias bomb reaches this within
/// milliseconds and stops there.
pub const MAX_YAML_NODES: usize = 100_000;

/// What the top of a YAML document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlShape {
    /// No document at all: an empty file, only comments, or only `---`/`~`.
    Empty,
    Mapping,
    Sequence,
    Scalar,
}

impl fmt::Display for YamlShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty (no document, only comments, or null)",
            Self::Mapping => "a mapping",
            Self::Sequence => "a list",
            Self::Scalar => "a single value",
        })
    }
}

/// Reads a YAML file as text, refusing files larger than [`MAX_YAML_BYTES`] without reading
/// (or allocating for) more than that.
pub fn read_yaml_text(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_YAML_BYTES as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > MAX_YAML_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than the limit of {MAX_YAML_BYTES} bytes for a YAML file"),
        ));
    }
    Ok(text)
}

/// Checks `text` against the limits above and returns the shape of its document; errors say
/// which limit was hit (callers add the file).
pub fn check_yaml(text: &str) -> Result<YamlShape, String> {
    if text.len() > MAX_YAML_BYTES {
        return Err(format!(
            "YAML file has {} bytes; the limit is {MAX_YAML_BYTES}",
            text.len()
        ));
    }
    let depth = flow_nesting_depth(text);
    if depth > MAX_FLOW_NESTING {
        return Err(format!(
            "YAML nests [ ] / {{ }} more than {MAX_FLOW_NESTING} levels deep"
        ));
    }
    let budget = Cell::new(MAX_YAML_NODES);
    NodeCounter { left: &budget }
        .deserialize(yaml_serde::Deserializer::from_str(text))
        .map_err(|e| format!("invalid YAML: {e}"))
}

/// [`check_yaml`], and the document must be a mapping; `what` says what its keys are (for
/// the message, e.g. "config keys (MODEL, TRAIN, DATA, TEST)").
pub fn check_yaml_mapping(text: &str, what: &str) -> Result<(), String> {
    match check_yaml(text)? {
        YamlShape::Mapping => Ok(()),
        shape => Err(format!(
            "the YAML document is {shape}; expected a mapping of {what}"
        )),
    }
}

/// The deepest nesting of `[`/`{`, counting every bracket, even inside quoted scalars and
/// comments. Telling those apart needs a YAML tokenizer (a `"` inside a plain scalar is just a
/// character, a `#` inside quotes is not a comment), and a scan that gets it wrong can be made
/// to overlook deep nesting; real files never come near the limit either way.
fn flow_nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Visits every node of a document, aliases expanded by the deserializer, and fails once more
/// than the budget was seen; returns the shape of the node it was given.
struct NodeCounter<'a> {
    left: &'a Cell<usize>,
}

impl NodeCounter<'_> {
    fn spend<E: de::Error>(&self) -> Result<(), E> {
        match self.left.get().checked_sub(1) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(E::custom(format_args!(
                "the YAML document has more than {MAX_YAML_NODES} nodes with its aliases expanded"
            ))),
        }
    }

    fn child(&self) -> Self {
        Self { left: self.left }
    }

    fn scalar<E: de::Error>(self) -> Result<YamlShape, E> {
        self.spend()?;
        Ok(YamlShape::Scalar)
    }
}

impl<'de> DeserializeSeed<'de> for NodeCounter<'_> {
    type Value = YamlShape;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<YamlShape, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeCounter<'_> {
    type Value = YamlShape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_none<E: de::Error>(self) -> Result<YamlShape, E> {
        Ok(YamlShape::Empty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<YamlShape, E> {
        Ok(YamlShape::Empty)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<YamlShape, E> {
        self.scalar()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<YamlShape, E> {
        self.scalar()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<YamlShape, E> {
        self.scalar()
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<YamlShape, E> {
        self.scalar()
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<YamlShape, E> {
        self.scalar()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<YamlShape, E> {
        self.scalar()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<YamlShape, E> {
        self.scalar()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YamlShape, A::Error> {
        self.spend()?;
        while seq.next_element_seed(self.child())?.is_some() {}
        Ok(YamlShape::Sequence)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YamlShape, A::Error> {
        self.spend()?;
        while map.next_key_seed(self.child())?.is_some() {
            map.next_value_seed(self.child())?;
        }
        Ok(YamlShape::Mapping)
    }

    /// A node with a custom tag (`!Name value`): the tagged value counts.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<YamlShape, A::Error> {
        use serde::de::VariantAccess;
        let (_, variant) = data.variant::<de::IgnoredAny>()?;
        variant.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_depth_counts_every_bracket() {
        assert_eq!(flow_nesting_depth("a: [1, [2, {b: 3}]]\n"), 3);
        // A quote inside a plain scalar must not hide what follows.
        assert_eq!(flow_nesting_depth("a: x\"y\nb: [[[1]]]\n"), 3);
        assert_eq!(flow_nesting_depth("a: [\" #\", [[1]]]\n"), 3);
        assert_eq!(flow_nesting_depth("]]] [[\n"), 2);
    }

    #[test]
    fn shapes() {
        assert_eq!(check_yaml(""), Ok(YamlShape::Empty));
        assert_eq!(check_yaml("# only a comment\n"), Ok(YamlShape::Empty));
        assert_eq!(check_yaml("a: 1"), Ok(YamlShape::Mapping));
        assert_eq!(check_yaml("- a"), Ok(YamlShape::Sequence));
        assert_eq!(check_yaml("7"), Ok(YamlShape::Scalar));
        assert_eq!(check_yaml("!Tag {a: 1}"), Ok(YamlShape::Mapping));
    }
}
