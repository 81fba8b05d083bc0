//! A real stdio MCP server over one directory, for any MCP host to launch:
//!
//! ```text
//! cargo run --example fs_server -- --root ./workspace --grant fs.read --grant fs.write
//! ```
//!
//! Tools: `read_file` and `list_dir` need `fs.read`; `write_file` needs `fs.write`. With no
//! `--grant` and no `--policy`, the caller holds no scopes and every tool is denied.
//!
//! `--policy FILE` reads the operator's `secure-tool.toml` (roles, grants to the local
//! principal `local`, per-tool limits, `enabled = false`); it is reloaded on SIGHUP and
//! when the file changes, and a broken file is refused (at start-up, the server does not
//! start). `--audit-log FILE` appends one JSON line per call. `--redis URL` keeps the rate
//! limits in that Redis, shared by every process started with it; while Redis is away,
//! limited calls are refused (`--redis-fail-open` admits them instead). Every path is resolved
//! inside `--root`: `SafePath` refuses traversal in any spelling, and `Sandbox`
//! (`cap-std`) refuses symlinks out and rename races. Logs go to
//! stderr (stdout is the protocol); set `RUST_LOG` to change what is logged.

use rmcp::ServiceExt;
use secure_tool::types::Sandbox;
use secure_tool::{Principal, Security};

#[path = "shared/fs.rs"]
mod fs;
#[path = "shared/logging.rs"]
mod logging;
#[path = "shared/operator.rs"]
mod operator;
#[path = "shared/shutdown.rs"]
mod shutdown;
use fs::FsServer;
use operator::Operator;

struct Args {
    root: std::path::PathBuf,
    grants: Vec<String>,
    operator: Operator,
}

fn parse_args() -> Result<Args, String> {
    const USAGE: &str = "usage: fs_server --root DIR [--grant SCOPE]... [--policy FILE] [--audit-log FILE] [--redis URL | --redis-url-env NAME | --redis-cluster URL...] [--redis-ca FILE] [--redis-prefix NAME] [--redis-fail-open]   (scopes: fs.read, fs.write)\n       fs_server --manifest [--json] [--policy FILE]   (print every tool's scopes, limits and waivers, and exit)";
    let mut root = None;
    let mut grants = Vec::new();
    let mut operator = Operator::default();
    let (mut manifest, mut json) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = Some(args.next().ok_or(USAGE)?.into()),
            "--grant" => grants.push(args.next().ok_or(USAGE)?),
            flag if operator.take(flag, || args.next().ok_or_else(|| USAGE.to_owned()))? => {}
            "--manifest" => manifest = true,
            "--json" => json = true,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if manifest {
        // Tools register when their router is built, as serving does.
        FsServer::register();
        let manifest = operator.apply(Security::builder())?.build().manifest();
        if json {
            let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
            println!("{text}");
        } else {
            print!("{manifest}");
        }
        std::process::exit(0);
    }
    if json {
        return Err(format!("`--json` goes with `--manifest`\n{USAGE}"));
    }
    Ok(Args {
        root: root.ok_or(USAGE)?,
        grants,
        operator,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logging::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    // The policy's tool names are checked against the tools this program serves.
    FsServer::register();
    let security =
        Security::builder().local_principal(Principal::new("local").with_scopes(args.grants));
    // A broken policy stops the server here, with the file and line.
    let security = match args.operator.apply(security) {
        Ok(security) => security,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    let security = security.build();
    // Least privilege: unless `fs.write` can be granted (on the command line, or by a
    // policy, now or after a reload), the directory is opened read-only as well.
    let may_write =
        security.local_principal().has_scope("fs.write") || args.operator.policy.is_some();
    let sandbox = if may_write {
        Sandbox::open(&args.root)
    } else {
        Sandbox::open_read_only(&args.root)
    }
    .map_err(|e| anyhow::anyhow!("cannot open --root {}: {e}", args.root.display()))?;
    let _watch = args.operator.watch(&security)?;
    let server = FsServer::new(security.clone(), sandbox);
    // Listening from before the handshake: a SIGTERM at any moment is a clean exit.
    let mut signalled = std::pin::pin!(shutdown::signalled());
    let running = tokio::select! {
        running = server.serve(rmcp::transport::stdio()) => running?,
        () = &mut signalled => shutdown::finish(&security),
    };
    let stop = running.cancellation_token();
    let mut waiting = std::pin::pin!(running.waiting());
    tokio::select! {
        // stdin closed: rmcp has let the calls in flight answer (5 s at most).
        _ = &mut waiting => {}
        // SIGTERM or SIGINT: take no more requests; rmcp lets the calls in flight answer
        // for 2 s, after which they are cancelled.
        () = &mut signalled => {
            stop.cancel();
            let _ = tokio::time::timeout(shutdown::GRACE, &mut waiting).await;
        }
    }
    drop(_watch);
    shutdown::finish(&security)
}
