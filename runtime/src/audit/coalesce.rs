//! Repeated refusals as one line per interval. A flood of requests that cost the sender
//! nothing (no token, a scope it lacks, a disabled tool, arguments over the raw limits)
//! would otherwise write a line each and rotate real events out of the trail, or fill the
//! writer's queue so that tool-call lines are dropped. The first refusal of a kind (same
//! event, outcome, reason, caller and tool) in an interval is written as it happens; the
//! rest of that interval become one line carrying their `count`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use super::{AUDIT_TARGET, AuditLog, Line};

/// How many kinds of refusal are told apart at once; past this, refusals of new callers
/// are counted together under the caller `*`.
const MAX_KINDS: usize = 4096;

/// Which trail event a refusal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Event {
    /// `http_refused`: the HTTP layer refused the request.
    #[cfg(feature = "jwt")]
    Http,
    /// `tool_call`: the pipeline refused the call before any work for it.
    Call,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "jwt")]
            Self::Http => "http_refused",
            Self::Call => "tool_call",
        }
    }
}

/// One kind of refusal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Kind {
    pub(crate) event: Event,
    pub(crate) tool: Option<Box<str>>,
    pub(crate) principal: Arc<str>,
    pub(crate) issuer: Option<Arc<str>>,
    pub(crate) outcome: &'static str,
    pub(crate) reason: Box<str>,
    /// The digest of the policy a refused call ran under.
    pub(crate) policy: Option<Arc<str>>,
}

struct Slot {
    opened: Instant,
    /// Refusals of this kind since `opened` that were not written.
    suppressed: u64,
}

struct Shared {
    window: Duration,
    slots: Mutex<HashMap<Kind, Slot>>,
    /// A flusher thread is running (set and cleared under `slots`' lock).
    flushing: AtomicBool,
    log: Option<AuditLog>,
}

/// Counts repeated refusals (see the module docs). Cheap to clone.
#[derive(Clone)]
pub(crate) struct Coalescer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Coalescer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("window", &self.shared.window)
            .finish_non_exhaustive()
    }
}

impl Coalescer {
    /// Coalesce over `window`, writing summary lines to `log` (and `tracing`).
    pub(crate) fn new(window: Duration, log: Option<AuditLog>) -> Self {
        Self {
            shared: Arc::new(Shared {
                window: window.max(Duration::from_millis(1)),
                slots: Mutex::new(HashMap::new()),
                flushing: AtomicBool::new(false),
                log,
            }),
        }
    }

    /// The trail the summaries go to.
    pub(crate) fn log(&self) -> Option<&AuditLog> {
        self.shared.log.as_ref()
    }

    /// A refusal of `kind` happened: `true` when it is to be written now (the first of its
    /// interval); otherwise it is counted into the interval's summary line.
    pub(crate) fn admit(&self, mut kind: Kind) -> bool {
        let now = Instant::now();
        let mut due = Vec::new();
        let write = {
            let mut slots = self
                .shared
                .slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if slots.len() >= MAX_KINDS && !slots.contains_key(&kind) {
                self.shared.take_due(&mut slots, now, &mut due);
                if slots.len() >= MAX_KINDS {
                    kind.principal = Arc::from("*");
                    kind.issuer = None;
                    kind.tool = None;
                }
            }
            let window = self.shared.window;
            match slots.get_mut(&kind) {
                Some(slot) if now.duration_since(slot.opened) < window => {
                    slot.suppressed += 1;
                    if !self.shared.flushing.swap(true, Ordering::AcqRel) {
                        self.spawn_flusher();
                    }
                    false
                }
                Some(slot) => {
                    if slot.suppressed > 0 {
                        due.push((kind.clone(), slot.suppressed));
                    }
                    *slot = Slot {
                        opened: now,
                        suppressed: 0,
                    };
                    true
                }
                None => {
                    slots.insert(
                        kind,
                        Slot {
                            opened: now,
                            suppressed: 0,
                        },
                    );
                    true
                }
            }
        };
        self.shared.emit(due);
        write
    }

    /// Write the count of every kind with refusals not yet written, its interval over or
    /// not: at shutdown, so that no count is lost.
    pub(crate) fn flush(&self) {
        let due = {
            let mut slots = self
                .shared
                .slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            pending(&mut slots)
        };
        self.shared.emit(due);
    }

    /// A thread that writes each interval's count once the interval is over, and ends
    /// when nothing is pending.
    fn spawn_flusher(&self) {
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let tick = (self.shared.window / 4).max(Duration::from_millis(10));
        let spawned = std::thread::Builder::new()
            .name("secure-tool-refusals".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(tick);
                    let Some(shared) = weak.upgrade() else { return };
                    let mut due = Vec::new();
                    let done = {
                        let mut slots = shared.slots.lock().unwrap_or_else(PoisonError::into_inner);
                        shared.take_due(&mut slots, Instant::now(), &mut due);
                        let pending = slots.values().any(|slot| slot.suppressed > 0);
                        if !pending {
                            shared.flushing.store(false, Ordering::Release);
                        }
                        !pending
                    };
                    shared.emit(due);
                    if done {
                        return;
                    }
                }
            });
        if spawned.is_err() {
            // No thread: the counts are written by the next refusal after the interval.
            self.shared.flushing.store(false, Ordering::Release);
        }
    }
}

impl Shared {
    /// Take the counts of every interval that is over, and forget kinds idle since.
    fn take_due(&self, slots: &mut HashMap<Kind, Slot>, now: Instant, due: &mut Vec<(Kind, u64)>) {
        slots.retain(|kind, slot| {
            if now.duration_since(slot.opened) < self.window {
                return true;
            }
            if slot.suppressed > 0 {
                due.push((kind.clone(), slot.suppressed));
            }
            false
        });
    }

    fn emit(&self, due: Vec<(Kind, u64)>) {
        for (kind, count) in due {
            tracing::info!(
                target: AUDIT_TARGET,
                event = kind.event.name(),
                tool = kind.tool.as_deref().unwrap_or("-"),
                principal = &*kind.principal,
                outcome = kind.outcome,
                reason = &*kind.reason,
                count,
                "repeated refusals"
            );
            if let Some(log) = &self.log {
                log.send(Line::Coalesced {
                    time: SystemTime::now(),
                    event: kind.event.name(),
                    tool: kind.tool,
                    principal: kind.principal,
                    issuer: kind.issuer,
                    outcome: kind.outcome,
                    reason: kind.reason,
                    policy: kind.policy,
                    count,
                });
            }
        }
    }
}

/// Take the count of every kind with refusals not yet written (their intervals go on).
fn pending(slots: &mut HashMap<Kind, Slot>) -> Vec<(Kind, u64)> {
    slots
        .iter_mut()
        .filter(|(_, slot)| slot.suppressed > 0)
        .map(|(kind, slot)| (kind.clone(), std::mem::take(&mut slot.suppressed)))
        .collect()
}

impl Drop for Shared {
    fn drop(&mut self) {
        let due = pending(self.slots.get_mut().unwrap_or_else(PoisonError::into_inner));
        self.emit(due);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(principal: &str) -> Kind {
        Kind {
            event: Event::Call,
            tool: None,
            principal: Arc::from(principal),
            issuer: None,
            outcome: "unauthenticated",
            reason: Box::from("no bearer token"),
            policy: None,
        }
    }

    #[test]
    fn the_first_of_an_interval_is_written_and_the_rest_counted() {
        let coalescer = Coalescer::new(Duration::from_secs(3600), None);
        assert!(coalescer.admit(kind("anonymous")));
        for _ in 0..1_000 {
            assert!(!coalescer.admit(kind("anonymous")));
        }
        // Another kind is written on its own.
        assert!(coalescer.admit(kind("bob")));
        let pending: u64 = coalescer
            .shared
            .slots
            .lock()
            .unwrap()
            .values()
            .map(|s| s.suppressed)
            .sum();
        assert_eq!(pending, 1_000);
    }

    #[test]
    fn an_interval_over_writes_again() {
        let coalescer = Coalescer::new(Duration::from_millis(1), None);
        assert!(coalescer.admit(kind("a")));
        std::thread::sleep(Duration::from_millis(5));
        assert!(coalescer.admit(kind("a")));
    }

    #[test]
    fn a_spray_of_callers_stays_within_the_kinds_kept() {
        let coalescer = Coalescer::new(Duration::from_secs(3600), None);
        for i in 0..(MAX_KINDS + 100) {
            coalescer.admit(kind(&format!("p{i}")));
        }
        assert!(coalescer.shared.slots.lock().unwrap().len() <= MAX_KINDS + 1);
    }
}
