//! The user-info block ("TLVUserInfo", §3): who a user is and how they appear.

use crate::error::{DecodeError, EncodeError};
use crate::list::ListItem;
use crate::reader::{Put, Reader};
use crate::tlv::{TlvBlock, TlvBlockBuilder};
use crate::types::{Capability, ScreenName};

/// User-info TLV tags.
pub mod tag {
    /// u16 user class flags ([`super::class`]).
    pub const CLASS: u16 = 0x0001;
    /// u32 account creation time.
    pub const CREATED: u16 = 0x0002;
    /// u32 sign-on time.
    pub const SIGNON_TIME: u16 = 0x0003;
    /// u16 idle minutes.
    pub const IDLE_MINUTES: u16 = 0x0004;
    /// u32 member-since time.
    pub const MEMBER_SINCE: u16 = 0x0005;
    /// u32 status: high word flags, low word ICQ status / invisible.
    pub const STATUS: u16 = 0x0006;
    /// u32 ICQ external IP.
    pub const EXTERNAL_IP: u16 = 0x000A;
    /// ICQ direct-connection info.
    pub const DC_INFO: u16 = 0x000C;
    /// Capabilities as concatenated 16-byte UUIDs.
    pub const CAPABILITIES: u16 = 0x000D;
    /// u32 session length in seconds (AIM).
    pub const SESSION_LENGTH: u16 = 0x000F;
    /// u8 instance number (multiple sessions).
    pub const INSTANCE: u16 = 0x0014;
    /// u16 list of short capabilities.
    pub const SHORT_CAPABILITIES: u16 = 0x0019;
    /// BART asset list (icon hash, status text).
    pub const BART_INFO: u16 = 0x001D;
}

/// User class flags (user-info TLV 0x0001).
pub mod class {
    /// Unconfirmed account.
    pub const UNCONFIRMED: u16 = 0x0001;
    /// Administrator.
    pub const ADMINISTRATOR: u16 = 0x0002;
    /// AOL member.
    pub const AOL: u16 = 0x0004;
    /// Commercial account.
    pub const COMMERCIAL: u16 = 0x0008;
    /// AIM (free) user.
    pub const AIM: u16 = 0x0010;
    /// Away / unavailable.
    pub const AWAY: u16 = 0x0020;
    /// ICQ user.
    pub const ICQ: u16 = 0x0040;
    /// Wireless / mobile.
    pub const WIRELESS: u16 = 0x0080;
    /// Bot account.
    pub const BOT: u16 = 0x0400;
}

/// Status values (user-info TLV 0x0006, low word).
pub mod status {
    /// Online.
    pub const ONLINE: u16 = 0x0000;
    /// Away.
    pub const AWAY: u16 = 0x0001;
    /// Do not disturb.
    pub const DND: u16 = 0x0002;
    /// Not available.
    pub const NA: u16 = 0x0004;
    /// Occupied.
    pub const OCCUPIED: u16 = 0x0010;
    /// Free for chat.
    pub const FREE_FOR_CHAT: u16 = 0x0020;
    /// Invisible.
    pub const INVISIBLE: u16 = 0x0100;
}

/// A user-info block: screen name, warning level, and a counted TLV block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo<'a> {
    /// The user's screen name (as formatted by its owner).
    pub screen_name: ScreenName<'a>,
    /// Warning ("evil") level in tenths of a percent, 0..=1000.
    pub warning: u16,
    /// The user's attributes ([`tag`]); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> UserInfo<'a> {
    /// A block with just a name and warning level.
    pub fn new(screen_name: ScreenName<'a>, warning: u16, tlvs: TlvBlock<'a>) -> Self {
        Self {
            screen_name,
            warning,
            tlvs,
        }
    }

    /// Decodes one block, consuming exactly `count` TLVs.
    #[inline(always)]
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let screen_name = ScreenName::decode(r)?;
        let warning = r.u16("warning level")?;
        let (tlvs, count) = TlvBlock::scan_counted(r)?;
        Ok(Self {
            screen_name,
            warning,
            tlvs: TlvBlock::borrowed(tlvs, count),
        })
    }

    /// Appends the block.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.screen_name.encode(out);
        out.put_u16(self.warning);
        self.tlvs.encode_counted(out);
    }

    /// Class flags ([`class`]), 0 when absent.
    pub fn class(&self) -> u16 {
        self.tlvs.get_u16(tag::CLASS).unwrap_or(0)
    }
    /// True when the away class flag is set.
    pub fn is_away(&self) -> bool {
        self.class() & class::AWAY != 0
    }
    /// Sign-on time (Unix seconds).
    pub fn signon_time(&self) -> Option<u32> {
        self.tlvs.get_u32(tag::SIGNON_TIME)
    }
    /// Idle minutes.
    pub fn idle_minutes(&self) -> Option<u16> {
        self.tlvs.get_u16(tag::IDLE_MINUTES)
    }
    /// Status word (u32, low half is the ICQ status).
    pub fn status(&self) -> Option<u32> {
        self.tlvs.get_u32(tag::STATUS)
    }
    /// Full-UUID capabilities plus expanded short capabilities.
    pub fn capabilities(&self) -> Vec<Capability> {
        let mut caps: Vec<Capability> = self
            .tlvs
            .get(tag::CAPABILITIES)
            .map(|b| Capability::iter_list(b).collect())
            .unwrap_or_default();
        if let Some(short) = self.tlvs.get(tag::SHORT_CAPABILITIES) {
            caps.extend(
                short
                    .chunks_exact(2)
                    .map(|c| Capability::from_short(u16::from_be_bytes([c[0], c[1]]))),
            );
        }
        caps
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> UserInfo<'static> {
        UserInfo {
            screen_name: self.screen_name.into_owned(),
            warning: self.warning,
            tlvs: self.tlvs.into_owned(),
        }
    }
}

/// Builds the TLVs of a [`UserInfo`] from typed values.
#[derive(Debug, Default, Clone)]
pub struct UserInfoTlvs {
    /// Class flags.
    pub class: Option<u16>,
    /// Sign-on time.
    pub signon_time: Option<u32>,
    /// Idle minutes (omitted when 0 / None).
    pub idle_minutes: Option<u16>,
    /// Member-since time.
    pub member_since: Option<u32>,
    /// Status word.
    pub status: Option<u32>,
    /// Capabilities (written as TLV 0x000D).
    pub capabilities: Vec<Capability>,
    /// Online time in seconds.
    pub session_length: Option<u32>,
}

impl UserInfoTlvs {
    /// Encodes the TLVs in the order AOL servers used.
    pub fn build(&self) -> Result<TlvBlock<'static>, EncodeError> {
        let mut b: TlvBlockBuilder = TlvBlock::builder();
        if let Some(v) = self.class {
            b = b.u16(tag::CLASS, v);
        }
        if let Some(v) = self.member_since {
            b = b.u32(tag::MEMBER_SINCE, v);
        }
        if let Some(v) = self.signon_time {
            b = b.u32(tag::SIGNON_TIME, v);
        }
        if let Some(v) = self.idle_minutes.filter(|m| *m > 0) {
            b = b.u16(tag::IDLE_MINUTES, v);
        }
        if let Some(v) = self.status {
            b = b.u32(tag::STATUS, v);
        }
        if !self.capabilities.is_empty() {
            let mut caps = Vec::with_capacity(self.capabilities.len() * 16);
            for c in &self.capabilities {
                c.encode(&mut caps);
            }
            b = b.bytes(tag::CAPABILITIES, &caps);
        }
        if let Some(v) = self.session_length {
            b = b.u32(tag::SESSION_LENGTH, v);
        }
        b.build()
    }
}

impl ListItem for UserInfo<'static> {
    type Value<'b> = UserInfo<'b>;
    fn decode<'b>(r: &mut Reader<'b>) -> Result<UserInfo<'b>, DecodeError> {
        UserInfo::decode(r)
    }
    fn encode(value: &UserInfo<'_>, out: &mut Vec<u8>) {
        value.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // "bob", warning 0, 2 TLVs: class AIM|AWAY, idle 5 minutes
        let hex = [
            0x03, b'b', b'o', b'b', 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x02, 0x00, 0x30, 0x00, 0x04, 0x00, 0x02,
            0x00, 0x05,
        ];
        let ui = UserInfo::decode(&mut Reader::new(&hex)).unwrap();
        assert_eq!(ui.screen_name.as_bytes(), b"bob");
        assert!(ui.is_away());
        assert_eq!(ui.idle_minutes(), Some(5));
        let mut out = Vec::new();
        ui.encode(&mut out);
        assert_eq!(out, hex);
        let built = UserInfoTlvs {
            class: Some(0x30),
            idle_minutes: Some(5),
            ..Default::default()
        }
        .build()
        .unwrap();
        assert_eq!(built, ui.tlvs);
    }
}
