//! Family 0x0001 OSERVICE: the sign-on handshake (§7) and generic service control.
//!
//! Host online is sent by the connection task when the cookie is accepted; this module answers
//! client versions (host versions + MOTD), the rate query, the self-info query, idle and status
//! updates, and marks the session signed on at client ready.

use flapjack_wire::family::oservice::{FamilyVersion, Motd, MotdType, Oservice, SelfInfo, ServiceResponse, tls_state};
use flapjack_wire::snac::Message;
use flapjack_wire::{ErrorCode, Family, List};

use super::{Cx, ServiceError, families_for, host_version, unix_now};
use crate::cookie::{Grant, ServiceKind};
use crate::rate::rate_reply;

/// The family id.
pub const FAMILY: u16 = 0x0001;
/// The version announced in host versions (≥ 4: multi-instance self info, per Open OSCAR).
pub const VERSION: u16 = 4;

/// Handles one OSERVICE SNAC.
pub async fn handle(cx: &Cx<'_>, message: Oservice<'_>) -> Result<(), ServiceError> {
    match message {
        Oservice::ClientVersions(list) => {
            let versions: Vec<(u16, u16)> = list.iter().map(|v| (v.family.value(), v.version)).collect();
            cx.session.with_state(|s| s.client_versions = versions);
            let ours: Vec<FamilyVersion> = families_for(cx.service)
                .iter()
                .map(|&f| FamilyVersion {
                    family: Family::from(f),
                    version: host_version(f),
                })
                .collect();
            cx.reply(Message::Oservice(Oservice::HostVersions(List::from_items(
                ours.iter(),
                usize::from(u16::MAX),
            )?)))?;
            if let Some(text) = &cx.state.config.motd {
                cx.notify(Message::Oservice(Oservice::Motd(Motd::new(
                    MotdType::Normal,
                    Some(text.as_bytes()),
                )?)))?;
            }
            Ok(())
        }
        Oservice::RateParamsQuery => {
            let version = cx.session.with_state(|s| {
                s.client_versions
                    .iter()
                    .find(|(f, _)| *f == FAMILY)
                    .map_or(1, |(_, v)| *v)
            });
            cx.reply(Message::Oservice(Oservice::RateParamsReply(rate_reply(
                cx.families,
                version,
                cx.session.info().bot,
            )?)))
        }
        // Subscriptions to rate classes, privacy flags and the old keepalive need no answer.
        Oservice::RateParamsSubAdd(_) | Oservice::RateParamsDel(_) | Oservice::SetPrivacyFlags(_) | Oservice::Noop => {
            Ok(())
        }
        Oservice::SelfInfoQuery => send_self_info(cx),
        Oservice::SetIdle(seconds) => {
            let now = unix_now();
            cx.session.with_state(|s| {
                s.idle_since = (seconds > 0).then(|| now.saturating_sub(seconds));
            });
            Ok(())
        }
        Oservice::SetUserInfoFields(fields) => {
            if let Some(status) = fields.status() {
                cx.session.with_state(|s| s.status = Some(status));
            }
            send_self_info(cx)
        }
        Oservice::ClientReady(_) => {
            if !cx.session.is_ready() {
                cx.session.set_ready();
                tracing::info!("signed on");
                super::signed_on(cx).await?;
            }
            Ok(())
        }
        // Redirects are handed out on BOS only; CHAT_NAV and CHAT are served (BART, ALERT, … not
        // yet).
        Oservice::ServiceRequest(req) if *cx.service == ServiceKind::Bos => match req.family.value() {
            super::chat_nav::FAMILY => super::chat_nav::service_request(cx, &req),
            super::chat::FAMILY => super::chat::service_request(cx, &req),
            _ => cx.error(FAMILY, ErrorCode::ServiceUnavailable),
        },
        Oservice::ServiceRequest(_) => cx.error(FAMILY, ErrorCode::ServiceUnavailable),
        // Server-to-client messages and migration replies are not valid from a client.
        _ => cx.error(FAMILY, ErrorCode::InvalidSnac),
    }
}

/// Sends 0x0001/0x000F with the session's own user info.
pub fn send_self_info(cx: &Cx<'_>) -> Result<(), ServiceError> {
    let info = cx.session.user_info(unix_now());
    cx.reply(Message::Oservice(Oservice::SelfInfo(SelfInfo::new(info))))
}

/// Answers a service request (0x0001/0x0004) with 0x0001/0x0005 (§7.5): TLVs 0x0005 address,
/// 0x0006 a fresh one-time cookie bound to this account, `service` and the transport, 0x000D
/// `family`, 0x008E TLS state, and 0x008D the certificate name when TLS is used.
///
/// TLS is used when the client asked for it (TLV 0x008C, `wants_tls`), this session is itself
/// TLS and the server has a TLS listener; the address is then the TLS listener's. Otherwise the
/// plain address and TLS state 0 (Open OSCAR always sends 0x008E; libpurple reads it).
pub fn redirect(cx: &Cx<'_>, family: u16, service: ServiceKind, wants_tls: bool) -> Result<(), ServiceError> {
    let state = cx.state;
    let tls = wants_tls && cx.session.info().tls && state.has_tls_listener();
    let address = state.bos_address(tls);
    let grant = Grant {
        normalized: cx.session.normalized().to_owned(),
        screen_name: cx.session.screen_name().to_owned(),
        tls,
        service,
    };
    let cookie = match state.cookies.issue(grant, std::time::Instant::now()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "issuing a service cookie failed");
            return cx.error(FAMILY, ErrorCode::ServiceUnavailable);
        }
    };
    let cert_name = tls.then(|| {
        state
            .config
            .tls
            .cert_name
            .clone()
            .unwrap_or_else(|| crate::tls::host_of(&address).to_owned())
    });
    let response = ServiceResponse::new(
        Family::from(family),
        address.as_bytes(),
        &cookie,
        Some(if tls { tls_state::TLS } else { tls_state::NONE }),
        cert_name.as_deref().map(str::as_bytes),
    )?;
    tracing::debug!(family, tls, %address, "service redirect");
    cx.reply(Message::Oservice(Oservice::ServiceResponse(response)))
}
