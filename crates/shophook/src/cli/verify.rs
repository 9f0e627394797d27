//! `shophook verify`: checks one request's Standard Webhooks signature — the headers
//! as flags, the body on stdin read as raw bytes (nothing trimmed or re-encoded, since
//! one changed byte is a different signature). Prints `valid` and exits 0, or prints
//! `invalid: <why>` and exits 1.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use shophook_verify::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Secret};

/// `shophook verify`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Example (headers copied from `shophook listen` or your receiver's log):
  shophook verify --secret whsec_… \\
    --header webhook-id:dlv_01… --header webhook-timestamp:1767225600 \\
    --header 'webhook-signature:v1,K5o…=' < body.json

Exit status: 0 valid, 1 invalid (the reason is printed), 2 bad usage.")]
pub struct VerifyArgs {
    /// The webhook's secret: `whsec_…`, or the plain 16–128 character secret it was given.
    #[arg(long, env = "SHOPHOOK_WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub secret: Secret,
    /// A request header as NAME:VALUE (repeatable). webhook-id, webhook-timestamp and
    /// webhook-signature are used; others are ignored, so a whole header dump may be passed.
    #[arg(long = "header", short = 'H', value_name = "NAME:VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
}

/// `--secret` as a [`Secret`], with the reason when it is not one.
pub fn parse_secret(text: &str) -> Result<Secret, String> {
    Secret::parse(text.trim()).map_err(|e| e.to_string())
}

/// `name:value` → (lower-case name, trimmed value).
fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not NAME:VALUE, e.g. webhook-id:dlv_01…"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("`{text}` has no header name before the `:`"));
    }
    Ok((name.to_ascii_lowercase(), value.trim().to_string()))
}

/// Runs `shophook verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("reading the body from standard input (end it with Ctrl-D, or use `< file`)");
    }
    let mut body = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut body)
        .context("reading the body from standard input")?;
    // The last one given wins, like a repeated header in a request.
    let header = |name: &str| {
        args.headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    };
    match shophook_verify::verify_now(
        &args.secret,
        header(HEADER_ID),
        header(HEADER_TIMESTAMP),
        header(HEADER_SIGNATURE),
        &body,
    ) {
        Ok(()) => {
            println!("valid");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("invalid: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("Webhook-Signature: v1,abc= v1,def="),
            Ok(("webhook-signature".into(), "v1,abc= v1,def=".into()))
        );
        assert_eq!(
            parse_header("webhook-id:dlv_1"),
            Ok(("webhook-id".into(), "dlv_1".into()))
        );
        assert!(
            parse_header("webhook-id")
                .unwrap_err()
                .contains("NAME:VALUE")
        );
        assert!(parse_header(":x").is_err());
    }
}
