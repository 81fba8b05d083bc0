use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(length(max = 8))]
    args: Vec<String>,
}

fn main() {}
