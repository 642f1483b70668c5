//! Shared by the client CLI tests: an in-process server on 127.0.0.1 ephemeral ports (OSCAR
//! and the OpenAuth HTTP API) with accounts, library clients to play the other side, and
//! helpers to run the real `flapjack` binary with a clean environment and time limits.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flapjack_client::{Client, ClientConfig, ClientHandle, Event, EventStream, Login};
use flapjack_server::credentials::make_credentials;
use flapjack_server::store::{NewAccount, Store};
use flapjack_server::{Server, ServerConfig, SqliteOptions, SqliteStore};

/// How long any one wait may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory tagged `tag`.
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("flapjack-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server running in this process, with its own runtime.
pub struct TestServer {
    /// The runtime the server and the library clients run on.
    pub rt: tokio::runtime::Runtime,
    server: Option<Server>,
    /// The OSCAR listener (BUCP logins and BOS).
    pub oscar: SocketAddr,
    /// The OpenAuth API base URL.
    pub api: String,
    /// HOME and XDG_CONFIG_HOME of the spawned binaries (no stray client.toml).
    pub home: TempDir,
    /// With TLS: the OSCAR TLS listener's port, the HTTPS API's port and the certificate file.
    pub tls: Option<(u16, u16, PathBuf)>,
}

impl TestServer {
    /// Starts a server with these (screen name, password) accounts.
    pub fn start(accounts: &[(&str, &str)]) -> Self {
        Self::start_with(accounts, false)
    }

    /// Starts a server; with `tls`, also the OSCAR TLS listener and the HTTPS API with a
    /// generated self-signed certificate for `localhost`.
    pub fn start_with(accounts: &[(&str, &str)], tls: bool) -> Self {
        let home = TempDir::new("cli-home");
        let tls_dir = home.0.join("server-tls");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let accounts: Vec<(String, String)> = accounts
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        let server = rt.block_on(async move {
            let mut config = ServerConfig::for_tests();
            let any = SocketAddr::from(([127, 0, 0, 1], 0));
            config.http.http_addr = Some(any);
            if tls {
                config.oscar_tls_addr = Some(any);
                config.http.https_addr = Some(any);
                config.tls.dir = Some(tls_dir);
                config.advertise_host = "localhost".into();
            }
            let store = Arc::new(SqliteStore::open_in_memory(SqliteOptions::default()).expect("store"));
            for (name, pw) in accounts {
                let credentials = make_credentials(pw.as_bytes(), &config.argon2, true).expect("credentials");
                store
                    .create_account(NewAccount {
                        screen_name: name,
                        credentials,
                        bot: false,
                    })
                    .await
                    .expect("account");
            }
            Server::start(config, store).await.expect("server")
        });
        let oscar = server.local_addr();
        let api = format!("http://{}", server.frontends().http_addr().expect("HTTP API listener"));
        let tls = tls.then(|| {
            let f = server.frontends();
            let pem = home.0.join("server-cert.pem");
            std::fs::write(&pem, f.tls().expect("TLS material").certificate_pem()).unwrap();
            (f.oscar_tls_addr().unwrap().port(), f.https_addr().unwrap().port(), pem)
        });
        Self {
            rt,
            server: Some(server),
            oscar,
            api,
            home,
            tls,
        }
    }

    /// The `flapjack` binary with a clean environment (no config file, no FLAPJACK_* variables).
    pub fn flapjack(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_flapjack"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("FLAPJACK_") {
                c.env_remove(&k);
            }
        }
        c.env("HOME", &self.home.0).env("XDG_CONFIG_HOME", &self.home.0);
        c.stdin(Stdio::null());
        c
    }

    /// Signs a library client on with BUCP.
    pub fn peer(&self, name: &str, password: &str) -> Peer {
        let cfg = ClientConfig::new(
            Login::Bucp {
                server: self.oscar.to_string(),
                weak_hash: false,
            },
            name,
            password,
        );
        let (handle, events) = self
            .rt
            .block_on(async { tokio::time::timeout(WAIT, Client::connect(cfg)).await })
            .expect("peer signs on in time")
            .unwrap_or_else(|e| panic!("peer sign-on: {e}"));
        Peer { handle, events }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(WAIT, server.shutdown()).await });
        }
    }
}

/// A library client playing the other side.
pub struct Peer {
    /// Commands.
    pub handle: ClientHandle,
    /// Events.
    pub events: EventStream,
}

impl Peer {
    /// The next event matching `pred` (others skipped); panics after [`WAIT`].
    pub fn expect(&mut self, rt: &tokio::runtime::Runtime, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        rt.block_on(async {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let ev = tokio::time::timeout_at(deadline, self.events.next())
                    .await
                    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                    .unwrap_or_else(|| panic!("events ended while waiting for {what}"));
                if pred(&ev) {
                    return ev;
                }
            }
        })
    }

    /// Signs off.
    pub fn sign_off(self, rt: &tokio::runtime::Runtime) {
        rt.block_on(async {
            let _ = tokio::time::timeout(WAIT, self.handle.sign_off()).await;
        });
    }
}

/// Waits for a process with a time limit (killing it when over), collecting its output.
pub fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the process ran past {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command to completion within [`WAIT`].
pub fn run(mut cmd: Command) -> Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    finish(child, WAIT)
}

/// Lines of a reader, delivered on a channel by a thread.
pub fn lines_of(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Reads lines until one contains `needle`; returns every line read. Panics after [`WAIT`].
pub fn read_until(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let hit = line.contains(needle);
                seen.push(line);
                if hit {
                    return seen;
                }
            }
            Err(_) => panic!("no line containing {needle:?}; got:\n{}", seen.join("\n")),
        }
    }
}

/// Text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
