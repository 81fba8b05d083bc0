use secure_tool::{OptOut, SecureInput};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    #[validate(length(max = 64))]
    name: String,
    #[validate(length(equal = 2))]
    code: Option<String>,
    #[validate(length(min = 1, max = 8))]
    ids: Vec<u32>,
    #[secure(unbounded = "bounded by the 64 KiB raw string limit; a diff can be long")]
    diff: String,
    #[secure(untyped = "forwarded opaque to a trusted backend that validates it")]
    opaque: serde_json::Value,
    level: u8,
    enabled: bool,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[secure(allow_unknown_fields = "clients of version 1 send a deprecated field we ignore")]
struct Lenient {
    level: u8,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Empty {}

fn main() {
    let outs: &[OptOut] = <Input as SecureInput>::opt_outs();
    assert_eq!(outs.len(), 2);
    assert_eq!(outs[0].field, "Input.diff");
    assert_eq!(outs[0].rule, "unbounded");
    assert_eq!(outs[1].rule, "untyped");
    assert_eq!(<Lenient as SecureInput>::opt_outs()[0].rule, "allow_unknown_fields");
    assert!(<Empty as SecureInput>::opt_outs().is_empty());
}
