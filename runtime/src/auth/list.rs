//! `tools/list` for one caller ([`ToolsList::Granted`](super::ToolsList::Granted)): the
//! response is rewritten so that it lists only the tools the caller holds every scope of,
//! whether the server answers with JSON or with a server-sent event stream.

use bytes::Bytes;
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use serde_json::Value;

use super::body::{AuthBody, BoxError};
use crate::identity::Principal;

/// The largest JSON answer filtered. A larger one is cut off with an error rather than
/// passed on unfiltered, which would reveal what the caller may not see.
const MAX_JSON: usize = 16 * 1024 * 1024;

struct State {
    body: AuthBody,
    buffer: Vec<u8>,
    principal: Principal,
    sse: bool,
    done: bool,
}

/// `body`, with every tool the caller lacks a scope for taken out of `tools/list` results.
pub(crate) fn filter(body: AuthBody, principal: Principal, sse: bool) -> AuthBody {
    let state = State {
        body,
        buffer: Vec::new(),
        principal,
        sse,
        done: false,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        loop {
            if state.sse
                && let Some(end) = event_end(&state.buffer)
            {
                let event: Vec<u8> = state.buffer.drain(..end).collect();
                match filter_event(&event, &state.principal) {
                    Ok(Some(filtered)) => {
                        return Some((Ok(Frame::data(Bytes::from(filtered))), state));
                    }
                    Ok(None) => return Some((Ok(Frame::data(Bytes::from(event))), state)),
                    // An event that may hold a list but cannot be read: withheld.
                    Err(Unreadable) => continue,
                }
            }
            if state.done {
                if state.buffer.is_empty() {
                    return None;
                }
                let rest = std::mem::take(&mut state.buffer);
                let judged = if state.sse {
                    filter_event(&rest, &state.principal)
                } else {
                    filter_json(&rest, &state.principal)
                };
                return match judged {
                    Ok(Some(filtered)) => Some((Ok(Frame::data(Bytes::from(filtered))), state)),
                    Ok(None) => Some((Ok(Frame::data(Bytes::from(rest))), state)),
                    Err(Unreadable) => {
                        let error: BoxError =
                            "an answer that may list tools could not be read to filter it".into();
                        Some((Err(error), state))
                    }
                };
            }
            match state.body.frame().await {
                None => state.done = true,
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        state.buffer.extend_from_slice(&data);
                        if state.buffer.len() > MAX_JSON {
                            state.done = true;
                            state.buffer.clear();
                            let error: BoxError = "tools/list answer too large to filter".into();
                            return Some((Err(error), state));
                        }
                    }
                    Err(frame) => return Some((Ok(frame), state)),
                },
                Some(Err(error)) => {
                    state.done = true;
                    state.buffer.clear();
                    return Some((Err(error), state));
                }
            }
        }
    });
    UnsyncBoxBody::new(StreamBody::new(stream))
}

/// The end (exclusive) of the first complete event: after its blank line.
fn event_end(buffer: &[u8]) -> Option<usize> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An answer that may hold a tool list but cannot be read: never passed on as it is.
struct Unreadable;

/// Whether `bytes` may hold a tool list at all (rmcp writes keys plainly): most answers
/// are passed on without being parsed.
fn may_list(bytes: &[u8]) -> bool {
    bytes.windows(7).any(|w| w == b"\"tools\"")
}

/// One server-sent event with its `data` filtered; `Ok(None)` to pass it unchanged.
fn filter_event(event: &[u8], principal: &Principal) -> Result<Option<Vec<u8>>, Unreadable> {
    if !may_list(event) {
        return Ok(None);
    }
    let text = std::str::from_utf8(event).map_err(|_| Unreadable)?;
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect();
    let data: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect();
    if data.is_empty() {
        return Ok(None);
    }
    let Some(filtered) = filter_json(data.join("\n").as_bytes(), principal)? else {
        return Ok(None);
    };
    let filtered = String::from_utf8(filtered).map_err(|_| Unreadable)?;
    let mut out = String::with_capacity(event.len());
    let mut wrote_data = false;
    for line in lines {
        if line.starts_with("data:") {
            if !wrote_data {
                out.push_str("data: ");
                out.push_str(&filtered);
                out.push('\n');
                wrote_data = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push('\n');
    Ok(Some(out.into_bytes()))
}

/// A JSON-RPC answer (or batch) with its `tools/list` results filtered, each marked
/// `cacheScope: "private"` (SEP-2549: the list is this caller's, no shared cache may hand
/// it to another, whatever the server said); `Ok(None)` when there is no such result.
fn filter_json(json: &[u8], principal: &Principal) -> Result<Option<Vec<u8>>, Unreadable> {
    if !may_list(json) {
        return Ok(None);
    }
    let mut value: Value = serde_json::from_slice(json).map_err(|_| Unreadable)?;
    let mut changed = false;
    let mut filter_one = |message: &mut Value| {
        let Some(Value::Object(result)) = message.get_mut("result") else {
            return;
        };
        if let Some(Value::Array(tools)) = result.get_mut("tools") {
            tools.retain(|tool| {
                let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
                granted(name, principal)
            });
            result.insert("cacheScope".into(), Value::from("private"));
            changed = true;
        }
    };
    match &mut value {
        Value::Array(messages) => messages.iter_mut().for_each(&mut filter_one),
        message => filter_one(message),
    }
    if !changed {
        return Ok(None);
    }
    serde_json::to_vec(&value).map(Some).map_err(|_| Unreadable)
}

/// Whether the caller holds every scope of the tool (a tool secure-tool does not know is
/// not its to hide).
pub(crate) fn granted(name: &str, principal: &Principal) -> bool {
    crate::decl::required_scopes(name)
        .is_none_or(|scopes| scopes.iter().all(|s| principal.has_scope(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_on_blank_lines() {
        assert_eq!(event_end(b"data: x\n\nrest"), Some(9));
        assert_eq!(event_end(b"data: x\r\n\r\n"), Some(11));
        assert_eq!(event_end(b"data: x\n"), None);
    }

    #[test]
    fn a_filtered_list_is_always_private() {
        let who = Principal::anonymous();
        let out = filter_json(
            br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"cacheScope":"public","ttlMs":60000}}"#,
            &who,
        )
        .ok()
        .flatten()
        .unwrap();
        let value: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["result"]["cacheScope"], "private");
    }

    #[test]
    fn events_without_a_tool_list_pass_unchanged() {
        let who = Principal::anonymous();
        assert!(matches!(
            filter_event(b"id: 1\nretry: 3000\n\n", &who),
            Ok(None)
        ));
        assert!(matches!(
            filter_event(
                b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
                &who
            ),
            Ok(None)
        ));
    }

    #[test]
    fn an_answer_that_may_list_tools_but_cannot_be_read_is_refused() {
        let who = Principal::anonymous();
        // Compressed or cut off: never passed on unfiltered.
        assert!(filter_json(b"\x1f\x8b{\"tools\": [", &who).is_err());
        assert!(filter_event(b"data: {\"result\":{\"tools\":[{\"name\n\n", &who).is_err());
    }
}
