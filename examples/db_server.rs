//! A read-only SQL server over one SQLite database, for any MCP host to launch:
//!
//! ```text
//! cargo run --example db_server -- --db ./shop.db --grant db.read
//! ```
//!
//! Least privilege, in layers: the `query` tool takes a `ReadOnlySql<Sqlite>` (one
//! SELECT, no writes, no `ATTACH`/`PRAGMA`, and only SQLite's side-effect-free built-in
//! functions: no `load_extension`, `readfile`, `changes`...); the connection itself is
//! opened read-only with `query_only` on, so even a query the type let through could not
//! write; and a progress handler stops any query after 2 seconds. That handler is this
//! server's statement timeout: a query the type accepts can still be unbounded (a
//! recursive CTE that never stops, a cross join of large tables), and only the database
//! can bound how long it runs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use rusqlite::{Connection, OpenFlags, types::ValueRef};
use secure_tool::types::{ReadOnlySql, Sqlite};
use secure_tool::{Principal, SecureInput, SecureServer, Security, ToolError, secure_tool};
use serde_json::Value;

#[path = "shared/logging.rs"]
mod logging;

const QUERY_TIME: Duration = Duration::from_secs(2);

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Query {
    /// One read-only SQLite query.
    sql: ReadOnlySql<Sqlite>,
    /// Rows to return at most.
    #[validate(range(min = 1, max = 1000))]
    max_rows: Option<u16>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
    /// Whether more rows were left out.
    truncated: bool,
}

struct DbServer {
    security: Security,
    db: Mutex<Connection>,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for DbServer {
    fn security(&self) -> &Security {
        &self.security
    }
}

fn open_read_only(path: &str) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.pragma_update(None, "query_only", true)?;
    connection.pragma_update(None, "trusted_schema", false)?;
    Ok(connection)
}

fn to_json(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => f.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(b) => format!("<{} bytes>", b.len()).into(),
    }
}

#[tool_router]
impl DbServer {
    #[secure_tool(scope = "db.read", rate = "60/min", concurrency = 4)]
    #[tool(description = "Run one read-only SQLite query; returns columns and rows")]
    fn query(&self, Parameters(q): Parameters<Query>) -> Result<Json<Rows>, ToolError> {
        let mut db = self
            .db
            .lock()
            .map_err(|_| ToolError::internal("database lock poisoned"))?;
        let deadline = Instant::now() + QUERY_TIME;
        db.progress_handler(10_000, Some(move || Instant::now() > deadline))?;
        let result = run(&db, q.sql.as_str(), q.max_rows.unwrap_or(100).into());
        db.progress_handler(0, None::<fn() -> bool>)?;
        result.map(Json).map_err(|error| match error {
            rusqlite::Error::SqliteFailure(e, _)
                if e.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                ToolError::public("the query ran longer than 2 seconds and was stopped")
            }
            rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ReadOnly => {
                ToolError::public("the database is read-only")
            }
            rusqlite::Error::SqliteFailure(_, Some(message)) if message.starts_with("no such") => {
                ToolError::public("no such table or column")
            }
            other => ToolError::internal(other),
        })
    }

    #[secure_tool(scope = "db.read", rate = "60/min")]
    #[tool(description = "List the tables")]
    fn tables(&self) -> Result<String, ToolError> {
        let db = self
            .db
            .lock()
            .map_err(|_| ToolError::internal("database lock poisoned"))?;
        let rows = run(
            &db,
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            1000,
        )?;
        Ok(rows
            .rows
            .iter()
            .filter_map(|r| r.first().and_then(Value::as_str).map(str::to_owned))
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

fn run(db: &Connection, sql: &str, max_rows: usize) -> rusqlite::Result<Rows> {
    let mut statement = db.prepare(sql)?;
    let columns: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let mut rows = statement.query([])?;
    let mut out = Vec::new();
    let mut truncated = false;
    while let Some(row) = rows.next()? {
        if out.len() == max_rows {
            truncated = true;
            break;
        }
        out.push(
            (0..columns.len())
                .map(|i| row.get_ref(i).map(to_json))
                .collect::<rusqlite::Result<_>>()?,
        );
    }
    Ok(Rows {
        columns,
        rows: out,
        truncated,
    })
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for DbServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(
            Implementation::new("secure-tool-db", env!("CARGO_PKG_VERSION")),
        )
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init();
    const USAGE: &str = "usage: db_server --db FILE [--grant db.read]";
    let (mut db, mut grants) = (None, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--db" => db = args.next(),
            "--grant" => grants.extend(args.next()),
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let Some(db) = db else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let server = DbServer {
        security: Security::builder()
            .local_principal(Principal::new("local").with_scopes(grants))
            .build(),
        db: Mutex::new(open_read_only(&db)?),
        tool_router: DbServer::tool_router(),
    };
    server
        .serve(rmcp::transport::stdio())
        .await?
        .waiting()
        .await?;
    Ok(())
}
