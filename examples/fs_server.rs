//! A real stdio MCP server over one directory, for any MCP host to launch:
//!
//! ```text
//! cargo run --example fs_server -- --root ./workspace --grant fs.read --grant fs.write
//! ```
//!
//! Tools: `read_file` and `list_dir` need `fs.read`; `write_file` needs `fs.write`. With no
//! `--grant`, the caller holds no scopes and every tool is denied. Every path is resolved
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
use fs::FsServer;

struct Args {
    root: std::path::PathBuf,
    grants: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    const USAGE: &str = "usage: fs_server --root DIR [--grant SCOPE]... (scopes: fs.read, fs.write)\n       fs_server --manifest [--json]   (print every tool's scopes, limits and waivers, and exit)";
    let mut root = None;
    let mut grants = Vec::new();
    let (mut manifest, mut json) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = Some(args.next().ok_or(USAGE)?.into()),
            "--grant" => grants.push(args.next().ok_or(USAGE)?),
            "--manifest" => manifest = true,
            "--json" => json = true,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if manifest {
        // Tools register when their router is built, as serving does.
        FsServer::register();
        let manifest = Security::default().manifest();
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
    let has_write = args.grants.iter().any(|g| g == "fs.write");
    // Least privilege: without `fs.write`, the directory is opened read-only as well.
    let sandbox = if has_write {
        Sandbox::open(&args.root)
    } else {
        Sandbox::open_read_only(&args.root)
    }
    .map_err(|e| anyhow::anyhow!("cannot open --root {}: {e}", args.root.display()))?;
    let security = Security::builder()
        .local_principal(Principal::new("local").with_scopes(args.grants))
        .build();
    let server = FsServer::new(security, sandbox);
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}
