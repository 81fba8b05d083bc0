//! Problem paths use the names serde reads, for every rename rule, tag style and flatten
//! shape: the model must be able to find, in what it sent, the field an error names.
//!
//! Each case is checked three ways: serde itself accepts the arguments' shape (the same
//! JSON deserializes with `serde_json`), the call through a real client is refused with
//! the expected path, and that path exists in the JSON that was sent.
mod common;
use common::{call, connect, error_text};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{SecureInput, SecureServer, Security, secure_tool};
use serde_json::{Value, json};
// validator's `nested` rule calls `validate()` by method syntax.
#[allow(unused_imports)]
use validator::Validate;

/// One struct per `rename_all` rule, stamped out by `macro_rules!` (as users stamp
/// inputs), each with a field validator checks (`max_days`) and one secure-tool scans
/// for hidden characters (`note_text`).
macro_rules! renamed {
    ($($name:ident = $rule:tt),* $(,)?) => {$(
        #[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
        #[serde(deny_unknown_fields, rename_all = $rule)]
        pub struct $name {
            #[validate(length(max = 3))]
            pub max_days: Option<String>,
            #[validate(length(max = 64))]
            pub note_text: Option<String>,
        }
    )*};
}

renamed! {
    Lower = "lowercase",
    Upper = "UPPERCASE",
    Pascal = "PascalCase",
    Camel = "camelCase",
    Snake = "snake_case",
    ScreamingSnake = "SCREAMING_SNAKE_CASE",
    Kebab = "kebab-case",
    ScreamingKebab = "SCREAMING-KEBAB-CASE",
}

/// `rename` on one field wins over `rename_all`; `rename(deserialize = ..)` is what the
/// model writes.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Explicit {
    #[serde(rename = "days")]
    #[validate(length(max = 3))]
    pub max_days: Option<String>,
    #[serde(rename(serialize = "out", deserialize = "noteIn"))]
    #[validate(length(max = 64))]
    pub note_text: Option<String>,
}

/// Each tag style, with `rename_all` on the variants and `rename_all_fields` on their
/// fields.
macro_rules! tagged {
    ($($name:ident: [$($tagging:tt)*])*) => {$(
        #[derive(Debug, serde::Deserialize, schemars::JsonSchema, SecureInput)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case", rename_all_fields = "camelCase", $($tagging)*)]
        pub enum $name {
            LongWait {
                #[secure(unbounded = "scanned; capped by the raw string limit")]
                note_text: String,
            },
            Stop,
        }
    )*};
}

tagged! {
    External: []
    Internal: [tag = "kind"]
    Adjacent: [tag = "kind", content = "data"]
    Untagged: [untagged]
}

/// One variant untagged in an externally tagged enum: its data sits where the enum is.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum MixedTags {
    Tagged(Note),
    #[serde(untagged)]
    Bare(Note),
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Note {
    #[validate(length(max = 64))]
    pub note_text: String,
}

/// Flattened: the inner struct's fields sit beside the outer one's, under their own
/// names (the inner `rename_all`), and the flattened field has no name of its own.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(rename_all = "camelCase")]
#[secure(allow_unknown_fields = "serde cannot deny unknown fields beside a flattened one")]
pub struct Flat {
    #[validate(length(max = 3))]
    pub page_size: Option<String>,
    #[serde(flatten)]
    #[validate(nested)]
    pub paging: Paging,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[secure(allow_unknown_fields = "flattened into `Flat`, which cannot deny them")]
pub struct Paging {
    #[validate(length(max = 3))]
    pub cursor_id: Option<String>,
    #[validate(length(max = 64))]
    pub sort_note: Option<String>,
}

/// A nested (not flattened) struct checked by validator's `nested` and by its own
/// derive: its problems are reported once, under its own serde names.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Outer {
    #[validate(nested)]
    pub inner_part: Camel,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
pub struct Names {
    pub lower: Option<Lower>,
    pub upper: Option<Upper>,
    pub pascal: Option<Pascal>,
    pub camel: Option<Camel>,
    pub snake: Option<Snake>,
    pub screaming_snake: Option<ScreamingSnake>,
    pub kebab: Option<Kebab>,
    pub screaming_kebab: Option<ScreamingKebab>,
    pub explicit: Option<Explicit>,
    pub external: Option<External>,
    pub internal: Option<Internal>,
    pub adjacent: Option<Adjacent>,
    pub untagged: Option<Untagged>,
    pub mixed: Option<MixedTags>,
    pub flat: Option<Flat>,
    pub outer: Option<Outer>,
    /// Never read from the arguments: no rule applies (neither a length bound nor a
    /// type secure-tool checks).
    #[serde(skip)]
    pub scratch: String,
    #[serde(skip)]
    pub seen_at: Option<std::time::Instant>,
}

struct Server {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Server {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Server {
    #[secure_tool(public)]
    #[tool(description = "Accept every naming style")]
    async fn names(&self, Parameters(_names): Parameters<Names>) -> String {
        "ok".to_owned()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {}

/// Follow `path` (`a.b[2].c`) through `value`.
fn resolve<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = value;
    for part in path.split('.') {
        let (key, indexes) = part
            .split_once('[')
            .map_or((part, ""), |(k, rest)| (k, rest));
        if !key.is_empty() {
            at = at.get(key)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            at = at.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(at)
}

const LONG: &str = "longer than three";
const HIDDEN: &str = "a\u{202E}b";

async fn client() -> common::Client {
    connect(Server {
        security: Security::default(),
        tool_router: Server::tool_router(),
    })
    .await
}

/// Each case: serde reads the JSON, the call is refused, and the error names exactly
/// `paths`, once each, every one of them a path in the JSON sent.
async fn check(cases: Vec<(Value, Vec<String>)>) {
    let client = client().await;
    for (arguments, paths) in cases {
        // serde itself reads this JSON: the shape is right, only the values are refused.
        let parsed: Result<Names, _> = serde_json::from_value(arguments.clone());
        assert!(parsed.is_ok(), "serde refuses {arguments}: {parsed:?}");
        let text = error_text(&call(&client, "names", arguments.clone()).await);
        for path in &paths {
            assert!(
                resolve(&arguments, path).is_some(),
                "`{path}` is not in {arguments}"
            );
            assert_eq!(
                text.matches(&format!("`{path}`:")).count(),
                1,
                "`{path}` reported once in: {text}"
            );
        }
        // Every path the error names is one of those, so none is a Rust name.
        let named = text.split('`').skip(1).step_by(2).count();
        assert_eq!(named, paths.len(), "{arguments}: {text}");
    }
}

#[tokio::test]
async fn every_rename_rule_names_fields_as_serde_reads_them() {
    let rules = [
        // serde's `lowercase` leaves a snake_case field as it is, and `UPPERCASE` keeps
        // its underscores (the hand-written rules this replaced got both wrong).
        ("lower", "max_days", "note_text"),
        ("upper", "MAX_DAYS", "NOTE_TEXT"),
        ("pascal", "MaxDays", "NoteText"),
        ("camel", "maxDays", "noteText"),
        ("snake", "max_days", "note_text"),
        ("screaming_snake", "MAX_DAYS", "NOTE_TEXT"),
        ("kebab", "max-days", "note-text"),
        ("screaming_kebab", "MAX-DAYS", "NOTE-TEXT"),
        ("explicit", "days", "noteIn"),
    ];
    check(
        rules
            .into_iter()
            .map(|(field, days, note)| {
                (
                    json!({ field: { days: LONG, note: HIDDEN } }),
                    vec![format!("{field}.{days}"), format!("{field}.{note}")],
                )
            })
            .collect(),
    )
    .await;
}

#[tokio::test]
async fn every_tag_style_puts_variant_data_where_serde_reads_it() {
    check(
        [
            (
                json!({"external": {"long-wait": {"noteText": HIDDEN}}}),
                "external.long-wait.noteText",
            ),
            (
                json!({"internal": {"kind": "long-wait", "noteText": HIDDEN}}),
                "internal.noteText",
            ),
            (
                json!({"adjacent": {"kind": "long-wait", "data": {"noteText": HIDDEN}}}),
                "adjacent.data.noteText",
            ),
            (
                json!({"untagged": {"noteText": HIDDEN}}),
                "untagged.noteText",
            ),
            (
                json!({"mixed": {"tagged": {"NoteText": HIDDEN}}}),
                "mixed.tagged.NoteText",
            ),
            (json!({"mixed": {"NoteText": HIDDEN}}), "mixed.NoteText"),
        ]
        .into_iter()
        .map(|(arguments, path)| (arguments, vec![path.to_owned()]))
        .collect(),
    )
    .await;
}

#[tokio::test]
async fn flattened_and_nested_fields_are_named_once_as_serde_reads_them() {
    check(vec![
        (
            json!({"flat": {"pageSize": LONG, "CURSOR_ID": LONG, "SORT_NOTE": HIDDEN}}),
            vec![
                "flat.CURSOR_ID".to_owned(),
                "flat.SORT_NOTE".to_owned(),
                "flat.pageSize".to_owned(),
            ],
        ),
        (
            json!({"outer": {"innerPart": {"maxDays": LONG, "noteText": HIDDEN}}}),
            vec![
                "outer.innerPart.maxDays".to_owned(),
                "outer.innerPart.noteText".to_owned(),
            ],
        ),
    ])
    .await;
}
