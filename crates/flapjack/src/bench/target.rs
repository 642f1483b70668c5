//! The server under test: a spawned `flapjack serve` (its own process, so that its memory can
//! be read from `/proc/PID/status`) or an in-process [`Server`], over a data directory whose
//! load accounts this module creates (bot accounts, as `flapjack account add --bot` makes them).

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flapjack_auth::password::Argon2Params;
use flapjack_server::credentials::make_credentials;
use flapjack_server::store::sqlite::{SqliteOptions, SqliteStore};
use flapjack_server::store::{NewAccount, Store};
use flapjack_server::{Server, ServerConfig};

/// The password of every load account.
pub const PASSWORD: &str = "bench-password";

/// The screen name of BUCP load account `i`.
pub fn user_name(i: usize) -> String {
    format!("bench{i:05}")
}

/// The screen name of OpenAuth load account `i` (hashed with the server's default argon2 costs).
pub fn openauth_name(i: usize) -> String {
    format!("benchoa{i:04}")
}

/// argon2id costs for the BUCP load accounts. BUCP logins check the MD5 verifiers and never
/// the argon2 hash, so cheap costs only make creating 19,000 accounts fast; the OpenAuth
/// accounts, whose logins do verify the hash, get the server's defaults.
const CHEAP_ARGON2: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

/// Where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerKind {
    /// `flapjack serve` as a child process (the memory figures need this).
    Spawn,
    /// A server inside the load tool's process (shares its runtime and memory).
    InProcess,
}

/// Makes sure `users` BUCP accounts and `openauth_users` OpenAuth accounts exist in `dir`
/// (bot accounts); returns how many were created.
pub async fn provision(dir: &Path, users: usize, openauth_users: usize) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let db = dir.join("flapjack.sqlite");
    let store = SqliteStore::open(&db, SqliteOptions::default()).map_err(|e| format!("{}: {e}", db.display()))?;
    let existing: HashSet<String> = store
        .list_accounts()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|a| a.normalized)
        .collect();
    let mut wanted: Vec<(String, Argon2Params)> = (0..users).map(|i| (user_name(i), CHEAP_ARGON2)).collect();
    wanted.extend((0..openauth_users).map(|i| (openauth_name(i), Argon2Params::default())));
    let missing: Vec<(String, Argon2Params)> = wanted.into_iter().filter(|(n, _)| !existing.contains(n)).collect();
    let created = missing.len();
    if created > 0 {
        eprintln!("bench: creating {created} bot account(s) in {}", dir.display());
    }
    // Hash on blocking threads, insert in batches (the store serialises them anyway).
    for chunk in missing.chunks(512) {
        let batch = chunk.to_vec();
        let accounts = tokio::task::spawn_blocking(move || {
            batch
                .into_iter()
                .map(|(name, params)| {
                    make_credentials(PASSWORD.as_bytes(), &params, true)
                        .map(|credentials| NewAccount {
                            screen_name: name,
                            credentials,
                            bot: true,
                        })
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, String>>()
        })
        .await
        .map_err(|e| e.to_string())??;
        let inserts = accounts.into_iter().map(|a| store.create_account(a));
        for r in await_all(inserts).await {
            r.map_err(|e| e.to_string())?;
        }
    }
    store.close().await.map_err(|e| e.to_string())?;
    Ok(created)
}

/// Awaits futures created beforehand (store calls: each is queued on the store thread when created).
async fn await_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    let handles: Vec<_> = futs.map(Box::pin).collect();
    for h in handles {
        out.push(h.await);
    }
    out
}

/// A running server under test.
pub struct Target {
    /// The OSCAR listener.
    pub oscar: SocketAddr,
    /// The OpenAuth HTTP listener, when asked for.
    pub http: Option<SocketAddr>,
    child: Option<tokio::process::Child>,
    server: Option<Server>,
    log: Option<PathBuf>,
}

/// A free loopback port (bound and released; the server binds it right after).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl Target {
    /// Starts a server over `dir`.
    pub async fn start(kind: ServerKind, dir: &Path, with_http: bool) -> Result<Self, String> {
        match kind {
            ServerKind::Spawn => Self::spawn(dir, with_http).await,
            ServerKind::InProcess => Self::in_process(dir, with_http).await,
        }
    }

    async fn spawn(dir: &Path, with_http: bool) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the flapjack binary: {e}"))?;
        let oscar = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let http = if with_http {
            Some(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
        } else {
            None
        };
        let log = dir.join("server.log");
        let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .arg("--oscar")
            .arg(oscar.to_string())
            .arg("--idle-timeout")
            .arg("1800");
        if let Some(h) = http {
            cmd.arg("--http").arg(h.to_string());
        }
        // Extra `flapjack serve` arguments for experiments (whitespace-separated).
        if let Ok(extra) = std::env::var("FLAPJACK_BENCH_SERVER_ARGS") {
            cmd.args(extra.split_whitespace());
        }
        // Operational logging only: per-login info lines would be part of what is measured.
        let log_level = std::env::var("FLAPJACK_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into());
        cmd.env("FLAPJACK_LOG", log_level)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| format!("cannot spawn flapjack serve: {e}"))?;
        let mut target = Self {
            oscar,
            http,
            child: Some(child),
            server: None,
            log: Some(log),
        };
        target.wait_listening().await?;
        Ok(target)
    }

    async fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut addrs = vec![self.oscar];
        addrs.extend(self.http);
        for addr in addrs {
            loop {
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    break;
                }
                if let Some(child) = &mut self.child
                    && let Ok(Some(status)) = child.try_wait()
                {
                    return Err(format!("flapjack serve exited ({status}); see {}", self.log_hint()));
                }
                if Instant::now() > deadline {
                    return Err(format!("the server did not listen on {addr} within 30 s"));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    fn log_hint(&self) -> String {
        self.log.as_ref().map_or_else(String::new, |l| l.display().to_string())
    }

    async fn in_process(dir: &Path, with_http: bool) -> Result<Self, String> {
        let db = dir.join("flapjack.sqlite");
        let store = SqliteStore::open(&db, SqliteOptions::default()).map_err(|e| format!("{}: {e}", db.display()))?;
        let defaults = ServerConfig::default();
        let config = ServerConfig {
            oscar_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            idle_timeout: Duration::from_secs(1800),
            http: flapjack_server::http::HttpSettings {
                http_addr: with_http.then(|| SocketAddr::from(([127, 0, 0, 1], 0))),
                ..defaults.http.clone()
            },
            ..defaults
        };
        let server = Server::start(config, Arc::new(store))
            .await
            .map_err(|e| format!("cannot start the server: {e}"))?;
        Ok(Self {
            oscar: server.local_addr(),
            http: server.frontends().http_addr(),
            child: None,
            server: Some(server),
            log: None,
        })
    }

    /// The process id whose memory is the server's (the load tool's own for in-process).
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(tokio::process::Child::id)
            .unwrap_or_else(std::process::id)
    }

    /// The server process's resident set size, KiB (`VmRSS` in `/proc/PID/status`).
    pub fn rss_kib(&self) -> Result<u64, String> {
        rss_kib(self.pid())
    }

    /// Stops the server (the child is killed by its id; an in-process one shuts down).
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server.shutdown()).await;
        }
    }
}

/// `VmRSS` of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in {path}"))
}
