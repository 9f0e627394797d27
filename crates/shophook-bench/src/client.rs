//! One HTTP/1.1 keep-alive connection (hyper), used by the senders, the probes
//! and the loopback measurement.

use std::net::SocketAddr;

use anyhow::{Context, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A keep-alive connection to one server, with the bearer key it sends.
pub struct Conn {
    addr: SocketAddr,
    key: Option<String>,
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Connects to `addr` (127.0.0.1 only in this harness).
    pub async fn open(addr: SocketAddr, key: Option<String>) -> anyhow::Result<Conn> {
        let sender = handshake(addr).await?;
        Ok(Conn { addr, key, sender })
    }

    /// Sends one request and reads the whole answer. A broken connection is
    /// re-opened once (the server may close an idle one).
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        if self.sender.is_closed() || self.sender.ready().await.is_err() {
            self.sender = handshake(self.addr).await?;
        }
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if let Some(k) = &self.key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .with_context(|| format!("{path} on {}", self.addr))?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// A call that must answer `want`; returns the JSON body.
    pub async fn expect(
        &mut self,
        want: StatusCode,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        let (status, bytes) = self.call(method.clone(), path, body).await?;
        if status != want {
            return Err(anyhow!(
                "{method} {path} answered {status} (expected {want}): {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }
}

async fn handshake(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the peer closes or the sender is dropped.
        let _ = conn.await;
    });
    Ok(sender)
}
