use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    // Numbers are bounded by their type.
    #[validate(length(max = 5))]
    #[secure(each(length(max = 10)))]
    counts: Vec<u32>,
    // Not a collection.
    #[validate(length(max = 5))]
    #[secure(each(length(max = 10)))]
    name: String,
    // Only `length(max = N)`.
    #[validate(length(max = 5))]
    #[secure(each(length(min = 1)))]
    tags: Vec<String>,
    #[validate(length(max = 5))]
    #[secure(each(length(max = 0)))]
    more_tags: Vec<String>,
}

fn main() {}
