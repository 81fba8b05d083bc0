#![no_main]
//! Scrubbing never panics, is idempotent (a scrubbed text has nothing left to scrub), and
//! public scrubbing removes at least what secret scrubbing removes.
use libfuzzer_sys::fuzz_target;
use std::borrow::Cow;

fuzz_target!(|data: &str| {
    let once = secure_tool::scrub_secrets(data);
    let twice = secure_tool::scrub_secrets(&once);
    assert!(matches!(twice, Cow::Borrowed(_)), "{data:?} -> {once:?} -> {twice:?}");
    if matches!(once, Cow::Owned(_)) {
        assert!(matches!(secure_tool::scrub_public(data), Cow::Owned(_)));
    }
});
