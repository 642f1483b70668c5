//! Values built through the public constructors from `arbitrary` input must
//! encode to bytes that decode back to an equal value and re-encode to the
//! same bytes; SNACs also travel inside a FLAP frame.
#![no_main]

use arbitrary::Arbitrary;
use flapjack_wire::family::bucp::{
    Bucp, ChallengeRequest, ChallengeResponse, ClientInfo, LoginError, LoginRequest, LoginResponse,
};
use flapjack_wire::family::buddy::{self, Buddy};
use flapjack_wire::family::feedbag::{self, Feedbag, FeedbagItem, FeedbagStatus, ItemClass, ListStamp, PdMode};
use flapjack_wire::family::icbm::{
    ClientError, ClientErrorReason, HostAck, Icbm, IcbmChannel, IcbmParams, IncomingIm, SendIm, SendImFlags,
    TypingEvent, TypingNotification, WarnMode,
};
use flapjack_wire::family::oservice::{
    ClientReadyEntry, FamilyVersion, Motd, MotdType, Oservice, RateClass, RateClassExtra, RateLayout, RateParamsReply,
    SelfInfo, SnacType,
};
use flapjack_wire::family::pd::{self, Pd};
use flapjack_wire::flap::{Decoded, FlapMessage, FrameDecoder, Signoff, Signon};
use flapjack_wire::reader::Reader;
use flapjack_wire::snac::{Message, Snac, SnacError};
use flapjack_wire::tlv::TlvBlock;
use flapjack_wire::types::{Capability, IcbmCookie, ScreenName, Str16};
use flapjack_wire::userinfo::{UserInfo, UserInfoTlvs};
use flapjack_wire::{ErrorCode, Family};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct ArbTlv {
    tag: u16,
    value: Vec<u8>,
}

fn tlvs(items: &[ArbTlv]) -> Option<TlvBlock<'static>> {
    let mut b = TlvBlock::builder();
    for t in items {
        b = b.bytes(t.tag, &t.value);
    }
    b.build().ok()
}

#[derive(Arbitrary, Debug)]
struct Header {
    flags: u16,
    request_id: u32,
    extended: Option<Vec<ArbTlv>>,
}

#[derive(Arbitrary, Debug)]
struct ArbClient {
    id_string: String,
    client_id: u16,
    version: [u16; 4],
    distribution: u32,
    language: String,
    country: String,
    multi_conn: Option<u8>,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Tlvs(Vec<ArbTlv>),
    UserInfo {
        name: Vec<u8>,
        warning: u16,
        tlvs: Vec<ArbTlv>,
    },
    UserInfoTlvs {
        name: Vec<u8>,
        class: Option<u16>,
        signon_time: Option<u32>,
        idle_minutes: Option<u16>,
        member_since: Option<u32>,
        status: Option<u32>,
        capabilities: Vec<[u8; 16]>,
        short_caps: Vec<u16>,
        session_length: Option<u32>,
    },
    Signon {
        version: u32,
        tlvs: Vec<ArbTlv>,
    },
    Signoff(Vec<ArbTlv>),
    SnacError {
        header: Header,
        family: u16,
        code: u16,
        subcode: Option<u16>,
    },
    ChallengeRequest {
        header: Header,
        name: Vec<u8>,
    },
    ChallengeResponse {
        header: Header,
        key: Vec<u8>,
        tlvs: Vec<ArbTlv>,
    },
    LoginRequest {
        header: Header,
        name: Vec<u8>,
        hash: [u8; 16],
        strong: bool,
        client: ArbClient,
    },
    LoginSuccess {
        header: Header,
        name: Vec<u8>,
        bos: Vec<u8>,
        cookie: Vec<u8>,
        tls: Option<Vec<u8>>,
    },
    LoginFailure {
        header: Header,
        name: Vec<u8>,
        code: u16,
    },
    SecurId {
        header: Header,
        reply: Option<Vec<u8>>,
    },
    Raw {
        header: Header,
        family: u16,
        subtype: u16,
        body: Vec<u8>,
    },
    Oservice {
        header: Header,
        message: ArbOservice,
    },
    Feedbag {
        header: Header,
        message: ArbFeedbag,
    },
    Buddy {
        header: Header,
        message: ArbBuddy,
    },
    Pd {
        header: Header,
        message: ArbPd,
    },
    Icbm {
        header: Header,
        message: ArbIcbm,
    },
}

#[derive(Arbitrary, Debug)]
struct ArbImFlags {
    request_ack: bool,
    auto_response: bool,
    store_offline: bool,
    want_typing_events: bool,
}

#[derive(Arbitrary, Debug)]
struct ArbParams {
    flags: u32,
    max_message_len: u16,
    max_sender_warning: u16,
    max_receiver_warning: u16,
    min_interval_ms: u32,
}

#[derive(Arbitrary, Debug)]
enum ArbIcbm {
    SendIm {
        cookie: [u8; 8],
        to: Vec<u8>,
        text: String,
        flags: ArbImFlags,
    },
    /// The server's relay of a sent IM (04/07), and its offline delivery.
    Relay {
        cookie: [u8; 8],
        to: Vec<u8>,
        text: String,
        flags: ArbImFlags,
        sender: ArbUserInfo,
        want_events: bool,
        offline_send_time: Option<u32>,
    },
    HostAck {
        cookie: [u8; 8],
        channel: u16,
        to: Vec<u8>,
    },
    Typing {
        to: Vec<u8>,
        event: u16,
    },
    ClientError {
        cookie: [u8; 8],
        channel: u16,
        to: Vec<u8>,
        reason: u16,
        data: Vec<u8>,
    },
    SetParams {
        channel: u16,
        params: ArbParams,
    },
    ParamsReply {
        max_slots: u16,
        params: ArbParams,
    },
    WarnRequest {
        anonymous: u16,
        who: Vec<u8>,
    },
    WarnReply {
        delta: u16,
        new_level: u16,
    },
    ParamsQuery,
    OfflineRequest,
    OfflineDone,
}

fn params(p: &ArbParams) -> IcbmParams {
    IcbmParams {
        flags: p.flags,
        max_message_len: p.max_message_len,
        max_sender_warning: p.max_sender_warning,
        max_receiver_warning: p.max_receiver_warning,
        min_interval_ms: p.min_interval_ms,
    }
}

/// The text a channel-1 IM carries for `text`: UCS-2 has no room for characters
/// beyond the BMP, which `encode_text` documents it replaces with U+FFFD.
fn as_sent(text: &str) -> String {
    if text.chars().all(|c| u32::from(c) <= 0xFF) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if u32::from(c) > 0xFFFF {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

fn im_flags(f: &ArbImFlags) -> SendImFlags {
    SendImFlags {
        request_ack: f.request_ack,
        auto_response: f.auto_response,
        store_offline: f.store_offline,
        want_typing_events: f.want_typing_events,
    }
}

fn icbm(m: &ArbIcbm) -> Option<Icbm<'static>> {
    let name = |n: &[u8]| ScreenName::new(n.to_vec()).ok();
    Some(match m {
        ArbIcbm::SendIm {
            cookie,
            to,
            text,
            flags,
        } => {
            let im = SendIm::channel1(IcbmCookie(*cookie), name(to)?, text, im_flags(flags)).ok()?;
            // The typed readers give back what was put in.
            assert_eq!(im.text(), Some(as_sent(text)));
            assert_eq!(im.wants_ack(), flags.request_ack);
            assert_eq!(im.is_auto_response(), flags.auto_response);
            assert_eq!(im.store_offline(), flags.store_offline);
            assert_eq!(im.wants_events(), flags.want_typing_events);
            Icbm::SendIm(im)
        }
        ArbIcbm::Relay {
            cookie,
            to,
            text,
            flags,
            sender,
            want_events,
            offline_send_time,
        } => {
            let im = SendIm::channel1(IcbmCookie(*cookie), name(to)?, text, im_flags(flags)).ok()?;
            let sender = user_info(sender)?;
            let incoming = match offline_send_time {
                None => IncomingIm::relay(&im, sender, *want_events).ok()?,
                Some(t) => {
                    let i = IncomingIm::offline(&im, sender, *t).ok()?;
                    assert_eq!(i.offline_send_time(), Some(*t));
                    assert!(i.store_offline());
                    i
                }
            };
            assert_eq!(incoming.text(), Some(as_sent(text)));
            assert!(!incoming.wants_ack(), "the relay drops the ack request");
            Icbm::IncomingIm(incoming.into_owned())
        }
        ArbIcbm::HostAck { cookie, channel, to } => Icbm::HostAck(HostAck::new(
            IcbmCookie(*cookie),
            IcbmChannel::from(*channel),
            name(to)?,
        )),
        ArbIcbm::Typing { to, event } => Icbm::Typing(TypingNotification::new(name(to)?, TypingEvent::from(*event))),
        ArbIcbm::ClientError {
            cookie,
            channel,
            to,
            reason,
            data,
        } => Icbm::ClientError(ClientError::new(
            IcbmCookie(*cookie),
            IcbmChannel::from(*channel),
            name(to)?,
            ClientErrorReason::from(*reason),
            data.clone(),
        )),
        ArbIcbm::SetParams { channel, params: p } => Icbm::SetParams {
            channel: *channel,
            params: params(p),
        },
        ArbIcbm::ParamsReply { max_slots, params: p } => Icbm::ParamsReply {
            max_slots: *max_slots,
            params: params(p),
        },
        ArbIcbm::WarnRequest { anonymous, who } => Icbm::WarnRequest {
            mode: WarnMode::from(*anonymous),
            screen_name: name(who)?,
        },
        ArbIcbm::WarnReply { delta, new_level } => Icbm::WarnReply {
            delta: *delta,
            new_level: *new_level,
        },
        ArbIcbm::ParamsQuery => Icbm::ParamsQuery,
        ArbIcbm::OfflineRequest => Icbm::OfflineRequest,
        ArbIcbm::OfflineDone => Icbm::OfflineDone,
    })
}

#[derive(Arbitrary, Debug)]
struct ArbUserInfo {
    name: Vec<u8>,
    warning: u16,
    tlvs: Vec<ArbTlv>,
}

fn user_info(u: &ArbUserInfo) -> Option<UserInfo<'static>> {
    Some(UserInfo::new(
        ScreenName::new(u.name.clone()).ok()?,
        u.warning,
        tlvs(&u.tlvs)?,
    ))
}

fn names(v: &[Vec<u8>]) -> Option<Vec<ScreenName<'_>>> {
    v.iter().map(|n| ScreenName::new(&n[..]).ok()).collect()
}

#[derive(Arbitrary, Debug)]
struct ArbRateClass {
    id: u16,
    levels: [u32; 7],
    extra: (u32, u8),
    members: Vec<(u16, u16)>,
}

#[derive(Arbitrary, Debug)]
enum ArbOservice {
    HostOnline(Vec<u16>),
    ClientVersions(Vec<(u16, u16)>),
    HostVersions(Vec<(u16, u16)>),
    ClientReady(Vec<(u16, u16, u16, u16)>),
    RateSubAdd(Vec<u16>),
    RateParamsReply { extended: bool, classes: Vec<ArbRateClass> },
    RateParamsQuery,
    SelfInfoQuery,
    SelfInfo(ArbUserInfo),
    SetIdle(u32),
    SetPrivacyFlags(u32),
    Motd { kind: u16, message: Option<Vec<u8>> },
    Noop,
}

#[derive(Arbitrary, Debug)]
enum ArbItem {
    Buddy {
        name: Vec<u8>,
        group: u16,
        item: u16,
        alias: Option<Vec<u8>>,
    },
    Group {
        name: Vec<u8>,
        group: u16,
        order: Vec<u16>,
    },
    Root {
        order: Vec<u16>,
    },
    Permit {
        name: Vec<u8>,
        item: u16,
    },
    Deny {
        name: Vec<u8>,
        item: u16,
    },
    PdInfo {
        item: u16,
        mode: u8,
        mask: Option<u32>,
    },
    Icon {
        item: u16,
        flags: u8,
        hash: Vec<u8>,
    },
    /// Any class and attributes, except the attributes with a fixed layout.
    Other {
        name: Vec<u8>,
        group: u16,
        item: u16,
        class: u16,
        attrs: Vec<ArbTlv>,
    },
}

/// Attribute tags whose value layout the decoder checks (order, PD mode/mask/flags, buddy prefs).
const FIXED_LAYOUT_ATTRS: [u16; 5] = [0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC];

fn item(i: &ArbItem) -> Option<FeedbagItem<'static>> {
    Some(match i {
        ArbItem::Buddy {
            name,
            group,
            item,
            alias,
        } => {
            let b = FeedbagItem::buddy(name.clone(), *group, *item).ok()?;
            match alias {
                Some(a) => b.with_attr(feedbag::tag::ALIAS, a).ok()?,
                None => b,
            }
        }
        ArbItem::Group { name, group, order } => FeedbagItem::group(name.clone(), *group, order).ok()?,
        ArbItem::Root { order } => FeedbagItem::root_group(order).ok()?,
        ArbItem::Permit { name, item } => FeedbagItem::permit(name.clone(), *item).ok()?,
        ArbItem::Deny { name, item } => FeedbagItem::deny(name.clone(), *item).ok()?,
        ArbItem::PdInfo { item, mode, mask } => match mask {
            Some(m) => FeedbagItem::pd_info_with_mask(*item, PdMode::from(*mode), *m),
            None => FeedbagItem::pd_info(*item, PdMode::from(*mode)),
        },
        ArbItem::Icon { item, flags, hash } => FeedbagItem::buddy_icon(*item, *flags, hash).ok()?,
        ArbItem::Other {
            name,
            group,
            item,
            class,
            attrs,
        } => {
            let attrs: Vec<&ArbTlv> = attrs.iter().filter(|t| !FIXED_LAYOUT_ATTRS.contains(&t.tag)).collect();
            let mut b = TlvBlock::builder();
            for t in attrs {
                b = b.bytes(t.tag, &t.value);
            }
            FeedbagItem::new(
                Str16::new(name.clone()).ok()?,
                *group,
                *item,
                ItemClass::from(*class),
                b.build().ok()?,
            )
        }
    })
}

#[derive(Arbitrary, Debug)]
enum ArbFeedbag {
    Reply { items: Vec<ArbItem>, last_modified: u32 },
    Insert(Vec<ArbItem>),
    Update(Vec<ArbItem>),
    Delete(Vec<ArbItem>),
    Status(Vec<u16>),
    QueryIfModified { last_modified: u32, count: u16 },
    RightsReply(Vec<u16>),
    Query,
    Use,
    EndCluster,
}

#[derive(Arbitrary, Debug)]
enum ArbBuddy {
    Add(Vec<Vec<u8>>),
    Remove(Vec<Vec<u8>>),
    Reject(Vec<Vec<u8>>),
    AddTemporary(Vec<Vec<u8>>),
    Arrived(ArbUserInfo),
    Departed(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum ArbPd {
    AddPermit(Vec<Vec<u8>>),
    DelPermit(Vec<Vec<u8>>),
    AddDeny(Vec<Vec<u8>>),
    DelDeny(Vec<Vec<u8>>),
    SetGroupPermitMask(u32),
    RightsReply(u16, u16, u16),
}

fn oservice(m: &ArbOservice) -> Option<Oservice<'static>> {
    let versions = |v: &[(u16, u16)]| -> Vec<FamilyVersion> {
        v.iter()
            .map(|(f, version)| FamilyVersion {
                family: Family::from(*f),
                version: *version,
            })
            .collect()
    };
    Some(match m {
        ArbOservice::HostOnline(f) => {
            Oservice::host_online(&f.iter().map(|x| Family::from(*x)).collect::<Vec<_>>()).ok()?
        }
        ArbOservice::ClientVersions(v) => Oservice::client_versions(&versions(v)).ok()?,
        ArbOservice::HostVersions(v) => Oservice::host_versions(&versions(v)).ok()?,
        ArbOservice::ClientReady(v) => {
            let entries: Vec<ClientReadyEntry> = v
                .iter()
                .map(|(f, version, tool_id, tool_version)| ClientReadyEntry {
                    family: Family::from(*f),
                    version: *version,
                    tool_id: *tool_id,
                    tool_version: *tool_version,
                })
                .collect();
            Oservice::client_ready(&entries).ok()?
        }
        ArbOservice::RateSubAdd(ids) => Oservice::rate_params_sub_add(ids).ok()?,
        ArbOservice::RateParamsReply { .. } => return None, // handled on its own (layout)
        ArbOservice::RateParamsQuery => Oservice::RateParamsQuery,
        ArbOservice::SelfInfoQuery => Oservice::SelfInfoQuery,
        ArbOservice::SelfInfo(u) => Oservice::SelfInfo(SelfInfo::new(user_info(u)?)),
        ArbOservice::SetIdle(s) => Oservice::SetIdle(*s),
        ArbOservice::SetPrivacyFlags(f) => Oservice::SetPrivacyFlags(*f),
        ArbOservice::Motd { kind, message } => {
            Oservice::Motd(Motd::new(MotdType::from(*kind), message.as_deref()).ok()?)
        }
        ArbOservice::Noop => Oservice::Noop,
    })
}

/// 01/07 is not self-describing (§7.3): two layouts can fit the same bytes. The bytes
/// must round-trip, and decoding in the layout it was built with gives the value back.
fn rate_params_reply(header: &Header, extended: bool, classes: &[ArbRateClass]) {
    let layout = if extended {
        RateLayout::Extended
    } else {
        RateLayout::Basic
    };
    let records: Vec<(RateClass, Vec<SnacType>)> = classes
        .iter()
        .map(|c| {
            let [window, clear, alert, limit, disconnect, current, max] = c.levels;
            let mut rc = RateClass::new(c.id, window, clear, alert, limit, disconnect, max);
            rc.current = current;
            if extended {
                rc.extra = Some(RateClassExtra {
                    last_time: c.extra.0,
                    dropping_snacs: c.extra.1,
                });
            }
            (rc, c.members.iter().map(|(f, s)| SnacType::new(*f, *s)).collect())
        })
        .collect();
    let entries: Vec<(RateClass, &[SnacType])> = records.iter().map(|(c, m)| (*c, m.as_slice())).collect();
    let Ok(reply) = RateParamsReply::new(layout, &entries) else {
        return;
    };
    let Some(s) = snac(header, Message::Oservice(Oservice::RateParamsReply(reply.clone()))) else {
        return;
    };
    let bytes = s.to_bytes();
    let back = Snac::decode(&bytes).expect("a built 01/07 decodes");
    assert_eq!(back.to_bytes(), bytes);
    let body = &bytes[bytes.len() - {
        let mut b = Vec::new();
        reply.encode(&mut b);
        b.len()
    }..];
    let mut r = Reader::new(body);
    let known = RateParamsReply::decode_with_layout(&mut r, reply.layout()).expect("decodes in its layout");
    assert!(r.is_empty());
    assert_eq!(known, reply);
    assert_eq!(known.classes().iter().count(), classes.len());
}

fn feedbag(m: &ArbFeedbag) -> Option<Feedbag<'static>> {
    let items = |v: &[ArbItem]| -> Option<Vec<FeedbagItem<'static>>> { v.iter().map(item).collect() };
    Some(match m {
        ArbFeedbag::Reply {
            items: i,
            last_modified,
        } => Feedbag::Reply(feedbag::Reply::new(&items(i)?, *last_modified).ok()?),
        ArbFeedbag::Insert(i) => Feedbag::insert(&items(i)?).ok()?,
        ArbFeedbag::Update(i) => Feedbag::update(&items(i)?).ok()?,
        ArbFeedbag::Delete(i) => Feedbag::delete(&items(i)?).ok()?,
        ArbFeedbag::Status(codes) => {
            Feedbag::status(&codes.iter().map(|c| FeedbagStatus::from(*c)).collect::<Vec<_>>()).ok()?
        }
        ArbFeedbag::QueryIfModified { last_modified, count } => {
            Feedbag::QueryIfModified(ListStamp::new(*last_modified, *count))
        }
        ArbFeedbag::RightsReply(max) => Feedbag::RightsReply(feedbag::RightsReply::from_max_items_by_class(max).ok()?),
        ArbFeedbag::Query => Feedbag::Query,
        ArbFeedbag::Use => Feedbag::Use,
        ArbFeedbag::EndCluster => Feedbag::EndCluster,
    })
}

fn buddy_message(m: &ArbBuddy) -> Option<Buddy<'static>> {
    Some(match m {
        ArbBuddy::Add(n) => Buddy::add(&names(n)?).ok()?,
        ArbBuddy::Remove(n) => Buddy::remove(&names(n)?).ok()?,
        ArbBuddy::Reject(n) => Buddy::reject(&names(n)?).ok()?,
        ArbBuddy::AddTemporary(n) => Buddy::add_temporary(&names(n)?).ok()?,
        ArbBuddy::Arrived(u) => Buddy::Arrived(user_info(u)?),
        ArbBuddy::Departed(n) => Buddy::Departed(buddy::departure(ScreenName::new(n.clone()).ok()?).into_owned()),
    })
}

fn pd_message(m: &ArbPd) -> Option<Pd<'static>> {
    Some(match m {
        ArbPd::AddPermit(n) => Pd::AddPermit(pd::screen_names(&names(n)?).ok()?),
        ArbPd::DelPermit(n) => Pd::DelPermit(pd::screen_names(&names(n)?).ok()?),
        ArbPd::AddDeny(n) => Pd::AddDeny(pd::screen_names(&names(n)?).ok()?),
        ArbPd::DelDeny(n) => Pd::DelDeny(pd::screen_names(&names(n)?).ok()?),
        ArbPd::SetGroupPermitMask(m) => Pd::SetGroupPermitMask(*m),
        ArbPd::RightsReply(a, b, c) => Pd::RightsReply(pd::RightsReply::new(*a, *b, *c)),
    })
}

/// Wraps a message in a SNAC with the fuzzer's header fields.
fn snac<'a>(header: &Header, message: Message<'a>) -> Option<Snac<'a>> {
    let extended = match &header.extended {
        Some(items) => Some(tlvs(items)?),
        None => None,
    };
    Some(Snac {
        // The extended-data flag is derived from `extended`, never set by hand.
        flags: header.flags & !flapjack_wire::snac::flags::EXTENDED,
        request_id: header.request_id,
        extended,
        message,
    })
}

/// encode → decode → equal, and → encode → same bytes; also inside a frame.
fn round_trip(snac: &Snac<'_>) {
    let bytes = snac.to_bytes();
    let back = Snac::decode(&bytes).unwrap_or_else(|e| panic!("built SNAC does not decode: {e}\n{snac:?}"));
    assert_eq!(&back, snac, "decode(encode(x)) != x");
    assert_eq!(back.to_bytes(), bytes);
    let mut frame = Vec::new();
    if snac.encode_frame(0x1234, &mut frame).is_ok() {
        let Ok(Decoded::Complete { value, consumed }) = FrameDecoder::new().decode(&frame) else {
            panic!("our frame does not decode")
        };
        assert_eq!(consumed, frame.len());
        assert_eq!(value.message().expect("frame content"), FlapMessage::Data(back));
    }
}

/// Raw bodies of typed family/subtype pairs may decode typed (or be refused); they still round-trip bytes.
fn round_trip_raw(snac: &Snac<'_>) {
    let bytes = snac.to_bytes();
    if let Ok(back) = Snac::decode(&bytes) {
        assert_eq!(back.to_bytes(), bytes);
        if matches!(back.message, Message::Raw { .. }) {
            assert_eq!(&back, snac);
        }
    }
}

fn round_trip_block(block: &TlvBlock<'_>) {
    let mut out = Vec::new();
    block.encode_rest(&mut out);
    assert_eq!(&TlvBlock::decode_rest(&mut Reader::new(&out)).expect("rest"), block);
    out.clear();
    block.encode_counted(&mut out);
    let mut r = Reader::new(&out);
    assert_eq!(&TlvBlock::decode_counted(&mut r).expect("counted"), block);
    assert!(r.is_empty());
    out.clear();
    block.encode_length_prefixed(&mut out);
    let mut r = Reader::new(&out);
    assert_eq!(
        &TlvBlock::decode_length_prefixed(&mut r).expect("length-prefixed"),
        block
    );
    assert!(r.is_empty());
}

fn round_trip_user_info(info: &UserInfo<'_>) {
    let mut out = Vec::new();
    info.encode(&mut out);
    let mut r = Reader::new(&out);
    assert_eq!(&UserInfo::decode(&mut r).expect("user info"), info);
    assert!(r.is_empty());
}

fuzz_target!(|input: Input| {
    match input {
        Input::Tlvs(items) => {
            if let Some(block) = tlvs(&items) {
                assert_eq!(block.len(), items.len());
                for (t, item) in block.iter().zip(&items) {
                    assert_eq!((t.tag, t.value), (item.tag, &item.value[..]));
                }
                round_trip_block(&block);
            }
        }
        Input::UserInfo { name, warning, tlvs: t } => {
            let (Ok(name), Some(t)) = (ScreenName::new(name), tlvs(&t)) else {
                return;
            };
            round_trip_user_info(&UserInfo::new(name, warning, t));
        }
        Input::UserInfoTlvs {
            name,
            class,
            signon_time,
            idle_minutes,
            member_since,
            status,
            capabilities,
            short_caps,
            session_length,
        } => {
            let mut caps: Vec<Capability> = capabilities.into_iter().map(Capability).collect();
            caps.extend(short_caps.iter().map(|s| Capability::from_short(*s)));
            let fields = UserInfoTlvs {
                class,
                signon_time,
                idle_minutes,
                member_since,
                status,
                capabilities: caps.clone(),
                session_length,
            };
            let (Ok(name), Ok(t)) = (ScreenName::new(name), fields.build()) else {
                return;
            };
            let info = UserInfo::new(name, 0, t);
            round_trip_user_info(&info);
            assert_eq!(info.class(), class.unwrap_or(0));
            assert_eq!(info.signon_time(), signon_time);
            assert_eq!(info.idle_minutes(), idle_minutes.filter(|m| *m > 0));
            assert_eq!(info.status(), status);
            assert_eq!(info.capabilities(), caps);
        }
        Input::Signon { version, tlvs: t } => {
            let Some(t) = tlvs(&t) else { return };
            let m = FlapMessage::Signon(Signon { version, tlvs: t });
            let mut out = Vec::new();
            if m.encode_frame(1, &mut out).is_ok() {
                let Ok(Decoded::Complete { value, .. }) = FrameDecoder::new().decode(&out) else {
                    panic!()
                };
                assert_eq!(value.message().expect("signon"), m);
            }
        }
        Input::Signoff(t) => {
            let Some(t) = tlvs(&t) else { return };
            let m = FlapMessage::Signoff(Signoff { tlvs: t });
            let mut out = Vec::new();
            if m.encode_frame(1, &mut out).is_ok() {
                let Ok(Decoded::Complete { value, .. }) = FrameDecoder::new().decode(&out) else {
                    panic!()
                };
                assert_eq!(value.message().expect("signoff"), m);
            }
        }
        Input::SnacError {
            header,
            family,
            code,
            subcode,
        } => {
            let error = match subcode {
                Some(s) => SnacError::with_subcode(ErrorCode::from(code), s),
                None => SnacError::new(ErrorCode::from(code)),
            };
            assert_eq!(error.subcode(), subcode);
            let m = Message::Error {
                family: Family::from(family),
                error,
            };
            if let Some(s) = snac(&header, m) {
                round_trip(&s);
            }
        }
        Input::ChallengeRequest { header, name } => {
            let Ok(req) = ChallengeRequest::new(&name) else { return };
            assert_eq!(req.screen_name(), &name[..]);
            if let Some(s) = snac(&header, Message::Bucp(Bucp::ChallengeRequest(req))) {
                round_trip(&s);
            }
        }
        Input::ChallengeResponse { header, key, tlvs: t } => {
            let (Ok(key), Some(t)) = (Str16::new(key), tlvs(&t)) else {
                return;
            };
            let m = Message::Bucp(Bucp::ChallengeResponse(ChallengeResponse { key, tlvs: t }));
            if let Some(s) = snac(&header, m) {
                round_trip(&s);
            }
        }
        Input::LoginRequest {
            header,
            name,
            hash,
            strong,
            client,
        } => {
            let client = ClientInfo {
                id_string: client.id_string,
                client_id: client.client_id,
                version: client.version,
                distribution: client.distribution,
                language: client.language,
                country: client.country,
                multi_conn: client.multi_conn,
            };
            let Ok(req) = LoginRequest::new(&name, &hash, strong, &client) else {
                return;
            };
            assert_eq!(req.screen_name(), &name[..]);
            assert_eq!(req.password_hash(), hash);
            assert_eq!(req.is_strong(), strong);
            assert_eq!(req.client_info(), client);
            if let Some(s) = snac(&header, Message::Bucp(Bucp::LoginRequest(req))) {
                round_trip(&s);
            }
        }
        Input::LoginSuccess {
            header,
            name,
            bos,
            cookie,
            tls,
        } => {
            let Ok(resp) = LoginResponse::success(&name, &bos, &cookie, tls.as_deref()) else {
                return;
            };
            if let Some(s) = snac(&header, Message::Bucp(Bucp::LoginResponse(resp))) {
                round_trip(&s);
            }
        }
        Input::LoginFailure { header, name, code } => {
            let Ok(resp) = LoginResponse::failure(&name, LoginError::from(code)) else {
                return;
            };
            if let Some(s) = snac(&header, Message::Bucp(Bucp::LoginResponse(resp))) {
                round_trip(&s);
            }
        }
        Input::SecurId { header, reply } => {
            let m = match reply {
                None => Bucp::SecurIdRequest,
                Some(r) => match Str16::new(r) {
                    Ok(r) => Bucp::SecurIdReply(r),
                    Err(_) => return,
                },
            };
            if let Some(s) = snac(&header, Message::Bucp(m)) {
                round_trip(&s);
            }
        }
        Input::Raw {
            header,
            family,
            subtype,
            body,
        } => {
            let m = Message::Raw {
                family,
                subtype,
                body: body.into(),
            };
            if let Some(s) = snac(&header, m) {
                round_trip_raw(&s);
            }
        }
        Input::Oservice {
            header,
            message: ArbOservice::RateParamsReply { extended, classes },
        } => rate_params_reply(&header, extended, &classes),
        Input::Oservice { header, message } => {
            if let Some(s) = oservice(&message).and_then(|m| snac(&header, Message::Oservice(m))) {
                round_trip(&s);
            }
        }
        Input::Feedbag { header, message } => {
            if let Some(s) = feedbag(&message).and_then(|m| snac(&header, Message::Feedbag(m))) {
                round_trip(&s);
            }
        }
        Input::Buddy { header, message } => {
            if let Some(s) = buddy_message(&message).and_then(|m| snac(&header, Message::Buddy(m))) {
                round_trip(&s);
            }
        }
        Input::Pd { header, message } => {
            if let Some(s) = pd_message(&message).and_then(|m| snac(&header, Message::Pd(m))) {
                round_trip(&s);
            }
        }
        Input::Icbm { header, message } => {
            if let Some(s) = icbm(&message).and_then(|m| snac(&header, Message::Icbm(m))) {
                round_trip(&s);
            }
        }
    }
});
