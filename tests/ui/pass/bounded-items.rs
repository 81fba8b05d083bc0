use std::collections::HashMap;

use secure_tool::SecureInput;
use secure_tool::types::SafePath;

// Each item of a collection of strings (or of collections) is bounded with validator's
// `length` applied to every item.
#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(length(max = 5))]
    #[secure(each(length(max = 64)))]
    tags: Vec<String>,
    #[validate(length(max = 5))]
    #[secure(each(length(max = 64)))]
    maybe_tags: Option<Vec<String>>,
    #[validate(length(max = 5))]
    #[secure(each(length(max = 32)))]
    labels: HashMap<String, u32>,
    #[validate(length(max = 5))]
    #[secure(each(length(max = 16)))]
    rows: Vec<Vec<u8>>,
    // Bounded by their type: no `each` needed.
    #[validate(length(max = 5))]
    paths: Vec<SafePath>,
    #[validate(length(max = 5))]
    #[secure(unbounded = "diff hunks, bounded by the 64 KiB raw string limit")]
    hunks: Vec<String>,
}

fn main() {}
