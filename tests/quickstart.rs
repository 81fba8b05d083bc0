//! The README's quick start, as a newcomer copies it: its ```toml `[dependencies]` block
//! and its ```rust block with `fn main` become a fresh crate outside this workspace
//! (with `secure-tool` patched to this checkout), which must build and serve a tool over
//! stdio to the official MCP Python SDK.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The fenced blocks of `lang` in `markdown`, in order.
fn blocks<'a>(markdown: &'a str, lang: &str) -> Vec<&'a str> {
    let fence = format!("```{lang}\n");
    let mut found = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("\n```").expect("a closed fence");
        found.push(&body[..=end]);
        rest = &body[end + 4..];
    }
    found
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Write the crate the quick start describes into `dir`.
fn write_crate(dir: &Path) {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let dependencies = blocks(&readme, "toml")
        .into_iter()
        .find(|b| b.trim_start().starts_with("[dependencies]"))
        .expect("the README has a ```toml block with [dependencies]");
    let main = blocks(&readme, "rust")
        .into_iter()
        .find(|b| b.contains("fn main"))
        .expect("the README has a ```rust block with fn main");
    let patch = |name: &str, dir: &str| {
        format!(
            "{name} = {{ path = {:?} }}\n",
            root().join(dir).display().to_string()
        )
    };
    let manifest = format!(
        "[package]\nname = \"quickstart\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         {dependencies}\n\
         # This checkout stands in for the published crates.\n[patch.crates-io]\n{}{}{}\n\
         # Not a member of the project's workspace.\n[workspace]\n",
        patch("secure-tool", "runtime"),
        patch("secure-tool-macros", "macros"),
        patch("secure-tool-words", "words"),
    );
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    // No lock file: the versions a newcomer's `cargo build` resolves today.
    let _ = std::fs::remove_file(dir.join("Cargo.lock"));
}

#[test]
fn readme_quick_start_builds_and_serves_over_stdio() {
    let dir = root().join("target/quickstart");
    let _ = std::fs::remove_dir_all(dir.join("src"));
    write_crate(&dir);
    let build = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        // Its own target directory, kept between runs: the first build compiles rmcp.
        .env("CARGO_TARGET_DIR", root().join("target/quickstart-target"))
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "the README's quick start does not build as copied:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    // Built as copied; serving it needs the official client.
    let binary = root().join("target/quickstart-target/debug/quickstart");
    common::run_official_python_client("quickstart_client.py", &[binary.as_os_str()]);
}

#[test]
fn readme_blocks_are_found() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let toml = blocks(&readme, "toml");
    assert!(toml.iter().any(|b| b.contains("secure-tool = \"0.1\"")));
    assert!(
        blocks(&readme, "rust")
            .iter()
            .any(|b| b.contains("#[tokio::main]"))
    );
}
