//! The embedding platform's brand on every page of the web UI: its name, its logo
//! and its accent colour (`--ui-brand-name`, `--ui-brand-logo`,
//! `--ui-brand-color`), applied through the stylesheet's CSS variables, so a
//! platform's portal looks like the platform.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

/// Largest accepted logo file.
const MAX_LOGO: usize = 256 * 1024;

/// A brand: what the header and the title say, and the accent colour.
#[derive(Debug, Clone)]
pub struct Brand {
    /// Shown in the header and the page titles.
    pub name: String,
    /// `#rrggbb`, or the stylesheet's own.
    color: Option<String>,
    /// The logo's bytes and media type.
    logo: Option<(Vec<u8>, &'static str)>,
}

impl Default for Brand {
    fn default() -> Self {
        Brand {
            name: "shophook".into(),
            color: None,
            logo: None,
        }
    }
}

impl Brand {
    /// From the `serve` flags; a bad colour or an unreadable logo is an error that
    /// names the flag.
    pub fn from_flags(
        name: Option<&str>,
        color: Option<&str>,
        logo: Option<&std::path::Path>,
    ) -> anyhow::Result<Brand> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if let Some(n) = name {
            anyhow::ensure!(
                n.chars().count() <= 60,
                "--ui-brand-name: at most 60 characters"
            );
        }
        if let Some(c) = color {
            let hex = c.strip_prefix('#').unwrap_or("");
            anyhow::ensure!(
                hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()),
                "--ui-brand-color: a colour as #rrggbb, e.g. #0b62c4 (got `{c}`)"
            );
        }
        let logo = match logo {
            None => None,
            Some(path) => {
                let media = match path.extension().and_then(|e| e.to_str()) {
                    Some("svg") => "image/svg+xml",
                    Some("png") => "image/png",
                    Some("jpg" | "jpeg") => "image/jpeg",
                    _ => anyhow::bail!("--ui-brand-logo: an .svg, .png or .jpg file"),
                };
                let bytes = std::fs::read(path)
                    .with_context(|| format!("--ui-brand-logo: reading {}", path.display()))?;
                anyhow::ensure!(bytes.len() <= MAX_LOGO, "--ui-brand-logo: at most 256 KiB");
                Some((bytes, media))
            }
        };
        Ok(Brand {
            name: name.unwrap_or("shophook").to_string(),
            color: color.map(str::to_ascii_lowercase),
            logo,
        })
    }

    /// Whether a logo is served.
    pub fn has_logo(&self) -> bool {
        self.logo.is_some()
    }

    /// The stylesheet that applies it after `app.css`.
    fn css(&self) -> String {
        match &self.color {
            Some(c) => format!(":root {{ --accent: {c}; }}\n"),
            None => String::new(),
        }
    }
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/assets/brand.css", get(css))
        .route("/assets/brand-logo", get(logo))
}

async fn css(State(s): State<Arc<AppState>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        s.brand.css(),
    )
        .into_response()
}

async fn logo(State(s): State<Arc<AppState>>) -> Response {
    match &s.brand.logo {
        Some((bytes, media)) => (
            [
                (header::CONTENT_TYPE, *media),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_checked() {
        let b = Brand::from_flags(Some(" Acme Platform "), Some("#AA3300"), None).unwrap();
        assert_eq!(b.name, "Acme Platform");
        assert_eq!(b.css(), ":root { --accent: #aa3300; }\n");
        assert_eq!(
            Brand::from_flags(None, None, None).unwrap().name,
            "shophook"
        );
        for bad in ["aa3300", "#abc", "#gg0000", "red"] {
            let e = Brand::from_flags(None, Some(bad), None).unwrap_err();
            assert!(e.to_string().starts_with("--ui-brand-color"), "{bad}: {e}");
        }
        let e = Brand::from_flags(None, None, Some(std::path::Path::new("logo.gif"))).unwrap_err();
        assert!(e.to_string().contains(".svg, .png or .jpg"), "{e}");
    }
}
