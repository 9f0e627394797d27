//! A small pool of read-only connections, used from blocking threads. WAL mode lets
//! them read while the writer commits.

use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::{Result, StoreError};

/// The read pool.
#[derive(Clone)]
pub(crate) struct Readers {
    conns: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    pub fn new(conns: Vec<Connection>) -> Readers {
        let n = conns.len();
        Readers {
            conns: Arc::new(Mutex::new(conns)),
            permits: Arc::new(Semaphore::new(n)),
        }
    }

    /// Runs `f` on a free read connection.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("read pool closed".into()))?;
        let conns = self.conns.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conns
                .lock()
                .map_err(|_| StoreError::Unavailable("read pool poisoned".into()))?
                .pop();
            let conn =
                conn.ok_or_else(|| StoreError::Unavailable("no free read connection".into()))?;
            let result = f(&conn);
            if let Ok(mut pool) = conns.lock() {
                pool.push(conn);
            }
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("read task failed: {e}")))?
    }
}
