//! The server under test: the real `shophook serve` binary as a child process
//! on a free port, on a fresh temp SQLite file or a fresh PostgreSQL database
//! that the harness creates and drops.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

/// The operator key the harness gives the servers it starts.
pub const ADMIN_KEY: &str = "shophook-bench-operator-key-0123456789";

/// `shophook` next to this executable (same target dir), unless `given`.
pub fn find_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        bail!("--shophook {}: no such file", p.display());
    }
    let exe = std::env::current_exe().context("locating the bench executable")?;
    let beside = exe.with_file_name("shophook");
    if beside.is_file() {
        return Ok(beside);
    }
    bail!(
        "no shophook binary at {}; build both first: cargo build --release -p shophook -p shophook-bench \
         (or pass --shophook PATH, or --target URL --key K for a running server)",
        beside.display()
    )
}

/// A running `shophook serve`; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// Where its API listens.
    pub addr: SocketAddr,
    log_tail: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Starts `binary serve` on `database` with `extra` flags and waits for its
    /// "API at" line (PostgreSQL migrations may take a few seconds).
    pub fn start(
        binary: &Path,
        database: &str,
        extra: &[String],
        log_level: &str,
    ) -> anyhow::Result<ServerProcess> {
        let mut child = Command::new(binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--database", database, "--allow-private-targets"])
            .args(extra)
            .env("SHOPHOOK_ADMIN_KEY", ADMIN_KEY)
            .env("SHOPHOOK_LOG", log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stderr = child.stderr.take().context("server stderr")?;
        let log_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = log_tail.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the log to the end, so the server never blocks on a full pipe;
        // keeps the last lines for error messages.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.split("API at http://").nth(1) {
                    let addr: String = rest.chars().take_while(|c| *c != '/').collect();
                    let _ = tx.send(addr);
                    sent = true;
                }
                if let Ok(mut t) = tail.lock() {
                    if t.len() == 20 {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        });
        let mut server = ServerProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_tail,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => {
                server.addr = addr
                    .parse()
                    .with_context(|| format!("server printed a bad address `{addr}`"))?;
                Ok(server)
            }
            Err(_) => Err(anyhow!(
                "{} did not start within 60 s; its last log lines:\n{}",
                binary.display(),
                server.tail()
            )),
        }
    }

    /// The process id (for /proc readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's last log lines.
    pub fn tail(&self) -> String {
        self.log_tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh PostgreSQL database; call [`PgDatabase::drop_database`] when done.
pub struct PgDatabase {
    /// Its URL, for `--database`.
    pub url: String,
    base: String,
    name: String,
}

impl PgDatabase {
    /// Creates `shophook_bench_<pid>_<n>` on the server of `base`.
    pub async fn create(base: &str, n: u32) -> anyhow::Result<PgDatabase> {
        let name = format!("shophook_bench_{}_{n}", std::process::id());
        shophook_testdb::create(base, &name, Duration::from_secs(5))
            .await
            .with_context(|| {
                format!("creating database {name} on PostgreSQL at {base} (set --postgres URL)")
            })?;
        Ok(PgDatabase {
            url: shophook_testdb::with_database(base, &name),
            base: base.to_string(),
            name,
        })
    }

    /// Drops the database (and any connection still open to it).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        shophook_testdb::drop_database(&self.base, &self.name)
            .await
            .with_context(|| format!("dropping database {}", self.name))
    }
}
