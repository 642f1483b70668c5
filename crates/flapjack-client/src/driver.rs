//! The tokio driver: moves bytes and time between sockets and a [`Session`], and offers typed
//! async methods on a [`ClientHandle`].
//!
//! One task runs the session. Each connection the session asks for gets a task that connects
//! (TCP, then TLS when the session names a certificate), then reads into the session's input
//! channel and writes what the session transmits. Commands from handles arrive on a channel; a
//! command that has an answer (user info, a buddy-list transaction, a chat join, a host ack)
//! waits for the matching event.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use flapjack_auth::bucp::HashKind;
use flapjack_wire::Capability;
use flapjack_wire::family::bucp::ClientInfo;
use flapjack_wire::family::icbm::TypingEvent;
use rustls::ClientConfig as TlsConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::command::{BuddyTx, Command, ImRequest, MessageId, TxId};
use crate::error::{ClientError, RequestContext, SignOffReason};
use crate::event::{BuddyList, ChatRoom, Event, ItemResult, UserInfoReply};
use crate::openauth::{self, OpenAuthConfig, Transcript};
use crate::session::{ConnId, Input, LoginMethod, Output, Session, SessionConfig, split_host_port};
use crate::tls::{self, TlsOptions};

/// How to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// OpenAuth over HTTP(S): `clientLogin` then `startOSCARSession` at `api_base`.
    OpenAuth {
        /// e.g. `https://api.example.net`.
        api_base: String,
    },
    /// BUCP MD5 login at `server` (`host[:port]`, default port 5190).
    Bucp {
        /// The authorizer.
        server: String,
        /// Use the weak (old) hash instead of the strong one.
        weak_hash: bool,
    },
    /// Roasted-password login at `server` (`host[:port]`).
    Roasted {
        /// The authorizer.
        server: String,
    },
}

/// Reconnecting after a lost session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// First delay.
    pub initial_delay: Duration,
    /// Largest delay (the delay doubles each attempt).
    pub max_delay: Duration,
    /// Give up after this many attempts (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_attempts: Some(10),
        }
    }
}

/// Everything [`Client::connect`] needs.
#[derive(Clone)]
pub struct ClientConfig {
    /// How to log in.
    pub login: Login,
    /// Screen name.
    pub screen_name: String,
    /// Password.
    pub password: String,
    /// Certificate verification for TLS connections and HTTPS.
    pub tls: TlsOptions,
    /// Use TLS to the BUCP / roasted authorizer (verifying its host name).
    pub login_tls: bool,
    /// OpenAuth settings (the `api_base` of [`Login::OpenAuth`] replaces theirs).
    pub open_auth: OpenAuthConfig,
    /// Reconnect with backoff after a lost session.
    pub reconnect: Option<ReconnectPolicy>,
    /// Timeout for opening one connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Keepalive interval.
    pub keepalive_interval: Duration,
    /// Sign-on timeout.
    pub sign_on_timeout: Duration,
    /// Rate-limiter jitter tolerance (see [`crate::rate`]).
    pub rate_jitter_tolerance: Duration,
    /// Cap the jitter tolerance per rate class (see [`SessionConfig::rate_jitter_proportional`]).
    pub rate_jitter_proportional: bool,
    /// Ask for offline messages.
    pub request_offline_messages: bool,
    /// Capabilities to advertise.
    pub capabilities: Vec<Capability>,
    /// Profile set at sign-on.
    pub profile: Option<String>,
    /// Client identity.
    pub client_info: ClientInfo,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("login", &self.login)
            .field("screen_name", &self.screen_name)
            .field("password", &"<redacted>")
            .field("tls", &self.tls)
            .field("login_tls", &self.login_tls)
            .field("open_auth", &self.open_auth)
            .field("reconnect", &self.reconnect)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// A configuration with the session defaults ([`SessionConfig::new`]), default TLS
    /// verification, no reconnecting and a 10 s connect timeout.
    pub fn new(login: Login, screen_name: impl Into<String>, password: impl Into<String>) -> Self {
        let defaults = SessionConfig::new(
            "",
            "",
            LoginMethod::Cookie {
                host: String::new(),
                port: 0,
                cookie: Vec::new(),
                tls_cert_name: None,
            },
        );
        let api_base = match &login {
            Login::OpenAuth { api_base } => api_base.clone(),
            _ => String::new(),
        };
        Self {
            login,
            screen_name: screen_name.into(),
            password: password.into(),
            tls: TlsOptions::default(),
            login_tls: false,
            open_auth: OpenAuthConfig::new(api_base),
            reconnect: None,
            connect_timeout: Duration::from_secs(10),
            keepalive_interval: defaults.keepalive_interval,
            sign_on_timeout: defaults.sign_on_timeout,
            rate_jitter_tolerance: defaults.rate_jitter_tolerance,
            rate_jitter_proportional: defaults.rate_jitter_proportional,
            request_offline_messages: defaults.request_offline_messages,
            capabilities: defaults.capabilities,
            profile: None,
            client_info: defaults.client_info,
        }
    }
}

/// Why [`Client::connect`] failed, with the OpenAuth transcript when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// What went wrong.
    pub error: ClientError,
    /// The OpenAuth steps up to the failure.
    pub transcript: Option<Transcript>,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ConnectError {}

impl From<ConnectError> for ClientError {
    fn from(e: ConnectError) -> Self {
        e.error
    }
}

/// The stream of [`Event`]s of a client. Also a [`futures_core::Stream`].
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl EventStream {
    /// The next event; `None` once the client has stopped and every event was read.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is ready.
    pub fn try_next(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

impl futures_core::Stream for EventStream {
    type Item = Event;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

/// What an answer-bearing command waits for.
#[derive(Debug, Clone)]
enum Matcher {
    HostAck(MessageId),
    UserInfo(String),
    Warn(String),
    BuddyEdit(TxId),
    ChatJoined(String),
}

impl Matcher {
    fn check(&self, ev: &Event) -> Option<Result<Event, ClientError>> {
        if let Event::Error(err @ ClientError::Snac { request: Some(ctx), .. }) = ev
            && self.owns(ctx)
        {
            return Some(Err(err.clone()));
        }
        let hit = match (self, ev) {
            (Matcher::HostAck(id), Event::HostAck { id: got, .. }) => id == got,
            (Matcher::UserInfo(name), Event::UserInfo(r)) => norm(&r.user.screen_name) == *name,
            (Matcher::Warn(name), Event::WarnApplied { screen_name, .. }) => norm(screen_name) == *name,
            (Matcher::BuddyEdit(tx), Event::BuddyListEdited { tx: got, .. }) => tx == got,
            (Matcher::ChatJoined(name), Event::ChatJoined { room, .. }) => room.name.eq_ignore_ascii_case(name),
            (
                Matcher::ChatJoined(name),
                Event::ChatLeft {
                    room,
                    reason: Some(why),
                },
            ) if room.eq_ignore_ascii_case(name) => {
                return Some(Err(ClientError::InvalidRequest(format!("joining {room}: {why}"))));
            }
            _ => false,
        };
        hit.then(|| Ok(ev.clone()))
    }

    fn owns(&self, ctx: &RequestContext) -> bool {
        match (self, ctx) {
            (Matcher::HostAck(id), RequestContext::SendIm { id: got, .. }) => id == got,
            (Matcher::UserInfo(name), RequestContext::UserInfo { screen_name }) => norm(screen_name) == *name,
            (Matcher::Warn(name), RequestContext::Warn { screen_name }) => norm(screen_name) == *name,
            (Matcher::BuddyEdit(tx), RequestContext::BuddyEdit { tx: got }) => tx == got,
            (Matcher::ChatJoined(name), RequestContext::ChatRoom { room })
            | (Matcher::ChatJoined(name), RequestContext::ServiceRequest { room: Some(room), .. }) => {
                room.eq_ignore_ascii_case(name)
            }
            _ => false,
        }
    }
}

fn norm(name: &str) -> String {
    flapjack_wire::types::normalize_screen_name(name.as_bytes())
}

type Reply = oneshot::Sender<Result<Option<Event>, ClientError>>;

enum DriverCmd {
    Session {
        cmd: Command,
        wait: Option<Matcher>,
        reply: Reply,
    },
    BuddyList(oneshot::Sender<BuddyList>),
    SignOff(oneshot::Sender<()>),
}

/// Sends commands to a running client. Cheap to clone; the client signs off when every handle
/// is dropped.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    tx: mpsc::UnboundedSender<DriverCmd>,
    ids: Arc<AtomicU64>,
}

impl std::fmt::Debug for DriverCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverCmd::Session { cmd, .. } => write!(f, "Session({cmd:?})"),
            DriverCmd::BuddyList(_) => write!(f, "BuddyList"),
            DriverCmd::SignOff(_) => write!(f, "SignOff"),
        }
    }
}

impl ClientHandle {
    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    async fn run(&self, cmd: Command, wait: Option<Matcher>) -> Result<Option<Event>, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(DriverCmd::Session { cmd, wait, reply })
            .map_err(|_| ClientError::Closed)?;
        rx.await.map_err(|_| ClientError::Closed)?
    }

    /// Sends an IM (with a host-ack request) once the rate limiter allows; returns its id at
    /// once. The ack arrives as [`Event::HostAck`].
    pub async fn send_im(&self, to: &str, text: &str) -> Result<MessageId, ClientError> {
        let req = ImRequest::new(MessageId(self.next_id()), to, text);
        let id = req.id;
        self.run(Command::SendIm(req), None).await?;
        Ok(id)
    }

    /// Sends an IM and waits for the server's host ack (or its error).
    pub async fn send_im_acked(&self, to: &str, text: &str) -> Result<MessageId, ClientError> {
        let req = ImRequest::new(MessageId(self.next_id()), to, text);
        let id = req.id;
        self.run(Command::SendIm(req), Some(Matcher::HostAck(id))).await?;
        Ok(id)
    }

    /// Sends an IM with full control over its options; `req.id` is replaced by a fresh id.
    pub async fn send_im_with(&self, mut req: ImRequest) -> Result<MessageId, ClientError> {
        req.id = MessageId(self.next_id());
        let id = req.id;
        self.run(Command::SendIm(req), None).await?;
        Ok(id)
    }

    /// Goes away with `message`.
    pub async fn set_away(&self, message: &str) -> Result<(), ClientError> {
        self.run(
            Command::SetAway {
                message: message.to_owned(),
            },
            None,
        )
        .await
        .map(drop)
    }

    /// Comes back (and visible).
    pub async fn set_available(&self) -> Result<(), ClientError> {
        self.run(Command::SetAvailable, None).await.map(drop)
    }

    /// Becomes invisible.
    pub async fn set_invisible(&self) -> Result<(), ClientError> {
        self.run(Command::SetInvisible, None).await.map(drop)
    }

    /// Reports `seconds` idle (0: active).
    pub async fn set_idle(&self, seconds: u32) -> Result<(), ClientError> {
        self.run(Command::SetIdle { seconds }, None).await.map(drop)
    }

    /// Sets the profile.
    pub async fn set_profile(&self, profile: &str) -> Result<(), ClientError> {
        self.run(
            Command::SetProfile {
                profile: profile.to_owned(),
            },
            None,
        )
        .await
        .map(drop)
    }

    /// Fetches a user's profile and away message.
    pub async fn get_user_info(&self, screen_name: &str) -> Result<UserInfoReply, ClientError> {
        let ev = self
            .run(
                Command::GetUserInfo {
                    screen_name: screen_name.to_owned(),
                },
                Some(Matcher::UserInfo(norm(screen_name))),
            )
            .await?;
        match ev {
            Some(Event::UserInfo(r)) => Ok(r),
            _ => Err(ClientError::Closed),
        }
    }

    /// Edits the buddy list as one transaction and waits for the server's verdict on every
    /// item. Returns the per-item results and the list afterwards.
    ///
    /// ```no_run
    /// # async fn f(h: flapjack_client::ClientHandle) -> Result<(), flapjack_client::ClientError> {
    /// let (results, list) = h.edit_buddies(|tx| { tx.add_buddy("Friends", "bob").add_buddy("Friends", "carol"); }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn edit_buddies(
        &self,
        build: impl FnOnce(&mut BuddyTx),
    ) -> Result<(Vec<ItemResult>, BuddyList), ClientError> {
        let mut tx = BuddyTx::new();
        build(&mut tx);
        let id = TxId(self.next_id());
        let ev = self
            .run(
                Command::EditBuddies {
                    tx: id,
                    edits: tx.edits,
                },
                Some(Matcher::BuddyEdit(id)),
            )
            .await?;
        match ev {
            Some(Event::BuddyListEdited { results, list, .. }) => Ok((results, list)),
            _ => Err(ClientError::Closed),
        }
    }

    /// The buddy list as the client knows it.
    pub async fn buddy_list(&self) -> Result<BuddyList, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(DriverCmd::BuddyList(tx))
            .map_err(|_| ClientError::Closed)?;
        rx.await.map_err(|_| ClientError::Closed)
    }

    /// Joins (creating if needed) a room on exchange 4 and waits until inside; returns the room
    /// and who is there.
    pub async fn join_chat(&self, room: &str) -> Result<(ChatRoom, Vec<String>), ClientError> {
        let ev = self
            .run(
                Command::JoinChat {
                    room: room.to_owned(),
                    exchange: 4,
                },
                Some(Matcher::ChatJoined(room.to_owned())),
            )
            .await?;
        match ev {
            Some(Event::ChatJoined { room, members }) => Ok((room, members)),
            _ => Err(ClientError::Closed),
        }
    }

    /// Joins a room from an invitation ([`Event::ChatInvite`]).
    pub async fn join_chat_room(&self, room: ChatRoom) -> Result<(ChatRoom, Vec<String>), ClientError> {
        let name = room.name.clone();
        let ev = self
            .run(Command::JoinChatRoom(room), Some(Matcher::ChatJoined(name)))
            .await?;
        match ev {
            Some(Event::ChatJoined { room, members }) => Ok((room, members)),
            _ => Err(ClientError::Closed),
        }
    }

    /// Says something in a room.
    pub async fn chat_send(&self, room: &str, text: &str) -> Result<(), ClientError> {
        self.run(
            Command::ChatSend {
                room: room.to_owned(),
                text: text.to_owned(),
            },
            None,
        )
        .await
        .map(drop)
    }

    /// Leaves a room.
    pub async fn leave_chat(&self, room: &str) -> Result<(), ClientError> {
        self.run(Command::LeaveChat { room: room.to_owned() }, None)
            .await
            .map(drop)
    }

    /// Invites someone to a room you are in.
    pub async fn invite_to_chat(&self, room: &str, screen_name: &str, message: &str) -> Result<(), ClientError> {
        self.run(
            Command::InviteToChat {
                room: room.to_owned(),
                screen_name: screen_name.to_owned(),
                message: message.to_owned(),
            },
            None,
        )
        .await
        .map(drop)
    }

    /// Sends a typing notification.
    pub async fn send_typing(&self, to: &str, event: TypingEvent) -> Result<(), ClientError> {
        self.run(
            Command::Typing {
                to: to.to_owned(),
                event,
            },
            None,
        )
        .await
        .map(drop)
    }

    /// Warns a user; returns `(warning added, their new level)` in tenths of a percent.
    pub async fn warn(&self, screen_name: &str, anonymous: bool) -> Result<(u16, u16), ClientError> {
        let ev = self
            .run(
                Command::Warn {
                    screen_name: screen_name.to_owned(),
                    anonymous,
                },
                Some(Matcher::Warn(norm(screen_name))),
            )
            .await?;
        match ev {
            Some(Event::WarnApplied { delta, new_level, .. }) => Ok((delta, new_level)),
            _ => Err(ClientError::Closed),
        }
    }

    /// Sends a raw [`Command`] to the session.
    pub async fn command(&self, cmd: Command) -> Result<(), ClientError> {
        self.run(cmd, None).await.map(drop)
    }

    /// Signs off cleanly: sends what the rate limiter still holds, a channel-4 goodbye on every
    /// connection, and waits until the client has stopped.
    pub async fn sign_off(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(DriverCmd::SignOff(tx)).is_err() {
            return Ok(()); // already stopped
        }
        let _ = rx.await;
        Ok(())
    }
}

/// Starts clients.
#[derive(Debug)]
pub struct Client;

impl Client {
    /// Logs in, signs on, and returns once signed on: a handle for commands and the stream of
    /// events (starting with the login's `Connecting`, `LoginTranscript` and `SignedOn`).
    pub async fn connect(cfg: ClientConfig) -> Result<(ClientHandle, EventStream), ConnectError> {
        let tls_config = cfg.tls.client_config().map_err(|error| ConnectError {
            error,
            transcript: None,
        })?;
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        tokio::spawn(run_client(cfg, tls_config, cmd_rx, ev_tx, ready_tx));
        match ready_rx.await {
            Ok(Ok(())) => Ok((
                ClientHandle {
                    tx: cmd_tx,
                    ids: Arc::new(AtomicU64::new(1)),
                },
                EventStream { rx: ev_rx },
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ConnectError {
                error: ClientError::Closed,
                transcript: None,
            }),
        }
    }
}

type Ready = oneshot::Sender<Result<(), ConnectError>>;

/// How one session run ended.
enum RunEnd {
    /// The session ended for this reason.
    Ended(SignOffReason),
    /// Every handle is gone or sign-off was asked: stop for good.
    Stopped,
}

async fn run_client(
    cfg: ClientConfig,
    tls_config: Arc<TlsConfig>,
    mut cmd_rx: mpsc::UnboundedReceiver<DriverCmd>,
    ev_tx: mpsc::UnboundedSender<Event>,
    ready: Ready,
) {
    let mut ready = Some(ready);
    let mut sign_off_waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut attempt = 0u32;
    loop {
        let (end, signed_on) = run_session(
            &cfg,
            &tls_config,
            &mut cmd_rx,
            &ev_tx,
            &mut ready,
            &mut sign_off_waiters,
        )
        .await;
        let reason = match end {
            RunEnd::Stopped => break,
            RunEnd::Ended(reason) => reason,
        };
        if signed_on {
            attempt = 0;
        }
        // Only a client that has signed on once reconnects, and only after a transient failure.
        let Some(policy) = cfg.reconnect.filter(|_| ready.is_none() && retryable(&reason)) else {
            break;
        };
        attempt += 1;
        if policy.max_attempts.is_some_and(|max| attempt > max) {
            break;
        }
        let factor = 1u32 << (attempt - 1).min(16);
        let delay = policy.initial_delay.saturating_mul(factor).min(policy.max_delay);
        let _ = ev_tx.send(Event::Reconnecting { attempt, delay });
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        let stop = loop {
            tokio::select! {
                _ = &mut sleep => break false,
                cmd = cmd_rx.recv() => match cmd {
                    None => break true,
                    Some(DriverCmd::SignOff(done)) => { sign_off_waiters.push(done); break true; }
                    Some(DriverCmd::BuddyList(tx)) => { let _ = tx.send(BuddyList::default()); }
                    Some(DriverCmd::Session { reply, .. }) => { let _ = reply.send(Err(ClientError::NotSignedOn)); }
                },
            }
        };
        if stop {
            break;
        }
    }
    for w in sign_off_waiters {
        let _ = w.send(());
    }
}

/// Whether a session that ended this way is worth another try: the connection was lost or
/// the server went away, not a refused password or a sign-off.
fn retryable(reason: &SignOffReason) -> bool {
    match reason {
        SignOffReason::LoginFailed(e) => matches!(
            **e,
            ClientError::Connection { .. } | ClientError::Io(_) | ClientError::Timeout(_) | ClientError::Http(_)
        ),
        other => other.is_transient(),
    }
}

/// Messages from connection tasks.
enum Io {
    Connected,
    Bytes(Vec<u8>),
    Closed(String),
}

enum WriteOp {
    Data(Vec<u8>),
    Close,
}

async fn run_session(
    cfg: &ClientConfig,
    tls_config: &Arc<TlsConfig>,
    cmd_rx: &mut mpsc::UnboundedReceiver<DriverCmd>,
    ev_tx: &mpsc::UnboundedSender<Event>,
    ready: &mut Option<Ready>,
    sign_off_waiters: &mut Vec<oneshot::Sender<()>>,
) -> (RunEnd, bool) {
    let mut signed_on = false;
    // Log in: OpenAuth happens here, BUCP and roasted inside the session.
    let login = match &cfg.login {
        Login::OpenAuth { api_base } => {
            let mut oa = cfg.open_auth.clone();
            oa.api_base.clone_from(api_base);
            match openauth::login(&oa, &cfg.tls, &cfg.screen_name, &cfg.password).await {
                Ok(done) => {
                    let _ = ev_tx.send(Event::LoginTranscript(done.transcript));
                    LoginMethod::Cookie {
                        host: done.target.host,
                        port: done.target.port,
                        cookie: done.target.cookie,
                        tls_cert_name: done.target.tls_cert_name,
                    }
                }
                Err(failure) => {
                    let _ = ev_tx.send(Event::LoginTranscript(failure.transcript.clone()));
                    let reason = SignOffReason::LoginFailed(Box::new(failure.error.clone()));
                    if let Some(r) = ready.take() {
                        let _ = r.send(Err(ConnectError {
                            error: failure.error,
                            transcript: Some(failure.transcript),
                        }));
                    }
                    let _ = ev_tx.send(Event::SignedOff { reason: reason.clone() });
                    return (RunEnd::Ended(reason), false);
                }
            }
        }
        Login::Bucp { server, weak_hash } => {
            let (host, port) = split_host_port(server, 5190);
            LoginMethod::Bucp {
                tls_cert_name: cfg.login_tls.then(|| host.clone()),
                host,
                port,
                hash: if *weak_hash { HashKind::Weak } else { HashKind::Strong },
            }
        }
        Login::Roasted { server } => {
            let (host, port) = split_host_port(server, 5190);
            LoginMethod::Roasted {
                tls_cert_name: cfg.login_tls.then(|| host.clone()),
                host,
                port,
            }
        }
    };
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    let mut scfg = SessionConfig::new(cfg.screen_name.clone(), cfg.password.clone(), login);
    scfg.client_info = cfg.client_info.clone();
    scfg.keepalive_interval = cfg.keepalive_interval;
    scfg.sign_on_timeout = cfg.sign_on_timeout;
    scfg.rate_jitter_tolerance = cfg.rate_jitter_tolerance;
    scfg.rate_jitter_proportional = cfg.rate_jitter_proportional;
    scfg.request_offline_messages = cfg.request_offline_messages;
    scfg.capabilities = cfg.capabilities.clone();
    scfg.profile = cfg.profile.clone();
    scfg.seed = u64::from_be_bytes(seed);

    let mut session = Session::new(scfg, now());
    let (io_tx, mut io_rx) = mpsc::channel::<(ConnId, Io)>(256);
    let mut conns: HashMap<ConnId, mpsc::UnboundedSender<WriteOp>> = HashMap::new();
    let mut waiters: Vec<(Matcher, Reply)> = Vec::new();
    let mut stopping = false;

    let end = loop {
        // Carry out everything the session asks for.
        let deadline = loop {
            match session.poll_output() {
                Output::Connect {
                    conn,
                    host,
                    port,
                    tls_cert_name,
                    ..
                } => {
                    let (wtx, wrx) = mpsc::unbounded_channel();
                    conns.insert(conn, wtx);
                    tokio::spawn(conn_task(
                        conn,
                        host,
                        port,
                        tls_cert_name,
                        tls_config.clone(),
                        cfg.connect_timeout,
                        wrx,
                        io_tx.clone(),
                    ));
                }
                Output::Transmit { conn, data } => {
                    if let Some(w) = conns.get(&conn) {
                        let _ = w.send(WriteOp::Data(data));
                    }
                }
                Output::Close { conn } => {
                    if let Some(w) = conns.remove(&conn) {
                        let _ = w.send(WriteOp::Close);
                    }
                }
                Output::Event(ev) => {
                    match &ev {
                        Event::SignedOn { .. } => {
                            signed_on = true;
                            if let Some(r) = ready.take() {
                                let _ = r.send(Ok(()));
                            }
                        }
                        Event::SignedOff { reason } => {
                            if let Some(r) = ready.take() {
                                let error = match reason {
                                    SignOffReason::LoginFailed(e) => (**e).clone(),
                                    other => ClientError::SignedOff(other.clone()),
                                };
                                let _ = r.send(Err(ConnectError {
                                    error,
                                    transcript: None,
                                }));
                            }
                        }
                        _ => {}
                    }
                    let mut i = 0;
                    while i < waiters.len() {
                        match waiters[i].0.check(&ev) {
                            Some(result) => {
                                let (_, reply) = waiters.swap_remove(i);
                                let _ = reply.send(result.map(Some));
                            }
                            None => i += 1,
                        }
                    }
                    let _ = ev_tx.send(ev);
                }
                Output::Timeout(t) => break Some(t),
                Output::Idle => break None,
            }
        };
        if let Some(reason) = ended_reason(&session) {
            break RunEnd::Ended(reason);
        }
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            cmd = cmd_rx.recv(), if !stopping => match cmd {
                None => {
                    stopping = true;
                    let _ = session.handle_input(now(), Input::Command(Command::SignOff { drain: true }));
                }
                Some(DriverCmd::SignOff(done)) => {
                    sign_off_waiters.push(done);
                    stopping = true;
                    let _ = session.handle_input(now(), Input::Command(Command::SignOff { drain: true }));
                }
                Some(DriverCmd::BuddyList(tx)) => {
                    let _ = tx.send(session.buddy_list());
                }
                Some(DriverCmd::Session { cmd, wait, reply }) => {
                    match session.handle_input(now(), Input::Command(cmd)) {
                        Err(e) => { let _ = reply.send(Err(e)); }
                        Ok(()) => match wait {
                            None => { let _ = reply.send(Ok(None)); }
                            Some(m) => waiters.push((m, reply)),
                        },
                    }
                }
            },
            Some((id, io)) = io_rx.recv() => {
                let input = match &io {
                    Io::Connected => Input::Connected(id),
                    Io::Bytes(b) => Input::Bytes(id, b),
                    Io::Closed(why) => Input::Closed(id, why.clone()),
                };
                if matches!(io, Io::Closed(_)) {
                    conns.remove(&id);
                }
                let _ = session.handle_input(now(), input);
            }
            _ = sleep => {
                let _ = session.handle_input(now(), Input::Timeout);
            }
        }
    };
    // Flush what the session queued last (goodbyes, closes, final events).
    loop {
        match session.poll_output() {
            Output::Transmit { conn, data } => {
                if let Some(w) = conns.get(&conn) {
                    let _ = w.send(WriteOp::Data(data));
                }
            }
            Output::Close { conn } => {
                if let Some(w) = conns.remove(&conn) {
                    let _ = w.send(WriteOp::Close);
                }
            }
            Output::Event(ev) => {
                let _ = ev_tx.send(ev);
            }
            Output::Connect { .. } => {}
            Output::Timeout(_) | Output::Idle => break,
        }
    }
    for (_, w) in conns.drain() {
        let _ = w.send(WriteOp::Close);
    }
    let reason = match &end {
        RunEnd::Ended(r) => r.clone(),
        RunEnd::Stopped => SignOffReason::Requested,
    };
    for (_, reply) in waiters {
        let _ = reply.send(Err(ClientError::SignedOff(reason.clone())));
    }
    if stopping {
        (RunEnd::Stopped, signed_on)
    } else {
        (end, signed_on)
    }
}

fn ended_reason(session: &Session) -> Option<SignOffReason> {
    session.end_reason().cloned()
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

#[allow(clippy::too_many_arguments)]
async fn conn_task(
    id: ConnId,
    host: String,
    port: u16,
    tls_name: Option<String>,
    tls_config: Arc<TlsConfig>,
    connect_timeout: Duration,
    mut writes: mpsc::UnboundedReceiver<WriteOp>,
    io: mpsc::Sender<(ConnId, Io)>,
) {
    let connected = tokio::time::timeout(
        connect_timeout,
        tls::connect(&host, port, tls_name.as_deref(), &tls_config),
    )
    .await;
    let stream = match connected {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let _ = io.send((id, Io::Closed(e.to_string()))).await;
            return;
        }
        Err(_) => {
            let _ = io
                .send((id, Io::Closed(format!("connecting to {host}:{port} timed out"))))
                .await;
            return;
        }
    };
    if io.send((id, Io::Connected)).await.is_err() {
        return;
    }
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) => {
                    let _ = io.send((id, Io::Closed("the server closed the connection".into()))).await;
                    return;
                }
                Ok(n) => {
                    if io.send((id, Io::Bytes(buf[..n].to_vec()))).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = io.send((id, Io::Closed(e.to_string()))).await;
                    return;
                }
            },
            op = writes.recv() => match op {
                Some(WriteOp::Data(d)) => {
                    if let Err(e) = wr.write_all(&d).await {
                        let _ = io.send((id, Io::Closed(e.to_string()))).await;
                        return;
                    }
                }
                Some(WriteOp::Close) | None => {
                    let _ = wr.flush().await;
                    let _ = wr.shutdown().await;
                    return;
                }
            },
        }
    }
}
