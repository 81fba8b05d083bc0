//! The gate in front of the rules: a cheap test that clean text passes without running
//! the keyword automaton. Text can hold a credential only if it holds
//!
//! - one of a few short *anchors* that every named secret needs (`pass`, `token`, `key`,
//!   `auth`, `://`...: the words of the assignment, header, URL and curl rules), found by
//!   one SIMD (Teddy) searcher over a lowercased copy; or
//! - a *token-shaped run*: 12 or more characters of `[A-Za-z0-9_+/=~]` with letters and
//!   digits, 24 or more with both cases, or 12 or more digits. Every prefixed token
//!   format is one, and so is every value the rules for weakly named keys redact.
//!
//! Text that passes neither is clean. Text that passes either goes on to the keyword
//! automaton and the rules, so the gate only ever costs time, never a secret: its
//! soundness is tested rule by rule (`tests/secrets.rs` runs every sample through it).

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::cell::RefCell;

/// Lowercase; each is contained in every credential its rules redact.
const ANCHORS: &[&str] = &[
    "pass", "pwd", "_pw", "-pw", "pw=", "pw:", "pw\"", "pw'", "pw ", "secret", "token", "cred",
    "key", "dsn", "auth", "basic", "bearer", "session", "cookie", "salt", "sig", "curl", "://",
    "bundle_", "a3-", "kty", "ya29", "tskey",
];

pub(crate) struct Gate {
    teddy: Option<packed::Searcher>,
    /// For short text (a tool's typical answer: a name, an id, a sentence), where Teddy
    /// would fall back to Rabin-Karp after copying the text to lowercase it: a DFA that
    /// ignores ASCII case, one table lookup a byte. Also where the CPU has no SIMD for
    /// Teddy.
    fallback: AhoCorasick,
}

/// Text up to this length goes through the DFA; longer text through Teddy.
const SHORT: usize = 64;

impl Gate {
    pub(crate) fn new() -> Self {
        Self {
            teddy: packed::Config::new().builder().extend(ANCHORS).build(),
            fallback: AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .ascii_case_insensitive(true)
                .kind(Some(AhoCorasickKind::DFA))
                .prefilter(false)
                .build(ANCHORS)
                .expect("anchors build"),
        }
    }

    /// Whether `text` may hold a credential.
    pub(crate) fn may_hold_secret(&self, text: &str) -> bool {
        has_token_run(text.as_bytes()) || self.has_anchor(text)
    }

    fn has_anchor(&self, text: &str) -> bool {
        let Some(teddy) = self.teddy.as_ref().filter(|_| text.len() > SHORT) else {
            return self.fallback.is_match(text);
        };
        thread_local! {
            static LOWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        LOWER.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            buffer.clear();
            buffer.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
            let found = teddy.find(&buffer[..]).is_some();
            // Do not keep a huge output's copy alive on this thread.
            if buffer.capacity() > 1 << 20 {
                *buffer = Vec::new();
            }
            found
        })
    }
}

const RUN: u8 = 1;
const DIGIT: u8 = 2;
const LOWER: u8 = 4;
const UPPER: u8 = 8;

/// Each byte's class in a token-shaped run.
static CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_digit() {
            RUN | DIGIT
        } else if c.is_ascii_lowercase() {
            RUN | LOWER
        } else if c.is_ascii_uppercase() {
            RUN | UPPER
        } else if matches!(c, b'_' | b'+' | b'/' | b'=' | b'~') {
            RUN
        } else {
            0
        };
        b += 1;
    }
    table
};

/// Whether `bytes` holds a token-shaped run.
fn has_token_run(bytes: &[u8]) -> bool {
    let mut len = 0usize;
    let mut seen = 0u8;
    let mut digits = 0usize;
    for &b in bytes {
        let class = CLASSES[usize::from(b)];
        if class == 0 {
            if len >= 12 && token_shaped(len, seen, digits) {
                return true;
            }
            len = 0;
            seen = 0;
            digits = 0;
            continue;
        }
        len += 1;
        seen |= class;
        digits += usize::from(class & DIGIT != 0);
    }
    len >= 12 && token_shaped(len, seen, digits)
}

fn token_shaped(len: usize, seen: u8, digits: usize) -> bool {
    let letters = seen & (LOWER | UPPER) != 0;
    (seen & DIGIT != 0 && letters)
        || (seen & (LOWER | UPPER) == LOWER | UPPER && len >= 24)
        || digits >= 12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_passes_and_token_shapes_do_not() {
        let gate = Gate::new();
        for clean in [
            "The quarterly report shows revenue up 12% on last year.",
            "2026-11-30T12:00:01Z INFO api: GET /v1/items?page=2 200 12ms",
            "id,name,email\n1,Alice,alice@example.com",
        ] {
            assert!(!gate.may_hold_secret(clean), "{clean}");
        }
        for dirty in [
            "ghp_R7xkQ2mN9pL4vB8cT1wZ6yH3jF5dS0aG2eK7",
            "PASSWORD=x",
            "Authorization: y",
            "mysql://a:b@c",
            "id 123456789012345",
            "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
        ] {
            assert!(gate.may_hold_secret(dirty), "{dirty}");
        }
    }

    /// Short text goes through the DFA, long text through Teddy: each anchor, in any ASCII
    /// case, at the start, the middle and the end, is found by both.
    #[test]
    fn short_and_long_text_find_the_same_anchors() {
        let gate = Gate::new();
        let pad = |n: usize| "x ".repeat(n);
        for anchor in ANCHORS {
            for spelled in [anchor.to_string(), anchor.to_ascii_uppercase()] {
                for n in [0, 3, 60] {
                    for text in [
                        format!("{spelled}{}", pad(n)),
                        format!("{}{spelled}{}", pad(n), pad(n)),
                        format!("{}{spelled}", pad(n)),
                    ] {
                        assert!(gate.has_anchor(&text), "{text:?} ({} bytes)", text.len());
                    }
                }
            }
        }
        // Either side of the cut between the two searches, in mixed case, after
        // non-ASCII text.
        for anchor in ANCHORS {
            let mixed: String = anchor
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            for total in [SHORT - 1, SHORT, SHORT + 1, SHORT + 2] {
                let lead = "é".repeat(total.saturating_sub(mixed.len()) / 2);
                let text = format!(
                    "{lead}{}{mixed}",
                    "x".repeat(total - lead.len() - mixed.len())
                );
                assert_eq!(text.len(), total);
                assert!(gate.has_anchor(&text), "{text:?} ({total} bytes)");
            }
        }
        for n in [1, 20, 32, 33, 60] {
            let clean = pad(n);
            assert!(!gate.has_anchor(&clean), "{} bytes", clean.len());
        }
    }
}
