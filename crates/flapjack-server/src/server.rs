//! The running server: shared state, the OSCAR listener's accept loop, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::ServerConfig;
use crate::cookie::CookieJar;
use crate::limits::{ConnectionLimiter, LoginLimiter};
use crate::session::{LocalRegistry, Registry};
use crate::store::{Store, StoreError};

/// Everything connection tasks share.
pub struct ServerState {
    /// The settings.
    pub config: ServerConfig,
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// Live sessions.
    pub registry: Arc<dyn Registry>,
    /// Login cookies.
    pub cookies: CookieJar,
    /// Failed-login accounting.
    pub login_limiter: LoginLimiter,
    /// Connections per address.
    pub conn_limiter: Arc<ConnectionLimiter>,
    /// Operational counters (`GET /metrics` on the HTTP listener).
    pub metrics: crate::metrics::Metrics,
    /// Chat rooms (live only).
    pub chat: crate::chat::ChatRooms,
    /// Warn credits (who received IMs from whom) and the warning lock.
    pub warnings: crate::warning::WarnTracker,
    oscar_port: OnceLock<u16>,
    /// The advertised TLS BOS address, set when the OSCAR TLS listener binds.
    tls_bos: OnceLock<String>,
    secret: [u8; 32],
    dummy_hash: OnceLock<String>,
    shutdown: watch::Sender<bool>,
    tracker: ConnTracker,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ServerState {
    /// Shared state over `store` with an in-process registry.
    pub fn new(config: ServerConfig, store: Arc<dyn Store>) -> Result<Arc<Self>, String> {
        Self::with_registry(config, store, Arc::new(LocalRegistry::new()))
    }

    /// Shared state with a given registry (e.g. a clustered one).
    pub fn with_registry(
        config: ServerConfig,
        store: Arc<dyn Store>,
        registry: Arc<dyn Registry>,
    ) -> Result<Arc<Self>, String> {
        let secret = crate::random::random_bytes()?;
        let chat = crate::chat::ChatRooms::new(config.chat.clone());
        Ok(Arc::new(Self {
            cookies: CookieJar::new(config.cookie_ttl),
            login_limiter: LoginLimiter::new(config.login_limits),
            conn_limiter: ConnectionLimiter::new(config.max_connections_per_address),
            config,
            store,
            registry,
            metrics: crate::metrics::Metrics::new(),
            chat,
            warnings: crate::warning::WarnTracker::new(),
            oscar_port: OnceLock::new(),
            tls_bos: OnceLock::new(),
            secret,
            dummy_hash: OnceLock::new(),
            shutdown: watch::channel(false).0,
            tracker: ConnTracker::default(),
        }))
    }

    /// The BOS address to hand out after a login over this transport.
    pub fn bos_address(&self, tls: bool) -> String {
        if tls && let Some(address) = self.tls_bos.get() {
            return address.clone();
        }
        let port = self.oscar_port.get().copied().unwrap_or(self.config.oscar_addr.port());
        self.config.bos_address(port, tls)
    }

    /// Records the TLS BOS address (called once, when the OSCAR TLS listener binds).
    pub(crate) fn set_tls_bos_address(&self, address: String) {
        let _ = self.tls_bos.set(address);
    }

    /// Whether an OSCAR TLS listener runs (so TLS BOS addresses can be handed out).
    pub fn has_tls_listener(&self) -> bool {
        self.tls_bos.get().is_some()
    }

    /// A process secret, for deriving stable values that must not be guessable (e.g. the auth
    /// key handed out for accounts that do not exist).
    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// An argon2id hash of a random password, to verify against when the account does not
    /// exist so that the answer takes as long as for a real account.
    pub(crate) fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            let pw: [u8; 16] = crate::random::random_bytes().unwrap_or([7; 16]);
            crate::credentials::make_credentials(&pw, &self.config.argon2, false)
                .map(|c| c.password_hash)
                .unwrap_or_default()
        })
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// True once shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Number of open connections.
    pub fn open_connections(&self) -> usize {
        self.tracker.count.load(Ordering::Acquire)
    }

    /// Serves one accepted connection to completion (any byte stream: TCP, or TLS from the
    /// TLS listener, which passes `tls = true`).
    pub async fn serve_connection<S: crate::conn::io::SplitStream>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        tls: bool,
    ) {
        let Some(slot) = self.conn_limiter.acquire(peer.ip()) else {
            tracing::info!(%peer, "too many connections from this address; refused");
            self.metrics.incr(&self.metrics.connections_refused);
            return;
        };
        let _guard = self.tracker.enter();
        crate::conn::run(self.clone(), stream, peer, tls).await;
        drop(slot);
    }
}

/// Counts live connection tasks so shutdown can wait for them.
#[derive(Debug, Default)]
struct ConnTracker {
    count: AtomicUsize,
    idle: Notify,
}

struct TrackerGuard<'a>(&'a ConnTracker);

impl ConnTracker {
    fn enter(&self) -> TrackerGuard<'_> {
        self.count.fetch_add(1, Ordering::AcqRel);
        TrackerGuard(self)
    }
    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for TrackerGuard<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    state: Arc<ServerState>,
    local_addr: SocketAddr,
    accept: JoinHandle<()>,
    frontends: crate::frontends::Frontends,
}

impl Server {
    /// Binds the OSCAR listener and starts accepting.
    pub async fn start(config: ServerConfig, store: Arc<dyn Store>) -> std::io::Result<Self> {
        let state = ServerState::new(config, store).map_err(std::io::Error::other)?;
        Self::start_with_state(state).await
    }

    /// Binds the OSCAR listener for prepared state and starts accepting.
    pub async fn start_with_state(state: Arc<ServerState>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(state.config.oscar_addr).await?;
        let local_addr = listener.local_addr()?;
        let _ = state.oscar_port.set(local_addr.port());
        tracing::info!(addr = %local_addr, bos = %state.bos_address(false), "OSCAR listener up");
        // The OSCAR TLS listener and the HTTP(S) API, when configured.
        let frontends = crate::frontends::Frontends::start(&state).await?;
        let accept = tokio::spawn(accept_loop(state.clone(), listener));
        Ok(Self {
            state,
            local_addr,
            accept,
            frontends,
        })
    }

    /// The OSCAR listener's bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    /// The OSCAR TLS and HTTP(S) listeners (addresses, TLS certificate, API state).
    pub fn frontends(&self) -> &crate::frontends::Frontends {
        &self.frontends
    }

    /// Stops accepting, signs everyone off with a channel-4 frame, waits up to the configured
    /// grace period for connections to close, then flushes and closes the store.
    pub async fn shutdown(mut self) -> Result<(), StoreError> {
        self.frontends.stop();
        self.accept.abort();
        let _ = self.accept.await;
        self.state.shutdown.send_replace(true);
        let started = Instant::now();
        if tokio::time::timeout(self.state.config.shutdown_grace, self.state.tracker.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.state.open_connections(),
                "connections still open after the shutdown grace period"
            );
        }
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "connections closed");
        self.state.store.close().await
    }
}

async fn accept_loop(state: Arc<ServerState>, listener: TcpListener) {
    let mut next_id: u64 = 1;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = next_id;
        next_id += 1;
        let span = tracing::info_span!("conn", id, %peer, user = tracing::field::Empty);
        tokio::spawn(state.clone().serve_connection(stream, peer, false).instrument(span));
    }
}
