//! The sans-IO client session: a state machine fed with bytes, time and commands, in the style
//! of quinn-proto and str0m.
//!
//! ```text
//! session.handle_input(now, Input::Connected(id) | Input::Bytes(id, &[u8]) | Input::Closed(id, why)
//!                           | Input::Timeout | Input::Command(cmd))
//! loop { match session.poll_output() {
//!     Output::Connect { conn, host, port, tls_cert_name, .. } => open a socket for `conn`,
//!     Output::Transmit { conn, data } => write `data` to `conn`,
//!     Output::Close { conn }          => close `conn`,
//!     Output::Event(ev)               => hand `ev` to the user,
//!     Output::Timeout(at)             => call handle_input(at, Input::Timeout) at `at`; stop polling,
//!     Output::Idle                    => nothing to do until the next input; stop polling,
//! } }
//! ```
//!
//! # Connections
//!
//! One session is one user signed on. It owns every connection that needs: the login
//! ("authorizer") connection for BUCP and roasted logins, the BOS connection, the CHAT_NAV
//! connection, and one connection per chat room. Each is a sub-state (a private `Conn`) identified by a
//! [`ConnId`] that the driver maps to a socket; inputs and outputs name it. Keeping them in one
//! machine lets the session coordinate them without the driver's help: a chat join asks BOS for
//! a redirect, opens CHAT_NAV, creates the room there, asks BOS again for the room and opens the
//! room's connection, all from one command.
//!
//! # Time
//!
//! Every input carries `now`. The session never reads a clock; it asks to be woken with
//! [`Output::Timeout`] for keepalives (FLAP channel 5 after 60 s without sending), for the rate
//! limiter (a held-back SNAC may go) and for the sign-on deadline.

mod bos;
mod chat;
pub(crate) mod conn;
mod feedbag;
mod login;

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use flapjack_auth::bucp::HashKind;
use flapjack_wire::Capability;
use flapjack_wire::family::bucp::ClientInfo;
use flapjack_wire::flap::{Channel, Decoded, FrameDecoder, Signoff, signoff_tag};

use crate::command::Command;
use crate::error::{ClientError, SignOffReason};
use crate::event::{BuddyList, Event, UserStatus};
use crate::rate::JitterTolerance;
use conn::{Conn, LoginFlow, Phase};

pub use bos::OSERVICE_VERSION;

/// Identifies one connection of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// What a connection is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConnKind {
    /// The login server (BUCP or roasted login).
    Login,
    /// BOS, the main service connection.
    Bos,
    /// Chat navigation (creating and finding rooms).
    ChatNav,
    /// One chat room.
    Chat {
        /// The room's name.
        room: String,
    },
}

impl fmt::Display for ConnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnKind::Login => write!(f, "login"),
            ConnKind::Bos => write!(f, "BOS"),
            ConnKind::ChatNav => write!(f, "chat navigation"),
            ConnKind::Chat { room } => write!(f, "chat room {room}"),
        }
    }
}

/// An input for [`Session::handle_input`].
#[derive(Debug)]
pub enum Input<'a> {
    /// The connection asked for with [`Output::Connect`] is open (after TLS, if any).
    Connected(ConnId),
    /// Bytes read from a connection.
    Bytes(ConnId, &'a [u8]),
    /// A connection closed, or could not be opened.
    Closed(ConnId, String),
    /// The time asked for with [`Output::Timeout`] has come.
    Timeout,
    /// A command from the user.
    Command(Command),
}

/// What the session wants done.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    /// Open a connection to `host:port`, with TLS verifying `tls_cert_name` when it is set,
    /// then report [`Input::Connected`] (or [`Input::Closed`] on failure).
    Connect {
        /// The id to report back.
        conn: ConnId,
        /// What for.
        kind: ConnKind,
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// TLS certificate name to verify; `None` for plain TCP.
        tls_cert_name: Option<String>,
    },
    /// Write bytes to a connection.
    Transmit {
        /// Which connection.
        conn: ConnId,
        /// The bytes (whole FLAP frames).
        data: Vec<u8>,
    },
    /// Close a connection (after writing what was transmitted before).
    Close {
        /// Which connection.
        conn: ConnId,
    },
    /// Something to tell the user.
    Event(Event),
    /// Nothing more now; call [`Session::handle_input`] with [`Input::Timeout`] at this time.
    Timeout(Instant),
    /// Nothing more now and no timer: wait for input.
    Idle,
}

/// How the session logs in.
#[derive(Clone, PartialEq, Eq)]
pub enum LoginMethod {
    /// BUCP MD5 challenge login at an authorizer (§6.2).
    Bucp {
        /// Authorizer host.
        host: String,
        /// Authorizer port.
        port: u16,
        /// The password hash: strong (MD5 of the MD5, the default) or weak.
        hash: HashKind,
        /// Use TLS to the authorizer, verifying this name.
        tls_cert_name: Option<String>,
    },
    /// Roasted-password login on FLAP channel 1 (§6.1).
    Roasted {
        /// Authorizer host.
        host: String,
        /// Authorizer port.
        port: u16,
        /// Use TLS to the authorizer, verifying this name.
        tls_cert_name: Option<String>,
    },
    /// Straight to BOS with a cookie (from OpenAuth's startOSCARSession).
    Cookie {
        /// BOS host.
        host: String,
        /// BOS port.
        port: u16,
        /// The login cookie.
        cookie: Vec<u8>,
        /// Use TLS, verifying this name (startOSCARSession's `tlsCertName`).
        tls_cert_name: Option<String>,
    },
}

impl fmt::Debug for LoginMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginMethod::Bucp {
                host,
                port,
                hash,
                tls_cert_name,
            } => f
                .debug_struct("Bucp")
                .field("host", host)
                .field("port", port)
                .field("hash", hash)
                .field("tls_cert_name", tls_cert_name)
                .finish(),
            LoginMethod::Roasted {
                host,
                port,
                tls_cert_name,
            } => f
                .debug_struct("Roasted")
                .field("host", host)
                .field("port", port)
                .field("tls_cert_name", tls_cert_name)
                .finish(),
            LoginMethod::Cookie {
                host,
                port,
                cookie,
                tls_cert_name,
            } => f
                .debug_struct("Cookie")
                .field("host", host)
                .field("port", port)
                .field("cookie", &format_args!("<{} bytes>", cookie.len()))
                .field("tls_cert_name", tls_cert_name)
                .finish(),
        }
    }
}

/// Everything a session is told at start.
#[derive(Clone)]
pub struct SessionConfig {
    /// The screen name.
    pub screen_name: String,
    /// The password (unused for [`LoginMethod::Cookie`]).
    pub password: String,
    /// How to log in.
    pub login: LoginMethod,
    /// Client identity: all of it with a BUCP or roasted login; its id string, version and
    /// multi-connection flag (0x0003, 0x0017–0x001A, 0x004A) with the BOS cookie after every
    /// kind of login (§2.9). The default flag, 0x01, keeps the account's other sessions signed
    /// on; 0x03 signs them off.
    pub client_info: ClientInfo,
    /// Send a FLAP keepalive after this long without sending anything (60 s).
    pub keepalive_interval: Duration,
    /// Give up if signing on (login and BOS handshake) takes longer (60 s).
    pub sign_on_timeout: Duration,
    /// The largest network + scheduling delay the rate limiter allows for (1 s); see [`crate::rate`].
    pub rate_jitter_tolerance: Duration,
    /// Cap the jitter tolerance of each rate class at `alert · window / 2`, so that the
    /// limiter's margin stays proportionate to the class (true, the default: relaxed classes
    /// such as a bot account's are not paced for a whole second of jitter). False allows for
    /// `rate_jitter_tolerance` in every class however small its levels; see [`crate::rate`].
    pub rate_jitter_proportional: bool,
    /// Ask for stored offline messages after signing on.
    pub request_offline_messages: bool,
    /// Capabilities to advertise (LOCATE TLV 0x0005).
    pub capabilities: Vec<Capability>,
    /// A profile to set when signing on.
    pub profile: Option<String>,
    /// Seeds FLAP sequence numbers and cookies (chat messages); use a random value.
    pub seed: u64,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("screen_name", &self.screen_name)
            .field("password", &"<redacted>")
            .field("login", &self.login)
            .field("client_info", &self.client_info)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("sign_on_timeout", &self.sign_on_timeout)
            .field("rate_jitter_tolerance", &self.rate_jitter_tolerance)
            .field("rate_jitter_proportional", &self.rate_jitter_proportional)
            .field("request_offline_messages", &self.request_offline_messages)
            .field("capabilities", &self.capabilities)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    /// A configuration with the defaults: 60 s keepalive and sign-on timeout, 1 s jitter
    /// tolerance (capped per rate class), offline messages on, chat and typing capabilities, libpurple-like identity.
    pub fn new(screen_name: impl Into<String>, password: impl Into<String>, login: LoginMethod) -> Self {
        Self {
            screen_name: screen_name.into(),
            password: password.into(),
            login,
            client_info: ClientInfo {
                id_string: "flapjack".into(),
                ..ClientInfo::default()
            },
            keepalive_interval: Duration::from_secs(60),
            sign_on_timeout: Duration::from_secs(60),
            rate_jitter_tolerance: Duration::from_secs(1),
            rate_jitter_proportional: true,
            request_offline_messages: true,
            capabilities: vec![Capability::CHAT, Capability::TYPING, Capability::INTEROPERATE],
            profile: None,
            seed: 0x5EED,
        }
    }
}

impl SessionConfig {
    /// The rate limiter's jitter tolerance.
    pub(crate) fn jitter_tolerance(&self) -> JitterTolerance {
        JitterTolerance {
            jitter: self.rate_jitter_tolerance,
            proportional: self.rate_jitter_proportional,
        }
    }
}

/// Where the session as a whole is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// At the authorizer.
    LoggingIn,
    /// BOS handshake.
    SigningOn,
    /// Signed on.
    Online,
    /// Sign-off requested; waiting for queues to drain.
    SigningOff,
    /// Over.
    Ended(SignOffReason),
}

/// A small deterministic generator (splitmix64) for sequence numbers and cookies.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The client session state machine. See the [module documentation](self).
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    epoch: Instant,
    now: Instant,
    rng: Rng,
    out: VecDeque<Output>,
    conns: Vec<Conn>,
    next_conn: u64,
    state: State,
    sign_on_deadline: Instant,
    bos: bos::BosState,
    feedbag: feedbag::FeedbagState,
    chat: chat::ChatState,
}

impl Session {
    /// Starts a session at `now`: the first output is the login (or BOS) connection to open.
    pub fn new(cfg: SessionConfig, now: Instant) -> Self {
        let mut s = Self {
            rng: Rng(cfg.seed),
            sign_on_deadline: now + cfg.sign_on_timeout,
            cfg,
            epoch: now,
            now,
            out: VecDeque::new(),
            conns: Vec::new(),
            next_conn: 1,
            state: State::LoggingIn,
            bos: bos::BosState::default(),
            feedbag: feedbag::FeedbagState::default(),
            chat: chat::ChatState::default(),
        };
        match s.cfg.login.clone() {
            LoginMethod::Bucp {
                host,
                port,
                hash,
                tls_cert_name,
            } => {
                let id = s.open(ConnKind::Login, host, port, tls_cert_name);
                s.conn_mut(id).expect("just opened").login = Some(LoginFlow::Bucp(hash));
            }
            LoginMethod::Roasted {
                host,
                port,
                tls_cert_name,
            } => {
                let id = s.open(ConnKind::Login, host, port, tls_cert_name);
                s.conn_mut(id).expect("just opened").login = Some(LoginFlow::Roasted);
            }
            LoginMethod::Cookie {
                host,
                port,
                cookie,
                tls_cert_name,
            } => {
                s.state = State::SigningOn;
                s.open_service(ConnKind::Bos, host, port, tls_cert_name, cookie);
            }
        }
        s
    }

    /// Feeds one input at `now`. Errors are returned only for commands the session cannot
    /// accept (not signed on, bad arguments); everything the network does becomes events.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), ClientError> {
        if now > self.now {
            self.now = now;
        }
        let result = match input {
            Input::Connected(id) => {
                self.on_connected(id);
                Ok(())
            }
            Input::Bytes(id, data) => {
                self.on_bytes(id, data);
                Ok(())
            }
            Input::Closed(id, reason) => {
                self.on_closed(id, reason);
                Ok(())
            }
            Input::Timeout => {
                self.on_timeout();
                Ok(())
            }
            Input::Command(cmd) => self.on_command(cmd),
        };
        self.after_input();
        result
    }

    /// The next thing to do; see the [module documentation](self).
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        match self.next_deadline() {
            Some(t) => Output::Timeout(t),
            None => Output::Idle,
        }
    }

    /// True once the session has ended (a `SignedOff` event was emitted).
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended(_))
    }

    /// Why the session ended, once it has.
    pub fn end_reason(&self) -> Option<&SignOffReason> {
        match &self.state {
            State::Ended(reason) => Some(reason),
            _ => None,
        }
    }

    /// True while signed on.
    pub fn is_online(&self) -> bool {
        self.state == State::Online
    }

    /// Our own user info, once known.
    pub fn self_info(&self) -> Option<&UserStatus> {
        self.bos.self_info.as_ref()
    }

    /// The server-stored buddy list as last known.
    pub fn buddy_list(&self) -> BuddyList {
        self.feedbag.snapshot()
    }

    /// SNACs held back by the rate limiters, over all connections.
    pub fn queued(&self) -> usize {
        self.conns.iter().map(Conn::queued).sum()
    }

    /// The rate level and floor of `class` on the BOS connection, for diagnostics.
    pub fn bos_rate_level(&self, class: u16) -> Option<(u32, u32)> {
        let conn = self.conns.iter().find(|c| c.kind == ConnKind::Bos)?;
        let rates = conn.rates.as_ref()?;
        Some((rates.level(class)?, rates.floor(class)?))
    }

    // -----------------------------------------------------------------------------------------
    // Connections

    fn open(&mut self, kind: ConnKind, host: String, port: u16, tls_cert_name: Option<String>) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        let seq = (self.rng.next_u64() & 0x7FFF) as u16;
        self.emit(Event::Connecting {
            kind: kind.clone(),
            host: host.clone(),
            port,
            tls_cert_name: tls_cert_name.clone(),
        });
        self.out.push_back(Output::Connect {
            conn: id,
            kind: kind.clone(),
            host: host.clone(),
            port,
            tls_cert_name: tls_cert_name.clone(),
        });
        self.conns.push(Conn::new(id, kind, port, tls_cert_name, seq, self.now));
        id
    }

    fn open_service(
        &mut self,
        kind: ConnKind,
        host: String,
        port: u16,
        tls: Option<String>,
        cookie: Vec<u8>,
    ) -> ConnId {
        let id = self.open(kind, host, port, tls);
        self.conn_mut(id).expect("just opened").cookie = cookie;
        id
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.iter().find(|c| c.id == id)
    }

    fn conn_by_kind(&self, kind: &ConnKind) -> Option<ConnId> {
        self.conns
            .iter()
            .find(|c| &c.kind == kind && c.phase != Phase::Closing)
            .map(|c| c.id)
    }

    /// Runs `f` on a connection with the output queue, if it exists.
    fn with_conn<R>(
        &mut self,
        id: ConnId,
        f: impl FnOnce(&mut Conn, &mut VecDeque<Output>, Instant) -> R,
    ) -> Option<R> {
        let now = self.now;
        let idx = self.conns.iter().position(|c| c.id == id)?;
        Some(f(&mut self.conns[idx], &mut self.out, now))
    }

    /// Sends a goodbye (channel 4, empty) and closes the connection.
    fn goodbye(&mut self, id: ConnId) {
        self.with_conn(id, |c, out, now| {
            if c.phase != Phase::Connecting {
                c.transmit(Channel::Signoff, &[], out, now);
            }
            c.phase = Phase::Closing;
            out.push_back(Output::Close { conn: c.id });
        });
        self.conns.retain(|c| c.id != id);
    }

    /// Closes a connection without a goodbye.
    fn drop_conn(&mut self, id: ConnId) {
        if self.conns.iter().any(|c| c.id == id) {
            self.out.push_back(Output::Close { conn: id });
            self.conns.retain(|c| c.id != id);
        }
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    /// Ends the session: closes every connection and reports why.
    fn end(&mut self, reason: SignOffReason) {
        if self.is_ended() {
            return;
        }
        let ids: Vec<ConnId> = self.conns.iter().map(|c| c.id).collect();
        for id in ids {
            if reason == SignOffReason::Requested {
                self.goodbye(id);
            } else {
                self.drop_conn(id);
            }
        }
        self.state = State::Ended(reason.clone());
        self.emit(Event::SignedOff { reason });
    }

    // -----------------------------------------------------------------------------------------
    // Inputs

    fn on_connected(&mut self, id: ConnId) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        if conn.phase != Phase::Connecting {
            return;
        }
        match conn.login {
            Some(flow) => self.login_connected(id, flow),
            None => self.service_connected(id),
        }
    }

    fn on_bytes(&mut self, id: ConnId, data: &[u8]) {
        let Some(idx) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        let mut buf = std::mem::take(&mut self.conns[idx].rx);
        buf.extend_from_slice(data);
        let decoder = FrameDecoder::new();
        let mut consumed = 0;
        loop {
            match decoder.decode(&buf[consumed..]) {
                Ok(Decoded::Complete { value, consumed: n }) => {
                    consumed += n;
                    let channel = value.channel;
                    let payload = value.payload().to_vec();
                    self.on_frame(id, channel, &payload);
                    if self.conn(id).is_none() {
                        // The frame closed the connection.
                        return;
                    }
                }
                Ok(Decoded::Incomplete { .. }) => break,
                Err(e) => {
                    let kind = self.conn(id).map(|c| c.kind.clone()).unwrap_or(ConnKind::Bos);
                    self.on_broken(id, ClientError::Decode { conn: kind, error: e });
                    return;
                }
            }
        }
        buf.drain(..consumed);
        if let Some(c) = self.conn_mut(id) {
            c.rx = buf;
        }
    }

    fn on_frame(&mut self, id: ConnId, channel: Channel, payload: &[u8]) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        let kind = conn.kind.clone();
        let login = conn.login;
        match channel {
            Channel::Keepalive => {}
            Channel::Signon => {
                if let Some(flow) = login {
                    self.login_hello(id, flow);
                }
            }
            Channel::Data => match login {
                Some(_) => self.login_snac(id, payload),
                None => self.service_snac(id, payload),
            },
            Channel::Signoff => {
                let signoff = Signoff::decode(payload).unwrap_or(Signoff {
                    tlvs: flapjack_wire::TlvBlock::empty(),
                });
                if login.is_some() {
                    self.login_signoff(id, &signoff);
                } else {
                    self.service_signoff(id, kind, &signoff);
                }
            }
            Channel::Error | Channel::Unknown(_) => {
                self.on_broken(
                    id,
                    ClientError::Connection {
                        kind,
                        reason: format!("unexpected FLAP channel {}", channel.value()),
                    },
                );
            }
        }
    }

    fn service_signoff(&mut self, id: ConnId, kind: ConnKind, signoff: &Signoff<'_>) {
        let code = signoff.disconnect_reason();
        let url = signoff
            .tlvs
            .get(signoff_tag::MORE_INFO_URL)
            .map(|u| String::from_utf8_lossy(u).into_owned());
        self.drop_conn(id);
        match kind {
            ConnKind::Bos => {
                let reason = match (self.state.clone(), code) {
                    (State::SigningOff, _) => SignOffReason::Requested,
                    (_, Some(1)) => SignOffReason::SignedOnElsewhere,
                    (_, code) => SignOffReason::Disconnected { code, url },
                };
                self.end(reason);
            }
            ConnKind::ChatNav => self.chat_nav_lost("the server closed the chat navigation connection".into()),
            ConnKind::Chat { room } => {
                self.chat_conn_lost(&room, Some("the server closed the room's connection".into()))
            }
            ConnKind::Login => {}
        }
    }

    fn on_closed(&mut self, id: ConnId, reason: String) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        let kind = conn.kind.clone();
        let phase = conn.phase;
        self.conns.retain(|c| c.id != id);
        match kind {
            ConnKind::Login => {
                if phase != Phase::LoginDone {
                    let err = ClientError::Connection { kind, reason };
                    self.emit(Event::Error(err.clone()));
                    self.end(SignOffReason::LoginFailed(Box::new(err)));
                }
            }
            ConnKind::Bos => {
                if self.state == State::SigningOff {
                    self.end(SignOffReason::Requested);
                } else {
                    self.end(SignOffReason::ConnectionLost(reason));
                }
            }
            ConnKind::ChatNav => self.chat_nav_lost(reason),
            ConnKind::Chat { room } => self.chat_conn_lost(&room, Some(reason)),
        }
    }

    /// A connection broke the protocol: report and drop it (ending the session for BOS/login).
    fn on_broken(&mut self, id: ConnId, err: ClientError) {
        let Some(kind) = self.conn(id).map(|c| c.kind.clone()) else {
            return;
        };
        self.emit(Event::Error(err.clone()));
        self.drop_conn(id);
        match kind {
            ConnKind::Login => self.end(SignOffReason::LoginFailed(Box::new(err))),
            ConnKind::Bos => self.end(SignOffReason::ProtocolError(err.to_string())),
            ConnKind::ChatNav => self.chat_nav_lost(err.to_string()),
            ConnKind::Chat { room } => self.chat_conn_lost(&room, Some(err.to_string())),
        }
    }

    fn on_timeout(&mut self) {
        let now = self.now;
        if matches!(self.state, State::LoggingIn | State::SigningOn) && now >= self.sign_on_deadline {
            self.emit(Event::Error(ClientError::Timeout("signing on".into())));
            self.end(SignOffReason::SignOnTimeout);
            return;
        }
        let keepalive = self.cfg.keepalive_interval;
        for c in &mut self.conns {
            if matches!(c.phase, Phase::Connecting | Phase::Closing | Phase::LoginDone) {
                continue;
            }
            c.release(&mut self.out, now);
            if now >= c.last_send + keepalive {
                c.transmit(Channel::Keepalive, &[], &mut self.out, now);
            }
        }
    }

    fn on_command(&mut self, cmd: Command) -> Result<(), ClientError> {
        if let State::Ended(reason) = &self.state {
            return Err(ClientError::SignedOff(reason.clone()));
        }
        if let Command::SignOff { drain } = cmd {
            self.sign_off(drain);
            return Ok(());
        }
        if self.state != State::Online {
            return Err(ClientError::NotSignedOn);
        }
        match cmd {
            Command::SendIm(req) => self.send_im(req),
            Command::SetAway { message } => self.set_away(&message),
            Command::SetAvailable => self.set_available(),
            Command::SetInvisible => self.set_invisible(),
            Command::SetIdle { seconds } => self.set_idle(seconds),
            Command::SetProfile { profile } => self.set_profile(&profile),
            Command::GetUserInfo { screen_name } => self.get_user_info(&screen_name),
            Command::EditBuddies { tx, edits } => self.edit_buddies(tx, edits),
            Command::JoinChat { room, exchange } => self.join_chat(&room, exchange),
            Command::JoinChatRoom(room) => self.join_chat_room(room),
            Command::LeaveChat { room } => self.leave_chat(&room),
            Command::ChatSend { room, text } => self.chat_send(&room, &text),
            Command::InviteToChat {
                room,
                screen_name,
                message,
            } => self.invite_to_chat(&room, &screen_name, &message),
            Command::Typing { to, event } => self.send_typing(&to, event),
            Command::Warn { screen_name, anonymous } => self.warn(&screen_name, anonymous),
            Command::SignOff { .. } => unreachable!("handled above"),
        }
    }

    fn sign_off(&mut self, drain: bool) {
        match self.state {
            State::Ended(_) => {}
            State::LoggingIn | State::SigningOn => self.end(SignOffReason::Requested),
            State::Online | State::SigningOff => {
                self.state = State::SigningOff;
                if !drain {
                    for c in &mut self.conns {
                        if let Some(r) = &mut c.rates {
                            r.clear();
                        }
                    }
                }
                self.check_drained();
            }
        }
    }

    fn check_drained(&mut self) {
        if self.state == State::SigningOff && self.queued() == 0 {
            self.end(SignOffReason::Requested);
        }
    }

    /// Work that follows any input: rate releases and deferred decisions.
    fn after_input(&mut self) {
        let now = self.now;
        for c in &mut self.conns {
            if c.rates.is_some() {
                c.release(&mut self.out, now);
            }
        }
        // Chat connections that were asked to leave go once their queues are empty.
        let leaving: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|c| c.close_when_drained && c.queued() == 0)
            .map(|c| c.id)
            .collect();
        for id in leaving {
            self.goodbye(id);
        }
        self.check_drained();
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.is_ended() {
            return None;
        }
        let mut best = match self.state {
            State::LoggingIn | State::SigningOn => Some(self.sign_on_deadline),
            _ => None,
        };
        for c in &self.conns {
            if let Some(d) = c.deadline(self.now, self.cfg.keepalive_interval) {
                best = Some(best.map_or(d, |b: Instant| b.min(d)));
            }
        }
        best
    }

    fn random_cookie(&mut self) -> [u8; 8] {
        self.rng.next_u64().to_be_bytes()
    }
}

/// Splits `host[:port]` / `[v6]:port`, defaulting the port.
pub(crate) fn split_host_port(addr: &str, default_port: u16) -> (String, u16) {
    if let Some(rest) = addr.strip_prefix('[')
        && let Some((host, tail)) = rest.split_once(']')
    {
        let port = tail
            .strip_prefix(':')
            .and_then(|p| p.parse().ok())
            .unwrap_or(default_port);
        return (host.to_owned(), port);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host.to_owned(), p),
            Err(_) => (addr.to_owned(), default_port),
        },
        _ => (addr.to_owned(), default_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("bos.example:5191", 5190), ("bos.example".into(), 5191));
        assert_eq!(split_host_port("bos.example", 5190), ("bos.example".into(), 5190));
        assert_eq!(split_host_port("[::1]:7", 5190), ("::1".into(), 7));
        assert_eq!(split_host_port("::1", 5190), ("::1".into(), 5190));
    }
}
