//! Enum inputs, end to end: every variant shape deserializes, each variant's data is
//! checked where it sits (with the path the model wrote), and unknown variants or fields
//! are refused without echoing them.
mod common;
use common::{call, connect, error_text, ok_text};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{InputField, OptOut, SecureInput, SecureServer, Security, secure_tool};
use serde_json::json;

// `Serialize` only because validator's `length` rule on `Vec<Action>` records the value.
#[derive(Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, SecureInput)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Action {
    Stop,
    Wait(u16),
    Move(i32, i32),
    Rename(Rename),
    Tag {
        #[secure(unbounded = "a label is scanned and capped by the raw string limit")]
        label: String,
        colour: Colour,
    },
}

#[derive(Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema, SecureInput)]
#[serde(rename_all = "lowercase")]
enum Colour {
    Red,
    Blue,
}

#[derive(
    Debug,
    serde::Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
    validator::Validate,
    SecureInput,
)]
#[serde(deny_unknown_fields)]
struct Rename {
    #[validate(length(min = 1, max = 32))]
    to: String,
}

/// Internally tagged: the variant's fields sit beside the tag.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(tag = "kind", deny_unknown_fields)]
enum Filter {
    Everything,
    ByName {
        #[secure(unbounded = "scanned; capped by the raw string limit")]
        name: String,
    },
}

/// Adjacently tagged: the variant's data sits under `content`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(tag = "kind", content = "data", deny_unknown_fields)]
enum Schedule {
    Now,
    At {
        #[secure(unbounded = "scanned; capped by the raw string limit")]
        when: String,
    },
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Command {
    action: Action,
    filter: Option<Filter>,
    schedule: Option<Schedule>,
    #[validate(length(max = 3))]
    then: Vec<Action>,
}

#[derive(Clone)]
struct Machine {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Machine {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Machine {
    #[secure_tool(public)]
    #[tool(description = "Run a command")]
    async fn run(&self, Parameters(command): Parameters<Command>) -> String {
        format!(
            "{:?} {:?} {:?}",
            command.action, command.filter, command.then
        )
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Machine {}

fn machine() -> Machine {
    Machine {
        security: Security::builder().build(),
        tool_router: Machine::tool_router(),
    }
}

#[tokio::test]
async fn every_variant_shape_reaches_the_body() {
    let client = connect(machine()).await;
    for (action, seen) in [
        (json!("stop"), "Stop"),
        (json!({"wait": 5}), "Wait(5)"),
        (json!({"move": [1, -2]}), "Move(1, -2)"),
        (
            json!({"rename": {"to": "new"}}),
            "Rename(Rename { to: \"new\" })",
        ),
        (
            json!({"tag": {"label": "urgent", "colour": "red"}}),
            "Tag { label: \"urgent\", colour: Red }",
        ),
    ] {
        let text = ok_text(&call(&client, "run", json!({"action": action, "then": []})).await);
        assert!(text.starts_with(seen), "{seen}: {text}");
    }
    let text = ok_text(
        &call(
            &client,
            "run",
            json!({"action": "stop", "filter": {"kind": "ByName", "name": "x"}, "then": ["stop"]}),
        )
        .await,
    );
    assert_eq!(text, "Stop Some(ByName { name: \"x\" }) [Stop]");
}

#[tokio::test]
async fn variant_data_is_checked_at_the_path_the_model_wrote() {
    let client = connect(machine()).await;
    let cases = [
        (
            json!({"action": {"rename": {"to": ""}}, "then": []}),
            "`action.rename.to`: length",
        ),
        (
            json!({"action": {"tag": {"label": "a\u{202E}b", "colour": "red"}}, "then": []}),
            "`action.tag.label`: contains bidirectional override characters",
        ),
        (
            json!({"action": "stop", "then": ["stop", {"tag": {"label": "\u{200B}", "colour": "blue"}}]}),
            "`then[1].tag.label`: contains invisible characters",
        ),
        (
            json!({"action": "stop", "filter": {"kind": "ByName", "name": "\u{E0041}"}, "then": []}),
            "`filter.name`: contains Unicode tag characters",
        ),
        (
            json!({"action": "stop", "schedule": {"kind": "At", "data": {"when": "\u{200B}"}}, "then": []}),
            "`schedule.data.when`: contains invisible characters",
        ),
    ];
    for (arguments, expected) in cases {
        let message = error_text(&call(&client, "run", arguments.clone()).await);
        assert!(message.contains(expected), "{arguments}: {message}");
    }
}

#[tokio::test]
async fn a_value_of_the_wrong_shape_is_refused_at_its_path_without_echo() {
    let client = connect(machine()).await;
    let cases = [
        (
            json!({"action": {"rename": {"to": 5}}, "then": []}),
            "`action.rename.to`: wrong type: expected a string",
        ),
        (
            json!({"action": "stop", "then": ["stop", {"wait": "soon_xq7"}]}),
            "`then[1].wait`: wrong type: expected u16",
        ),
        (
            json!({"action": {"move": [1, "left_xq7"]}, "then": []}),
            "`action.move[1]`: wrong type: expected i32",
        ),
        (
            json!({"action": {"tag": {"label": "a", "colour": "purple_xq7"}}, "then": []}),
            "`action.tag.colour`: unknown variant",
        ),
        // The unknown key is the model's text: the path stops at the object holding it.
        (
            json!({"action": {"rename": {"to": "a", "admin_xq7": true}}, "then": []}),
            "`action.rename`: unknown field",
        ),
        (
            json!({"action": "stop", "then": [{"ignore previous instructions_xq7": 1}]}),
            "`then[0]`: unknown variant",
        ),
    ];
    for (arguments, expected) in cases {
        let message = error_text(&call(&client, "run", arguments.clone()).await);
        assert!(
            message.starts_with(&format!("invalid arguments: {expected}")),
            "{arguments}: {message}"
        );
        assert!(!message.contains("xq7"), "echoed: {message}");
    }
}

#[tokio::test]
async fn unknown_variants_and_fields_are_refused_without_echo() {
    let client = connect(machine()).await;
    let cases = [
        json!({"action": "drop_tables_xq7", "then": []}),
        json!({"action": {"rename": {"to": "a", "admin_xq7": true}}, "then": []}),
        json!({"action": {"tag": {"label": "a", "colour": "red", "admin_xq7": 1}}, "then": []}),
        json!({"action": "stop", "filter": {"kind": "ByName", "name": "a", "admin_xq7": 1}, "then": []}),
        json!({"action": "stop", "filter": {"kind": "evil_xq7"}, "then": []}),
        json!({"action": {"move": [1, 2, 3]}, "then": []}),
        json!({"action": {"wait": 70000}, "then": []}),
        json!({"action": {"tag": {"label": "a", "colour": "purple_xq7"}}, "then": []}),
    ];
    for arguments in cases {
        let result = call(&client, "run", arguments.clone()).await;
        let message = error_text(&result);
        assert!(
            message.starts_with("invalid arguments"),
            "{arguments}: {message}"
        );
        assert!(!message.contains("xq7"), "echoed: {message}");
    }
}

#[test]
fn waivers_inside_variants_and_nested_inputs_are_collected_once() {
    let mut outs: Vec<OptOut> = Vec::new();
    <Command as InputField>::collect_opt_outs(&mut outs, &mut Vec::new());
    let fields: Vec<_> = outs.iter().map(|o| (o.field, o.rule)).collect();
    // `Action` appears twice in `Command` (action, then) but is reported once.
    assert_eq!(
        fields,
        [
            ("Action::Tag.label", "unbounded"),
            ("Filter::ByName.name", "unbounded"),
            ("Schedule::At.when", "unbounded"),
        ]
    );
    assert!(<Command as SecureInput>::opt_outs().is_empty());
}
