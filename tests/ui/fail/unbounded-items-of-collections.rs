use std::collections::{BTreeMap, HashMap, HashSet};

use secure_tool::SecureInput;

// `length(max = N)` counts a collection's items; each string, inner list, map key or
// map value is still as long as the model likes.
#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(length(max = 5))]
    tags: Vec<String>,
    #[validate(length(max = 5))]
    maybe_tags: Option<Vec<String>>,
    #[validate(length(max = 5))]
    rows: Vec<Vec<u8>>,
    #[validate(length(max = 5))]
    labels: HashMap<String, u32>,
    #[validate(length(max = 5))]
    notes: BTreeMap<u32, String>,
    #[validate(length(max = 5))]
    words: HashSet<Box<str>>,
    // A fixed-size array counts its items in its type; its strings are unbounded.
    pair: [String; 2],
    #[validate(length(max = 5))]
    pairs: Vec<[String; 2]>,
    // Untyped JSON in a collection: no schema, and unbounded.
    #[validate(length(max = 5))]
    payloads: Vec<serde_json::Value>,
}

fn main() {}
