#![no_main]
//! Any accepted command has a bare program name and passes the allowlist only when the
//! program and every option are on it.
use libfuzzer_sys::fuzz_target;
use secure_tool::types::CommandLine;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(cmd) = serde_json::from_value::<CommandLine>(value) {
        assert!(!cmd.program().contains(['/', ' ', ';', '|', '&', '$', '`']));
        if cmd.check(&["git"], &["--oneline"]).is_ok() {
            assert_eq!(cmd.program(), "git");
            assert!(
                cmd.args()
                    .iter()
                    .filter(|a| a.starts_with('-'))
                    .all(|a| a == "--oneline")
            );
        }
    }
});
