//! One audit event per tool call, through `tracing` at target `secure_tool::audit`, and
//! optionally a JSON-lines file ([`AuditLog`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::ErrorRef;
use crate::identity::Principal;

pub(crate) mod coalesce;
mod writer;

use coalesce::{Coalescer, Event, Kind};
use writer::{Render, Settings, Sink};

/// The target of audit events; filter on it to route them (e.g. to a separate log).
pub const AUDIT_TARGET: &str = "secure_tool::audit";

/// The target under which the full text of redacted errors is logged.
pub const ERROR_TARGET: &str = "secure_tool::error";

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The body ran and returned a success.
    Ok,
    /// The caller lacked a required scope.
    Denied,
    /// Refused by the rate limit or the concurrency cap.
    Limited,
    /// The arguments were refused (raw limits, deserialization or validation).
    Invalid,
    /// The body returned an error (public or redacted).
    Error,
    /// The body ran past its timeout.
    Timeout,
    /// The body panicked; the panic was contained.
    Panic,
    /// The client cancelled the request while the body ran.
    Cancelled,
}

impl Outcome {
    /// The lowercase word used in audit events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Limited => "limited",
            Self::Invalid => "invalid",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Panic => "panic",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One call, as the audit trail records it.
pub(crate) struct Call<'a> {
    pub(crate) tool: &'static str,
    pub(crate) principal: &'a Principal,
    pub(crate) outcome: Outcome,
    /// When the call started: its duration is read from the clock only when something
    /// records it (a subscriber to the audit events, or the trail).
    pub(crate) started: std::time::Instant,
    pub(crate) error_ref: Option<ErrorRef>,
    /// The digest of the policy the call ran under.
    pub(crate) policy: Option<&'a Arc<str>>,
    /// The values of the input's `#[secure(audit)]` fields, already truncated.
    pub(crate) fields: Vec<(&'static str, serde_json::Value)>,
}

/// Emit the audit event of one call: a `tracing` event, and a line of the JSON-lines
/// trail when there is one. Argument values are never part of either, but for the fields
/// the input's author opted in with `#[secure(audit)]`.
pub(crate) fn record(log: Option<&AuditLog>, call: Call<'_>) {
    // Field values are evaluated only for an event some subscriber takes; the event and
    // the trail's line say the same duration.
    let duration = std::cell::OnceCell::new();
    let duration_us = || {
        *duration
            .get_or_init(|| u64::try_from(call.started.elapsed().as_micros()).unwrap_or(u64::MAX))
    };
    let (tool, principal) = (call.tool, call.principal.id());
    match call.error_ref {
        Some(r) => tracing::info!(
            target: AUDIT_TARGET,
            tool,
            principal,
            outcome = call.outcome.as_str(),
            duration_us = duration_us(),
            error_ref = %r,
            "tool call"
        ),
        None => tracing::info!(
            target: AUDIT_TARGET,
            tool,
            principal,
            outcome = call.outcome.as_str(),
            duration_us = duration_us(),
            "tool call"
        ),
    }
    if let Some(log) = log {
        log.send(Line::Call {
            time: SystemTime::now(),
            tool: call.tool,
            principal: Arc::clone(call.principal.id_arc()),
            issuer: call.principal.issuer_arc().cloned(),
            outcome: call.outcome,
            duration_us: duration_us(),
            error_ref: call.error_ref,
            policy: call.policy.cloned(),
            fields: call.fields,
        });
    }
}

/// Record a policy reload (`Ok`: accepted, with what it changed) or its refusal: a
/// `tracing` event (at `warn` when the reload loosens anything) and a line of the trail.
#[cfg(feature = "policy")]
pub(crate) fn policy_reload(
    log: Option<&AuditLog>,
    digest: Option<&Arc<str>>,
    outcome: Result<&crate::policy::diff::Changes, String>,
) {
    let digest_text = digest.map_or("", |d| &**d);
    match &outcome {
        Ok(changes) if changes.loosened.is_empty() => tracing::info!(
            target: AUDIT_TARGET,
            policy = digest_text,
            tightened = ?changes.tightened,
            "policy reloaded"
        ),
        Ok(changes) => tracing::warn!(
            target: AUDIT_TARGET,
            policy = digest_text,
            loosened = ?changes.loosened,
            tightened = ?changes.tightened,
            "policy reloaded; it LOOSENS access or limits"
        ),
        Err(error) => tracing::error!(
            target: AUDIT_TARGET,
            policy = digest_text,
            error = %error,
            "policy reload refused; the policy in force stays"
        ),
    }
    if let Some(log) = log {
        let (changes, error) = match outcome {
            Ok(changes) => (Some(changes.clone()), None),
            Err(error) => (None, Some(error)),
        };
        log.send(Line::Reload {
            time: SystemTime::now(),
            policy: digest.cloned(),
            error,
            changes,
        });
    }
}

/// Record a request the OAuth layer refused before any tool ran (no or bad token, a
/// missing scope, a session of another caller): a `tracing` event and a line of the
/// trail, coalesced with its repeats (see [`Coalescer`]).
#[cfg(feature = "jwt")]
pub(crate) fn http_refusal(
    refusals: &Coalescer,
    principal: &Principal,
    tool: Option<&str>,
    outcome: &'static str,
    reason: &str,
) {
    let kind = Kind {
        event: Event::Http,
        tool: tool.map(Box::from),
        principal: Arc::clone(principal.id_arc()),
        issuer: principal.issuer_arc().cloned(),
        outcome,
        reason: Box::from(reason),
        policy: None,
    };
    if !refusals.admit(kind) {
        return;
    }
    tracing::info!(
        target: AUDIT_TARGET,
        tool = tool.unwrap_or("-"),
        principal = principal.id(),
        outcome,
        reason,
        "http request refused"
    );
    if let Some(log) = refusals.log() {
        log.send(Line::Refused {
            time: SystemTime::now(),
            tool: tool.map(str::to_owned),
            principal: Arc::clone(principal.id_arc()),
            issuer: principal.issuer_arc().cloned(),
            outcome,
            reason: reason.to_owned(),
        });
    }
}

/// Record a call the pipeline refused before doing any work for it (a disabled tool, a
/// scope the caller lacks, arguments over the raw limits, a rate or concurrency limit):
/// like [`record`], but coalesced with its repeats under `reason`.
pub(crate) fn record_refusal(refusals: &Coalescer, call: Call<'_>, reason: &'static str) {
    let kind = Kind {
        event: Event::Call,
        tool: Some(Box::from(call.tool)),
        principal: Arc::clone(call.principal.id_arc()),
        issuer: call.principal.issuer_arc().cloned(),
        outcome: call.outcome.as_str(),
        reason: Box::from(reason),
        policy: call.policy.cloned(),
    };
    if refusals.admit(kind) {
        record(refusals.log(), call);
    }
}

/// The longest value of an opted-in (`#[secure(audit)]`) field the trail keeps, in
/// characters; a longer string is cut there and marked with `…`.
pub const AUDIT_VALUE_CHARS: usize = 256;

/// A JSON-lines audit trail: one line per call (time, tool, principal, issuer, outcome,
/// duration, error ref, policy digest, and the values of `#[secure(audit)]` fields), one
/// per policy reload. Written by a thread of its own through a bounded queue, so a call
/// never waits for the disk: when the queue is full the line is dropped, and the next
/// line written is preceded by one that counts the drops. The file is rotated by size
/// (`PATH` -> `PATH.1` -> ... `PATH.{keep}`).
///
/// ```no_run
/// use secure_tool::{AuditLog, Security};
///
/// let security = Security::builder()
///     .audit_log(AuditLog::new("/var/log/mcp/audit.jsonl").max_bytes(16 << 20).keep(3))?
///     .build();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct AuditLog {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    capacity: usize,
    /// How long lines gather before they are written (`writer::LINGER`; a test may make
    /// it longer, to see the pause).
    linger: Duration,
    sink: Option<Arc<Sink<Line>>>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("max_bytes", &self.max_bytes)
            .field("keep", &self.keep)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<P: Into<PathBuf>> From<P> for AuditLog {
    fn from(path: P) -> Self {
        Self::new(path)
    }
}

impl AuditLog {
    /// A trail at `path`: rotated at 64 MiB, 5 old files kept, 8,192 lines queued.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_bytes: 64 << 20,
            keep: 5,
            capacity: 8192,
            linger: writer::LINGER,
            sink: None,
        }
    }

    /// Let lines gather this long before they are written.
    #[cfg(test)]
    fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Rotate once the file reaches this size.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes.max(1);
        self
    }

    /// How many rotated files to keep (0: the old file is truncated away).
    pub fn keep(mut self, files: u32) -> Self {
        self.keep = files;
        self
    }

    /// How many lines may wait for the writer before new ones are dropped (and counted).
    ///
    /// The writer lets lines gather for a few milliseconds before it writes them
    /// together; a queue half full cuts that pause short, so lines are dropped only when
    /// the writer (the disk, or the thread itself on a busy machine) cannot keep up, not
    /// because it was pausing.
    pub fn capacity(mut self, lines: usize) -> Self {
        self.capacity = lines.max(1);
        self
    }

    /// Open the file and start the writer, once.
    pub(crate) fn open(&mut self) -> std::io::Result<()> {
        if self.sink.is_none() {
            self.sink = Some(Arc::new(Sink::open(Settings {
                path: self.path.clone(),
                max_bytes: self.max_bytes,
                keep: self.keep,
                capacity: self.capacity,
                linger: self.linger,
            })?));
        }
        Ok(())
    }

    /// Queue a line without waiting: when the queue is full it is dropped and counted.
    fn send(&self, line: Line) {
        if let Some(sink) = &self.sink {
            sink.send(line);
        }
    }

    /// Lines lost so far: dropped because the queue was full, sent after
    /// [`close`](Self::close), or refused by the file (a full disk, a size limit). Each is
    /// also counted in the trail by the next `audit_dropped` line written.
    pub fn dropped(&self) -> u64 {
        self.sink.as_ref().map_or(0, |sink| sink.dropped())
    }

    /// Wait until every line queued before this call is in the file (or counted as
    /// dropped), at most `timeout`: `true` when it is. Lines are written by the kernel's
    /// `write`, so a written line survives the process; [`close`](Self::close) also syncs
    /// it to the disk. A trail not yet opened (not given to a `SecurityBuilder`) has
    /// nothing to flush.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.sink.as_ref().is_none_or(|sink| sink.flush(timeout))
    }

    /// Close the trail at shutdown: take no more lines (later ones are counted as
    /// dropped), write every queued one and the count of the dropped ones, sync the file
    /// and stop the writer thread, all within `timeout`: `true` when it all happened in
    /// time. Every clone shares the one trail, so this closes it for all of them. The
    /// last clone to be dropped closes the trail too (waiting up to 5 s), so a trail is
    /// flushed however the program ends, but for `std::process::exit` and signals that
    /// kill it: a server that handles SIGTERM calls
    /// [`Security::close_audit`](crate::Security::close_audit) before it exits.
    pub fn close(&self, timeout: Duration) -> bool {
        self.sink.as_ref().is_none_or(|sink| sink.close(timeout))
    }
}

/// A line of the trail, formatted by the writer thread, not by the call.
enum Line {
    Call {
        time: SystemTime,
        tool: &'static str,
        principal: Arc<str>,
        issuer: Option<Arc<str>>,
        outcome: Outcome,
        duration_us: u64,
        error_ref: Option<ErrorRef>,
        policy: Option<Arc<str>>,
        fields: Vec<(&'static str, serde_json::Value)>,
    },
    #[cfg(feature = "jwt")]
    Refused {
        time: SystemTime,
        tool: Option<String>,
        principal: Arc<str>,
        issuer: Option<Arc<str>>,
        outcome: &'static str,
        reason: String,
    },
    #[cfg(feature = "policy")]
    Reload {
        time: SystemTime,
        policy: Option<Arc<str>>,
        error: Option<String>,
        /// What an accepted reload changed.
        changes: Option<crate::policy::diff::Changes>,
    },
    /// Refusals of one kind in one interval, written as one line with their `count`.
    Coalesced {
        time: SystemTime,
        event: &'static str,
        tool: Option<Box<str>>,
        principal: Arc<str>,
        issuer: Option<Arc<str>>,
        outcome: &'static str,
        reason: Box<str>,
        policy: Option<Arc<str>>,
        count: u64,
    },
}

impl Render for Line {
    fn render(&self, out: &mut Vec<u8>) {
        use serde_json::{Value, json};
        let line = match self {
            // The line of every call: written straight from its fields (the others, rare,
            // through a `Value`).
            Self::Call {
                time,
                tool,
                principal,
                issuer,
                outcome,
                duration_us,
                error_ref,
                policy,
                fields,
            } => {
                // Compact, its keys in alphabetical order as `json!` wrote it before (the
                // order of `serde_json`'s default map, whatever features a build turns
                // on), the optional ones left out when empty; written key by key (the keys
                // are literals), every value as `serde_json` writes it (tested byte for
                // byte): a call's line is most of the trail's work, on the writer thread.
                out.push(b'{');
                if !fields.is_empty() {
                    out.extend_from_slice(b"\"arguments\":");
                    let _ = serde_json::to_writer(&mut *out, &Arguments(fields));
                    out.push(b',');
                }
                out.extend_from_slice(b"\"duration_us\":");
                let _ = serde_json::to_writer(&mut *out, duration_us);
                out.extend_from_slice(b",\"event\":\"tool_call\"");
                if let Some(issuer) = issuer {
                    out.extend_from_slice(b",\"issuer\":");
                    json_string(out, issuer);
                }
                out.extend_from_slice(b",\"outcome\":");
                json_string(out, outcome.as_str());
                if let Some(policy) = policy {
                    out.extend_from_slice(b",\"policy\":");
                    json_string(out, policy);
                }
                out.extend_from_slice(b",\"principal\":");
                json_string(out, principal);
                if let Some(error_ref) = error_ref {
                    out.extend_from_slice(b",\"ref\":");
                    json_string(out, &error_ref.to_string());
                }
                out.extend_from_slice(b",\"time\":");
                json_string(out, &timestamp(*time));
                out.extend_from_slice(b",\"tool\":");
                json_string(out, tool);
                out.push(b'}');
                return;
            }
            #[cfg(feature = "jwt")]
            Self::Refused {
                time,
                tool,
                principal,
                issuer,
                outcome,
                reason,
            } => {
                let mut line = json!({
                    "time": timestamp(*time),
                    "event": "http_refused",
                    "principal": &**principal,
                    "outcome": outcome,
                    "reason": reason,
                });
                let object = line.as_object_mut().expect("a JSON object");
                if let Some(tool) = tool {
                    object.insert("tool".into(), Value::from(tool.as_str()));
                }
                if let Some(issuer) = issuer {
                    object.insert("issuer".into(), Value::from(&**issuer));
                }
                line
            }
            Self::Coalesced {
                time,
                event,
                tool,
                principal,
                issuer,
                outcome,
                reason,
                policy,
                count,
            } => {
                let mut line = json!({
                    "time": timestamp(*time),
                    "event": event,
                    "principal": &**principal,
                    "outcome": outcome,
                    "reason": &**reason,
                    "count": count,
                });
                let object = line.as_object_mut().expect("a JSON object");
                if let Some(tool) = tool {
                    object.insert("tool".into(), Value::from(&**tool));
                }
                if let Some(issuer) = issuer {
                    object.insert("issuer".into(), Value::from(&**issuer));
                }
                if let Some(policy) = policy {
                    object.insert("policy".into(), Value::from(&**policy));
                }
                line
            }
            #[cfg(feature = "policy")]
            Self::Reload {
                time,
                policy,
                error,
                changes,
            } => {
                let mut line = json!({
                    "time": timestamp(*time),
                    "event": "policy_reload",
                    "outcome": if error.is_some() { "refused" } else { "ok" },
                });
                let object = line.as_object_mut().expect("a JSON object");
                if let Some(policy) = policy {
                    object.insert("policy".into(), Value::from(&**policy));
                }
                if let Some(error) = error {
                    object.insert("error".into(), Value::from(error.as_str()));
                }
                if let Some(changes) = changes {
                    object.insert("loosened".into(), Value::from(changes.loosened.clone()));
                    object.insert("tightened".into(), Value::from(changes.tightened.clone()));
                }
                line
            }
        };
        let _ = serde_json::to_writer(out, &line);
    }
}

/// `text` as a JSON string, as `serde_json` writes it: quoted as it is when no byte of it
/// needs an escape (a control character, `"` or `\\`; other text, non-ASCII too, is
/// written as it is by `serde_json` as well), else by `serde_json` itself.
fn json_string(out: &mut Vec<u8>, text: &str) {
    // Every byte looked at, no early exit: the compiler tests many bytes at a time.
    let escape = text.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escape {
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// The audited fields of a call, as an object with its keys in order (a name given twice
/// keeps its last value, as a map does).
struct Arguments<'a>(&'a [(&'static str, serde_json::Value)]);

impl serde::Serialize for Arguments<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields: Vec<&(&str, serde_json::Value)> = self.0.iter().collect();
        fields.sort_by_key(|(name, _)| *name);
        let last = |i: usize| fields.get(i + 1).is_none_or(|next| next.0 != fields[i].0);
        serializer.collect_map(
            (0..fields.len())
                .filter(|&i| last(i))
                .map(|i| (fields[i].0, &fields[i].1)),
        )
    }
}

/// RFC 3339 in UTC, to the microsecond.
fn timestamp(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("secure-tool-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn call(tool: &'static str) -> Line {
        Line::Call {
            time: SystemTime::now(),
            tool,
            principal: Arc::from("p"),
            issuer: Some(Arc::from("https://idp.example")),
            outcome: Outcome::Ok,
            duration_us: 7,
            error_ref: None,
            policy: None,
            fields: Vec::new(),
        }
    }

    /// The whole lines of the file (one being appended while it is read is left for the
    /// next look).
    fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .split_inclusive('\n')
            .filter_map(|l| l.strip_suffix('\n'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn settle(log: &AuditLog, path: &std::path::Path, count: usize) {
        for _ in 0..200 {
            if lines(path).len() >= count {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{count} lines never arrived ({} dropped)", log.dropped());
    }

    /// A call's line is written straight from its fields: byte for byte what
    /// `serde_json`'s default (sorted) map of the same values gives (keys in order,
    /// escapes, absent keys).
    #[test]
    fn a_call_line_is_the_json_object_of_its_fields() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_micros(1_764_000_000_123_456);
        let render = |line: &Line| {
            let mut out = Vec::new();
            line.render(&mut out);
            String::from_utf8(out).unwrap()
        };
        let reference = ErrorRef::new();
        let full = Line::Call {
            time,
            tool: "search",
            principal: Arc::from("ana \"q\"\n\u{2028}"),
            issuer: Some(Arc::from("https://idp.example")),
            outcome: Outcome::Error,
            duration_us: 1234,
            error_ref: Some(reference),
            policy: Some(Arc::from("sha256:ab")),
            fields: vec![
                ("zeta", serde_json::json!([1, "two"])),
                ("alpha", serde_json::json!({"b": 1, "a": "x"})),
                ("alpha", serde_json::json!("last one wins")),
            ],
        };
        let expected = serde_json::json!({
            "arguments": {"alpha": "last one wins", "zeta": [1, "two"]},
            "duration_us": 1234,
            "event": "tool_call",
            "issuer": "https://idp.example",
            "outcome": "error",
            "policy": "sha256:ab",
            "principal": "ana \"q\"\n\u{2028}",
            "ref": reference.to_string(),
            "time": "2025-11-24T16:00:00.123456Z",
            "tool": "search",
        });
        assert_eq!(render(&full), expected.to_string());
        let bare = Line::Call {
            time,
            tool: "t",
            principal: Arc::from("p"),
            issuer: None,
            outcome: Outcome::Ok,
            duration_us: 0,
            error_ref: None,
            policy: None,
            fields: Vec::new(),
        };
        let expected = serde_json::json!({
            "duration_us": 0,
            "event": "tool_call",
            "outcome": "ok",
            "principal": "p",
            "time": "2025-11-24T16:00:00.123456Z",
            "tool": "t",
        });
        assert_eq!(render(&bare), expected.to_string());
    }

    /// Every combination of the optional keys gives the object `serde_json` writes (keys
    /// in order, commas where they belong).
    #[test]
    fn every_combination_of_optional_keys_is_the_same_object() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_micros(1_764_000_000_123_456);
        let reference = ErrorRef::new();
        for mask in 0..16u8 {
            let has = |bit: u8| mask & (1 << bit) != 0;
            let line = Line::Call {
                time,
                tool: "t",
                principal: Arc::from("p"),
                issuer: has(1).then(|| Arc::from("https://idp.example")),
                outcome: Outcome::Ok,
                duration_us: 3,
                error_ref: has(3).then_some(reference),
                policy: has(2).then(|| Arc::from("sha256:ab")),
                fields: if has(0) {
                    vec![("a", serde_json::json!(1))]
                } else {
                    Vec::new()
                },
            };
            let mut expected = serde_json::json!({
                "duration_us": 3, "event": "tool_call", "outcome": "ok", "principal": "p",
                "time": "2025-11-24T16:00:00.123456Z", "tool": "t",
            });
            let object = expected.as_object_mut().unwrap();
            if has(0) {
                object.insert("arguments".into(), serde_json::json!({"a": 1}));
            }
            if has(1) {
                object.insert("issuer".into(), "https://idp.example".into());
            }
            if has(2) {
                object.insert("policy".into(), "sha256:ab".into());
            }
            if has(3) {
                object.insert("ref".into(), reference.to_string().into());
            }
            let mut out = Vec::new();
            line.render(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                expected.to_string(),
                "{mask:04b}"
            );
        }
    }

    /// A string is written as `serde_json` writes it: every ASCII character alone and
    /// inside text, long text either side of the compiler's block size, and text that is
    /// not ASCII.
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut corpus: Vec<String> = (0u8..=0x7f)
            .flat_map(|b| {
                let c = char::from(b);
                [
                    c.to_string(),
                    format!("abc{c}def"),
                    format!("{}{c}", "x".repeat(40)),
                ]
            })
            .collect();
        corpus.extend(
            [
                "",
                "https://idp.example",
                "2025-11-24T16:00:00.123456Z",
                "سلام دنیا",
                "emoji 🦀 and \u{2028}\u{2029}",
                "\u{7f}\u{80}\u{ff}\u{fffd}",
                "a \"quoted\" \\ path\r\n",
            ]
            .map(String::from),
        );
        corpus.push("y".repeat(1000));
        corpus.push(format!("{}\u{1}", "y".repeat(1000)));
        for text in corpus {
            let mut out = Vec::new();
            json_string(&mut out, &text);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&text).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rotates_by_size_keeping_the_newest_files() {
        let dir = temp("rotate");
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::new(&path).max_bytes(400).keep(2);
        log.open().unwrap();
        for _ in 0..20 {
            log.send(call("t"));
        }
        // Every line lands in one of the three files; older ones are gone.
        for _ in 0..200 {
            let rotated = dir.join("audit.jsonl.2").exists();
            if rotated && lines(&path).len() + lines(&dir.join("audit.jsonl.1")).len() > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(!dir.join("audit.jsonl.3").exists());
        for file in ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"] {
            let size = std::fs::metadata(dir.join(file)).unwrap().len();
            assert!(size <= 400, "{file} is {size} bytes");
            for line in lines(&dir.join(file)) {
                assert_eq!(line["issuer"], "https://idp.example");
                assert_eq!(line["tool"], "t");
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_full_queue_drops_lines_and_counts_them() {
        let dir = temp("drops");
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::new(&path).capacity(1);
        log.open().unwrap();
        // Far more than one queued line: the writer cannot keep up, and nothing waits.
        for _ in 0..5_000 {
            log.send(call("t"));
        }
        let dropped = log.dropped();
        assert!(dropped > 0);
        // The next line written is preceded by the count of the drops before it.
        log.send(call("after"));
        settle(&log, &path, 2);
        std::thread::sleep(Duration::from_millis(700));
        let lines = lines(&path);
        let counted: u64 = lines
            .iter()
            .filter(|l| l["event"] == "audit_dropped")
            .map(|l| l["dropped"].as_u64().unwrap())
            .sum();
        let written = lines.iter().filter(|l| l["event"] == "tool_call").count() as u64;
        assert_eq!(counted + written, 5_001, "every line is written or counted");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_queue_half_full_cuts_the_writers_pause_short() {
        let dir = temp("half");
        let path = dir.join("audit.jsonl");
        // A pause of a minute: lines written within it were written because the queue
        // filled to half, not because the pause ended.
        let mut log = AuditLog::new(&path)
            .capacity(1_000)
            .linger(Duration::from_secs(60));
        log.open().unwrap();
        for _ in 0..750 {
            log.send(call("t"));
        }
        // No `flush` (it would wake the writer itself): the file is watched.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while lines(&path).len() < 750 {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer slept through a queue half full ({} lines written)",
                lines(&path).len()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // And again, in the writer's next pause.
        for _ in 0..750 {
            log.send(call("t"));
        }
        assert!(log.flush(Duration::from_secs(10)));
        assert_eq!(log.dropped(), 0);
        assert_eq!(lines(&path).len(), 1_500);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn close_writes_every_queued_line_and_syncs() {
        let dir = temp("close");
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::new(&path).capacity(100_000);
        log.open().unwrap();
        for _ in 0..20_000 {
            log.send(call("t"));
        }
        assert!(log.close(Duration::from_secs(10)), "closed in time");
        // Everything queued is in the file the moment `close` returns.
        assert_eq!(lines(&path).len(), 20_000);
        assert_eq!(log.dropped(), 0);
        // A line after the close is counted, never lost silently.
        log.send(call("late"));
        assert_eq!(log.dropped(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn dropping_the_last_handle_flushes_the_trail() {
        let dir = temp("drop");
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::new(&path).capacity(100_000);
        log.open().unwrap();
        let clone = log.clone();
        for _ in 0..10_000 {
            log.send(call("t"));
        }
        drop(log);
        drop(clone);
        assert_eq!(lines(&path).len(), 10_000);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn flush_waits_for_the_lines_queued_before_it() {
        let dir = temp("flush");
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::new(&path).capacity(100_000);
        log.open().unwrap();
        for _ in 0..5_000 {
            log.send(call("t"));
        }
        assert!(log.flush(Duration::from_secs(10)));
        assert_eq!(lines(&path).len(), 5_000);
        // The trail stays open after a flush.
        log.send(call("t"));
        assert!(log.flush(Duration::from_secs(10)));
        assert_eq!(lines(&path).len(), 5_001);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_trail_moved_away_is_reopened_at_its_path() {
        let dir = temp("moved");
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::new(&path);
        log.open().unwrap();
        for _ in 0..3 {
            log.send(call("before"));
        }
        assert!(log.flush(Duration::from_secs(10)));
        // logrotate's default (and an operator's `mv`).
        std::fs::rename(&path, dir.join("audit.jsonl.1")).unwrap();
        for _ in 0..4 {
            log.send(call("after"));
        }
        assert!(log.flush(Duration::from_secs(10)));
        let moved = lines(&dir.join("audit.jsonl.1"));
        let fresh = lines(&path);
        assert_eq!(moved.len(), 3);
        assert!(moved.iter().all(|l| l["tool"] == "before"));
        assert_eq!(fresh.len(), 4, "new lines go to a new file at the path");
        assert!(fresh.iter().all(|l| l["tool"] == "after"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn rotation_after_an_external_move_overwrites_nothing() {
        let dir = temp("moved-rotate");
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::new(&path).max_bytes(2_000).keep(3);
        log.open().unwrap();
        for _ in 0..5 {
            log.send(call("first"));
        }
        assert!(log.flush(Duration::from_secs(10)));
        std::fs::rename(&path, dir.join("moved.jsonl")).unwrap();
        for _ in 0..30 {
            log.send(call("second"));
            assert!(log.flush(Duration::from_secs(10)));
        }
        // The moved file is the operator's now: it keeps its lines, and no rotation of
        // ours shifted it over the numbered files.
        assert_eq!(lines(&dir.join("moved.jsonl")).len(), 5);
        let kept: usize = [
            "audit.jsonl",
            "audit.jsonl.1",
            "audit.jsonl.2",
            "audit.jsonl.3",
        ]
        .iter()
        .map(|f| lines(&dir.join(f)).len())
        .sum();
        assert_eq!(
            kept, 30,
            "30 lines of ~180 bytes fit in four 2,000-byte files"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_rotation_that_cannot_rename_loses_nothing() {
        let dir = temp("rename-fails");
        let path = dir.join("audit.jsonl");
        // `audit.jsonl.1` is a directory that is not empty: no file can be renamed onto it.
        std::fs::create_dir_all(dir.join("audit.jsonl.1/x")).unwrap();
        let mut log = AuditLog::new(&path).max_bytes(500).keep(1);
        log.open().unwrap();
        for _ in 0..20 {
            log.send(call("t"));
        }
        assert!(log.flush(Duration::from_secs(10)));
        assert_eq!(lines(&path).len(), 20, "the live file keeps every line");
        assert!(dir.join("audit.jsonl.1/x").is_dir());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_trail_is_private_and_rotation_keeps_the_operators_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = temp("mode");
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::new(&path).max_bytes(400).keep(2);
        log.open().unwrap();
        assert_eq!(
            mode(&path),
            0o600,
            "a new trail is readable by its owner only"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        for _ in 0..6 {
            log.send(call("t"));
        }
        assert!(log.flush(Duration::from_secs(10)));
        assert!(dir.join("audit.jsonl.1").exists(), "rotated");
        assert_eq!(
            mode(&path),
            0o640,
            "the operator's mode is kept across rotation"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn only_a_regular_file_is_a_trail() {
        let dir = temp("fifo");
        let path = dir.join("audit.jsonl");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&path)
                .status()
                .unwrap()
                .success()
        );
        // Opening a FIFO for writing would wait for a reader forever: refused at once.
        let error = AuditLog::new(&path).open().unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_write_failing_after_copytruncate_leaves_no_hole() {
        let dir = temp("copytruncate");
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::new(&path);
        log.open().unwrap();
        for _ in 0..50 {
            log.send(call("before"));
        }
        assert!(log.flush(Duration::from_secs(10)));
        // logrotate's `copytruncate`: the same file, emptied in place.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        for _ in 0..3 {
            log.send(call("after"));
        }
        assert!(log.flush(Duration::from_secs(10)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains('\0'), "the file was extended with NULs");
        assert_eq!(lines(&path).len(), 3);
        let _ = std::fs::remove_dir_all(dir);
    }
}
