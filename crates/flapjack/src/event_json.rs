//! Client events as JSON objects with stable field names, for `flapjack listen` (one object per
//! line) and `flapjack bot` (the object piped to the command).
//!
//! Every object has `"type"` and `"time"` (Unix seconds when the event was received). The
//! schema is [`SCHEMA_HELP`]; fields are only ever added, never renamed or removed.

use flapjack_client::{BuddyList, ChatRoom, ConnKind, Event, TypingEvent, UserStatus, strip_html};
use serde_json::{Value, json};

/// The schema, for `flapjack listen --help`.
pub const SCHEMA_HELP: &str = "\
Output: one JSON object per line on stdout, flushed after each, for every event. Every object
has \"type\" and \"time\" (Unix seconds). Types and their other fields:
  signed_on           screen_name, buddy_list
  im                  from, text (HTML removed), html (as sent), auto_response, offline, sent_at
  host_ack            id, to
  buddy_arrived       screen_name, away, invisible, idle_minutes, online_since, warning_level,
  buddy_changed         status_message (same fields for both)
  buddy_departed      screen_name
  typing              from, state (begun | typed | finished | window_closed)
  buddy_list_changed  buddy_list
  buddy_list_edited   results [{op, name, status}], buddy_list
  self_info           screen_name, away, invisible, idle_minutes, online_since, warning_level,
                        status_message
  user_info           screen_name, profile, away_message, away, idle_minutes, online_since
  motd                text
  chat_joined         room, exchange, members
  chat_message        room, from, text, html, whisper
  chat_member_joined  room, screen_name
  chat_member_left    room, screen_name
  chat_left           room, reason
  chat_invite         from, room, exchange, message
  warned              level, by
  warn_applied        screen_name, delta, new_level
  missed_messages     from, count, reason
  offline_messages_done
  rate_warning, rate_limited, rate_cleared   connection, class, level
  connecting          connection, host, port, tls_cert_name
  login_transcript    steps (array of strings, secrets redacted)
  reconnecting        attempt, delay_ms
  error               message
  signed_off          reason
  other               debug (an event this version has no name for)
buddy_list is {\"groups\": [{\"name\", \"buddies\": [{\"screen_name\", \"alias\"}]}], \"permit\", \"deny\"}.
Missing values are null.";

/// Unix seconds now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The JSON form of a buddy list.
pub fn buddy_list(list: &BuddyList) -> Value {
    json!({
        "groups": list.groups.iter().map(|g| json!({
            "name": g.name,
            "buddies": g.buddies.iter().map(|b| json!({
                "screen_name": b.screen_name,
                "alias": b.alias,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "permit": list.permit,
        "deny": list.deny,
    })
}

fn user(u: &UserStatus) -> serde_json::Map<String, Value> {
    let v = json!({
        "screen_name": u.screen_name,
        "away": u.away,
        "invisible": u.invisible,
        "idle_minutes": u.idle_minutes,
        "online_since": u.online_since,
        "warning_level": u.warning_level,
        "status_message": u.status_message,
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn typing_state(e: TypingEvent) -> &'static str {
    match e {
        TypingEvent::Begun => "begun",
        TypingEvent::Typed => "typed",
        TypingEvent::Finished => "finished",
        TypingEvent::WindowClosed => "window_closed",
        _ => "unknown",
    }
}

fn connection(kind: &ConnKind) -> String {
    match kind {
        ConnKind::Login => "login".into(),
        ConnKind::Bos => "bos".into(),
        ConnKind::ChatNav => "chat_nav".into(),
        ConnKind::Chat { room } => format!("chat:{room}"),
    }
}

fn room_fields(room: &ChatRoom) -> (String, u16) {
    (room.name.clone(), room.exchange)
}

/// The JSON object for an event.
pub fn event(ev: &Event) -> Value {
    let mut obj = match ev {
        Event::SignedOn {
            self_info,
            buddy_list: list,
        } => json!({
            "type": "signed_on",
            "screen_name": self_info.screen_name,
            "buddy_list": buddy_list(list),
        }),
        Event::ImReceived(im) => json!({
            "type": "im",
            "from": im.from.screen_name,
            "text": strip_html(&im.text),
            "html": im.text,
            "auto_response": im.auto_response,
            "offline": im.offline,
            "sent_at": im.sent_at,
        }),
        Event::HostAck { id, to } => json!({"type": "host_ack", "id": id.0, "to": to}),
        Event::BuddyArrived(u) => {
            let mut m = user(u);
            m.insert("type".into(), "buddy_arrived".into());
            Value::Object(m)
        }
        Event::BuddyChanged(u) => {
            let mut m = user(u);
            m.insert("type".into(), "buddy_changed".into());
            Value::Object(m)
        }
        Event::SelfInfo(u) => {
            let mut m = user(u);
            m.insert("type".into(), "self_info".into());
            Value::Object(m)
        }
        Event::BuddyDeparted { screen_name } => json!({"type": "buddy_departed", "screen_name": screen_name}),
        Event::Typing { from, event } => json!({"type": "typing", "from": from, "state": typing_state(*event)}),
        Event::BuddyListChanged(list) => json!({"type": "buddy_list_changed", "buddy_list": buddy_list(list)}),
        Event::BuddyListEdited { results, list, .. } => json!({
            "type": "buddy_list_edited",
            "results": results.iter().map(|r| json!({
                "op": format!("{:?}", r.op).to_lowercase(),
                "name": r.name,
                "status": format!("{:?}", r.status),
            })).collect::<Vec<_>>(),
            "buddy_list": buddy_list(list),
        }),
        Event::UserInfo(r) => json!({
            "type": "user_info",
            "screen_name": r.user.screen_name,
            "profile": r.profile,
            "away_message": r.away_message,
            "away": r.user.away,
            "idle_minutes": r.user.idle_minutes,
            "online_since": r.user.online_since,
        }),
        Event::Motd(text) => json!({"type": "motd", "text": text}),
        Event::ChatJoined { room, members } => {
            let (name, exchange) = room_fields(room);
            json!({"type": "chat_joined", "room": name, "exchange": exchange, "members": members})
        }
        Event::ChatMessage {
            room,
            from,
            text,
            whisper,
        } => json!({
            "type": "chat_message",
            "room": room,
            "from": from,
            "text": strip_html(text),
            "html": text,
            "whisper": whisper,
        }),
        Event::ChatMemberJoined { room, screen_name } => {
            json!({"type": "chat_member_joined", "room": room, "screen_name": screen_name})
        }
        Event::ChatMemberLeft { room, screen_name } => {
            json!({"type": "chat_member_left", "room": room, "screen_name": screen_name})
        }
        Event::ChatLeft { room, reason } => json!({"type": "chat_left", "room": room, "reason": reason}),
        Event::ChatInvite { from, room, message } => {
            let (name, exchange) = room_fields(room);
            json!({"type": "chat_invite", "from": from, "room": name, "exchange": exchange, "message": message})
        }
        Event::Warned { level, by } => json!({"type": "warned", "level": level, "by": by}),
        Event::WarnApplied {
            screen_name,
            delta,
            new_level,
        } => json!({"type": "warn_applied", "screen_name": screen_name, "delta": delta, "new_level": new_level}),
        Event::MissedMessages { from, count, reason } => json!({
            "type": "missed_messages",
            "from": from,
            "count": count,
            "reason": format!("{reason:?}"),
        }),
        Event::OfflineMessagesDone => json!({"type": "offline_messages_done"}),
        Event::RateWarning { conn, class, level } => {
            json!({"type": "rate_warning", "connection": connection(conn), "class": class, "level": level})
        }
        Event::RateLimited { conn, class, level } => {
            json!({"type": "rate_limited", "connection": connection(conn), "class": class, "level": level})
        }
        Event::RateCleared { conn, class, level } => {
            json!({"type": "rate_cleared", "connection": connection(conn), "class": class, "level": level})
        }
        Event::Connecting {
            kind,
            host,
            port,
            tls_cert_name,
        } => json!({
            "type": "connecting",
            "connection": connection(kind),
            "host": host,
            "port": port,
            "tls_cert_name": tls_cert_name,
        }),
        Event::LoginTranscript(t) => json!({
            "type": "login_transcript",
            "steps": t.steps.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        }),
        Event::Reconnecting { attempt, delay } => json!({
            "type": "reconnecting",
            "attempt": attempt,
            "delay_ms": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        }),
        Event::Error(e) => json!({"type": "error", "message": e.to_string()}),
        Event::SignedOff { reason } => json!({"type": "signed_off", "reason": reason.to_string()}),
        other => json!({"type": "other", "debug": format!("{other:?}")}),
    };
    if let Value::Object(m) = &mut obj {
        m.insert("time".into(), now_unix().into());
    }
    obj
}

/// One line of JSON for an event, with `type` and `time` first for readability.
pub fn event_line(ev: &Event) -> String {
    let Value::Object(mut m) = event(ev) else {
        return String::new();
    };
    let ty = m.remove("type").unwrap_or(Value::Null);
    let time = m.remove("time").unwrap_or(Value::Null);
    let rest = Value::Object(m).to_string();
    let tail = &rest[1..]; // the fields and the closing brace
    if tail == "}" {
        format!("{{\"type\":{ty},\"time\":{time}}}")
    } else {
        format!("{{\"type\":{ty},\"time\":{time},{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flapjack_client::{ReceivedIm, SignOffReason};

    #[test]
    fn ims_have_stable_fields() {
        let ev = Event::ImReceived(ReceivedIm {
            from: UserStatus {
                screen_name: "Bob".into(),
                ..UserStatus::default()
            },
            text: "<b>hi</b> &amp; bye".into(),
            auto_response: false,
            offline: false,
            sent_at: None,
            wants_typing: true,
        });
        let v = event(&ev);
        assert_eq!(v["type"], "im");
        assert_eq!(v["from"], "Bob");
        assert_eq!(v["text"], "hi & bye");
        assert_eq!(v["html"], "<b>hi</b> &amp; bye");
        assert_eq!(v["auto_response"], false);
        assert!(v["sent_at"].is_null());
        assert!(v["time"].as_u64().unwrap() > 0);
        let line = event_line(&ev);
        assert!(line.starts_with("{\"type\":\"im\",\"time\":"), "{line}");
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap()["from"], "Bob");
        assert_eq!(
            serde_json::from_str::<Value>(&event_line(&Event::OfflineMessagesDone)).unwrap()["type"],
            "offline_messages_done"
        );
        let v = event(&Event::SignedOff {
            reason: SignOffReason::Requested,
        });
        assert_eq!(v["type"], "signed_off");
        assert_eq!(v["reason"], "signed off");
    }
}
