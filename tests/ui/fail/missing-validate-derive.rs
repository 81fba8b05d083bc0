use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    count: u8,
}

fn main() {}
