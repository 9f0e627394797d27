//! A real PHP receiver (`php -S` on 127.0.0.1) running scripts the tests write as
//! a platform's customer would, each request's record saved as a JSON file. It is
//! skipped, with a printed reason, without PHP — unless `SHOPHOOK_REQUIRE_PHP=1`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct PhpReceiver {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for PhpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PhpReceiver {
    /// Starts `php -S` with `router` as its router script and `files` beside it,
    /// `env` in its environment (and `RECORD_DIR`, where a script saves records);
    /// `None` (with a printed reason) without PHP.
    pub fn start(
        router: &str,
        files: &[(String, String)],
        env: &[(&str, &str)],
    ) -> Option<PhpReceiver> {
        if Command::new("php")
            .arg("-v")
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            if std::env::var("SHOPHOOK_REQUIRE_PHP").as_deref() == Ok("1") {
                panic!("SHOPHOOK_REQUIRE_PHP=1 but php is not installed (apt-get install php-cli)");
            }
            crate::skipped!("PHP receiver checks (apt-get install php-cli to run them)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("router.php");
        std::fs::write(&script, router).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let records = dir.path().join("records");
        std::fs::create_dir(&records).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("php");
        cmd.args(["-S", &format!("127.0.0.1:{port}"), script.to_str().unwrap()])
            .env("RECORD_DIR", &records)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("php -S");
        let deadline = std::time::Instant::now() + crate::support::WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "php -S did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(PhpReceiver { child, port, dir })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request PHP recorded, oldest first.
    pub fn records(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("records"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .collect()
    }
}
