//! [`RawLimits`]: bounds on a call's raw arguments, checked before anything is
//! deserialized.

use serde_json::Value;

use crate::problem::InputError;

/// Bounds on a call's raw arguments, checked before deserialization: a payload that is
/// too big or too deep is refused before any user type sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLimits {
    /// Total size, approximately the length of the JSON text (default 256 KiB).
    pub max_bytes: usize,
    /// Nesting depth of arrays and objects (default 32).
    pub max_depth: usize,
    /// Length in bytes of any one string or object key (default 64 KiB).
    pub max_string: usize,
    /// Items in any one array or entries in any one object (default 10,000).
    pub max_items: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024,
            max_depth: 32,
            max_string: 64 * 1024,
            max_items: 10_000,
        }
    }
}

impl RawLimits {
    /// Check `arguments` against these limits. Stops at the first breach.
    pub fn check(&self, arguments: &serde_json::Map<String, Value>) -> Result<(), InputError> {
        let mut budget = self.max_bytes;
        self.check_object(arguments, 1, &mut budget)
            .map_err(|breach| self.refusal(breach))
    }

    /// The value-free message of a breach (built only for a refused call: the walk
    /// itself passes a one-byte [`Breach`] around, nothing to build or drop).
    #[cold]
    fn refusal(&self, breach: Breach) -> InputError {
        let message = match breach {
            Breach::Bytes => format!("arguments too large (limit {} bytes)", self.max_bytes),
            Breach::String => format!("a string is too long (limit {} bytes)", self.max_string),
            Breach::Depth => format!("arguments nested too deeply (limit {})", self.max_depth),
            Breach::Items => format!(
                "an array or object has too many items (limit {})",
                self.max_items
            ),
        };
        InputError::single("", message)
    }

    fn spend(budget: &mut usize, bytes: usize) -> Result<(), Breach> {
        *budget = budget.checked_sub(bytes).ok_or(Breach::Bytes)?;
        Ok(())
    }

    fn check_string(&self, s: &str, budget: &mut usize) -> Result<(), Breach> {
        if s.len() > self.max_string {
            return Err(Breach::String);
        }
        Self::spend(budget, s.len() + 2)
    }

    fn check_object(
        &self,
        map: &serde_json::Map<String, Value>,
        depth: usize,
        budget: &mut usize,
    ) -> Result<(), Breach> {
        self.check_container(map.len(), depth, budget)?;
        for (key, value) in map {
            self.check_string(key, budget)?;
            self.check_value(value, depth, budget)?;
        }
        Ok(())
    }

    fn check_container(&self, len: usize, depth: usize, budget: &mut usize) -> Result<(), Breach> {
        if depth > self.max_depth {
            return Err(Breach::Depth);
        }
        if len > self.max_items {
            return Err(Breach::Items);
        }
        Self::spend(budget, 2 + len)
    }

    fn check_value(&self, value: &Value, depth: usize, budget: &mut usize) -> Result<(), Breach> {
        match value {
            Value::Null | Value::Bool(_) => Self::spend(budget, 5),
            Value::Number(_) => Self::spend(budget, 8),
            Value::String(s) => self.check_string(s, budget),
            Value::Array(items) => {
                self.check_container(items.len(), depth + 1, budget)?;
                items
                    .iter()
                    .try_for_each(|item| self.check_value(item, depth + 1, budget))
            }
            Value::Object(map) => self.check_object(map, depth + 1, budget),
        }
    }
}

/// Which limit a call's arguments broke.
#[derive(Debug, Clone, Copy)]
enum Breach {
    Bytes,
    String,
    Depth,
    Items,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn raw_limits_refuse_deep_wide_and_long_payloads() {
        let limits = RawLimits::default();
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        let refused = |v: Value| limits.check(&obj(v)).unwrap_err().to_string();
        assert!(refused(json!({ "a": deep })).contains("nested too deeply (limit 32)"));
        let long = "x".repeat(70 * 1024);
        assert!(refused(json!({ "a": long })).contains("a string is too long (limit 65536 bytes)"));
        let wide: Vec<u8> = vec![0; 20_000];
        assert!(refused(json!({ "a": wide })).contains("too many items (limit 10000)"));
        let many: Vec<String> = (0..5000).map(|_| "y".repeat(60)).collect();
        let err = limits.check(&obj(json!({ "a": many }))).unwrap_err();
        assert!(err.to_string().contains("too large"));
        assert!(limits.check(&obj(json!({"a": [1, 2, {"b": "c"}]}))).is_ok());
    }
}
