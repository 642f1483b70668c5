//! What the client subcommands (`login`, `send`, `listen`, `bot`, `chat`) share: the common
//! flags, the config file, the password sources, progress feedback on stderr, signing on with a
//! readable handshake transcript, and exit codes.
//!
//! Precedence for each setting: command line, then environment variable, then the config file
//! (`--config FILE`, `$FLAPJACK_CLIENT_CONFIG`, else `$XDG_CONFIG_HOME/flapjack/client.toml` or
//! `~/.config/flapjack/client.toml` when it exists), then the default.
//!
//! Passwords come from `--password`, `--password-file`, `$FLAPJACK_PASSWORD`, the config file's
//! `password_file`, or a prompt without echo; they are never printed or logged.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, ValueEnum};
use flapjack_client::openauth::Transcript;
use flapjack_client::{
    BuddyList, Client, ClientConfig, ClientError, ClientHandle, ConnKind, Event, EventStream, Login, TlsOptions,
    UserStatus,
};
use serde::Deserialize;

/// Exit code: something failed (bad arguments to a subcommand, I/O, an unexpected sign-off).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: could not sign on (login refused, server unreachable, sign-on timed out).
pub const EXIT_LOGIN: u8 = 3;
/// Exit code: an IM was not delivered (recipient not logged on, refused, too long…).
pub const EXIT_DELIVERY: u8 = 4;

/// How long signing on may take in all.
const SIGN_ON_TIMEOUT: Duration = Duration::from_secs(60);

/// The exit-code table, for `--help` texts.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 success, 1 failure, 2 usage error, 3 could not sign on \
(login refused, server unreachable), 4 message not delivered.";

/// The config-file help, for `--help` texts.
pub const CONFIG_HELP: &str = "Defaults for the client flags can live in ~/.config/flapjack/client.toml \
(or --config FILE), e.g.:
    server = \"127.0.0.1:5190\"      # BUCP / roasted login server
    api = \"http://127.0.0.1:8080\"  # OpenAuth API base URL
    login = \"openauth\"             # openauth | bucp | roasted
    user = \"alice\"
    password_file = \"~/.config/flapjack/password\"
    tls = false
    ca_cert = \"~/flapjack-data/tls-cert.pem\"";

/// A failure of a client subcommand: the message and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// The process exit code.
    pub code: u8,
    /// What to print after `flapjack: `.
    pub message: String,
}

impl CliError {
    /// A general failure (exit code 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }

    /// A failed sign-on (exit code 3).
    pub fn login(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_LOGIN,
            message: message.into(),
        }
    }

    /// An undelivered message (exit code 4).
    pub fn delivery(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_DELIVERY,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        Self::failure(message)
    }
}

/// The result of a client subcommand.
pub type CliResult = Result<(), CliError>;

/// Prints the error (if any) and turns the result into the process exit code.
pub fn exit(result: CliResult) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flapjack: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

/// A runtime for a client subcommand.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the runtime: {e}")))
}

/// How to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginKind {
    /// OpenAuth over HTTP(S) at --api: clientLogin, then a signed startOSCARSession.
    Openauth,
    /// BUCP MD5 challenge login at --server.
    Bucp,
    /// Roasted-password login at --server (the oldest clients').
    Roasted,
}

/// The flags every client subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Login server for BUCP and roasted logins, HOST:PORT (port 5190 if omitted).
    #[arg(long, env = "FLAPJACK_SERVER", value_name = "HOST:PORT", help_heading = "Connection")]
    pub server: Option<String>,
    /// OpenAuth API base URL, e.g. http://127.0.0.1:8080 (https:// for TLS).
    #[arg(long, env = "FLAPJACK_API", value_name = "URL", help_heading = "Connection")]
    pub api: Option<String>,
    /// How to log in [default: openauth when --api is known, else bucp].
    #[arg(long, env = "FLAPJACK_LOGIN", value_enum, help_heading = "Connection")]
    pub login: Option<LoginKind>,
    /// Screen name.
    #[arg(
        long,
        short = 'u',
        env = "FLAPJACK_USER",
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub user: Option<String>,
    /// The password (visible in the process list: prefer --password-file, $FLAPJACK_PASSWORD or
    /// the prompt).
    #[arg(
        long,
        value_name = "PASSWORD",
        conflicts_with = "password_file",
        help_heading = "Connection"
    )]
    pub password: Option<String>,
    /// A file whose first line is the password.
    #[arg(long, value_name = "FILE", help_heading = "Connection")]
    pub password_file: Option<PathBuf>,
    /// Use TLS for OSCAR: to the BUCP / roasted login server, and ask OpenAuth for a TLS BOS
    /// connection (useTLS=1). (The API uses TLS when --api is https://.)
    #[arg(long, help_heading = "Connection")]
    pub tls: bool,
    /// Also trust the certificate(s) in this PEM file, e.g. a server's self-signed
    /// tls-cert.pem.
    #[arg(long, value_name = "PEM", help_heading = "Connection")]
    pub ca_cert: Option<PathBuf>,
    /// Client config file [default: ~/.config/flapjack/client.toml, when it exists].
    #[arg(
        long,
        env = "FLAPJACK_CLIENT_CONFIG",
        value_name = "FILE",
        help_heading = "Connection"
    )]
    pub config: Option<PathBuf>,
    /// Print every handshake step and progress line on stderr.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// The config file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    server: Option<String>,
    api: Option<String>,
    login: Option<LoginKind>,
    user: Option<String>,
    password_file: Option<PathBuf>,
    tls: Option<bool>,
    ca_cert: Option<PathBuf>,
}

/// The settings after flags, environment and the config file are combined.
#[derive(Clone)]
pub struct Resolved {
    /// What the client library needs.
    pub client: ClientConfig,
    /// How the login goes, for messages ("OpenAuth at http://…", "BUCP at host:port").
    pub describe: String,
    /// The login flow.
    pub kind: LoginKind,
    /// `-v`.
    pub verbose: bool,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("client", &self.client)
            .field("describe", &self.describe)
            .finish_non_exhaustive()
    }
}

/// `~/…` expanded, and a relative path taken relative to `base`.
fn expand_path(p: &Path, base: Option<&Path>) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

/// The default config file's path.
fn default_config_path() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("flapjack").join("client.toml"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config").join("flapjack").join("client.toml"))
}

fn load_config(explicit: Option<&Path>) -> Result<(FileConfig, Option<PathBuf>), CliError> {
    let (path, required) = match explicit {
        Some(p) => (expand_path(p, None), true),
        None => match default_config_path() {
            Some(p) => (p, false),
            None => return Ok((FileConfig::default(), None)),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok((FileConfig::default(), None)),
        Err(e) => return Err(CliError::failure(format!("config file {}: {e}", path.display()))),
    };
    let cfg: FileConfig =
        toml::from_str(&text).map_err(|e| CliError::failure(format!("config file {}: {e}", path.display())))?;
    let dir = path.parent().map(Path::to_path_buf);
    Ok((cfg, dir))
}

fn read_password_file(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::failure(format!("password file {}: {e}", path.display())))?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

impl ClientArgs {
    /// Combines flags, environment and the config file into a client configuration, reading
    /// (or prompting for) the password.
    pub fn resolve(&self) -> Result<Resolved, CliError> {
        let (file, file_dir) = load_config(self.config.as_deref())?;
        let server = self.server.clone().or(file.server);
        let api = self.api.clone().or(file.api);
        let kind = match self.login.or(file.login) {
            Some(k) => k,
            None if api.is_some() => LoginKind::Openauth,
            None if server.is_some() => LoginKind::Bucp,
            None => {
                return Err(CliError::failure(
                    "no server given: use --server HOST:PORT (BUCP / roasted) or --api URL (OpenAuth), \
                     or put them in ~/.config/flapjack/client.toml",
                ));
            }
        };
        let user = self
            .user
            .clone()
            .or(file.user)
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| CliError::failure("no screen name given: use --user NAME"))?;
        let tls = self.tls || file.tls.unwrap_or(false);
        let ca_cert = self
            .ca_cert
            .clone()
            .map(|p| expand_path(&p, None))
            .or_else(|| file.ca_cert.map(|p| expand_path(&p, file_dir.as_deref())));
        let password = if let Some(pw) = &self.password {
            pw.clone()
        } else if let Some(path) = &self.password_file {
            read_password_file(&expand_path(path, None))?
        } else if let Some(pw) = std::env::var_os("FLAPJACK_PASSWORD") {
            pw.to_string_lossy().into_owned()
        } else if let Some(path) = &file.password_file {
            read_password_file(&expand_path(path, file_dir.as_deref()))?
        } else if std::io::stdin().is_terminal() {
            rpassword::prompt_password(format!("Password for {user}: "))
                .map_err(|e| CliError::failure(format!("reading the password: {e}")))?
        } else {
            return Err(CliError::failure(
                "no password: use --password-file FILE or $FLAPJACK_PASSWORD (or run in a terminal to be prompted)",
            ));
        };

        let (login, describe) = match kind {
            LoginKind::Openauth => {
                let api = api.ok_or_else(|| CliError::failure("--login openauth needs --api URL"))?;
                if !(api.starts_with("http://") || api.starts_with("https://")) {
                    return Err(CliError::failure(format!(
                        "--api {api}: expected an http:// or https:// URL"
                    )));
                }
                let describe = format!("OpenAuth at {api}");
                (Login::OpenAuth { api_base: api }, describe)
            }
            LoginKind::Bucp => {
                let server = server.ok_or_else(|| CliError::failure("--login bucp needs --server HOST:PORT"))?;
                let describe = format!("BUCP at {server}{}", if tls { " over TLS" } else { "" });
                (
                    Login::Bucp {
                        server,
                        weak_hash: false,
                    },
                    describe,
                )
            }
            LoginKind::Roasted => {
                let server = server.ok_or_else(|| CliError::failure("--login roasted needs --server HOST:PORT"))?;
                let describe = format!("roasted login at {server}{}", if tls { " over TLS" } else { "" });
                (Login::Roasted { server }, describe)
            }
        };
        let mut client = ClientConfig::new(login, user, password);
        client.login_tls = tls;
        client.open_auth.use_tls = tls;
        if let Some(path) = ca_cert {
            let pem =
                std::fs::read(&path).map_err(|e| CliError::failure(format!("--ca-cert {}: {e}", path.display())))?;
            client.tls = TlsOptions::default().with_extra_roots_pem(pem);
            // Fail early on a file without certificates.
            client
                .tls
                .client_config()
                .map_err(|e| CliError::failure(format!("--ca-cert {}: {e}", path.display())))?;
        }
        Ok(Resolved {
            client,
            describe,
            kind,
            verbose: self.verbose,
        })
    }
}

/// Progress feedback on stderr: a spinner when stderr is a terminal, plain lines with `-v`,
/// nothing otherwise.
pub struct Progress {
    tty: bool,
    verbose: bool,
    message: Arc<Mutex<Option<String>>>,
    spinner: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Progress for a command run with or without `-v`. Call inside a tokio runtime.
    pub fn new(verbose: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let message = Arc::new(Mutex::new(None::<String>));
        let spinner = (tty && !verbose).then(|| {
            let message = message.clone();
            tokio::spawn(async move {
                const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
                let mut i = 0usize;
                loop {
                    if let Some(m) = message.lock().map(|m| m.clone()).unwrap_or_default() {
                        let mut err = std::io::stderr().lock();
                        let _ = write!(err, "\r\x1b[2K{} {m}", FRAMES[i % FRAMES.len()]);
                        let _ = err.flush();
                    }
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        });
        Self {
            tty,
            verbose,
            message,
            spinner,
        }
    }

    /// Shows what is happening now ("connecting to …", "signing on as …").
    pub fn step(&self, what: &str) {
        if self.verbose {
            eprintln!("flapjack: {what}");
        } else if self.tty
            && let Ok(mut m) = self.message.lock()
        {
            *m = Some(format!("{what}…"));
        }
    }

    /// Clears the spinner line.
    pub fn finish(&mut self) {
        if let Some(s) = self.spinner.take() {
            s.abort();
            if let Ok(mut m) = self.message.lock()
                && m.take().is_some()
            {
                eprint!("\r\x1b[2K");
                let _ = std::io::stderr().flush();
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A connection opened while signing on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Login server or BOS.
    pub kind: ConnKind,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS certificate name, when TLS.
    pub tls_cert_name: Option<String>,
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)?;
        match &self.tls_cert_name {
            Some(name) => write!(f, " over TLS (certificate name {name})"),
            None => write!(f, " (plain TCP)"),
        }
    }
}

/// A signed-on client and what happened on the way.
pub struct SignedOn {
    /// Sends commands.
    pub handle: ClientHandle,
    /// The rest of the events.
    pub events: EventStream,
    /// Every event up to and including `SignedOn`, in order.
    pub early: Vec<Event>,
    /// Our user info at sign-on.
    pub self_info: UserStatus,
    /// The server-stored buddy list.
    pub buddy_list: BuddyList,
    /// The OpenAuth transcript, for OpenAuth logins.
    pub transcript: Option<Transcript>,
    /// The connections opened (login server, BOS).
    pub hops: Vec<Hop>,
}

/// A failed sign-on: the error and, for OpenAuth, the steps up to the failure.
#[derive(Debug)]
pub struct SignOnFailure {
    /// The error for the user.
    pub error: CliError,
    /// What happened before it.
    pub transcript: Option<Transcript>,
}

impl From<SignOnFailure> for CliError {
    fn from(f: SignOnFailure) -> Self {
        f.error
    }
}

/// Signs on with progress feedback, collecting the handshake.
pub async fn sign_on(r: &Resolved, progress: &Progress) -> Result<SignedOn, SignOnFailure> {
    progress.step(&format!("signing on as {} with {}", r.client.screen_name, r.describe));
    let connected = tokio::time::timeout(SIGN_ON_TIMEOUT, Client::connect(r.client.clone())).await;
    let (handle, mut events) = match connected {
        Err(_) => {
            return Err(SignOnFailure {
                error: CliError::login(format!("signing on with {} timed out", r.describe)),
                transcript: None,
            });
        }
        Ok(Err(e)) => {
            return Err(SignOnFailure {
                error: CliError::login(format!(
                    "could not sign on with {}: {}",
                    r.describe,
                    describe_error(&e.error)
                )),
                transcript: e.transcript,
            });
        }
        Ok(Ok(x)) => x,
    };
    let mut early = Vec::new();
    let mut transcript = None;
    let mut hops = Vec::new();
    loop {
        let ev = match tokio::time::timeout(Duration::from_secs(10), events.next()).await {
            Ok(Some(ev)) => ev,
            _ => {
                return Err(SignOnFailure {
                    error: CliError::login("the client stopped while signing on"),
                    transcript,
                });
            }
        };
        match &ev {
            Event::LoginTranscript(t) => transcript = Some(t.clone()),
            Event::Connecting {
                kind,
                host,
                port,
                tls_cert_name,
            } => {
                let hop = Hop {
                    kind: kind.clone(),
                    host: host.clone(),
                    port: *port,
                    tls_cert_name: tls_cert_name.clone(),
                };
                hops.push(hop);
            }
            _ => {}
        }
        if let Event::SignedOn { self_info, buddy_list } = &ev {
            let (self_info, buddy_list) = (self_info.clone(), buddy_list.clone());
            early.push(ev);
            return Ok(SignedOn {
                handle,
                events,
                early,
                self_info,
                buddy_list,
                transcript,
                hops,
            });
        }
        early.push(ev);
    }
}

/// [`sign_on`], then with `-v` the handshake (or, on failure, the transcript so far) on stderr.
pub async fn sign_on_reporting(r: &Resolved, progress: &mut Progress) -> Result<SignedOn, CliError> {
    let result = sign_on(r, progress).await;
    match result {
        Ok(s) => {
            if r.verbose {
                for line in handshake_lines(r.kind, &r.client.screen_name, &s) {
                    eprintln!("{line}");
                }
            }
            Ok(s)
        }
        Err(failure) => {
            progress.finish();
            if r.verbose
                && let Some(t) = &failure.transcript
            {
                for line in transcript_lines(t) {
                    eprintln!("{line}");
                }
            }
            Err(failure.error)
        }
    }
}

/// An error in words a user can act on.
pub fn describe_error(e: &ClientError) -> String {
    match e {
        ClientError::Snac {
            code: flapjack_wire::ErrorCode::NotLoggedOn,
            ..
        } => format!("recipient not logged on ({e})"),
        _ => e.to_string(),
    }
}

/// The handshake as readable lines: the OpenAuth transcript (when OpenAuth), then the OSCAR
/// connections and the sign-on.
pub fn handshake_lines(kind: LoginKind, user: &str, s: &SignedOn) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t) = &s.transcript {
        out.push("OpenAuth:".to_owned());
        for line in t.to_string().lines() {
            out.push(format!("  {line}"));
        }
    }
    out.push("OSCAR:".to_owned());
    for hop in &s.hops {
        match hop.kind {
            ConnKind::Login => {
                out.push(format!("  > connect to the login server {hop}"));
                out.push(match kind {
                    LoginKind::Roasted => format!("  = roasted-password login as {user} (FLAP channel 1)"),
                    _ => {
                        format!("  = BUCP MD5 challenge login as {user} (strong hash): challenge, hashed reply, cookie")
                    }
                });
            }
            ConnKind::Bos => {
                out.push(format!("  > connect to BOS {hop}"));
                out.push("  = cookie sign-on, family versions, rate classes, client ready".to_owned());
            }
            _ => {}
        }
    }
    out.push(format!(
        "  = signed on as {}{}",
        s.self_info.screen_name,
        s.self_info
            .online_since
            .map(|t| format!(" at {}", format_unix(i64::from(t))))
            .unwrap_or_default()
    ));
    out
}

/// Prints a transcript of a failed login, indented.
pub fn transcript_lines(t: &Transcript) -> Vec<String> {
    let mut out = vec!["OpenAuth:".to_owned()];
    for line in t.to_string().lines() {
        out.push(format!("  {line}"));
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time.
pub fn format_unix(unix: i64) -> String {
    // Howard Hinnant's civil-from-days.
    let secs = unix.rem_euclid(86_400);
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_format() {
        assert_eq!(format_unix(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_unix(951_782_400 + 3661), "2000-02-29 01:01:01 UTC");
    }

    #[test]
    fn config_files_parse_and_reject_unknown_keys() {
        let c: FileConfig = toml::from_str("server = \"h:1\"\nlogin = \"roasted\"\ntls = true\n").unwrap();
        assert_eq!(c.server.as_deref(), Some("h:1"));
        assert_eq!(c.login, Some(LoginKind::Roasted));
        assert!(toml::from_str::<FileConfig>("password = \"x\"\n").is_err());
    }

    #[test]
    fn paths_expand() {
        assert_eq!(
            expand_path(Path::new("pw"), Some(Path::new("/etc/fj"))),
            PathBuf::from("/etc/fj/pw")
        );
        assert_eq!(
            expand_path(Path::new("/abs"), Some(Path::new("/etc"))),
            PathBuf::from("/abs")
        );
    }
}
