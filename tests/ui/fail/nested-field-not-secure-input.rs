use secure_tool::SecureInput;

/// Derives serde and schemars, but nothing checks what it holds.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Address {
    street: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    home: Address,
    work: Option<Address>,
}

fn main() {}
