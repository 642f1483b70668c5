//! What a user can ask a [`Session`](crate::session::Session) to do.

use flapjack_wire::family::feedbag::PdMode;
use flapjack_wire::family::icbm::TypingEvent;

use crate::event::ChatRoom;

/// Identifies an outgoing instant message. It becomes the message's ICBM cookie, so the host
/// ack (and any error) for the message names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub u64);

impl MessageId {
    /// The 8-byte ICBM cookie for this id.
    pub fn cookie(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// The id an ICBM cookie stands for.
    pub fn from_cookie(cookie: [u8; 8]) -> Self {
        MessageId(u64::from_be_bytes(cookie))
    }
}

/// Identifies a buddy-list transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

/// How the text of an IM is encoded (the charset of the channel-1 text fragment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ImCharset {
    /// The narrowest that holds the text: ASCII, else ISO-8859-1, else UCS-2 (UTF-16BE).
    #[default]
    Auto,
    /// ASCII (0x0000); the text must be ASCII.
    Ascii,
    /// ISO-8859-1 (0x0003); every character must be at most U+00FF.
    Latin1,
    /// UCS-2 / UTF-16BE (0x0002).
    Unicode,
}

/// An instant message to send (channel 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImRequest {
    /// The id the host ack and errors will carry.
    pub id: MessageId,
    /// The recipient's screen name.
    pub to: String,
    /// The text (AIM clients send HTML-ish markup; plain text works too).
    pub text: String,
    /// How to encode the text.
    pub charset: ImCharset,
    /// Ask the server for a host ack (TLV 0x0003 → 0x0004/0x000C).
    pub request_ack: bool,
    /// Mark it as an automatic response (away message).
    pub auto_response: bool,
    /// Ask the server to store it if the recipient is offline.
    pub store_offline: bool,
}

impl ImRequest {
    /// A message with a host-ack request and the automatic charset.
    pub fn new(id: MessageId, to: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            id,
            to: to.into(),
            text: text.into(),
            charset: ImCharset::Auto,
            request_ack: true,
            auto_response: false,
            store_offline: false,
        }
    }
}

/// One change to the server-stored buddy list ("feedbag").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuddyEdit {
    /// Create a group (no-op if it exists).
    AddGroup {
        /// The group name.
        name: String,
    },
    /// Delete a group and the buddies in it.
    RemoveGroup {
        /// The group name.
        name: String,
    },
    /// Add a buddy to a group, creating the group if needed (no-op if already there).
    AddBuddy {
        /// The group name.
        group: String,
        /// The buddy's screen name.
        name: String,
    },
    /// Remove a buddy from every group.
    RemoveBuddy {
        /// The buddy's screen name.
        name: String,
    },
    /// Move a buddy to another group (created if needed).
    MoveBuddy {
        /// The buddy's screen name.
        name: String,
        /// The target group.
        to_group: String,
    },
    /// Set or clear a buddy's local alias.
    SetAlias {
        /// The buddy's screen name.
        name: String,
        /// The alias, `None` to clear.
        alias: Option<String>,
    },
    /// Add to the permit list.
    AddPermit {
        /// The screen name.
        name: String,
    },
    /// Remove from the permit list.
    RemovePermit {
        /// The screen name.
        name: String,
    },
    /// Add to the deny (block) list.
    AddDeny {
        /// The screen name.
        name: String,
    },
    /// Remove from the deny list.
    RemoveDeny {
        /// The screen name.
        name: String,
    },
    /// Set who may see and message you.
    SetPrivacy(PdMode),
}

/// A buddy-list transaction being built (see [`ClientHandle::edit_buddies`](crate::ClientHandle::edit_buddies)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuddyTx {
    /// The edits, applied in order.
    pub edits: Vec<BuddyEdit>,
}

impl BuddyTx {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds `name` to `group` (created if needed).
    pub fn add_buddy(&mut self, group: impl Into<String>, name: impl Into<String>) -> &mut Self {
        self.edits.push(BuddyEdit::AddBuddy {
            group: group.into(),
            name: name.into(),
        });
        self
    }
    /// Removes `name` from every group.
    pub fn remove_buddy(&mut self, name: impl Into<String>) -> &mut Self {
        self.edits.push(BuddyEdit::RemoveBuddy { name: name.into() });
        self
    }
    /// Moves `name` to `group`.
    pub fn move_buddy(&mut self, name: impl Into<String>, group: impl Into<String>) -> &mut Self {
        self.edits.push(BuddyEdit::MoveBuddy {
            name: name.into(),
            to_group: group.into(),
        });
        self
    }
    /// Creates a group.
    pub fn add_group(&mut self, name: impl Into<String>) -> &mut Self {
        self.edits.push(BuddyEdit::AddGroup { name: name.into() });
        self
    }
    /// Deletes a group and its buddies.
    pub fn remove_group(&mut self, name: impl Into<String>) -> &mut Self {
        self.edits.push(BuddyEdit::RemoveGroup { name: name.into() });
        self
    }
    /// Sets or clears an alias.
    pub fn set_alias(&mut self, name: impl Into<String>, alias: Option<String>) -> &mut Self {
        self.edits.push(BuddyEdit::SetAlias {
            name: name.into(),
            alias,
        });
        self
    }
    /// Blocks `name`.
    pub fn deny(&mut self, name: impl Into<String>) -> &mut Self {
        self.edits.push(BuddyEdit::AddDeny { name: name.into() });
        self
    }
    /// Unblocks `name`.
    pub fn undeny(&mut self, name: impl Into<String>) -> &mut Self {
        self.edits.push(BuddyEdit::RemoveDeny { name: name.into() });
        self
    }
    /// Adds `name` to the permit list.
    pub fn permit(&mut self, name: impl Into<String>) -> &mut Self {
        self.edits.push(BuddyEdit::AddPermit { name: name.into() });
        self
    }
    /// Removes `name` from the permit list.
    pub fn unpermit(&mut self, name: impl Into<String>) -> &mut Self {
        self.edits.push(BuddyEdit::RemovePermit { name: name.into() });
        self
    }
    /// Sets the privacy mode.
    pub fn set_privacy(&mut self, mode: PdMode) -> &mut Self {
        self.edits.push(BuddyEdit::SetPrivacy(mode));
        self
    }
}

/// A command for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Send an instant message.
    SendIm(ImRequest),
    /// Go away with this message (LOCATE 0x0002/0x0004 TLV 0x0004).
    SetAway {
        /// The away message (non-empty).
        message: String,
    },
    /// Come back: clear the away message and, if invisible, become visible.
    SetAvailable,
    /// Become invisible (OSERVICE 0x0001/0x001E status 0x0100).
    SetInvisible,
    /// Report idle time (0x0001/0x0011); 0 means active again.
    SetIdle {
        /// Seconds idle.
        seconds: u32,
    },
    /// Set the profile (LOCATE TLVs 0x0001/0x0002).
    SetProfile {
        /// The profile text (HTML allowed).
        profile: String,
    },
    /// Ask for a user's profile and away message (0x0002/0x0005).
    GetUserInfo {
        /// Whose.
        screen_name: String,
    },
    /// Edit the server-stored buddy list as one transaction.
    EditBuddies {
        /// Names the transaction in the resulting event.
        tx: TxId,
        /// The edits.
        edits: Vec<BuddyEdit>,
    },
    /// Join (creating if needed) a chat room by name.
    JoinChat {
        /// The room name.
        room: String,
        /// The exchange (4 = user-created rooms).
        exchange: u16,
    },
    /// Join a room known by its full identity (e.g. from an invitation).
    JoinChatRoom(ChatRoom),
    /// Leave a chat room.
    LeaveChat {
        /// The room name.
        room: String,
    },
    /// Say something in a chat room.
    ChatSend {
        /// The room name.
        room: String,
        /// The text.
        text: String,
    },
    /// Invite someone to a chat room you are in (ICBM channel 2).
    InviteToChat {
        /// The room name.
        room: String,
        /// Whom to invite.
        screen_name: String,
        /// The invitation text.
        message: String,
    },
    /// Send a typing notification (0x0004/0x0014).
    Typing {
        /// To whom.
        to: String,
        /// What happened.
        event: TypingEvent,
    },
    /// Warn ("evil") a user (0x0004/0x0008).
    Warn {
        /// Whom.
        screen_name: String,
        /// Warn anonymously.
        anonymous: bool,
    },
    /// Sign off: a channel-4 goodbye on every connection, then close.
    SignOff {
        /// First send everything the rate limiter is holding back.
        drain: bool,
    },
}
