//! One audit event per tool call, through `tracing` at target `secure_tool::audit`, and
//! optionally a JSON-lines file ([`AuditLog`]).

use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, SystemTime};

use crate::{ErrorRef, Principal};

mod coalesce;

pub(crate) use coalesce::{Coalescer, Event, Kind};

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
    pub(crate) duration: Duration,
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
    let duration_us = u64::try_from(call.duration.as_micros()).unwrap_or(u64::MAX);
    let (tool, principal) = (call.tool, call.principal.id());
    match call.error_ref {
        Some(r) => tracing::info!(
            target: AUDIT_TARGET,
            tool,
            principal,
            outcome = call.outcome.as_str(),
            duration_us,
            error_ref = %r,
            "tool call"
        ),
        None => tracing::info!(
            target: AUDIT_TARGET,
            tool,
            principal,
            outcome = call.outcome.as_str(),
            duration_us,
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
            duration_us,
            error_ref: call.error_ref,
            policy: call.policy.cloned(),
            fields: call.fields,
        });
    }
}

#[cfg(feature = "policy")]
/// Record a policy reload (or its refusal): a `tracing` event, and a line of the trail.
pub(crate) fn policy_reload(
    log: Option<&AuditLog>,
    digest: Option<&Arc<str>>,
    error: Option<String>,
) {
    let digest_text = digest.map_or("", |d| &**d);
    match &error {
        None => tracing::info!(target: AUDIT_TARGET, policy = digest_text, "policy reloaded"),
        Some(error) => tracing::error!(
            target: AUDIT_TARGET,
            policy = digest_text,
            error = %error,
            "policy reload refused; the policy in force stays"
        ),
    }
    if let Some(log) = log {
        log.send(Line::Reload {
            time: SystemTime::now(),
            policy: digest.cloned(),
            error,
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
    sink: Option<Arc<Sink>>,
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
            sink: None,
        }
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
    pub fn capacity(mut self, lines: usize) -> Self {
        self.capacity = lines.max(1);
        self
    }

    /// Open the file and start the writer, once.
    pub(crate) fn open(&mut self) -> std::io::Result<()> {
        if self.sink.is_none() {
            self.sink = Some(Arc::new(Sink::open(self)?));
        }
        Ok(())
    }

    /// Queue a line without waiting: when the queue is full it is dropped and counted.
    fn send(&self, line: Line) {
        if let Some(sink) = &self.sink
            && sink.queue.try_send(line).is_err()
        {
            sink.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.sink.as_ref().map_or(0, |s| {
            s.dropped_total.load(Ordering::Relaxed) + s.dropped.load(Ordering::Relaxed)
        })
    }
}

/// The queue and the drop counters shared with the writer thread.
struct Sink {
    queue: SyncSender<Line>,
    /// Drops not yet written to the trail.
    dropped: Arc<AtomicU64>,
    /// Drops already written to the trail.
    dropped_total: Arc<AtomicU64>,
}

impl Sink {
    fn open(config: &AuditLog) -> std::io::Result<Self> {
        let file = Writer::open(config)?;
        let (queue, lines) = std::sync::mpsc::sync_channel(config.capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let dropped_total = Arc::new(AtomicU64::new(0));
        let (pending, total) = (Arc::clone(&dropped), Arc::clone(&dropped_total));
        std::thread::Builder::new()
            .name("secure-tool-audit".into())
            .spawn(move || file.run(&lines, &pending, &total))?;
        Ok(Self {
            queue,
            dropped,
            dropped_total,
        })
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

impl Line {
    fn to_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value, json};
        match self {
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
                let mut line = json!({
                    "time": timestamp(*time),
                    "event": "tool_call",
                    "tool": tool,
                    "principal": &**principal,
                    "outcome": outcome.as_str(),
                    "duration_us": duration_us,
                });
                let object = line.as_object_mut().expect("a JSON object");
                if let Some(issuer) = issuer {
                    object.insert("issuer".into(), Value::from(&**issuer));
                }
                if let Some(r) = error_ref {
                    object.insert("ref".into(), Value::from(r.to_string()));
                }
                if let Some(policy) = policy {
                    object.insert("policy".into(), Value::from(&**policy));
                }
                if !fields.is_empty() {
                    let values: Map<String, Value> = fields
                        .iter()
                        .map(|(name, value)| ((*name).to_owned(), value.clone()))
                        .collect();
                    object.insert("arguments".into(), Value::Object(values));
                }
                line
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
                line
            }
        }
    }
}

/// RFC 3339 in UTC, to the microsecond.
fn timestamp(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The writer thread's file, rotated by size.
struct Writer {
    path: PathBuf,
    file: std::fs::File,
    size: u64,
    max_bytes: u64,
    keep: u32,
}

impl Writer {
    fn open(config: &AuditLog) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: config.path.clone(),
            file,
            size,
            max_bytes: config.max_bytes,
            keep: config.keep,
        })
    }

    /// Write lines until every sender is gone. A line that cannot be written is counted
    /// as dropped and reported on stderr-free `tracing` (never with its content).
    fn run(mut self, lines: &Receiver<Line>, pending: &AtomicU64, total: &AtomicU64) {
        loop {
            let line = match lines.recv_timeout(Duration::from_millis(500)) {
                Ok(line) => Some(line),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let dropped = pending.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                total.fetch_add(dropped, Ordering::Relaxed);
                let note = serde_json::json!({
                    "time": timestamp(SystemTime::now()),
                    "event": "audit_dropped",
                    "dropped": dropped,
                });
                self.write(&note);
            }
            if let Some(line) = line {
                self.write(&line.to_json());
            }
        }
    }

    fn write(&mut self, value: &serde_json::Value) {
        let mut text = value.to_string();
        text.push('\n');
        if self.size > 0
            && self.size + text.len() as u64 > self.max_bytes
            && let Err(error) = self.rotate()
        {
            tracing::error!(target: AUDIT_TARGET, %error, "cannot rotate the audit trail");
        }
        match self.file.write_all(text.as_bytes()) {
            Ok(()) => self.size += text.len() as u64,
            Err(error) => {
                tracing::error!(target: AUDIT_TARGET, %error, "cannot write the audit trail");
            }
        }
    }

    /// `PATH.{n-1}` -> `PATH.{n}` ... `PATH` -> `PATH.1`, then a fresh `PATH`.
    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: u32| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if self.keep > 0 {
            for n in (1..self.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
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

    fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
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
}
