//! The values of `#[secure(sensitive)]` fields, cut out of what is shown or written:
//! refusal messages and error texts (`shape`), audited values (`admission`).

/// `value` (an audited field's) with every sensitive value cut out of its strings: an
/// audited struct may hold a sensitive field of its own.
pub(super) fn redact_json(value: &mut serde_json::Value, sensitive: &[String]) {
    match value {
        serde_json::Value::String(text) => {
            *text = without_sensitive(std::mem::take(text), sensitive);
        }
        serde_json::Value::Number(n) if sensitive.contains(&n.to_string()) => {
            *value = serde_json::Value::from("[sensitive]");
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, sensitive)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| redact_json(v, sensitive)),
        _ => {}
    }
}

/// `text` with every value of a `#[secure(sensitive)]` field cut out: such a value is
/// never shown or written anywhere, even inside the tool's own error message.
pub(super) fn without_sensitive(text: String, sensitive: &[String]) -> String {
    if sensitive.iter().all(|value| !text.contains(value.as_str())) {
        return text;
    }
    sensitive.iter().fold(text, |text, value| {
        text.replace(value.as_str(), "[sensitive]")
    })
}
