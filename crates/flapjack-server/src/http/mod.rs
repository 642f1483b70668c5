//! The HTTP API: OpenAuth (`POST /auth/clientLogin`, `GET /aim/startOSCARSession`, §2),
//! `GET /healthz` and `GET /metrics`.
//!
//! ```text
//! listener (--http plain, --https TLS) ──accept──▶ hyper HTTP/1.1 connection ──▶ axum Router
//!     /auth/clientLogin         argon2id check (blocking pool) → token + sessionSecret
//!     /aim/startOSCARSession    token → session key → signature + ts check → BOS cookie
//! ```
//!
//! TLS for the API is its own listener (`--https`, the server's certificate, ALPN `http/1.1`)
//! rather than a switch on `--http`: one server can then serve plain HTTP to a local proxy or
//! old client and HTTPS to everyone else, and the scheme a request came in on is never in doubt.
//!
//! The API answers every API-level error with HTTP 200 and an envelope status (§2.3,
//! recommendation); only requests that are not API calls at all get HTTP errors (404 unknown
//! path, 405 wrong method, 413 body too large). The plain and TLS listeners serve the same
//! routes and share the token table; the scheme a request came in on is part of the URL its
//! signature is checked against.
//!
//! Signing, verification, the request and envelope types all come from
//! [`flapjack_auth::openauth`]; this module adds the server's state: accounts, tokens, the
//! failed-login limiter shared with BUCP, cookies.

pub mod openauth;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower_service::Service as _;
use tracing::Instrument;

use crate::server::ServerState;

pub use self::tokens::{TokenGrant, TokenStore};

/// The path of clientLogin.
pub const CLIENT_LOGIN_PATH: &str = "/auth/clientLogin";
/// The path of startOSCARSession.
pub const START_OSCAR_SESSION_PATH: &str = "/aim/startOSCARSession";
/// Public API base URLs whose signatures are accepted whatever is configured: the AIM one
/// libpurple signs, and its ICQ counterpart.
pub const DEFAULT_PUBLIC_API_URLS: [&str; 2] = ["https://api.oscar.aol.com", "https://api.icq.net"];

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Plain HTTP listener (`--http`).
    pub http_addr: Option<SocketAddr>,
    /// HTTPS listener (`--https`), with the server's TLS certificate.
    pub https_addr: Option<SocketAddr>,
    /// Base URLs clients may have signed startOSCARSession requests against, besides the URL
    /// the request actually came in on (`https://api.example.net` or a full
    /// `…/aim/startOSCARSession` URL). [`DEFAULT_PUBLIC_API_URLS`] are always accepted too.
    pub public_api_urls: Vec<String>,
    /// Accepted developer keys (`devId` / `k`). Empty: any key is accepted.
    pub dev_keys: Vec<String>,
    /// Accepted `|ts - now|` for startOSCARSession.
    pub ts_window: Duration,
    /// Lifetime of a `shortterm` (default) token.
    pub token_ttl: Duration,
    /// Longest token lifetime (`longterm`, or a `tokenType` in seconds).
    pub max_token_ttl: Duration,
    /// Largest request body accepted (bytes).
    pub max_body: usize,
    /// Most HTTP connections open at once per listener.
    pub max_connections: usize,
    /// Time allowed to send a request's headers (and between keep-alive requests).
    pub header_timeout: Duration,
    /// argon2id verifications run at once (each takes the hash's memory, 19 MiB by default).
    pub argon2_concurrency: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            http_addr: None,
            https_addr: None,
            public_api_urls: Vec::new(),
            dev_keys: Vec::new(),
            ts_window: Duration::from_secs(flapjack_auth::openauth::DEFAULT_MAX_SKEW_SECS),
            token_ttl: Duration::from_secs(24 * 3600),
            max_token_ttl: Duration::from_secs(365 * 24 * 3600),
            max_body: 16 * 1024,
            max_connections: 1024,
            header_timeout: Duration::from_secs(15),
            argon2_concurrency: 4,
        }
    }
}

impl HttpSettings {
    /// Every startOSCARSession URL accepted besides the request's own: the configured public
    /// URLs, then the defaults.
    pub fn public_start_session_urls(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for base in self
            .public_api_urls
            .iter()
            .map(String::as_str)
            .chain(DEFAULT_PUBLIC_API_URLS)
        {
            let url = start_session_url(base);
            if !out.contains(&url) {
                out.push(url);
            }
        }
        out
    }
}

/// `base` + `/aim/startOSCARSession`, unless `base` already ends with that path.
fn start_session_url(base: &str) -> String {
    let base = flapjack_auth::openauth::strip_query(base.trim());
    if base.ends_with(START_OSCAR_SESSION_PATH) {
        base.to_owned()
    } else {
        format!("{}{START_OSCAR_SESSION_PATH}", base.trim_end_matches('/'))
    }
}

/// What a handler knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The listener's address.
    pub local: SocketAddr,
    /// Whether the connection is TLS (`https`).
    pub tls: bool,
}

impl ConnInfo {
    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

/// The API's shared state (one per server, shared by the HTTP and HTTPS listeners).
pub struct Api {
    /// The server.
    pub state: Arc<ServerState>,
    /// Settings.
    pub settings: HttpSettings,
    /// Live tokens.
    pub tokens: TokenStore,
    /// `tlsCertName` for `useTLS=1`, present when the OSCAR TLS listener runs.
    pub tls_cert_name: Option<String>,
    public_urls: Vec<String>,
    argon2_slots: Semaphore,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("settings", &self.settings)
            .field("tls_cert_name", &self.tls_cert_name)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// The API over `state`. `tls_cert_name` is `Some` when a TLS OSCAR listener runs.
    pub fn new(state: Arc<ServerState>, settings: HttpSettings, tls_cert_name: Option<String>) -> Arc<Self> {
        Arc::new(Self {
            public_urls: settings.public_start_session_urls(),
            argon2_slots: Semaphore::new(settings.argon2_concurrency.max(1)),
            state,
            settings,
            tokens: TokenStore::new(),
            tls_cert_name,
        })
    }

    /// The router: the OpenAuth endpoints, `/healthz` and `/metrics`.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(CLIENT_LOGIN_PATH, post(openauth::client_login))
            .route(START_OSCAR_SESSION_PATH, get(openauth::start_oscar_session))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(self.settings.max_body))
            .with_state(self.clone())
    }
}

async fn healthz() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok\n")
}

async fn metrics(State(api): State<Arc<Api>>) -> impl IntoResponse {
    api.state.metrics.openauth_tokens.store(
        i64::try_from(api.tokens.len()).unwrap_or(i64::MAX),
        std::sync::atomic::Ordering::Relaxed,
    );
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        api.state.metrics.render(),
    )
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// Serves `router` on `listener` until the task is aborted (which also ends every open
/// connection). With an `acceptor` each connection is TLS (`https`).
pub async fn run_listener(
    state: Arc<ServerState>,
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    router: Router,
    settings: HttpSettings,
) {
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "HTTP listener has no address");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::info!(%peer, "too many HTTP connections; refused");
            state.metrics.incr(&state.metrics.connections_refused);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let info = ConnInfo {
            peer,
            local,
            tls: acceptor.is_some(),
        };
        let router = router.clone();
        let acceptor = acceptor.clone();
        let state = state.clone();
        let header_timeout = settings.header_timeout;
        let span = tracing::debug_span!("http", %peer, tls = info.tls);
        connections.spawn(
            async move {
                match acceptor {
                    None => serve_connection(tcp, info, router, header_timeout).await,
                    Some(acceptor) => match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => serve_connection(tls, info, router, header_timeout).await,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            state.metrics.incr(&state.metrics.connections_refused);
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            state.metrics.incr(&state.metrics.connections_refused);
                        }
                    },
                }
                drop(slot);
            }
            .instrument(span),
        );
    }
}

async fn serve_connection<S>(stream: S, info: ConnInfo, router: Router, header_timeout: Duration)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(info);
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(64 * 1024);
    if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).await {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}
