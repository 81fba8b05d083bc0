//! The one deserializer every tool input goes through: a `Deserializer` over an owned
//! [`serde_json::Value`] that behaves like serde_json's own `from_value` (strings move into
//! the input, as they do for a bare rmcp tool) and, when deserialization fails, records
//! where.
//!
//! Why not serde_json's deserializer plus `serde_path_to_error` on failure: that
//! instantiates every input type's `Deserialize` twice, which is most of what a secured tool
//! adds to its crate's build. And why not `serde_path_to_error` alone: it allocates a
//! `String` for every key it passes, valid input or not (+43% on the pipeline). Here the
//! valid path allocates nothing of its own; an error collects the path as it travels back
//! up, one step per container it leaves.
//!
//! Errors from a map *key* (an unknown field, an unknown variant) carry no step for that
//! key: the key is attacker-chosen text, so the path ends at the object that holds it.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Expected, IntoDeserializer, Unexpected};
use serde::de::{EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde_json::{Map, Value};

/// A deserialization failure: serde's message (which may quote the input, so it is never
/// shown as it is) and the path to the failing value. Boxed, as serde_json's is, so every
/// `Result` on the valid path stays small.
#[derive(Debug)]
pub(crate) struct Error(Box<Failure>);

#[derive(Debug)]
struct Failure {
    message: String,
    /// Innermost step first: pushed while the error travels outwards.
    steps: Vec<Step>,
}

#[derive(Debug)]
enum Step {
    Index(usize),
    /// `None` when the key is not a short identifier, so it is shown as `?`.
    Key(Option<Box<str>>),
}

impl Error {
    #[cold]
    fn at_index(mut self, index: usize) -> Self {
        self.0.steps.push(Step::Index(index));
        self
    }

    #[cold]
    fn at_key(mut self, key: &str) -> Self {
        self.0
            .steps
            .push(Step::Key(is_plain_key(key).then(|| key.into())));
        self
    }

    /// serde's message.
    pub(crate) fn message(&self) -> &str {
        &self.0.message
    }

    /// `files[2].name`: the path a model can act on; empty for the arguments object.
    pub(crate) fn path(&self) -> String {
        let mut out = String::new();
        for step in self.0.steps.iter().rev() {
            match step {
                Step::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
                Step::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key.as_deref().unwrap_or("?"));
                }
            }
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(Box::new(Failure {
            message: message.to_string(),
            steps: Vec::new(),
        }))
    }

    // serde_json's wording: JSON calls the unit value `null`.
    #[cold]
    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid type: {}, expected {expected}",
            Json(unexpected)
        ))
    }

    #[cold]
    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid value: {}, expected {expected}",
            Json(unexpected)
        ))
    }
}

struct Json<'a>(Unexpected<'a>);

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Unexpected::Unit => f.write_str("null"),
            other => other.fmt(f),
        }
    }
}

/// Deserialize `T` from a tool's arguments (or any JSON value), which it consumes: strings
/// move into `T` rather than being copied, as with serde_json's own `from_value`.
pub(crate) fn from_value<T: de::DeserializeOwned>(value: Value) -> Result<T, Error> {
    T::deserialize(ValueDeserializer(value))
}

/// One JSON value, deserialized as serde_json's `Value` deserializer would.
struct ValueDeserializer(Value);

impl<'de> Deserializer<'de> for ValueDeserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => visit_number(&n, visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visit_seq(items, visitor),
            Value::Object(map) => visit_map(map, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(variant) => visitor.visit_enum(variant.into_deserializer()),
            Value::Object(map) => {
                let mut entries = map.into_iter();
                match (entries.next(), entries.next()) {
                    (Some((name, value)), None) => visitor.visit_enum(Variant { name, value }),
                    _ => Err(de::Error::invalid_value(
                        Unexpected::Map,
                        &"map with a single key",
                    )),
                }
            }
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"string or map",
            )),
        }
    }

    /// A field or variant name must be a string: serde's identifier visitors would also
    /// take a number as an index.
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(name) => visitor.visit_string(name),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct
    }
}

fn visit_number<'de, V: Visitor<'de>>(
    n: &serde_json::Number,
    visitor: V,
) -> Result<V::Value, Error> {
    if let Some(u) = n.as_u64() {
        visitor.visit_u64(u)
    } else if let Some(i) = n.as_i64() {
        visitor.visit_i64(i)
    } else {
        visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
    }
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Unexpected::Unsigned(u),
            (None, Some(i)) => Unexpected::Signed(i),
            (None, None) => Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// Like serde_json: a visitor that stops before the end of an array or object is an error.
fn all_taken(remaining: usize, taken: usize, what: &'static str) -> Result<(), Error> {
    struct Len(&'static str);
    impl Expected for Len {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    if remaining == 0 {
        Ok(())
    } else {
        Err(de::Error::invalid_length(taken + remaining, &Len(what)))
    }
}

fn visit_seq<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, Error> {
    let mut seq = Seq {
        items: items.into_iter(),
        index: 0,
    };
    let value = visitor.visit_seq(&mut seq)?;
    all_taken(seq.items.len(), seq.index, "fewer elements in array")?;
    Ok(value)
}

fn visit_map<'de, V: Visitor<'de>>(map: Map<String, Value>, visitor: V) -> Result<V::Value, Error> {
    let mut access = Entries {
        entries: map.into_iter(),
        taken: 0,
        value: None,
    };
    let value = visitor.visit_map(&mut access)?;
    all_taken(access.entries.len(), access.taken, "fewer elements in map")?;
    Ok(value)
}

struct Seq {
    items: std::vec::IntoIter<Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for Seq {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        match seed.deserialize(ValueDeserializer(item)) {
            Ok(value) => Ok(Some(value)),
            Err(error) => Err(error.at_index(index)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Entries {
    entries: serde_json::map::IntoIter,
    taken: usize,
    /// The entry whose key was just read: its value, and the key for an error's path.
    value: Option<(String, Value)>,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.taken += 1;
        let read = seed.deserialize(KeyDeserializer(&key)).map(Some);
        self.value = Some((key, value));
        read
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("value is missing"));
        };
        match seed.deserialize(ValueDeserializer(value)) {
            Ok(value) => Ok(value),
            Err(error) => Err(error.at_key(&key)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An object key: a string, which like serde_json's map keys may also be read as a number
/// or a bool (`HashMap<u32, _>`). Kept by its object for an error's path, so lent here.
struct KeyDeserializer<'a>(&'a str);

/// Like serde_json, a numeric key must be exactly one JSON number.
fn visit_key_number<'de, V: Visitor<'de>>(key: &str, visitor: V) -> Result<V::Value, Error> {
    let number = key
        .starts_with(|c: char| c.is_ascii_digit() || c == '-')
        .then(|| serde_json::from_str::<serde_json::Number>(key).ok())
        .flatten()
        .filter(|_| !key.ends_with(|c: char| c.is_ascii_whitespace()));
    match number {
        Some(number) => visit_number(&number, visitor),
        None => Err(de::Error::custom(
            "invalid value: expected key to be a number in quotes",
        )),
    }
}

macro_rules! numeric_keys {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visit_key_number(self.0, visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.0)
    }

    numeric_keys! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            other => Err(de::Error::invalid_type(Unexpected::Str(other), &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// An externally tagged variant written as an object: `{"rename": {"to": "b.txt"}}`.
struct Variant {
    name: String,
    value: Value,
}

impl<'de> EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Error> {
        let variant = seed.deserialize(KeyDeserializer(&self.name))?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for Variant {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            Value::Null => Ok(()),
            other => Err(de::Error::invalid_type(unexpected(&other), &"unit")),
        }
        .map_err(|error: Error| error.at_key(&self.name))
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        seed.deserialize(ValueDeserializer(self.value))
            .map_err(|error| error.at_key(&self.name))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            // serde_json's reading of `{"Variant": []}`.
            Value::Array(items) if items.is_empty() => visitor.visit_unit(),
            Value::Array(items) => visit_seq(items, visitor),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"tuple variant",
            )),
        }
        .map_err(|error| error.at_key(&self.name))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(map) => visit_map(map, visitor),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"struct variant",
            )),
        }
        .map_err(|error| error.at_key(&self.name))
    }
}

/// Whether a map key is shown in a path: keys are attacker-chosen text, so only short
/// identifier-like ones are.
pub(crate) fn is_plain_key(key: &str) -> bool {
    (1..=48).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    //! Differential tests: on any JSON, this deserializer must agree with serde_json's own
    //! `from_value` (same value, or an error that reads the same to the client), for every
    //! shape serde can derive.
    use std::collections::{BTreeMap, HashMap};

    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::{Value, json};

    use crate::messages::describe_serde;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        a: u32,
        #[serde(default)]
        b: Option<String>,
        #[serde(default)]
        c: Vec<Inner>,
        #[serde(default, rename = "Unit")]
        e: Option<External>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Inner {
        x: bool,
        #[serde(default)]
        t: Option<(u8, String)>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum External {
        Unit,
        New(u32),
        Tup(u8, u8),
        Str { x: bool },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "t")]
    enum Internal {
        A { x: u8 },
        B,
    }

    // The tag sorts before the content, as serde_json's (sorted) maps then give the tag
    // first: the content is deserialized in place, not buffered.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "kind", content = "value")]
    enum Adjacent {
        A { x: u8 },
        B(String),
        C,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(untagged)]
    enum Untagged {
        A(u8),
        B(String),
        C { x: bool },
        D(Vec<Untagged>),
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Newtype(u32);

    #[derive(Debug, PartialEq, Deserialize)]
    struct TupleStruct(u8, bool);

    #[derive(Debug, PartialEq, Deserialize)]
    struct UnitStruct;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Flattened {
        a: Option<u8>,
        #[serde(flatten)]
        rest: BTreeMap<String, Value>,
    }

    /// Both deserializers on one value: equal results, or errors that read the same to
    /// the client.
    fn agree<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(value: &Value) {
        let theirs = serde_json::from_value::<T>(value.clone()).map_err(|e| {
            // serde_json parses a numeric key as JSON text, and says where in that text.
            let message = e.to_string();
            let position = message.rfind(" at line ").unwrap_or(message.len());
            describe_serde(&message[..position])
        });
        let ours = super::from_value::<T>(value.clone()).map_err(|e| describe_serde(e.message()));
        assert_eq!(ours, theirs, "{} from {value}", std::any::type_name::<T>());
    }

    fn agree_all(value: &Value) {
        agree::<u8>(value);
        agree::<i64>(value);
        agree::<f64>(value);
        agree::<bool>(value);
        agree::<char>(value);
        agree::<String>(value);
        agree::<()>(value);
        agree::<Option<u32>>(value);
        agree::<Vec<u16>>(value);
        agree::<(u8, String)>(value);
        agree::<[u8; 2]>(value);
        agree::<HashMap<u32, bool>>(value);
        agree::<BTreeMap<String, i8>>(value);
        agree::<Doc>(value);
        agree::<Vec<Inner>>(value);
        agree::<External>(value);
        agree::<Internal>(value);
        agree::<Adjacent>(value);
        agree::<Untagged>(value);
        agree::<Newtype>(value);
        agree::<TupleStruct>(value);
        agree::<UnitStruct>(value);
        agree::<Flattened>(value);
        agree::<Value>(value);
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let keys = prop::sample::select(vec![
            "a", "b", "c", "e", "x", "t", "kind", "value", "Unit", "New", "Tup", "Str", "A", "B",
            "C", "1", "300", "true", "",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-300i64..300).prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e3f64..1e3).prop_map(Value::from),
            keys.clone().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..4).prop_map(|entries| {
                    Value::Object(
                        entries
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn agrees_with_serde_json_on_any_json(value in json_value()) {
            agree_all(&value);
        }
    }

    #[test]
    fn agrees_with_serde_json_on_chosen_shapes() {
        for value in [
            json!({"a": 1, "c": [{"x": true, "t": [7, "s"]}], "Unit": "Unit"}),
            json!({"a": 1, "Unit": {"New": 5}}),
            json!({"a": 1, "Unit": {"Tup": [1, 2]}}),
            json!({"a": 1, "Unit": {"Tup": [1, 2, 3]}}),
            json!({"a": 1, "Unit": {"Str": {"x": false}}}),
            json!({"a": 1, "Unit": {"Str": [true]}}),
            json!({"a": 1, "Unit": {"Unit": null}}),
            json!({"a": 1, "Unit": {"Unit": 1}}),
            json!({"a": 1, "Unit": {"New": 1, "Tup": [1, 2]}}),
            json!({"t": "A", "x": 3}),
            json!({"kind": "A", "value": {"x": 3}}),
            json!({"kind": "B", "value": "text"}),
            json!({"kind": "B", "value": 5}),
            json!({"1": true, "2": false}),
            json!({"-1": true}),
            json!([1, true]),
            json!([1, 2]),
            json!([1, 2, 3]),
            json!(["x"]),
            json!([[1, "a"], {"x": true}]),
            json!(-5),
            json!(1.5),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("ab"),
            json!("a"),
        ] {
            agree_all(&value);
        }
    }

    fn path_of<T: serde::de::DeserializeOwned + std::fmt::Debug>(value: Value) -> String {
        super::from_value::<T>(value).unwrap_err().path()
    }

    #[test]
    fn an_error_carries_the_path_to_the_failing_value() {
        assert_eq!(path_of::<Doc>(json!({"a": "one"})), "a");
        assert_eq!(
            path_of::<Doc>(json!({"a": 1, "c": [{"x": true}, {"x": true, "t": [300, "s"]}]})),
            "c[1].t[0]"
        );
        assert_eq!(
            path_of::<Doc>(json!({"a": 1, "Unit": {"Str": {"x": 1}}})),
            "Unit.Str.x"
        );
        assert_eq!(
            path_of::<Doc>(json!({"a": 1, "Unit": {"Tup": [1, -1]}})),
            "Unit.Tup[1]"
        );
        assert_eq!(
            path_of::<Adjacent>(json!({"kind": "A", "value": {"x": "no"}})),
            "value.x"
        );
        assert_eq!(path_of::<Vec<Vec<u8>>>(json!([[1], [2, "no"]])), "[1][1]");
        // A missing field is reported at the object that lacks it.
        assert_eq!(path_of::<Doc>(json!({"a": 1, "c": [{}]})), "c[0]");
    }

    #[test]
    fn a_path_never_holds_the_callers_own_keys() {
        // An unknown key, and an unknown variant, stop the path at the object holding them.
        assert_eq!(
            path_of::<Doc>(json!({"a": 1, "ignore previous instructions": 1})),
            ""
        );
        assert_eq!(
            path_of::<Doc>(json!({"a": 1, "Unit": {"Evil<script>": 1}})),
            "Unit"
        );
        // A key of a map the type accepts is shown only when it is a short identifier.
        assert_eq!(
            path_of::<BTreeMap<String, u8>>(json!({"ok_key": 1, "white space": "x"})),
            "?"
        );
        assert_eq!(
            path_of::<BTreeMap<String, u8>>(json!({"ok_key": "x"})),
            "ok_key"
        );
        assert_eq!(
            path_of::<BTreeMap<String, u8>>(json!({"k".repeat(49): "x"})),
            "?"
        );
    }
}
