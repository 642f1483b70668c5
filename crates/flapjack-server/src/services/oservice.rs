//! Family 0x0001 OSERVICE: the sign-on handshake (§7) and generic service control.
//!
//! Host online is sent by the connection task when the cookie is accepted; this module answers
//! client versions (host versions + MOTD), the rate query, the self-info query, idle and status
//! updates, and marks the session signed on at client ready.

use std::sync::Mutex;

use bytes::Bytes;
use flapjack_wire::family::oservice::{FamilyVersion, Motd, MotdType, Oservice, ServiceResponse, tls_state};
use flapjack_wire::snac::Message;
use flapjack_wire::{ErrorCode, Family, List, Snac, SnacHeader};

use super::{Cx, ServiceError, families_for, host_version, unix_now};
use crate::cookie::{Grant, ServiceKind};
use crate::rate::rate_reply;
use crate::session::{Session, encode_snac, next_server_request_id};

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
            let families = families_for(cx.service);
            static HOST_VERSIONS: EncodedCache<&'static [u16]> = EncodedCache::new();
            let host_versions = HOST_VERSIONS.get_or_encode(
                |k| *k == families,
                || families,
                || {
                    let ours: Vec<FamilyVersion> = families
                        .iter()
                        .map(|&f| FamilyVersion {
                            family: Family::from(f),
                            version: host_version(f),
                        })
                        .collect();
                    let list = List::from_items(ours.iter(), usize::from(u16::MAX))?;
                    Ok(encode_snac(&Snac::new(
                        0,
                        Message::Oservice(Oservice::HostVersions(list)),
                    )))
                },
            )?;
            push_encoded(cx.session, &host_versions, cx.request_id)?;
            if let Some(text) = &cx.state.config.motd {
                static MOTDS: EncodedCache<String> = EncodedCache::new();
                let motd = MOTDS.get_or_encode(
                    |k| k == text,
                    || text.clone(),
                    || {
                        let motd = Motd::new(MotdType::Normal, Some(text.as_bytes()))?;
                        Ok(encode_snac(&Snac::new(0, Message::Oservice(Oservice::Motd(motd)))))
                    },
                )?;
                push_encoded(cx.session, &motd, next_server_request_id())?;
            }
            Ok(())
        }
        Oservice::RateParamsQuery => {
            let version = cx.session.read_state(|s| {
                s.client_versions
                    .iter()
                    .find(|(f, _)| *f == FAMILY)
                    .map_or(1, |(_, v)| *v)
            });
            let (families, bot) = (cx.families, cx.session.info().bot);
            // The reply depends on these three only, and it is the largest answer of a sign-on
            // (every SNAC type served, in five classes): it is built once per combination.
            static RATE_REPLIES: EncodedCache<(Vec<u16>, u16, bool)> = EncodedCache::new();
            let reply = RATE_REPLIES.get_or_encode(
                |(f, v, b)| f.as_slice() == families && *v == version && *b == bot,
                || (families.to_vec(), version, bot),
                || {
                    let reply = rate_reply(families, version, bot)?;
                    Ok(encode_snac(&Snac::new(
                        0,
                        Message::Oservice(Oservice::RateParamsReply(reply)),
                    )))
                },
            )?;
            push_encoded(cx.session, &reply, cx.request_id)
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
                let result = super::signed_on(cx).await;
                super::sign_on::finish(cx.session);
                result?;
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

/// Encoded SNACs that depend on their key alone, built once per process and copied for each
/// use ([`push_encoded`]): the sign-on's fixed answers (the rate reply, host versions, the
/// MOTD, the feedbag rights) would otherwise be built anew for every login.
pub(crate) struct EncodedCache<K> {
    entries: Mutex<Vec<(K, Bytes)>>,
}

/// Most keys an [`EncodedCache`] keeps; others are encoded at every use.
const CACHE_KEYS: usize = 32;

impl<K> EncodedCache<K> {
    /// An empty cache.
    pub(crate) const fn new() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// The encoded SNAC of the key that `matches`, encoded by `encode` (and kept under
    /// `key()`) the first time.
    pub(crate) fn get_or_encode(
        &self,
        matches: impl Fn(&K) -> bool,
        key: impl FnOnce() -> K,
        encode: impl FnOnce() -> Result<Bytes, ServiceError>,
    ) -> Result<Bytes, ServiceError> {
        let lock = || self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, bytes)) = lock().iter().find(|(k, _)| matches(k)) {
            return Ok(bytes.clone());
        }
        let bytes = encode()?;
        let mut entries = lock();
        if entries.len() < CACHE_KEYS && !entries.iter().any(|(k, _)| matches(k)) {
            entries.push((key(), bytes.clone()));
        }
        Ok(bytes)
    }
}

/// Queues a copy of the encoded SNAC `template` with `request_id` in its header.
pub(crate) fn push_encoded(session: &Session, template: &[u8], request_id: u32) -> Result<(), ServiceError> {
    let mut snac = template.to_vec();
    // The SNAC header: family, subtype, flags (2 bytes each), then the request id.
    if let Some(id) = snac.get_mut(6..10) {
        id.copy_from_slice(&request_id.to_be_bytes());
    }
    Ok(session.outbox().push_snac_bytes(Bytes::from(snac))?)
}

/// Sends 0x0001/0x000F with the session's own user info: one block, the one others see,
/// copied from the session's encoded block ([`Session::encoded_user_info`], built at most once
/// a second and state change).
pub fn send_self_info(cx: &Cx<'_>) -> Result<(), ServiceError> {
    let info = cx.session.encoded_user_info(unix_now());
    let mut snac = Vec::with_capacity(SnacHeader::LEN + info.len());
    SnacHeader {
        family: FAMILY,
        subtype: flapjack_wire::family::oservice::subtype::SELF_INFO,
        flags: 0,
        request_id: cx.request_id,
    }
    .encode(&mut snac);
    snac.extend_from_slice(&info);
    Ok(cx.session.outbox().push_snac_bytes(Bytes::from(snac))?)
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
