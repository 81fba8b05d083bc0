use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
struct Input {
    name: String,
    tags: Vec<String>,
    extra: serde_json::Value,
}

fn main() {}
