//! Family 0x000D CHAT_NAV: exchanges, room lookup and room creation (§8.11).
//!
//! Served on its own connection (host online 0x000D, 0x0001), reached through a service
//! request on BOS ([`service_request`]). Every answer is a nav-info reply (0x0009):
//!
//! * 0x0002 rights → max concurrent rooms + the infos of exchanges 4 and 5;
//! * 0x0003 exchange info → max concurrent rooms + that exchange (unknown: error 0x08);
//! * 0x0004 room info → the full room info (unknown room: error 0x14, no match);
//! * 0x0008 create room → the full room info: on exchange 4 the room is made on demand, on
//!   exchange 5 only existing (operator-defined) rooms are found, otherwise error 0x14.

use flapjack_wire::ErrorCode;
use flapjack_wire::family::chat_nav::{ChatNav, NavInfo, RoomInfo};
use flapjack_wire::family::oservice::ServiceRequest;
use flapjack_wire::snac::Message;

use super::{Cx, ServiceError};
use crate::chat::{PRIVATE_EXCHANGE, PUBLIC_EXCHANGE, RoomKey, is_known_exchange};
use crate::cookie::ServiceKind;

/// The family id.
pub const FAMILY: u16 = 0x000D;
/// The version announced in host versions.
pub const VERSION: u16 = 1;

/// Handles one CHAT_NAV SNAC.
pub async fn handle(cx: &Cx<'_>, message: ChatNav<'_>) -> Result<(), ServiceError> {
    let config = cx.state.chat.config();
    match message {
        ChatNav::RequestRights => {
            let exchanges = [
                config.exchange_info(PRIVATE_EXCHANGE)?,
                config.exchange_info(PUBLIC_EXCHANGE)?,
            ];
            let info = NavInfo::with_exchanges(config.max_concurrent_rooms, &exchanges)?;
            cx.reply(Message::ChatNav(ChatNav::NavInfo(info)))
        }
        ChatNav::RequestExchangeInfo(exchange) => {
            if !is_known_exchange(exchange) {
                return cx.error(FAMILY, ErrorCode::NotSupportedByHost);
            }
            let info = NavInfo::with_exchanges(config.max_concurrent_rooms, &[config.exchange_info(exchange)?])?;
            cx.reply(Message::ChatNav(ChatNav::NavInfo(info)))
        }
        ChatNav::RequestRoomInfo(req) => {
            if !is_known_exchange(req.room.exchange) {
                return cx.error(FAMILY, ErrorCode::NotSupportedByHost);
            }
            match cx.state.chat.room(&RoomKey::from_id(&req.room)) {
                Some(room) => cx.reply(Message::ChatNav(ChatNav::NavInfo(NavInfo::with_room(&room.info()?)?))),
                None => cx.error(FAMILY, ErrorCode::NoMatch),
            }
        }
        ChatNav::CreateRoom(info) => create_room(cx, &info),
        // 0x0009 is the server's; anything else is not ours.
        ChatNav::NavInfo(_) => cx.error(FAMILY, ErrorCode::InvalidSnac),
    }
}

fn create_room(cx: &Cx<'_>, info: &RoomInfo<'_>) -> Result<(), ServiceError> {
    let exchange = info.id.exchange;
    if !is_known_exchange(exchange) {
        return cx.error(FAMILY, ErrorCode::NotSupportedByHost);
    }
    // The decoder guarantees TLV 0x00D3.
    let name = info.name().unwrap_or_default();
    let rooms = &cx.state.chat;
    let room = if exchange == PUBLIC_EXCHANGE {
        match rooms.find(PUBLIC_EXCHANGE, name) {
            Some(room) => room,
            None => {
                tracing::debug!(room = %String::from_utf8_lossy(name), "no such public room");
                return cx.error(FAMILY, ErrorCode::NoMatch);
            }
        }
    } else {
        match rooms.get_or_create(name) {
            Ok(room) => room,
            Err(why) => {
                tracing::debug!(room = %String::from_utf8_lossy(name), why, "room not created");
                return cx.error(FAMILY, ErrorCode::RequestDenied);
            }
        }
    };
    cx.reply(Message::ChatNav(ChatNav::NavInfo(NavInfo::with_room(&room.info()?)?)))
}

/// Answers a BOS service request (0x0001/0x0004) for CHAT_NAV with a redirect.
pub fn service_request(cx: &Cx<'_>, req: &ServiceRequest<'_>) -> Result<(), ServiceError> {
    super::oservice::redirect(cx, FAMILY, ServiceKind::Family(FAMILY), req.wants_tls())
}

/// The CHAT_NAV connection sent client ready: index it under its account so that a BOS
/// sign-off ends it, or end it now when its account has no BOS session left.
pub async fn on_client_ready(cx: &Cx<'_>) -> Result<(), ServiceError> {
    super::chat::attach_to_account(cx);
    Ok(())
}
