//! Family 0x0004 ICBM: inter-client basic messages, i.e. instant messages (§8.4).
//!
//! ```text
//! C→S 04/04 params query          → S→C 04/05 params reply
//! C→S 04/02 set params
//! C→S 04/06 send IM (cookie, channel, recipient, TLVs)
//!       S→C 04/0C host ack (if TLV 0x0003 asked for it) | 04/01 error
//!       S→C 04/07 to the recipient (cookie, channel, sender user info, TLVs)
//! C↔S 04/14 typing notification, 04/0B client error / auto-response (relayed)
//! S→C 04/0A missed calls
//! C→S 04/08 warn → S→C 04/09 warn reply
//! C→S 04/10 offline messages request → S→C 04/07 … 04/17 done
//! ```
//!
//! Channels: 1 = plain IM ([`Channel1Message`] in TLV 0x0002), 2 = rendezvous
//! ([`Rendezvous`] in TLV 0x0005: chat invitations, file transfer, direct IM),
//! 4 = ICQ old-style messages (kept as raw TLVs).
//!
//! The message TLVs of 04/06 and 04/07 stay in their encoded [`TlvBlock`], so
//! unknown tags round-trip and a server can relay them as they came.

mod channel1;
mod rendezvous;

use std::borrow::Cow;

pub use channel1::{
    AIM_FEATURES, Channel1Message, Charset, FRAGMENT_VERSION, Fragment, FragmentId, FragmentIter, ICQ_FEATURES,
    TextPart, decode_text, encode_text,
};
pub use rendezvous::{CancelReason, ChatInvitation, Rendezvous, RendezvousType, decode_named_charset, rdv_tag};

use crate::code_enum;
use crate::error::{DecodeError, EncodeError};
use crate::list::{List, ListItem};
use crate::reader::{Put, Reader};
use crate::tlv::TlvBlock;
use crate::types::{IcbmCookie, RoomId, ScreenName};
use crate::userinfo::UserInfo;

/// The family id.
pub const FAMILY: u16 = 0x0004;

/// Subtypes.
pub mod subtype {
    /// C→S set ICBM parameters.
    pub const SET_PARAMS: u16 = 0x0002;
    /// C→S query ICBM parameters.
    pub const PARAMS_QUERY: u16 = 0x0004;
    /// S→C ICBM parameters.
    pub const PARAMS_REPLY: u16 = 0x0005;
    /// C→S send a message ("channel message to host").
    pub const SEND_IM: u16 = 0x0006;
    /// S→C incoming message ("channel message to client").
    pub const INCOMING_IM: u16 = 0x0007;
    /// C→S warn ("evil") a user.
    pub const WARN_REQUEST: u16 = 0x0008;
    /// S→C result of a warning.
    pub const WARN_REPLY: u16 = 0x0009;
    /// S→C messages that could not be delivered to you.
    pub const MISSED_CALLS: u16 = 0x000A;
    /// C↔S client error / auto-response, relayed between clients.
    pub const CLIENT_ERROR: u16 = 0x000B;
    /// S→C the server accepted a message that asked for an ack.
    pub const HOST_ACK: u16 = 0x000C;
    /// C→S send me my stored offline messages.
    pub const OFFLINE_REQUEST: u16 = 0x0010;
    /// C↔S typing notification ("client event", relayed).
    pub const TYPING: u16 = 0x0014;
    /// S→C every offline message has been delivered.
    pub const OFFLINE_DONE: u16 = 0x0017;
}

/// Message TLV tags of 04/06 and 04/07.
pub mod tag {
    /// Channel 1: message data ([`super::Channel1Message`]).
    pub const MESSAGE_DATA: u16 = 0x0002;
    /// Empty: the sender asks the server for a host ack (04/0C).
    pub const REQUEST_HOST_ACK: u16 = 0x0003;
    /// Empty: this message is an auto-response (away message).
    pub const AUTO_RESPONSE: u16 = 0x0004;
    /// Channel 2: rendezvous block ([`super::Rendezvous`]); channel 4: ICQ data.
    pub const RENDEZVOUS: u16 = 0x0005;
    /// Empty: store if the recipient is offline (C→S) / was stored offline (S→C).
    pub const STORE_OFFLINE: u16 = 0x0006;
    /// Buddy icon info: u32 length, u16 1, u16 checksum, u32 timestamp.
    pub const ICON_INFO: u16 = 0x0008;
    /// Empty: the sender asks for your buddy icon.
    pub const REQUEST_BUDDY_ICON: u16 = 0x0009;
    /// Empty: the sender wants typing events ("want events").
    pub const WANT_EVENTS: u16 = 0x000B;
    /// BART (buddy art) info, AIM 6.
    pub const BART: u16 = 0x000D;
    /// u32 send time (Unix seconds) of an offline message.
    pub const SEND_TIME: u16 = 0x0016;
}

/// ICBM parameter flag bits (04/02 and 04/05).
pub mod param_flags {
    /// Channel messages allowed.
    pub const CHANNEL_MSGS_ALLOWED: u32 = 0x0000_0001;
    /// Missed calls (04/0A) enabled.
    pub const MISSED_CALLS_ENABLED: u32 = 0x0000_0002;
    /// Events (typing notifications) allowed.
    pub const EVENTS_ALLOWED: u32 = 0x0000_0008;
    /// SMS supported.
    pub const SMS_SUPPORTED: u32 = 0x0000_0010;
    /// Offline messages allowed (the client then fetches them with 04/10).
    pub const OFFLINE_MSGS_ALLOWED: u32 = 0x0000_0100;
    /// Use HTML for ICQ-to-ICQ messages.
    pub const USE_HTML_FOR_ICQ: u32 = 0x0000_0400;
}

code_enum! {
    /// The ICBM channel of a message.
    pub enum IcbmChannel: u16 {
        /// 1 plain instant message.
        Im = 0x0001,
        /// 2 rendezvous (chat invitations, file transfer, direct IM, icons).
        Rendezvous = 0x0002,
        /// 3 "MIME" / chat-style.
        Mime = 0x0003,
        /// 4 ICQ old-style and system messages.
        Icq = 0x0004,
        /// 5 co-browser.
        CoBrowser = 0x0005,
    }
}

code_enum! {
    /// A typing event (04/14).
    pub enum TypingEvent: u16 {
        /// 0 typing finished / text cleared.
        Finished = 0x0000,
        /// 1 text typed, now paused.
        Typed = 0x0001,
        /// 2 typing begun.
        Begun = 0x0002,
        /// 0x0F IM window closed.
        WindowClosed = 0x000F,
    }
}

code_enum! {
    /// Why messages were missed (04/0A).
    pub enum MissedReason: u16 {
        /// 0 invalid message.
        Invalid = 0x0000,
        /// 1 message too large.
        TooLarge = 0x0001,
        /// 2 sender exceeded its rate.
        RateExceeded = 0x0002,
        /// 3 sender's warning level too high.
        SenderTooEvil = 0x0003,
        /// 4 your warning level too high.
        ReceiverTooEvil = 0x0004,
    }
}

code_enum! {
    /// The reason code of a client error (04/0B).
    pub enum ClientErrorReason: u16 {
        /// 1 channel not supported.
        UnsupportedChannel = 0x0001,
        /// 2 busted payload.
        BustedPayload = 0x0002,
        /// 3 channel-specific: declined rendezvous, ICQ auto-message replies.
        ChannelSpecific = 0x0003,
    }
}

code_enum! {
    /// Whether a warning is anonymous (04/08).
    pub enum WarnMode: u16 {
        /// 0 the victim learns who warned.
        Normal = 0x0000,
        /// 1 anonymous (counts for less).
        Anonymous = 0x0001,
    }
}

code_enum! {
    /// ICBM subcodes in TLV 0x0008 of the generic error 04/01 (§8.4.3).
    pub enum IcbmErrorSubcode: u16 {
        /// 1 the recipient has IMs turned off.
        RemoteImOff = 0x0001,
        /// 2 the recipient is restricted by parental controls.
        RemoteRestrictedByParentalControls = 0x0002,
        /// 3 SMS: legal text required.
        SmsLegalRequired = 0x0003,
        /// 4 SMS without disclaimer.
        SmsWithoutDisclaimer = 0x0004,
        /// 5 SMS country not allowed.
        SmsCountryNotAllowed = 0x0005,
        /// 8 SMS unknown country.
        SmsUnknownCountry = 0x0008,
        /// 9 a bot cannot start a conversation.
        BotCannotInitiate = 0x0009,
        /// 10 the bot may not IM this user.
        BotNotAllowed = 0x000A,
        /// 11 bot usage limit.
        BotUsageLimit = 0x000B,
        /// 12 bot daily limit.
        BotDailyLimit = 0x000C,
        /// 13 bot monthly limit.
        BotMonthlyLimit = 0x000D,
        /// 14 the recipient does not accept offline IMs.
        OfflineImsNotAccepted = 0x000E,
        /// 15 the recipient's offline store is full.
        OfflineStoreFull = 0x000F,
    }
}

/// ICBM parameters shared by 04/02 and 04/05 (all but the first field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IcbmParams {
    /// Flag bits ([`param_flags`]).
    pub flags: u32,
    /// Largest message (04/05: the server accepts; 04/02: the client accepts).
    pub max_message_len: u16,
    /// Highest sender warning level accepted, tenths of a percent (999 = 99.9 %).
    pub max_sender_warning: u16,
    /// Highest receiver warning level, tenths of a percent.
    pub max_receiver_warning: u16,
    /// Minimum interval between messages, milliseconds.
    pub min_interval_ms: u32,
}

impl IcbmParams {
    /// What libpurple sets: flags 0x051B, 8000 bytes, 99.9 %/99.9 %, no interval.
    pub const LIBPURPLE: IcbmParams = IcbmParams {
        flags: param_flags::CHANNEL_MSGS_ALLOWED
            | param_flags::MISSED_CALLS_ENABLED
            | param_flags::EVENTS_ALLOWED
            | param_flags::SMS_SUPPORTED
            | param_flags::OFFLINE_MSGS_ALLOWED
            | param_flags::USE_HTML_FOR_ICQ,
        max_message_len: 8000,
        max_sender_warning: 999,
        max_receiver_warning: 999,
        min_interval_ms: 0,
    };
    /// What Open OSCAR replies (with 100 slots): flags 3, 512 bytes, 99.9 %/99.9 %, no interval.
    pub const SERVER_DEFAULT: IcbmParams = IcbmParams {
        flags: param_flags::CHANNEL_MSGS_ALLOWED | param_flags::MISSED_CALLS_ENABLED,
        max_message_len: 512,
        max_sender_warning: 999,
        max_receiver_warning: 999,
        min_interval_ms: 0,
    };

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            flags: r.u32("ICBM params flags")?,
            max_message_len: r.u16("ICBM max message length")?,
            max_sender_warning: r.u16("ICBM max sender warning")?,
            max_receiver_warning: r.u16("ICBM max receiver warning")?,
            min_interval_ms: r.u32("ICBM min interval")?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.flags);
        out.put_u16(self.max_message_len);
        out.put_u16(self.max_sender_warning);
        out.put_u16(self.max_receiver_warning);
        out.put_u32(self.min_interval_ms);
    }
}

/// Options of an outgoing channel-1 IM ([`SendIm::channel1`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SendImFlags {
    /// Ask the server for a host ack (TLV 0x0003 → 04/0C).
    pub request_ack: bool,
    /// Mark the message as an auto-response / away message (TLV 0x0004).
    pub auto_response: bool,
    /// Store the message if the recipient is offline (TLV 0x0006).
    pub store_offline: bool,
    /// Tell the recipient we send typing events (TLV 0x000B).
    pub want_typing_events: bool,
}

/// Decodes the message TLVs (a rest block) and checks the channel-specific TLV:
/// channel 1 needs valid message data in TLV 0x0002, channel 2 a valid
/// rendezvous block in TLV 0x0005; TLV 0x0016, when present, is a `u32`.
///
/// The TLVs checked (the first of each tag) are found in the pass that
/// validates the block, not looked up again afterwards.
///
/// Returns the block as bytes and TLV count, for the caller to build the block
/// in place ([`TlvBlock::scan_counted`]).
#[inline]
fn decode_message_tlvs<'a>(channel: IcbmChannel, r: &mut Reader<'a>) -> Result<(&'a [u8], u16), DecodeError> {
    let (tlvs, count, [data, rendezvous, send_time]) =
        TlvBlock::scan_rest_finding(r, [tag::MESSAGE_DATA, tag::RENDEZVOUS, tag::SEND_TIME])?;
    match channel {
        IcbmChannel::Im => {
            Channel1Message::decode(data.ok_or(DecodeError::MissingTlv {
                what: "channel-1 ICBM",
                tag: tag::MESSAGE_DATA,
            })?)?;
        }
        IcbmChannel::Rendezvous => {
            Rendezvous::decode(rendezvous.ok_or(DecodeError::MissingTlv {
                what: "channel-2 ICBM",
                tag: tag::RENDEZVOUS,
            })?)?;
        }
        _ => {}
    }
    match send_time {
        Some(t) if t.len() != 4 => Err(DecodeError::BadLength {
            what: "ICBM send time",
            len: t.len(),
        }),
        _ => Ok((tlvs, count)),
    }
}

/// Typed readers shared by [`SendIm`] and [`IncomingIm`].
macro_rules! message_accessors {
    () => {
        /// True when TLV 0x0004 marks an auto-response (away message).
        pub fn is_auto_response(&self) -> bool {
            self.tlvs.contains(tag::AUTO_RESPONSE)
        }
        /// True when TLV 0x0003 asks for a host ack.
        pub fn wants_ack(&self) -> bool {
            self.tlvs.contains(tag::REQUEST_HOST_ACK)
        }
        /// True when TLV 0x0006 is present: "store if offline" from a client,
        /// "this was stored offline" from the server.
        pub fn store_offline(&self) -> bool {
            self.tlvs.contains(tag::STORE_OFFLINE)
        }
        /// True when TLV 0x000B says the sender wants typing events.
        pub fn wants_events(&self) -> bool {
            self.tlvs.contains(tag::WANT_EVENTS)
        }
        /// True when TLV 0x0009 asks for your buddy icon.
        pub fn requests_buddy_icon(&self) -> bool {
            self.tlvs.contains(tag::REQUEST_BUDDY_ICON)
        }
        /// When an offline message was sent (TLV 0x0016, Unix seconds).
        pub fn offline_send_time(&self) -> Option<u32> {
            self.tlvs.get_u32(tag::SEND_TIME)
        }
        /// The message data (TLV 0x0002) of a channel-1 message (`None` on other channels or if invalid).
        pub fn message_data(&self) -> Option<Channel1Message<'_>> {
            if self.channel != IcbmChannel::Im {
                return None;
            }
            Channel1Message::decode(self.tlvs.get(tag::MESSAGE_DATA)?).ok()
        }
        /// The text of a channel-1 message, decoded ([`Channel1Message::text`]).
        pub fn text(&self) -> Option<String> {
            self.message_data()?.text()
        }
        /// The rendezvous block of a channel-2 message (`None` on other channels or if invalid).
        pub fn rendezvous(&self) -> Option<Rendezvous<'_>> {
            if self.channel != IcbmChannel::Rendezvous {
                return None;
            }
            Rendezvous::decode(self.tlvs.get(tag::RENDEZVOUS)?).ok()
        }
    };
}

/// 04/06: a client sends a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendIm<'a> {
    /// Chosen by the sender; correlates acks, errors and rendezvous.
    pub cookie: IcbmCookie,
    /// The channel.
    pub channel: IcbmChannel,
    /// The recipient.
    pub screen_name: ScreenName<'a>,
    /// Message TLVs ([`tag`]); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> SendIm<'a> {
    /// A message from its parts (no validation; prefer the typed constructors).
    pub fn new(cookie: IcbmCookie, channel: IcbmChannel, screen_name: ScreenName<'a>, tlvs: TlvBlock<'a>) -> Self {
        Self {
            cookie,
            channel,
            screen_name,
            tlvs,
        }
    }

    /// A channel-1 IM of `text` (plain or AIM HTML) to `to`, encoded with
    /// [`Channel1Message::from_text`]. TLVs: 0x0002, then 0x0003, 0x0004,
    /// 0x0006, 0x000B as `flags` ask.
    pub fn channel1(
        cookie: IcbmCookie,
        to: ScreenName<'a>,
        text: &str,
        flags: SendImFlags,
    ) -> Result<SendIm<'a>, EncodeError> {
        Self::channel1_with(cookie, to, &Channel1Message::from_text(text)?, flags)
    }

    /// A channel-1 IM with prepared message data (custom features, charsets or parts).
    pub fn channel1_with(
        cookie: IcbmCookie,
        to: ScreenName<'a>,
        message: &Channel1Message<'_>,
        flags: SendImFlags,
    ) -> Result<SendIm<'a>, EncodeError> {
        let tlvs = TlvBlock::builder()
            .bytes(tag::MESSAGE_DATA, message.as_bytes())
            .flag(tag::REQUEST_HOST_ACK, flags.request_ack)
            .flag(tag::AUTO_RESPONSE, flags.auto_response)
            .flag(tag::STORE_OFFLINE, flags.store_offline)
            .flag(tag::WANT_EVENTS, flags.want_typing_events)
            .build()?;
        Ok(SendIm::new(cookie, IcbmChannel::Im, to, tlvs))
    }

    /// A channel-2 message carrying `rendezvous` (its cookie becomes the ICBM
    /// cookie). With `request_ack` an empty TLV 0x0003 precedes TLV 0x0005, as
    /// libpurple writes file-transfer and direct-IM proposals.
    pub fn channel2(
        to: ScreenName<'a>,
        rendezvous: &Rendezvous<'_>,
        request_ack: bool,
    ) -> Result<SendIm<'a>, EncodeError> {
        let tlvs = TlvBlock::builder()
            .flag(tag::REQUEST_HOST_ACK, request_ack)
            .bytes(tag::RENDEZVOUS, &rendezvous.to_bytes())
            .build()?;
        Ok(SendIm::new(rendezvous.cookie, IcbmChannel::Rendezvous, to, tlvs))
    }

    /// A chat invitation to `room` ([`Rendezvous::new_chat_invitation`]), no ack.
    pub fn chat_invite(
        cookie: IcbmCookie,
        to: ScreenName<'a>,
        room: &RoomId<'_>,
        message: &str,
    ) -> Result<SendIm<'a>, EncodeError> {
        Self::channel2(to, &Rendezvous::new_chat_invitation(cookie, room, message)?, false)
    }

    message_accessors!();

    /// The TLVs a server relays in 04/07 (§8.4.2): the original TLVs in order
    /// minus 0x0003 (ack request) and 0x0006 (store offline), plus an empty
    /// 0x000B at the end when `want_events` and the sender did not send one.
    pub fn relay_tlvs(&self, want_events: bool) -> Result<TlvBlock<'static>, EncodeError> {
        let mut b = TlvBlock::builder();
        for t in self
            .tlvs
            .iter()
            .filter(|t| t.tag != tag::REQUEST_HOST_ACK && t.tag != tag::STORE_OFFLINE)
        {
            b = b.bytes(t.tag, t.value);
        }
        b.flag(tag::WANT_EVENTS, want_events && !self.wants_events()).build()
    }

    /// The whole 04/07 SNAC relaying this message (header with `request_id`, then the body
    /// of [`IncomingIm::relay`]), written straight from the received bytes for a server's
    /// message path: `sender` is an encoded [`UserInfo`] block ([`UserInfo::encode`]). No
    /// intermediate TLV block is built, and the buffer's capacity is exactly its length (so
    /// that turning it into shared bytes needs no second allocation).
    pub fn encode_relay_snac(&self, request_id: u32, sender: &[u8], want_events: bool) -> Vec<u8> {
        let kept = || {
            self.tlvs
                .iter()
                .filter(|t| t.tag != tag::REQUEST_HOST_ACK && t.tag != tag::STORE_OFFLINE)
        };
        let add_events = want_events && !self.wants_events();
        let len = crate::snac::SnacHeader::LEN
            + 8
            + 2
            + sender.len()
            + kept().map(|t| 4 + t.value.len()).sum::<usize>()
            + if add_events { 4 } else { 0 };
        let mut out = Vec::with_capacity(len);
        crate::snac::SnacHeader {
            family: FAMILY,
            subtype: subtype::INCOMING_IM,
            flags: 0,
            request_id,
        }
        .encode(&mut out);
        self.cookie.encode(&mut out);
        out.put_u16(self.channel.value());
        out.put_slice(sender);
        for t in kept() {
            // Values of a decoded (or built) block fit their u16 length.
            out.put_u16(t.tag);
            out.put_u16(t.value.len() as u16);
            out.put_slice(t.value);
        }
        if add_events {
            out.put_u16(tag::WANT_EVENTS);
            out.put_u16(0);
        }
        out
    }

    /// The TLVs a server delivers for a stored offline message (§8.4.7): the
    /// original TLVs minus 0x0003 and any 0x0016, with 0x0006 kept (appended
    /// if missing) and 0x0016 `send_time` appended.
    pub fn offline_tlvs(&self, send_time: u32) -> Result<TlvBlock<'static>, EncodeError> {
        let mut b = TlvBlock::builder();
        for t in self
            .tlvs
            .iter()
            .filter(|t| t.tag != tag::REQUEST_HOST_ACK && t.tag != tag::SEND_TIME)
        {
            b = b.bytes(t.tag, t.value);
        }
        b.flag(tag::STORE_OFFLINE, !self.store_offline())
            .u32(tag::SEND_TIME, send_time)
            .build()
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> SendIm<'static> {
        SendIm {
            cookie: self.cookie,
            channel: self.channel,
            screen_name: self.screen_name.into_owned(),
            tlvs: self.tlvs.into_owned(),
        }
    }

    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let cookie = IcbmCookie::decode(r)?;
        let channel = IcbmChannel::from(r.u16("ICBM channel")?);
        let screen_name = ScreenName::decode(r)?;
        let (tlvs, count) = decode_message_tlvs(channel, r)?;
        Ok(Self {
            cookie,
            channel,
            screen_name,
            tlvs: TlvBlock::borrowed(tlvs, count),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.cookie.encode(out);
        out.put_u16(self.channel.value());
        self.screen_name.encode(out);
        self.tlvs.encode_rest(out);
    }
}

/// 04/07: the server delivers a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingIm<'a> {
    /// The sender's cookie.
    pub cookie: IcbmCookie,
    /// The channel.
    pub channel: IcbmChannel,
    /// Who sent it.
    pub sender: UserInfo<'a>,
    /// Message TLVs ([`tag`]); unknown tags are kept.
    pub tlvs: TlvBlock<'a>,
}

impl<'a> IncomingIm<'a> {
    /// A message from its parts.
    pub fn new(cookie: IcbmCookie, channel: IcbmChannel, sender: UserInfo<'a>, tlvs: TlvBlock<'a>) -> Self {
        Self {
            cookie,
            channel,
            sender,
            tlvs,
        }
    }

    /// The relay of `sent` from `sender`: same cookie and channel, TLVs from
    /// [`SendIm::relay_tlvs`].
    pub fn relay(sent: &SendIm<'_>, sender: UserInfo<'a>, want_events: bool) -> Result<IncomingIm<'a>, EncodeError> {
        Ok(IncomingIm::new(
            sent.cookie,
            sent.channel,
            sender,
            sent.relay_tlvs(want_events)?,
        ))
    }

    /// The delivery of a stored offline message: TLVs from [`SendIm::offline_tlvs`].
    pub fn offline(sent: &SendIm<'_>, sender: UserInfo<'a>, send_time: u32) -> Result<IncomingIm<'a>, EncodeError> {
        Ok(IncomingIm::new(
            sent.cookie,
            sent.channel,
            sender,
            sent.offline_tlvs(send_time)?,
        ))
    }

    message_accessors!();

    /// The message data of a channel-1 message (same as [`Self::message_data`]).
    pub fn channel1(&self) -> Option<Channel1Message<'_>> {
        self.message_data()
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> IncomingIm<'static> {
        IncomingIm {
            cookie: self.cookie,
            channel: self.channel,
            sender: self.sender.into_owned(),
            tlvs: self.tlvs.into_owned(),
        }
    }

    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let cookie = IcbmCookie::decode(r)?;
        let channel = IcbmChannel::from(r.u16("ICBM channel")?);
        let sender = UserInfo::decode(r)?;
        let (tlvs, count) = decode_message_tlvs(channel, r)?;
        Ok(Self {
            cookie,
            channel,
            sender,
            tlvs: TlvBlock::borrowed(tlvs, count),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.cookie.encode(out);
        out.put_u16(self.channel.value());
        self.sender.encode(out);
        self.tlvs.encode_rest(out);
    }
}

/// One entry of 04/0A: messages from one sender that were dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedCall<'a> {
    /// The channel of the missed messages.
    pub channel: IcbmChannel,
    /// Who sent them.
    pub sender: UserInfo<'a>,
    /// How many were missed.
    pub count: u16,
    /// Why.
    pub reason: MissedReason,
}

impl ListItem for MissedCall<'static> {
    type Value<'b> = MissedCall<'b>;
    fn decode<'b>(r: &mut Reader<'b>) -> Result<MissedCall<'b>, DecodeError> {
        Ok(MissedCall {
            channel: IcbmChannel::from(r.u16("missed call channel")?),
            sender: UserInfo::decode(r)?,
            count: r.u16("missed call count")?,
            reason: MissedReason::from(r.u16("missed call reason")?),
        })
    }
    fn encode(value: &MissedCall<'_>, out: &mut Vec<u8>) {
        out.put_u16(value.channel.value());
        value.sender.encode(out);
        out.put_u16(value.count);
        out.put_u16(value.reason.value());
    }
}

/// 04/0B: a client error or auto-response, relayed from one client to another.
///
/// The server replaces `screen_name` (the recipient) with the sender's name
/// when relaying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError<'a> {
    /// The cookie of the message this answers.
    pub cookie: IcbmCookie,
    /// Its channel.
    pub channel: IcbmChannel,
    /// The other party.
    pub screen_name: ScreenName<'a>,
    /// The reason code.
    pub reason: ClientErrorReason,
    /// Reason-specific data to the end of the SNAC.
    pub data: Cow<'a, [u8]>,
}

impl<'a> ClientError<'a> {
    /// An error from its parts.
    pub fn new(
        cookie: IcbmCookie,
        channel: IcbmChannel,
        screen_name: ScreenName<'a>,
        reason: ClientErrorReason,
        data: impl Into<Cow<'a, [u8]>>,
    ) -> Self {
        Self {
            cookie,
            channel,
            screen_name,
            reason,
            data: data.into(),
        }
    }

    /// Declines a rendezvous as libpurple does (`aim_im_denytransfer`): channel
    /// 2, reason 3 (channel-specific), data `00 02` + `code` (0 not supported,
    /// 1 declined, 2 not accepting).
    pub fn decline_rendezvous(cookie: IcbmCookie, screen_name: ScreenName<'a>, code: u16) -> Self {
        let mut data = Vec::with_capacity(4);
        data.put_u16(2);
        data.put_u16(code);
        Self::new(
            cookie,
            IcbmChannel::Rendezvous,
            screen_name,
            ClientErrorReason::ChannelSpecific,
            data,
        )
    }

    /// The decline code of a [`Self::decline_rendezvous`]-shaped error.
    pub fn rendezvous_decline_code(&self) -> Option<u16> {
        if self.channel != IcbmChannel::Rendezvous || self.reason != ClientErrorReason::ChannelSpecific {
            return None;
        }
        match *self.data {
            [0x00, 0x02, hi, lo] => Some(u16::from_be_bytes([hi, lo])),
            _ => None,
        }
    }

    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: IcbmCookie::decode(r)?,
            channel: IcbmChannel::from(r.u16("ICBM channel")?),
            screen_name: ScreenName::decode(r)?,
            reason: ClientErrorReason::from(r.u16("client error reason")?),
            data: Cow::Borrowed(r.rest()),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.cookie.encode(out);
        out.put_u16(self.channel.value());
        self.screen_name.encode(out);
        out.put_u16(self.reason.value());
        out.put_slice(&self.data);
    }
}

/// 04/0C: the server accepted a message that asked for an ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAck<'a> {
    /// The message's cookie.
    pub cookie: IcbmCookie,
    /// Its channel.
    pub channel: IcbmChannel,
    /// Its recipient, as the sender wrote it.
    pub screen_name: ScreenName<'a>,
}

impl<'a> HostAck<'a> {
    /// An ack from its parts.
    pub fn new(cookie: IcbmCookie, channel: IcbmChannel, screen_name: ScreenName<'a>) -> Self {
        Self {
            cookie,
            channel,
            screen_name,
        }
    }

    /// The ack for `sent` (send it with the same request id).
    pub fn for_im<'s>(sent: &SendIm<'s>) -> HostAck<'s> {
        HostAck::new(sent.cookie, sent.channel, sent.screen_name.clone())
    }

    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: IcbmCookie::decode(r)?,
            channel: IcbmChannel::from(r.u16("ICBM channel")?),
            screen_name: ScreenName::decode(r)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.cookie.encode(out);
        out.put_u16(self.channel.value());
        self.screen_name.encode(out);
    }
}

/// 04/14: a typing notification ("mini typing notification", MTN).
///
/// From a client, `screen_name` is the recipient; the server rewrites it to
/// the sender's name before relaying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypingNotification<'a> {
    /// Cookie (zeros in practice).
    pub cookie: IcbmCookie,
    /// Channel (1).
    pub channel: IcbmChannel,
    /// The other party.
    pub screen_name: ScreenName<'a>,
    /// What happened.
    pub event: TypingEvent,
}

impl<'a> TypingNotification<'a> {
    /// A notification as clients send it: zero cookie, channel 1.
    pub fn new(screen_name: ScreenName<'a>, event: TypingEvent) -> Self {
        Self {
            cookie: IcbmCookie::default(),
            channel: IcbmChannel::Im,
            screen_name,
            event,
        }
    }

    /// The relayed copy: same cookie, channel and event, with `from` as the name.
    pub fn relayed<'b>(&self, from: ScreenName<'b>) -> TypingNotification<'b> {
        TypingNotification {
            cookie: self.cookie,
            channel: self.channel,
            screen_name: from,
            event: self.event,
        }
    }

    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            cookie: IcbmCookie::decode(r)?,
            channel: IcbmChannel::from(r.u16("ICBM channel")?),
            screen_name: ScreenName::decode(r)?,
            event: TypingEvent::from(r.u16("typing event")?),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.cookie.encode(out);
        out.put_u16(self.channel.value());
        self.screen_name.encode(out);
        out.put_u16(self.event.value());
    }
}

/// Messages of family 0x0004.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Icbm<'a> {
    /// 04/02: the client sets its parameters.
    SetParams {
        /// Channel the parameters apply to (0 = all; libpurple writes 0).
        channel: u16,
        /// The parameters.
        params: IcbmParams,
    },
    /// 04/04: the client asks for the parameters.
    ParamsQuery,
    /// 04/05: the server's parameters.
    ParamsReply {
        /// Maximum channels / slots (Open OSCAR: 100).
        max_slots: u16,
        /// The parameters.
        params: IcbmParams,
    },
    /// 04/06.
    SendIm(SendIm<'a>),
    /// 04/07.
    IncomingIm(IncomingIm<'a>),
    /// 04/08: warn a user.
    WarnRequest {
        /// Normal or anonymous.
        mode: WarnMode,
        /// Whom to warn.
        screen_name: ScreenName<'a>,
    },
    /// 04/09: the warning was applied.
    WarnReply {
        /// Warning added, tenths of a percent.
        delta: u16,
        /// The victim's new warning level, tenths of a percent.
        new_level: u16,
    },
    /// 04/0A: messages that could not be delivered to you.
    MissedCalls(List<'a, MissedCall<'static>>),
    /// 04/0B.
    ClientError(ClientError<'a>),
    /// 04/0C.
    HostAck(HostAck<'a>),
    /// 04/10: send me my offline messages.
    OfflineRequest,
    /// 04/14.
    Typing(TypingNotification<'a>),
    /// 04/17: all offline messages were delivered.
    OfflineDone,
}

impl<'a> Icbm<'a> {
    /// The subtype of this message.
    pub fn subtype(&self) -> u16 {
        match self {
            Icbm::SetParams { .. } => subtype::SET_PARAMS,
            Icbm::ParamsQuery => subtype::PARAMS_QUERY,
            Icbm::ParamsReply { .. } => subtype::PARAMS_REPLY,
            Icbm::SendIm(_) => subtype::SEND_IM,
            Icbm::IncomingIm(_) => subtype::INCOMING_IM,
            Icbm::WarnRequest { .. } => subtype::WARN_REQUEST,
            Icbm::WarnReply { .. } => subtype::WARN_REPLY,
            Icbm::MissedCalls(_) => subtype::MISSED_CALLS,
            Icbm::ClientError(_) => subtype::CLIENT_ERROR,
            Icbm::HostAck(_) => subtype::HOST_ACK,
            Icbm::OfflineRequest => subtype::OFFLINE_REQUEST,
            Icbm::Typing(_) => subtype::TYPING,
            Icbm::OfflineDone => subtype::OFFLINE_DONE,
        }
    }

    /// Decodes a body; `Ok(None)` for untyped subtypes.
    pub fn decode(subtype: u16, r: &mut Reader<'a>) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match subtype {
            subtype::SET_PARAMS => Icbm::SetParams {
                channel: r.u16("ICBM params channel")?,
                params: IcbmParams::decode(r)?,
            },
            subtype::PARAMS_QUERY => Icbm::ParamsQuery,
            subtype::PARAMS_REPLY => Icbm::ParamsReply {
                max_slots: r.u16("ICBM max slots")?,
                params: IcbmParams::decode(r)?,
            },
            subtype::SEND_IM => Icbm::SendIm(SendIm::decode(r)?),
            subtype::INCOMING_IM => Icbm::IncomingIm(IncomingIm::decode(r)?),
            subtype::WARN_REQUEST => Icbm::WarnRequest {
                mode: WarnMode::from(r.u16("warn mode")?),
                screen_name: ScreenName::decode(r)?,
            },
            subtype::WARN_REPLY => Icbm::WarnReply {
                delta: r.u16("warning delta")?,
                new_level: r.u16("warning level")?,
            },
            subtype::MISSED_CALLS => Icbm::MissedCalls(List::decode_rest(r)?),
            subtype::CLIENT_ERROR => Icbm::ClientError(ClientError::decode(r)?),
            subtype::HOST_ACK => Icbm::HostAck(HostAck::decode(r)?),
            subtype::OFFLINE_REQUEST => Icbm::OfflineRequest,
            subtype::TYPING => Icbm::Typing(TypingNotification::decode(r)?),
            subtype::OFFLINE_DONE => Icbm::OfflineDone,
            _ => return Ok(None),
        }))
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Icbm::SetParams { channel, params } => {
                out.put_u16(*channel);
                params.encode(out);
            }
            Icbm::ParamsReply { max_slots, params } => {
                out.put_u16(*max_slots);
                params.encode(out);
            }
            Icbm::ParamsQuery | Icbm::OfflineRequest | Icbm::OfflineDone => {}
            Icbm::SendIm(m) => m.encode(out),
            Icbm::IncomingIm(m) => m.encode(out),
            Icbm::WarnRequest { mode, screen_name } => {
                out.put_u16(mode.value());
                screen_name.encode(out);
            }
            Icbm::WarnReply { delta, new_level } => {
                out.put_u16(*delta);
                out.put_u16(*new_level);
            }
            Icbm::MissedCalls(list) => list.encode_rest(out),
            Icbm::ClientError(m) => m.encode(out),
            Icbm::HostAck(m) => m.encode(out),
            Icbm::Typing(m) => m.encode(out),
        }
    }
}

#[cfg(test)]
mod tests;
