//! The database a run uses: an SQLite file in the working directory (kept across
//! restarts), or a fresh PostgreSQL database created on the given server and
//! dropped at the end.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection};

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
        let mut admin =
            tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(admin_url))
                .await
                .map_err(|_| anyhow::anyhow!("connection timed out"))
                .and_then(|r| r.map_err(anyhow::Error::from))
                .with_context(|| {
                    format!(
                        "connecting to PostgreSQL at {admin_url} (start it, or point --postgres / SHOPHOOK_TEST_POSTGRES at one)"
                    )
                })?;
        let name = format!(
            "shophook_crash_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .with_context(|| format!("creating the database {name}"))?;
        admin.close().await.ok();
        Ok(Database::Postgres {
            url: with_database(admin_url, &name),
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
            let mut admin = PgConnection::connect(&admin_url).await?;
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .with_context(|| format!("dropping the database {name}"))?;
            admin.close().await.ok();
        }
        Ok(())
    }
}

/// `url` with its database name replaced by `name` (query string kept).
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

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        for (url, want) in [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            (
                "postgres://postgres@127.0.0.1:5432",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            (
                "postgresql://u:p@db/shop?sslmode=disable",
                "postgresql://u:p@db/x?sslmode=disable",
            ),
        ] {
            assert_eq!(with_database(url, "x"), want, "{url}");
        }
    }
}
