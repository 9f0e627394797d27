//! Any JSON value, form-encoded: never a panic, and the body decodes back into
//! exactly the pairs that were encoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shophook_core::form;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let pairs = form::pairs(&value);
    let body = form::encode_pairs(&pairs);
    let back: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    assert_eq!(back, pairs);
});
