use secure_tool::{FieldPath, InputField, OptOut, SecureInput};

/// Every variant shape, externally tagged (serde's default).
#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Action {
    Stop,
    Wait(u32),
    Move(i32, i32),
    Rename(Rename),
    Tag {
        #[secure(unbounded = "labels are scanned and capped by the raw string limit")]
        label: String,
        colour: Colour,
    },
}

/// Internally tagged.
#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(tag = "kind", deny_unknown_fields)]
enum Filter {
    Everything,
    ByAge { max_days: u16 },
}

/// A unit enum needs no `deny_unknown_fields`: it has no fields.
#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
enum Colour {
    Red,
    Blue,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Rename {
    #[validate(length(min = 1, max = 64))]
    to: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Input {
    action: Action,
    filter: Option<Filter>,
    #[secure(opaque = "a Duration is two integers; serde checks them")]
    wait: std::time::Duration,
}

fn main() {
    let input: Input = serde_json::from_value(serde_json::json!({
        "action": {"rename": {"to": ""}},
        "filter": {"kind": "ByAge", "max_days": 3},
        "wait": {"secs": 1, "nanos": 0}
    }))
    .unwrap();
    let problems = input.validate_input().unwrap_err();
    assert_eq!(problems.problems()[0].path(), "action.rename.to");

    let mut found = Vec::new();
    let tag = Action::Tag { label: "a\u{200B}".into(), colour: Colour::Red };
    tag.check_field(&FieldPath::ROOT.field("action"), true, &mut found);
    assert_eq!(found[0].path(), "action.tag.label");

    let mut outs: Vec<OptOut> = Vec::new();
    <Input as InputField>::collect_opt_outs(&mut outs, &mut Vec::new());
    let rules: Vec<_> = outs.iter().map(|o| (o.field, o.rule)).collect();
    assert_eq!(rules, [("Input.wait", "opaque"), ("Action::Tag.label", "unbounded")]);
}
