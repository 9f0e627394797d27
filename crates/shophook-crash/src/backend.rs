//! The database a run uses: an SQLite file in the working directory (kept across
//! restarts), or a fresh PostgreSQL database created on the given server and
//! dropped at the end.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

/// A run's database.
pub enum Database {
    /// An SQLite file.
    Sqlite {
        /// `sqlite://…`.
        url: String,
    },
    /// A database of its own on a PostgreSQL server.
    Postgres {
        /// The database's URL.
        url: String,
        /// The server's base URL (to drop it from).
        admin_url: String,
        /// Its name.
        name: String,
    },
}

impl Database {
    /// An SQLite file in `dir`.
    pub fn sqlite(dir: &Path) -> Database {
        Database::Sqlite {
            url: format!("sqlite://{}", dir.join("shophook.db").display()),
        }
    }

    /// Creates `shophook_crash_<ulid>` on the server at `admin_url`.
    pub async fn postgres(admin_url: &str) -> anyhow::Result<Database> {
        let name = shophook_testdb::unique_name("shophook_crash");
        shophook_testdb::create(admin_url, &name, Duration::from_secs(10))
            .await
            .with_context(|| {
                format!(
                    "creating the database {name} on PostgreSQL at {admin_url} (start it, or point --postgres / SHOPHOOK_TEST_POSTGRES at one)"
                )
            })?;
        Ok(Database::Postgres {
            url: shophook_testdb::with_database(admin_url, &name),
            admin_url: admin_url.to_string(),
            name,
        })
    }

    /// The URL for `--database`.
    pub fn url(&self) -> &str {
        match self {
            Database::Sqlite { url } | Database::Postgres { url, .. } => url,
        }
    }

    /// Drops a PostgreSQL database (connections and all); an SQLite file goes
    /// with its directory.
    pub async fn remove(self) -> anyhow::Result<()> {
        if let Database::Postgres {
            admin_url, name, ..
        } = self
        {
            shophook_testdb::drop_database(&admin_url, &name)
                .await
                .with_context(|| format!("dropping the database {name}"))?;
        }
        Ok(())
    }
}
