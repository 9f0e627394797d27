//! Throwaway PostgreSQL databases, for the store's conformance suite, the server's
//! integration tests, the crash harness and the bench: where to connect
//! (`SHOPHOOK_TEST_POSTGRES`), whether PostgreSQL is required
//! (`SHOPHOOK_REQUIRE_POSTGRES=1`), a database created fresh and dropped with every
//! connection still open to it. Not part of the server.

#![warn(missing_docs)]

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

/// The server PostgreSQL tests connect to: `SHOPHOOK_TEST_POSTGRES`, else the
/// local one (`postgres://postgres@127.0.0.1:5432/test`).
pub fn base_url() -> String {
    std::env::var("SHOPHOOK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Whether a missing PostgreSQL is a failure (`SHOPHOOK_REQUIRE_POSTGRES=1`, as CI
/// sets) rather than a skip.
pub fn required() -> bool {
    std::env::var("SHOPHOOK_REQUIRE_POSTGRES").as_deref() == Ok("1")
}

/// `url` with its database replaced by `name` (its query string kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let server = match base.rfind('/') {
        Some(i) if i > base.find("//").map_or(0, |j| j + 1) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// A name no other run uses: `<prefix>_<ulid>`, lowercase.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Why a database could not be made.
#[derive(Debug)]
pub enum Error {
    /// PostgreSQL did not answer (or refused the connection): the text says why.
    Unreachable(String),
    /// A statement failed.
    Sql(sqlx::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unreachable(why) => write!(f, "PostgreSQL is unreachable: {why}"),
            Error::Sql(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

async fn connect(admin_url: &str, within: Duration) -> Result<PgConnection, Error> {
    match tokio::time::timeout(within, PgConnection::connect(admin_url)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(Error::Unreachable(e.to_string())),
        Err(_) => Err(Error::Unreachable(format!(
            "no answer within {} s",
            within.as_secs()
        ))),
    }
}

/// Creates the database `name` on the server of `admin_url` (dropping one left
/// by an earlier run of the same name first); gives up after `within` when the
/// server does not answer.
pub async fn create(admin_url: &str, name: &str, within: Duration) -> Result<(), Error> {
    let mut admin = connect(admin_url, within).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await
        .map_err(Error::Sql)?;
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .map_err(Error::Sql)?;
    admin.close().await.ok();
    Ok(())
}

/// Drops the database `name`, with every connection still open to it.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(admin_url).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await?;
    admin.close().await.ok();
    Ok(())
}

/// [`drop_database`] from synchronous code — a `Drop` impl, which may run inside
/// a runtime: on a thread of its own with its own runtime.
pub fn drop_blocking(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let (url, name) = (admin_url.to_string(), name.to_string());
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(drop_database(&url, &name))
    })
    .join()
    .unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_server_and_query() {
        for (url, want) in [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            (
                "postgres://u@h/test?sslmode=disable",
                "postgres://u@h/x?sslmode=disable",
            ),
            ("postgres://u@h", "postgres://u@h/x"),
            (
                "postgresql://u:p@db/shop?sslmode=disable",
                "postgresql://u:p@db/x?sslmode=disable",
            ),
        ] {
            assert_eq!(with_database(url, "x"), want, "{url}");
        }
        assert_ne!(unique_name("t"), unique_name("t"));
    }
}
