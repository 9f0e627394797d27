//! One attempt of one delivery: render, sign, send, read a capped response, and
//! decide the next state. Shared by the dispatcher and by "send test" in the API.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use shophook_core::render::{OutgoingRequest, RenderInput, render_request};
use shophook_core::retry::{RetrySchedule, parse_retry_after};
use shophook_core::signing::Secret;
use shophook_core::ssrf::{Refused, TargetPolicy};
use shophook_store::{Attempt, ClaimedDelivery, NextState, RequestRecord, ResponseRecord};

use super::guard::{GuardedResolver, check_literal};
use super::journal::RenderJournal;
use crate::clock::Clock;
use shophook_core::mask::{Redactor, mask, mask_url};

/// Response bodies are kept up to this size.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Sender settings.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Which destination addresses are allowed.
    pub policy: TargetPolicy,
    /// Delays between attempts.
    pub retry: RetrySchedule,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Idle connections kept per host.
    pub pool_per_host: usize,
    /// Seed of the retry jitter (fixed in tests for repeatable schedules).
    pub jitter_seed: Option<u64>,
    /// Where templates being rendered are noted ([`RenderJournal`]); `None`: nowhere.
    pub render_journal: Option<std::path::PathBuf>,
}

/// Sends attempts.
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<TargetPolicy>,
    retry: RetrySchedule,
    clock: Arc<dyn Clock>,
    jitter: Mutex<StdRng>,
    request_timeout: Duration,
    journal: Option<RenderJournal>,
}

/// The result of one attempt.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The attempt record.
    pub attempt: Attempt,
    /// Where the delivery goes next.
    pub next: NextState,
    /// The receiver asked for this pause (`429`/`503` with `Retry-After`).
    pub retry_after: Option<Duration>,
}

/// A failure before a response arrived.
#[derive(Debug)]
enum SendError {
    Refused(Refused),
    Other(String),
}

impl Sender {
    /// A sender with a pooled, keep-alive HTTP client that never follows redirects
    /// and never uses a proxy.
    pub fn new(cfg: SenderConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Sender> {
        let policy = Arc::new(cfg.policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .pool_max_idle_per_host(cfg.pool_per_host)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .dns_resolver(Arc::new(GuardedResolver::new(policy.clone())))
            .build()?;
        let rng = match cfg.jitter_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let journal = match &cfg.render_journal {
            Some(dir) => Some(RenderJournal::open(dir).map_err(|e| {
                anyhow::anyhow!("cannot open the render journal {}: {e}", dir.display())
            })?),
            None => None,
        };
        Ok(Sender {
            journal,
            client,
            policy,
            retry: cfg.retry,
            clock,
            jitter: Mutex::new(rng),
            request_timeout: cfg.request_timeout,
        })
    }

    fn jitter(&self) -> f64 {
        self.jitter
            .lock()
            .map(|mut r| r.gen_range(-1.0..=1.0))
            .unwrap_or(0.0)
    }

    /// Whether the server would send to `url` at all, as far as the URL alone
    /// tells: an IP literal host, or `localhost`, that the address policy refuses
    /// (a name is judged when it is resolved, at send time).
    pub fn refuses_target(&self, url: &str) -> Option<shophook_core::ssrf::Refused> {
        let parsed = url::Url::parse(url).ok()?;
        let localhost = parsed.host_str().is_some_and(|h| {
            let h = h.trim_end_matches('.').to_ascii_lowercase();
            h == "localhost" || h.ends_with(".localhost")
        });
        if localhost {
            return self
                .policy
                .check(std::net::Ipv4Addr::LOCALHOST.into())
                .err();
        }
        check_literal(&parsed, &self.policy).err()
    }

    /// Makes one attempt of `d` and decides what happens next.
    pub async fn attempt(&self, d: &ClaimedDelivery) -> Outcome {
        let now = self.clock.now();
        let number = d.attempts + 1;
        let hook = &d.webhook;
        let mut secrets = Vec::with_capacity(2);
        match Secret::parse(&hook.secret) {
            Ok(s) => secrets.push(s),
            Err(e) => {
                return self.failed_before_send(
                    d,
                    number,
                    format!("the webhook's secret is unusable: {e}"),
                    true,
                );
            }
        }
        if let (Some(prev), Some(until)) = (&hook.previous_secret, hook.previous_secret_until)
            && until > now
            && let Ok(s) = Secret::parse(prev)
        {
            secrets.push(s);
        }
        let secret_refs: Vec<&Secret> = secrets.iter().collect();
        // A merchant template is noted while it renders (see `journal`): one the
        // process died rendering last time is not rendered into that crash again.
        let journal = self
            .journal
            .as_ref()
            .filter(|_| hook.config.template.is_some());
        if journal.is_some_and(|j| j.take_poisoned(&d.id)) {
            return self.failed_before_send(
                d,
                number,
                "the server stopped while rendering this delivery's template (the process aborted); it is not rendered again — check the template with POST …/preview".into(),
                true,
            );
        }
        let rendering = journal.and_then(|j| j.rendering(&d.id));
        let rendered = render_request(&RenderInput {
            config: &hook.config,
            event: &d.event.event,
            envelope: &d.event.envelope,
            account_name: &d.account_name,
            account_timezone: &d.account_timezone,
            part: d.part.map(|p| p as usize),
            webhook_id: &hook.id,
            delivery_id: &d.id,
            secrets: &secret_refs,
            timestamp: now.as_second(),
            user_agent: crate::USER_AGENT,
            field_options: d.field_options.as_deref(),
        });
        drop(rendering);
        let req = match rendered {
            Ok(r) => r,
            Err(e) => return self.failed_before_send(d, number, e.to_string(), true),
        };
        let started = Instant::now();
        let result = self.send(&req).await;
        let duration_ms = started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32;
        let request = RequestRecord {
            method: req.method.as_str().to_string(),
            url: mask_url(&req.url),
            headers: req
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), mask(k, v)))
                .collect(),
            body: (!Arc::ptr_eq(&req.body, &d.event.envelope)).then(|| req.body.to_string()),
            // the guard refuses before connecting: nothing left the server
            sent: !matches!(result, Err(SendError::Refused(_))),
        };
        let (response, error) = match result {
            Ok(resp) => {
                let ok = if hook.config.expect_status.is_empty() {
                    (200..300).contains(&resp.status)
                } else {
                    hook.config.expect_status.contains(&resp.status)
                };
                let error =
                    (!ok).then(|| unexpected_status(resp.status, &hook.config.expect_status));
                (Some(resp), error)
            }
            Err(SendError::Refused(r)) => (None, Some(format!("refused: {r}"))),
            Err(SendError::Other(m)) => (None, Some(m)),
        };
        // an error may quote the URL or a header (reqwest's does): never a secret
        let error = error.map(|e| {
            Redactor::new(
                &req.url,
                req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                &[&hook.secret],
            )
            .redact(&e)
        });
        let retry_after = response
            .as_ref()
            .filter(|r| error.is_some() && matches!(r.status, 429 | 503))
            .and_then(|r| r.headers.iter().find(|(k, _)| k == "retry-after"))
            .and_then(|(_, v)| parse_retry_after(v, now));
        let next = match (&response, &error) {
            (_, None) => NextState::Succeeded,
            (Some(r), Some(_)) if r.status == 410 => {
                NextState::Dead("the receiver answered 410 Gone".into())
            }
            _ => match (self.retry_or_dead(number, now), retry_after) {
                // The receiver said when: not before that.
                (NextState::Retry(at), Some(wait)) => {
                    let asked = jiff::SignedDuration::try_from(wait)
                        .ok()
                        .and_then(|w| now.checked_add(w).ok())
                        .unwrap_or(at);
                    NextState::Retry(at.max(asked))
                }
                (next, _) => next,
            },
        };
        let attempt = Attempt {
            id: crate::ids::new_id("att"),
            number,
            started_at: now,
            duration_ms,
            request,
            response,
            error,
        };
        Outcome {
            attempt,
            next,
            retry_after,
        }
    }

    fn retry_or_dead(&self, number: u32, now: jiff::Timestamp) -> NextState {
        match self.retry.next_attempt_at(number, now, self.jitter()) {
            Some(at) => NextState::Retry(at),
            None => NextState::Dead(format!("gave up after {number} attempts")),
        }
    }

    fn failed_before_send(
        &self,
        d: &ClaimedDelivery,
        number: u32,
        error: String,
        fatal: bool,
    ) -> Outcome {
        let now = self.clock.now();
        let hook = &d.webhook;
        let error = Redactor::new(
            &hook.config.url,
            hook.config
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            &[&hook.secret],
        )
        .redact(&error);
        let next = if fatal {
            NextState::Dead(error.clone())
        } else {
            self.retry_or_dead(number, now)
        };
        Outcome {
            attempt: Attempt {
                id: crate::ids::new_id("att"),
                number,
                started_at: now,
                duration_ms: 0,
                request: RequestRecord {
                    method: d.webhook.config.method.as_str().into(),
                    url: mask_url(&d.webhook.config.url),
                    headers: vec![],
                    body: None,
                    sent: false,
                },
                response: None,
                error: Some(error),
            },
            next,
            retry_after: None,
        }
    }

    async fn send(&self, req: &OutgoingRequest) -> Result<ResponseRecord, SendError> {
        let url = url::Url::parse(&req.url).map_err(|e| {
            SendError::Other(format!(
                "the URL `{}` is invalid after filling placeholders: {e}",
                mask_url(&req.url)
            ))
        })?;
        check_literal(&url, &self.policy).map_err(SendError::Refused)?;
        let method = reqwest::Method::from_bytes(req.method.as_str().as_bytes())
            .map_err(|e| SendError::Other(e.to_string()))?;
        let mut builder = self.client.request(method, url);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        if !req.body.is_empty() {
            builder = builder.body(bytes_of(&req.body));
        }
        let mut resp = builder.send().await.map_err(|e| self.classify(e))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .take(100)
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while body.len() < MAX_RESPONSE_BODY {
            match resp.chunk().await {
                Ok(Some(chunk)) => body
                    .extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE_BODY - body.len())]),
                Ok(None) => break,
                // The status is what counts; a body cut short by a timeout or a reset is kept as far as it came.
                Err(_) => break,
            }
        }
        Ok(ResponseRecord {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    fn classify(&self, e: reqwest::Error) -> SendError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<Refused>() {
                return SendError::Refused(*r);
            }
            source = s.source();
        }
        if e.is_timeout() {
            return SendError::Other(format!(
                "timed out (connect limit or the {} s request limit)",
                self.request_timeout.as_secs()
            ));
        }
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        if e.is_connect() {
            return SendError::Other(format!("could not connect: {msg}"));
        }
        SendError::Other(msg)
    }
}

fn bytes_of(body: &Arc<str>) -> bytes::Bytes {
    bytes::Bytes::from_owner(ArcBytes(body.clone()))
}

struct ArcBytes(Arc<str>);
impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn unexpected_status(status: u16, expected: &[u16]) -> String {
    if expected.is_empty() {
        format!("the receiver answered {status}; any 2xx counts as success")
    } else {
        let list: Vec<String> = expected.iter().map(u16::to_string).collect();
        format!(
            "the receiver answered {status}; expected one of {}",
            list.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages() {
        assert_eq!(
            unexpected_status(500, &[]),
            "the receiver answered 500; any 2xx counts as success"
        );
        assert_eq!(
            unexpected_status(200, &[201, 202]),
            "the receiver answered 200; expected one of 201, 202"
        );
    }
}
