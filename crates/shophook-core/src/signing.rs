//! Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256("id.timestamp.body")>`).
//!
//! The rules live in the `shophook-verify` crate — the same code receivers use — so
//! what the server signs and what a receiver verifies cannot drift apart. This module
//! adds what only the server needs: generating secrets, validation errors in the API's
//! shape, and the multi-secret header of a rotation.
//!
//! A generated secret is `whsec_` + base64 of 24 random bytes, and its key is the
//! decoded bytes — what every Standard Webhooks library expects. A merchant may give
//! any 16–128 character string instead (the key an old receiver already checks);
//! its raw bytes are then the key.

use shophook_verify::SecretError;

use crate::FieldError;

pub use shophook_verify::{SECRET_PREFIX, TOLERANCE_SECS, VerifyError};

/// A webhook signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(shophook_verify::Secret);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// A new secret from 24 random bytes (the caller owns randomness).
    pub fn generate(random: [u8; 24]) -> Secret {
        Secret(shophook_verify::Secret::from_key(&random).expect("24 bytes are within 16–96"))
    }

    /// Parses a stored or merchant-given secret.
    pub fn parse(text: &str) -> Result<Secret, FieldError> {
        shophook_verify::Secret::parse(text)
            .map(Secret)
            .map_err(|e| {
                let message = match e {
                    SecretError::NotBase64 => "a `whsec_` secret must be followed by base64",
                    SecretError::KeyLength(_) => "a `whsec_` secret must hold 16–96 bytes",
                    SecretError::PlainText => {
                        "give a secret of 16–128 printable characters, or leave it out to get a generated `whsec_…` one"
                    }
                };
                FieldError::new("secret", "invalid_secret", message)
            })
    }

    /// The secret as the merchant sees it.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The HMAC key bytes.
    pub fn key(&self) -> &[u8] {
        self.0.key()
    }

    /// `v1,<base64>` over `msg_id.timestamp.body`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        self.0.sign(msg_id, timestamp, body)
    }

    /// The same secret as the receivers' crate sees it.
    pub fn as_verify(&self) -> &shophook_verify::Secret {
        &self.0
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

/// Verifies a Standard Webhooks signature header at time `now` (unix seconds),
/// accepting timestamps within 5 minutes. Comparison is constant-time.
/// (`shophook_verify::verify`, for a server-side [`Secret`].)
pub fn verify(
    secret: &Secret,
    msg_id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    shophook_verify::verify(&secret.0, msg_id, timestamp, signatures, body, now)
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
            Err(VerifyError::Stale {
                timestamp: 1614265330,
                now: 1614265330 + 301
            })
        );
    }

    #[test]
    fn secrets() {
        let g = Secret::generate([7; 24]);
        assert!(g.as_str().starts_with("whsec_"));
        assert_eq!(Secret::parse(g.as_str()).unwrap(), g);
        let raw = Secret::parse("my-old-receiver-key-123").unwrap();
        assert_eq!(raw.key(), b"my-old-receiver-key-123");
        for (bad, message) in [
            (
                "short",
                "give a secret of 16–128 printable characters, or leave it out to get a generated `whsec_…` one",
            ),
            ("whsec_!!!", "a `whsec_` secret must be followed by base64"),
            ("whsec_AAAA", "a `whsec_` secret must hold 16–96 bytes"),
        ] {
            let e = Secret::parse(bad).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.message.as_str()),
                ("secret", message),
                "{bad}"
            );
        }
        assert!(Secret::parse(&"x".repeat(129)).is_err());
        assert_eq!(format!("{g:?}"), "Secret(…)");
        let two = signature_header(&[&g, &raw], "m", 1, b"b");
        assert_eq!(two.split(' ').count(), 2);
    }
}
