use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
enum Action {
    Stop,
    Wait { seconds: u32 },
}

fn main() {}
