//! What a [`Session`](crate::session::Session) reports.

use std::time::Duration;

use flapjack_wire::family::feedbag::{FeedbagStatus, PdMode};
use flapjack_wire::family::icbm::{MissedReason, TypingEvent, decode_named_charset};
use flapjack_wire::family::oservice::BartId;
use flapjack_wire::userinfo::{UserInfo, status, tag};
use flapjack_wire::{Capability, List, Reader, RoomId, Str08};

use crate::command::{MessageId, TxId};
use crate::error::{ClientError, SignOffReason};
use crate::openauth::Transcript;
use crate::session::ConnKind;

/// A user as the server describes them (a user-info block, §3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserStatus {
    /// The screen name as its owner formats it.
    pub screen_name: String,
    /// Warning level in tenths of a percent (0..=1000).
    pub warning_level: u16,
    /// User class flags (TLV 0x0001).
    pub class: u16,
    /// Away (class flag 0x0020, or ICQ status away bits).
    pub away: bool,
    /// Invisible (status 0x0100).
    pub invisible: bool,
    /// Idle minutes (TLV 0x0004).
    pub idle_minutes: Option<u16>,
    /// Signed on at (Unix seconds, TLV 0x0003).
    pub online_since: Option<u32>,
    /// Member since (Unix seconds, TLV 0x0005).
    pub member_since: Option<u32>,
    /// The status word (TLV 0x0006).
    pub status: Option<u32>,
    /// Capabilities (TLVs 0x000D and 0x0019).
    pub capabilities: Vec<Capability>,
    /// The "available" status message (TLV 0x001D, BART type 2).
    pub status_message: Option<String>,
}

impl UserStatus {
    /// Reads a user-info block.
    pub fn from_info(info: &UserInfo<'_>) -> Self {
        let status_word = info.status();
        let low = status_word.map(|s| (s & 0xFFFF) as u16).unwrap_or(0);
        let status_message = info.tlvs.get(tag::BART_INFO).and_then(|b| {
            let list = List::<BartId<'static>>::decode_rest(&mut Reader::new(b)).ok()?;
            list.iter()
                .find(|id| id.bart_type == 0x0002)
                .and_then(|id| id.text_value().map(|t| String::from_utf8_lossy(t).into_owned()))
                .filter(|t| !t.is_empty())
        });
        UserStatus {
            screen_name: info.screen_name.to_string_lossy(),
            warning_level: info.warning,
            class: info.class(),
            away: info.is_away() || low & (status::AWAY | status::NA | status::DND | status::OCCUPIED) != 0,
            invisible: low & status::INVISIBLE != 0,
            idle_minutes: info.idle_minutes().filter(|m| *m > 0),
            online_since: info.signon_time(),
            member_since: info.tlvs.get_u32(tag::MEMBER_SINCE),
            status: status_word,
            capabilities: info.capabilities(),
            status_message,
        }
    }
}

/// A buddy in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buddy {
    /// The screen name.
    pub screen_name: String,
    /// The local alias, if set.
    pub alias: Option<String>,
}

/// A group of the buddy list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuddyGroup {
    /// The group name.
    pub name: String,
    /// Its buddies, in the list's order.
    pub buddies: Vec<Buddy>,
}

/// A snapshot of the server-stored buddy list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuddyList {
    /// Groups in order.
    pub groups: Vec<BuddyGroup>,
    /// Permit list.
    pub permit: Vec<String>,
    /// Deny (block) list.
    pub deny: Vec<String>,
    /// Privacy mode, if the list has a PD item.
    pub privacy: Option<PdMode>,
}

impl BuddyList {
    /// Every buddy's screen name, in order.
    pub fn all_buddies(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .flat_map(|g| g.buddies.iter().map(|b| b.screen_name.as_str()))
    }
    /// The group named `name` (case-insensitive).
    pub fn group(&self, name: &str) -> Option<&BuddyGroup> {
        self.groups.iter().find(|g| g.name.eq_ignore_ascii_case(name))
    }
}

/// How one item of a buddy-list transaction fared (0x0013/0x000E).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    /// What was done.
    pub op: FeedbagOp,
    /// The item's name (screen name or group name; empty for the root and PD items).
    pub name: String,
    /// The server's answer.
    pub status: FeedbagStatus,
}

/// A feedbag operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedbagOp {
    /// 0x0013/0x0008.
    Insert,
    /// 0x0013/0x0009.
    Update,
    /// 0x0013/0x000A.
    Delete,
}

/// A chat room's identity and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChatRoom {
    /// The display name.
    pub name: String,
    /// The exchange (4 = user-created, 5 = public).
    pub exchange: u16,
    /// The room cookie.
    pub cookie: String,
    /// The instance.
    pub instance: u16,
}

impl ChatRoom {
    /// From a room id, naming it after the name TLV if known, else the cookie's last
    /// `-`-separated part (Open OSCAR cookies look like `4-0-name`).
    pub fn from_id(id: &RoomId<'_>, name: Option<&str>) -> Self {
        let cookie = id.cookie.to_string_lossy();
        let name = name.map(str::to_owned).unwrap_or_else(|| {
            let mut parts = cookie.splitn(3, '-');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(_), Some(_), Some(n)) if !n.is_empty() => n.to_owned(),
                _ => cookie.clone(),
            }
        });
        ChatRoom {
            name,
            exchange: id.exchange,
            cookie,
            instance: id.instance,
        }
    }

    /// The wire identity.
    pub fn id(&self) -> Result<RoomId<'static>, flapjack_wire::EncodeError> {
        Ok(RoomId {
            exchange: self.exchange,
            cookie: Str08::new(self.cookie.clone().into_bytes())?,
            instance: self.instance,
        })
    }
}

/// An instant message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedIm {
    /// The sender.
    pub from: UserStatus,
    /// The text, decoded from its charset (often HTML; see [`strip_html`]).
    pub text: String,
    /// An automatic response (away message).
    pub auto_response: bool,
    /// Stored while you were offline.
    pub offline: bool,
    /// When an offline message was sent (Unix seconds).
    pub sent_at: Option<u32>,
    /// The sender asks for typing notifications.
    pub wants_typing: bool,
}

/// A user's profile and away message (0x0002/0x0006).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfoReply {
    /// Presence and classes.
    pub user: UserStatus,
    /// The profile, decoded.
    pub profile: Option<String>,
    /// The away message, decoded (present ⇒ away).
    pub away_message: Option<String>,
}

/// What the session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The OpenAuth login's transcript (driver only, before the BOS connection).
    LoginTranscript(Transcript),
    /// A connection is being opened.
    Connecting {
        /// What for.
        kind: ConnKind,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// TLS certificate name, when TLS is used.
        tls_cert_name: Option<String>,
    },
    /// Signed on: the BOS handshake finished.
    SignedOn {
        /// Our own user info (0x0001/0x000F).
        self_info: UserStatus,
        /// The server-stored buddy list (empty when the server has no FEEDBAG).
        buddy_list: BuddyList,
    },
    /// Our user info changed (0x0001/0x000F after sign-on).
    SelfInfo(UserStatus),
    /// The server's message of the day.
    Motd(String),
    /// An instant message arrived.
    ImReceived(ReceivedIm),
    /// The server accepted an IM for delivery (0x0004/0x000C).
    HostAck {
        /// The message.
        id: MessageId,
        /// Its recipient.
        to: String,
    },
    /// A buddy signed on (or is online when we signed on).
    BuddyArrived(UserStatus),
    /// An online buddy's status changed (away, idle, capabilities…).
    BuddyChanged(UserStatus),
    /// A buddy signed off (or became invisible).
    BuddyDeparted {
        /// The screen name.
        screen_name: String,
    },
    /// A typing notification.
    Typing {
        /// From whom.
        from: String,
        /// What happened.
        event: TypingEvent,
    },
    /// Answer to a user-info query.
    UserInfo(UserInfoReply),
    /// A buddy-list transaction finished.
    BuddyListEdited {
        /// The transaction.
        tx: TxId,
        /// Each item's result, in the order sent.
        results: Vec<ItemResult>,
        /// The list afterwards.
        list: BuddyList,
    },
    /// The server changed the buddy list (an edit from another session of the account).
    BuddyListChanged(BuddyList),
    /// Joined a chat room.
    ChatJoined {
        /// The room.
        room: ChatRoom,
        /// Who is in it (including us).
        members: Vec<String>,
    },
    /// A message in a chat room.
    ChatMessage {
        /// The room name.
        room: String,
        /// The sender.
        from: String,
        /// The text.
        text: String,
        /// Whispered to us only.
        whisper: bool,
    },
    /// Someone joined a chat room we are in.
    ChatMemberJoined {
        /// The room name.
        room: String,
        /// Who.
        screen_name: String,
    },
    /// Someone left a chat room we are in.
    ChatMemberLeft {
        /// The room name.
        room: String,
        /// Who.
        screen_name: String,
    },
    /// We left a chat room, or were dropped from it.
    ChatLeft {
        /// The room name.
        room: String,
        /// Why, if not our own request.
        reason: Option<String>,
    },
    /// Someone invited us to a chat room (ICBM channel 2).
    ChatInvite {
        /// Who.
        from: String,
        /// The room (join it with [`Command::JoinChatRoom`](crate::command::Command::JoinChatRoom)).
        room: ChatRoom,
        /// The invitation text.
        message: Option<String>,
    },
    /// We were warned (0x0001/0x0010).
    Warned {
        /// Our new warning level (tenths of a percent).
        level: u16,
        /// Who warned us, unless anonymous.
        by: Option<String>,
    },
    /// Our warning was applied (0x0004/0x0009).
    WarnApplied {
        /// Whom we warned.
        screen_name: String,
        /// Warning added (tenths of a percent).
        delta: u16,
        /// Their new level.
        new_level: u16,
    },
    /// A rate class fell below its alert level (0x0001/0x000A code 2).
    RateWarning {
        /// Which connection.
        conn: ConnKind,
        /// The class.
        class: u16,
        /// The server's level.
        level: u32,
    },
    /// A rate class is limited: the server drops its SNACs (code 3). The client holds
    /// SNACs of the class back until the level is clear again.
    RateLimited {
        /// Which connection.
        conn: ConnKind,
        /// The class.
        class: u16,
        /// The server's level.
        level: u32,
    },
    /// A limit was cleared (code 4).
    RateCleared {
        /// Which connection.
        conn: ConnKind,
        /// The class.
        class: u16,
        /// The server's level.
        level: u32,
    },
    /// Messages to us were dropped by the server (0x0004/0x000A).
    MissedMessages {
        /// From whom.
        from: String,
        /// How many.
        count: u16,
        /// Why.
        reason: MissedReason,
    },
    /// All stored offline messages were delivered (0x0004/0x0017).
    OfflineMessagesDone,
    /// Something failed; the session goes on unless a `SignedOff` follows.
    Error(ClientError),
    /// The driver reconnects after a lost session.
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
        /// Delay before this attempt.
        delay: Duration,
    },
    /// The session ended.
    SignedOff {
        /// Why.
        reason: SignOffReason,
    },
}

/// Removes HTML tags and decodes the common entities, for showing AIM messages as text.
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut tag_name = String::new();
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag_name.clear();
            }
            (true, '>') => {
                in_tag = false;
                let t = tag_name.trim_start_matches('/').to_ascii_lowercase();
                if t == "br" || t == "br/" || t.starts_with("br ") {
                    out.push('\n');
                }
            }
            (true, c) => tag_name.push(c),
            (false, c) => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// Decodes text whose MIME type / charset name came in a neighbouring TLV.
pub(crate) fn decode_text_with_mime(mime: Option<&[u8]>, bytes: &[u8]) -> String {
    decode_named_charset(mime, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flapjack_wire::ScreenName;
    use flapjack_wire::userinfo::UserInfoTlvs;

    #[test]
    fn html_is_stripped() {
        assert_eq!(
            strip_html("<HTML><BODY>hi &amp; bye<BR>x &lt;3</BODY></HTML>"),
            "hi & bye\nx <3"
        );
    }

    #[test]
    fn user_status_reads_away_idle_and_invisible() {
        let tlvs = UserInfoTlvs {
            class: Some(0x0030),
            idle_minutes: Some(3),
            status: Some(0x0000_0100),
            ..Default::default()
        }
        .build()
        .unwrap();
        let info = UserInfo::new(ScreenName::try_from("Bob").unwrap(), 25, tlvs);
        let s = UserStatus::from_info(&info);
        assert_eq!(s.screen_name, "Bob");
        assert!(s.away && s.invisible);
        assert_eq!(s.idle_minutes, Some(3));
        assert_eq!(s.warning_level, 25);
    }

    #[test]
    fn room_names_from_cookies() {
        let id = RoomId {
            exchange: 4,
            cookie: Str08::try_from("4-0-Lounge").unwrap(),
            instance: 0,
        };
        let r = ChatRoom::from_id(&id, None);
        assert_eq!(r.name, "Lounge");
        assert_eq!(r.id().unwrap(), id.into_owned());
    }
}
