use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    labels: Option<std::collections::HashMap<u8, u8>>,
}

fn main() {}
