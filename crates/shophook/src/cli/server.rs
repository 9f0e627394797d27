//! A client of a running shophook server's HTTP API, for the commands that talk to one
//! (`replay`): `--server` and `--key`, and the server's errors shown with their
//! `error.message` (and `field`).

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

/// The HTTP API of a running server, as the CLI uses it.
pub struct Api {
    client: reqwest::Client,
    server: url::Url,
    key: String,
}

impl Api {
    /// A client for `server` with the API `key` (no redirects, 60 s per request).
    pub fn new(server: url::Url, key: String) -> anyhow::Result<Api> {
        Ok(Api {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(60))
                .build()?,
            server,
            key,
        })
    }

    /// `server` + the path `segments` (each percent-encoded) + `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> anyhow::Result<url::Url> {
        let mut url = self.server.clone();
        url.path_segments_mut()
            .map_err(|()| anyhow!("--server {} cannot take a path", self.server))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// One request; a non-2xx answer becomes an error carrying the server's `error.message`.
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.client.request(method, url).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach shophook at {} (is it running? set --server or SHOPHOOK_URL)",
                self.server
            )
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading the server's answer")?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let err = &value["error"];
            let message = err["message"].as_str().map_or_else(
                || String::from_utf8_lossy(&bytes).into_owned(),
                str::to_string,
            );
            match err["field"].as_str() {
                Some(field) => bail!("the server answered {status}: `{field}`: {message}"),
                None => bail!("the server answered {status}: {message}"),
            }
        }
        Ok(value)
    }
}
