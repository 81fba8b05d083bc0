//! `examples/fs_server` driven by the official MCP Python SDK (`tests/python`), the way
//! a real MCP host drives it. `scripts/test` installs the pinned SDK into `target/py`
//! and requires this test to run; under a bare `cargo test` without the SDK it says why
//! it skipped.
mod common;

#[test]
fn official_python_sdk_drives_fs_server() {
    let binary = common::fs_server_binary();
    common::run_official_python_client("official_client.py", &[binary.as_os_str()]);
}
