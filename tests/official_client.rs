//! `examples/fs_server` driven by the official MCP Python SDK (`tests/python`), the way
//! a real MCP host drives it. `scripts/test` installs the pinned SDK into `target/py`
//! and requires this test to run; under a bare `cargo test` without the SDK it says why
//! it skipped.
mod common;

use std::path::PathBuf;
use std::process::Command;

fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python");
    let candidate = std::env::var_os("SECURE_TOOL_PYTHON").map_or(venv, PathBuf::from);
    let ok = Command::new(&candidate)
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(candidate)
}

#[test]
fn official_python_sdk_drives_fs_server() {
    let Some(python) = python() else {
        assert!(
            std::env::var_os("SECURE_TOOL_REQUIRE_OFFICIAL_CLIENTS").is_none(),
            "the official MCP Python SDK is required: run `scripts/test` (it installs tests/python/requirements.txt into target/py)"
        );
        // Written to the process's stderr, not through `eprintln!`, which the test harness
        // captures and hides for a passing test: a skip must be seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: no official MCP Python SDK in target/py (run `scripts/test`, which installs it)"
        );
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/official_client.py");
    let output = Command::new(python)
        .arg(script)
        .arg(common::fs_server_binary())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
}
