//! Verify the signature of a webhook sent by shophook, in your Rust receiver.
//!
//! shophook signs every request the [Standard Webhooks](https://www.standardwebhooks.com/)
//! way: three headers,
//!
//! - `webhook-id` — the delivery id (stable across retries: use it to de-duplicate),
//! - `webhook-timestamp` — unix seconds when this attempt was signed,
//! - `webhook-signature` — `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`; after a
//!   secret rotation shophook sends two entries, space-separated, one per secret,
//!
//! keyed with the webhook's secret. This crate checks them: the HMAC (compared in
//! constant time), and that the timestamp is within 5 minutes of now, so a captured
//! request cannot be replayed later.
//!
//! Verify the body **exactly as received** (the raw bytes, before any JSON or form
//! parsing), and answer 2xx only after it verified.
//!
//! # A receiver in axum
//!
//! ```no_run
//! use axum::{Router, body::Bytes, extract::State, http::{HeaderMap, StatusCode}, routing::post};
//! use shophook_verify::{Secret, verify_headers_now};
//!
//! async fn receive(State(secret): State<Secret>, headers: HeaderMap, body: Bytes) -> StatusCode {
//!     match verify_headers_now(&secret, &headers, &body) {
//!         Ok(()) => { println!("{}", String::from_utf8_lossy(&body)); StatusCode::OK }
//!         Err(e) => { eprintln!("rejected: {e}"); StatusCode::UNAUTHORIZED }
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let secret = Secret::parse(&std::env::var("WEBHOOK_SECRET").unwrap()).unwrap();
//!     let app = Router::new().route("/webhooks", post(receive)).with_state(secret);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//!     axum::serve(listener, app).await.unwrap();
//! }
//! ```
//!
//! Without `http` types (feature `http`, on by default), pass the three header values
//! yourself to [`verify`] (with the time as a parameter, handy in tests) or
//! [`verify_now`].
//!
//! # Secrets
//!
//! A secret shophook generates looks like `whsec_<base64>`; the key is the decoded
//! bytes, as in every Standard Webhooks library. A merchant may also have given
//! shophook a plain string of 16–128 characters (for example the key an existing
//! receiver already checks); then its raw bytes are the key. [`Secret::parse`]
//! accepts both, with the same rules as the shophook server.

#![forbid(unsafe_code)]

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix of generated secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// How far (in seconds, either way) a `webhook-timestamp` may be from now.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// The three header names.
pub const HEADER_ID: &str = "webhook-id";
/// Unix seconds of the attempt.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Space-separated `v1,<base64>` entries.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// A webhook signing secret: the text as shown in shophook, and the HMAC key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    text: String,
    key: Vec<u8>,
}

impl fmt::Debug for Secret {
    // Never print the key (it ends up in logs otherwise).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Why a secret is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// `whsec_` followed by something that is not standard base64.
    NotBase64,
    /// `whsec_` followed by base64 of fewer than 16 or more than 96 bytes.
    KeyLength(usize),
    /// A plain secret shorter than 16 or longer than 128 characters, or with control
    /// characters.
    PlainText,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::NotBase64 => f.write_str("a `whsec_` secret must be followed by base64"),
            SecretError::KeyLength(n) => {
                write!(
                    f,
                    "a `whsec_` secret must hold 16–96 bytes (this one holds {n})"
                )
            }
            SecretError::PlainText => f.write_str(
                "a secret is `whsec_<base64>` or a string of 16–128 printable characters",
            ),
        }
    }
}

impl std::error::Error for SecretError {}

impl Secret {
    /// Parses a secret as shophook shows it: `whsec_<base64 of 16–96 bytes>`, or any
    /// 16–128 printable characters whose UTF-8 bytes are the key.
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        if let Some(b64) = text.strip_prefix(SECRET_PREFIX) {
            let key = B64.decode(b64).map_err(|_| SecretError::NotBase64)?;
            if !(16..=96).contains(&key.len()) {
                return Err(SecretError::KeyLength(key.len()));
            }
            return Ok(Secret {
                text: text.to_string(),
                key,
            });
        }
        let n = text.chars().count();
        if !(16..=128).contains(&n) || text.chars().any(char::is_control) {
            return Err(SecretError::PlainText);
        }
        Ok(Secret {
            text: text.to_string(),
            key: text.as_bytes().to_vec(),
        })
    }

    /// A `whsec_` secret for these key bytes (16–96 of them).
    pub fn from_key(key: &[u8]) -> Result<Secret, SecretError> {
        if !(16..=96).contains(&key.len()) {
            return Err(SecretError::KeyLength(key.len()));
        }
        Ok(Secret {
            text: format!("{SECRET_PREFIX}{}", B64.encode(key)),
            key: key.to_vec(),
        })
    }

    /// The secret as shophook shows it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The HMAC key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `v1,<base64>` signature of `msg_id.timestamp.body` (one entry of the
    /// `webhook-signature` header). Receivers need it only in their tests.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(msg_id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", B64.encode(tag))
    }
}

impl std::str::FromStr for Secret {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Secret, SecretError> {
        Secret::parse(s)
    }
}

/// Why a request did not verify. The `Display` text says what to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// One of the three headers is absent (or empty); the header name.
    MissingHeader(&'static str),
    /// A header is present but cannot be read: the header name and what is wrong.
    Malformed(&'static str, String),
    /// The timestamp is more than [`TOLERANCE_SECS`] away from now.
    Stale {
        /// The `webhook-timestamp`.
        timestamp: i64,
        /// The time it was checked at.
        now: i64,
    },
    /// There are `v1,` entries, but none matches this secret and body.
    NoMatch,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingHeader(h) => write!(f, "malformed header: `{h}` is missing"),
            VerifyError::Malformed(h, why) => write!(f, "malformed header: `{h}` {why}"),
            VerifyError::Stale { timestamp, now } => {
                let (n, dir) = if timestamp <= now {
                    (now - timestamp, "old")
                } else {
                    (timestamp - now, "in the future")
                };
                write!(
                    f,
                    "timestamp outside the 5-minute tolerance: {timestamp} is {n} s {dir} (a replayed request, or a clock out of sync)"
                )
            }
            VerifyError::NoMatch => f.write_str(
                "bad signature: no `v1,` entry matches this secret (wrong secret, or the body was changed — verify the raw bytes as received)",
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Verifies the three header values and the raw body at time `now` (unix seconds).
///
/// Checks, in this order: the timestamp is an integer within [`TOLERANCE_SECS`] of
/// `now`; the signature header has at least one `v1,` entry; one of them is the
/// HMAC-SHA256 of `id.timestamp.body` under `secret` (constant-time comparison).
/// Entries of other versions are ignored, as the specification asks.
pub fn verify(
    secret: &Secret,
    msg_id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    if msg_id.is_empty() {
        return Err(VerifyError::MissingHeader(HEADER_ID));
    }
    let timestamp = timestamp.trim();
    if timestamp.is_empty() {
        return Err(VerifyError::MissingHeader(HEADER_TIMESTAMP));
    }
    let ts: i64 = timestamp.parse().map_err(|_| {
        VerifyError::Malformed(
            HEADER_TIMESTAMP,
            format!("is `{timestamp}`, not unix seconds"),
        )
    })?;
    if now.abs_diff(ts) > TOLERANCE_SECS.unsigned_abs() {
        return Err(VerifyError::Stale { timestamp: ts, now });
    }
    if signature.trim().is_empty() {
        return Err(VerifyError::MissingHeader(HEADER_SIGNATURE));
    }
    let mac = secret.mac(msg_id, ts, body);
    let mut any = false;
    for entry in signature.split_whitespace() {
        let Some(sig) = entry.strip_prefix("v1,") else {
            continue;
        };
        any = true;
        if let Ok(bytes) = B64.decode(sig)
            && mac.clone().verify_slice(&bytes).is_ok()
        {
            return Ok(());
        }
    }
    if any {
        Err(VerifyError::NoMatch)
    } else {
        Err(VerifyError::Malformed(
            HEADER_SIGNATURE,
            "has no `v1,<base64>` entry".to_string(),
        ))
    }
}

/// [`verify`] at the current system time.
pub fn verify_now(
    secret: &Secret,
    msg_id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
) -> Result<(), VerifyError> {
    verify(secret, msg_id, timestamp, signature, body, unix_now())
}

/// The system clock in unix seconds (0 if it is before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// [`verify`] reading the three headers from an `http::HeaderMap` (axum, hyper,
/// reqwest), at time `now`.
#[cfg(feature = "http")]
pub fn verify_headers(
    secret: &Secret,
    headers: &http::HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let get = |name: &'static str| -> Result<&str, VerifyError> {
        match headers.get(name) {
            None => Err(VerifyError::MissingHeader(name)),
            Some(v) => v
                .to_str()
                .map_err(|_| VerifyError::Malformed(name, "is not visible ASCII".to_string())),
        }
    };
    verify(
        secret,
        get(HEADER_ID)?,
        get(HEADER_TIMESTAMP)?,
        get(HEADER_SIGNATURE)?,
        body,
        now,
    )
}

/// [`verify_headers`] at the current system time.
#[cfg(feature = "http")]
pub fn verify_headers_now(
    secret: &Secret,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), VerifyError> {
    verify_headers(secret, headers, body, unix_now())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    // The test vector published with the Standard Webhooks specification.
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn check(timestamp: &str, signature: &str, body: &[u8], now: i64) -> Result<(), VerifyError> {
        verify(
            &Secret::parse(SECRET).unwrap(),
            ID,
            timestamp,
            signature,
            body,
            now,
        )
    }

    #[test]
    fn standard_webhooks_vector() {
        assert_eq!(Secret::parse(SECRET).unwrap().sign(ID, TS, BODY), SIG);
        let ts = &TS.to_string();
        let ok: Result<(), VerifyError> = Ok(());
        let stale = |now| Err(VerifyError::Stale { timestamp: TS, now });
        // (webhook-timestamp, webhook-signature, body, now, expected)
        type Case<'a> = (&'a str, &'a str, &'a [u8], i64, Result<(), VerifyError>);
        let table: &[Case] = &[
            (ts, SIG, BODY, TS, ok.clone()),
            (ts, SIG, BODY, TS + 300, ok.clone()),
            (ts, SIG, BODY, TS - 300, ok.clone()),
            (ts, SIG, BODY, TS + 301, stale(TS + 301)),
            (ts, SIG, BODY, TS - 301, stale(TS - 301)),
            // a rotation: the old secret's entry first, ours second
            (ts, &format!("v1,AAAA {SIG}"), BODY, TS, ok.clone()),
            // other versions are skipped, not errors
            (ts, &format!("v1a,xyz {SIG}"), BODY, TS, ok.clone()),
            (ts, SIG, b"{}", TS, Err(VerifyError::NoMatch)),
            (ts, "v1,not*base64", BODY, TS, Err(VerifyError::NoMatch)),
            (" 1614265330 ", SIG, BODY, TS, ok.clone()),
            (
                "",
                SIG,
                BODY,
                TS,
                Err(VerifyError::MissingHeader(HEADER_TIMESTAMP)),
            ),
            (
                ts,
                "  ",
                BODY,
                TS,
                Err(VerifyError::MissingHeader(HEADER_SIGNATURE)),
            ),
            (
                "1614265330.5",
                SIG,
                BODY,
                TS,
                Err(VerifyError::Malformed(
                    HEADER_TIMESTAMP,
                    "is `1614265330.5`, not unix seconds".into(),
                )),
            ),
            (
                ts,
                "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                BODY,
                TS,
                Err(VerifyError::Malformed(
                    HEADER_SIGNATURE,
                    "has no `v1,<base64>` entry".into(),
                )),
            ),
        ];
        for (timestamp, signature, body, now, expect) in table {
            assert_eq!(
                &check(timestamp, signature, body, *now),
                expect,
                "{timestamp} {signature} at {now}"
            );
        }
        assert_eq!(
            verify(&Secret::parse(SECRET).unwrap(), "", ts, SIG, BODY, TS),
            Err(VerifyError::MissingHeader(HEADER_ID))
        );
    }

    #[test]
    fn messages_say_what_is_wrong() {
        let e = |r: Result<(), VerifyError>| r.unwrap_err().to_string();
        assert_eq!(
            e(check("1614265000", SIG, BODY, 1614265400)),
            "timestamp outside the 5-minute tolerance: 1614265000 is 400 s old (a replayed request, or a clock out of sync)"
        );
        assert!(e(check("1614265900", SIG, BODY, 1614265400)).contains("500 s in the future"));
        assert!(e(check("1614265330", SIG, b"x", TS)).starts_with("bad signature"));
        assert_eq!(
            e(check("", SIG, BODY, TS)),
            "malformed header: `webhook-timestamp` is missing"
        );
    }

    #[test]
    fn secrets() {
        let g = Secret::from_key(&[7; 24]).unwrap();
        assert!(g.as_str().starts_with("whsec_"));
        assert_eq!(Secret::parse(g.as_str()).unwrap(), g);
        assert_eq!(g.as_str().parse::<Secret>().unwrap(), g);
        let raw = Secret::parse("my-old-receiver-key-123").unwrap();
        assert_eq!(raw.key(), b"my-old-receiver-key-123");
        assert_eq!(Secret::parse("ŁódźŁódźŁódźŁódź").unwrap().key().len(), 28);
        assert_eq!(Secret::parse("short"), Err(SecretError::PlainText));
        assert_eq!(Secret::parse(&"x".repeat(129)), Err(SecretError::PlainText));
        assert!(Secret::parse(&"x".repeat(128)).is_ok());
        assert_eq!(
            Secret::parse("sixteen-chars\n-with-newline"),
            Err(SecretError::PlainText)
        );
        assert_eq!(Secret::parse("whsec_!!!"), Err(SecretError::NotBase64));
        assert_eq!(Secret::parse("whsec_AAAA"), Err(SecretError::KeyLength(3)));
        assert_eq!(Secret::from_key(&[1; 97]), Err(SecretError::KeyLength(97)));
        assert_eq!(format!("{g:?}"), "Secret(…)");
        // a raw secret signs with its bytes, exactly like a whsec_ one with the same key
        let same = Secret::from_key(b"my-old-receiver-key-123").unwrap();
        assert_eq!(raw.sign("m", 1, b"b"), same.sign("m", 1, b"b"));
    }

    #[cfg(feature = "http")]
    #[test]
    fn header_map() {
        let secret = Secret::parse(SECRET).unwrap();
        let mut h = http::HeaderMap::new();
        assert_eq!(
            verify_headers(&secret, &h, BODY, TS),
            Err(VerifyError::MissingHeader(HEADER_ID))
        );
        h.insert("webhook-id", ID.parse().unwrap());
        h.insert("Webhook-Timestamp", TS.to_string().parse().unwrap());
        h.insert("webhook-signature", SIG.parse().unwrap());
        assert_eq!(verify_headers(&secret, &h, BODY, TS), Ok(()));
        h.insert(
            "webhook-signature",
            http::HeaderValue::from_bytes(b"v1,\xff").unwrap(),
        );
        assert_eq!(
            verify_headers(&secret, &h, BODY, TS),
            Err(VerifyError::Malformed(
                HEADER_SIGNATURE,
                "is not visible ASCII".into()
            ))
        );
    }
}
