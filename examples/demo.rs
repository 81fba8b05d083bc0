//! `cargo run --example demo`: a secured server and a real rmcp client in one process.
//! Each row is one `tools/call` and what the model got back; below the table, what the
//! server logged (the audit trail, and the full text behind each redacted ref).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolRequestParams, ContentBlock};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use secure_tool::{Principal, SecureInput, SecureServer, Security, ToolError, secure_tool};
use serde_json::{Value, json};

/// Look up a customer by name.
#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Lookup {
    /// Customer name.
    #[validate(length(min = 1, max = 32))]
    name: String,
}

#[derive(Clone)]
struct Crm {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Crm {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Crm {
    #[secure_tool(scope = "crm.read", rate = "6/min")]
    #[tool(description = "Find a customer")]
    async fn find_customer(&self, Parameters(q): Parameters<Lookup>) -> Result<String, ToolError> {
        match q.name.as_str() {
            "ada" => Ok("Ada Lovelace, customer since 1843".into()),
            "db" => Err(std::io::Error::other(
                "connect postgres://crm:S3cr3t-pw@10.1.2.3/crm: timeout",
            ))?,
            "bob" => Err(ToolError::public("no customer named bob; try `ada`")),
            _ => Ok("no match".into()),
        }
    }

    #[secure_tool(scope = "crm.admin")]
    #[tool(description = "Delete a customer")]
    async fn delete_customer(
        &self,
        Parameters(q): Parameters<Lookup>,
    ) -> Result<String, ToolError> {
        Ok(format!("deleted {}", q.name))
    }

    #[secure_tool(scope = "crm.read")]
    #[tool(description = "Export everything (buggy)")]
    async fn export(&self) -> String {
        let rows: Vec<u32> = Vec::new();
        format!("first row: {}", rows[0])
    }

    #[secure_tool(scope = "crm.read")]
    #[tool(description = "Show the integration settings")]
    async fn settings(&self) -> String {
        // A careless tool: its output holds a token. The model sees it scrubbed.
        "webhook: https://hooks.example.com/crm, token: ghp_R7xkQ2mN9pL4vB8cT1wZ6yH3jF5dS0aG2eK7"
            .into()
    }

    #[secure_tool(scope = "crm.read", timeout = "200ms")]
    #[tool(description = "A report that hangs")]
    async fn report(&self) -> String {
        tokio::time::sleep(Duration::from_secs(60)).await;
        "never".into()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Crm {}

/// Collects what the server logs under `secure_tool::*`, to print after the table.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Log {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() != "message" {
                    self.0.push_str(&format!(" {}={:?}", f.name(), v));
                }
            }
            fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
                if f.name() != "message" {
                    self.0.push_str(&format!(" {}={}", f.name(), v));
                }
            }
        }
        let target = event.metadata().target();
        if target.starts_with("secure_tool") {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0
                .lock()
                .unwrap()
                .push(format!("{target}:{}", fields.0));
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    let log = Log::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.clone()))?;
    // Invalid calls spend rate too (the limit runs before validation): a retry loop of
    // bad calls is cut like any other. `find_customer` allows 6 a minute.
    // The demo panics on purpose; keep the default hook's message off the table.
    std::panic::set_hook(Box::new(|_| {}));

    let security = Security::builder()
        .local_principal(Principal::new("demo-user").with_scopes(["crm.read"]))
        .build();
    let server_security = security.clone();
    let server = Crm {
        security,
        tool_router: Crm::tool_router(),
    };
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_io).await?;

    let calls: Vec<(&str, &str, Value)> = vec![
        ("valid call", "find_customer", json!({"name": "ada"})),
        (
            "over-long input",
            "find_customer",
            json!({"name": "x".repeat(5000)}),
        ),
        (
            "unknown field",
            "find_customer",
            json!({"name": "ada", "sql": "DROP TABLE x"}),
        ),
        ("wrong type", "find_customer", json!({"name": ["ada"]})),
        ("denied scope", "delete_customer", json!({"name": "ada"})),
        ("internal error", "find_customer", json!({"name": "db"})),
        ("public error", "find_customer", json!({"name": "bob"})),
        (
            "7th call in a minute",
            "find_customer",
            json!({"name": "ada"}),
        ),
        ("secret in output", "settings", json!({})),
        ("panic contained", "export", json!({})),
        ("timeout", "report", json!({})),
    ];

    println!("secure-tool demo: principal `demo-user` holds scope `crm.read`\n");
    println!(
        "{:<21} {:<16} {:<7} what the model saw",
        "case", "tool", "isError"
    );
    println!("{}", "-".repeat(100));
    for (case, tool, args) in calls {
        let mut params = CallToolRequestParams::new(tool);
        if let Value::Object(map) = args {
            params = params.with_arguments(map);
        }
        let result = client.call_tool(params).await?;
        let text = result
            .content
            .iter()
            .find_map(|c| match c {
                ContentBlock::Text(t) => Some(t.text.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let is_error = result.is_error == Some(true);
        println!("{case:<21} {tool:<16} {is_error:<7} {text}");
    }

    println!("\nserver log (stays on the server; the model only ever sees the ref):");
    for line in log.0.lock().unwrap().iter() {
        println!("  {line}");
    }
    println!("\nmanifest (Security::manifest(): what the operator reviews before deploying):");
    for line in server_security.manifest().to_string().lines() {
        println!("  {line}");
    }
    client.cancel().await?;
    Ok(())
}
