//! Words that `#[secure_tool(..)]` and an operator's policy file read alike: limits
//! (`"60/min"`, `"2s"`, `"64KiB"`), scope names, and the near-miss suggestion for an
//! unknown key. Plain functions on text, with no dependencies, in a crate of their own so
//! that [secure-tool](https://docs.rs/secure-tool) and its macros read them from one
//! source and cannot drift apart. Not meant to be used directly.
//!
//! ```
//! assert_eq!(secure_tool_words::parse_rate("60/min"), Ok((60, 60_000)));
//! assert_eq!(secure_tool_words::parse_size("64KiB"), Ok(65_536));
//! ```

/// `"60/min"` -> (60, 60_000 ms).
pub fn parse_rate(text: &str) -> Result<(u32, u64), String> {
    const FORM: &str = "write it as `N/sec`, `N/min` or `N/hour`, e.g. `\"60/min\"`";
    let (count, unit) = text.split_once('/').ok_or_else(|| FORM.to_owned())?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a whole number; {FORM}", count.trim()))?;
    if count == 0 {
        return Err("a rate of 0 would refuse every call; remove the tool instead, or give a rate of at least 1".into());
    }
    let period_ms = match unit.trim() {
        "s" | "sec" | "second" => 1_000,
        "m" | "min" | "minute" => 60_000,
        "h" | "hour" => 3_600_000,
        other => return Err(format!("unknown unit `{other}`; {FORM}")),
    };
    Ok((count, period_ms))
}

/// `"500ms"`, `"2s"`, `"1m"`, `"1h"` -> milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    const FORM: &str = "write it as a whole number and a unit: `500ms`, `2s`, `1m` or `1h`";
    let (number, unit) = number_and_unit(text, FORM)?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(FORM.to_owned()),
    };
    scaled(
        number,
        factor,
        "the duration is too long",
        "a zero duration would stop every call at once; give at least `1ms`",
    )
}

/// `"64KiB"`, `"1MiB"`, `"4096B"` -> bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    const FORM: &str = "write it as a whole number and a unit: `4096B`, `64KiB` or `1MiB`";
    let (number, unit) = number_and_unit(text, FORM)?;
    let factor = match unit.trim() {
        "B" => 1,
        "KiB" | "KB" | "kB" => 1024,
        "MiB" | "MB" => 1024 * 1024,
        "GiB" | "GB" => 1024 * 1024 * 1024,
        _ => return Err(FORM.to_owned()),
    };
    scaled(
        number,
        factor,
        "the size is too large",
        "a zero size would refuse every call; give at least `1B`",
    )
}

/// `"64KiB"` -> `(64, "KiB")`; `form` is the error, which says how to write it.
fn number_and_unit<'a>(text: &'a str, form: &str) -> Result<(u64, &'a str), String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| form.to_owned())?;
    let (number, unit) = text.split_at(split);
    let number = number.parse().map_err(|_| form.to_owned())?;
    Ok((number, unit))
}

/// `number * factor`, refusing an overflow and zero with their messages.
fn scaled(number: u64, factor: u64, too_large: &str, zero: &str) -> Result<u64, String> {
    match number.checked_mul(factor) {
        None => Err(too_large.to_owned()),
        Some(0) => Err(zero.to_owned()),
        Some(value) => Ok(value),
    }
}

/// A scope (or role) name: non-empty, at most 128 bytes of letters, digits and
/// `. : _ / -`.
pub fn is_scope_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_/-".contains(&b))
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates_durations_sizes() {
        assert_eq!(parse_rate("60/min"), Ok((60, 60_000)));
        assert_eq!(parse_rate("5 / sec"), Ok((5, 1_000)));
        assert!(parse_rate("0/min").is_err());
        assert!(parse_rate("60/week").is_err());
        assert!(parse_rate("lots").is_err());
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("2s"), Ok(2_000));
        assert_eq!(parse_duration_ms("1m"), Ok(60_000));
        assert!(parse_duration_ms("0s").is_err());
        assert!(parse_duration_ms("2 seconds").is_err());
        assert!(parse_duration_ms("1.5s").is_err());
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert!(parse_size("0B").is_err());
    }
}
