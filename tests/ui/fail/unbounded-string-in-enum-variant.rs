use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(deny_unknown_fields)]
enum Action {
    Stop,
    Rename { to: String },
}

fn main() {}
