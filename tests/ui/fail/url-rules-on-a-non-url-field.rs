use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[secure(url(allow_hosts = ["example.com"]))]
    #[validate(length(max = 8))]
    name: String,
}

fn main() {}
