//! Services: one module per SNAC family.
//!
//! The connection task decodes a SNAC, checks its rate class and that its family is served on
//! this connection, then calls [`dispatch`] with a [`Cx`] (the server state, the session, the
//! request id). Each family module exposes
//!
//! ```text
//! pub const FAMILY: u16;      // the family id
//! pub const VERSION: u16;     // the version announced in 0x0001/0x0018
//! pub async fn handle(cx: &Cx<'_>, message: TheFamily<'_>) -> Result<(), ServiceError>;
//! ```
//!
//! To add a family: write the module, add one arm to [`dispatch`], and list the family in
//! [`families_for`] for the connections that serve it (that list feeds host online, host
//! versions and the rate groups). Hooks for sign-on and sign-off fan-out (presence) are
//! [`signed_on`] and [`signed_off`]; service connections (chat, chat nav) end through
//! [`service_closed`], and [`serves`] says which cookies' services are served at all.

pub mod buddy;
pub mod chat;
pub mod chat_nav;
pub mod feedbag;
pub mod icbm;
pub mod locate;
pub mod oservice;
pub mod pd;
pub mod presence;
pub mod sign_on;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use flapjack_wire::snac::{Message, SnacError};
use flapjack_wire::{EncodeError, ErrorCode, Family, Snac};

use crate::cookie::ServiceKind;
use crate::server::ServerState;
use crate::session::{PushError, Session, next_server_request_id};

/// Why a service could not finish handling a SNAC; the connection ends.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The connection's own queue refused the reply.
    #[error(transparent)]
    Push(#[from] PushError),
    /// A reply could not be encoded (a bug, or absurd input sizes).
    #[error("encoding a reply: {0}")]
    Encode(#[from] EncodeError),
}

/// What a service handler gets: the server, the session and the request being answered.
#[derive(Debug)]
pub struct Cx<'a> {
    /// Shared server state (store, registry, config).
    pub state: &'a Arc<ServerState>,
    /// The session the SNAC came from.
    pub session: &'a Arc<Session>,
    /// What this connection is for.
    pub service: &'a ServiceKind,
    /// Families served on this connection.
    pub families: &'a [u16],
    /// The request id of the SNAC being handled.
    pub request_id: u32,
    /// When the SNAC was read (the one clock reading its handling needs; see [`unix_at`]).
    pub received: Instant,
}

impl Cx<'_> {
    /// Sends `message` as the reply (same request id).
    pub fn reply(&self, message: Message<'_>) -> Result<(), ServiceError> {
        Ok(self.session.outbox().push_snac(&Snac::new(self.request_id, message))?)
    }

    /// Sends `message` unprompted (server request id).
    pub fn notify(&self, message: Message<'_>) -> Result<(), ServiceError> {
        Ok(self
            .session
            .outbox()
            .push_snac(&Snac::new(next_server_request_id(), message))?)
    }

    /// Answers with the generic error SNAC of `family`.
    pub fn error(&self, family: u16, code: ErrorCode) -> Result<(), ServiceError> {
        self.reply(Message::Error {
            family: Family::from(family),
            error: SnacError::new(code),
        })
    }

    /// Answers with the generic error SNAC of `family`, with a family-specific subcode.
    pub fn error_with_subcode(&self, family: u16, code: ErrorCode, subcode: u16) -> Result<(), ServiceError> {
        self.reply(Message::Error {
            family: Family::from(family),
            error: SnacError::with_subcode(code, subcode),
        })
    }
}

/// Unix seconds at `at`, an `Instant` the caller already read: the wall clock is read at
/// most about once a second (process-wide) and the monotonic clock carries it in between,
/// so that the message path reads one clock per SNAC. A step of the wall clock shows within
/// a second.
pub fn unix_at(at: Instant) -> u32 {
    static START: OnceLock<Instant> = OnceLock::new();
    /// Unix milliseconds minus milliseconds since `START`; `i64::MIN` before the first reading.
    static OFFSET_MS: AtomicI64 = AtomicI64::new(i64::MIN);
    /// Milliseconds since `START` of the last wall-clock reading.
    static READ_AT_MS: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(Instant::now);
    let since_ms = at
        .saturating_duration_since(start)
        .as_millis()
        .min(u128::from(u64::MAX >> 2)) as u64;
    let mut offset = OFFSET_MS.load(Ordering::Relaxed);
    if offset == i64::MIN || since_ms.saturating_sub(READ_AT_MS.load(Ordering::Relaxed)) >= 1000 {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis().min(u128::from(u64::MAX >> 2)) as i64);
        let mono_ms = Instant::now()
            .saturating_duration_since(start)
            .as_millis()
            .min(u128::from(u64::MAX >> 2)) as i64;
        offset = wall_ms - mono_ms;
        OFFSET_MS.store(offset, Ordering::Relaxed);
        READ_AT_MS.store(mono_ms as u64, Ordering::Relaxed);
    }
    ((since_ms as i64).saturating_add(offset) / 1000).clamp(0, i64::from(u32::MAX)) as u32
}

/// Now, Unix seconds (saturating into `u32`, as the protocol's time fields are).
pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs().min(u64::from(u32::MAX)) as u32)
        .unwrap_or(0)
}

/// The families served on a connection for `service`, in host-online order.
pub fn families_for(service: &ServiceKind) -> &'static [u16] {
    match service {
        ServiceKind::Bos => &[
            oservice::FAMILY,
            locate::FAMILY,
            buddy::FAMILY,
            icbm::FAMILY,
            pd::FAMILY,
            feedbag::FAMILY,
        ],
        // The order Open OSCAR announces (and libpurple's capture shows).
        ServiceKind::ChatRoom { .. } => &[oservice::FAMILY, chat::FAMILY],
        ServiceKind::Family(chat_nav::FAMILY) => &[chat_nav::FAMILY, oservice::FAMILY],
        // The other services are not served yet.
        ServiceKind::Family(_) => &[oservice::FAMILY],
    }
}

/// True when a connection presenting a cookie for `service` is served (others are closed at once).
pub fn serves(service: &ServiceKind) -> bool {
    matches!(
        service,
        ServiceKind::Bos | ServiceKind::ChatRoom { .. } | ServiceKind::Family(chat_nav::FAMILY)
    )
}

/// The version of `family` announced in 0x0001/0x0018.
pub fn host_version(family: u16) -> u16 {
    match family {
        oservice::FAMILY => oservice::VERSION,
        icbm::FAMILY => icbm::VERSION,
        locate::FAMILY => locate::VERSION,
        buddy::FAMILY => buddy::VERSION,
        pd::FAMILY => pd::VERSION,
        feedbag::FAMILY => feedbag::VERSION,
        _ => 1,
    }
}

/// Routes a decoded SNAC of a served family to its module.
pub async fn dispatch(cx: &Cx<'_>, snac: Snac<'_>) -> Result<(), ServiceError> {
    match snac.message {
        Message::Oservice(m) => {
            // Idle and status changes are shown to watchers once OSERVICE has recorded them.
            let announce = presence_fields(cx, &m);
            oservice::handle(cx, m).await?;
            if announce {
                presence::status_changed(cx.state, cx.session);
            }
            Ok(())
        }
        Message::Icbm(m) => icbm::handle(cx, m).await,
        Message::Locate(m) => locate::handle(cx, m).await,
        Message::Buddy(m) => buddy::handle(cx, m).await,
        Message::Pd(m) => pd::handle(cx, m).await,
        Message::Feedbag(m) => feedbag::handle(cx, m).await,
        Message::ChatNav(m) => chat_nav::handle(cx, m).await,
        Message::Chat(m) => chat::handle(cx, m).await,
        // A client reporting an error to us: nothing to answer.
        Message::Error { family, error } => {
            tracing::debug!(?family, code = ?error.code, "client sent an error SNAC");
            Ok(())
        }
        other => cx.error(other.family(), ErrorCode::InvalidSnac),
    }
}

/// For OSERVICE messages that change what watchers see (0x0011 idle, 0x001E status): records
/// what OSERVICE itself does not keep (ICQ direct-connection info, the status-message BART
/// list) and returns true so that the change is announced.
fn presence_fields(cx: &Cx<'_>, m: &flapjack_wire::family::oservice::Oservice<'_>) -> bool {
    use flapjack_wire::family::oservice::Oservice;
    if !matches!(cx.service, ServiceKind::Bos) {
        return false;
    }
    match m {
        Oservice::SetIdle(_) => true,
        Oservice::SetUserInfoFields(f) => {
            let dc = f.tlvs.get(flapjack_wire::userinfo::tag::DC_INFO).map(<[u8]>::to_vec);
            let bart = f.tlvs.get(flapjack_wire::userinfo::tag::BART_INFO).map(<[u8]>::to_vec);
            cx.session.with_state(|s| {
                if dc.is_some() {
                    s.presence.dc_info = dc;
                }
                if bart.is_some() {
                    s.presence.bart_info = bart;
                }
            });
            true
        }
        _ => false,
    }
}

/// Called once when the client sends 0x0001/0x0002 (client ready). On a BOS connection presence
/// (buddy arrival fan-out) hooks in here; a chat connection joins its room, a chat-nav one is
/// indexed under its account.
pub async fn signed_on(cx: &Cx<'_>) -> Result<(), ServiceError> {
    // Service connections (chat rooms, chat nav) have their own client-ready work, no presence.
    match cx.service {
        ServiceKind::Bos => {}
        ServiceKind::ChatRoom { .. } => return chat::on_client_ready(cx).await,
        ServiceKind::Family(chat_nav::FAMILY) => return chat_nav::on_client_ready(cx).await,
        ServiceKind::Family(_) => return Ok(()),
    }
    presence::on_client_ready(cx.state, cx.session).await;
    icbm::on_signed_on(cx).await
}

/// Called once when a BOS session ends (after it left the registry). Presence (departure
/// fan-out) hooks in here.
pub async fn signed_off(state: &Arc<ServerState>, session: &Arc<Session>) {
    tracing::debug!(session = session.id(), "signed off");
    presence::on_signed_off(state, session);
    chat::on_bos_signed_off(state, session);
}

/// Called once when a service (non-BOS) connection ends: it leaves its chat room.
pub async fn service_closed(state: &Arc<ServerState>, session: &Arc<Session>, service: &ServiceKind) {
    chat::on_closed(state, session, service);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_at_follows_the_wall_clock() {
        let before = unix_now();
        let at = unix_at(Instant::now());
        let after = unix_now();
        assert!(before <= at && at <= after, "{before} <= {at} <= {after}");
        // Later instants read later seconds, carried by the monotonic clock.
        let later = Instant::now() + std::time::Duration::from_secs(90);
        assert!((i64::from(unix_at(later)) - i64::from(after) - 90).abs() <= 1);
    }
}
