#![no_main]
//! Context only ever allows: text that `find_hidden` refuses holds a character that
//! `hidden_class` names, and the ASCII fast path agrees with the general path.
use libfuzzer_sys::fuzz_target;
use secure_tool::types::{find_hidden, hidden_class};

fuzz_target!(|data: &str| {
    let found = find_hidden(data);
    if found.is_some() {
        assert!(data.chars().any(|c| hidden_class(c).is_some()), "{data:?}");
    }
    if data.is_ascii() {
        // `é` is ordinary text and forces the general path.
        let general = find_hidden(&format!("{data}\u{e9}"));
        assert_eq!(found.is_some(), general.is_some(), "{data:?}");
    }
});
