//! One `shophook serve` child process on a fixed port: started, awaited until it
//! says it listens, SIGKILLed, started again on the same database and port. Its
//! log lines are appended to a file in the working directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a start may take before the run gives up (a debug build migrating a
/// fresh PostgreSQL database on a busy machine takes a few seconds).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The operator key every node is started with.
pub const ADMIN_KEY: &str = "crash-harness-operator-key-0123456789";

/// What a node is started with.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The `shophook` binary.
    pub binary: PathBuf,
    /// `--database`.
    pub database: String,
    /// The fixed port it listens on, so clients find it again after a restart.
    pub port: u16,
    /// Further `serve` flags.
    pub flags: Vec<String>,
    /// Where its log lines go (appended).
    pub log: PathBuf,
}

/// A node that may be running.
pub struct Node {
    spec: NodeSpec,
    child: Option<Child>,
    /// Times it was started.
    pub starts: u32,
}

impl Node {
    /// A node not yet started.
    pub fn new(spec: NodeSpec) -> Node {
        Node {
            spec,
            child: None,
            starts: 0,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.spec.port)
    }

    /// Starts the process and waits until it logs that it serves the API.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "node already running");
        self.starts += 1;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .with_context(|| format!("opening {}", self.spec.log.display()))?;
        writeln!(log, "==== start {} ====", self.starts)?;
        let mut child = Command::new(&self.spec.binary)
            .args(["serve", "--log-format", "json", "--database"])
            .arg(&self.spec.database)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.spec.port))
            .args(&self.spec.flags)
            .env("SHOPHOOK_ADMIN_KEY", ADMIN_KEY)
            .env("SHOPHOOK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.spec.binary.display()))?;
        let stderr = child.stderr.take().context("child stderr")?;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(log, "{line}");
                if line.contains("API at http://")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        self.child = Some(child);
        match tokio::time::timeout(START_TIMEOUT, ready_rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                let status = self.reap().await;
                bail!(
                    "shophook exited before it served ({status}); last log lines:\n{}",
                    tail(&self.spec.log, 20)
                )
            }
            Err(_) => {
                self.kill().await?;
                bail!(
                    "shophook did not serve within {START_TIMEOUT:?}; last log lines:\n{}",
                    tail(&self.spec.log, 20)
                )
            }
        }
    }

    /// SIGKILL, then waits for the process to be gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut() {
            // `start_kill` sends SIGKILL on Unix: no shutdown code runs.
            child.start_kill().context("sending SIGKILL")?;
        }
        self.reap().await;
        Ok(())
    }

    async fn reap(&mut self) -> String {
        match self.child.take() {
            Some(mut c) => match c.wait().await {
                Ok(s) => s.to_string(),
                Err(e) => e.to_string(),
            },
            None => "not running".into(),
        }
    }
}

/// The last `n` lines of a file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
