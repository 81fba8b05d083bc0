//! Stage 8: one audit event per call, with tool, principal, outcome, duration and ref,
//! and never an argument value.
mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn every_call_leaves_exactly_one_event_with_its_outcome() {
    let capture = Capture::default();
    let _guard = capture.install();
    let client = connect(TestServer::with_scopes(&["echo"])).await;
    let calls = [
        ("echo", echo_args(), "ok"),
        ("needs_two", json!({}), "denied"),
        (
            "echo",
            json!({"text": "SENSITIVEVALUE", "times": 99}),
            "invalid",
        ),
        ("internal_fail", json!({}), "error"),
        ("public_fail", json!({}), "error"),
        ("hang", json!({}), "timeout"),
        ("boom", json!({}), "panic"),
        ("burst", json!({}), "ok"),
        ("burst", json!({}), "ok"),
        ("burst", json!({}), "limited"),
    ];
    for (tool, args, _) in &calls {
        call(&client, tool, args.clone()).await;
    }
    let events = capture.events(secure_tool::AUDIT_TARGET);
    assert_eq!(events.len(), calls.len(), "{events:#?}");
    for (event, (tool, _, outcome)) in events.iter().zip(&calls) {
        assert_eq!(event.get("tool"), Some(*tool));
        assert_eq!(event.get("outcome"), Some(*outcome), "{tool}");
        assert_eq!(event.get("principal"), Some("tester"));
        let micros: u64 = event.get("duration_us").unwrap().parse().unwrap();
        if *outcome == "timeout" {
            assert!(micros >= 50_000, "{micros}");
        }
        assert_eq!(
            event.get("error_ref").is_some(),
            matches!(*outcome, "panic") || (*tool == "internal_fail"),
            "{tool}"
        );
    }
    // Nothing secure-tool logs carries an argument value. (rmcp's own `rmcp::service`
    // debug events do log whole requests: the README says to keep them off in production.)
    let ours: Vec<_> = capture
        .events_all()
        .into_iter()
        .filter(|e| e.target.starts_with("secure_tool"))
        .collect();
    assert!(ours.len() > calls.len());
    assert!(!format!("{ours:?}").contains("SENSITIVEVALUE"));
}
