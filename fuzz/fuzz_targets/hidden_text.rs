#![no_main]
//! The ASCII fast path and the general path agree.
use libfuzzer_sys::fuzz_target;
use secure_tool::types::{find_hidden, hidden_class};

fuzz_target!(|data: &str| {
    let slow = data.chars().find_map(hidden_class).is_some();
    assert_eq!(find_hidden(data).is_some(), slow, "{data:?}");
});
