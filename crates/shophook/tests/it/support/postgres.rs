//! PostgreSQL test databases: one fresh database per test, dropped at the end.

use std::process::{Command, Stdio};
use std::time::Duration;

/// Every test of this binary that uses PostgreSQL holds this lock, so a test that
/// restarts the server never runs beside another one.
pub static POSTGRES_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where PostgreSQL tests connect to create their databases.
pub fn postgres_base_url() -> String {
    shophook_testdb::base_url()
}

/// Whether `.ci/run` made PostgreSQL tests required.
pub fn postgres_required() -> bool {
    shophook_testdb::required()
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
        let admin_url = postgres_base_url();
        let name = shophook_testdb::unique_name("shophook_it");
        match shophook_testdb::create(&admin_url, &name, Duration::from_secs(5)).await {
            Ok(()) => {}
            Err(shophook_testdb::Error::Unreachable(why)) => {
                assert!(
                    !postgres_required(),
                    "SHOPHOOK_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at {admin_url}: {why}"
                );
                crate::skipped!("{suite} (start PostgreSQL or set SHOPHOOK_TEST_POSTGRES)");
                return None;
            }
            Err(e) => panic!("creating a test database: {e}"),
        }
        Some(TestDatabase {
            url: shophook_testdb::with_database(&admin_url, &name),
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
        if shophook_testdb::drop_blocking(&self.admin_url, &self.name).is_err() {
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
