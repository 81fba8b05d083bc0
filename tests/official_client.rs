//! `examples/fs_server` driven by the official MCP Python SDK (`tests/python`), the way
//! a real MCP host drives it. `scripts/test` installs the pinned SDK into `target/py`
//! and requires this test to run; under a bare `cargo test` without the SDK it says why
//! it skipped.
mod common;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn official_python_sdk_drives_fs_server() {
    let Some(python) = common::official_python() else {
        return common::require_or_skip("Python SDK in target/py");
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
