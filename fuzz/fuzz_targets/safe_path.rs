#![no_main]
//! Any accepted path is relative, made of plain components, and free of the characters
//! the checks refuse; refusals never quote the input.
use libfuzzer_sys::fuzz_target;
use secure_tool::types::SafePath;
use std::path::Component;

fuzz_target!(|data: &str| {
    match SafePath::parse(data) {
        Ok(path) => {
            for component in path.as_path().components() {
                assert!(
                    matches!(component, Component::Normal(_)) || path.is_root(),
                    "{data:?} -> {component:?}"
                );
            }
            assert!(!path.as_str().contains(['\\', '%', '\0']));
            assert!(path.as_str().len() <= secure_tool::types::MAX_PATH_BYTES);
        }
        Err(why) => assert!(data.len() < 8 || !why.to_string().contains(data)),
    }
});
