//! Live sessions and the registry that finds them.
//!
//! A [`Session`] is one signed-on BOS connection: who it is, its [`Outbox`] (the sending end of
//! the connection's bounded outbound queue) and the bits of live state services share. The
//! [`Registry`] maps a normalized screen name to the live sessions of that account; the local
//! implementation ([`LocalRegistry`]) is a sharded map, so no global lock sits on the message
//! path. A NATS-backed registry can implement the same trait: `deliver` becomes a publish to the
//! node holding the recipient.

pub mod presence;
mod registry;

pub use presence::{BuddyLists, PresenceState, Privacy};
pub use registry::LocalRegistry;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use flapjack_wire::family::icbm::IcbmParams;
use flapjack_wire::flap::Channel;
use flapjack_wire::snac::{Message, SERVER_INITIATED_REQUEST_ID, Snac};
use flapjack_wire::userinfo::{UserInfo, UserInfoTlvs, class};
use flapjack_wire::{ScreenName, TlvBlock};
use tokio::sync::{mpsc, watch};

/// One item on a connection's outbound queue.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A frame on `channel` with this payload; the writer adds the header and sequence number.
    Frame {
        /// The FLAP channel.
        channel: Channel,
        /// The payload (for channel 2, an encoded SNAC).
        payload: Bytes,
    },
    /// Write this channel-4 payload, then close the connection.
    Close {
        /// The sign-off TLVs (may be empty).
        payload: Bytes,
    },
}

impl Outbound {
    /// The payload's length.
    pub fn payload_len(&self) -> usize {
        match self {
            Outbound::Frame { payload, .. } | Outbound::Close { payload } => payload.len(),
        }
    }
}

/// Why a connection is being ended from outside its own task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// Its outbound queue was full: the peer reads too slowly.
    SlowReader,
    /// The same account signed on elsewhere and this session was replaced.
    SignedOnElsewhere,
    /// The server is shutting down.
    Shutdown,
    /// The account was deleted or suspended by the operator.
    Administrative,
}

/// Why a push onto an outbound queue failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The queue was full; the connection has been told to disconnect.
    #[error("outbound queue full; slow reader disconnected")]
    Full,
    /// The connection is gone.
    #[error("connection closed")]
    Closed,
}

/// The sending side of one connection: its bounded outbound queue and its kill switch.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outbound>,
    kill: Arc<watch::Sender<Option<Disconnect>>>,
}

/// The connection side of an [`Outbox`].
#[derive(Debug)]
pub struct OutboxReceiver {
    /// Items to write.
    pub rx: mpsc::Receiver<Outbound>,
    /// Fires when someone asks this connection to end.
    pub kill: watch::Receiver<Option<Disconnect>>,
}

impl Outbox {
    /// A queue holding at most `capacity` items.
    pub fn new(capacity: usize) -> (Self, OutboxReceiver) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (kill_tx, kill_rx) = watch::channel(None);
        (
            Self {
                tx,
                kill: Arc::new(kill_tx),
            },
            OutboxReceiver { rx, kill: kill_rx },
        )
    }

    /// Queues an item without waiting. A full queue disconnects the (slow) reader.
    pub fn push(&self, item: Outbound) -> Result<(), PushError> {
        match self.tx.try_send(item) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.disconnect(Disconnect::SlowReader);
                Err(PushError::Full)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(PushError::Closed),
        }
    }

    /// Queues an already encoded SNAC (channel 2).
    pub fn push_snac_bytes(&self, payload: Bytes) -> Result<(), PushError> {
        self.push(Outbound::Frame {
            channel: Channel::Data,
            payload,
        })
    }

    /// Encodes and queues a SNAC.
    pub fn push_snac(&self, snac: &Snac<'_>) -> Result<(), PushError> {
        self.push_snac_bytes(encode_snac(snac))
    }

    /// Encodes and queues `message` as a reply to `request_id`.
    pub fn reply(&self, request_id: u32, message: Message<'_>) -> Result<(), PushError> {
        self.push_snac(&Snac::new(request_id, message))
    }

    /// Encodes and queues an unsolicited `message` (request id with the high bit set).
    pub fn notify(&self, message: Message<'_>) -> Result<(), PushError> {
        self.push_snac(&Snac::new(next_server_request_id(), message))
    }

    /// Asks the connection to end (the first reason wins).
    pub fn disconnect(&self, reason: Disconnect) {
        self.kill.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// True once the connection's task has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Pushes an encoded SNAC onto the queue of every signed-on session among `sessions` (one
/// account's); returns how many took it. A full queue disconnects that session. The last one
/// gets `snac` itself: a single recipient costs no reference count.
pub fn push_to_ready(sessions: &[Arc<Session>], snac: Bytes) -> usize {
    let mut ready = sessions.iter().filter(|s| s.is_ready());
    let Some(mut current) = ready.next() else {
        return 0;
    };
    let mut taken = 0;
    for next in ready {
        taken += usize::from(current.outbox().push_snac_bytes(snac.clone()).is_ok());
        current = next;
    }
    taken + usize::from(current.outbox().push_snac_bytes(snac).is_ok())
}

/// Room for a typical server SNAC (an IM with the sender's user info is about 160 bytes), so
/// that encoding one does not regrow its buffer several times on the message path.
const SNAC_CAPACITY: usize = 256;

/// Encodes a SNAC (header and body) for an outbound queue.
pub fn encode_snac(snac: &Snac<'_>) -> Bytes {
    let mut out = Vec::with_capacity(SNAC_CAPACITY);
    snac.encode(&mut out);
    Bytes::from(out)
}

/// A request id for a server-initiated SNAC: high bit set (Java AIM ignores some server SNACs
/// otherwise), low bits counting.
pub fn next_server_request_id() -> u32 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    SERVER_INITIATED_REQUEST_ID | (NEXT.fetch_add(1, Ordering::Relaxed) as u32 & 0x7FFF_FFFF)
}

/// Live, mutable per-session state that services share. Presence, locate and feedbag add
/// fields here as they need them.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    /// Warning level, tenths of a percent, as of `warning_since` (read it decayed with
    /// [`SessionState::current_warning`]).
    pub warning: u16,
    /// When `warning` was set, Unix seconds.
    pub warning_since: u32,
    /// How `warning` fades (none unless the server sets it at sign-on).
    pub warning_decay: crate::warning::WarningDecay,
    /// Status word (user-info TLV 0x0006).
    pub status: Option<u32>,
    /// Away (user class flag 0x0020).
    pub away: bool,
    /// Idle since, Unix seconds (None when active).
    pub idle_since: Option<u32>,
    /// ICBM parameters the client set with 0x0004/0x0002 (`None`: never set).
    pub icbm: Option<IcbmParams>,
    /// Family versions the client announced with 0x0001/0x0017.
    pub client_versions: Vec<(u16, u16)>,
    /// Presence: watched buddies, permit/deny settings, profile, away message, capabilities.
    pub presence: PresenceState,
    /// What the BOS sign-on read with the cookie and may still use, until client ready
    /// ([`crate::services::sign_on`]).
    pub sign_on: Option<Box<crate::services::sign_on::SignOnStash>>,
}

impl SessionState {
    /// The warning level at `now` (Unix seconds), decayed (see [`crate::warning`]).
    pub fn current_warning(&self, now: u32) -> u16 {
        self.warning_decay.apply(self.warning, self.warning_since, now)
    }

    /// Records a warning level set at `since` (Unix seconds) that fades with `decay`.
    pub fn set_warning(&mut self, level: u16, since: u32, decay: crate::warning::WarningDecay) {
        self.warning = level;
        self.warning_since = since;
        self.warning_decay = decay;
    }
}

/// Fixed facts about a session's account.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Screen name as formatted.
    pub screen_name: String,
    /// Normalized screen name.
    pub normalized: String,
    /// Account creation time, Unix seconds.
    pub created_at: u32,
    /// Sign-on time, Unix seconds.
    pub signon_time: u32,
    /// A bot account.
    pub bot: bool,
    /// Connected over TLS.
    pub tls: bool,
}

/// One live, signed-on connection.
#[derive(Debug)]
pub struct Session {
    id: u64,
    info: SessionInfo,
    outbox: Outbox,
    ready: AtomicBool,
    state: Mutex<Locked>,
}

/// What a session's lock guards: the shared state, and the encoded user-info block derived
/// from it, kept for the second it was built in (every IM carries it).
#[derive(Debug, Default)]
struct Locked {
    state: SessionState,
    /// (`now` it was built for, [`UserInfo::encode`] output). Cleared by every
    /// [`Session::with_state`], since any change may alter what others see.
    user_info: Option<(u32, Bytes)>,
}

impl Session {
    /// A session for `info` whose connection reads from `outbox`'s queue.
    pub fn new(info: SessionInfo, outbox: Outbox, warning: u16) -> Arc<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Arc::new(Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            info,
            outbox,
            ready: AtomicBool::new(false),
            state: Mutex::new(Locked {
                state: SessionState {
                    warning,
                    ..SessionState::default()
                },
                user_info: None,
            }),
        })
    }

    /// A process-unique id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Fixed facts.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Formatted screen name.
    pub fn screen_name(&self) -> &str {
        &self.info.screen_name
    }

    /// Normalized screen name.
    pub fn normalized(&self) -> &str {
        &self.info.normalized
    }

    /// The connection's outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// True once the client sent 0x0001/0x0002 (client ready): it is "signed on".
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the session signed on.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Locked> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with the mutable state locked (keep it short; never await inside).
    pub fn with_state<T>(&self, f: impl FnOnce(&mut SessionState) -> T) -> T {
        let mut locked = self.lock();
        locked.user_info = None;
        f(&mut locked.state)
    }

    /// Runs `f` with the state locked, read only (the message path's checks: unlike
    /// [`Self::with_state`] it keeps the cached user-info block).
    pub fn read_state<T>(&self, f: impl FnOnce(&SessionState) -> T) -> T {
        f(&self.lock().state)
    }

    /// [`Self::user_info`] encoded ([`UserInfo::encode`]), built at most once per second
    /// and state change: what every relayed IM from this session carries.
    pub fn encoded_user_info(&self, now: u32) -> Bytes {
        let mut locked = self.lock();
        if let Some((at, bytes)) = &locked.user_info
            && *at == now
        {
            return bytes.clone();
        }
        let (warning, tlvs) = self.user_info_parts(&locked.state, now);
        let name = ScreenName::new(self.info.screen_name.as_bytes()).unwrap_or_else(|_| ScreenName::empty());
        let mut out = Vec::new();
        UserInfo::new(name, warning, tlvs).encode(&mut out);
        let bytes = Bytes::from(out);
        locked.user_info = Some((now, bytes.clone()));
        bytes
    }

    /// The user-info block others see for this session (§3), at `now` (Unix seconds).
    ///
    /// TLV sizes are exact (Twisted unpacks them with fixed formats): class u16, sign-on time
    /// u32, idle minutes u16, member-since u32, status u32, session length u32.
    pub fn user_info(&self, now: u32) -> UserInfo<'static> {
        let (warning, tlvs) = self.user_info_parts(&self.lock().state, now);
        let name = ScreenName::new(self.info.screen_name.clone().into_bytes()).unwrap_or_else(|_| ScreenName::empty());
        UserInfo::new(name, warning, tlvs)
    }

    /// The warning level and TLVs of [`Self::user_info`], from the locked state.
    fn user_info_parts(&self, st: &SessionState, now: u32) -> (u16, TlvBlock<'static>) {
        {
            let mut class = class::AIM;
            if self.info.bot {
                class |= class::BOT;
            }
            if st.away {
                class |= class::AWAY;
            }
            let base = UserInfoTlvs {
                class: Some(class),
                signon_time: Some(self.info.signon_time),
                idle_minutes: st
                    .idle_since
                    .map(|t| (now.saturating_sub(t) / 60).min(u32::from(u16::MAX)) as u16),
                member_since: Some(self.info.created_at),
                status: st.status,
                capabilities: st.presence.capabilities.clone(),
                session_length: Some(now.saturating_sub(self.info.signon_time)),
            }
            .build()
            .unwrap_or_else(|_| TlvBlock::empty());
            let p = &st.presence;
            let tlvs = if p.dc_info.is_none() && p.bart_info.is_none() {
                base
            } else {
                TlvBlock::builder()
                    .extend(&base)
                    .opt(flapjack_wire::userinfo::tag::DC_INFO, p.dc_info.as_deref())
                    .opt(flapjack_wire::userinfo::tag::BART_INFO, p.bart_info.as_deref())
                    .build()
                    .unwrap_or(base)
            };
            (st.current_warning(now), tlvs)
        }
    }

    /// The user class flags others see, without the away bit (what permit masks compare).
    pub fn base_class(&self) -> u16 {
        if self.info.bot {
            class::AIM | class::BOT
        } else {
            class::AIM
        }
    }
}

/// Finds live sessions by normalized screen name and delivers encoded SNACs to them.
///
/// Implementations must not block: `deliver` runs on the message path.
pub trait Registry: Send + Sync + 'static {
    /// Adds a session.
    fn register(&self, session: Arc<Session>);
    /// Removes a session (by id); unknown sessions are ignored.
    fn unregister(&self, session: &Session);
    /// Adds `session` and removes every other session of its account, returning them (the
    /// caller signs them off: a single-session sign-on, §10). Implementations should do this
    /// atomically, so that of two concurrent single-session sign-ons only one survives.
    fn register_replacing(&self, session: Arc<Session>) -> Vec<Arc<Session>> {
        let older = self.sessions(session.normalized());
        for s in &older {
            self.unregister(s);
        }
        self.register(session);
        older
    }
    /// The live sessions of an account (signed on or still signing on).
    fn sessions(&self, normalized: &str) -> Vec<Arc<Session>>;
    /// Runs `f` on the live sessions of an account (signed on or still signing on) without
    /// copying the list: the message path's one lookup. `f` may run under the registry's
    /// lock, so it must be short and never block.
    fn with_sessions(&self, normalized: &str, f: &mut dyn FnMut(&[Arc<Session>])) {
        f(&self.sessions(normalized));
    }
    /// Pushes an encoded SNAC onto the queue of every *signed-on* session of `normalized`;
    /// returns how many took it. A full queue disconnects that session.
    fn deliver(&self, normalized: &str, snac: Bytes) -> usize;
    /// Every live session (shutdown, operator commands).
    fn all(&self) -> Vec<Arc<Session>>;
    /// Records that `watcher` wants presence notifications for `names` (normalized): the
    /// reverse index ("who watches X") that presence fan-out reads.
    fn watch(&self, watcher: &Arc<Session>, names: &[String]);
    /// Forgets that `watcher` watches `names`.
    fn unwatch(&self, watcher: &Session, names: &[String]);
    /// The live sessions watching `normalized` (signed on or not; callers filter).
    fn watchers(&self, normalized: &str) -> Vec<Arc<Session>>;
    /// Number of live sessions.
    fn len(&self) -> usize;
    /// True when no session is live.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
