use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, u8>,
}

fn main() {}
