//! Interop: two libpurple clients talk through the server (the acceptance scenario),
//! once with BUCP (`md5_login`) and once with OpenAuth (`client_login`) logins.
//!
//! alice adds bobby and sees his presence (and the reverse); IMs both ways; bobby goes away and
//! libpurple's auto-response comes back flagged as one; bobby comes back; bobby's profile shows
//! in alice's `info`; both join a chat room and talk; alice invites bobby into a second room,
//! he accepts and talks; bobby's typing notifications reach alice; alice denies bobby, so his
//! IMs are refused and alice looks offline to him; alice lifts the deny; bobby signs off and
//! alice sees him leave.

mod interop;

use interop::{
    Encryption, Login, Peer, Progress, SIGNON, STEP, TestServer, bool_field, buddy_state, contains_ci, event, im_from,
    require, same_name, str_field,
};

/// Feedbag item classes (§8.14).
const CLASS_BUDDY: u16 = 0;
const CLASS_DENY: u16 = 3;

fn chat_joined(room: &str) -> impl Fn(&serde_json::Value) -> bool {
    let room = room.to_owned();
    move |e| event(e) == "chat_joined" && contains_ci(str_field(e, "room"), &room)
}

fn chat_member(room: &str, name: &str) -> impl Fn(&serde_json::Value) -> bool {
    let (room, name) = (room.to_owned(), name.to_owned());
    move |e| {
        event(e) == "chat_buddy_joined"
            && contains_ci(str_field(e, "room"), &room)
            && same_name(str_field(e, "name"), &name)
    }
}

fn chat_line(room: &str, from: &str, text: &str) -> impl Fn(&serde_json::Value) -> bool {
    let (room, from, text) = (room.to_owned(), from.to_owned(), text.to_owned());
    move |e| {
        event(e) == "chat"
            && contains_ci(str_field(e, "room"), &room)
            && same_name(str_field(e, "from"), &from)
            && str_field(e, "plain").contains(&text)
    }
}

fn pair(test: &str, login: Login) {
    let Some(peers) = require(test, &[Peer::Purple]) else {
        return;
    };
    let p = Progress::new(test);
    let server = TestServer::start();
    server.add_account("alice", "alice-pw-1");
    server.add_account("bobby", "bobby-pw-2");

    p.step("both sign on");
    let mut alice = server.purple(peers, "alice", "alice-pw-1", login, Encryption::None);
    let mut bobby = server.purple(peers, "bobby", "bobby-pw-2", login, Encryption::None);
    alice.wait_event("signed_on", SIGNON);
    bobby.wait_event("signed_on", SIGNON);
    // libpurple reports signed_on once it has *sent* client ready: wait for the server.
    server
        .wait_signed_on("alice", Some(false), SIGNON)
        .unwrap_or_else(|e| alice.fail(&e));
    server
        .wait_signed_on("bobby", Some(false), SIGNON)
        .unwrap_or_else(|e| bobby.fail(&e));

    p.step("alice adds bobby and sees him online; bobby adds alice");
    alice.send(&["add", "bobby", "Buddies"]);
    alice.wait(
        "bobby online (not away) in alice's list",
        STEP,
        buddy_state("bobby", true, Some(false)),
    );
    server
        .wait_feedbag_item("alice", CLASS_BUDDY, "bobby", true, STEP)
        .unwrap_or_else(|e| alice.fail(&e));
    bobby.send(&["add", "alice", "Friends"]);
    bobby.wait(
        "alice online (not away) in bobby's list",
        STEP,
        buddy_state("alice", true, Some(false)),
    );
    server
        .wait_feedbag_item("bobby", CLASS_BUDDY, "alice", true, STEP)
        .unwrap_or_else(|e| bobby.fail(&e));

    p.step("IM both ways");
    alice.send(&["im", "bobby", "Hello bobby from alice 1"]);
    let im = bobby.wait("alice's IM", STEP, im_from("alice", "Hello bobby from alice 1"));
    if bool_field(&im, "auto_response") {
        bobby.fail(&format!("a normal IM arrived flagged as an auto-response: {im}"));
    }
    bobby.send(&["im", "alice", "Hi alice from bobby 2"]);
    alice.wait("bobby's IM", STEP, im_from("bobby", "Hi alice from bobby 2"));

    p.step("bobby goes away; alice sees it and gets his auto-response");
    bobby.send(&["away", "Gone fishing"]);
    alice.wait("bobby away", STEP, buddy_state("bobby", true, Some(true)));
    alice.send(&["im", "bobby", "Are you there 3"]);
    bobby.wait("alice's IM while away", STEP, im_from("alice", "Are you there 3"));
    let auto = alice.wait("bobby's auto-response", STEP, im_from("bobby", "Gone fishing"));
    if !bool_field(&auto, "auto_response") {
        alice.fail(&format!(
            "bobby's away reply arrived without the auto-response flag (ICBM TLV 0x0004): {auto}"
        ));
    }
    // libpurple fetches the away message itself (locate query) and shows it as the status text.
    alice.wait("bobby's away message in his status", STEP, |e| {
        buddy_state("bobby", true, Some(true))(e) && str_field(e, "message").contains("Gone fishing")
    });

    p.step("bobby comes back");
    alice.discard_pending();
    bobby.send(&["back"]);
    alice.wait("bobby available again", STEP, buddy_state("bobby", true, Some(false)));

    p.step("bobby sets a profile; alice looks it up");
    bobby.send(&["profile", "Profile of bobby: <b>xyzzy 42</b>"]);
    bobby.sync();
    alice.wait_profile("bobby", "xyzzy 42");

    p.step("both join a chat room and talk");
    alice.send(&["join", "flapjacklounge"]);
    let joined = alice.wait("alice joins flapjacklounge", STEP, chat_joined("flapjacklounge"));
    let a_lounge = str_field(&joined, "room").to_owned();
    // libpurple reports chat_joined when the chat connection is up, before the server's room
    // info arrives (until then it refuses to send: "message is too large"); the member list
    // with oneself comes with the room info.
    alice.wait(
        "alice in the lounge's member list",
        STEP,
        chat_member("flapjacklounge", "alice"),
    );
    bobby.send(&["join", "flapjacklounge"]);
    let joined = bobby.wait("bobby joins flapjacklounge", STEP, chat_joined("flapjacklounge"));
    let b_lounge = str_field(&joined, "room").to_owned();
    bobby.wait(
        "bobby in the lounge's member list",
        STEP,
        chat_member("flapjacklounge", "bobby"),
    );
    alice.wait(
        "bobby appears in the lounge",
        STEP,
        chat_member("flapjacklounge", "bobby"),
    );
    bobby.wait(
        "alice is in the lounge's member list",
        STEP,
        chat_member("flapjacklounge", "alice"),
    );
    alice.send(&["chat", &a_lounge, "Hello lounge from alice"]);
    bobby.wait(
        "alice's chat message",
        STEP,
        chat_line("flapjacklounge", "alice", "Hello lounge from alice"),
    );
    bobby.send(&["chat", &b_lounge, "Hello alice from bobby in the lounge"]);
    alice.wait(
        "bobby's chat message",
        STEP,
        chat_line("flapjacklounge", "bobby", "Hello alice from bobby in the lounge"),
    );

    p.step("alice invites bobby into another room; he accepts and talks");
    alice.send(&["join", "flapjackparlor"]);
    let joined = alice.wait("alice joins flapjackparlor", STEP, chat_joined("flapjackparlor"));
    let a_parlor = str_field(&joined, "room").to_owned();
    alice.wait(
        "alice in the parlor's member list",
        STEP,
        chat_member("flapjackparlor", "alice"),
    );
    alice.send(&["invite", &a_parlor, "bobby", "Join us in the parlor"]);
    let invite = bobby.wait("alice's chat invitation", STEP, |e| {
        event(e) == "chat_invite" && same_name(str_field(e, "from"), "alice")
    });
    if !contains_ci(str_field(&invite, "room"), "flapjackparlor")
        || !str_field(&invite, "message").contains("Join us in the parlor")
    {
        bobby.fail(&format!("the invitation names the wrong room or message: {invite}"));
    }
    bobby.send(&["accept_invite", str_field(&invite, "room")]);
    let joined = bobby.wait(
        "bobby joins flapjackparlor through the invitation",
        STEP,
        chat_joined("flapjackparlor"),
    );
    let b_parlor = str_field(&joined, "room").to_owned();
    bobby.wait(
        "bobby in the parlor's member list",
        STEP,
        chat_member("flapjackparlor", "bobby"),
    );
    alice.wait(
        "bobby appears in the parlor",
        STEP,
        chat_member("flapjackparlor", "bobby"),
    );
    bobby.send(&["chat", &b_parlor, "Thanks for the invite"]);
    alice.wait(
        "bobby's message in the parlor",
        STEP,
        chat_line("flapjackparlor", "bobby", "Thanks for the invite"),
    );

    p.step("bobby's typing notifications reach alice");
    // libpurple sends 0x0004/0x0014 only to peers whose IMs carried TLV 0x000B.
    bobby.send(&["typing", "alice", "typing"]);
    alice.wait("bobby is typing", STEP, |e| {
        event(e) == "typing" && same_name(str_field(e, "from"), "bobby") && str_field(e, "state") == "typing"
    });
    bobby.send(&["typing", "alice", "none"]);
    alice.wait("bobby stopped typing", STEP, |e| {
        event(e) == "typing" && same_name(str_field(e, "from"), "bobby") && str_field(e, "state") == "none"
    });

    p.step("alice denies bobby: his IMs are refused and alice looks offline to him");
    bobby.discard_pending();
    alice.send(&["privacy", "deny_users"]);
    alice.send(&["deny", "bobby"]);
    server
        .wait_feedbag_item("alice", CLASS_DENY, "bobby", true, STEP)
        .unwrap_or_else(|e| alice.fail(&e));
    bobby.wait(
        "alice offline for bobby (denied)",
        STEP,
        buddy_state("alice", false, None),
    );
    bobby.send(&["im", "alice", "Can you hear me 4"]);
    bobby.wait("an error for bobby's IM to alice", STEP, |e| {
        event(e) == "im_error" && same_name(str_field(e, "to"), "alice")
    });
    alice.sync();
    alice.assert_absent(
        "IM from bobby while he is denied",
        im_from("bobby", "Can you hear me 4"),
    );

    p.step("alice lifts the deny: presence and IMs are back");
    bobby.discard_pending();
    alice.send(&["undeny", "bobby"]);
    server
        .wait_feedbag_item("alice", CLASS_DENY, "bobby", false, STEP)
        .unwrap_or_else(|e| alice.fail(&e));
    bobby.wait("alice online again for bobby", STEP, buddy_state("alice", true, None));
    bobby.send(&["im", "alice", "Back in touch 5"]);
    alice.wait(
        "bobby's IM after the deny was lifted",
        STEP,
        im_from("bobby", "Back in touch 5"),
    );
    // The refused IM must not have been kept (offline storage) and delivered now.
    alice.sync();
    alice.assert_absent(
        "the IM refused during the deny, delivered later",
        im_from("bobby", "Can you hear me 4"),
    );

    p.step("bobby signs off; alice sees him leave");
    alice.discard_pending();
    match bobby.quit(STEP) {
        Some(status) if status.success() => {}
        other => bobby.fail(&format!("bobby's driver did not exit cleanly after quit: {other:?}")),
    }
    alice.wait("bobby's departure", STEP, buddy_state("bobby", false, None));
    for room in ["flapjacklounge", "flapjackparlor"] {
        alice.wait(&format!("bobby leaves {room}"), STEP, |e| {
            event(e) == "chat_buddy_left"
                && contains_ci(str_field(e, "room"), room)
                && same_name(str_field(e, "name"), "bobby")
        });
    }
    server.wait_signed_off("bobby", STEP).unwrap_or_else(|e| alice.fail(&e));
    p.done();
}

#[test]
fn pair_md5_login() {
    pair("pair_md5_login", Login::Md5);
}

#[test]
fn pair_client_login() {
    pair("pair_client_login", Login::ClientLogin);
}
