use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
struct Input {
    #[validate(range(max = 3))]
    level: u8,
}

fn main() {}
