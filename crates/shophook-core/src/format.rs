//! Payload formats, one table: each format's name, its label in the UI, whether it
//! sends one request per order item, whether it takes a merchant template, its
//! default method and whether it sends the account's option lists. Validation,
//! rendering's planning, the store's claims and the UI all read this table, so a
//! new profile is its module in `profiles/` plus one row here.

use crate::webhook::Method;

/// Whether a format takes `template`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateUse {
    /// Required (`template`).
    Required,
    /// Optional, a message text (`telegram`, `slack`).
    Optional,
    /// Refused: the format's body is fixed.
    Refused,
}

/// One payload format.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// `format` as the API names it.
    pub name: &'static str,
    /// Its label in the UI.
    pub label: &'static str,
    /// One request per order item (Ekademia).
    pub per_item: bool,
    /// Whether it takes a template.
    pub template: TemplateUse,
    /// The method when the merchant sets none.
    pub default_method: Method,
    /// Sends the account's option lists (SalesDrive's `meta.fields`).
    pub field_options: bool,
}

const fn plain(name: &'static str, label: &'static str) -> Format {
    Format {
        name,
        label,
        per_item: false,
        template: TemplateUse::Refused,
        default_method: Method::Post,
        field_options: false,
    }
}

/// Every format, in the order the UI offers them.
pub const FORMATS: &[Format] = &[
    plain("json", "JSON"),
    plain("form", "Form (PHP brackets)"),
    Format {
        template: TemplateUse::Required,
        ..plain("template", "My template")
    },
    Format {
        per_item: true,
        ..plain("ekademia", "Ekademia")
    },
    plain("justclick", "JustClick"),
    plain("shoppegram", "Shoppegram"),
    Format {
        field_options: true,
        ..plain("salesdrive", "SalesDrive")
    },
    Format {
        default_method: Method::Get,
        ..plain("sellasist", "Sellasist (call URL)")
    },
    Format {
        template: TemplateUse::Optional,
        ..plain("telegram", "Telegram message")
    },
    Format {
        template: TemplateUse::Optional,
        ..plain("slack", "Slack message")
    },
    plain("sheets", "Google Sheets row"),
];

/// The format named `name`.
pub fn get(name: &str) -> Option<&'static Format> {
    FORMATS.iter().find(|f| f.name == name)
}

/// Every format's name, comma-separated (error messages).
pub fn names() -> String {
    FORMATS
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_renders_and_every_profile_is_a_format() {
        for f in FORMATS {
            assert_eq!(get(f.name).map(|g| g.name), Some(f.name));
        }
        for p in crate::profiles::PROFILES {
            assert!(get(p).is_some(), "{p} is in the table");
        }
        assert!(get("xml").is_none());
        assert!(get("ekademia").unwrap().per_item);
        assert_eq!(get("sellasist").unwrap().default_method, Method::Get);
    }
}
