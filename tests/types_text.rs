//! The hidden-content guard: every string field refuses the invisible carriers of prompt
//! injections, unless the field waives it with a reason.
mod common;
use common::{call, connect, error_text, ok_text};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{SecureInput, SecureServer, Security, secure_tool};
use serde_json::json;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Note {
    #[validate(length(max = 500))]
    text: String,
    #[validate(length(max = 8))]
    tags: Option<Vec<String>>,
    #[validate(length(max = 500))]
    #[secure(hidden_text = "raw terminal transcript: escape codes are the content")]
    transcript: Option<String>,
}

#[derive(Clone)]
struct Notes {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Notes {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Notes {
    #[secure_tool(public)]
    #[tool(description = "Save a note")]
    async fn save(&self, Parameters(note): Parameters<Note>) -> String {
        format!("saved {} chars", note.text.chars().count())
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Notes {}

fn notes() -> Notes {
    Notes {
        security: Security::default(),
        tool_router: Notes::tool_router(),
    }
}

const HIDDEN: &[(&str, &str)] = &[
    ("zero width space", "ignore\u{200B}previous"),
    ("zero width non-joiner", "a\u{200C}b"),
    ("zero width joiner", "a\u{200D}b"),
    ("word joiner", "a\u{2060}b"),
    ("invisible times", "a\u{2062}b"),
    ("byte order mark", "\u{FEFF}hello"),
    ("mongolian vowel separator", "a\u{180E}b"),
    ("soft hyphen", "pass\u{00AD}word"),
    ("hangul filler", "a\u{3164}b"),
    ("left-to-right override", "a\u{202D}b"),
    ("right-to-left override", "\u{202E}gnp.exe"),
    ("left-to-right embedding", "a\u{202A}b"),
    ("pop directional formatting", "a\u{202C}b"),
    ("right-to-left isolate", "a\u{2067}b"),
    ("first strong isolate", "a\u{2068}b"),
    ("pop directional isolate", "a\u{2069}b"),
    ("right-to-left mark", "a\u{200F}b"),
    ("arabic letter mark", "a\u{061C}b"),
    (
        "tag characters",
        "hi\u{E0049}\u{E0067}\u{E006E}\u{E006F}\u{E0072}\u{E0065}",
    ),
    ("cancel tag", "x\u{E007F}"),
    ("variation selector supplement", "a\u{E0100}b"),
    ("NUL", "a\u{0000}b"),
    ("escape sequence", "\u{001B}[2J"),
    ("carriage return", "line\rOVERWRITE"),
    ("bell", "a\u{0007}"),
    ("delete", "a\u{007F}"),
    ("C1 control", "a\u{0085}b"),
];

#[tokio::test]
async fn hidden_characters_are_refused_by_class_without_echo() {
    let client = connect(notes()).await;
    assert!(HIDDEN.len() >= 20);
    for (what, payload) in HIDDEN {
        let message = error_text(&call(&client, "save", json!({ "text": payload })).await);
        assert!(
            message.starts_with("invalid arguments: `text`: contains "),
            "{what}: {message}"
        );
        assert!(!message.contains(payload), "{what} echoed");
        let message = error_text(
            &call(
                &client,
                "save",
                json!({ "text": "ok", "tags": ["fine", payload] }),
            )
            .await,
        );
        assert!(
            message.contains("`tags[1]`: contains "),
            "{what} in a list: {message}"
        );
    }
}

#[tokio::test]
async fn ordinary_text_passes() {
    let client = connect(notes()).await;
    for text in [
        "plain ascii",
        "multi\nline\twith tabs",
        "accents: café, naïve, Zürich",
        "日本語のテキスト",
        "emoji 🦀❤️ with variation selector",
        "family 👨‍👩‍👧 uses joiners",
        "العربية",
        "math: ∑ x² ≤ ∞",
    ] {
        let result = call(&client, "save", json!({ "text": text })).await;
        // The family emoji legitimately uses ZWJ: the guard is strict and refuses it.
        if text.contains('\u{200D}') {
            error_text(&result);
        } else {
            ok_text(&result);
        }
    }
}

#[tokio::test]
async fn a_field_can_waive_the_guard_with_a_reason() {
    let client = connect(notes()).await;
    let result = call(
        &client,
        "save",
        json!({ "text": "ok", "transcript": "\u{001B}[32mgreen\u{001B}[0m" }),
    )
    .await;
    ok_text(&result);
    let waived = <Note as SecureInput>::opt_outs();
    assert_eq!(waived[0].field, "Note.transcript");
    assert_eq!(waived[0].rule, "hidden_text");
}

// `Serialize` because validator's `length` rule on `Vec<Author>` records the value.
#[derive(
    serde::Serialize, serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput,
)]
#[serde(deny_unknown_fields)]
struct Author {
    #[validate(length(max = 50))]
    name: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Post {
    #[validate(length(max = 50))]
    title: String,
    author: Author,
    editor: Option<Author>,
    #[validate(length(max = 4))]
    reviewers: Vec<Author>,
    /// A unit enum: bounded by its variants.
    kind: Kind,
    count: u32,
}

#[derive(serde::Deserialize, schemars::JsonSchema, SecureInput)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Draft,
    Final,
}

#[test]
fn nested_inputs_are_validated_with_their_path() {
    let post: Post = serde_json::from_value(json!({
        "title": "ok",
        "author": {"name": "a\u{200B}b"},
        "editor": {"name": "x".repeat(60)},
        "reviewers": [{"name": "fine"}, {"name": "\u{202E}evil"}],
        "kind": "draft",
        "count": 1
    }))
    .unwrap();
    let error = post.validate_input().unwrap_err();
    let paths: Vec<_> = error
        .problems()
        .iter()
        .map(|p| p.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        ["author.name", "editor.name", "reviewers[1].name"],
        "{error}"
    );
    assert!(!matches!(post.kind, Kind::Final));
    assert_eq!(post.count, 1);
}
