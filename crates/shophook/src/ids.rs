//! Ids and keys: prefixed ULIDs for records (sortable by creation time), random
//! bearer keys that are stored only hashed — with a key derived from
//! `--encryption-key` when the server has one ([`KeyHasher`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new id with a prefix: `evt_01J…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

/// A new bearer key: `shk_` + 32 random bytes, URL-safe base64.
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("shk_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new web UI session id: 32 random bytes, URL-safe base64 (stored only hashed).
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256 of a key: what is stored and looked up. Keys are 256-bit random, so
/// a fast hash is enough (no password stretching needed).
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 24 random bytes for a webhook secret.
pub fn secret_bytes() -> [u8; 24] {
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// What the key-hashing key is derived from the encryption key for.
const KEY_HASH_LABEL: &[u8] = b"shophook key hash v1";

/// Hashes bearer keys (the operator's and the accounts') for storing and looking
/// up. With `--encryption-key` a hash is HMAC-SHA256 under a key derived from it,
/// so a copy of the database without the encryption key cannot even confirm a
/// guessed key; without one it is plain SHA-256. Hashes stored before the server
/// had an encryption key still match ([`KeyHasher::candidates`]).
#[derive(Clone, Default)]
pub struct KeyHasher {
    pepper: Option<[u8; 32]>,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyHasher")
            .field("keyed", &self.pepper.is_some())
            .finish()
    }
}

impl KeyHasher {
    /// A hasher keyed from a base64 encryption key (`None`: plain SHA-256).
    pub fn new(encryption_key: Option<&str>) -> Result<KeyHasher, String> {
        use base64::engine::general_purpose::STANDARD;
        use hmac::{Hmac, Mac};
        let Some(key) = encryption_key else {
            return Ok(KeyHasher::default());
        };
        let key = STANDARD
            .decode(key.trim())
            .map_err(|_| "the encryption key is not base64".to_string())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(KEY_HASH_LABEL);
        Ok(KeyHasher {
            pepper: Some(mac.finalize().into_bytes().into()),
        })
    }

    /// The hash a new key is stored under.
    pub fn hash(&self, key: &str) -> String {
        use hmac::{Hmac, Mac};
        match &self.pepper {
            Some(p) => {
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(p).expect("HMAC takes keys of any length");
                mac.update(key.as_bytes());
                mac.finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            }
            None => hash_key(key),
        }
    }

    /// The hashes a presented key may be stored under: the current one, then the
    /// plain SHA-256 of keys made before the server had an encryption key.
    pub fn candidates(&self, key: &str) -> Vec<String> {
        let mut out = vec![self.hash(key)];
        if self.pepper.is_some() {
            out.push(hash_key(key));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn keyed_hashes_need_the_encryption_key() {
        let plain = KeyHasher::new(None).unwrap();
        let keyed = KeyHasher::new(Some(KEY)).unwrap();
        let k = "shk_example";
        assert_eq!(plain.hash(k), hash_key(k));
        assert_ne!(
            keyed.hash(k),
            hash_key(k),
            "a database copy cannot confirm a guess"
        );
        assert_eq!(keyed.hash(k).len(), 64);
        assert_eq!(keyed.candidates(k), vec![keyed.hash(k), hash_key(k)]);
        assert_eq!(plain.candidates(k), vec![hash_key(k)]);
        let other = KeyHasher::new(Some("b3RoZXIga2V5IG9mIDMyIGJ5dGVzIGxvbmcgLi4uLi4=")).unwrap();
        assert_ne!(other.hash(k), keyed.hash(k));
        assert!(KeyHasher::new(Some("not base64!")).is_err());
    }
}
