//! Ids and keys: prefixed ULIDs for records (sortable by creation time), random
//! bearer keys that are stored only as SHA-256 hashes.

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
