//! The flags of `serve` and `migrate`; every `serve` flag is also a `SHOPHOOK_*`
//! environment variable. The command line itself ([`crate::cli::Cli`]) is in `cli/`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ipnet::IpNet;
use shophook_core::retry::{DEFAULT_SCHEDULE, RetrySchedule, parse_duration};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `shophook serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SHOPHOOK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database URL: sqlite://FILE (default) or postgres://…
    #[arg(
        long,
        env = "SHOPHOOK_DATABASE",
        hide_env_values = true,
        default_value = "sqlite://shophook.db"
    )]
    pub database: String,
    /// Allow deliveries to loopback, private and other special addresses (development, tests).
    #[arg(long, env = "SHOPHOOK_ALLOW_PRIVATE_TARGETS")]
    pub allow_private_targets: bool,
    /// Allow deliveries to this range even if it is private (repeatable; comma-separated in the env var).
    #[arg(long, env = "SHOPHOOK_ALLOW_CIDR", value_delimiter = ',')]
    pub allow_cidr: Vec<IpNet>,
    /// Purge finished deliveries and their attempts after this many days.
    #[arg(long, env = "SHOPHOOK_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,
    /// The operator key. If unset, one is generated on first start, printed once and stored hashed.
    #[arg(long, env = "SHOPHOOK_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Delays between attempts, e.g. `5s,5m,30m,2h,5h,10h,10h` (after the last one a delivery is dead).
    #[arg(long, env = "SHOPHOOK_RETRY_SCHEDULE", default_value = DEFAULT_SCHEDULE, value_parser = RetrySchedule::parse)]
    pub retry_schedule: RetrySchedule,
    /// Most requests in flight at once, over all webhooks (the open-file limit is
    /// raised to fit at start-up).
    #[arg(long, env = "SHOPHOOK_CONCURRENCY", default_value_t = 1024)]
    pub concurrency: usize,
    /// Directory noting the templates being rendered, so a delivery whose template
    /// stopped the process is recorded dead rather than rendered again after a
    /// restart. Default: `<sqlite file>.rendering` next to an SQLite database;
    /// none on PostgreSQL unless set (one per node).
    #[arg(long, env = "SHOPHOOK_RENDER_JOURNAL")]
    pub render_journal: Option<PathBuf>,
    /// Most requests in flight at once for one account, over all its webhooks (an
    /// account's `limits.max_in_flight` may set it lower), so one account's slow
    /// receivers cannot take every slot.
    #[arg(long, env = "SHOPHOOK_ACCOUNT_CONCURRENCY", default_value_t = 256)]
    pub account_concurrency: usize,
    /// Most requests in flight at once to one webhook.
    #[arg(long, env = "SHOPHOOK_WEBHOOK_CONCURRENCY", default_value_t = 64)]
    pub webhook_concurrency: usize,
    /// Connect timeout of a delivery request.
    #[arg(long, env = "SHOPHOOK_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Whole-request timeout of a delivery request.
    #[arg(long, env = "SHOPHOOK_REQUEST_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// On shutdown, how long in-flight deliveries may finish before they are released.
    #[arg(long, env = "SHOPHOOK_SHUTDOWN_GRACE", default_value = "15s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// How long a claimed delivery stays claimed without an outcome. Longer than
    /// any request may take: when it ends, another node (or this one after a
    /// restart) sends the delivery again.
    #[arg(long, env = "SHOPHOOK_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub lease: Duration,
    /// Requests per second each account key may make (bursts up to twice that);
    /// more answer 429 with Retry-After. Per node; the operator key is not limited. 0: off.
    #[arg(long, env = "SHOPHOOK_API_RATE_LIMIT", default_value_t = 100)]
    pub api_rate_limit: u32,
    /// Most API connections open at once (the open-file limit is raised to fit,
    /// with --concurrency). Past it the connection idle the longest is closed to
    /// make room, so a new request, `/healthz` included, is always served.
    #[arg(long, env = "SHOPHOOK_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// An API connection with no request for this long is closed (a request's
    /// headers must arrive within 10 s, or this if shorter).
    #[arg(long, env = "SHOPHOOK_API_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub api_idle_timeout: Duration,
    /// A webhook whose every attempt has failed for this long is disabled, and
    /// `webhook.disabled` goes to its account's notify_url (`0s`: never disable).
    #[arg(long, env = "SHOPHOOK_DISABLE_AFTER", default_value = "5d", value_parser = parse_duration)]
    pub disable_after: Duration,
    /// Encrypt webhook secrets and custom header values in the database with this
    /// key: 32 random bytes as base64 (`openssl rand -base64 32`); the web UI's
    /// signing key is derived from it, so a database copy opens no session. Keep it:
    /// the secrets cannot be read without it.
    #[arg(long, env = "SHOPHOOK_ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<String>,
    /// Origins allowed to embed the web UI in a frame, e.g. `https://admin.example.com`
    /// (space- or comma-separated). Unset: no site may frame it (`X-Frame-Options: DENY`).
    #[arg(long, env = "SHOPHOOK_UI_FRAME_ANCESTORS", value_name = "ORIGINS", value_parser = FrameAncestors::parse)]
    pub ui_frame_ancestors: Option<FrameAncestors>,
    /// Mark the web UI's cookies `Secure` (browsers then send them over HTTPS only):
    /// set it when users reach shophook through HTTPS, e.g. behind a TLS proxy.
    #[arg(long, env = "SHOPHOOK_UI_SECURE_COOKIES")]
    pub ui_secure_cookies: bool,
    /// The name the web UI shows in its header and titles (an embedding platform's
    /// own), instead of "shophook".
    #[arg(long, env = "SHOPHOOK_UI_BRAND_NAME", value_name = "NAME")]
    pub ui_brand_name: Option<String>,
    /// The web UI's accent colour (buttons, links), as `#rrggbb`.
    #[arg(long, env = "SHOPHOOK_UI_BRAND_COLOR", value_name = "#RRGGBB")]
    pub ui_brand_color: Option<String>,
    /// A logo (.svg, .png or .jpg, at most 256 KiB) shown before the name.
    #[arg(long, env = "SHOPHOOK_UI_BRAND_LOGO", value_name = "FILE")]
    pub ui_brand_logo: Option<std::path::PathBuf>,
    /// Log format.
    #[arg(
        long,
        env = "SHOPHOOK_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: LogFormat,
}

/// `shophook migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Database URL: sqlite://FILE or postgres://…
    #[arg(
        long,
        env = "SHOPHOOK_DATABASE",
        hide_env_values = true,
        default_value = "sqlite://shophook.db"
    )]
    pub database: String,
}

/// The origins of `--ui-frame-ancestors`, checked so they are safe to put in a
/// `Content-Security-Policy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameAncestors(pub Vec<String>);

impl FrameAncestors {
    /// Parses origins separated by spaces or commas: `https://host[:port]` (a host
    /// may start with `*.`) or `'self'`.
    pub fn parse(value: &str) -> Result<FrameAncestors, String> {
        let origins: Vec<String> = value
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|o| !o.is_empty())
            .map(|o| o.trim_end_matches('/').to_string())
            .collect();
        if origins.is_empty() {
            return Err("give at least one origin, e.g. https://admin.example.com".into());
        }
        if let Some(bad) = origins.iter().find(|o| !is_frame_origin(o)) {
            return Err(format!(
                "`{bad}` is not an origin; give origins such as https://admin.example.com or \
                 https://*.example.com (scheme, host and optional port, no path), or 'self', \
                 separated by spaces or commas"
            ));
        }
        Ok(FrameAncestors(origins))
    }
}

impl std::fmt::Display for FrameAncestors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// `'self'` or `http(s)://host[:port]`, where the host is DNS characters with an
/// optional leading `*.`, or an IPv6 literal in brackets.
fn is_frame_origin(origin: &str) -> bool {
    if origin == "'self'" {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") || authority.is_empty() {
        return false;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    let port_ok = port.is_none_or(|p| {
        p == "*" || (!p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
    });
    let host_ok = if let Some(ip6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        ip6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        let name = host.strip_prefix("*.").unwrap_or(host);
        !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    port_ok && host_ok
}

/// A parsed `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, shared by any number of nodes (the URL as given).
    Postgres(String),
}

impl Database {
    /// Parses `sqlite://FILE`, `sqlite:FILE`, `postgres://…` and `postgresql://…`.
    pub fn parse(url: &str) -> Result<Database, String> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(
                    "`--database sqlite://` needs a file name, e.g. sqlite://shophook.db".into(),
                );
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if let Some(rest) = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
        {
            if rest.is_empty() {
                return Err("`--database postgres://` needs a server, e.g. postgres://user@localhost/shophook".into());
            }
            return Ok(Database::Postgres(url.to_string()));
        }
        Err(format!(
            "`{url}` is not a database URL; use sqlite://FILE or postgres://USER@HOST/DATABASE"
        ))
    }
}

impl std::fmt::Display for Database {
    /// The URL for logs: a PostgreSQL password is masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Database::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
                let (authority, tail) = rest.split_at(authority_end);
                match authority.rsplit_once('@') {
                    Some((user, host)) if user.contains(':') => {
                        let name = user.split(':').next().unwrap_or("");
                        write!(f, "{scheme}://{name}:***@{host}{tail}")
                    }
                    _ => f.write_str(url),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn defaults() {
        let cli = Cli::try_parse_from(["shophook", "serve"]).unwrap();
        let Command::Serve(a) = cli.command else {
            panic!("serve")
        };
        assert_eq!(a.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            Database::parse(&a.database).unwrap(),
            Database::Sqlite("shophook.db".into())
        );
        assert_eq!(a.retention_days, 30);
        assert!(!a.allow_private_targets);
        assert_eq!(a.retry_schedule, RetrySchedule::default());
    }

    #[test]
    fn flags() {
        let cli = Cli::try_parse_from([
            "shophook",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-cidr",
            "10.0.0.0/8",
            "--allow-cidr",
            "192.168.1.0/24",
            "--allow-private-targets",
            "--retry-schedule",
            "10ms,20ms",
            "--retention-days",
            "7",
        ])
        .unwrap();
        let Command::Serve(a) = cli.command else {
            panic!("serve")
        };
        assert_eq!(a.allow_cidr.len(), 2);
        assert!(a.allow_private_targets);
        assert_eq!(a.retry_schedule.max_attempts(), 3);
        assert!(Cli::try_parse_from(["shophook", "serve", "--allow-cidr", "nope"]).is_err());
        assert!(Database::parse("mysql://x").is_err());
        assert!(Database::parse("sqlite://").is_err());
        assert!(Database::parse("postgres://").is_err());
        assert_eq!(a.lease, Duration::from_secs(60), "the default lease");
    }

    #[test]
    fn frame_ancestors() {
        for (given, parsed) in [
            (
                "https://admin.example.com",
                vec!["https://admin.example.com"],
            ),
            (
                "https://a.example.com, https://*.b.example.com:8443 'self'",
                vec![
                    "https://a.example.com",
                    "https://*.b.example.com:8443",
                    "'self'",
                ],
            ),
            (
                "http://127.0.0.1:9000/,http://[::1]:80",
                vec!["http://127.0.0.1:9000", "http://[::1]:80"],
            ),
        ] {
            assert_eq!(FrameAncestors::parse(given).unwrap().0, parsed, "{given}");
        }
        for bad in [
            "",
            " , ",
            "admin.example.com",
            "https://admin.example.com/path",
            "https://evil.example; script-src *",
            "javascript://x",
            "https://",
            "https://a..b",
            "https://a.example:99999x",
            "'none'",
            "*",
        ] {
            let err = FrameAncestors::parse(bad).expect_err(bad);
            assert!(
                err.contains("origin"),
                "{bad}: the error says what to give: {err}"
            );
        }
        let cli = Cli::try_parse_from([
            "shophook",
            "serve",
            "--ui-frame-ancestors",
            "https://admin.example.com https://crm.example.com",
            "--ui-secure-cookies",
        ])
        .unwrap();
        let Command::Serve(a) = cli.command else {
            panic!("serve")
        };
        assert_eq!(
            a.ui_frame_ancestors.unwrap().to_string(),
            "https://admin.example.com https://crm.example.com"
        );
        assert!(a.ui_secure_cookies);
        assert!(Cli::try_parse_from(["shophook", "serve", "--ui-frame-ancestors", "x;y"]).is_err());
    }

    #[test]
    fn postgres_urls_and_lease() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://u:p@db.internal/shophook?sslmode=disable",
        ] {
            assert_eq!(
                Database::parse(url).unwrap(),
                Database::Postgres(url.to_string())
            );
        }
        assert_eq!(
            Database::parse("postgres://app:s3cret@db:5432/shop?sslmode=require")
                .unwrap()
                .to_string(),
            "postgres://app:***@db:5432/shop?sslmode=require",
            "passwords stay out of logs"
        );
        let cli = Cli::try_parse_from(["shophook", "serve", "--lease", "2s"]).unwrap();
        let Command::Serve(a) = cli.command else {
            panic!("serve")
        };
        assert_eq!(a.lease, Duration::from_secs(2));
    }
}
