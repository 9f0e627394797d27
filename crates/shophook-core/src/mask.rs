//! What history, logs and the UI may show of a request: credentials masked in URLs
//! (user info, Telegram bot tokens, `?token=`-like parameters), in header values
//! (a deny-list of names, and any value that looks like a credential), and in every
//! error text — which can quote the URL or a header — through [`Redactor`], which
//! knows the secrets of one request and removes each wherever it appears.

/// Query parameters whose values are credentials (matched as substrings of the
/// lowercased name).
const SECRET_PARAMS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "sig",
    "auth",
    "credential",
];

/// A URL as history and logs show it: a password in the user info, a Telegram
/// bot token (`/bot123:ABC…/`) and credential-like query parameters (`?token=…`,
/// `api_key`, `signature`…) are masked. Works on text, so URLs with unfilled
/// placeholders are masked too.
pub fn mask_url(url: &str) -> String {
    let (base, fragment) = url
        .split_once('#')
        .map_or((url, None), |(b, f)| (b, Some(f)));
    let (head, query) = base
        .split_once('?')
        .map_or((base, None), |(h, q)| (h, Some(q)));
    let mut out = String::with_capacity(url.len());
    let (scheme, rest) = head.split_once("://").map_or(("", head), |(s, r)| (s, r));
    if !scheme.is_empty() {
        out.push_str(scheme);
        out.push_str("://");
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let name = user.split(':').next().unwrap_or("");
            out.push_str(name);
            if user.contains(':') {
                out.push_str(":***");
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    let segments: Vec<String> = path
        .split('/')
        .map(
            |seg| match seg.strip_prefix("bot").and_then(|r| r.split_once(':')) {
                Some((id, _)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("bot{id}:***")
                }
                _ => seg.to_string(),
            },
        )
        .collect();
    out.push_str(&segments.join("/"));
    if let Some(q) = query {
        out.push('?');
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _))
                    if SECRET_PARAMS
                        .iter()
                        .any(|s| name.to_ascii_lowercase().contains(s)) =>
                {
                    format!("{name}=***")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Header names whose values are credentials (matched as substrings of the
/// lowercased name).
const SECRET_HEADERS: &[&str] = &[
    "auth",
    "cookie",
    "key",
    "token",
    "secret",
    "pass",
    "private",
    "access",
    "session",
    "credential",
    "signature-key",
];

/// Headers shophook itself sets that never carry a credential.
const PUBLIC_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "user-agent",
    "idempotency-key",
];

/// Whether a value looks like a credential whatever its header's name: an
/// authorization scheme, a known token prefix, or a long unbroken run of letters
/// and digits (both), as API keys are.
pub fn looks_like_credential(value: &str) -> bool {
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    let schemes = ["bearer ", "basic ", "token ", "digest ", "apikey "];
    let prefixes = [
        "whsec_", "sk_", "rk_", "pk_live", "ghp_", "gho_", "xox", "eyj", "akia",
    ];
    if schemes.iter().any(|s| lower.starts_with(s))
        || prefixes
            .iter()
            .any(|p| lower.starts_with(p) && v.len() >= 12)
    {
        return true;
    }
    v.len() >= 24
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.=+/".contains(&b))
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Whether a header's value is masked in history.
pub fn is_secret_header(name: &str, value: &str) -> bool {
    let n = name.to_ascii_lowercase();
    if PUBLIC_HEADERS.contains(&n.as_str()) {
        return false;
    }
    SECRET_HEADERS.iter().any(|s| n.contains(s)) || looks_like_credential(value)
}

/// A header value as history shows it: its first four characters of a credential.
pub fn mask(name: &str, value: &str) -> String {
    if is_secret_header(name, value) {
        let keep: String = value.chars().take(4).collect();
        format!("{keep}… (masked)")
    } else {
        value.to_string()
    }
}

/// The secrets of one request, to take out of any text about it.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// The credentials in `url` and `headers` (and any `extra`, e.g. the signing
    /// secret): masked header values (and the part after an auth scheme), URL
    /// passwords, credential query values, bot tokens.
    pub fn new<'a>(
        url: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        extra: &[&str],
    ) -> Redactor {
        let mut secrets: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for (name, value) in headers {
            if is_secret_header(name, value) {
                secrets.push(value.to_string());
                if let Some((_, rest)) = value.split_once(' ') {
                    secrets.push(rest.trim().to_string());
                }
            }
        }
        let shown = mask_url(url);
        if shown != url {
            // what masking took out of the URL: each differing piece
            let (mut a, mut b) = (url, shown.as_str());
            while !a.is_empty() {
                let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                a = &a[common..];
                b = &b[common..];
                let Some(star) = b.find("***") else { break };
                b = &b[star + 3..];
                // the secret runs to where the rest of the masked URL resumes
                let resume = b.chars().next();
                let end = match resume {
                    Some(c) => a.find(c).unwrap_or(a.len()),
                    None => a.len(),
                };
                secrets.push(a[..end].to_string());
                a = &a[end..];
            }
        }
        for s in secrets.clone() {
            // as it would appear percent-encoded in an error that quotes the URL
            let encoded: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            if encoded != s {
                secrets.push(encoded);
            }
        }
        secrets.retain(|s| s.len() >= 4);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every URL masked and every known secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = mask_urls_in(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

/// Every `http://` or `https://` URL in free text, masked as [`mask_url`] does.
pub fn mask_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["http://", "https://"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        out.push_str(&rest[..at]);
        let url_len = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | '`'))
            .unwrap_or(rest.len() - at);
        out.push_str(&mask_url(&rest[at..at + url_len]));
        rest = &rest[at + url_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking() {
        assert_eq!(mask("Authorization", "Bearer abcdef"), "Bear… (masked)");
        assert_eq!(mask("X-Api-Key", "k123456"), "k123… (masked)");
        assert_eq!(mask("webhook-signature", "v1,abc"), "v1,abc");
        assert_eq!(mask("X-Shop", "a"), "a");
        for name in [
            "X-Auth",
            "Private-Key",
            "X-Access-Key",
            "X-Pass",
            "X-Session",
        ] {
            assert_eq!(mask(name, "hunter2"), "hunt… (masked)", "{name}");
        }
        // a credential under an innocent name
        assert_eq!(mask("X-Shop-Ref", "Bearer abc"), "Bear… (masked)");
        assert_eq!(
            mask("X-Custom", "sk_live_51Hx0aZb2c3d4e5f"),
            "sk_l… (masked)"
        );
        assert_eq!(
            mask("X-Custom", "A1b2C3d4E5f6G7h8I9j0K1l2"),
            "A1b2… (masked)"
        );
        // ordinary values stay readable
        assert_eq!(mask("X-Shop", "shop-a.example"), "shop-a.example");
        assert_eq!(
            mask("webhook-id", "dlv_01JABCDEFGHJKMNPQRSTVWXYZ0"),
            "dlv_01JABCDEFGHJKMNPQRSTVWXYZ0"
        );
    }

    #[test]
    fn urls_keep_no_credentials() {
        for (url, shown) in [
            (
                "https://api.telegram.org/bot123456:AAE-xYz_987/sendMessage?chat_id=42",
                "https://api.telegram.org/bot123456:***/sendMessage?chat_id=42",
            ),
            (
                "https://user:pa55@hooks.example.com/in?order={id_order}&api_key=k1&Token=t2#x",
                "https://user:***@hooks.example.com/in?order={id_order}&api_key=***&Token=***#x",
            ),
            (
                "https://me@x.example/a?sig=1&n=2",
                "https://me@x.example/a?sig=***&n=2",
            ),
            (
                "http://127.0.0.1:9000/bots/1",
                "http://127.0.0.1:9000/bots/1",
            ),
            ("https://x.example/robot:1", "https://x.example/robot:1"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(mask_url(url), shown, "{url}");
        }
    }

    #[test]
    fn error_texts_lose_every_secret_of_their_request() {
        let url = "https://api.telegram.org/bot123456:AAE-xYz_98765/sendMessage?chat_id=42&api_key=k-planted-1";
        let r = Redactor::new(
            url,
            [
                ("X-Auth", "planted-header-2"),
                ("Authorization", "Bearer planted-3"),
                ("X-Shop", "a"),
            ],
            &["whsec_plantedsecret4"],
        );
        let error = format!(
            "error sending request for url ({url}): connection refused; header X-Auth: planted-header-2, token planted-3, whsec_plantedsecret4, encoded k%2Dplanted%2D1 AAE-xYz_98765"
        );
        let shown = r.redact(&error);
        for planted in [
            "AAE-xYz_98765",
            "k-planted-1",
            "planted-header-2",
            "planted-3",
            "plantedsecret4",
        ] {
            assert!(!shown.contains(planted), "{planted} in {shown}");
        }
        assert!(
            shown.contains(
                "https://api.telegram.org/bot123456:***/sendMessage?chat_id=42&api_key=***"
            ),
            "{shown}"
        );
        assert!(shown.contains("connection refused"), "{shown}");
        // text without secrets is left alone
        assert_eq!(
            Redactor::default().redact("could not connect: refused"),
            "could not connect: refused"
        );
        assert_eq!(
            mask_urls_in("see http://u:pw@x.example/a, then"),
            "see http://u:***@x.example/a, then"
        );
    }
}
