use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    dir: std::path::PathBuf,
}

fn main() {}
