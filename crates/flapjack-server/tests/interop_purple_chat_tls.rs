//! Interop: chat with libpurple over TLS (§11). Two libpurple clients sign on with `md5_login`
//! and required encryption; libpurple then asks for CHAT_NAV and CHAT with TLV 0x008C, so the
//! redirects must name the TLS listener, set TLS state (0x008E) and the certificate name
//! (0x008D) libpurple verifies. Both join a room and talk; the server must hold their chat
//! connections as TLS sessions. Then bobby leaves the room and alice sees it.

mod interop;

use std::time::{Duration, Instant};

use interop::{
    Encryption, Login, Peer, Progress, SIGNON, STEP, TestServer, contains_ci, event, require, same_name, str_field,
};

fn chat_joined(room: &str) -> impl Fn(&serde_json::Value) -> bool {
    let room = room.to_owned();
    move |e| event(e) == "chat_joined" && contains_ci(str_field(e, "room"), &room)
}

#[test]
fn purple_chat_over_tls() {
    let test = "purple_chat_over_tls";
    let Some(peers) = require(test, &[Peer::Purple]) else {
        return;
    };
    let p = Progress::new(test);
    let server = TestServer::start();
    server.add_account("alice", "alice-pw-1");
    server.add_account("bobby", "bobby-pw-2");

    p.step("both sign on over TLS");
    let mut alice = server.purple(peers, "alice", "alice-pw-1", Login::Md5, Encryption::Require);
    let mut bobby = server.purple(peers, "bobby", "bobby-pw-2", Login::Md5, Encryption::Require);
    alice.wait_event("signed_on", SIGNON);
    bobby.wait_event("signed_on", SIGNON);
    server
        .wait_signed_on("alice", Some(true), SIGNON)
        .unwrap_or_else(|e| alice.fail(&e));
    server
        .wait_signed_on("bobby", Some(true), SIGNON)
        .unwrap_or_else(|e| bobby.fail(&e));

    p.step("both join a room through TLS redirects and talk");
    alice.send(&["join", "tlsroom"]);
    let joined = alice.wait("alice joins tlsroom", STEP, chat_joined("tlsroom"));
    let a_room = str_field(&joined, "room").to_owned();
    bobby.send(&["join", "tlsroom"]);
    let joined = bobby.wait("bobby joins tlsroom", STEP, chat_joined("tlsroom"));
    let b_room = str_field(&joined, "room").to_owned();
    alice.wait("bobby appears in tlsroom", STEP, |e| {
        event(e) == "chat_buddy_joined" && same_name(str_field(e, "name"), "bobby")
    });
    alice.send(&["chat", &a_room, "secret hello from alice"]);
    bobby.wait("alice's chat message", STEP, |e| {
        event(e) == "chat"
            && same_name(str_field(e, "from"), "alice")
            && str_field(e, "plain").contains("secret hello from alice")
    });

    // Every chat and chat-nav connection the server holds for them is TLS.
    let state = server.state();
    let deadline = Instant::now() + STEP;
    loop {
        let sessions: Vec<_> = ["alice", "bobby"]
            .iter()
            .flat_map(|n| state.chat.service_sessions(n))
            .collect();
        // Each has a CHAT_NAV and a CHAT connection.
        if sessions.len() >= 4 {
            if let Some(plain) = sessions.iter().find(|s| !s.info().tls) {
                alice.fail(&format!("{} has a plain service connection", plain.screen_name()));
            }
            break;
        }
        if Instant::now() > deadline {
            alice.fail(&format!("expected 4 service sessions, saw {}", sessions.len()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    p.step("bobby leaves the room; alice sees it");
    bobby.send(&["leave", &b_room]);
    alice.wait("bobby leaves tlsroom", STEP, |e| {
        event(e) == "chat_buddy_left" && same_name(str_field(e, "name"), "bobby")
    });
    p.done();
}
