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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;

use crate::identity::Principal;

/// Who owns a session: the issuer that vouched for the caller, and the caller's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

    fn is(&self, principal: &Principal) -> bool {
        self.id == *principal.id_arc() && self.issuer.as_deref() == principal.issuer()
    }
}

/// How many sessions one caller may hold at once: past this, opening one more ends the
/// binding of its own oldest (so no caller can push other callers' sessions out).
const SESSIONS_PER_CALLER: usize = 256;

#[derive(Default)]
struct Table {
    owners: HashMap<Box<str>, Owner>,
    /// Every binding, oldest first (ids of forgotten sessions are skipped when met).
    order: VecDeque<Box<str>>,
    /// Each caller's sessions, oldest first.
    by_owner: HashMap<Owner, VecDeque<Box<str>>>,
}

impl Table {
    fn remove(&mut self, id: &str) {
        if let Some(owner) = self.owners.remove(id)
            && let Some(ids) = self.by_owner.get_mut(&owner)
        {
            ids.retain(|other| &**other != id);
            if ids.is_empty() {
                self.by_owner.remove(&owner);
            }
        }
    }
}

/// The sessions rmcp opened through this layer, each with its owner. Bounded in two
/// ways, both failing closed (a session that loses its owner answers 404 to everyone,
/// and its client opens a new one): a caller holds at most [`SESSIONS_PER_CALLER`], and
/// past the table's capacity the oldest binding goes.
pub(crate) struct Sessions {
    table: Mutex<Table>,
    capacity: usize,
}

impl Sessions {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            table: Mutex::new(Table::default()),
            capacity: capacity.max(1),
        }
    }

    /// Whether `principal` owns session `id`. An id this layer never saw (unknown to rmcp
    /// too, or opened without this layer) is owned by nobody.
    pub(crate) fn owned_by(&self, id: &str, principal: &Principal) -> bool {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .owners
            .get(id)
            .is_some_and(|owner| owner.is(principal))
    }

    /// Session `id`, just created by rmcp for `principal`'s request, belongs to it.
    pub(crate) fn bind(&self, id: &str, principal: &Principal) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if table.owners.contains_key(id) {
            // rmcp never hands out an id twice; if it did, the session would belong to
            // two callers: it belongs to neither.
            table.remove(id);
            return;
        }
        let owner = Owner::of(principal);
        let own = table.by_owner.get(&owner).map_or(0, VecDeque::len);
        if own >= SESSIONS_PER_CALLER
            && let Some(oldest) = table
                .by_owner
                .get(&owner)
                .and_then(|ids| ids.front().cloned())
        {
            table.remove(&oldest);
        }
        while table.owners.len() >= self.capacity {
            let Some(oldest) = table.order.pop_front() else {
                break;
            };
            table.remove(&oldest);
        }
        // Ids of sessions forgotten since pile up in `order`: drop them now and then.
        if table.order.len() > 2 * self.capacity {
            let Table { owners, order, .. } = &mut *table;
            order.retain(|id| owners.contains_key(id));
        }
        let id: Box<str> = Box::from(id);
        table.owners.insert(id.clone(), owner.clone());
        table.order.push_back(id.clone());
        table.by_owner.entry(owner).or_default().push_back(id);
    }

    /// Session `id` is gone (deleted by its owner, or unknown to rmcp).
    pub(crate) fn forget(&self, id: &str) {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .owners
            .len()
    }
}

/// The SSE events this layer delivered, each with the caller it was delivered to.
/// Bounded: the oldest ids are forgotten first (a replay that old is refused).
pub(crate) struct Events {
    entries: Mutex<EventMap>,
    capacity: usize,
    key: std::hash::RandomState,
}

/// An event as a replay names it: the session it was delivered in (empty without one;
/// rmcp numbers events per session, so ids repeat across sessions) and its id, hashed
/// with this process's random key (no allocation per event; a pair cannot be made to
/// collide with another without knowing the key).
type EventKey = u64;

#[derive(Default)]
struct EventMap {
    /// Keyed by a hash under this process's random key already: a fixed fast hasher
    /// spreads them as well as a second keyed one would, at a fraction of the cost.
    owners: HashMap<EventKey, Owner, foldhash::fast::FixedState>,
    order: VecDeque<EventKey>,
}

impl Events {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(EventMap::default()),
            capacity: capacity.max(1),
            key: std::hash::RandomState::new(),
        }
    }

    fn key(&self, session: &str, id: &str) -> EventKey {
        use std::hash::BuildHasher as _;
        self.key.hash_one((session, id))
    }

    /// Whether event `id`, in session `session` (`""`: none), was delivered to
    /// `principal`.
    pub(crate) fn owned_by(&self, session: &str, id: &str, principal: &Principal) -> bool {
        let key = self.key(session, id);
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .owners
            .get(&key)
            .is_some_and(|owner| owner.is(principal))
    }

    /// Event `id` is being delivered to `principal` in session `session` (`""`: none).
    pub(crate) fn delivered(&self, session: &str, id: &str, principal: &Principal) {
        let key = self.key(session, id);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let EventMap { owners, order } = &mut *entries;
        if owners.contains_key(&key) {
            return;
        }
        while owners.len() >= self.capacity {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            owners.remove(&oldest);
        }
        owners.insert(key, Owner::of(principal));
        order.push_back(key);
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
    /// The session the events are delivered in.
    session: Option<Arc<str>>,
    events: Arc<Events>,
}

impl<E> Recording<E> {
    fn scan(&mut self, data: &[u8]) {
        let mut rest = data;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.push(&rest[..end]);
            self.end_line();
            rest = &rest[end + 1..];
        }
        self.push(rest);
    }

    /// Keep the start of the line not yet ended, only while it can be an `id:` line:
    /// any other line (a `data:` line above all) is skipped from its first byte that
    /// differs, not copied.
    fn push(&mut self, part: &[u8]) {
        if self.skipping || part.is_empty() {
            return;
        }
        let have = self.line.len();
        if have < ID.len() {
            let want = &ID[have..];
            let n = want.len().min(part.len());
            if part[..n] != want[..n] {
                self.skipping = true;
                self.line.clear();
                return;
            }
        }
        if have + part.len() > MAX_LINE_START {
            self.skipping = true;
            self.line.clear();
        } else {
            self.line.extend_from_slice(part);
        }
    }

    fn end_line(&mut self) {
        if !std::mem::replace(&mut self.skipping, false) {
            let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
            if let Some(id) = line.strip_prefix(ID) {
                let id = id.strip_prefix(b" ").unwrap_or(id);
                if let Ok(id) = std::str::from_utf8(id)
                    && !id.is_empty()
                {
                    let session = self.session.as_deref().unwrap_or("");
                    self.events.delivered(session, id, &self.principal);
                }
            }
        }
        // Cleared, not taken: the buffer is kept for the stream's next line.
        self.line.clear();
    }
}

/// The field name of an event's id line.
const ID: &[u8] = b"id:";

/// `body`, a server-sent event stream delivered to `principal` in `session`,
/// with the id of each event recorded in `events` before the event passes on (so a
/// replay of it can be judged).
pub(crate) fn record_events<E: 'static>(
    body: UnsyncBoxBody<Bytes, E>,
    principal: Principal,
    session: Option<Arc<str>>,
    events: Arc<Events>,
) -> UnsyncBoxBody<Bytes, E> {
    UnsyncBoxBody::new(Recording {
        body,
        line: Vec::new(),
        skipping: false,
        principal,
        session,
        events,
    })
}

// A body of its own (not a stream adapter): each frame is scanned as it passes, with no
// future or allocation per frame.
impl<E> http_body::Body for Recording<E> {
    type Data = Bytes;
    type Error = E;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, E>>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.body).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.scan(data);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
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
            session: Some(Arc::from("s1")),
            events: Arc::clone(&events),
        };
        recording.scan(b"data: x\nid: 0/");
        recording.scan(b"7\r\n\nid:");
        recording.scan(b"e-2\n");
        let long = format!("data: {}id: e-3\n", "x".repeat(5000));
        recording.scan(long.as_bytes());
        // The field name itself split between frames; near misses are no ids.
        recording.scan(b"i");
        recording.scan(b"d");
        recording.scan(b": e-4\n");
        recording.scan(b"idx: e-5\ndata: id: e-6\n: comment id: e-7\ni\n");
        let alice = Principal::new("alice");
        assert!(events.owned_by("s1", "e-4", &alice));
        for id in ["e-5", "e-6", "e-7", "x: e-5"] {
            assert!(!events.owned_by("s1", id, &alice), "{id}");
        }
        assert!(events.owned_by("s1", "0/7", &alice));
        assert!(events.owned_by("s1", "e-2", &alice));
        assert!(
            !events.owned_by("s2", "e-2", &alice),
            "another session's event"
        );
        assert!(
            !events.owned_by("s1", "e-3", &alice),
            "inside a data line, not an id"
        );
    }

    #[test]
    fn events_replay_only_to_the_caller_they_went_to() {
        let events = Events::new(3);
        let (alice, bob) = (Principal::new("alice"), Principal::new("bob"));
        events.delivered("sa", "0/0", &alice);
        // rmcp numbers each session's events alike: Bob's `0/0` is his own.
        events.delivered("sb", "0/0", &bob);
        assert!(events.owned_by("sa", "0/0", &alice));
        assert!(events.owned_by("sb", "0/0", &bob));
        assert!(!events.owned_by("sa", "0/0", &bob));
        assert!(!events.owned_by("sb", "0/0", &alice));
        assert!(!events.owned_by("sa", "9/9", &alice));
        events.delivered("", "e2", &alice);
        events.delivered("", "e3", &alice);
        assert!(
            !events.owned_by("sa", "0/0", &alice),
            "the oldest is forgotten"
        );
        assert!(events.owned_by("", "e3", &alice));
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
    fn bindings_stay_within_capacity_dropping_the_oldest() {
        let sessions = Sessions::new(2);
        let who = Principal::new("p");
        sessions.bind("a", &who);
        sessions.bind("b", &who);
        sessions.bind("c", &who);
        assert_eq!(sessions.len(), 2);
        assert!(sessions.owned_by("b", &who) && sessions.owned_by("c", &who));
        assert!(!sessions.owned_by("a", &who));
    }

    #[test]
    fn one_caller_cannot_push_out_the_sessions_of_others() {
        let sessions = Sessions::new(SESSIONS_PER_CALLER * 4);
        let alice = Principal::new("alice");
        sessions.bind("alice-1", &alice);
        let mallory = Principal::new("mallory");
        for i in 0..SESSIONS_PER_CALLER * 10 {
            sessions.bind(&format!("m{i}"), &mallory);
        }
        assert!(sessions.owned_by("alice-1", &alice));
        assert_eq!(sessions.len(), SESSIONS_PER_CALLER + 1);
        // Mallory keeps her newest.
        assert!(sessions.owned_by(&format!("m{}", SESSIONS_PER_CALLER * 10 - 1), &mallory));
        assert!(!sessions.owned_by("m0", &mallory));
    }
}
