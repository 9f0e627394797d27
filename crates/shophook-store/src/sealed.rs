//! Secrets at rest: with an encryption key, webhook signing secrets and custom
//! header values are stored sealed with XChaCha20-Poly1305 (random 192-bit nonce
//! per value, so sealing the same secret twice gives different text). A sealed
//! value reads `enc:v1:<base64 of nonce ‖ ciphertext>`; anything else is a value
//! stored before a key was set, read as it is and sealed on its next write.
//!
//! Only the store sees sealed text: everything above it works with plain values.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::{StoreError, StoredWebhook};

const PREFIX: &str = "enc:v1:";
const NONCE: usize = 24;

/// Seals and opens stored secrets; without a key it stores them as they are.
#[derive(Clone, Default)]
pub struct Sealer {
    cipher: Option<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Sealer")
            .field("encrypts", &self.cipher.is_some())
            .finish()
    }
}

/// The stored forms of a webhook's secret fields.
pub(crate) struct SealedWebhook {
    pub secret: String,
    pub previous_secret: Option<String>,
    /// The config as JSON, header values sealed.
    pub config: String,
}

impl Sealer {
    /// No encryption: values are stored as they are.
    pub fn none() -> Sealer {
        Sealer { cipher: None }
    }

    /// A sealer with a 32-byte key given as base64 (`openssl rand -base64 32`).
    pub fn from_base64_key(key: &str) -> Result<Sealer, String> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| {
            "the encryption key is not base64; make one with `openssl rand -base64 32`".to_string()
        })?;
        if bytes.len() != 32 {
            return Err(format!(
                "the encryption key is {} bytes; it must be 32 (make one with `openssl rand -base64 32`)",
                bytes.len()
            ));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| "the encryption key must be 32 bytes".to_string())?;
        Ok(Sealer {
            cipher: Some(cipher),
        })
    }

    /// Whether values are encrypted.
    pub fn encrypts(&self) -> bool {
        self.cipher.is_some()
    }

    /// The stored form of `plain`.
    pub fn seal(&self, plain: &str) -> Result<String, StoreError> {
        let Some(cipher) = &self.cipher else {
            return Ok(plain.to_string());
        };
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(&nonce, plain.as_bytes())
                .map_err(|_| StoreError::Corrupt("a secret could not be encrypted".into()))?,
        );
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// The plain value of a stored one.
    pub fn open(&self, stored: &str) -> Result<String, StoreError> {
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let Some(cipher) = &self.cipher else {
            return Err(StoreError::Corrupt(
                "webhook secrets in the database are encrypted: start shophook with the same \
                 --encryption-key (SHOPHOOK_ENCRYPTION_KEY) they were written with"
                    .into(),
            ));
        };
        let wrong = || {
            StoreError::Corrupt(
                "an encrypted secret does not open with this --encryption-key".into(),
            )
        };
        let bytes = STANDARD.decode(b64).map_err(|_| wrong())?;
        if bytes.len() < NONCE {
            return Err(wrong());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE);
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| wrong())?;
        String::from_utf8(plain).map_err(|_| wrong())
    }

    /// Whether a stored value is still plain text although a key is set.
    pub fn needs_sealing(&self, stored: &str) -> bool {
        self.cipher.is_some() && !stored.starts_with(PREFIX)
    }

    /// The stored forms of a webhook's secret, previous secret and config.
    pub(crate) fn seal_webhook(&self, w: &StoredWebhook) -> Result<SealedWebhook, StoreError> {
        let mut config = w.config.clone();
        for value in config.headers.values_mut() {
            *value = self.seal(value)?;
        }
        Ok(SealedWebhook {
            secret: self.seal(&w.secret)?,
            previous_secret: w
                .previous_secret
                .as_deref()
                .map(|s| self.seal(s))
                .transpose()?,
            config: serde_json::to_string(&config)
                .map_err(|e| StoreError::Corrupt(format!("webhook config: {e}")))?,
        })
    }

    /// Opens what [`Sealer::seal_webhook`] stored into `w` (whose fields hold the
    /// stored text).
    pub(crate) fn open_webhook(&self, mut w: StoredWebhook) -> Result<StoredWebhook, StoreError> {
        w.secret = self.open(&w.secret)?;
        w.previous_secret = w
            .previous_secret
            .as_deref()
            .map(|s| self.open(s))
            .transpose()?;
        for value in w.config.headers.values_mut() {
            *value = self.open(value)?;
        }
        Ok(w)
    }

    /// Whether any of a webhook's stored secret fields is still plain text.
    pub(crate) fn webhook_needs_sealing(&self, stored: &StoredWebhook) -> bool {
        self.needs_sealing(&stored.secret)
            || stored
                .previous_secret
                .as_deref()
                .is_some_and(|s| self.needs_sealing(s))
            || stored
                .config
                .headers
                .values()
                .any(|v| self.needs_sealing(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

    #[test]
    fn seal_and_open() {
        let s = Sealer::from_base64_key(KEY).unwrap();
        let a = s.seal("whsec_abc").unwrap();
        let b = s.seal("whsec_abc").unwrap();
        assert!(a.starts_with(PREFIX) && !a.contains("whsec_abc"));
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(s.open(&a).unwrap(), "whsec_abc");
        assert_eq!(s.open("plain-before-a-key").unwrap(), "plain-before-a-key");
        assert!(s.needs_sealing("plain") && !s.needs_sealing(&a));
    }

    #[test]
    fn wrong_or_missing_key_is_a_clear_error() {
        let s = Sealer::from_base64_key(KEY).unwrap();
        let sealed = s.seal("secret").unwrap();
        let other = Sealer::from_base64_key(&STANDARD.encode([7u8; 32])).unwrap();
        let e = other.open(&sealed).unwrap_err().to_string();
        assert!(
            e.contains("does not open with this --encryption-key"),
            "{e}"
        );
        let e = Sealer::none().open(&sealed).unwrap_err().to_string();
        assert!(e.contains("start shophook with the same"), "{e}");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(
            s.open(&tampered).is_err(),
            "authenticated: a changed byte does not open"
        );
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(
            Sealer::from_base64_key("not base64!")
                .unwrap_err()
                .contains("openssl rand")
        );
        assert!(
            Sealer::from_base64_key(&STANDARD.encode([1u8; 16]))
                .unwrap_err()
                .contains("16 bytes")
        );
        assert!(!Sealer::none().encrypts());
        assert_eq!(Sealer::none().seal("x").unwrap(), "x");
    }
}
