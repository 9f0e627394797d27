//! PostgreSQL test databases: one fresh database per test, dropped at the end.

use std::process::{Command, Stdio};
use std::time::Duration;

/// Every test of this binary that uses PostgreSQL holds this lock, so a test that
/// restarts the server never runs beside another one.
pub static POSTGRES_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where PostgreSQL tests connect to create their databases.
pub fn postgres_base_url() -> String {
    std::env::var("SHOPHOOK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Whether `.ci/run` made PostgreSQL tests required.
pub fn postgres_required() -> bool {
    std::env::var("SHOPHOOK_REQUIRE_POSTGRES").as_deref() == Ok("1")
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
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

/// A fresh PostgreSQL database for one test, dropped (connections and all) with it.
pub struct TestDatabase {
    /// The database's URL, for `--database`.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// A new empty database, or `None` after printing why when PostgreSQL is
    /// unreachable (a failure instead with `SHOPHOOK_REQUIRE_POSTGRES=1`).
    pub async fn create(suite: &str) -> Option<TestDatabase> {
        use sqlx::{Connection, Executor};
        let admin_url = postgres_base_url();
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(&admin_url),
        )
        .await;
        let mut admin = match connected {
            Ok(Ok(c)) => c,
            other => {
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "connection timed out".to_string(),
                };
                assert!(
                    !postgres_required(),
                    "SHOPHOOK_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at {admin_url}: {why}"
                );
                eprintln!("skipped: {suite} (start PostgreSQL or set SHOPHOOK_TEST_POSTGRES)");
                return None;
            }
        };
        let name = format!(
            "shophook_it_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("creating a test database");
        admin.close().await.ok();
        Some(TestDatabase {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }

    /// Runs one statement on the server (from the base database, not this one).
    pub async fn admin_query(&self, sql: String) -> Result<u64, sqlx::Error> {
        use sqlx::{Connection, Executor};
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        let done = admin.execute(sqlx::AssertSqlSafe(sql)).await?;
        admin.close().await.ok();
        Ok(done.rows_affected())
    }

    /// Lets clients connect to this database again, or refuses every new
    /// connection (as a database that is down would); existing ones stay.
    pub async fn allow_connections(&self, allowed: bool) -> Result<u64, sqlx::Error> {
        self.admin_query(format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allowed}",
            self.name
        ))
        .await
    }

    /// Kills every connection to this database (as if the server had dropped
    /// them); returns how many there were.
    pub async fn terminate_connections(&self) -> Result<u64, sqlx::Error> {
        self.admin_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        ))
        .await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            use sqlx::{Connection, Executor};
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&url).await?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await?;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// Runs `pg_ctlcluster --skip-systemctl-redirect 15 main <action>` (the local
/// PostgreSQL 15 of the dev machines and CI); whether it succeeded.
pub fn pg_ctlcluster(action: &[&str]) -> bool {
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", "15", "main"])
        .args(action)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
