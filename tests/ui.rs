//! Compile-time rules: every unsafe tool is refused with a span and the fix
//! (`tests/ui/fail`), and every supported shape keeps compiling (`tests/ui/pass`).
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
