//! Sessions bound to the caller that opened them. rmcp hands out an `Mcp-Session-Id` to
//! whoever sends `initialize` and then serves any request that names it; the MCP security
//! guidance says a session id must never stand in for authentication. The layer records,
//! for each session rmcp creates, the principal (issuer and subject) whose request created
//! it, and answers every other caller's request naming that session (POST, GET and its
//! replays, DELETE) exactly as rmcp answers an unknown session, so ids cannot be probed.
//!
//! Event ids are bound the same way: a replay (`GET` with `Last-Event-ID`) names an event,
//! and rmcp's event store (when a server has one) looks events up by id alone, across
//! sessions. The layer records the id of every event it delivers with the caller it was
//! delivered to, and replays only the caller's own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};

use crate::Principal;

/// Who owns a session: the issuer that vouched for the caller, and the caller's id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    issuer: Option<Arc<str>>,
    id: Arc<str>,
}

impl Owner {
    fn of(principal: &Principal) -> Self {
        Self {
            issuer: principal.issuer_arc().cloned(),
            id: Arc::clone(principal.id_arc()),
        }
    }
}

struct Entry {
    owner: Owner,
    last_used: Instant,
}

/// The sessions rmcp opened through this layer, each with its owner. Bounded: at
/// capacity the least recently used binding is dropped, and its session then answers
/// 404 to everyone (its owner starts a new one), which fails closed.
pub(crate) struct Sessions {
    entries: Mutex<HashMap<Box<str>, Entry>>,
    capacity: usize,
}

impl Sessions {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Whether `principal` owns session `id`. An id this layer never saw (unknown to rmcp
    /// too, or opened without this layer) is owned by nobody.
    pub(crate) fn owned_by(&self, id: &str, principal: &Principal) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get_mut(id) {
            Some(entry)
                if entry.owner.id == *principal.id_arc()
                    && entry.owner.issuer.as_deref() == principal.issuer() =>
            {
                entry.last_used = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Session `id`, just created by rmcp for `principal`'s request, belongs to it.
    pub(crate) fn bind(&self, id: &str, principal: &Principal) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(id) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            Box::from(id),
            Entry {
                owner: Owner::of(principal),
                last_used: Instant::now(),
            },
        );
    }

    /// Session `id` is gone (deleted by its owner, or unknown to rmcp).
    pub(crate) fn forget(&self, id: &str) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The SSE events this layer delivered, each with the caller it was delivered to.
/// Bounded: the oldest ids are forgotten first (a replay that old is refused).
pub(crate) struct Events {
    entries: Mutex<EventMap>,
    capacity: usize,
}

#[derive(Default)]
struct EventMap {
    owners: HashMap<Box<str>, Owner>,
    order: std::collections::VecDeque<Box<str>>,
}

impl Events {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(EventMap::default()),
            capacity: capacity.max(1),
        }
    }

    /// Whether event `id` was delivered to `principal`.
    pub(crate) fn owned_by(&self, id: &str, principal: &Principal) -> bool {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.owners.get(id).is_some_and(|owner| {
            owner.id == *principal.id_arc() && owner.issuer.as_deref() == principal.issuer()
        })
    }

    /// Event `id` is being delivered to `principal`.
    pub(crate) fn delivered(&self, id: &str, principal: &Principal) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let EventMap { owners, order } = &mut *entries;
        if owners.contains_key(id) {
            return;
        }
        while owners.len() >= self.capacity {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            owners.remove(&oldest);
        }
        owners.insert(Box::from(id), Owner::of(principal));
        order.push_back(Box::from(id));
    }
}

/// The longest start of a line kept while looking for `id:` lines (an id is short; a
/// `data:` line can be long and is skipped).
const MAX_LINE_START: usize = 1024;

struct Recording<E> {
    body: UnsyncBoxBody<Bytes, E>,
    /// The start of the line not yet ended.
    line: Vec<u8>,
    /// The line not yet ended is too long to be an `id:` line.
    skipping: bool,
    principal: Principal,
    events: Arc<Events>,
}

impl<E> Recording<E> {
    fn scan(&mut self, data: &[u8]) {
        let mut rest = data;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.push(&rest[..end]);
            self.end_line();
            rest = &rest[end + 1..];
        }
        self.push(rest);
    }

    fn push(&mut self, part: &[u8]) {
        if self.skipping {
            return;
        }
        if self.line.len() + part.len() > MAX_LINE_START {
            self.skipping = true;
            self.line.clear();
        } else {
            self.line.extend_from_slice(part);
        }
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.skipping = false;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if let Some(id) = line.strip_prefix(b"id:") {
            let id = id.strip_prefix(b" ").unwrap_or(id);
            if let Ok(id) = std::str::from_utf8(id)
                && !id.is_empty()
            {
                self.events.delivered(id, &self.principal);
            }
        }
    }
}

/// `body`, a server-sent event stream delivered to `principal`, with the id of each event
/// recorded in `events` before the event passes on (so a replay of it can be judged).
pub(crate) fn record_events<E: 'static>(
    body: UnsyncBoxBody<Bytes, E>,
    principal: Principal,
    events: Arc<Events>,
) -> UnsyncBoxBody<Bytes, E> {
    let state = Recording {
        body,
        line: Vec::new(),
        skipping: false,
        principal,
        events,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        let frame = state.body.frame().await?;
        if let Ok(frame) = &frame
            && let Some(data) = frame.data_ref()
        {
            state.scan(data);
        }
        Some((frame, state))
    });
    UnsyncBoxBody::new(StreamBody::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_read_across_frame_boundaries() {
        let events = Arc::new(Events::new(16));
        let mut recording: Recording<std::convert::Infallible> = Recording {
            body: UnsyncBoxBody::new(http_body_util::Empty::new()),
            line: Vec::new(),
            skipping: false,
            principal: Principal::new("alice"),
            events: Arc::clone(&events),
        };
        recording.scan(b"data: x\nid: 0/");
        recording.scan(b"7\r\n\nid:");
        recording.scan(b"e-2\n");
        let long = format!("data: {}id: e-3\n", "x".repeat(5000));
        recording.scan(long.as_bytes());
        let alice = Principal::new("alice");
        assert!(events.owned_by("0/7", &alice));
        assert!(events.owned_by("e-2", &alice));
        assert!(
            !events.owned_by("e-3", &alice),
            "inside a data line, not an id"
        );
    }

    #[test]
    fn events_replay_only_to_the_caller_they_went_to() {
        let events = Events::new(2);
        let alice = Principal::new("alice");
        events.delivered("e1", &alice);
        assert!(events.owned_by("e1", &alice));
        assert!(!events.owned_by("e1", &Principal::new("bob")));
        assert!(!events.owned_by("e9", &alice));
        events.delivered("e2", &alice);
        events.delivered("e3", &alice);
        assert!(!events.owned_by("e1", &alice), "the oldest is forgotten");
        assert!(events.owned_by("e3", &alice));
    }

    #[test]
    fn a_session_belongs_to_its_issuer_and_subject_only() {
        let sessions = Sessions::new(8);
        let alice = Principal::new("alice").with_issuer("https://a.test");
        sessions.bind("s1", &alice);
        assert!(sessions.owned_by("s1", &alice));
        // More scopes, same caller: still the owner.
        assert!(sessions.owned_by("s1", &alice.clone().with_scopes(["fs.write"])));
        assert!(!sessions.owned_by("s1", &Principal::new("bob").with_issuer("https://a.test")));
        // The same subject from another issuer is another caller.
        assert!(!sessions.owned_by("s1", &Principal::new("alice").with_issuer("https://b.test")));
        assert!(!sessions.owned_by("s1", &Principal::new("alice")));
        assert!(!sessions.owned_by("s2", &alice));
        sessions.forget("s1");
        assert!(!sessions.owned_by("s1", &alice));
    }

    #[test]
    fn bindings_stay_within_capacity_dropping_the_least_recently_used() {
        let sessions = Sessions::new(2);
        let who = Principal::new("p");
        sessions.bind("a", &who);
        sessions.bind("b", &who);
        assert!(sessions.owned_by("a", &who));
        sessions.bind("c", &who);
        assert_eq!(sessions.len(), 2);
        assert!(sessions.owned_by("a", &who) && sessions.owned_by("c", &who));
        assert!(!sessions.owned_by("b", &who));
    }
}
