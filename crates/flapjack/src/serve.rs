//! `flapjack serve`: run the server until SIGINT or SIGTERM.
//!
//! Every option is a flag, a `FLAPJACK_*` environment variable and a key of the TOML config
//! file (`--config FILE`, else `<data-dir>/flapjack.toml`), in that order of precedence; see
//! [`config_file`].

mod config_file;

pub use config_file::resolve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use flapjack_server::store::sqlite::{SqliteOptions, SqliteStore};
use flapjack_server::warning::WarningDecay;
use flapjack_server::{LegacyLogins, MultiSession, Server, ServerConfig};

/// Which legacy logins to accept (command-line form of [`LegacyLogins`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LegacyLoginsArg {
    /// BUCP (MD5) and roasted logins on any transport.
    Allow,
    /// Only over TLS.
    TlsOnly,
    /// Refused: clients must use OpenAuth.
    Deny,
}

impl From<LegacyLoginsArg> for LegacyLogins {
    fn from(v: LegacyLoginsArg) -> Self {
        match v {
            LegacyLoginsArg::Allow => LegacyLogins::Allow,
            LegacyLoginsArg::TlsOnly => LegacyLogins::TlsOnly,
            LegacyLoginsArg::Deny => LegacyLogins::Deny,
        }
    }
}

/// Several sessions per account or one (command-line form of [`MultiSession`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MultiSessionArg {
    /// Follow the client's login flag (TLV 0x004A): 0x01 allows several sessions; 0x03, 0x00
    /// or no flag sign the older session off.
    Client,
    /// Always allow several sessions.
    Allow,
    /// Always sign the older sessions off ("signed on from another location").
    KickOlder,
}

impl From<MultiSessionArg> for MultiSession {
    fn from(v: MultiSessionArg) -> Self {
        match v {
            MultiSessionArg::Client => MultiSession::HonourClient,
            MultiSessionArg::Allow => MultiSession::Allow,
            MultiSessionArg::KickOlder => MultiSession::KickOlder,
        }
    }
}

/// Options of `flapjack serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file whose keys are these long flag names (e.g. `oscar = "0.0.0.0:5190"`);
    /// flags and FLAPJACK_* variables override it [default: <data-dir>/flapjack.toml, when it
    /// exists].
    #[arg(long, env = "FLAPJACK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding the database (created if missing).
    #[arg(long, env = "FLAPJACK_DATA_DIR", default_value = "flapjack-data")]
    pub data_dir: PathBuf,
    /// Address of the OSCAR listener (logins and BOS).
    #[arg(long, env = "FLAPJACK_OSCAR", default_value = "127.0.0.1:5190")]
    pub oscar: SocketAddr,
    /// Host (or host:port) clients are told to connect to for BOS; defaults to the listener's
    /// address (127.0.0.1 when it listens on all addresses).
    #[arg(long, env = "FLAPJACK_ADVERTISE")]
    pub advertise: Option<String>,
    /// Address of the plain HTTP listener for the OpenAuth API (`/auth/clientLogin`,
    /// `/aim/startOSCARSession`), `/healthz` and `/metrics`.
    #[arg(long, env = "FLAPJACK_HTTP")]
    pub http: Option<SocketAddr>,
    /// Address of the HTTPS listener for the same API, with the TLS certificate.
    #[arg(long, env = "FLAPJACK_HTTPS")]
    pub https: Option<SocketAddr>,
    /// Address of the OSCAR TLS listener (logins and BOS over TLS; `useTLS=1` BOS).
    #[arg(long, env = "FLAPJACK_OSCAR_TLS")]
    pub oscar_tls: Option<SocketAddr>,
    /// host:port clients are told to connect to for BOS over TLS; defaults to the advertised
    /// host with the TLS listener's port.
    #[arg(long, env = "FLAPJACK_ADVERTISE_TLS")]
    pub advertise_tls: Option<String>,
    /// TLS certificate chain (PEM). Without it a self-signed certificate is generated into the
    /// data directory (tls-cert.pem, tls-key.pem).
    #[arg(long, env = "FLAPJACK_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM), with --tls-cert.
    #[arg(long, env = "FLAPJACK_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Name clients verify the TLS BOS certificate against (startOSCARSession's tlsCertName);
    /// defaults to the advertised TLS host.
    #[arg(long, env = "FLAPJACK_TLS_CERT_NAME")]
    pub tls_cert_name: Option<String>,
    /// A public base URL clients sign startOSCARSession requests against, e.g.
    /// https://api.example.net (repeatable). https://api.oscar.aol.com and https://api.icq.net
    /// are always accepted, and so is the URL a request actually came in on.
    #[arg(long = "public-api-url", env = "FLAPJACK_PUBLIC_API_URLS", value_delimiter = ',')]
    pub public_api_urls: Vec<String>,
    /// Accept only this developer key (devId / k) on the OpenAuth API (repeatable; default: any).
    #[arg(long = "dev-key", env = "FLAPJACK_DEV_KEYS", value_delimiter = ',')]
    pub dev_keys: Vec<String>,
    /// Accepted clock difference for startOSCARSession's ts, seconds.
    #[arg(long, env = "FLAPJACK_OPENAUTH_TS_WINDOW", default_value_t = 300)]
    pub openauth_ts_window: u64,
    /// Lifetime of a default (shortterm) OpenAuth token, seconds.
    #[arg(long, env = "FLAPJACK_OPENAUTH_TOKEN_TTL", default_value_t = 86_400)]
    pub openauth_token_ttl: u64,
    /// Which legacy (BUCP MD5 and roasted) logins to accept.
    #[arg(long, env = "FLAPJACK_LEGACY_LOGINS", value_enum, default_value_t = LegacyLoginsArg::Allow)]
    pub legacy_logins: LegacyLoginsArg,
    /// Message of the day sent at sign-on.
    #[arg(long, env = "FLAPJACK_MOTD")]
    pub motd: Option<String>,
    /// Close signed-on connections silent for this many seconds.
    #[arg(long, env = "FLAPJACK_IDLE_TIMEOUT", default_value_t = 600)]
    pub idle_timeout: u64,
    /// Most concurrent connections from one address.
    #[arg(long, env = "FLAPJACK_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 64)]
    pub max_connections_per_address: usize,
    /// Keep profiles and away messages across sessions.
    #[arg(long, env = "FLAPJACK_PERSIST_PROFILES")]
    pub persist_profiles: bool,
    /// Do not enforce the rate classes (benchmarks).
    #[arg(long, env = "FLAPJACK_NO_RATE_LIMITS")]
    pub no_rate_limits: bool,
    /// What a second sign-on of an account does to the first: follow the client's flag,
    /// always allow, or always sign the older session off.
    #[arg(long, env = "FLAPJACK_MULTI_SESSION", value_enum, default_value_t = MultiSessionArg::Client)]
    pub multi_session: MultiSessionArg,
    /// Warning levels drop by 1.0 % every this many seconds (0: never).
    #[arg(long, env = "FLAPJACK_WARNING_DECAY_SECS", default_value_t = 60)]
    pub warning_decay_secs: u64,
}

/// Runs the server.
pub fn run(args: ServeArgs) -> Result<(), String> {
    std::fs::create_dir_all(&args.data_dir).map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
    let db = args.data_dir.join("flapjack.sqlite");
    let store = SqliteStore::open(&db, SqliteOptions::default()).map_err(|e| format!("{}: {e}", db.display()))?;
    let advertise = args.advertise.clone().unwrap_or_else(|| {
        if args.oscar.ip().is_unspecified() {
            "127.0.0.1".into()
        } else {
            args.oscar.ip().to_string()
        }
    });
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        oscar_addr: args.oscar,
        advertise_host: advertise,
        legacy_logins: args.legacy_logins.into(),
        motd: args.motd.clone().or(defaults.motd.clone()),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        max_connections_per_address: args.max_connections_per_address.max(1),
        persist_profiles: args.persist_profiles,
        enforce_rate_limits: !args.no_rate_limits,
        multi_session: args.multi_session.into(),
        warning_decay: WarningDecay::per_percent(Duration::from_secs(args.warning_decay_secs)),
        advertise_tls: args.advertise_tls.clone(),
        oscar_tls_addr: args.oscar_tls,
        tls: flapjack_server::tls::TlsSettings {
            cert_path: args.tls_cert.clone(),
            key_path: args.tls_key.clone(),
            dir: Some(args.data_dir.clone()),
            cert_name: args.tls_cert_name.clone(),
            ..defaults.tls.clone()
        },
        http: flapjack_server::http::HttpSettings {
            http_addr: args.http,
            https_addr: args.https,
            public_api_urls: args.public_api_urls.clone(),
            dev_keys: args.dev_keys.clone(),
            ts_window: Duration::from_secs(args.openauth_ts_window),
            token_ttl: Duration::from_secs(args.openauth_token_ttl.max(1)),
            ..defaults.http.clone()
        },
        ..defaults
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let server = Server::start(config, Arc::new(store))
            .await
            .map_err(|e| format!("cannot start the server (OSCAR listener {}): {e}", args.oscar))?;
        tracing::info!(data_dir = %args.data_dir.display(), "flapjack serving");
        wait_for_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await.map_err(|e| format!("closing the store: {e}"))?;
        tracing::info!("bye");
        Ok(())
    })
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
