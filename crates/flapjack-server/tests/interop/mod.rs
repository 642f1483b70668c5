//! Shared harness of the interop tests (`tests/interop_*.rs`): real third-party OSCAR clients
//! (libpurple through `purple-driver`, Twisted 16.6 through `twisted-driver`, see
//! `interop/README.md`) against an in-process flapjack server.
//!
//! * **Peers.** The drivers are found through `FLAPJACK_PURPLE_DRIVER`,
//!   `FLAPJACK_PURPLE_PLUGIN_DIR` and `FLAPJACK_TWISTED_DRIVER`, else through the `env` file that
//!   `.ci/install-peers.sh` writes (`$FLAPJACK_PEERS_ENV`, `$FLAPJACK_PEERS_DIR/env`, or
//!   `/opt/flapjack-peers/env`), and each is probed once (`--probe`). A missing or broken driver
//!   **fails** the test when `CI` is set; otherwise the test prints a loud `SKIPPED: …` line to
//!   stderr and returns.
//! * **Server.** [`TestServer`] runs a server on its own tokio runtime (the tests themselves are
//!   plain blocking `#[test]`s): OSCAR, OSCAR-over-TLS and HTTP (OpenAuth) listeners on
//!   `127.0.0.1:0`, a temporary data directory holding the SQLite store and the generated
//!   self-signed certificate.
//! * **Drivers.** [`Driver`] spawns a driver with a private user directory, reads its JSON-lines
//!   events on a thread, and offers per-step waits with timeouts. A wait fails at once when the
//!   driver reports something that makes further waiting pointless (`connection_error`,
//!   `signed_off`, `fatal`, `command_error`, …). Drivers are killed on drop; when the test is
//!   failing, every driver's recent events and stderr are printed first.
//!
//! Environment knobs: `FLAPJACK_INTEROP_VERBOSE=1` echoes every event as it arrives;
//! `FLAPJACK_INTEROP_KEEP=1` keeps the temporary directories; `FLAPJACK_INTEROP_TLS_CERT` +
//! `FLAPJACK_INTEROP_TLS_KEY` (PEM paths) make the server use that certificate instead of the
//! one it generates (to diagnose TLS problems); `PURPLE_DEBUG=1` /
//! `TWISTED_DEBUG=1` are passed through to the drivers (their logs go to stderr).

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use flapjack_server::credentials::make_credentials;
use flapjack_server::store::{NewAccount, StoredItem};
use flapjack_server::{Server, ServerConfig, ServerState, SqliteOptions, SqliteStore};
use flapjack_wire::types::normalize_screen_name;
use serde_json::Value;

/// Time allowed for a client to sign on (login, BOS sign-on, server-side client ready).
pub const SIGNON: Duration = Duration::from_secs(20);
/// Time allowed for one step (an IM to arrive, a presence change to propagate, …).
pub const STEP: Duration = Duration::from_secs(10);
/// Safety net passed to the drivers (`--timeout`): they exit on their own after this, even if
/// the test process died without killing them.
const DRIVER_TIMEOUT_SECS: u32 = 170;
/// Events and stderr lines kept per driver for diagnostics.
const KEEP_LINES: usize = 400;

// ------------------------------------------------------------------------------------------------
// Peers: finding and probing the drivers

/// A test peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// `purple-driver` (libpurple 2.14 + liboscar).
    Purple,
    /// `twisted-driver` (Twisted 16.6 `twisted.words.protocols.oscar`).
    Twisted,
}

/// The located (and probed) drivers.
#[derive(Debug, Clone)]
pub struct Peers {
    /// `purple-driver` binary.
    pub purple: Result<PathBuf, String>,
    /// The OSCAR plugin directory for `purple-driver`, when known.
    pub purple_plugins: Option<PathBuf>,
    /// `twisted-driver` wrapper.
    pub twisted: Result<PathBuf, String>,
}

fn env_file() -> PathBuf {
    if let Some(p) = std::env::var_os("FLAPJACK_PEERS_ENV") {
        return PathBuf::from(p);
    }
    if let Some(d) = std::env::var_os("FLAPJACK_PEERS_DIR") {
        return PathBuf::from(d).join("env");
    }
    PathBuf::from("/opt/flapjack-peers/env")
}

fn read_env_file(path: &Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn lookup(file: &HashMap<String, String>, key: &str) -> Option<String> {
    match std::env::var(key) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => file.get(key).filter(|v| !v.is_empty()).cloned(),
    }
}

/// Runs `bin --probe` and checks that it prints a `ready` event (and, for libpurple, that the
/// AIM protocol plugin loaded).
fn probe(bin: &Path, envs: &[(&str, &Path)], need_aim: bool) -> Result<(), String> {
    let mut cmd = Command::new(bin);
    cmd.arg("--probe")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} --probe did not finish within 30 s", bin.display()));
            }
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let ready = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "ready");
    match ready {
        Some(v) if status.success() => {
            if need_aim
                && !v["protocols"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|p| p == "prpl-aim"))
            {
                return Err(format!(
                    "{} loaded no prpl-aim (OSCAR plugin missing?): {v}",
                    bin.display()
                ));
            }
            Ok(())
        }
        _ => Err(format!(
            "{} --probe failed ({status}); stdout: {} stderr: {}",
            bin.display(),
            out.trim(),
            err.trim()
        )),
    }
}

fn locate(file: &HashMap<String, String>, key: &str) -> Result<PathBuf, String> {
    let path = lookup(file, key).ok_or_else(|| format!("{key} is not set and not in {}", env_file().display()))?;
    let path = PathBuf::from(path);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{key}={} does not exist", path.display()))
    }
}

/// The drivers, located and probed once per test process.
pub fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let file = read_env_file(&env_file());
        let purple_plugins = lookup(&file, "FLAPJACK_PURPLE_PLUGIN_DIR").map(PathBuf::from);
        let purple = locate(&file, "FLAPJACK_PURPLE_DRIVER").and_then(|bin| {
            let envs: Vec<(&str, &Path)> = purple_plugins
                .as_deref()
                .map(|d| vec![("FLAPJACK_PURPLE_PLUGIN_DIR", d)])
                .unwrap_or_default();
            probe(&bin, &envs, true).map(|()| bin)
        });
        let twisted = locate(&file, "FLAPJACK_TWISTED_DRIVER").and_then(|bin| probe(&bin, &[], false).map(|()| bin));
        Peers {
            purple,
            purple_plugins,
            twisted,
        }
    })
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The drivers a test needs. When one is missing: panics if `CI` is set, else prints a loud
/// `SKIPPED` line to stderr and returns `None` (the test then returns without asserting).
pub fn require(test: &str, needed: &[Peer]) -> Option<&'static Peers> {
    let p = peers();
    let mut missing = Vec::new();
    for peer in needed {
        let r = match peer {
            Peer::Purple => &p.purple,
            Peer::Twisted => &p.twisted,
        };
        if let Err(e) = r {
            missing.push(format!("{peer:?}: {e}"));
        }
    }
    if missing.is_empty() {
        return Some(p);
    }
    let msg = format!(
        "interop test `{test}` needs test peers that are not usable: {}. Install them with \
         `bash .ci/install-peers.sh` (see interop/README.md)",
        missing.join("; ")
    );
    if ci() {
        panic!("{msg} (CI is set: a missing peer is a failure)");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing tests,
    // and a skip must be visible.
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("\n**********\nSKIPPED: {msg}\n**********\n").as_bytes());
    None
}

// ------------------------------------------------------------------------------------------------
// Temporary directories

/// A directory removed on drop (kept when `FLAPJACK_INTEROP_KEEP` is set).
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh, private directory under the system temp dir.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "flapjack-interop-{}-{}-{}-{nanos}",
            tag,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder
            .create(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("FLAPJACK_INTEROP_KEEP").is_some() {
            eprintln!("keeping {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The server

/// How libpurple logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// BUCP MD5 challenge login (`md5_login`).
    Md5,
    /// OpenAuth clientLogin + startOSCARSession (`client_login`).
    ClientLogin,
}

impl Login {
    /// The driver's `--login` value.
    pub fn arg(self) -> &'static str {
        match self {
            Login::Md5 => "md5_login",
            Login::ClientLogin => "client_login",
        }
    }
}

/// libpurple's encryption setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// `no_encryption`.
    None,
    /// `opportunistic_encryption`.
    Opportunistic,
    /// `require_encryption`.
    Require,
}

impl Encryption {
    /// The driver's `--encryption` value.
    pub fn arg(self) -> &'static str {
        match self {
            Encryption::None => "no_encryption",
            Encryption::Opportunistic => "opportunistic_encryption",
            Encryption::Require => "require_encryption",
        }
    }
}

/// Twisted's login flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwistedMode {
    /// BUCP MD5 login (`--mode aim`).
    Aim,
    /// Roasted channel-1 login (`--mode icq`).
    Icq,
}

/// An in-process server on `127.0.0.1`, with the plain OSCAR, OSCAR TLS and HTTP listeners.
pub struct TestServer {
    server: Option<Server>,
    rt: Option<tokio::runtime::Runtime>,
    /// Plain OSCAR listener (BUCP, roasted, BOS).
    pub oscar: SocketAddr,
    /// OSCAR TLS listener.
    pub oscar_tls: SocketAddr,
    /// HTTP listener (OpenAuth).
    pub http: SocketAddr,
    dir: TempDir,
}

impl TestServer {
    /// Starts a server with a fresh data directory.
    pub fn start() -> Self {
        let dir = TempDir::new("server");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("flapjack-interop-server")
            .enable_all()
            .build()
            .expect("tokio runtime");
        let lo = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = ServerConfig::for_tests();
        config.oscar_tls_addr = Some(lo);
        config.http.http_addr = Some(lo);
        config.tls.dir = Some(dir.path().join("tls"));
        // Diagnostics only: an operator certificate instead of the generated one.
        if let (Some(cert), Some(key)) = (
            std::env::var_os("FLAPJACK_INTEROP_TLS_CERT"),
            std::env::var_os("FLAPJACK_INTEROP_TLS_KEY"),
        ) {
            eprintln!("interop: using the operator certificate {cert:?} instead of the generated one");
            config.tls.cert_path = Some(cert.into());
            config.tls.key_path = Some(key.into());
        }
        config.shutdown_grace = Duration::from_secs(1);
        let store = SqliteStore::open(dir.path().join("flapjack.sqlite"), SqliteOptions::default())
            .expect("open the SQLite store");
        let server = rt
            .block_on(Server::start(config, Arc::new(store)))
            .expect("start the server");
        let oscar = server.local_addr();
        let oscar_tls = server
            .frontends()
            .oscar_tls_addr()
            .expect("the OSCAR TLS listener runs");
        let http = server.frontends().http_addr().expect("the HTTP listener runs");
        Self {
            server: Some(server),
            rt: Some(rt),
            oscar,
            oscar_tls,
            http,
            dir,
        }
    }

    /// The server's shared state.
    pub fn state(&self) -> &Arc<ServerState> {
        self.server.as_ref().expect("server running").state()
    }

    /// Runs a future on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("runtime").block_on(f)
    }

    /// The name clients verify the TLS certificate against (startOSCARSession's
    /// `tlsCertName`).
    pub fn tls_cert_name(&self) -> String {
        let server = self.server.as_ref().expect("server running");
        server
            .frontends()
            .tls()
            .expect("TLS material loaded")
            .cert_name()
            .to_owned()
    }

    /// `http://127.0.0.1:PORT`, the driver's `--api-base`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Creates an account (with BUCP MD5 verifiers, so every login method works).
    pub fn add_account(&self, screen_name: &str, password: &str) {
        let state = self.state();
        let credentials = make_credentials(password.as_bytes(), &state.config.argon2, true).expect("make credentials");
        self.block_on(state.store.create_account(NewAccount {
            screen_name: screen_name.to_owned(),
            credentials,
            bot: false,
        }))
        .unwrap_or_else(|e| panic!("create account {screen_name}: {e}"));
    }

    /// Writes a feedbag for `owner` straight into the store: the root group (listing the
    /// groups in TLV 0x00C8), then each group (listing its buddies' item ids in 0x00C8) followed
    /// by its buddies. Group ids count from 1, buddy item ids from 1 (unique per account).
    pub fn set_feedbag(&self, owner: &str, groups: &[(&str, &[&str])]) {
        fn id_list(ids: &[u16]) -> Vec<u8> {
            let mut v = Vec::with_capacity(4 + 2 * ids.len());
            v.extend_from_slice(&0x00C8u16.to_be_bytes());
            v.extend_from_slice(&(2 * ids.len() as u16).to_be_bytes());
            for id in ids {
                v.extend_from_slice(&id.to_be_bytes());
            }
            v
        }
        let group_ids: Vec<u16> = (1..=groups.len() as u16).collect();
        let mut items = vec![StoredItem {
            group_id: 0,
            item_id: 0,
            class_id: 1,
            name: Vec::new(),
            attributes: id_list(&group_ids),
        }];
        let mut next_item = 1u16;
        for ((name, buddies), gid) in groups.iter().zip(&group_ids) {
            let ids: Vec<u16> = (next_item..next_item + buddies.len() as u16).collect();
            next_item += buddies.len() as u16;
            items.push(StoredItem {
                group_id: *gid,
                item_id: 0,
                class_id: 1,
                name: name.as_bytes().to_vec(),
                attributes: id_list(&ids),
            });
            for (buddy, id) in buddies.iter().zip(&ids) {
                items.push(StoredItem {
                    group_id: *gid,
                    item_id: *id,
                    class_id: 0,
                    name: buddy.as_bytes().to_vec(),
                    attributes: Vec::new(),
                });
            }
        }
        let state = self.state();
        self.block_on(state.store.put_feedbag_items(&norm(owner), items))
            .unwrap_or_else(|e| panic!("write {owner}'s feedbag: {e}"));
    }

    /// (class, name) of every item in `owner`'s stored feedbag.
    pub fn feedbag_items(&self, owner: &str) -> Vec<(u16, String)> {
        let state = self.state();
        self.block_on(state.store.feedbag(&norm(owner)))
            .unwrap_or_else(|e| panic!("read {owner}'s feedbag: {e}"))
            .items
            .iter()
            .map(|i| (i.class_id, String::from_utf8_lossy(&i.name).into_owned()))
            .collect()
    }

    /// Waits until `owner`'s stored feedbag has (or, with `present == false`, no longer has) an
    /// item of `class` named `name` (compared as screen names).
    pub fn wait_feedbag_item(
        &self,
        owner: &str,
        class: u16,
        name: &str,
        present: bool,
        timeout: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let items = self.feedbag_items(owner);
            let has = items.iter().any(|(c, n)| *c == class && same_name(n, name));
            if has == present {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "server: {owner}'s stored feedbag {} a class-{class} item {name:?} after {timeout:?}; \
                     items (class, name): {items:?}",
                    if present { "lacks" } else { "still has" }
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// (signed on, over TLS) for each live session of `screen_name`.
    pub fn sessions(&self, screen_name: &str) -> Vec<(bool, bool)> {
        self.state()
            .registry
            .sessions(&norm(screen_name))
            .iter()
            .map(|s| (s.is_ready(), s.info().tls))
            .collect()
    }

    /// Waits until the server holds a signed-on session (client ready processed) of
    /// `screen_name`, over TLS or not as `tls` says (`None`: either).
    pub fn wait_signed_on(&self, screen_name: &str, tls: Option<bool>, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let sessions = self.sessions(screen_name);
            if sessions
                .iter()
                .any(|(ready, t)| *ready && tls.is_none_or(|want| want == *t))
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "server: no signed-on session of {screen_name} (tls: {tls:?}) after {timeout:?}; \
                     live sessions (signed on, tls): {sessions:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until the server holds no session of `screen_name`.
    pub fn wait_signed_off(&self, screen_name: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let sessions = self.sessions(screen_name);
            if sessions.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "server: {screen_name} still has sessions after {timeout:?}: {sessions:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Spawns `purple-driver` for `user` with this login method and encryption. BUCP logins
    /// with encryption go to the OSCAR TLS listener (libpurple does the whole login over TLS);
    /// clientLogin goes through `--api-base` = the HTTP listener.
    pub fn purple(&self, peers: &Peers, user: &str, password: &str, login: Login, enc: Encryption) -> Driver {
        let bin = peers.purple.as_ref().expect("purple-driver located").clone();
        let port = if login == Login::Md5 && enc != Encryption::None {
            self.oscar_tls.port()
        } else {
            self.oscar.port()
        };
        let dir = TempDir::new("purple");
        let mut args: Vec<String> = [
            "--user",
            user,
            "--password",
            password,
            "--server",
            "127.0.0.1",
            "--login",
            login.arg(),
            "--encryption",
            enc.arg(),
            "--auto-reply",
            "away",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend([
            "--port".into(),
            port.to_string(),
            "--api-base".into(),
            self.api_base(),
            "--user-dir".into(),
            dir.path().display().to_string(),
            "--timeout".into(),
            DRIVER_TIMEOUT_SECS.to_string(),
        ]);
        if let Some(plugins) = &peers.purple_plugins {
            args.extend(["--plugin-dir".into(), plugins.display().to_string()]);
        }
        let label = format!("purple:{user}({},{})", login.arg(), enc.arg());
        Driver::spawn(label, Peer::Purple, &bin, &args, Some(dir))
    }

    /// Spawns `twisted-driver` for `user` against the plain OSCAR listener.
    pub fn twisted(&self, peers: &Peers, user: &str, password: &str, mode: TwistedMode) -> Driver {
        let bin = peers.twisted.as_ref().expect("twisted-driver located").clone();
        let mode = match mode {
            TwistedMode::Aim => "aim",
            TwistedMode::Icq => "icq",
        };
        let args: Vec<String> = vec![
            "--user".into(),
            user.into(),
            "--password".into(),
            password.into(),
            "--server".into(),
            "127.0.0.1".into(),
            "--port".into(),
            self.oscar.port().to_string(),
            "--mode".into(),
            mode.into(),
            "--timeout".into(),
            DRIVER_TIMEOUT_SECS.to_string(),
        ];
        Driver::spawn(format!("twisted:{user}({mode})"), Peer::Twisted, &bin, &args, None)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let (Some(server), Some(rt)) = (self.server.take(), self.rt.as_ref()) {
            let done = rt.block_on(async { tokio::time::timeout(Duration::from_secs(3), server.shutdown()).await });
            if !matches!(done, Ok(Ok(()))) && !std::thread::panicking() {
                eprintln!("interop: server shutdown: {done:?}");
            }
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Drivers

/// A running driver process.
pub struct Driver {
    label: String,
    kind: Peer,
    child: Child,
    stdin: Option<ChildStdin>,
    events: Receiver<Value>,
    pending: VecDeque<Value>,
    log: Arc<Mutex<VecDeque<String>>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    started: Instant,
    next_token: u64,
    _dir: Option<TempDir>,
}

fn push_line(buf: &Mutex<VecDeque<String>>, line: String) {
    let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
    if b.len() >= KEEP_LINES {
        b.pop_front();
    }
    b.push_back(line);
}

impl Driver {
    fn spawn(label: String, kind: Peer, bin: &Path, args: &[String], dir: Option<TempDir>) -> Self {
        let mut child = Command::new(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("[{label}] cannot spawn {}: {e}", bin.display()));
        let started = Instant::now();
        let verbose = std::env::var_os("FLAPJACK_INTEROP_VERBOSE").is_some();
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_buf = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel();

        let stdout = child.stdout.take().expect("piped stdout");
        let (log2, label2) = (log.clone(), label.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let t = started.elapsed().as_secs_f64();
                if verbose {
                    eprintln!("[{label2} +{t:.3}s] {line}");
                }
                push_line(&log2, format!("+{t:7.3}s {line}"));
                let value = serde_json::from_str::<Value>(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event": "unparsed", "line": line}));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take().expect("piped stderr");
        let (err2, label3) = (stderr_buf.clone(), label.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if verbose {
                    eprintln!("[{label3} stderr] {line}");
                }
                push_line(&err2, line);
            }
        });
        let stdin = child.stdin.take();
        Self {
            label,
            kind,
            child,
            stdin,
            events: rx,
            pending: VecDeque::new(),
            log,
            stderr: stderr_buf,
            started,
            next_token: 0,
            _dir: dir,
        }
    }

    /// The label used in messages (`purple:alice(md5_login,no_encryption)`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Sends one command (fields joined with TABs).
    pub fn send(&mut self, fields: &[&str]) {
        let line = format!("{}\n", fields.join("\t"));
        let result = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("stdin already closed")),
        };
        if let Err(e) = result {
            self.fail(&format!("cannot send {:?}: {e}", line.trim_end()));
        }
    }

    /// Panics with `msg` and this driver's most recent events.
    pub fn fail(&self, msg: &str) -> ! {
        let recent: Vec<String> = {
            let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            log.iter().rev().take(25).rev().cloned().collect()
        };
        panic!(
            "[{} +{:.1}s] {msg}\n  last events of {}:\n    {}",
            self.label,
            self.started.elapsed().as_secs_f64(),
            self.label,
            recent.join("\n    ")
        );
    }

    /// True for events after which waiting for anything else is pointless.
    fn is_terminal(&self, e: &Value) -> bool {
        let ev = event(e);
        match ev {
            // An error the wait does not expect (the waits that expect one match it first).
            "fatal" | "exiting" | "command_error" | "signed_off" | "im_error" | "chat_error" => true,
            "connection_error" => self.kind == Peer::Purple,
            "error" => {
                self.kind == Peer::Twisted
                    && matches!(
                        str_field(e, "reason"),
                        "auth"
                            | "auth_connection_lost"
                            | "connection_failed"
                            | "server_signoff"
                            | "feedbag"
                            | "self_info"
                    )
            }
            _ => false,
        }
    }

    fn pull_available(&mut self) -> bool {
        loop {
            match self.events.try_recv() {
                Ok(e) => self.pending.push_back(e),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Waits up to `timeout` for an event matching `pred` (looking first at events received
    /// earlier and not consumed yet), consumes and returns it. Fails on timeout, when the driver
    /// exits, or when it reports a terminal event (see [`Driver::is_terminal`]) that `pred` does
    /// not accept.
    pub fn wait(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i).expect("index in range");
        }
        if let Some(t) = self.pending.iter().find(|e| self.is_terminal(e)) {
            self.fail(&format!("driver reported {t} earlier; cannot wait for {what}"));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    if pred(&e) {
                        return e;
                    }
                    if self.is_terminal(&e) {
                        self.fail(&format!("driver reported {e} while waiting for {what}"));
                    }
                    self.pending.push_back(e);
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("timed out after {timeout:?} waiting for {what}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.try_wait().ok().flatten();
                    self.fail(&format!(
                        "driver's stdout closed (exit status {status:?}) while waiting for {what}"
                    ));
                }
            }
        }
    }

    /// Asks this peer for `other`'s user info until its profile text contains `text` (setting
    /// a profile, 0x0002/0x0004, is not acknowledged: a short propagation delay is allowed),
    /// failing after three tries.
    pub fn wait_profile(&mut self, other: &str, text: &str) {
        let mut last = None;
        for attempt in 1..=3u64 {
            self.send(&["info", other]);
            let info = self.wait(&format!("user_info for {other}"), STEP, |e| {
                event(e) == "user_info" && same_name(str_field(e, "name"), other)
            });
            if str_field(&info, "plain").contains(text) {
                return;
            }
            last = Some(info);
            std::thread::sleep(Duration::from_millis(300 * attempt));
        }
        if let Some(info) = last {
            self.fail(&format!(
                "{other}'s profile text is not in this peer's user_info: {info}"
            ));
        }
    }

    /// Waits for an event named `name`.
    pub fn wait_event(&mut self, name: &str, timeout: Duration) -> Value {
        self.wait(&format!("event `{name}`"), timeout, |e| event(e) == name)
    }

    /// Round trip through the driver (`ping` → `pong`): afterwards every event the driver
    /// printed before it is in the pending queue.
    pub fn sync(&mut self) {
        self.next_token += 1;
        let token = format!("sync{}", self.next_token);
        self.send(&["ping", &token]);
        self.wait(&format!("pong {token}"), STEP, |e| {
            event(e) == "pong" && str_field(e, "token") == token
        });
    }

    /// Fails if an event matching `pred` has been received (call [`Driver::sync`] first to be
    /// sure everything the driver printed so far is taken into account).
    pub fn assert_absent(&mut self, what: &str, pred: impl Fn(&Value) -> bool) {
        self.pull_available();
        if let Some(e) = self.pending.iter().find(|e| pred(e)) {
            self.fail(&format!("unexpected {what}: {e}"));
        }
    }

    /// Drops every event received so far and not consumed.
    pub fn discard_pending(&mut self) {
        self.pull_available();
        self.pending.clear();
    }

    /// Sends `quit` and waits (up to `timeout`) for the process to exit.
    pub fn quit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.send(&["quit"]);
        self.stdin = None;
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => return Some(s),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        }
    }

    /// Prints the driver's recent events and stderr (on failure).
    pub fn dump(&self) {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let err = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let skip_log = log.len().saturating_sub(120);
        let skip_err = err.len().saturating_sub(60);
        let mut out = format!(
            "\n===== {} (pid {}, +{:.1}s): last {} events =====\n",
            self.label,
            self.child.id(),
            self.started.elapsed().as_secs_f64(),
            log.len() - skip_log
        );
        for l in log.iter().skip(skip_log) {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&format!(
            "----- {}: stderr (last {} lines) -----\n",
            self.label,
            err.len() - skip_err
        ));
        for l in err.iter().skip(skip_err) {
            out.push_str(l);
            out.push('\n');
        }
        eprint!("{out}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // Give the reader threads a moment to drain what the process wrote last.
            std::thread::sleep(Duration::from_millis(50));
            self.dump();
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Event helpers

/// The event's name.
pub fn event(e: &Value) -> &str {
    e["event"].as_str().unwrap_or("")
}

/// A string field (`""` when absent or not a string).
pub fn str_field<'a>(e: &'a Value, key: &str) -> &'a str {
    e[key].as_str().unwrap_or("")
}

/// A boolean field (`false` when absent).
pub fn bool_field(e: &Value, key: &str) -> bool {
    e[key].as_bool().unwrap_or(false)
}

/// The normalized form of a screen name (lower case, no spaces).
pub fn norm(name: &str) -> String {
    normalize_screen_name(name.as_bytes())
}

/// Whether two screen names are the same account.
pub fn same_name(a: &str, b: &str) -> bool {
    norm(a) == norm(b)
}

/// Case-insensitive substring test.
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// libpurple's `buddy` event for `name` with the given online / away state.
pub fn buddy_state(name: &str, online: bool, away: Option<bool>) -> impl Fn(&Value) -> bool {
    let name = name.to_owned();
    move |e| {
        event(e) == "buddy"
            && same_name(str_field(e, "name"), &name)
            && bool_field(e, "online") == online
            && away.is_none_or(|a| bool_field(e, "away") == a)
    }
}

/// An `im` event from `from` whose text (either form) contains `text`.
pub fn im_from(from: &str, text: &str) -> impl Fn(&Value) -> bool {
    let (from, text) = (from.to_owned(), text.to_owned());
    move |e| {
        event(e) == "im"
            && same_name(str_field(e, "from"), &from)
            && (str_field(e, "plain").contains(&text) || str_field(e, "text").contains(&text))
    }
}

// ------------------------------------------------------------------------------------------------
// Soft checks

/// Collects the failures of independent checks so one test can report all of them.
#[derive(Debug, Default)]
pub struct Checks {
    failures: Vec<String>,
    passed: Vec<String>,
}

impl Checks {
    /// Runs `f`; a panic inside is recorded as a failure of `name` instead of ending the test.
    pub fn check(&mut self, name: &str, f: impl FnOnce()) {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => self.passed.push(name.to_owned()),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "(non-string panic)".into());
                self.failures.push(format!("{name}: {msg}"));
            }
        }
    }

    /// Panics with every recorded failure, if any.
    pub fn finish(self, test: &str) {
        if !self.failures.is_empty() {
            panic!(
                "{test}: {} of {} checks failed (passed: {:?}):\n\n{}",
                self.failures.len(),
                self.failures.len() + self.passed.len(),
                self.passed,
                self.failures.join("\n\n")
            );
        }
    }
}

/// Progress lines for a long scenario (on stderr: shown for failing tests, or with
/// `--nocapture`), so a failure says which step it was in.
#[derive(Debug)]
pub struct Progress {
    test: String,
    started: Instant,
}

impl Progress {
    /// Starts the clock.
    pub fn new(test: &str) -> Self {
        Self {
            test: test.to_owned(),
            started: Instant::now(),
        }
    }

    /// Announces the next step.
    pub fn step(&self, what: &str) {
        eprintln!(
            "[{} +{:.1}s] step: {what}",
            self.test,
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Announces success and the total time.
    pub fn done(&self) {
        report_time(&self.test, self.started);
    }
}

/// Prints how long a test took (visible with `--nocapture`).
pub fn report_time(test: &str, started: Instant) {
    eprintln!("interop: {test} passed in {:.1}s", started.elapsed().as_secs_f64());
}
