//! Family 0x000E CHAT: one connection per room (§8.11).
//!
//! * **Join.** A BOS service request for family 0x000E names the room (TLV 0x0001 room triple);
//!   [`service_request`] checks that the room exists (a user-created room that emptied is made
//!   again from its cookie) and has room for the user, and answers with a redirect whose cookie
//!   names the room. The new connection announces 0x0001, 0x000E, and at client ready
//!   ([`on_client_ready`]) joins: users-joined with every occupant to the newcomer, room info
//!   update, then users-joined with the newcomer to the others (the order Mac AIM 4.0.9 needs).
//! * **Messages.** 0x0005 is relayed as 0x0006 to every other occupant (sender user info first,
//!   AIM 2.x), to one user only for a whisper (TLV 0x0002), and back to the sender only when it
//!   asked (TLV 0x0006). Longer texts than the room allows get error 0x0D (request denied); a
//!   whisper to someone not in the room gets error 0x04 (not logged on).
//! * **Leave.** Closing the connection ([`on_closed`]) sends users-left to the rest; the BOS
//!   sign-off of the account's last BOS session ends its chat connections
//!   ([`on_bos_signed_off`]). A user-created room disappears with its last occupant.
//! * **Full rooms** get error 0x15 (list overflow): on the BOS service request, or on the chat
//!   connection at client ready if the room filled up meanwhile (the connection then closes).

use std::sync::Arc;

use flapjack_wire::ErrorCode;
use flapjack_wire::family::chat::Chat;
use flapjack_wire::family::oservice::ServiceRequest;
use flapjack_wire::userinfo::UserInfo;

use super::{Cx, ServiceError, unix_now};
use crate::chat::{JoinError, RoomKey, SendError};
use crate::cookie::ServiceKind;
use crate::server::ServerState;
use crate::session::{Disconnect, Session};

/// The family id.
pub const FAMILY: u16 = 0x000E;
/// The version announced in host versions.
pub const VERSION: u16 = 1;

/// The room a chat connection is for.
fn room_key(service: &ServiceKind) -> Option<RoomKey> {
    match service {
        ServiceKind::ChatRoom {
            exchange,
            cookie,
            instance,
        } => Some(RoomKey {
            exchange: *exchange,
            cookie: cookie.clone(),
            instance: *instance,
        }),
        _ => None,
    }
}

/// Handles one CHAT SNAC.
pub async fn handle(cx: &Cx<'_>, message: Chat<'_>) -> Result<(), ServiceError> {
    let Chat::Send(send) = message else {
        // 0x0002–0x0004 and 0x0006 are the server's.
        return cx.error(FAMILY, ErrorCode::InvalidSnac);
    };
    if !send.is_chat_channel() {
        return cx.error(FAMILY, ErrorCode::InvalidSnac);
    }
    let Some(room) = room_key(cx.service).and_then(|k| cx.state.chat.room(&k)) else {
        return cx.error(FAMILY, ErrorCode::RequestDenied);
    };
    match room.send(cx.session.id(), &send, cx.request_id) {
        Ok(()) => Ok(()),
        Err(SendError::NotMember) => cx.error(FAMILY, ErrorCode::RequestDenied),
        Err(SendError::TooLong { len, max }) => {
            tracing::debug!(len, max, "chat message too long");
            cx.error(FAMILY, ErrorCode::RequestDenied)
        }
        Err(SendError::NoSuchRecipient) => cx.error(FAMILY, ErrorCode::NotLoggedOn),
        Err(SendError::Push(e)) => Err(e.into()),
        Err(SendError::Encode(e)) => Err(e.into()),
    }
}

/// Answers a BOS service request (0x0001/0x0004) for CHAT with a redirect to the room, or with
/// an OSERVICE error: 0x0E without a room triple, 0x14 for an unknown room, 0x15 for a full one.
pub fn service_request(cx: &Cx<'_>, req: &ServiceRequest<'_>) -> Result<(), ServiceError> {
    let oservice = super::oservice::FAMILY;
    let Some(id) = req.room() else {
        return cx.error(oservice, ErrorCode::BustedSnacPayload);
    };
    let Some(room) = cx.state.chat.room_for_join(&RoomKey::from_id(&id)) else {
        return cx.error(oservice, ErrorCode::NoMatch);
    };
    if room.is_full_for(cx.session.normalized()) {
        return cx.error(oservice, ErrorCode::ListOverflow);
    }
    let key = room.key().clone();
    let service = ServiceKind::ChatRoom {
        exchange: key.exchange,
        cookie: key.cookie,
        instance: key.instance,
    };
    super::oservice::redirect(cx, FAMILY, service, req.wants_tls())
}

/// Indexes a CHAT or CHAT_NAV session under its account; when the account has no BOS session
/// (it signed off while this connection was being set up), ends the connection instead and
/// returns false.
pub(crate) fn attach_to_account(cx: &Cx<'_>) -> bool {
    let rooms = &cx.state.chat;
    rooms.add_service_session(cx.session.clone());
    // Added before looking, so a concurrent BOS sign-off sees it or is seen.
    if cx.state.registry.sessions(cx.session.normalized()).is_empty() {
        rooms.remove_service_session(cx.session);
        tracing::info!("service connection without a BOS session; closing");
        cx.session.outbox().disconnect(Disconnect::Administrative);
        return false;
    }
    true
}

/// The user info others see for this occupant: that of the account's signed-on BOS session
/// (away flag, status, idle), else the chat session's own.
fn occupant_info(cx: &Cx<'_>) -> UserInfo<'static> {
    let now = unix_now();
    cx.state
        .registry
        .sessions(cx.session.normalized())
        .into_iter()
        .find(|s| s.is_ready())
        .map_or_else(|| cx.session.user_info(now), |bos| bos.user_info(now))
}

/// The chat connection sent client ready: join its room.
pub async fn on_client_ready(cx: &Cx<'_>) -> Result<(), ServiceError> {
    let Some(key) = room_key(cx.service) else {
        return Ok(());
    };
    if !attach_to_account(cx) {
        return Ok(());
    }
    let info = occupant_info(cx);
    // A room that closes between lookup and join is looked up (or made) again.
    for _ in 0..4 {
        let Some(room) = cx.state.chat.room_for_join(&key) else {
            break;
        };
        match room.join(cx.session.clone(), info.clone()) {
            Ok(()) => {
                tracing::debug!(room = %String::from_utf8_lossy(room.name()), "joined chat room");
                return Ok(());
            }
            Err(JoinError::Closed) => continue,
            Err(JoinError::Full) => {
                cx.error(FAMILY, ErrorCode::ListOverflow)?;
                cx.session.outbox().disconnect(Disconnect::Administrative);
                return Ok(());
            }
            Err(JoinError::Push(e)) => return Err(e.into()),
            Err(JoinError::Encode(e)) => return Err(e.into()),
        }
    }
    cx.error(FAMILY, ErrorCode::NoMatch)?;
    cx.session.outbox().disconnect(Disconnect::Administrative);
    Ok(())
}

/// A CHAT or CHAT_NAV connection ended: leave the room (users-left to the rest) and drop the
/// session from the account's index.
pub fn on_closed(state: &Arc<ServerState>, session: &Arc<Session>, service: &ServiceKind) {
    state.chat.remove_service_session(session);
    if let Some(room) = room_key(service).and_then(|k| state.chat.room(&k)) {
        state.chat.leave(&room, session);
    }
}

/// A BOS session ended: when it was the account's last, its chat and chat-nav connections end
/// too (and so leave their rooms).
pub fn on_bos_signed_off(state: &Arc<ServerState>, session: &Arc<Session>) {
    if !state.registry.sessions(session.normalized()).is_empty() {
        return;
    }
    for s in state.chat.service_sessions(session.normalized()) {
        s.outbox().disconnect(Disconnect::Administrative);
    }
}
