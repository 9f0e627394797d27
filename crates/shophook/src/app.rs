//! Building and running the server: open the store, make sure an operator key
//! exists, bind the listener, then run the HTTP API, the delivery worker and the
//! retention purge until the shutdown token is cancelled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use shophook_core::ssrf::TargetPolicy;
use shophook_store::postgres::{PgOptions, PgStore};
use shophook_store::sqlite::SqliteStore;
use shophook_store::{ADMIN_KEY_SETTING, Sealer, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::caches::KeyCache;
use crate::clock::{Clock, SystemClock};
use crate::config::{Database, ServeArgs};
use crate::ids::{new_id, new_key};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::worker::send::{Sender, SenderConfig};
use crate::worker::{Worker, WorkerConfig};

/// Longest wait for a request's headers (less when `--api-idle-timeout` is).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A built, not yet running server.
pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<AppState>,
    worker: Arc<Worker>,
    retention_days: u32,
    generated_admin_key: Option<String>,
    limits: crate::serve::Limits,
}

impl App {
    /// Opens the database, applies migrations, prepares the operator key and binds.
    pub async fn build(args: ServeArgs) -> anyhow::Result<App> {
        Self::build_with_clock(args, Arc::new(SystemClock)).await
    }

    /// [`App::build`] with another clock (tests, simulations).
    pub async fn build_with_clock(args: ServeArgs, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        // What can be refused without touching the database is refused first: a
        // busy port or a short operator key leaves the database as it was.
        let listener = listen(args.listen).with_context(|| {
            format!(
                "cannot listen on {} (is another shophook running? choose another with --listen)",
                args.listen
            )
        })?;
        let addr = listener.local_addr()?;
        if let Some(key) = args.admin_key.as_deref() {
            check_admin_key(key)?;
        }
        let brand = Arc::new(crate::ui::brand::Brand::from_flags(
            args.ui_brand_name.as_deref(),
            args.ui_brand_color.as_deref(),
            args.ui_brand_logo.as_deref(),
        )?);
        let sealer = match args.encryption_key.as_deref() {
            Some(key) => Sealer::from_base64_key(key)
                .map_err(|e| anyhow::anyhow!("--encryption-key: {e}"))?,
            None => Sealer::none(),
        };
        let ui = crate::security::UiSecurity::new(
            args.encryption_key.as_deref(),
            args.ui_frame_ancestors.as_ref(),
            args.ui_secure_cookies,
        )
        .map_err(|e| anyhow::anyhow!("--encryption-key: {e}"))?;
        let store: Arc<dyn Store> =
            match Database::parse(&args.database).map_err(anyhow::Error::msg)? {
                Database::Sqlite(path) => {
                    let store = tokio::task::spawn_blocking(move || {
                        SqliteStore::open_with(&path, sealer)
                            .with_context(|| format!("opening {}", path.display()))
                    })
                    .await??;
                    Arc::new(store)
                }
                Database::Postgres(url) => {
                    let mut options = PgOptions::for_concurrency(args.concurrency.max(1));
                    options.sealer = sealer;
                    let store = PgStore::open(&url, options)
                        .await
                        .context("opening the PostgreSQL database")?;
                    Arc::new(store)
                }
            };
        let key_hasher = crate::ids::KeyHasher::new(args.encryption_key.as_deref())
            .map_err(|e| anyhow::anyhow!("--encryption-key: {e}"))?;
        let (admin_hash, generated_admin_key) =
            admin_key(&*store, args.admin_key.as_deref(), &key_hasher).await?;
        // A single-node store: whatever a previous run had claimed was never
        // finished (it crashed or was killed), so it is due again now. On a shared
        // store other nodes are sending what they claimed; a dead node's claims
        // come back when their lease ends.
        if store.single_node() {
            let released = store.release_claims(None, clock.now()).await?;
            if released > 0 {
                tracing::info!(released, "released deliveries claimed by a previous run");
            }
        }
        let sender = Arc::new(Sender::new(
            SenderConfig {
                policy: TargetPolicy {
                    allow_private: args.allow_private_targets,
                    allow_cidrs: args.allow_cidr.clone(),
                },
                retry: args.retry_schedule.clone(),
                connect_timeout: args.connect_timeout,
                request_timeout: args.request_timeout,
                pool_per_host: args.webhook_concurrency,
                jitter_seed: None,
                render_journal: args.render_journal.clone().or_else(|| {
                    match Database::parse(&args.database) {
                        Ok(Database::Sqlite(path)) => {
                            let mut name = path.file_name().unwrap_or_default().to_os_string();
                            name.push(".rendering");
                            Some(path.with_file_name(name))
                        }
                        _ => None,
                    }
                }),
            },
            clock.clone(),
        )?);
        let node = new_id("node");
        let metrics = Arc::new(Metrics::new());
        let worker = Arc::new(Worker::new(
            store.clone(),
            sender.clone(),
            clock.clone(),
            metrics.clone(),
            node.clone(),
            WorkerConfig {
                concurrency: args.concurrency.max(1),
                webhook_concurrency: args.webhook_concurrency.max(1),
                account_concurrency: args.account_concurrency.max(1),
                lease: args.lease,
                batch: 256,
                grace: args.shutdown_grace,
                disable_after: args.disable_after,
            },
        ));
        let state = Arc::new(AppState {
            ingester: crate::batch::ingester(store.clone()),
            store,
            clock,
            admin_hash,
            key_hasher,
            keys: KeyCache::default(),
            accounts: Default::default(),
            api_rate: crate::caches::ApiRate::new(args.api_rate_limit),
            sender,
            worker: worker.clone(),
            node,
            lease: args.lease,
            metrics,
            ui,
            brand,
        });
        Ok(App {
            listener,
            addr,
            state,
            worker,
            retention_days: args.retention_days,
            generated_admin_key,
            limits: crate::serve::Limits {
                max_connections: args.max_connections.max(1),
                header_timeout: HEADER_TIMEOUT,
                idle_timeout: args.api_idle_timeout.max(Duration::from_millis(100)),
            },
        })
    }

    /// The bound address (port 0 resolved).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The operator key generated on this first start, if one was.
    pub fn generated_admin_key(&self) -> Option<&str> {
        self.generated_admin_key.as_deref()
    }

    /// The shared state (for tests and tools).
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` is cancelled; then stops accepting, finishes
    /// in-flight requests and deliveries, and returns.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let router = router(self.state.clone());
        let worker = tokio::spawn(self.worker.clone().run(shutdown.clone()));
        let retention = tokio::spawn(crate::retention::run(
            self.state.store.clone(),
            self.state.clock.clone(),
            self.retention_days,
            shutdown.clone(),
        ));
        let served =
            crate::serve::serve(self.listener, router, self.limits, shutdown.clone()).await;
        shutdown.cancel();
        worker.await.ok();
        retention.await.ok();
        served.context("HTTP server failed")
    }
}

/// Binds with a backlog of 4,096 (the kernel caps it at `somaxconn`), not std's
/// 128: a burst of connections then waits in the queue instead of having its SYNs
/// dropped and retried a second later.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// The whole HTTP surface, without state: the API, its description, the web UI.
pub fn routes() -> (axum::Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    let (api, doc) = crate::api::api_routes().split_for_parts();
    let doc = crate::api::openapi::finish(doc);
    let router = api
        .layer(axum::Extension(Arc::new(crate::api::openapi::Docs::new(
            &doc,
        ))))
        .merge(crate::ui::routes())
        .fallback(|| async { crate::error::ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { crate::error::ApiError::MethodNotAllowed })
        .layer(axum::extract::DefaultBodyLimit::max(crate::input::MAX_BODY));
    (router, doc)
}

/// The whole HTTP surface, ready to serve, with request durations measured by route.
pub fn router(state: Arc<AppState>) -> axum::Router {
    routes()
        .0
        // What the UI's header middleware sends (`--ui-frame-ancestors`).
        .layer(axum::Extension(state.ui.headers.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track_http,
        ))
        .with_state(state)
}

fn check_admin_key(key: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        key.len() >= 16,
        "SHOPHOOK_ADMIN_KEY must be at least 16 characters"
    );
    Ok(())
}

async fn admin_key(
    store: &dyn Store,
    given: Option<&str>,
    hasher: &crate::ids::KeyHasher,
) -> anyhow::Result<(String, Option<String>)> {
    if let Some(key) = given {
        check_admin_key(key)?;
        return Ok((hasher.hash(key), None));
    }
    if let Some(hash) = store.setting(ADMIN_KEY_SETTING).await? {
        return Ok((hash, None));
    }
    let key = new_key();
    if store
        .init_setting(ADMIN_KEY_SETTING, &hasher.hash(&key))
        .await?
    {
        return Ok((hasher.hash(&key), Some(key)));
    }
    let hash = store
        .setting(ADMIN_KEY_SETTING)
        .await?
        .context("operator key setting vanished")?;
    Ok((hash, None))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// Paths of the web UI (HTML for browsers, not the API).
    fn is_ui(path: &str) -> bool {
        matches!(path, "/" | "/login" | "/logout" | "/accounts")
            || ["/a/", "/assets/", "/portal/"]
                .iter()
                .any(|p| path.starts_with(p))
    }

    /// Every route the router serves, with its methods, read from the router itself
    /// (axum lists its paths and each route's `Allow` header in its `Debug` output).
    fn served() -> BTreeMap<String, BTreeSet<String>> {
        let (router, _) = super::routes();
        let dump = format!("{router:?}");
        let mut methods: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
        for part in dump.split("RouteId(").skip(1) {
            let Some((id, rest)) = part.split_once(')') else {
                continue;
            };
            let Ok(id) = id.parse::<u32>() else { continue };
            if let Some(allow) = rest
                .strip_prefix(": MethodRouter(")
                .and_then(|r| r.split_once("allow_header: Bytes(b\""))
                .and_then(|(_, r)| r.split_once('"'))
            {
                let set = allow
                    .0
                    .split(',')
                    .filter(|m| *m != "HEAD")
                    .map(str::to_string)
                    .collect();
                methods.insert(id, set);
            }
        }
        let mut out = BTreeMap::new();
        for part in dump.split("RouteId(").skip(1) {
            let Some((id, rest)) = part.split_once(')') else {
                continue;
            };
            let Ok(id) = id.parse::<u32>() else { continue };
            if let Some(path) = rest.strip_prefix(": \"").and_then(|r| r.split_once('"')) {
                let m = methods.get(&id).cloned().unwrap_or_default();
                out.insert(path.0.to_string(), m);
            }
        }
        out
    }

    #[test]
    fn every_api_route_is_in_the_openapi_document() {
        let (_, doc) = super::routes();
        let doc = serde_json::to_value(&doc).unwrap();
        let served = served();
        assert!(
            served.len() > 30 && served.values().all(|m| !m.is_empty()),
            "could not read the router's routes: {served:?}"
        );
        let mut checked = 0;
        for (path, methods) in &served {
            if is_ui(path) || path.contains("__private__axum") {
                continue;
            }
            let item = doc["paths"][path]
                .as_object()
                .unwrap_or_else(|| panic!("{path} is served but not in /openapi.json"));
            let documented: BTreeSet<String> = item.keys().map(|m| m.to_uppercase()).collect();
            assert_eq!(&documented, methods, "methods of {path}");
            checked += 1;
        }
        let documented = doc["paths"].as_object().unwrap();
        assert_eq!(checked, documented.len(), "every documented path is served");
        for path in [
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/v1/accounts/{account}/events",
        ] {
            assert!(documented.contains_key(path), "{path}");
        }
    }

    #[test]
    fn every_operation_documents_its_errors_and_bodies() {
        let (_, doc) = super::routes();
        let doc = serde_json::to_value(&doc).unwrap();
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(
                    ids.insert(id.to_string()),
                    "{method} {path}: operationId {id} repeats"
                );
                assert!(
                    crate::api::openapi::OPERATION_IDS
                        .iter()
                        .any(|(m, p, named)| m == method && p == path && *named == id),
                    "{method} {path}: name its operationId (`{id}`) in api::openapi::OPERATION_IDS, as a user would type it"
                );
                let responses = op["responses"].as_object().unwrap();
                for status in ["400", "404", "422", "503"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}: a success response"
                );
                assert!(
                    op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "{method} {path}: a summary (the handler's doc comment)"
                );
            }
        }
    }
}
