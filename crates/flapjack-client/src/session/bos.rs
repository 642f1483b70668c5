//! Service connections (BOS, CHAT_NAV, CHAT) and BOS traffic.
//!
//! Every service connection runs the same OSERVICE opening (§7): channel 1 with the cookie,
//! 01/03 host online → 01/17 client versions → 01/18 → 01/06 rate query → 01/07 → 01/08 rate
//! subscription. Then BOS asks for self info, feedbag rights and list, LOCATE / BUDDY / ICBM /
//! PD rights — only for the families the server announced — and when every answer is in: sets
//! ICBM parameters (on the ICBM answer), activates the feedbag (on the last list part),
//! advertises capabilities, sends 01/02 client ready and asks for offline messages.

use std::collections::HashMap;

use flapjack_wire::family::bucp::ClientInfo;
use flapjack_wire::family::buddy::{self, Buddy};
use flapjack_wire::family::icbm::{
    AIM_FEATURES, Channel1Message, Charset, Icbm, IcbmChannel, IcbmParams, SendIm, SendImFlags, TextPart, TypingEvent,
    TypingNotification, WarnMode, encode_text, param_flags,
};
use flapjack_wire::family::locate::{self, InfoTlvs, InfoType, Locate, SetInfo};
use flapjack_wire::family::oservice::{
    ClientReadyEntry, FamilyVersion, Oservice, RateChangeCode, SetUserInfoFields, UserInfoFields,
};
use flapjack_wire::flap::{Channel, FLAP_VERSION, Signon, signon_tag};
use flapjack_wire::snac::{Message, RawSnac, SnacError, SnacHeader, flags};
use flapjack_wire::{DecodeError, Family, IcbmCookie, Put, Reader, ScreenName, TlvBlock, TlvBlockBuilder};

use super::conn::Phase;
use super::{ConnId, ConnKind, Session, State};
use crate::command::{ImCharset, ImRequest, MessageId};
use crate::error::{ClientError, RequestContext};
use crate::event::{Event, ReceivedIm, UserInfoReply, UserStatus, decode_text_with_mime};
use crate::rate::RateLimiter;

/// The OSERVICE version announced in 0x0001/0x0017 (3: the server sends extended rate records).
pub const OSERVICE_VERSION: u16 = 3;

/// Tool id and version announced in 0x0001/0x0002 (libpurple's).
const TOOL_ID: u16 = 0x0110;
const TOOL_VERSION: u16 = 0x0629;

/// The family versions this client speaks.
fn our_version(family: u16) -> Option<u16> {
    Some(match family {
        0x0001 => OSERVICE_VERSION,
        0x0013 => 4,
        0x0002 | 0x0003 | 0x0004 | 0x0006 | 0x0008 | 0x0009 | 0x000A | 0x000B | 0x000D | 0x000E | 0x0010 | 0x0015
        | 0x0018 => 1,
        _ => return None,
    })
}

/// BOS-wide state.
#[derive(Debug, Default)]
pub(super) struct BosState {
    pub self_info: Option<UserStatus>,
    /// Sign-on answers still awaited, per family.
    awaiting: HashMap<u16, u8>,
    self_info_pending: bool,
    /// Client ready was sent; waiting for the confirming self info.
    confirming: bool,
    /// The largest IM text the server accepts (0x0004/0x0005).
    max_message_len: Option<u16>,
    /// Buddies known to be online, by normalized name.
    online: HashMap<String, UserStatus>,
    invisible: bool,
    /// TLS is used to BOS: ask for TLS on service redirects too.
    pub tls: bool,
}

impl Session {
    pub(super) fn bos_id(&self) -> Option<ConnId> {
        self.conn_by_kind(&ConnKind::Bos)
    }

    /// A service connection is open: present the cookie (with the client identity on BOS).
    pub(super) fn service_connected(&mut self, id: ConnId) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        let mut b = TlvBlock::builder().bytes(signon_tag::COOKIE, &conn.cookie);
        if conn.kind == ConnKind::Bos {
            self.bos.tls = conn.tls_cert_name.is_some();
            b = cookie_identity(&self.cfg.client_info, b);
        }
        let tlvs = match b.build() {
            Ok(t) => t,
            Err(e) => {
                self.on_broken(id, ClientError::Encode(e));
                return;
            }
        };
        let mut payload = Vec::new();
        Signon {
            version: FLAP_VERSION,
            tlvs,
        }
        .encode(&mut payload);
        self.with_conn(id, |c, out, now| {
            c.transmit(Channel::Signon, &payload, out, now);
            c.phase = Phase::HostOnline;
        });
    }

    /// A SNAC on a service connection.
    pub(super) fn service_snac(&mut self, id: ConnId, payload: &[u8]) {
        let Some(kind) = self.conn(id).map(|c| c.kind.clone()) else {
            return;
        };
        let raw = match RawSnac::decode(payload) {
            Ok(r) => r,
            Err(error) => {
                self.on_broken(id, ClientError::Decode { conn: kind, error });
                return;
            }
        };
        let header = raw.header;
        if header.subtype == flapjack_wire::snac::ERROR_SUBTYPE {
            match snac_body(&raw).and_then(|b| SnacError::decode(&mut Reader::new(b))) {
                Ok(err) => self.on_error_snac(id, header, &err),
                Err(error) => self.emit(Event::Error(ClientError::Decode { conn: kind, error })),
            }
            return;
        }
        if header.family == buddy::FAMILY
            && matches!(header.subtype, buddy::subtype::ARRIVED | buddy::subtype::DEPARTED)
        {
            // One user-info block each (§8.3), but like libpurple take as many as there are.
            let result = snac_body(&raw).and_then(|b| self.buddy_presence(header.subtype, b));
            if let Err(error) = result {
                self.emit(Event::Error(ClientError::Decode { conn: kind, error }));
            }
            return;
        }
        match raw.typed() {
            Ok(snac) => self.typed_snac(id, kind, header, snac.message),
            Err(error) => {
                let critical = header.family == 0x0001 && matches!(header.subtype, 0x0003 | 0x0007);
                let err = ClientError::Decode { conn: kind, error };
                if critical {
                    self.on_broken(id, err);
                    return;
                }
                self.emit(Event::Error(err));
                // The LOCATE and BUDDY limits are not used: a malformed answer still answers.
                if let (locate::FAMILY, locate::subtype::RIGHTS_REPLY) | (buddy::FAMILY, buddy::subtype::RIGHTS_REPLY) =
                    (header.family, header.subtype)
                {
                    self.sign_on_answer(header.family);
                }
            }
        }
    }

    fn typed_snac(&mut self, id: ConnId, kind: ConnKind, header: SnacHeader, message: Message<'_>) {
        match message {
            Message::Oservice(m) => self.oservice(id, kind, header, m),
            Message::Locate(m) => self.locate_snac(id, header, m),
            Message::Buddy(m) => self.buddy_snac(m),
            Message::Icbm(m) if kind == ConnKind::Bos => self.icbm(id, header, m),
            Message::Feedbag(m) if kind == ConnKind::Bos => self.feedbag_snac(id, header, m),
            Message::Pd(flapjack_wire::family::pd::Pd::RightsReply(_)) if kind == ConnKind::Bos => {
                self.sign_on_answer(0x0009);
            }
            Message::ChatNav(m) if kind == ConnKind::ChatNav => self.chat_nav_snac(id, header, m),
            Message::Chat(m) => {
                if let ConnKind::Chat { room } = &kind {
                    self.chat_snac(room, m);
                }
            }
            _ => {}
        }
    }

    fn on_error_snac(&mut self, id: ConnId, header: SnacHeader, err: &SnacError<'_>) {
        let ctx = self.conn_mut(id).and_then(|c| c.take_pending(header.request_id));
        let family = Family::from(header.family);
        let error = ClientError::Snac {
            family,
            code: err.code,
            subcode: err.subcode(),
            request: ctx.clone(),
        };
        match ctx {
            // A sign-on query the server does not answer: carry on without it.
            Some(RequestContext::SignOn { family, .. }) => {
                self.sign_on_answer(family);
                if family == 0x0013 {
                    // No feedbag after all.
                    self.feedbag.unavailable();
                    self.sign_on_answer(0x0013);
                }
            }
            Some(RequestContext::BuddyEdit { tx }) => {
                self.emit(Event::Error(error));
                self.feedbag_failed(tx);
            }
            Some(RequestContext::ServiceRequest { family, room }) => {
                self.emit(Event::Error(error));
                self.service_request_failed(family, room);
            }
            Some(RequestContext::ChatRoom { room }) => {
                self.emit(Event::Error(error));
                self.chat_join_failed(&room);
            }
            _ => self.emit(Event::Error(error)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // OSERVICE, on every service connection

    fn oservice(&mut self, id: ConnId, kind: ConnKind, header: SnacHeader, m: Oservice<'_>) {
        match m {
            Oservice::HostOnline(families) => {
                let families: Vec<u16> = families.iter().map(Family::value).collect();
                let versions: Vec<FamilyVersion> = families
                    .iter()
                    .filter_map(|&f| {
                        our_version(f).map(|version| FamilyVersion {
                            family: Family::from(f),
                            version,
                        })
                    })
                    .collect();
                let msg = match Oservice::client_versions(&versions) {
                    Ok(m) => m,
                    Err(e) => return self.on_broken(id, ClientError::Encode(e)),
                };
                self.with_conn(id, |c, out, now| {
                    c.families = families;
                    c.send_snac(Message::Oservice(msg), None, out, now);
                    c.phase = Phase::HostVersions;
                });
            }
            Oservice::HostVersions(_) => {
                self.with_conn(id, |c, out, now| {
                    if c.phase == Phase::HostVersions {
                        c.send_snac(Message::Oservice(Oservice::RateParamsQuery), None, out, now);
                        c.phase = Phase::Rates;
                    }
                });
            }
            Oservice::RateParamsReply(reply) => {
                let jitter = self.cfg.jitter_tolerance();
                let epoch = self.epoch;
                let ids: Vec<u16> = reply.class_ids().collect();
                let ack = match Oservice::rate_params_sub_add(&ids) {
                    Ok(m) => m,
                    Err(e) => return self.on_broken(id, ClientError::Encode(e)),
                };
                let started = self.with_conn(id, |c, out, now| {
                    if c.rates.is_some() {
                        return false;
                    }
                    c.start_rates(RateLimiter::new(&reply, epoch, c.opened_at, jitter));
                    c.send_snac(Message::Oservice(ack), None, out, now);
                    c.phase = Phase::Setup;
                    true
                });
                if started == Some(true) {
                    match kind {
                        ConnKind::Bos => self.bos_sign_on_queries(id),
                        ConnKind::ChatNav => self.chat_nav_ready(id),
                        ConnKind::Chat { room } => self.chat_conn_ready(id, &room),
                        ConnKind::Login => {}
                    }
                }
            }
            Oservice::RateChange(change) => {
                let jitter = self.cfg.jitter_tolerance();
                self.with_conn(id, |c, _out, now| {
                    if let Some(r) = &mut c.rates {
                        r.on_change(&change, now, jitter);
                    }
                });
                let (class, level) = (change.class.id, change.class.current);
                let conn = kind.clone();
                match change.code {
                    RateChangeCode::Warning => self.emit(Event::RateWarning { conn, class, level }),
                    RateChangeCode::Limit => self.emit(Event::RateLimited { conn, class, level }),
                    RateChangeCode::LimitCleared => self.emit(Event::RateCleared { conn, class, level }),
                    _ => {}
                }
            }
            Oservice::SelfInfo(info) if kind == ConnKind::Bos => {
                let status = UserStatus::from_info(&info.info);
                self.bos.self_info = Some(status.clone());
                if self.bos.self_info_pending {
                    self.bos.self_info_pending = false;
                    self.sign_on_answer(0x0001);
                } else if self.state == State::Online {
                    self.emit(Event::SelfInfo(status));
                }
            }
            Oservice::EvilNotification(n) => {
                let by = n.warner.as_ref().map(|w| w.screen_name.to_string_lossy());
                if let Some(me) = &mut self.bos.self_info {
                    me.warning_level = n.level;
                }
                self.emit(Event::Warned { level: n.level, by });
            }
            Oservice::Motd(motd) => {
                if let Some(text) = motd.message() {
                    let text = String::from_utf8_lossy(text).into_owned();
                    self.emit(Event::Motd(text));
                }
            }
            Oservice::ServiceResponse(resp) => {
                let ctx = self.conn_mut(id).and_then(|c| c.take_pending(header.request_id));
                self.service_response(ctx, &resp);
            }
            Oservice::Migration(_) | Oservice::Pause(_) => {
                self.emit(Event::Error(ClientError::Connection {
                    kind,
                    reason: "the server asked to migrate the connection, which flapjack does not support".into(),
                }));
            }
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // BOS sign-on

    fn bos_sign_on_queries(&mut self, id: ConnId) {
        let Some(families) = self.conn(id).map(|c| c.families.clone()) else {
            return;
        };
        let mut queries: Vec<(u16, u16)> = vec![(0x0001, 0x000E)];
        self.bos.self_info_pending = true;
        *self.bos.awaiting.entry(0x0001).or_default() += 1;
        if families.contains(&0x0013) {
            // Rights, then the list.
            queries.push((0x0013, 0x0002));
            queries.push((0x0013, 0x0004));
            *self.bos.awaiting.entry(0x0013).or_default() += 2;
            self.feedbag.start_loading();
        }
        for (family, subtype) in [
            (locate::FAMILY, locate::subtype::RIGHTS_QUERY),
            (buddy::FAMILY, buddy::subtype::RIGHTS_QUERY),
            (0x0004, 0x0004),
            (0x0009, 0x0002),
        ] {
            if families.contains(&family) {
                queries.push((family, subtype));
                *self.bos.awaiting.entry(family).or_default() += 1;
            }
        }
        self.with_conn(id, |c, out, now| {
            for (family, subtype) in queries {
                c.send_raw(
                    family,
                    subtype,
                    &[],
                    Some(RequestContext::SignOn { family, subtype }),
                    out,
                    now,
                );
            }
        });
    }

    /// One sign-on answer for `family` arrived; finish when all are in.
    pub(super) fn sign_on_answer(&mut self, family: u16) {
        if self.state != State::SigningOn {
            return;
        }
        if let Some(n) = self.bos.awaiting.get_mut(&family) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.bos.awaiting.remove(&family);
            }
        }
        if self.bos.awaiting.is_empty() {
            if self.bos.confirming {
                self.go_online();
            } else {
                self.finish_sign_on();
            }
        }
    }

    /// Every sign-on answer is in: set up, send client ready, then one more self-info query.
    /// The server handles a connection's SNACs in order, so its answer means the server has
    /// processed client ready: only then is the session reported signed on (an IM sent to us
    /// from then on finds us online).
    fn finish_sign_on(&mut self) {
        let Some(id) = self.bos_id() else {
            return;
        };
        let families = self.conn(id).map(|c| c.families.clone()).unwrap_or_default();
        if families.contains(&locate::FAMILY) {
            let mut b = InfoTlvs::new();
            if let Some(profile) = &self.cfg.profile {
                let (mime, bytes) = mime_text(profile);
                b = b.profile(mime.as_bytes(), &bytes);
            }
            if let Ok(tlvs) = b.capabilities(&self.cfg.capabilities).build() {
                self.with_conn(id, |c, out, now| {
                    c.send_snac(
                        Message::Locate(Locate::SetInfo(SetInfo { tlvs })),
                        Some(RequestContext::SetInfo),
                        out,
                        now,
                    );
                });
            }
        }
        self.send_client_ready(id);
        self.bos.confirming = true;
        self.bos.self_info_pending = true;
        *self.bos.awaiting.entry(0x0001).or_default() += 1;
        self.with_conn(id, |c, out, now| {
            let ctx = RequestContext::SignOn {
                family: 0x0001,
                subtype: 0x000E,
            };
            c.send_raw(0x0001, 0x000E, &[], Some(ctx), out, now);
        });
    }

    /// The server confirmed client ready: ask for offline messages and report signed on.
    fn go_online(&mut self) {
        let Some(id) = self.bos_id() else {
            return;
        };
        let families = self.conn(id).map(|c| c.families.clone()).unwrap_or_default();
        if families.contains(&0x0004) && self.cfg.request_offline_messages {
            self.with_conn(id, |c, out, now| {
                c.send_snac(Message::Icbm(Icbm::OfflineRequest), None, out, now);
            });
        }
        self.with_conn(id, |c, _, _| c.phase = Phase::Ready);
        self.state = State::Online;
        let self_info = self.bos.self_info.clone().unwrap_or_else(|| UserStatus {
            screen_name: self.cfg.screen_name.clone(),
            ..UserStatus::default()
        });
        let buddy_list = self.feedbag.snapshot();
        self.emit(Event::SignedOn { self_info, buddy_list });
    }

    /// 01/02 client ready for the families the server announced on this connection.
    pub(super) fn send_client_ready(&mut self, id: ConnId) {
        let Some(families) = self.conn(id).map(|c| c.families.clone()) else {
            return;
        };
        let entries: Vec<ClientReadyEntry> = families
            .iter()
            .filter_map(|&f| {
                our_version(f).map(|version| ClientReadyEntry {
                    family: Family::from(f),
                    version,
                    tool_id: TOOL_ID,
                    tool_version: TOOL_VERSION,
                })
            })
            .collect();
        if let Ok(msg) = Oservice::client_ready(&entries) {
            self.with_conn(id, |c, out, now| {
                c.send_snac(Message::Oservice(msg), None, out, now);
            });
        }
    }

    // -----------------------------------------------------------------------------------------
    // LOCATE and BUDDY

    fn locate_snac(&mut self, id: ConnId, header: SnacHeader, m: Locate<'_>) {
        match m {
            Locate::RightsReply(_) => self.sign_on_answer(locate::FAMILY),
            Locate::UserInfoReply(reply) => {
                self.conn_mut(id).and_then(|c| c.take_pending(header.request_id));
                let text = |mime: Option<&[u8]>, text: Option<&[u8]>| text.map(|t| decode_text_with_mime(mime, t));
                let reply = UserInfoReply {
                    user: UserStatus::from_info(&reply.user),
                    profile: text(reply.profile_mime(), reply.profile()),
                    away_message: text(reply.away_mime(), reply.away_message()).filter(|t| !t.is_empty()),
                };
                self.emit(Event::UserInfo(reply));
            }
            _ => {}
        }
    }

    fn buddy_snac(&mut self, m: Buddy<'_>) {
        match m {
            Buddy::RightsReply(_) => self.sign_on_answer(buddy::FAMILY),
            Buddy::Arrived(info) => {
                let status = UserStatus::from_info(&info);
                let key = normalize(&status.screen_name);
                let known = self.bos.online.insert(key, status.clone()).is_some();
                self.emit(if known {
                    Event::BuddyChanged(status)
                } else {
                    Event::BuddyArrived(status)
                });
            }
            Buddy::Departed(info) => {
                let name = info.screen_name.to_string_lossy();
                self.bos.online.remove(&normalize(&name));
                self.emit(Event::BuddyDeparted { screen_name: name });
            }
            _ => {}
        }
    }

    /// 03/0B or 03/0C with any number of user-info blocks, each handled as its own message.
    fn buddy_presence(&mut self, subtype: u16, body: &[u8]) -> Result<(), DecodeError> {
        let mut r = Reader::new(body);
        while !r.is_empty() {
            match Buddy::decode(subtype, &mut r)? {
                Some(m) => self.buddy_snac(m),
                None => break,
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // ICBM

    fn icbm(&mut self, id: ConnId, header: SnacHeader, m: Icbm<'_>) {
        match m {
            Icbm::ParamsReply { params, .. } => {
                self.bos.max_message_len = Some(params.max_message_len);
                let mut flags =
                    param_flags::CHANNEL_MSGS_ALLOWED | param_flags::MISSED_CALLS_ENABLED | param_flags::EVENTS_ALLOWED;
                if self.cfg.request_offline_messages {
                    flags |= param_flags::OFFLINE_MSGS_ALLOWED;
                }
                let ours = IcbmParams {
                    flags,
                    max_message_len: 8000,
                    max_sender_warning: 999,
                    max_receiver_warning: 999,
                    min_interval_ms: 0,
                };
                self.with_conn(id, |c, out, now| {
                    c.send_snac(
                        Message::Icbm(Icbm::SetParams {
                            channel: 0,
                            params: ours,
                        }),
                        None,
                        out,
                        now,
                    );
                });
                self.sign_on_answer(0x0004);
            }
            Icbm::IncomingIm(im) => match im.channel {
                IcbmChannel::Im => {
                    let text = im.text().unwrap_or_default();
                    let received = ReceivedIm {
                        from: UserStatus::from_info(&im.sender),
                        text,
                        auto_response: im.is_auto_response(),
                        offline: im.store_offline() || im.offline_send_time().is_some(),
                        sent_at: im.offline_send_time(),
                        wants_typing: im.wants_events(),
                    };
                    self.emit(Event::ImReceived(received));
                }
                IcbmChannel::Rendezvous => {
                    let from = im.sender.screen_name.to_string_lossy();
                    if let Some(rdv) = im.rendezvous()
                        && let Ok(Some(inv)) = rdv.chat_invitation()
                    {
                        let room = crate::event::ChatRoom::from_id(&inv.room, None);
                        let message = inv.message_text();
                        self.emit(Event::ChatInvite { from, room, message });
                    }
                }
                _ => {}
            },
            Icbm::HostAck(ack) => {
                self.conn_mut(id).and_then(|c| c.take_pending(header.request_id));
                self.emit(Event::HostAck {
                    id: MessageId::from_cookie(ack.cookie.0),
                    to: ack.screen_name.to_string_lossy(),
                });
            }
            Icbm::Typing(t) => self.emit(Event::Typing {
                from: t.screen_name.to_string_lossy(),
                event: t.event,
            }),
            Icbm::WarnReply { delta, new_level } => {
                let ctx = self.conn_mut(id).and_then(|c| c.take_pending(header.request_id));
                let screen_name = match ctx {
                    Some(RequestContext::Warn { screen_name }) => screen_name,
                    _ => String::new(),
                };
                self.emit(Event::WarnApplied {
                    screen_name,
                    delta,
                    new_level,
                });
            }
            Icbm::MissedCalls(list) => {
                for missed in list.iter() {
                    self.emit(Event::MissedMessages {
                        from: missed.sender.screen_name.to_string_lossy(),
                        count: missed.count,
                        reason: missed.reason,
                    });
                }
            }
            Icbm::OfflineDone => self.emit(Event::OfflineMessagesDone),
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands

    fn bos_serving(&self, family: Family) -> Result<ConnId, ClientError> {
        let id = self.bos_id().ok_or(ClientError::NotSignedOn)?;
        if self.conn(id).is_some_and(|c| c.serves(family.value())) {
            Ok(id)
        } else {
            Err(ClientError::ServiceUnavailable(family))
        }
    }

    pub(super) fn send_im(&mut self, req: ImRequest) -> Result<(), ClientError> {
        let id = self.bos_serving(Family::Icbm)?;
        let to = screen_name(&req.to)?;
        let (charset, bytes) = encode_im_text(&req.text, req.charset)?;
        if let Some(max) = self.bos.max_message_len
            && bytes.len() > usize::from(max)
        {
            return Err(ClientError::MessageTooLong {
                len: bytes.len(),
                max: usize::from(max),
            });
        }
        let message = Channel1Message::build(
            AIM_FEATURES,
            &[TextPart {
                charset,
                subset: 0,
                bytes: &bytes,
            }],
        )?;
        let flags = SendImFlags {
            request_ack: req.request_ack,
            auto_response: req.auto_response,
            store_offline: req.store_offline,
            want_typing_events: true,
        };
        let snac = SendIm::channel1_with(IcbmCookie(req.id.cookie()), to, &message, flags)?;
        let ctx = RequestContext::SendIm {
            id: req.id,
            to: req.to.clone(),
        };
        self.with_conn(id, |c, out, now| {
            c.send_snac(Message::Icbm(Icbm::SendIm(snac)), Some(ctx), out, now);
        });
        Ok(())
    }

    fn send_locate_info(&mut self, tlvs: TlvBlock<'_>) -> Result<(), ClientError> {
        let id = self.bos_serving(Family::Locate)?;
        self.with_conn(id, |c, out, now| {
            c.send_snac(
                Message::Locate(Locate::SetInfo(SetInfo { tlvs })),
                Some(RequestContext::SetInfo),
                out,
                now,
            );
        });
        Ok(())
    }

    pub(super) fn set_away(&mut self, message: &str) -> Result<(), ClientError> {
        if message.is_empty() {
            return Err(ClientError::InvalidRequest("an away message cannot be empty".into()));
        }
        let (mime, bytes) = mime_text(message);
        let tlvs = InfoTlvs::new().away(mime.as_bytes(), &bytes).build()?;
        self.send_locate_info(tlvs)
    }

    pub(super) fn set_available(&mut self) -> Result<(), ClientError> {
        self.send_locate_info(SetInfo::back().tlvs)?;
        if self.bos.invisible {
            self.set_status(0)?;
            self.bos.invisible = false;
        }
        Ok(())
    }

    pub(super) fn set_invisible(&mut self) -> Result<(), ClientError> {
        self.set_status(u32::from(flapjack_wire::userinfo::status::INVISIBLE))?;
        self.bos.invisible = true;
        Ok(())
    }

    fn set_status(&mut self, status: u32) -> Result<(), ClientError> {
        let id = self.bos_id().ok_or(ClientError::NotSignedOn)?;
        let fields = SetUserInfoFields::new(&UserInfoFields {
            status: Some(status),
            ..UserInfoFields::default()
        })?;
        self.with_conn(id, |c, out, now| {
            c.send_snac(
                Message::Oservice(Oservice::SetUserInfoFields(fields)),
                Some(RequestContext::SetInfo),
                out,
                now,
            );
        });
        Ok(())
    }

    pub(super) fn set_idle(&mut self, seconds: u32) -> Result<(), ClientError> {
        let id = self.bos_id().ok_or(ClientError::NotSignedOn)?;
        self.with_conn(id, |c, out, now| {
            c.send_snac(Message::Oservice(Oservice::SetIdle(seconds)), None, out, now);
        });
        Ok(())
    }

    pub(super) fn set_profile(&mut self, profile: &str) -> Result<(), ClientError> {
        let (mime, bytes) = mime_text(profile);
        let tlvs = InfoTlvs::new().profile(mime.as_bytes(), &bytes).build()?;
        self.send_locate_info(tlvs)
    }

    pub(super) fn get_user_info(&mut self, name: &str) -> Result<(), ClientError> {
        let id = self.bos_serving(Family::Locate)?;
        let sn = screen_name(name)?;
        let query = Locate::user_info_query(InfoType::PROFILE | InfoType::AWAY, sn);
        let ctx = RequestContext::UserInfo {
            screen_name: name.to_owned(),
        };
        self.with_conn(id, |c, out, now| {
            c.send_snac(Message::Locate(query), Some(ctx), out, now);
        });
        Ok(())
    }

    pub(super) fn send_typing(&mut self, to: &str, event: TypingEvent) -> Result<(), ClientError> {
        let id = self.bos_serving(Family::Icbm)?;
        let sn = screen_name(to)?;
        let ctx = RequestContext::Typing { to: to.to_owned() };
        self.with_conn(id, |c, out, now| {
            c.send_snac(
                Message::Icbm(Icbm::Typing(TypingNotification::new(sn, event))),
                Some(ctx),
                out,
                now,
            );
        });
        Ok(())
    }

    pub(super) fn warn(&mut self, name: &str, anonymous: bool) -> Result<(), ClientError> {
        let id = self.bos_serving(Family::Icbm)?;
        let sn = screen_name(name)?;
        let mode = if anonymous {
            WarnMode::Anonymous
        } else {
            WarnMode::Normal
        };
        let ctx = RequestContext::Warn {
            screen_name: name.to_owned(),
        };
        self.with_conn(id, |c, out, now| {
            c.send_snac(
                Message::Icbm(Icbm::WarnRequest { mode, screen_name: sn }),
                Some(ctx),
                out,
                now,
            );
        });
        Ok(())
    }
}

/// The client identity on the BOS cookie hello, the same after every login (BUCP, roasted,
/// OpenAuth; §2.9, libpurple's `flap_connection_send_version_with_cookie_and_clientinfo`):
/// 0x0003 client id string, 0x0017–0x001A major, minor, point and build, and 0x004A the
/// multi-connection flag when one is configured. The server applies the flag to the session the
/// cookie opens: 0x01 (the default) keeps the account's other sessions signed on — a second
/// OpenAuth session does not kick the first — and 0x03 signs them off.
fn cookie_identity(info: &ClientInfo, b: TlvBlockBuilder) -> TlvBlockBuilder {
    let b = b
        .bytes(signon_tag::CLIENT_ID_STRING, info.id_string.as_bytes())
        .u16(signon_tag::MAJOR, info.version[0])
        .u16(signon_tag::MINOR, info.version[1])
        .u16(signon_tag::POINT, info.version[2])
        .u16(signon_tag::BUILD, info.version[3]);
    match info.multi_conn {
        Some(flag) => b.u8(signon_tag::MULTI_CONN, flag),
        None => b,
    }
}

/// The body of a SNAC after any extended-data prefix (flag 0x8000).
pub(super) fn snac_body<'a>(raw: &RawSnac<'a>) -> Result<&'a [u8], DecodeError> {
    let mut r = Reader::new(raw.body);
    if raw.header.flags & flags::EXTENDED != 0 {
        let len = r.u16("SNAC extended data length")?;
        r.bytes(usize::from(len), "SNAC extended data")?;
    }
    Ok(r.rest())
}

/// A screen name for the wire.
pub(super) fn screen_name(name: &str) -> Result<ScreenName<'static>, ClientError> {
    if name.trim().is_empty() {
        return Err(ClientError::InvalidRequest("empty screen name".into()));
    }
    ScreenName::new(name.as_bytes().to_vec()).map_err(ClientError::Encode)
}

/// Lower case without spaces: how screen names compare.
pub(super) fn normalize(name: &str) -> String {
    flapjack_wire::types::normalize_screen_name(name.as_bytes())
}

/// Encodes IM text in the requested charset.
fn encode_im_text(text: &str, charset: ImCharset) -> Result<(Charset, Vec<u8>), ClientError> {
    match charset {
        ImCharset::Auto => Ok(encode_text(text)),
        ImCharset::Ascii if text.is_ascii() => Ok((Charset::Ascii, text.as_bytes().to_vec())),
        ImCharset::Ascii => Err(ClientError::InvalidRequest("the text is not ASCII".into())),
        ImCharset::Latin1 => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
            .map(|b| (Charset::Latin1, b))
            .ok_or_else(|| ClientError::InvalidRequest("the text does not fit ISO-8859-1".into())),
        ImCharset::Unicode => {
            let mut out = Vec::with_capacity(text.len() * 2);
            for unit in text.encode_utf16() {
                out.put_u16(unit);
            }
            Ok((Charset::Ucs2Be, out))
        }
    }
}

/// Text for LOCATE and chat: the narrowest charset, and its MIME type / charset name.
pub(super) fn mime_text(text: &str) -> (String, Vec<u8>) {
    let (charset, bytes) = encode_text(text);
    let name = charset_name(charset);
    (format!("text/aolrtf; charset=\"{name}\""), bytes)
}

/// The charset name of chat messages and MIME types.
pub(super) fn charset_name(charset: Charset) -> &'static str {
    match charset {
        Charset::Latin1 => "iso-8859-1",
        Charset::Ucs2Be => "unicode-2-0",
        Charset::Ascii | Charset::Unknown(_) => "us-ascii",
    }
}
