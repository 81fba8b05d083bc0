//! What the threat types share: one rejection type, and one way to be read from the
//! model's arguments ([`Checked`]), written back, and described in the JSON Schema.

use std::borrow::Cow;
use std::fmt;

/// Why a threat type refused a value. Its text names the rule, never the value, so it can
/// go to the model as it is. [`PathRejection`](super::PathRejection),
/// [`UrlRejection`](super::UrlRejection), [`SqlRejection`](super::SqlRejection) and
/// [`CommandRejection`](super::CommandRejection) are this type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(Cow<'static, str>);

impl Rejection {
    /// A refusal for the rule `why`.
    pub(crate) const fn new(why: &'static str) -> Self {
        Self(Cow::Borrowed(why))
    }

    /// A refusal whose text is built at run time (from the rule's own words only).
    #[cfg_attr(
        not(any(feature = "sql", feature = "command")),
        allow(dead_code, reason = "only queries and commands build their refusals")
    )]
    pub(crate) fn owned(why: String) -> Self {
        Self(Cow::Owned(why))
    }

    /// The rule that refused the value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule, as a problem's text.
    #[cfg_attr(
        not(any(feature = "sql", feature = "command")),
        allow(
            dead_code,
            reason = "only queries and commands report a refusal as a problem"
        )
    )]
    pub(crate) fn into_rule(self) -> Cow<'static, str> {
        self.0
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejection {}

/// `Err` with the refusal for the rule `why`.
pub(crate) fn reject<T>(why: &'static str) -> Result<T, Rejection> {
    Err(Rejection::new(why))
}

/// A threat type: what serde reads for it, the check that makes one of it, and how the
/// model is told the rule before it calls. [`threat_type!`] implements `Deserialize`,
/// `Serialize` and `JsonSchema` from it, the same way for every threat type.
pub(crate) trait Checked: Sized {
    /// What serde reads before the check (the text, for all but `CommandLine`).
    type Raw<'de>: serde::Deserialize<'de>;

    /// Check what serde read.
    fn check(raw: Self::Raw<'_>) -> Result<Self, Rejection>;

    /// The schema's name.
    fn schema_name() -> Cow<'static, str>;

    /// The schema, which states the rule (lengths, patterns, a description).
    fn schema() -> schemars::Schema;
}

/// Deserialize `T` and check it. The refusal reaches the model as written (it is
/// value-free by construction), marked so the input layer passes it through.
pub(crate) fn deserialize<'de, T: Checked, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    let raw = <T::Raw<'de> as serde::Deserialize<'de>>::deserialize(deserializer)?;
    T::check(raw).map_err(|why| {
        serde::de::Error::custom(format_args!(
            "{}{why}",
            crate::messages::PUBLIC_REJECTION_PREFIX
        ))
    })
}

/// `Deserialize` (through [`Checked`]), `Serialize` (as its `Display` text, or by its own
/// derive with `serialize = derive`) and `JsonSchema` for a threat type; `[..]` holds the
/// impl's generics.
macro_rules! threat_type {
    ([$($generics:tt)*] $ty:ty) => {
        $crate::types::checked::threat_type!(@read [$($generics)*] $ty);

        impl<$($generics)*> ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    };
    ([$($generics:tt)*] $ty:ty, serialize = derive) => {
        $crate::types::checked::threat_type!(@read [$($generics)*] $ty);
    };
    (@read [$($generics:tt)*] $ty:ty) => {
        impl<'de, $($generics)*> ::serde::Deserialize<'de> for $ty {
            fn deserialize<De: ::serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
                $crate::types::checked::deserialize(deserializer)
            }
        }

        impl<$($generics)*> ::schemars::JsonSchema for $ty {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                <Self as $crate::types::checked::Checked>::schema_name()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                <Self as $crate::types::checked::Checked>::schema()
            }

            // Inline: the rule sits on the field the model fills in.
            fn inline_schema() -> bool {
                true
            }
        }
    };
}
pub(crate) use threat_type;
