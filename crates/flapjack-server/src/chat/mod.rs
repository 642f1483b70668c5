//! Chat rooms (§8.11): the live, in-memory room registry behind the CHAT_NAV and CHAT services.
//!
//! * **Rooms** live on exchange 4 (user-created: made on demand by CHAT_NAV "create room") or
//!   exchange 5 (public: only the rooms the operator configured, [`ChatConfig::public_rooms`]).
//!   A room's cookie is `"<exchange>-0-<normalized name>"` (lower case, spaces removed, bytes
//!   other than `[a-z0-9._-]` percent-encoded, because libpurple shows the cookie's third part,
//!   percent-decoded, as the room's name); its name is kept as the creator typed it.
//! * **Occupants** are the sessions of the room's CHAT connections. Each room has its own lock,
//!   and everything sent to the occupants is queued (never awaited) while that lock is held, so
//!   every occupant sees one order of joins, messages and departures; there is no global lock on
//!   the message path. The room map itself is sharded.
//! * **Lifetime**: a user-created room disappears when its last occupant leaves; public rooms
//!   stay. Nothing here is durable.
//! * **Service sessions**: the CHAT and CHAT_NAV sessions of each account are indexed, so that a
//!   BOS sign-off can end them ([`ChatRooms::service_sessions`]).
//!
//! A user signed on twice into one room (two clients) is listed once: the room announces the
//! name when its first session joins and its departure when its last session leaves.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flapjack_wire::family::chat::{Chat, ChatSend};
use flapjack_wire::family::chat_nav::{
    CreatePerms, ExchangeInfo, ExchangeInfoTlvs, RoomInfo, RoomInfoTlvs, room_flags,
};
use flapjack_wire::snac::Message;
use flapjack_wire::types::{RoomId, Str08, normalize_screen_name};
use flapjack_wire::userinfo::UserInfo;
use flapjack_wire::{EncodeError, Snac};

use crate::session::{PushError, Session, next_server_request_id};

/// The exchange of user-created rooms.
pub const PRIVATE_EXCHANGE: u16 = 4;
/// The exchange of public (operator-defined) rooms.
pub const PUBLIC_EXCHANGE: u16 = 5;
/// The instance of every room (instancing is not used).
pub const INSTANCE: u16 = 0;
/// The detail level of room infos (Pidgin expects 2).
pub const DETAIL_LEVEL: u8 = 2;
/// Flags announced for exchanges and rooms (evilable, nav only, instancing, occupant peek), as
/// AOL and Open OSCAR did.
pub const ROOM_FLAGS: u16 =
    room_flags::EVILABLE | room_flags::NAV_ONLY | room_flags::INSTANCING_ALLOWED | room_flags::OCCUPANT_PEEK;
/// How long a user-created room that nobody joined (created through CHAT_NAV, or for a
/// redirect that was never used) survives; it is swept when another room is created.
pub const EMPTY_ROOM_GRACE: Duration = Duration::from_secs(120);
/// Charset and language announced for exchanges and rooms.
const CHARSET: &[u8] = b"us-ascii";
const LANGUAGE: &[u8] = b"en";

/// Chat limits and the public rooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatConfig {
    /// Most distinct users in one room.
    pub max_occupancy: u16,
    /// Longest message text, in bytes (room TLVs 0x00D1 and 0x00DA).
    pub max_message_len: u16,
    /// Longest room name, in bytes (exchange TLV 0x0004).
    pub max_name_len: u16,
    /// Most rooms one client may be in at once (nav info TLV 0x0002; advisory).
    pub max_concurrent_rooms: u8,
    /// Names of the rooms on exchange 5 (public); they exist from start and never disappear.
    pub public_rooms: Vec<String>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            max_occupancy: 100,
            max_message_len: 1024,
            max_name_len: 100,
            max_concurrent_rooms: 10,
            public_rooms: Vec::new(),
        }
    }
}

impl ChatConfig {
    /// The exchange info of `exchange` (nav info TLV 0x0003), with the TLVs Open OSCAR sends and
    /// libpurple and AIM read (AIM 2.x–3.x require 0x0003, max concurrent rooms).
    pub fn exchange_info(&self, exchange: u16) -> Result<ExchangeInfo<'static>, EncodeError> {
        let tlvs = ExchangeInfoTlvs {
            max_concurrent_rooms: Some(self.max_concurrent_rooms),
            class_perms: Some(0x0010),
            max_name_len: Some(self.max_name_len),
            flags: Some(ROOM_FLAGS),
            create_perms: Some(CreatePerms::Exchange),
            charset: Some(CHARSET),
            language: Some(LANGUAGE),
            charset2: Some(CHARSET),
            language2: Some(LANGUAGE),
            ..Default::default()
        }
        .build()?;
        Ok(ExchangeInfo::new(exchange, tlvs))
    }
}

/// True for the exchanges this server has (4 and 5).
pub fn is_known_exchange(exchange: u16) -> bool {
    exchange == PRIVATE_EXCHANGE || exchange == PUBLIC_EXCHANGE
}

/// The normalized form of a room name: ASCII lower case, spaces removed (like screen names).
pub fn normalize_room_name(name: &[u8]) -> Vec<u8> {
    name.iter()
        .filter(|b| **b != b' ')
        .map(|b| b.to_ascii_lowercase())
        .collect()
}

/// The cookie of the room with this *normalized* name on `exchange`: `"<exchange>-0-<name>"`,
/// with bytes other than `[a-z0-9._-]` percent-encoded (libpurple percent-decodes the third
/// part to show it).
pub fn room_cookie(exchange: u16, normalized: &[u8]) -> Vec<u8> {
    let mut cookie = format!("{exchange}-{INSTANCE}-").into_bytes();
    for &b in normalized {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-') {
            cookie.push(b);
        } else {
            cookie.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    cookie
}

/// The normalized room name inside a cookie made by [`room_cookie`] for `exchange`.
pub fn name_from_cookie(exchange: u16, cookie: &[u8]) -> Option<Vec<u8>> {
    let prefix = format!("{exchange}-{INSTANCE}-");
    let rest = cookie.strip_prefix(prefix.as_bytes())?;
    let mut out = Vec::with_capacity(rest.len());
    let mut i = 0;
    while i < rest.len() {
        if rest[i] == b'%' {
            let hex = std::str::from_utf8(rest.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(rest[i]);
            i += 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Identifies a room: exchange, cookie, instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomKey {
    /// The exchange.
    pub exchange: u16,
    /// The cookie bytes.
    pub cookie: Vec<u8>,
    /// The instance.
    pub instance: u16,
}

impl RoomKey {
    /// The key of a wire room triple.
    pub fn from_id(id: &RoomId<'_>) -> Self {
        Self {
            exchange: id.exchange,
            cookie: id.cookie.as_bytes().to_vec(),
            instance: id.instance,
        }
    }
}

/// Why a session could not join a room.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The room emptied and closed meanwhile (look it up again).
    #[error("the room was closed")]
    Closed,
    /// The room is at its maximum occupancy.
    #[error("the room is full")]
    Full,
    /// The newcomer's own queue refused the room's state.
    #[error(transparent)]
    Push(#[from] PushError),
    /// A message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Why a message was not relayed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The sender is not (or no longer) an occupant.
    #[error("not in the room")]
    NotMember,
    /// The text is longer than the room allows.
    #[error("message of {len} bytes is longer than {max}")]
    TooLong {
        /// The text length.
        len: usize,
        /// The room's maximum.
        max: u16,
    },
    /// A whisper to someone who is not in the room.
    #[error("whisper recipient is not in the room")]
    NoSuchRecipient,
    /// The sender's own queue refused the reflected message.
    #[error(transparent)]
    Push(#[from] PushError),
    /// The message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// One occupant session.
#[derive(Debug)]
struct Member {
    session: Arc<Session>,
    info: UserInfo<'static>,
}

impl Member {
    fn name(&self) -> &str {
        self.session.normalized()
    }
}

#[derive(Debug, Default)]
struct Members {
    closed: bool,
    list: Vec<Member>,
}

impl Members {
    fn has_name(&self, name: &str) -> bool {
        self.list.iter().any(|m| m.name() == name)
    }

    /// One user info per distinct user, in join order.
    fn distinct_infos(&self) -> Vec<UserInfo<'static>> {
        let mut seen: Vec<&str> = Vec::new();
        let mut infos = Vec::new();
        for m in &self.list {
            if !seen.contains(&m.name()) {
                seen.push(m.name());
                infos.push(m.info.clone());
            }
        }
        infos
    }

    fn distinct_count(&self) -> usize {
        let mut seen: Vec<&str> = Vec::new();
        for m in &self.list {
            if !seen.contains(&m.name()) {
                seen.push(m.name());
            }
        }
        seen.len()
    }
}

/// One chat room.
#[derive(Debug)]
pub struct Room {
    key: RoomKey,
    name: Vec<u8>,
    created: u32,
    born: Instant,
    max_occupancy: u16,
    max_message_len: u16,
    permanent: bool,
    members: Mutex<Members>,
}

fn encode_unsolicited(message: Message<'_>) -> Bytes {
    Bytes::from(Snac::new(next_server_request_id(), message).to_bytes())
}

impl Room {
    fn new(key: RoomKey, name: Vec<u8>, created: u32, config: &ChatConfig, permanent: bool) -> Self {
        Self {
            key,
            name,
            created,
            born: Instant::now(),
            max_occupancy: config.max_occupancy,
            max_message_len: config.max_message_len,
            permanent,
            members: Mutex::new(Members::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Exchange, cookie, instance.
    pub fn key(&self) -> &RoomKey {
        &self.key
    }

    /// The room's name as created.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Most distinct users.
    pub fn max_occupancy(&self) -> u16 {
        self.max_occupancy
    }

    /// Longest message text.
    pub fn max_message_len(&self) -> u16 {
        self.max_message_len
    }

    /// The wire room triple.
    pub fn id(&self) -> Result<RoomId<'static>, EncodeError> {
        Ok(RoomId {
            exchange: self.key.exchange,
            cookie: Str08::new(self.key.cookie.clone())?,
            instance: self.key.instance,
        })
    }

    /// The full room info (detail 2, TLVs in Open OSCAR's order): the nav-info TLV 0x0004 value
    /// and the body of CHAT 0x0002.
    pub fn info(&self) -> Result<RoomInfo<'static>, EncodeError> {
        let tlvs = RoomInfoTlvs {
            flags: Some(ROOM_FLAGS),
            create_time: Some(self.created),
            max_message_len: Some(self.max_message_len),
            max_occupancy: Some(self.max_occupancy),
            create_perms: Some(CreatePerms::Exchange),
            fully_qualified_name: Some(&self.name),
            name: Some(&self.name),
            max_visible_message_len: Some(self.max_message_len),
            ..Default::default()
        }
        .build()?;
        Ok(RoomInfo::new(self.id()?, DETAIL_LEVEL, tlvs))
    }

    /// The normalized names of the occupants, in join order, each once.
    pub fn occupants(&self) -> Vec<String> {
        let members = self.lock();
        let mut names: Vec<String> = Vec::new();
        for m in &members.list {
            if !names.iter().any(|n| n == m.name()) {
                names.push(m.name().to_owned());
            }
        }
        names
    }

    /// True when `name` (normalized) could not join because the room is full.
    pub fn is_full_for(&self, name: &str) -> bool {
        let members = self.lock();
        !members.has_name(name) && members.distinct_count() >= usize::from(self.max_occupancy)
    }

    /// Adds `session` (whose user info others see as `info`) and tells everyone, in the order
    /// Mac AIM 4.0.9 needs (§8.11): the newcomer gets the users-joined list of every occupant
    /// (itself included), then the room info; then the others get users-joined with the newcomer.
    pub fn join(&self, session: Arc<Session>, info: UserInfo<'static>) -> Result<(), JoinError> {
        let mut members = self.lock();
        if members.closed {
            return Err(JoinError::Closed);
        }
        let name = session.normalized().to_owned();
        let already = members.has_name(&name);
        if !already && members.distinct_count() >= usize::from(self.max_occupancy) {
            return Err(JoinError::Full);
        }
        let id = session.id();
        let outbox = session.outbox().clone();
        members.list.push(Member {
            session,
            info: info.clone(),
        });
        let room_state = (|| -> Result<(Bytes, Bytes), EncodeError> {
            let list = encode_unsolicited(Message::Chat(Chat::users_joined(&members.distinct_infos())?));
            let room_info = encode_unsolicited(Message::Chat(Chat::RoomInfoUpdate(self.info()?)));
            Ok((list, room_info))
        })();
        let pushed = room_state.map_err(JoinError::from).and_then(|(list, room_info)| {
            outbox.push_snac_bytes(list)?;
            outbox.push_snac_bytes(room_info)?;
            Ok(())
        });
        if let Err(e) = pushed {
            members.list.retain(|m| m.session.id() != id);
            return Err(e);
        }
        if !already {
            let announce = encode_unsolicited(Message::Chat(Chat::users_joined(std::slice::from_ref(&info))?));
            for m in members.list.iter().filter(|m| m.session.id() != id) {
                // A full queue disconnects that (slow) occupant; its departure follows.
                let _ = m.session.outbox().push_snac_bytes(announce.clone());
            }
        }
        Ok(())
    }

    /// Relays a message from the occupant session `sender` (its request id `request_id`) as
    /// 0x000E/0x0006: to every other occupant session, or for a whisper (TLV 0x0002) to the
    /// named user's sessions only, and back to the sender when it asked (TLV 0x0006), with its
    /// own request id.
    pub fn send(&self, sender: u64, message: &ChatSend<'_>, request_id: u32) -> Result<(), SendError> {
        let len = message.text().len();
        if len > usize::from(self.max_message_len) {
            return Err(SendError::TooLong {
                len,
                max: self.max_message_len,
            });
        }
        let whisper_to = message.whisper_to().map(normalize_screen_name);
        let members = self.lock();
        let from = members
            .list
            .iter()
            .find(|m| m.session.id() == sender)
            .ok_or(SendError::NotMember)?;
        if let Some(to) = &whisper_to
            && !members.has_name(to)
        {
            return Err(SendError::NoSuchRecipient);
        }
        let incoming = message.to_incoming(&from.info)?;
        let to_others = encode_unsolicited(Message::Chat(Chat::Incoming(incoming.clone())));
        for m in members.list.iter().filter(|m| m.session.id() != sender) {
            if whisper_to.as_deref().is_some_and(|to| to != m.name()) {
                continue;
            }
            // A full queue disconnects that (slow) occupant; its departure follows.
            let _ = m.session.outbox().push_snac_bytes(to_others.clone());
        }
        if message.reflects() {
            from.session
                .outbox()
                .push_snac(&Snac::new(request_id, Message::Chat(Chat::Incoming(incoming))))?;
        }
        Ok(())
    }

    /// Removes the occupant session `session`; when that was the user's last session here, the
    /// others get users-left. Returns true when the room is now empty and closed (the caller
    /// then drops it from the registry).
    fn leave(&self, session: u64) -> bool {
        let mut members = self.lock();
        let Some(pos) = members.list.iter().position(|m| m.session.id() == session) else {
            return false;
        };
        let gone = members.list.remove(pos);
        if !members.has_name(gone.name()) {
            match Chat::users_left(std::slice::from_ref(&gone.info)) {
                Ok(left) => {
                    let left = encode_unsolicited(Message::Chat(left));
                    for m in &members.list {
                        let _ = m.session.outbox().push_snac_bytes(left.clone());
                    }
                }
                Err(e) => tracing::warn!(error = %e, "encoding users-left failed"),
            }
        }
        if members.list.is_empty() && !self.permanent {
            members.closed = true;
            return true;
        }
        false
    }
}

const SHARDS: usize = 32;

type RoomShard = RwLock<HashMap<RoomKey, Arc<Room>>>;
type SessionShard = RwLock<HashMap<String, Vec<Arc<Session>>>>;

/// Every room of this server, and the chat-related service sessions of every account.
pub struct ChatRooms {
    config: ChatConfig,
    hasher: RandomState,
    rooms: Box<[RoomShard]>,
    sessions: Box<[SessionShard]>,
}

impl std::fmt::Debug for ChatRooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatRooms")
            .field("config", &self.config)
            .field("rooms", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for ChatRooms {
    fn default() -> Self {
        Self::new(ChatConfig::default())
    }
}

impl ChatRooms {
    /// A registry with `config`'s limits and public rooms.
    pub fn new(config: ChatConfig) -> Self {
        let rooms = Self {
            hasher: RandomState::new(),
            rooms: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            sessions: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            config,
        };
        for name in rooms.config.public_rooms.clone() {
            if let Err(e) = rooms.add_public_room(name.as_bytes()) {
                tracing::warn!(room = %name, error = e, "public room not created");
            }
        }
        rooms
    }

    /// The limits.
    pub fn config(&self) -> &ChatConfig {
        &self.config
    }

    fn room_shard(&self, key: &RoomKey) -> &RoomShard {
        &self.rooms[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    fn session_shard(&self, name: &str) -> &SessionShard {
        &self.sessions[(self.hasher.hash_one(name) as usize) % SHARDS]
    }

    /// Checks a room name and returns its key on `exchange`.
    fn key_for_name(&self, exchange: u16, name: &[u8]) -> Result<RoomKey, &'static str> {
        if name.len() > usize::from(self.config.max_name_len) {
            return Err("room name too long");
        }
        let normalized = normalize_room_name(name);
        if normalized.is_empty() {
            return Err("empty room name");
        }
        let cookie = room_cookie(exchange, &normalized);
        if cookie.len() > usize::from(u8::MAX) {
            return Err("room name too long");
        }
        Ok(RoomKey {
            exchange,
            cookie,
            instance: INSTANCE,
        })
    }

    /// Adds a permanent room on the public exchange (5); returns the existing one when present.
    pub fn add_public_room(&self, name: &[u8]) -> Result<Arc<Room>, &'static str> {
        let key = self.key_for_name(PUBLIC_EXCHANGE, name)?;
        let mut shard = self.room_shard(&key).write().unwrap_or_else(|p| p.into_inner());
        let room = shard
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Room::new(
                    key,
                    name.to_vec(),
                    crate::services::unix_now(),
                    &self.config,
                    true,
                ))
            })
            .clone();
        Ok(room)
    }

    /// The room with this key, if it exists.
    pub fn room(&self, key: &RoomKey) -> Option<Arc<Room>> {
        self.room_shard(key)
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .filter(|r| !r.lock().closed)
            .cloned()
    }

    /// The room called `name` (compared normalized) on `exchange`, if it exists.
    pub fn find(&self, exchange: u16, name: &[u8]) -> Option<Arc<Room>> {
        self.room(&self.key_for_name(exchange, name).ok()?)
    }

    /// The user-created room (exchange 4) called `name` (compared normalized), created now if
    /// it does not exist. Errors name a bad room name.
    pub fn get_or_create(&self, name: &[u8]) -> Result<Arc<Room>, &'static str> {
        let key = self.key_for_name(PRIVATE_EXCHANGE, name)?;
        if let Some(room) = self.room(&key) {
            return Ok(room);
        }
        let mut shard = self.room_shard(&key).write().unwrap_or_else(|p| p.into_inner());
        if let Some(room) = shard.get(&key)
            && !room.lock().closed
        {
            return Ok(room.clone());
        }
        // Rooms made but never joined go once their grace period is over.
        let now = Instant::now();
        shard.retain(|_, r| {
            if r.permanent || now.saturating_duration_since(r.born) < EMPTY_ROOM_GRACE {
                return true;
            }
            let mut members = r.lock();
            if members.list.is_empty() {
                members.closed = true;
            }
            !members.closed
        });
        // Absent, or closed and not yet removed: (re)create.
        let room = Arc::new(Room::new(
            key.clone(),
            name.to_vec(),
            crate::services::unix_now(),
            &self.config,
            false,
        ));
        shard.insert(key, room.clone());
        tracing::debug!(room = %String::from_utf8_lossy(name), "chat room created");
        Ok(room)
    }

    /// The room a CHAT connection for `key` joins: the existing one, or (a user-created room
    /// that emptied since the redirect) the same room made again.
    pub fn room_for_join(&self, key: &RoomKey) -> Option<Arc<Room>> {
        if let Some(room) = self.room(key) {
            return Some(room);
        }
        if key.exchange != PRIVATE_EXCHANGE || key.instance != INSTANCE {
            return None;
        }
        let name = name_from_cookie(key.exchange, &key.cookie)?;
        let room = self.get_or_create(&name).ok()?;
        (room.key() == key).then_some(room)
    }

    /// Removes `session` from `room`; drops the room when it emptied.
    pub fn leave(&self, room: &Arc<Room>, session: &Session) {
        if room.leave(session.id()) {
            let mut shard = self.room_shard(room.key()).write().unwrap_or_else(|p| p.into_inner());
            if shard.get(room.key()).is_some_and(|r| Arc::ptr_eq(r, room)) {
                shard.remove(room.key());
                tracing::debug!(room = %String::from_utf8_lossy(room.name()), "chat room closed");
            }
        }
    }

    /// Number of open rooms.
    pub fn len(&self) -> usize {
        self.rooms
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// True when no room is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Indexes a CHAT or CHAT_NAV session under its account.
    pub fn add_service_session(&self, session: Arc<Session>) {
        let mut shard = self
            .session_shard(session.normalized())
            .write()
            .unwrap_or_else(|p| p.into_inner());
        shard.entry(session.normalized().to_owned()).or_default().push(session);
    }

    /// Drops a session from the index (unknown sessions are ignored).
    pub fn remove_service_session(&self, session: &Session) {
        let mut shard = self
            .session_shard(session.normalized())
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(list) = shard.get_mut(session.normalized()) {
            list.retain(|s| s.id() != session.id());
            if list.is_empty() {
                shard.remove(session.normalized());
            }
        }
    }

    /// The CHAT and CHAT_NAV sessions of an account.
    pub fn service_sessions(&self, normalized: &str) -> Vec<Arc<Session>> {
        self.session_shard(normalized)
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(normalized)
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Outbound, Outbox, OutboxReceiver, SessionInfo};
    use flapjack_wire::IcbmCookie;
    use flapjack_wire::family::chat::ChatSend;
    use flapjack_wire::snac::Snac as WireSnac;

    fn session(name: &str) -> (Arc<Session>, OutboxReceiver) {
        let (outbox, rx) = Outbox::new(64);
        let info = SessionInfo {
            screen_name: name.into(),
            normalized: normalize_screen_name(name.as_bytes()),
            created_at: 0,
            signon_time: 0,
            bot: false,
            tls: false,
        };
        (Session::new(info, outbox, 0), rx)
    }

    fn join(room: &Room, s: &Arc<Session>) -> Result<(), JoinError> {
        room.join(s.clone(), s.user_info(0))
    }

    /// (subtype, names in a users list / sender) of every queued SNAC.
    fn drain(rx: &mut OutboxReceiver) -> Vec<(u16, Vec<String>)> {
        let mut out = Vec::new();
        while let Ok(item) = rx.rx.try_recv() {
            let Outbound::Frame { payload, .. } = item else {
                continue;
            };
            let snac = WireSnac::decode(&payload).unwrap();
            let Message::Chat(m) = snac.message else {
                panic!("not CHAT")
            };
            let names = match &m {
                Chat::UsersJoined(l) | Chat::UsersLeft(l) => {
                    l.iter().map(|u| u.screen_name.to_string_lossy()).collect()
                }
                Chat::Incoming(i) => vec![i.sender().unwrap().screen_name.to_string_lossy()],
                _ => Vec::new(),
            };
            out.push((m.subtype(), names));
        }
        out
    }

    #[test]
    fn cookies_and_names() {
        assert_eq!(normalize_room_name(b"Test Room"), b"testroom");
        assert_eq!(room_cookie(4, b"testroom"), b"4-0-testroom");
        assert_eq!(room_cookie(5, b"a%b/c"), b"5-0-a%25b%2Fc");
        assert_eq!(name_from_cookie(5, b"5-0-a%25b%2Fc").unwrap(), b"a%b/c");
        assert_eq!(name_from_cookie(4, b"5-0-x"), None);
        assert_eq!(name_from_cookie(4, b"4-0-%zz"), None);
        assert_eq!(name_from_cookie(4, b"4-0-"), None);
    }

    #[test]
    fn rooms_are_found_by_normalized_name_and_vanish_when_empty() {
        let rooms = ChatRooms::default();
        let a = rooms.get_or_create(b"Test Room").unwrap();
        assert_eq!(a.name(), b"Test Room");
        assert_eq!(a.key().cookie, b"4-0-testroom");
        let b = rooms.get_or_create(b"testroom").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(rooms.find(PUBLIC_EXCHANGE, b"testroom").is_none());
        assert!(rooms.get_or_create(b"   ").is_err());
        assert!(rooms.get_or_create(&[b'x'; 101]).is_err());

        let (alice, _rx) = session("Alice");
        join(&a, &alice).unwrap();
        assert_eq!(rooms.len(), 1);
        rooms.leave(&a, &alice);
        assert!(rooms.is_empty());
        // A late joiner of the closed room is told to look again, and gets a fresh room.
        assert!(matches!(join(&a, &alice), Err(JoinError::Closed)));
        let again = rooms.room_for_join(a.key()).unwrap();
        assert!(!Arc::ptr_eq(&a, &again));
        assert_eq!(again.key(), a.key());
    }

    #[test]
    fn public_rooms_are_permanent() {
        let rooms = ChatRooms::new(ChatConfig {
            public_rooms: vec!["Lobby".into()],
            ..ChatConfig::default()
        });
        let lobby = rooms.find(PUBLIC_EXCHANGE, b"lobby").unwrap();
        assert_eq!(lobby.key().cookie, b"5-0-lobby");
        let (alice, _rx) = session("alice");
        join(&lobby, &alice).unwrap();
        rooms.leave(&lobby, &alice);
        assert!(rooms.find(PUBLIC_EXCHANGE, b"Lobby").is_some());
        assert!(
            rooms
                .room_for_join(&RoomKey {
                    exchange: PUBLIC_EXCHANGE,
                    cookie: b"5-0-other".to_vec(),
                    instance: 0
                })
                .is_none()
        );
    }

    #[test]
    fn join_order_messages_and_departures() {
        let rooms = ChatRooms::default();
        let room = rooms.get_or_create(b"testroom").unwrap();
        let (alice, mut ra) = session("alice");
        let (bobby, mut rb) = session("bobby");
        join(&room, &alice).unwrap();
        assert_eq!(drain(&mut ra), [(3, vec!["alice".into()]), (2, vec![])]);
        join(&room, &bobby).unwrap();
        assert_eq!(drain(&mut rb), [(3, vec!["alice".into(), "bobby".into()]), (2, vec![])]);
        assert_eq!(drain(&mut ra), [(3, vec!["bobby".into()])]);

        let hello = ChatSend::new(IcbmCookie([1; 8]), b"hi", b"us-ascii", false).unwrap();
        room.send(alice.id(), &hello, 7).unwrap();
        assert_eq!(drain(&mut rb), [(6, vec!["alice".into()])]);
        assert!(drain(&mut ra).is_empty());
        let reflect = ChatSend::new(IcbmCookie([2; 8]), b"hi", b"us-ascii", true).unwrap();
        room.send(alice.id(), &reflect, 8).unwrap();
        assert_eq!(drain(&mut ra), [(6, vec!["alice".into()])]);
        assert_eq!(drain(&mut rb).len(), 1);

        let (carol, mut rc) = session("carol");
        assert!(matches!(room.send(carol.id(), &hello, 9), Err(SendError::NotMember)));
        join(&room, &carol).unwrap();
        drain(&mut ra);
        drain(&mut rb);
        drain(&mut rc);
        let msg = flapjack_wire::family::chat::MessageInfo::new(b"psst", None, None).unwrap();
        let whisper = ChatSend::with_message(IcbmCookie([3; 8]), &msg, false, false, Some(b"Bob By")).unwrap();
        room.send(carol.id(), &whisper, 10).unwrap();
        assert_eq!(drain(&mut rb), [(6, vec!["carol".into()])]);
        assert!(drain(&mut ra).is_empty());
        let nobody = ChatSend::with_message(IcbmCookie([3; 8]), &msg, false, false, Some(b"dave")).unwrap();
        assert!(matches!(
            room.send(carol.id(), &nobody, 11),
            Err(SendError::NoSuchRecipient)
        ));

        let long = ChatSend::new(IcbmCookie([4; 8]), &[b'x'; 1025], b"us-ascii", false).unwrap();
        assert!(matches!(
            room.send(alice.id(), &long, 12),
            Err(SendError::TooLong { len: 1025, .. })
        ));

        rooms.leave(&room, &bobby);
        assert_eq!(drain(&mut ra), [(4, vec!["bobby".into()])]);
        assert_eq!(drain(&mut rc), [(4, vec!["bobby".into()])]);
        assert_eq!(room.occupants(), ["alice", "carol"]);
    }

    #[test]
    fn two_sessions_of_one_user_are_one_occupant() {
        let rooms = ChatRooms::new(ChatConfig {
            max_occupancy: 2,
            ..ChatConfig::default()
        });
        let room = rooms.get_or_create(b"r").unwrap();
        let (a1, mut r1) = session("alice");
        let (a2, _r2) = session("alice");
        let (b, mut rb) = session("bobby");
        let (c, _rc) = session("carol");
        join(&room, &a1).unwrap();
        join(&room, &b).unwrap();
        drain(&mut r1);
        drain(&mut rb);
        // Full for a third user, not for a second session of alice.
        assert!(room.is_full_for("carol"));
        assert!(matches!(join(&room, &c), Err(JoinError::Full)));
        join(&room, &a2).unwrap();
        assert!(drain(&mut rb).is_empty(), "alice is announced once");
        rooms.leave(&room, &a1);
        assert!(drain(&mut rb).is_empty(), "alice is still there");
        rooms.leave(&room, &a2);
        assert_eq!(drain(&mut rb), [(4, vec!["alice".into()])]);
    }
}
