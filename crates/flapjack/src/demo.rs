//! `flapjack demo`: the whole protocol in a few seconds, with no setup.
//!
//! Starts an embedded server in this process (SQLite in a temporary directory, ephemeral
//! loopback ports, the OpenAuth HTTP API), creates two accounts, signs one on with OpenAuth and
//! the other with BUCP, and has them add each other as buddies, exchange IMs (with a typing
//! notification), go away and come back, and talk in a chat room; then both sign off and the
//! server shuts down. Every step is checked against what the *other* client observed, and
//! printed as it happens, with the OpenAuth transcript. Exits non-zero if any step fails; a step
//! whose server feature is missing is reported as "not yet supported" (and fails the run).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use flapjack_auth::password::Argon2Params;
use flapjack_client::{
    Client, ClientConfig, ClientError, ClientHandle, ConnKind, Event, EventStream, FeedbagStatus, Login, TypingEvent,
    strip_html,
};
use flapjack_server::credentials::make_credentials;
use flapjack_server::store::{NewAccount, Store};
use flapjack_server::{Server, ServerConfig, SqliteOptions, SqliteStore};
use flapjack_wire::ErrorCode;
use flapjack_wire::types::normalize_screen_name;

use crate::client_args::{self, CliError, CliResult};

/// Options of `flapjack demo`.
#[derive(Debug, Args)]
#[command(
    after_help = "Nothing to set up: the server runs inside this process on 127.0.0.1 with \
    ephemeral ports and a temporary SQLite database that is removed at exit. Exit code 0 when every \
    step worked, 1 otherwise."
)]
pub struct DemoArgs {
    /// Seconds to wait for any one thing to happen before the step fails.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub timeout: u64,
    /// Keep the temporary data directory (its path is printed).
    #[arg(long)]
    pub keep_data: bool,
}

/// The two demo accounts.
const OA_USER: &str = "Syrup";
const BUCP_USER: &str = "Butter";
const GROUP: &str = "Breakfast Club";
const ROOM: &str = "Griddle";

/// The steps, in order (so that a run cut short still lists what it skipped).
const STEPS: [&str; 11] = [
    "Start an embedded server",
    "Create two accounts",
    "Syrup signs on with OpenAuth",
    "Butter signs on with BUCP",
    "They add each other as buddies",
    "They exchange IMs",
    "Butter goes away",
    "Butter comes back",
    "They talk in a chat room",
    "They sign off",
    "The server shuts down",
];

/// Why a step did not work.
#[derive(Debug)]
enum Fail {
    /// It went wrong.
    Failed(String),
    /// The server (or client) does not offer the feature yet.
    NotSupported(String),
}

impl From<ClientError> for Fail {
    fn from(e: ClientError) -> Self {
        let unsupported = match &e {
            ClientError::ServiceUnavailable(_) => true,
            ClientError::Snac { code, .. } => matches!(
                code,
                ErrorCode::ServiceUnavailable | ErrorCode::ServiceNotDefined | ErrorCode::NotSupportedByHost
            ),
            _ => false,
        };
        if unsupported {
            Fail::NotSupported(e.to_string())
        } else {
            Fail::Failed(e.to_string())
        }
    }
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Failed(s)
    }
}

type StepResult<T> = Result<T, Fail>;

/// Prints steps as they finish and keeps the tally.
struct Report {
    next: usize,
    ok: usize,
    failed: Vec<String>,
}

impl Report {
    fn record<T>(&mut self, result: &StepResult<T>, details: &[String], took: Duration) {
        let title = STEPS[self.next];
        self.next += 1;
        let n = self.next;
        let status = match result {
            Ok(_) => {
                self.ok += 1;
                format!("ok ({} ms)", took.as_millis())
            }
            Err(Fail::Failed(why)) => {
                self.failed.push(format!("{n}. {title}: {why}"));
                format!("FAILED: {why}")
            }
            Err(Fail::NotSupported(why)) => {
                self.failed.push(format!("{n}. {title}: not yet supported ({why})"));
                format!("not yet supported: {why}")
            }
        };
        let dots = ".".repeat(48usize.saturating_sub(title.len()).max(2));
        println!("{n:>2}. {title} {dots} {status}");
        for d in details {
            println!("      {d}");
        }
    }

    fn skip_rest(&mut self, why: &str) {
        while self.next < STEPS.len() {
            let title = STEPS[self.next];
            self.next += 1;
            self.failed.push(format!("{}. {title}: skipped", self.next));
            println!("{:>2}. {title} — skipped ({why})", self.next);
        }
    }
}

/// A temporary directory removed on drop (unless kept).
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    fn new(keep: bool) -> Result<Self, String> {
        let tag: [u8; 6] = flapjack_server::random::random_bytes()?;
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("flapjack-demo-{}-{hex}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(Self { path, keep })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A signed-on demo client with the events it has seen but not yet looked at.
struct Peer {
    name: String,
    handle: ClientHandle,
    events: EventStream,
    backlog: VecDeque<Event>,
    timeout: Duration,
}

impl Peer {
    /// The first event (seen earlier or arriving in time) that matches.
    async fn wait_for(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Result<Event, Fail> {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return Ok(self.backlog.remove(i).unwrap_or(Event::OfflineMessagesDone));
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.next()).await {
                Err(_) => {
                    return Err(Fail::Failed(format!(
                        "{} saw no {what} within {} s",
                        self.name,
                        self.timeout.as_secs()
                    )));
                }
                Ok(None) => return Err(Fail::Failed(format!("{}'s client stopped", self.name))),
                Ok(Some(ev)) if pred(&ev) => return Ok(ev),
                Ok(Some(Event::SignedOff { reason })) => {
                    return Err(Fail::Failed(format!("{} was signed off ({reason})", self.name)));
                }
                Ok(Some(ev)) => self.backlog.push_back(ev),
            }
        }
    }

    /// Runs a client request with the demo's timeout.
    async fn within<T>(&self, what: &str, f: impl Future<Output = Result<T, ClientError>>) -> Result<T, Fail> {
        match tokio::time::timeout(self.timeout, f).await {
            Err(_) => Err(Fail::Failed(format!(
                "{what} took longer than {} s",
                self.timeout.as_secs()
            ))),
            Ok(r) => r.map_err(Fail::from),
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    normalize_screen_name(a.as_bytes()) == normalize_screen_name(b.as_bytes())
}

fn random_password() -> Result<String, String> {
    let b: [u8; 12] = flapjack_server::random::random_bytes()?;
    Ok(b.iter().map(|b| format!("{b:02x}")).collect())
}

/// Runs `flapjack demo`.
pub fn run(args: DemoArgs) -> CliResult {
    let rt = client_args::runtime()?;
    rt.block_on(demo(args))
}

async fn connect(cfg: ClientConfig, name: &str, timeout: Duration) -> Result<Peer, Fail> {
    let (handle, events) = match tokio::time::timeout(timeout.max(Duration::from_secs(20)), Client::connect(cfg)).await
    {
        Err(_) => return Err(Fail::Failed(format!("{name} did not sign on in time"))),
        Ok(Err(e)) => return Err(Fail::from(e.error)),
        Ok(Ok(x)) => x,
    };
    Ok(Peer {
        name: name.to_owned(),
        handle,
        events,
        backlog: VecDeque::new(),
        timeout,
    })
}

async fn demo(args: DemoArgs) -> CliResult {
    let started = Instant::now();
    let timeout = Duration::from_secs(args.timeout.max(1));
    println!("flapjack demo: an embedded OSCAR server and two clients, start to finish\n");
    let mut report = Report {
        next: 0,
        ok: 0,
        failed: Vec::new(),
    };

    // 1. The server.
    let t = Instant::now();
    let mut d = Vec::new();
    let dir = TempDir::new(args.keep_data).map_err(CliError::failure)?;
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let argon2 = Argon2Params {
        // Cheap hashes: the demo's throwaway accounts need no protection, and it must be fast.
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let started_server: StepResult<(Server, Arc<SqliteStore>)> = async {
        let db = dir.path.join("flapjack.sqlite");
        let store =
            Arc::new(SqliteStore::open(&db, SqliteOptions::default()).map_err(|e| format!("{}: {e}", db.display()))?);
        let mut config = ServerConfig {
            oscar_addr: loopback,
            advertise_host: "127.0.0.1".into(),
            argon2,
            motd: Some("Welcome to the flapjack demo.".into()),
            shutdown_grace: Duration::from_secs(2),
            ..ServerConfig::default()
        };
        config.http.http_addr = Some(loopback);
        let server = Server::start(config, store.clone())
            .await
            .map_err(|e| format!("starting the server: {e}"))?;
        d.push(format!(
            "data directory  {} (SQLite, {})",
            dir.path.display(),
            if dir.keep { "kept" } else { "removed at exit" }
        ));
        d.push(format!("OSCAR listener  {} (BUCP logins and BOS)", server.local_addr()));
        match server.frontends().http_addr() {
            Some(a) => d.push(format!("OpenAuth API    http://{a}")),
            None => d.push("OpenAuth API    (not started)".into()),
        }
        Ok((server, store))
    }
    .await;
    report.record(&started_server, &d, t.elapsed());
    let Ok((server, store)) = started_server else {
        report.skip_rest("no server");
        return finish(&report, started);
    };
    let api = server.frontends().http_addr().map(|a| format!("http://{a}"));

    // 2. Accounts.
    let t = Instant::now();
    let mut d = Vec::new();
    let accounts: StepResult<(String, String)> = async {
        let mut pws = Vec::new();
        for name in [OA_USER, BUCP_USER] {
            let pw = random_password()?;
            let credentials = make_credentials(pw.as_bytes(), &argon2, true).map_err(|e| format!("{name}: {e}"))?;
            store
                .create_account(NewAccount {
                    screen_name: name.to_owned(),
                    credentials,
                    bot: false,
                })
                .await
                .map_err(|e| format!("creating {name}: {e}"))?;
            d.push(format!("{name} (random password, argon2id + BUCP MD5 verifiers)"));
            pws.push(pw);
        }
        let bucp_pw = pws.pop().unwrap_or_default();
        let oa_pw = pws.pop().unwrap_or_default();
        Ok((oa_pw, bucp_pw))
    }
    .await;
    report.record(&accounts, &d, t.elapsed());
    let Ok((oa_pw, bucp_pw)) = accounts else {
        report.skip_rest("no accounts");
        return shutdown_and_finish(server, report, started).await;
    };

    // 3. OpenAuth sign-on.
    let t = Instant::now();
    let mut d = Vec::new();
    let syrup: StepResult<Peer> = async {
        let Some(api) = &api else {
            return Err(Fail::NotSupported("the server has no OpenAuth HTTP API".into()));
        };
        let mut cfg = ClientConfig::new(Login::OpenAuth { api_base: api.clone() }, OA_USER, oa_pw.clone());
        cfg.open_auth.use_tls = false;
        let mut p = connect(cfg, OA_USER, timeout).await?;
        if let Event::LoginTranscript(tr) = p
            .wait_for("OpenAuth transcript", |e| matches!(e, Event::LoginTranscript(_)))
            .await?
        {
            d.push("OpenAuth transcript (secrets redacted):".into());
            d.extend(tr.to_string().lines().map(|l| format!("  {l}")));
        }
        if let Event::Connecting { host, port, .. } = p
            .wait_for("BOS connection", |e| {
                matches!(
                    e,
                    Event::Connecting {
                        kind: ConnKind::Bos,
                        ..
                    }
                )
            })
            .await?
        {
            d.push(format!(
                "BOS connection to {host}:{port} with the cookie from startOSCARSession"
            ));
        }
        if let Event::SignedOn { self_info, .. } =
            p.wait_for("sign-on", |e| matches!(e, Event::SignedOn { .. })).await?
        {
            d.push(format!(
                "signed on as {}{}",
                self_info.screen_name,
                self_info
                    .online_since
                    .map(|t| format!(" at {}", client_args::format_unix(i64::from(t))))
                    .unwrap_or_default()
            ));
        }
        Ok(p)
    }
    .await;
    report.record(&syrup, &d, t.elapsed());

    // 4. BUCP sign-on.
    let t = Instant::now();
    let mut d = Vec::new();
    let butter: StepResult<Peer> = async {
        let cfg = ClientConfig::new(
            Login::Bucp {
                server: server.local_addr().to_string(),
                weak_hash: false,
            },
            BUCP_USER,
            bucp_pw.clone(),
        );
        let mut p = connect(cfg, BUCP_USER, timeout).await?;
        if let Event::Connecting { host, port, .. } = p
            .wait_for("login connection", |e| {
                matches!(
                    e,
                    Event::Connecting {
                        kind: ConnKind::Login,
                        ..
                    }
                )
            })
            .await?
        {
            d.push(format!(
                "BUCP at {host}:{port}: challenge, MD5 (strong) response, cookie and BOS address"
            ));
        }
        if let Event::Connecting { host, port, .. } = p
            .wait_for("BOS connection", |e| {
                matches!(
                    e,
                    Event::Connecting {
                        kind: ConnKind::Bos,
                        ..
                    }
                )
            })
            .await?
        {
            d.push(format!("BOS connection to {host}:{port} with the cookie"));
        }
        if let Event::SignedOn { self_info, .. } =
            p.wait_for("sign-on", |e| matches!(e, Event::SignedOn { .. })).await?
        {
            d.push(format!("signed on as {}", self_info.screen_name));
        }
        Ok(p)
    }
    .await;
    report.record(&butter, &d, t.elapsed());
    let (Ok(mut syrup), Ok(mut butter)) = (syrup, butter) else {
        report.skip_rest("both clients must be signed on");
        return shutdown_and_finish(server, report, started).await;
    };

    // 5. Buddies.
    let t = Instant::now();
    let mut d = Vec::new();
    let buddies: StepResult<()> = async {
        for (me, other) in [(&mut syrup, BUCP_USER), (&mut butter, OA_USER)] {
            let (results, list) = me
                .within(
                    "the buddy-list transaction",
                    me.handle.edit_buddies(|tx| {
                        tx.add_buddy(GROUP, other);
                    }),
                )
                .await?;
            if let Some(bad) = results.iter().find(|r| r.status != FeedbagStatus::Ok) {
                return Err(Fail::Failed(format!(
                    "adding {other}: {:?} for {:?}",
                    bad.status, bad.name
                )));
            }
            let group = list
                .group(GROUP)
                .ok_or_else(|| Fail::Failed(format!("{}'s list has no group {GROUP:?}", me.name)))?;
            if !group.buddies.iter().any(|b| same(&b.screen_name, other)) {
                return Err(Fail::Failed(format!("{other} is not in {}'s {GROUP:?}", me.name)));
            }
            d.push(format!("{} added {other} to {GROUP:?} (stored on the server)", me.name));
        }
        for (me, other) in [(&mut syrup, BUCP_USER), (&mut butter, OA_USER)] {
            me.wait_for(
                &format!("{other} online"),
                |e| matches!(e, Event::BuddyArrived(s) if same(&s.screen_name, other)),
            )
            .await?;
            d.push(format!("{} sees {other} online", me.name));
        }
        Ok(())
    }
    .await;
    report.record(&buddies, &d, t.elapsed());

    // 6. IMs with typing.
    let t = Instant::now();
    let mut d = Vec::new();
    let ims: StepResult<()> = async {
        syrup
            .within(
                "the typing notification",
                syrup.handle.send_typing(BUCP_USER, TypingEvent::Begun),
            )
            .await?;
        butter
            .wait_for(
                "typing notification",
                |e| matches!(e, Event::Typing { from, event: TypingEvent::Begun } if same(from, OA_USER)),
            )
            .await?;
        d.push(format!("{BUCP_USER} sees \"{OA_USER} is typing\""));
        let text = "Morning! Short stack or tall?";
        syrup
            .within("the IM", syrup.handle.send_im_acked(BUCP_USER, text))
            .await?;
        let Event::ImReceived(im) = butter
            .wait_for(
                "IM",
                |e| matches!(e, Event::ImReceived(im) if same(&im.from.screen_name, OA_USER)),
            )
            .await?
        else {
            unreachable!()
        };
        if strip_html(&im.text) != text {
            return Err(Fail::Failed(format!("{BUCP_USER} got {:?}, not {text:?}", im.text)));
        }
        d.push(format!(
            "{OA_USER} -> {BUCP_USER}: {text} (acknowledged by the server, delivered)"
        ));
        let reply = "Tall, with extra syrup.";
        butter
            .within("the IM", butter.handle.send_im_acked(OA_USER, reply))
            .await?;
        let Event::ImReceived(im) = syrup
            .wait_for(
                "IM",
                |e| matches!(e, Event::ImReceived(im) if same(&im.from.screen_name, BUCP_USER)),
            )
            .await?
        else {
            unreachable!()
        };
        if strip_html(&im.text) != reply {
            return Err(Fail::Failed(format!("{OA_USER} got {:?}, not {reply:?}", im.text)));
        }
        d.push(format!("{BUCP_USER} -> {OA_USER}: {reply} (acknowledged, delivered)"));
        Ok(())
    }
    .await;
    report.record(&ims, &d, t.elapsed());

    // 7. Away.
    let t = Instant::now();
    let mut d = Vec::new();
    let away_msg = "Out flipping pancakes.";
    let away: StepResult<()> = async {
        butter.within("going away", butter.handle.set_away(away_msg)).await?;
        syrup
            .wait_for(
                &format!("{BUCP_USER} away"),
                |e| matches!(e, Event::BuddyChanged(s) if s.away && same(&s.screen_name, BUCP_USER)),
            )
            .await?;
        d.push(format!("{OA_USER} sees {BUCP_USER} go away"));
        let info = syrup
            .within("the user-info query", syrup.handle.get_user_info(BUCP_USER))
            .await?;
        match info.away_message.as_deref().map(strip_html) {
            Some(m) if m == away_msg => d.push(format!("{OA_USER} reads the away message: {m:?}")),
            other => return Err(Fail::Failed(format!("the away message read back is {other:?}"))),
        }
        Ok(())
    }
    .await;
    report.record(&away, &d, t.elapsed());

    // 8. Back.
    let t = Instant::now();
    let mut d = Vec::new();
    let back: StepResult<()> = async {
        butter.within("coming back", butter.handle.set_available()).await?;
        syrup
            .wait_for(
                &format!("{BUCP_USER} back"),
                |e| matches!(e, Event::BuddyChanged(s) if !s.away && same(&s.screen_name, BUCP_USER)),
            )
            .await?;
        d.push(format!("{OA_USER} sees {BUCP_USER} available again"));
        Ok(())
    }
    .await;
    report.record(&back, &d, t.elapsed());

    // 9. Chat room.
    let t = Instant::now();
    let mut d = Vec::new();
    let chat: StepResult<()> = async {
        let (room, members) = syrup.within("joining the room", syrup.handle.join_chat(ROOM)).await?;
        d.push(format!("{OA_USER} creates and joins {:?} (exchange {}), members: {}", room.name, room.exchange, members.join(", ")));
        syrup
            .within("the invitation", syrup.handle.invite_to_chat(ROOM, BUCP_USER, "Come to the griddle!"))
            .await?;
        let Event::ChatInvite { room: invited, .. } = butter
            .wait_for("chat invitation", |e| matches!(e, Event::ChatInvite { .. }))
            .await?
        else {
            unreachable!()
        };
        d.push(format!("{BUCP_USER} is invited to {:?}", invited.name));
        butter.within("joining from the invitation", butter.handle.join_chat_room(invited)).await?;
        syrup
            .wait_for(&format!("{BUCP_USER} in the room"), |e| matches!(e, Event::ChatMemberJoined { screen_name, .. } if same(screen_name, BUCP_USER)))
            .await?;
        d.push(format!("{BUCP_USER} joins; {OA_USER} sees it"));
        let line = "Who brought the blueberries?";
        syrup.within("the chat message", syrup.handle.chat_send(ROOM, line)).await?;
        let Event::ChatMessage { text, .. } = butter
            .wait_for("chat message", |e| matches!(e, Event::ChatMessage { from, .. } if same(from, OA_USER)))
            .await?
        else {
            unreachable!()
        };
        if strip_html(&text) != line {
            return Err(Fail::Failed(format!("{BUCP_USER} got {text:?} in the room")));
        }
        d.push(format!("[{ROOM}] {OA_USER}: {line}"));
        let answer = "Guilty.";
        butter.within("the chat message", butter.handle.chat_send(ROOM, answer)).await?;
        syrup
            .wait_for("chat message", |e| matches!(e, Event::ChatMessage { from, text, .. } if same(from, BUCP_USER) && strip_html(text) == answer))
            .await?;
        d.push(format!("[{ROOM}] {BUCP_USER}: {answer}"));
        butter.within("leaving the room", butter.handle.leave_chat(ROOM)).await?;
        syrup
            .wait_for(&format!("{BUCP_USER} leaving"), |e| matches!(e, Event::ChatMemberLeft { screen_name, .. } if same(screen_name, BUCP_USER)))
            .await?;
        d.push(format!("{BUCP_USER} leaves the room; {OA_USER} sees it"));
        Ok(())
    }
    .await;
    report.record(&chat, &d, t.elapsed());

    // 10. Sign off.
    let t = Instant::now();
    let mut d = Vec::new();
    let signoff: StepResult<()> = async {
        butter.within("signing off", butter.handle.sign_off()).await?;
        d.push(format!("{BUCP_USER} signs off"));
        syrup
            .wait_for(
                &format!("{BUCP_USER} offline"),
                |e| matches!(e, Event::BuddyDeparted { screen_name } if same(screen_name, BUCP_USER)),
            )
            .await?;
        d.push(format!("{OA_USER} sees {BUCP_USER} go offline"));
        syrup.within("signing off", syrup.handle.sign_off()).await?;
        d.push(format!("{OA_USER} signs off"));
        Ok(())
    }
    .await;
    report.record(&signoff, &d, t.elapsed());

    shutdown_and_finish(server, report, started).await
}

async fn shutdown_and_finish(server: Server, mut report: Report, started: Instant) -> CliResult {
    while report.next < STEPS.len() - 1 {
        report.skip_rest_until_last();
    }
    let t = Instant::now();
    let result: StepResult<()> = server
        .shutdown()
        .await
        .map_err(|e| Fail::Failed(format!("closing the store: {e}")));
    report.record(
        &result,
        &["every connection closed, the store flushed and closed".into()],
        t.elapsed(),
    );
    finish(&report, started)
}

impl Report {
    fn skip_rest_until_last(&mut self) {
        let title = STEPS[self.next];
        self.next += 1;
        self.failed.push(format!("{}. {title}: skipped", self.next));
        println!("{:>2}. {title} — skipped (an earlier step failed)", self.next);
    }
}

fn finish(report: &Report, started: Instant) -> CliResult {
    println!();
    let secs = started.elapsed().as_secs_f64();
    if report.failed.is_empty() {
        println!("All {} steps worked in {secs:.1} s.", report.ok);
        Ok(())
    } else {
        println!(
            "{} of {} steps worked in {secs:.1} s. Did not work:",
            report.ok,
            STEPS.len()
        );
        for f in &report.failed {
            println!("  {f}");
        }
        Err(CliError::failure(format!(
            "demo: {} step(s) did not work",
            report.failed.len()
        )))
    }
}
