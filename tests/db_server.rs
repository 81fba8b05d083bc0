//! `examples/db_server.rs` launched as a stdio child process: reads work, every write and
//! escape is refused, a runaway query is stopped, and the database file never changes.
mod common;
use common::{error_text, example_binary, ok_text};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

fn make_db(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("st-db-{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT);
         INSERT INTO users (name, email) VALUES ('ada', 'ada@example.com'), ('bob', 'bob@example.com');
         CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total REAL);
         INSERT INTO orders (user_id, total) VALUES (1, 9.5), (1, 20.0), (2, 3.25);",
    )
    .unwrap();
    path
}

async fn launch(db: &std::path::Path, grants: &[&str]) -> RunningService<RoleClient, ()> {
    let mut command = tokio::process::Command::new(example_binary("db_server"));
    command.arg("--db").arg(db).env("RUST_LOG", "warn");
    for grant in grants {
        command.arg("--grant").arg(grant);
    }
    ().serve(TokioChildProcess::new(command).unwrap())
        .await
        .unwrap()
}

async fn query(
    client: &RunningService<RoleClient, ()>,
    args: Value,
) -> rmcp::model::CallToolResult {
    let params =
        CallToolRequestParams::new("query").with_arguments(args.as_object().cloned().unwrap());
    client.call_tool(params).await.unwrap()
}

#[tokio::test]
async fn reads_work_and_nothing_writes() {
    let path = make_db("rw");
    let before = std::fs::read(&path).unwrap();
    let client = launch(&path, &["db.read"]).await;

    let result = query(&client, json!({"sql": "SELECT u.name, sum(o.total) AS spent FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.name ORDER BY u.name"})).await;
    ok_text(&result);
    assert_eq!(
        result.structured_content.unwrap(),
        json!({"columns": ["name", "spent"], "rows": [["ada", 29.5], ["bob", 3.25]], "truncated": false})
    );
    let limited = query(
        &client,
        json!({"sql": "SELECT id FROM orders", "max_rows": 2}),
    )
    .await;
    assert_eq!(limited.structured_content.unwrap()["truncated"], true);

    for sql in [
        "DELETE FROM users",
        "UPDATE users SET name = 'x'",
        "INSERT INTO users (name) VALUES ('eve')",
        "DROP TABLE orders",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA query_only = OFF",
        "SELECT load_extension('/tmp/evil.so')",
        "SELECT readfile('/etc/passwd')",
        "SELECT 1; DELETE FROM users",
        "WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d",
        "VACUUM INTO '/tmp/copy.db'",
    ] {
        let message = error_text(&query(&client, json!({ "sql": sql })).await);
        assert!(
            message.starts_with("invalid arguments: `sql`"),
            "{sql}: {message}"
        );
    }
    let missing = error_text(&query(&client, json!({"sql": "SELECT * FROM nope"})).await);
    assert_eq!(missing, "no such table or column");
    client.cancel().await.unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the database changed"
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_runaway_query_is_stopped_and_the_server_keeps_serving() {
    let path = make_db("runaway");
    let client = launch(&path, &["db.read"]).await;
    let started = std::time::Instant::now();
    let sql =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let message = error_text(&query(&client, json!({ "sql": sql })).await);
    assert_eq!(
        message,
        "the query ran longer than 2 seconds and was stopped"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    ok_text(&query(&client, json!({"sql": "SELECT count(*) FROM users"})).await);
    client.cancel().await.unwrap();
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn without_the_grant_nothing_is_read() {
    let path = make_db("nogrant");
    let client = launch(&path, &[]).await;
    let message = error_text(&query(&client, json!({"sql": "SELECT * FROM users"})).await);
    assert!(message.contains("`db.read` scope"), "{message}");
    client.cancel().await.unwrap();
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_connection_itself_cannot_write() {
    // The same flags the server uses: even SQL the type would never pass fails here.
    let path = make_db("flags");
    let db =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    db.pragma_update(None, "query_only", true).unwrap();
    assert!(db.execute("DELETE FROM users", []).is_err());
    assert!(db.execute_batch("CREATE TABLE x (a)").is_err());
    let _ = std::fs::remove_file(&path);
}
