//! Family 0x0004 ICBM: instant messages (§8.4).
//!
//! A 0x0006 send is relayed as 0x0007 to every signed-on session of the recipient through the
//! registry (already encoded once, then queued on each session's bounded outbound queue). When
//! nobody is signed on, a channel-1 message carrying TLV 0x0006 is stored for offline delivery;
//! otherwise the sender gets error 0x0004 "not logged on". A host ack (0x000C, same request id)
//! follows when the sender asked for one (TLV 0x0003). Each relayed send counts once in
//! `flapjack_ims_relayed_total` (however many sessions took it), each stored one in
//! `flapjack_offline_messages_stored_total` ([`crate::metrics`]).
//!
//! Permit/deny is checked before delivery ([`super::presence::may_message`]): a sender refused
//! by either side gets "not logged on".
//!
//! Warnings (0x0008 → 0x0009, the victim gets 0x0001/0x0010): the rules and the arithmetic are
//! in [`crate::warning`]. Every channel-1 IM delivered online earns its recipient a warn
//! credit against the sender; a warning spends one. The new level is committed to the store
//! before anyone is told. Not here yet: channel-2 proposal IP rewriting, missed calls.

use bytes::Bytes;
use flapjack_wire::family::icbm::{
    HostAck, Icbm, IcbmChannel, IcbmErrorSubcode, IcbmParams, IncomingIm, SendIm, WarnMode, param_flags,
};
use flapjack_wire::family::oservice::{EvilNotification, Oservice};
use flapjack_wire::snac::Message;
use flapjack_wire::types::{NormalizedName, normalize_screen_name};
use flapjack_wire::userinfo::{UserInfo, UserInfoTlvs, class};
use flapjack_wire::{ErrorCode, IcbmCookie, ScreenName, Snac, TlvBlock};

use super::{Cx, ServiceError, unix_now};
use crate::session::next_server_request_id;
use crate::store::{OfflineMessage, StoreError};

/// The family id.
pub const FAMILY: u16 = 0x0004;
/// The version announced in host versions.
pub const VERSION: u16 = 1;

/// The parameters announced in 0x0004/0x0005.
pub const SERVER_PARAMS: IcbmParams = IcbmParams {
    flags: param_flags::CHANNEL_MSGS_ALLOWED | param_flags::MISSED_CALLS_ENABLED,
    max_message_len: 8000,
    max_sender_warning: 999,
    max_receiver_warning: 999,
    min_interval_ms: 0,
};

/// Slots announced in 0x0004/0x0005 (Open OSCAR's value).
pub const MAX_SLOTS: u16 = 100;

/// Handles one ICBM SNAC.
pub async fn handle(cx: &Cx<'_>, message: Icbm<'_>) -> Result<(), ServiceError> {
    match message {
        Icbm::ParamsQuery => cx.reply(Message::Icbm(Icbm::ParamsReply {
            max_slots: MAX_SLOTS,
            params: SERVER_PARAMS,
        })),
        Icbm::SetParams { params, .. } => {
            cx.session.with_state(|s| s.icbm = Some(params));
            Ok(())
        }
        Icbm::SendIm(im) => send_im(cx, &im).await,
        Icbm::OfflineRequest => deliver_offline(cx, true).await,
        Icbm::Typing(t) => {
            let to = NormalizedName::of(t.screen_name.as_bytes());
            if !super::presence::may_reach_online(cx.state, cx.session, &to) {
                return Ok(());
            }
            let from = screen_name_of(cx);
            let relayed = t.relayed(from);
            let bytes = encode_unsolicited(Message::Icbm(Icbm::Typing(relayed)));
            cx.state.registry.deliver(&to, bytes);
            Ok(())
        }
        // Rendezvous declines and ICQ auto-replies are relayed unchanged but for the name.
        Icbm::ClientError(mut e) => {
            let to = NormalizedName::of(e.screen_name.as_bytes());
            if !super::presence::may_reach_online(cx.state, cx.session, &to) {
                return Ok(());
            }
            e.screen_name = screen_name_of(cx);
            cx.state
                .registry
                .deliver(&to, encode_unsolicited(Message::Icbm(Icbm::ClientError(e))));
            Ok(())
        }
        Icbm::WarnRequest { mode, screen_name } => warn(cx, mode, &screen_name).await,
        _ => cx.error(FAMILY, ErrorCode::InvalidSnac),
    }
}

fn screen_name_of(cx: &Cx<'_>) -> ScreenName<'static> {
    ScreenName::new(cx.session.screen_name().as_bytes().to_vec()).unwrap_or_else(|_| ScreenName::empty())
}

fn encode_unsolicited(message: Message<'_>) -> Bytes {
    crate::session::encode_snac(&Snac::new(next_server_request_id(), message))
}

/// What the message path did with an IM under one registry lookup.
enum Route {
    /// Permit/deny allowed it; this many of the recipient's signed-on sessions took it (0:
    /// none is signed on).
    Delivered(usize),
    /// The sender or the recipient blocks the other.
    Refused,
    /// None of the recipient's live sessions has its permit/deny settings loaded yet (or it
    /// has no session): the stored settings decide ([`super::presence::may_message`]).
    Unsure,
}

/// One registry lookup: the permit/deny check against the recipient's live sessions, and
/// the encoded 04/07 pushed to the signed-on ones (built once, from the received bytes and
/// the sender's cached user info, only when someone will take it).
fn route_online(cx: &Cx<'_>, im: &SendIm<'_>, to: &str) -> Route {
    let mut route = Route::Unsure;
    cx.state.registry.with_sessions(to, &mut |sessions| {
        route = match super::presence::may_message_live(cx.session, to, sessions) {
            None => Route::Unsure,
            Some(false) => Route::Refused,
            Some(true) if !sessions.iter().any(|s| s.is_ready()) => Route::Delivered(0),
            Some(true) => Route::Delivered(crate::session::push_to_ready(sessions, relay_snac(cx, im))),
        };
    });
    route
}

/// The encoded 04/07 relaying `im` from this session.
fn relay_snac(cx: &Cx<'_>, im: &SendIm<'_>) -> Bytes {
    // "Want events" (0x000B) goes on IM and MIME messages only (as Open OSCAR does): a
    // rendezvous (chat invitation, file transfer) is relayed with its own TLVs (§8.4.2).
    let want_events = matches!(im.channel, IcbmChannel::Im | IcbmChannel::Mime)
        && cx
            .session
            .read_state(|s| s.icbm.is_some_and(|p| p.flags & param_flags::EVENTS_ALLOWED != 0));
    let sender = cx.session.encoded_user_info(super::unix_at(cx.received));
    Bytes::from(im.encode_relay_snac(next_server_request_id(), &sender, want_events))
}

/// The message path for 0x0006 without an `await` (and so without boxing the services'
/// state machine): handles the IM completely when the recipient is online with its settings
/// loaded, or refused; `None` leaves it to [`handle`] (offline storage, stored settings).
pub fn try_send_im(cx: &Cx<'_>, im: &SendIm<'_>) -> Option<Result<(), ServiceError>> {
    let to = NormalizedName::of(im.screen_name.as_bytes());
    match route_online(cx, im, &to) {
        Route::Refused => Some(cx.error(FAMILY, ErrorCode::NotLoggedOn)),
        Route::Delivered(n) if n > 0 => Some(delivered(cx, im, &to)),
        Route::Delivered(_) | Route::Unsure => None,
    }
}

/// After an IM reached at least one of the recipient's sessions: metrics, the recipient's
/// warn credit, the host ack.
fn delivered(cx: &Cx<'_>, im: &SendIm<'_>, to: &str) -> Result<(), ServiceError> {
    cx.state.metrics.incr(&cx.state.metrics.ims_relayed);
    if im.channel == IcbmChannel::Im {
        // The recipient may now warn the sender (AOL's rule, crate::warning).
        cx.state.warnings.record_im(cx.session.normalized(), to, cx.received);
    }
    if im.wants_ack() {
        cx.reply(Message::Icbm(Icbm::HostAck(HostAck::for_im(im))))?;
    }
    Ok(())
}

async fn send_im(cx: &Cx<'_>, im: &SendIm<'_>) -> Result<(), ServiceError> {
    let to = NormalizedName::of(im.screen_name.as_bytes());
    let delivered_to = match route_online(cx, im, &to) {
        Route::Refused => return cx.error(FAMILY, ErrorCode::NotLoggedOn),
        Route::Delivered(n) => n,
        Route::Unsure => {
            // Permit/deny, both ways: a refused sender is told the recipient is not logged
            // on, exactly as if they were offline (and nothing is stored for later).
            if !super::presence::may_message(cx.state, cx.session, &to).await {
                return cx.error(FAMILY, ErrorCode::NotLoggedOn);
            }
            cx.state.registry.deliver(&to, relay_snac(cx, im))
        }
    };
    if delivered_to > 0 {
        return delivered(cx, im, &to);
    }
    // Nobody signed on took it: store it when the sender asked for that, else "not logged on".
    if im.channel != IcbmChannel::Im || !im.store_offline() {
        return cx.error(FAMILY, ErrorCode::NotLoggedOn);
    }
    let message = OfflineMessage {
        recipient: to.to_string(),
        sender: cx.session.screen_name().to_owned(),
        sent_at: i64::from(unix_now()),
        cookie: im.cookie.0,
        channel: im.channel.value(),
        tlvs: im
            .tlvs
            .without(&[flapjack_wire::family::icbm::tag::REQUEST_HOST_ACK])
            .as_bytes()
            .to_vec(),
    };
    match cx.state.store.store_offline_message(message).await {
        Ok(()) => cx.state.metrics.incr(&cx.state.metrics.offline_messages_stored),
        Err(StoreError::NoSuchAccount(_)) => return cx.error(FAMILY, ErrorCode::NotLoggedOn),
        Err(StoreError::QuotaExceeded(_)) => {
            return cx.error_with_subcode(
                FAMILY,
                ErrorCode::NotLoggedOn,
                IcbmErrorSubcode::OfflineStoreFull.value(),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "storing an offline message failed");
            return cx.error(FAMILY, ErrorCode::GeneralFailure);
        }
    }
    if im.wants_ack() {
        cx.reply(Message::Icbm(Icbm::HostAck(HostAck::for_im(im))))?;
    }
    Ok(())
}

/// Answers a warn request (0x0008) with 0x0009 (delta applied, new level), or an error:
/// 0x08 for warning yourself, 0x04 "not logged on" when the victim is offline or either side
/// blocks the other, 0x0D "request denied" for bots, a victim at 100 %, or a warner holding
/// no credit against the victim (no IM received from them recently). The victim's sessions get
/// 0x0001/0x0010 with the new level and, unless anonymous, the warner's user info; its
/// watchers see the new level in a fresh arrival.
async fn warn(cx: &Cx<'_>, mode: WarnMode, screen_name: &ScreenName<'_>) -> Result<(), ServiceError> {
    let warner = cx.session.normalized();
    let victim = normalize_screen_name(screen_name.as_bytes());
    if victim == warner {
        return cx.error(FAMILY, ErrorCode::NotSupportedByHost);
    }
    let online: Vec<_> = cx
        .state
        .registry
        .sessions(&victim)
        .into_iter()
        .filter(|s| s.is_ready())
        .collect();
    if online.is_empty() || !super::presence::may_reach_online(cx.state, cx.session, &victim) {
        return cx.error(FAMILY, ErrorCode::NotLoggedOn);
    }
    if online.iter().any(|s| s.info().bot) {
        return cx.error(FAMILY, ErrorCode::RequestDenied);
    }
    let tracker = &cx.state.warnings;
    // One warning at a time: the read-modify-write of the level below must not interleave.
    let _serial = tracker.serialize().await;
    let started = std::time::Instant::now();
    if !tracker.has_credit(warner, &victim, started) {
        tracing::info!(victim = %victim, "warning refused: no IM received from the victim recently");
        return cx.error(FAMILY, ErrorCode::RequestDenied);
    }
    let account = match cx.state.store.account(&victim).await {
        Ok(Some(a)) => a,
        Ok(None) => return cx.error(FAMILY, ErrorCode::NotLoggedOn),
        Err(e) => {
            tracing::error!(error = %e, "reading a warning level failed");
            return cx.error(FAMILY, ErrorCode::GeneralFailure);
        }
    };
    let now = unix_now();
    let decay = cx.state.config.warning_decay;
    let since = u32::try_from(account.warning_updated).unwrap_or(0);
    let current = decay.apply(account.warning, since, now);
    let anonymous = mode == WarnMode::Anonymous;
    let (delta, level) = crate::warning::raise(current, crate::warning::delta_for(anonymous));
    if delta == 0 {
        return cx.error(FAMILY, ErrorCode::RequestDenied);
    }
    if let Err(e) = cx.state.store.set_warning_at(&victim, level, i64::from(now)).await {
        tracing::error!(error = %e, "storing a warning level failed");
        return cx.error(FAMILY, ErrorCode::GeneralFailure);
    }
    // Committed: spend the credit, update the live sessions, tell everyone.
    tracker.spend(warner, &victim, started);
    let sessions = cx.state.registry.sessions(&victim);
    for s in &sessions {
        s.with_state(|st| st.set_warning(level, now, decay));
    }
    tracing::info!(victim = %victim, delta, level, anonymous, "warned");
    let notice = EvilNotification {
        level,
        warner: (!anonymous).then(|| cx.session.user_info(now)),
    };
    cx.state.registry.deliver(
        &victim,
        encode_unsolicited(Message::Oservice(Oservice::EvilNotification(notice))),
    );
    if let Some(s) = sessions.iter().find(|s| s.is_ready()) {
        super::presence::status_changed(cx.state, s);
    }
    cx.reply(Message::Icbm(Icbm::WarnReply {
        delta,
        new_level: level,
    }))
}

/// Delivers the stored offline messages (0x0007 with TLVs 0x0006 and 0x0016), then the
/// 0x0017 end marker when `requested` (an answer to 0x0010).
async fn deliver_offline(cx: &Cx<'_>, requested: bool) -> Result<(), ServiceError> {
    let messages = match super::sign_on::take_offline_messages(cx.state, cx.session).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "fetching offline messages failed");
            Vec::new()
        }
    };
    let me = screen_name_of(cx);
    for m in messages {
        let Ok(tlvs) = TlvBlock::from_raw(m.tlvs) else {
            continue;
        };
        let sent = SendIm::new(IcbmCookie(m.cookie), IcbmChannel::from(m.channel), me.clone(), tlvs);
        let sender_tlvs = UserInfoTlvs {
            class: Some(class::AIM),
            ..UserInfoTlvs::default()
        }
        .build()?;
        let sender_name = ScreenName::new(m.sender.into_bytes()).unwrap_or_else(|_| ScreenName::empty());
        let sender = UserInfo::new(sender_name, 0, sender_tlvs);
        let sent_at = u32::try_from(m.sent_at).unwrap_or(0);
        cx.notify(Message::Icbm(Icbm::IncomingIm(IncomingIm::offline(
            &sent, sender, sent_at,
        )?)))?;
    }
    if requested {
        cx.reply(Message::Icbm(Icbm::OfflineDone))?;
    }
    Ok(())
}

/// At sign-on, clients that did not announce offline-message support (ICBM flag 0x0100, which
/// makes them ask with 0x0010) get their stored messages pushed.
pub async fn on_signed_on(cx: &Cx<'_>) -> Result<(), ServiceError> {
    let will_ask = cx
        .session
        .read_state(|s| s.icbm.is_some_and(|p| p.flags & param_flags::OFFLINE_MSGS_ALLOWED != 0));
    if will_ask {
        return Ok(());
    }
    deliver_offline(cx, false).await
}
