//! `CommandLine`: only allowlisted programs and options, arguments never seen by a shell.
mod common;
use common::{call, connect, error_text, ok_text};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::types::CommandLine;
use secure_tool::{SecureInput, SecureServer, Security, ToolError, secure_tool};
use serde_json::json;

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Run {
    #[secure(command(programs = ["echo", "git"], options = ["log", "status", "-n", "--oneline", "--format="]))]
    cmd: CommandLine,
}

/// Tools in the style of popular shell-helper MCP servers: each with the options its
/// author wrote down, and nothing else.
#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Archive {
    #[secure(command(programs = ["tar", "ps", "sed", "awk", "dd"], options = ["-tf", "-n", "-p", "aux", "s/a/b/", "--version"]))]
    cmd: CommandLine,
}

#[derive(Clone)]
struct Shell {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Shell {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Shell {
    #[secure_tool(public)]
    #[tool(description = "Checks an archive or process command (echoes it, never runs it)")]
    async fn archive(&self, Parameters(args): Parameters<Archive>) -> String {
        format!("{} {}", args.cmd.program(), args.cmd.args().join(" "))
    }

    #[secure_tool(public, timeout = "5s")]
    #[tool(description = "Run an allowed program")]
    async fn run(&self, Parameters(args): Parameters<Run>) -> Result<String, ToolError> {
        let output = args.cmd.tokio_command().output().await?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Shell {}

fn shell() -> Shell {
    Shell {
        security: Security::default(),
        tool_router: Shell::tool_router(),
    }
}

#[tokio::test]
async fn arguments_never_reach_a_shell() {
    let client = connect(shell()).await;
    let out = ok_text(&call(&client, "run", json!({"cmd": {"program": "echo", "args": ["$(id)", "`whoami`", "a;b|c&&d", "> /tmp/x"]}})).await);
    assert_eq!(out, "$(id) `whoami` a;b|c&&d > /tmp/x\n");
    let out = ok_text(
        &call(
            &client,
            "run",
            json!({"cmd": {"program": "echo", "args": ["-n", "no newline"]}}),
        )
        .await,
    );
    assert_eq!(out, "no newline");
}

#[tokio::test]
async fn programs_options_and_shapes_outside_the_allowlist_are_refused() {
    let client = connect(shell()).await;
    let attacks = [
        json!({"program": "sh", "args": ["-c", "id"]}),
        json!({"program": "bash"}),
        json!({"program": "/bin/sh"}),
        json!({"program": "./echo"}),
        json!({"program": "../../bin/sh"}),
        json!({"program": "echo;id"}),
        json!({"program": "echo id"}),
        json!({"program": "echo|id"}),
        json!({"program": "echo&"}),
        json!({"program": "$(id)"}),
        json!({"program": "`id`"}),
        json!({"program": "echo\nid"}),
        json!({"program": "-echo"}),
        json!({"program": ""}),
        json!({"program": "ECHO"}),
        json!({"program": "git", "args": ["--upload-pack=touch /tmp/pwned", "x"]}),
        json!({"program": "git", "args": ["-c", "core.sshCommand=id", "fetch"]}),
        json!({"program": "git", "args": ["--exec-path=/tmp"]}),
        json!({"program": "git", "args": ["log", "--output=/etc/passwd"]}),
        json!({"program": "git", "args": ["log", "--format"]}),
        json!({"program": "echo", "args": ["--"]}),
        json!({"program": "echo", "args": ["ok\u{0000}"]}),
        json!({"program": "echo", "args": ["\u{202E}txt"]}),
        json!({"program": "echo", "args": vec!["a"; 65]}),
        json!({"program": "echo", "args": "a b c"}),
        json!({"program": "echo", "env": {"LD_PRELOAD": "/tmp/x.so"}}),
        json!("echo hello"),
    ];
    for cmd in attacks {
        let message = error_text(&call(&client, "run", json!({ "cmd": cmd })).await);
        assert!(
            message.starts_with("invalid arguments: `cmd"),
            "{cmd}: {message}"
        );
        assert!(
            !message.contains("pwned") && !message.contains("sshCommand"),
            "{message}"
        );
    }
}

#[test]
fn allowed_shapes_pass_the_check() {
    let git = |args: &[&str]| {
        CommandLine::new("git", args.iter().map(|s| (*s).to_owned()).collect()).unwrap()
    };
    let (programs, options) = (&["git"][..], &["log", "-n", "--oneline", "--format="][..]);
    // git's subcommand is a choice of its own: only listed ones run.
    for args in [
        &["config", "core.fsmonitor", "touch /tmp/p"][..],
        &["config", "alias.x", "!touch /tmp/p"],
        &["submodule", "foreach", "id"],
        &["x"],
        &["-C", "/tmp", "config", "core.pager", "id"],
    ] {
        assert!(git(args).check(programs, options).is_err(), "{args:?}");
    }
    // Programs that run another: their words are choices too.
    for (program, args) in [
        ("timeout", &["5", "sed", "1e id", "f"][..]),
        ("env", &["sed", "1e id", "f"]),
        ("xargs", &["sh"]),
        ("busybox", &["sed", "1e id"]),
        ("jq", &["env", "data.json"]),
        ("make", &["CC=touch /tmp/p"]),
    ] {
        let cmd =
            CommandLine::new(program, args.iter().map(|s| (*s).to_owned()).collect()).unwrap();
        assert!(
            cmd.check(&[program], &["-n"]).is_err(),
            "{program} {args:?}"
        );
    }
    assert!(git(&["log", "-n", "5"]).check(programs, options).is_ok());
    assert!(
        git(&["log", "--oneline", "-n", "5"])
            .check(programs, options)
            .is_ok()
    );
    assert!(
        git(&["log", "--format=%H %s"])
            .check(programs, options)
            .is_ok()
    );
    assert!(git(&["log", "--formatx"]).check(programs, options).is_err());
    assert!(git(&["log", "-nx"]).check(programs, options).is_err());
    assert!(git(&["status"]).check(&["echo"], options).is_err());
}

#[tokio::test]
async fn option_words_without_a_dash_are_options_too() {
    let client = connect(shell()).await;
    // Old-style clusters, BSD words, scripts and programs: options or code to the program.
    for (program, args) in [
        ("tar", vec!["cfI", "out.tar", "touch /tmp/x", "."]),
        ("tar", vec!["xf", "in.tar", "--to-command=id"]),
        ("tar", vec!["tvf", "in.tar"]),
        ("ps", vec!["eww"]),
        ("ps", vec!["e"]),
        ("ps", vec!["auxe"]),
        ("sed", vec!["1e id", "notes.txt"]),
        ("sed", vec!["w /tmp/out", "notes.txt"]),
        ("sed", vec!["-n", "1e id", "notes.txt"]),
        ("sed", vec!["-e", "1e id", "notes.txt"]),
        ("sed", vec!["--", "1e id"]),
        ("awk", vec!["BEGIN{system(\"id\")}"]),
        ("awk", vec!["-F", ":", "{print $1 | \"sh\"}", "/etc/passwd"]),
        ("dd", vec!["if=/dev/zero", "of=/tmp/disk"]),
        ("ps", vec!["ewwU0"]),
        ("ps", vec!["axp1"]),
    ] {
        let cmd = json!({"program": program, "args": args});
        let message = error_text(&call(&client, "archive", json!({ "cmd": cmd })).await);
        assert!(
            message.starts_with("invalid arguments: `cmd"),
            "{cmd}: {message}"
        );
        assert!(!message.contains("/tmp"), "{message}");
    }
    // What the author listed, and operands, pass.
    for (program, args) in [
        ("tar", vec!["tf", "backup.tar"]),
        ("tar", vec!["-tf", "backup.tar"]),
        ("ps", vec!["aux"]),
        ("ps", vec!["-p", "123"]),
        ("sed", vec!["s/a/b/", "notes.txt"]),
        ("sed", vec!["-n", "s/a/b/", "notes.txt"]),
        ("awk", vec!["--version"]),
        ("dd", vec!["--version"]),
    ] {
        let cmd = json!({"program": program, "args": args});
        let result = call(&client, "archive", json!({ "cmd": cmd })).await;
        assert!(result.is_error != Some(true), "{cmd} refused: {result:?}");
    }
}
