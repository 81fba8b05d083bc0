use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(deny_unknown_fields)]
enum Action {
    Stop,
    Wait {
        #[validate(range(max = 60))]
        seconds: u32,
    },
}

fn main() {}
