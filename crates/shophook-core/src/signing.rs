//! Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256("id.timestamp.body")>`).
//!
//! A generated secret is `whsec_` + base64 of 24 random bytes, and its key is the
//! decoded bytes — what every Standard Webhooks library expects. A merchant may give
//! any 16–128 character string instead (the key an old receiver already checks);
//! its raw bytes are then the key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::FieldError;

/// A webhook signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    text: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Prefix of generated secrets.
pub const SECRET_PREFIX: &str = "whsec_";

impl Secret {
    /// A new secret from 24 random bytes (the caller owns randomness).
    pub fn generate(random: [u8; 24]) -> Secret {
        Secret {
            text: format!("{SECRET_PREFIX}{}", B64.encode(random)),
            key: random.to_vec(),
        }
    }

    /// Parses a stored or merchant-given secret.
    pub fn parse(text: &str) -> Result<Secret, FieldError> {
        if let Some(b64) = text.strip_prefix(SECRET_PREFIX) {
            let key = B64.decode(b64).map_err(|_| {
                FieldError::new(
                    "secret",
                    "invalid_secret",
                    "a `whsec_` secret must be followed by base64",
                )
            })?;
            if key.len() < 16 || key.len() > 96 {
                return Err(FieldError::new(
                    "secret",
                    "invalid_secret",
                    "a `whsec_` secret must hold 16–96 bytes",
                ));
            }
            return Ok(Secret {
                text: text.to_string(),
                key,
            });
        }
        let n = text.chars().count();
        if !(16..=128).contains(&n) || text.chars().any(char::is_control) {
            return Err(FieldError::new(
                "secret",
                "invalid_secret",
                "give a secret of 16–128 printable characters, or leave it out to get a generated `whsec_…` one",
            ));
        }
        Ok(Secret {
            text: text.to_string(),
            key: text.as_bytes().to_vec(),
        })
    }

    /// The secret as the merchant sees it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The HMAC key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// `v1,<base64>` over `msg_id.timestamp.body`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header value: one `v1,` entry per secret, space-separated
/// (two during a rotation overlap).
pub fn signature_header(secrets: &[&Secret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `v1,` entry matched.
    #[error("no signature matches the secret (wrong secret, or the body was changed)")]
    NoMatch,
    /// The timestamp is too far from now.
    #[error("timestamp {0} is more than 5 minutes from now (replayed or clock skew)")]
    Stale(i64),
    /// A header is missing or unreadable.
    #[error("malformed header: {0}")]
    Malformed(&'static str),
}

/// Verifies a Standard Webhooks signature header at time `now` (unix seconds),
/// accepting timestamps within 5 minutes. Comparison is constant-time.
pub fn verify(
    secret: &Secret,
    msg_id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::Malformed("webhook-timestamp is not a number"))?;
    if (now - ts).abs() > 300 {
        return Err(VerifyError::Stale(ts));
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.key()).expect("HMAC takes keys of any length");
    mac.update(format!("{msg_id}.{ts}.").as_bytes());
    mac.update(body);
    let mut any = false;
    for entry in signatures.split_whitespace() {
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
        Err(VerifyError::Malformed("webhook-signature has no v1, entry"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector published with the Standard Webhooks specification.
    #[test]
    fn standard_webhooks_vector() {
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = s.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        verify(
            &s,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            &format!("v1,bogus {sig}"),
            br#"{"test": 2432232314}"#,
            1614265400,
        )
        .unwrap();
        assert_eq!(
            verify(
                &s,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                &sig,
                b"{}",
                1614265330
            ),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(
                &s,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                &sig,
                br#"{"test": 2432232314}"#,
                1614265330 + 301
            ),
            Err(VerifyError::Stale(1614265330))
        );
    }

    #[test]
    fn secrets() {
        let g = Secret::generate([7; 24]);
        assert!(g.as_str().starts_with("whsec_"));
        assert_eq!(Secret::parse(g.as_str()).unwrap(), g);
        let raw = Secret::parse("my-old-receiver-key-123").unwrap();
        assert_eq!(raw.key(), b"my-old-receiver-key-123");
        assert!(Secret::parse("short").is_err());
        assert!(Secret::parse("whsec_!!!").is_err());
        assert!(Secret::parse(&"x".repeat(129)).is_err());
        assert_eq!(format!("{g:?}"), "Secret(…)");
        let two = signature_header(&[&g, &raw], "m", 1, b"b");
        assert_eq!(two.split(' ').count(), 2);
    }
}
