//! What the harness measures: server processes it started (on a temp SQLite
//! file or a fresh PostgreSQL database), or a server already running (--target).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::drive::Api;
use crate::server::{ADMIN_KEY, PgDatabase, ServerProcess};

/// Which database the started servers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// A temp SQLite file (one node).
    Sqlite,
    /// A fresh PostgreSQL database shared by `n` nodes.
    Postgres(usize),
}

/// Servers under test.
pub struct Deployment {
    /// Their API.
    pub api: Api,
    /// Their process ids (empty when unknown).
    pub pids: Vec<u32>,
    /// `sqlite`, `postgres` or `external`.
    pub database: String,
    /// The binary started, if any.
    pub binary: Option<PathBuf>,
    servers: Vec<ServerProcess>,
    pg: Option<PgDatabase>,
    _dir: Option<tempfile::TempDir>,
}

/// Parses `--target` (127.0.0.1 / localhost only: the harness never sends elsewhere).
pub fn target_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let hostport = rest.split('/').next().unwrap_or(rest);
    let hostport = hostport.replacen("localhost", "127.0.0.1", 1);
    let addr: SocketAddr = hostport
        .parse()
        .with_context(|| format!("--target {url}: expected http://127.0.0.1:PORT"))?;
    if !addr.ip().is_loopback() {
        bail!("--target {url}: only a server on this machine (127.0.0.1) may be driven");
    }
    Ok(addr)
}

impl Deployment {
    /// The running server of `--target`.
    pub fn external(url: &str, key: &str, pid: Option<u32>) -> anyhow::Result<Deployment> {
        Ok(Deployment {
            api: Api {
                nodes: vec![target_addr(url)?],
                key: key.to_string(),
            },
            pids: pid.into_iter().collect(),
            database: "external".into(),
            binary: None,
            servers: Vec::new(),
            pg: None,
            _dir: None,
        })
    }

    /// Starts `binary` on a fresh database. `n` numbers the PostgreSQL databases
    /// of one run.
    pub async fn start(
        binary: PathBuf,
        db: Db,
        pg_base: &str,
        n: u32,
        flags: &[String],
        log: &str,
    ) -> anyhow::Result<Deployment> {
        let (url, nodes, dir, pg) = match db {
            Db::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("shophook-bench-")
                    .tempdir()
                    .context("creating a temp dir")?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                (url, 1, Some(dir), None)
            }
            Db::Postgres(nodes) => {
                let pg = PgDatabase::create(pg_base, n).await?;
                (pg.url.clone(), nodes, None, Some(pg))
            }
        };
        let mut servers = Vec::new();
        for _ in 0..nodes {
            match ServerProcess::start(&binary, &url, flags, log) {
                Ok(s) => servers.push(s),
                Err(e) => {
                    drop(servers);
                    if let Some(pg) = pg {
                        let _ = pg.drop_database().await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(Deployment {
            api: Api {
                nodes: servers.iter().map(|s| s.addr).collect(),
                key: ADMIN_KEY.to_string(),
            },
            pids: servers.iter().map(ServerProcess::pid).collect(),
            database: if pg.is_some() { "postgres" } else { "sqlite" }.into(),
            binary: Some(binary),
            servers,
            pg,
            _dir: dir,
        })
    }

    /// The last log lines of each started server.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .map(ServerProcess::tail)
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    /// Stops the servers, then drops the PostgreSQL database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.servers.clear();
        if let Some(pg) = self.pg.take() {
            pg.drop_database().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_loopback_only() {
        assert_eq!(
            target_addr("http://127.0.0.1:8080").unwrap().to_string(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            target_addr("http://localhost:9/v1").unwrap().to_string(),
            "127.0.0.1:9"
        );
        assert!(target_addr("http://10.0.0.5:8080").is_err());
        assert!(target_addr("http://example.com").is_err());
    }
}
