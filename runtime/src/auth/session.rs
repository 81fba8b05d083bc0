//! Sessions bound to the caller that opened them. rmcp hands out an `Mcp-Session-Id` to
//! whoever sends `initialize` and then serves any request that names it; the MCP security
//! guidance says a session id must never stand in for authentication. The layer records,
//! for each session rmcp creates, the principal (issuer and subject) whose request created
//! it, and answers every other caller's request naming that session (POST, GET and its
//! replays, DELETE) exactly as rmcp answers an unknown session, so ids cannot be probed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

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

#[cfg(test)]
mod tests {
    use super::*;

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
