//! Any template source, rendered with the sample context: never a panic, never more
//! output than the cap (fuel bounds the time).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shophook_core::template;

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let ctx = template::sample_context();
    if let Ok(out) = template::render(&source, &ctx) {
        assert!(out.len() <= template::MAX_OUTPUT);
    }
    let _ = template::check(&source);
});
