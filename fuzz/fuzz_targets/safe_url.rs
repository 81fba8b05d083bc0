#![no_main]
//! Any accepted URL is http(s)/ws(s) with a host, no user info, no fragment, and its host
//! re-parses to the same (still accepted) URL.
use libfuzzer_sys::fuzz_target;
use secure_tool::types::SafeUrl;

fuzz_target!(|data: &str| {
    if let Ok(url) = SafeUrl::parse(data) {
        let parsed = url.url();
        assert!(matches!(parsed.scheme(), "http" | "https" | "ws" | "wss"));
        assert!(parsed.username().is_empty() && parsed.password().is_none());
        assert!(parsed.fragment().is_none());
        assert!(!url.host().is_empty());
        let again = SafeUrl::parse(url.as_str()).expect("a normalised URL is still safe");
        assert_eq!(again, url);
    }
});
