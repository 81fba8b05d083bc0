use secure_tool::SecureInput;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[secure(sql(allow_functions = ["score"]))]
    #[validate(length(max = 8))]
    name: String,
}

fn main() {}
