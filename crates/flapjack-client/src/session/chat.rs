//! Chat rooms (§8.11): CHAT_NAV to create or find a room, one CHAT connection per room.
//!
//! ```text
//! JoinChat("lounge")
//!   BOS      01/04 family 0x000D         → 01/05 host + cookie     (once)
//!   CHAT_NAV connect, OSERVICE opening, 0D/02 rights, 01/02 ready
//!            0D/08 create room "lounge"  → 0D/09 room info (exchange, cookie, instance)
//!   BOS      01/04 family 0x000E + room  → 01/05 host + cookie
//!   CHAT     connect, OSERVICE opening, 01/02 ready
//!            ← 0E/03 occupants, 0E/02 room info  ⇒ ChatJoined
//! ```
//! An invitation carries the room's identity, so joining from one skips CHAT_NAV.

use flapjack_wire::family::chat::{Chat, ChatSend};
use flapjack_wire::family::chat_nav::{ChatNav, RoomInfo};
use flapjack_wire::family::icbm::{Icbm, SendIm, encode_text};
use flapjack_wire::family::oservice::{Oservice, ServiceRequest, ServiceResponse};
use flapjack_wire::snac::{Message, SnacHeader};
use flapjack_wire::{Family, IcbmCookie, RoomId};

use super::bos::{charset_name, normalize, screen_name};
use super::conn::Phase;
use super::{ConnId, ConnKind, Session, split_host_port};
use crate::error::{ClientError, RequestContext};
use crate::event::{ChatRoom, Event};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum NavState {
    #[default]
    None,
    Requested,
    Connecting(ConnId),
    Ready(ConnId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoomState {
    /// Waiting for CHAT_NAV.
    AwaitNav,
    /// 0D/08 sent.
    Creating,
    /// 01/04 for the room sent.
    AwaitRedirect,
    /// The room's connection is opening.
    Connecting(ConnId),
    /// In the room.
    Joined(ConnId),
}

#[derive(Debug)]
struct Room {
    name: String,
    exchange: u16,
    id: Option<RoomId<'static>>,
    state: RoomState,
    members: Vec<String>,
}

/// Chat navigation and the rooms.
#[derive(Debug, Default)]
pub(super) struct ChatState {
    nav: NavState,
    rooms: Vec<Room>,
}

impl ChatState {
    fn room(&mut self, name: &str) -> Option<&mut Room> {
        self.rooms.iter_mut().find(|r| r.name.eq_ignore_ascii_case(name))
    }
}

impl Session {
    pub(super) fn join_chat(&mut self, name: &str, exchange: u16) -> Result<(), ClientError> {
        let bos = self.bos_id().ok_or(ClientError::NotSignedOn)?;
        if name.trim().is_empty() || name.len() > 200 {
            return Err(ClientError::InvalidRequest(
                "a room name must have 1 to 200 bytes".into(),
            ));
        }
        if self.chat.room(name).is_some() {
            return Err(ClientError::InvalidRequest(format!("already in or joining {name:?}")));
        }
        self.chat.rooms.push(Room {
            name: name.to_owned(),
            exchange,
            id: None,
            state: RoomState::AwaitNav,
            members: Vec::new(),
        });
        match self.chat.nav {
            NavState::Ready(nav) => self.create_room(nav, name),
            NavState::Requested | NavState::Connecting(_) => {}
            NavState::None => {
                let req = ServiceRequest::new(Family::ChatNav, self.bos.tls);
                let ctx = RequestContext::ServiceRequest {
                    family: Family::ChatNav,
                    room: None,
                };
                self.with_conn(bos, |c, out, now| {
                    c.send_snac(Message::Oservice(Oservice::ServiceRequest(req)), Some(ctx), out, now);
                });
                self.chat.nav = NavState::Requested;
            }
        }
        Ok(())
    }

    pub(super) fn join_chat_room(&mut self, room: ChatRoom) -> Result<(), ClientError> {
        self.bos_id().ok_or(ClientError::NotSignedOn)?;
        if self.chat.room(&room.name).is_some() {
            return Err(ClientError::InvalidRequest(format!(
                "already in or joining {:?}",
                room.name
            )));
        }
        let id = room.id()?;
        self.chat.rooms.push(Room {
            name: room.name.clone(),
            exchange: room.exchange,
            id: Some(id),
            state: RoomState::AwaitRedirect,
            members: Vec::new(),
        });
        self.request_room_connection(&room.name);
        Ok(())
    }

    fn create_room(&mut self, nav: ConnId, name: &str) {
        let Some(room) = self.chat.room(name) else {
            return;
        };
        room.state = RoomState::Creating;
        let exchange = room.exchange;
        let info = match RoomInfo::create_room(exchange, name.as_bytes()) {
            Ok(i) => i,
            Err(e) => {
                self.emit(Event::Error(ClientError::Encode(e)));
                self.chat_join_failed(name);
                return;
            }
        };
        let ctx = RequestContext::ChatRoom { room: name.to_owned() };
        self.with_conn(nav, |c, out, now| {
            c.send_snac(Message::ChatNav(ChatNav::CreateRoom(info)), Some(ctx), out, now);
        });
    }

    fn request_room_connection(&mut self, name: &str) {
        let Some(bos) = self.bos_id() else {
            return;
        };
        let tls = self.bos.tls;
        let Some(room) = self.chat.room(name) else {
            return;
        };
        let Some(id) = room.id.clone() else {
            return;
        };
        room.state = RoomState::AwaitRedirect;
        let req = match ServiceRequest::chat(&id, tls) {
            Ok(r) => r,
            Err(e) => {
                self.emit(Event::Error(ClientError::Encode(e)));
                self.chat_join_failed(name);
                return;
            }
        };
        let ctx = RequestContext::ServiceRequest {
            family: Family::Chat,
            room: Some(name.to_owned()),
        };
        self.with_conn(bos, |c, out, now| {
            c.send_snac(Message::Oservice(Oservice::ServiceRequest(req)), Some(ctx), out, now);
        });
    }

    /// 01/05 on BOS: open the service it points to.
    pub(super) fn service_response(&mut self, ctx: Option<RequestContext>, resp: &ServiceResponse<'_>) {
        let Some(RequestContext::ServiceRequest { family, room }) = ctx else {
            return;
        };
        let addr = String::from_utf8_lossy(resp.address()).into_owned();
        let default_port = self
            .conn(self.bos_id().unwrap_or(super::ConnId(0)))
            .map_or(5190, |c| c.port);
        let (host, port) = split_host_port(&addr, default_port);
        let tls = match (resp.tls_state(), resp.tls_cert_name()) {
            (Some(state), Some(name)) if state != 0 => Some(String::from_utf8_lossy(name).into_owned()),
            (Some(state), None) if state != 0 => Some(host.clone()),
            _ => None,
        };
        let cookie = resp.cookie().to_vec();
        match (family, room) {
            (Family::ChatNav, _) => {
                let id = self.open_service(ConnKind::ChatNav, host, port, tls, cookie);
                self.chat.nav = NavState::Connecting(id);
            }
            (Family::Chat, Some(name)) => {
                if self.chat.room(&name).is_none() {
                    return; // left meanwhile
                }
                let id = self.open_service(ConnKind::Chat { room: name.clone() }, host, port, tls, cookie);
                if let Some(room) = self.chat.room(&name) {
                    room.state = RoomState::Connecting(id);
                }
            }
            _ => {}
        }
    }

    pub(super) fn service_request_failed(&mut self, family: Family, room: Option<String>) {
        match (family, room) {
            (Family::ChatNav, _) => self.chat_nav_lost("no chat navigation service".into()),
            (_, Some(room)) => self.chat_join_failed(&room),
            _ => {}
        }
    }

    /// The CHAT_NAV connection finished its opening.
    pub(super) fn chat_nav_ready(&mut self, id: ConnId) {
        self.with_conn(id, |c, out, now| {
            c.send_snac(Message::ChatNav(ChatNav::RequestRights), None, out, now);
        });
        self.send_client_ready(id);
        self.with_conn(id, |c, _, _| c.phase = Phase::Ready);
        self.chat.nav = NavState::Ready(id);
        let waiting: Vec<String> = self
            .chat
            .rooms
            .iter()
            .filter(|r| r.state == RoomState::AwaitNav)
            .map(|r| r.name.clone())
            .collect();
        for name in waiting {
            self.create_room(id, &name);
        }
    }

    pub(super) fn chat_nav_snac(&mut self, id: ConnId, header: SnacHeader, m: ChatNav<'_>) {
        let ChatNav::NavInfo(info) = m else {
            return;
        };
        let ctx = self.conn_mut(id).and_then(|c| c.take_pending(header.request_id));
        let Some(RequestContext::ChatRoom { room: name }) = ctx else {
            return; // the rights reply
        };
        let Some(room_info) = info.room_info() else {
            self.emit(Event::Error(ClientError::InvalidRequest(format!(
                "the server did not create chat room {name:?}"
            ))));
            self.chat_join_failed(&name);
            return;
        };
        let id = room_info.id.clone().into_owned();
        if let Some(room) = self.chat.room(&name) {
            room.id = Some(id);
        }
        self.request_room_connection(&name);
    }

    /// A room's connection finished its opening.
    pub(super) fn chat_conn_ready(&mut self, id: ConnId, _room: &str) {
        self.send_client_ready(id);
        self.with_conn(id, |c, _, _| c.phase = Phase::Ready);
    }

    pub(super) fn chat_snac(&mut self, name: &str, m: Chat<'_>) {
        match m {
            Chat::RoomInfoUpdate(info) => {
                let Some(room) = self.chat.room(name) else {
                    return;
                };
                if let RoomState::Connecting(conn) = room.state {
                    room.state = RoomState::Joined(conn);
                    room.id = Some(info.id.clone().into_owned());
                    let chat_room = ChatRoom::from_id(&info.id, Some(&room.name));
                    let members = room.members.clone();
                    self.emit(Event::ChatJoined {
                        room: chat_room,
                        members,
                    });
                }
            }
            Chat::UsersJoined(users) => {
                let Some(room) = self.chat.room(name) else {
                    return;
                };
                let joined = matches!(room.state, RoomState::Joined(_));
                let room_name = room.name.clone();
                let mut events = Vec::new();
                for u in users.iter() {
                    let sn = u.screen_name.to_string_lossy();
                    if !room.members.iter().any(|m| normalize(m) == normalize(&sn)) {
                        room.members.push(sn.clone());
                    }
                    if joined {
                        events.push(Event::ChatMemberJoined {
                            room: room_name.clone(),
                            screen_name: sn,
                        });
                    }
                }
                for e in events {
                    self.emit(e);
                }
            }
            Chat::UsersLeft(users) => {
                let Some(room) = self.chat.room(name) else {
                    return;
                };
                let room_name = room.name.clone();
                let mut events = Vec::new();
                for u in users.iter() {
                    let sn = u.screen_name.to_string_lossy();
                    room.members.retain(|m| normalize(m) != normalize(&sn));
                    events.push(Event::ChatMemberLeft {
                        room: room_name.clone(),
                        screen_name: sn,
                    });
                }
                for e in events {
                    self.emit(e);
                }
            }
            Chat::Incoming(msg) => {
                let from = msg
                    .sender()
                    .map(|s| s.screen_name.to_string_lossy())
                    .unwrap_or_default();
                let text = flapjack_wire::family::icbm::decode_named_charset(msg.charset(), msg.text());
                let room = self
                    .chat
                    .room(name)
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| name.to_owned());
                self.emit(Event::ChatMessage {
                    room,
                    from,
                    text,
                    whisper: !msg.is_public(),
                });
            }
            Chat::Send(_) => {}
        }
    }

    pub(super) fn chat_send(&mut self, name: &str, text: &str) -> Result<(), ClientError> {
        let Some(RoomState::Joined(conn)) = self.chat.room(name).map(|r| r.state) else {
            return Err(ClientError::UnknownRoom(name.to_owned()));
        };
        let (charset, bytes) = encode_text(text);
        let cookie = IcbmCookie(self.random_cookie());
        let msg = ChatSend::new(cookie, &bytes, charset_name(charset).as_bytes(), false)?;
        let ctx = RequestContext::ChatSend { room: name.to_owned() };
        self.with_conn(conn, |c, out, now| {
            c.send_snac(Message::Chat(Chat::Send(msg)), Some(ctx), out, now);
        });
        Ok(())
    }

    pub(super) fn leave_chat(&mut self, name: &str) -> Result<(), ClientError> {
        let Some(pos) = self.chat.rooms.iter().position(|r| r.name.eq_ignore_ascii_case(name)) else {
            return Err(ClientError::UnknownRoom(name.to_owned()));
        };
        let room = self.chat.rooms.remove(pos);
        match room.state {
            RoomState::Joined(conn) => {
                // Send what is queued for the room, then say goodbye.
                self.with_conn(conn, |c, _, _| c.close_when_drained = true);
            }
            RoomState::Connecting(conn) => self.drop_conn(conn),
            _ => {}
        }
        self.emit(Event::ChatLeft {
            room: room.name,
            reason: None,
        });
        Ok(())
    }

    pub(super) fn invite_to_chat(&mut self, name: &str, who: &str, message: &str) -> Result<(), ClientError> {
        let bos = self.bos_id().ok_or(ClientError::NotSignedOn)?;
        let Some(id) = self.chat.room(name).and_then(|r| r.id.clone()) else {
            return Err(ClientError::UnknownRoom(name.to_owned()));
        };
        let sn = screen_name(who)?;
        let cookie = IcbmCookie(self.random_cookie());
        let im = SendIm::chat_invite(cookie, sn, &id, message)?;
        self.with_conn(bos, |c, out, now| {
            c.send_snac(Message::Icbm(Icbm::SendIm(im)), None, out, now);
        });
        Ok(())
    }

    /// A join failed before the room was entered.
    pub(super) fn chat_join_failed(&mut self, name: &str) {
        if let Some(pos) = self.chat.rooms.iter().position(|r| r.name.eq_ignore_ascii_case(name)) {
            let room = self.chat.rooms.remove(pos);
            if let RoomState::Connecting(c) | RoomState::Joined(c) = room.state {
                self.drop_conn(c);
            }
            self.emit(Event::ChatLeft {
                room: room.name,
                reason: Some("the room could not be joined".into()),
            });
        }
    }

    /// CHAT_NAV is gone: rooms still waiting for it fail.
    pub(super) fn chat_nav_lost(&mut self, reason: String) {
        if let NavState::Connecting(id) | NavState::Ready(id) = self.chat.nav {
            self.drop_conn(id);
        }
        self.chat.nav = NavState::None;
        let waiting: Vec<String> = self
            .chat
            .rooms
            .iter()
            .filter(|r| matches!(r.state, RoomState::AwaitNav | RoomState::Creating))
            .map(|r| r.name.clone())
            .collect();
        if !waiting.is_empty() {
            self.emit(Event::Error(ClientError::Connection {
                kind: ConnKind::ChatNav,
                reason,
            }));
        }
        for name in waiting {
            self.chat_join_failed(&name);
        }
    }

    /// A room's connection is gone.
    pub(super) fn chat_conn_lost(&mut self, name: &str, reason: Option<String>) {
        if let Some(pos) = self.chat.rooms.iter().position(|r| r.name.eq_ignore_ascii_case(name)) {
            let room = self.chat.rooms.remove(pos);
            self.emit(Event::ChatLeft {
                room: room.name,
                reason,
            });
        }
    }
}
