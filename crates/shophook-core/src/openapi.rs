//! Schemas for the API description (feature `openapi`) that the derive cannot say
//! from a field's type alone: the names the server accepts (event types, formats,
//! delivery statuses) and ranges on list items. Each is built from the same
//! constants the validation uses, so the document and the server cannot disagree.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};

use crate::event::EventType;
use crate::plan::DeliveryStatus;

fn strings(names: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names.into_iter().collect::<Vec<_>>()))
}

/// `names` or `null` (an `enum` restricts the type too, so it lists `null`).
fn nullable_strings(names: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    let mut values: Vec<serde_json::Value> = names.into_iter().map(Into::into).collect();
    values.push(serde_json::Value::Null);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
}

fn nullable_array(items: ObjectBuilder) -> ArrayBuilder {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(items)
}

/// Every event type's name.
pub fn event_type() -> Schema {
    strings(EventType::ALL.iter().map(|t| t.as_str())).into()
}

/// `EventType` in the document (e.g. as a query parameter's `value_type`): its name.
impl utoipa::PartialSchema for EventType {
    fn schema() -> RefOr<Schema> {
        event_type().into()
    }
}
impl utoipa::ToSchema for EventType {}

/// The event types a platform may post (those with a subject; `webhook.*` are
/// sent by shophook itself).
pub fn postable_event_type() -> Schema {
    strings(
        EventType::ALL
            .iter()
            .filter(|t| t.subject_kind().is_some())
            .map(|t| t.as_str()),
    )
    .into()
}

/// An event type's name, or `*` for every event.
pub fn event_type_or_all() -> Schema {
    strings(std::iter::once("*").chain(EventType::ALL.iter().map(|t| t.as_str()))).into()
}

/// A webhook's `events`: at least one event type, or `["*"]`.
pub fn webhook_events() -> RefOr<Schema> {
    let items = strings(std::iter::once("*").chain(EventType::ALL.iter().map(|t| t.as_str())));
    nullable_array(items).min_items(Some(1)).build().into()
}

/// A delivery status's name.
pub fn delivery_status() -> Schema {
    strings(DeliveryStatus::ALL.iter().map(|s| s.as_str())).into()
}

/// A delivery-status filter: a status's name, or empty (or `null`) for any.
pub fn delivery_status_filter() -> Schema {
    nullable_strings(std::iter::once("").chain(DeliveryStatus::ALL.iter().map(|s| s.as_str())))
        .into()
}

/// A webhook's `format`: the built-in formats, profiles and presets.
pub fn webhook_format() -> Schema {
    nullable_strings(crate::format::FORMATS.iter().map(|f| f.name)).into()
}

/// A webhook's `expect_status`: at most 20 HTTP status codes (100–599).
pub fn expect_status() -> RefOr<Schema> {
    let code = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(100))
        .maximum(Some(599));
    nullable_array(code)
        .max_items(Some(crate::webhook::MAX_EXPECT_STATUS))
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_accepted_ones() {
        let json = serde_json::to_value(event_type_or_all()).unwrap();
        let names = json["enum"].as_array().unwrap();
        assert_eq!(names.len(), EventType::ALL.len() + 1);
        for n in names {
            let n = n.as_str().unwrap();
            assert!(n == "*" || EventType::parse(n).is_some(), "{n}");
        }
        let json = serde_json::to_value(webhook_format()).unwrap();
        for f in json["enum"].as_array().unwrap() {
            let f = if f.is_null() {
                &serde_json::json!("json")
            } else {
                f
            };
            let mut c = crate::webhook::WebhookInput {
                url: Some("https://example.com/x".into()),
                events: Some(vec!["*".into()]),
                format: Some(f.as_str().unwrap().into()),
                ..Default::default()
            };
            if matches!(f.as_str(), Some("template")) {
                c.template = Some(Some("x".into()));
            }
            if matches!(f.as_str(), Some("telegram")) {
                c.url = Some("https://example.com/x?chat_id=1".into());
            }
            c.into_new_config().unwrap_or_else(|e| panic!("{f}: {e:?}"));
        }
    }
}
