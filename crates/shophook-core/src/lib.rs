//! The pure core of shophook.
//!
//! Everything here is a function of its inputs: no IO, no async, no clock reads and
//! no randomness — time and random bytes come in as values. That is what lets the
//! store, the API and the delivery workers share one definition of "which webhooks
//! does this event reach", "what exactly is sent" and "when is the next try", and
//! what lets all of it be tested with plain table tests.

pub mod account;
pub mod catalog;
pub mod condition;
pub mod context;
pub mod derive;
pub mod event;
pub mod field_options;
pub mod form;
pub mod format;
pub mod mask;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod plan;
pub mod profiles;
pub mod render;
pub mod retry;
pub mod schedule;
pub mod signing;
pub mod snapshot;
pub mod ssrf;
pub mod template;
pub mod url_template;
pub mod validation;
pub mod webhook;

pub use validation::FieldError;

/// Implements `Serialize` and `Deserialize` for structs whose derives are declared
/// with `#[serde(remote = "Self")]`, reading them only from a JSON object. serde's
/// derive also reads a struct from an array of its fields in order — `[]` for one
/// whose fields all have defaults — which no client means; through this an array
/// is "invalid type: sequence, expected an object" at the field's path.
macro_rules! object_only {
    ($($t:ty),* $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Object;
                impl<'de> serde::de::Visitor<'de> for Object {
                    type Value = $t;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<$t, A::Error> {
                        <$t>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                d.deserialize_map(Object)
            }
        }
    )*};
}
pub(crate) use object_only;
