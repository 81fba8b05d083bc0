use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(length(max = 100))]
    file_path: String,
}

fn main() {}
