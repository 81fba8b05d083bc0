use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[secure(hidden_text = "numbers hide nothing")]
    count: u8,
}

fn main() {}
