//! What protects the web UI beyond its sessions: the secret that signs cookies,
//! CSRF tokens and portal links.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shophook_store::{Store, StoreError};
use tokio::sync::OnceCell;

/// The settings key of the UI secret when there is no encryption key.
const SECRET_SETTING: &str = "ui_session_secret";
/// What the UI secret is derived from the encryption key for (a new label gives
/// an unrelated secret, which would end every session and portal link).
const DERIVATION_LABEL: &[u8] = b"shophook ui session v1";

/// The key that signs UI cookies, CSRF tokens and portal links.
///
/// With `--encryption-key` it is HMAC-SHA256(encryption key, "shophook ui session
/// v1") and exists only in memory: a copy of the database without the encryption
/// key cannot sign a cookie or a portal link. Without one it is a random value
/// stored in the settings on first use (shared by every node of the database).
pub struct UiSecret(OnceCell<Vec<u8>>);

impl UiSecret {
    /// The secret derived from a base64 encryption key (`openssl rand -base64 32`).
    pub fn derived(encryption_key: &str) -> Result<UiSecret, String> {
        let key = STANDARD
            .decode(encryption_key.trim())
            .map_err(|_| "the encryption key is not base64".to_string())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(DERIVATION_LABEL);
        let secret = mac.finalize().into_bytes().to_vec();
        Ok(UiSecret(OnceCell::new_with(Some(secret))))
    }

    /// The secret kept in the settings, read (or created) on first use.
    pub fn stored() -> UiSecret {
        UiSecret(OnceCell::new())
    }

    /// The secret. A stored one never changes once written (insert-if-absent), so
    /// it is read once.
    pub async fn get(&self, store: &dyn Store) -> Result<Vec<u8>, StoreError> {
        self.0
            .get_or_try_init(|| async {
                if let Some(s) = store.setting(SECRET_SETTING).await? {
                    return Ok(s.into_bytes());
                }
                let fresh = crate::ids::new_key();
                store.init_setting(SECRET_SETTING, &fresh).await?;
                Ok(store
                    .setting(SECRET_SETTING)
                    .await?
                    .unwrap_or(fresh)
                    .into_bytes())
            })
            .await
            .cloned()
    }
}

/// The UI's security settings, from `serve` flags.
pub struct UiSecurity {
    /// Signs cookies, CSRF tokens and portal links.
    pub secret: UiSecret,
}

impl UiSecurity {
    /// From the flags: the encryption key, if any.
    pub fn new(encryption_key: Option<&str>) -> Result<UiSecurity, String> {
        let secret = match encryption_key {
            Some(key) => UiSecret::derived(key)?,
            None => UiSecret::stored(),
        };
        Ok(UiSecurity { secret })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_secret_depends_only_on_the_key() {
        let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let other = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
        let a = UiSecret::derived(key).unwrap().0.get().cloned().unwrap();
        let b = UiSecret::derived(key).unwrap().0.get().cloned().unwrap();
        let c = UiSecret::derived(other).unwrap().0.get().cloned().unwrap();
        assert_eq!(a, b, "every node derives the same secret");
        assert_ne!(a, c);
        assert_eq!(a.len(), 32);
        assert!(UiSecret::derived("not base64!").is_err());
    }
}
