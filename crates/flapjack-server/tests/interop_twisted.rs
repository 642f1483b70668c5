//! Interop: a Twisted 16.6 client and a libpurple client through the server.
//!
//! Both accounts get a feedbag written straight into the store before anyone signs on (carol,
//! the Twisted user: group "Friends" with dave; dave, the libpurple user: group "Buddies" with
//! carol). Twisted must receive that feedbag at sign-on and on a later query (root group first,
//! groups before their buddies, as it requires); the two exchange IMs; carol goes away and
//! comes back, which dave sees; Twisted looks up dave's profile with the old 0x0002/0x0005
//! query; carol signs off and dave sees her leave.

mod interop;

use interop::{
    Encryption, Login, Peer, Progress, SIGNON, STEP, TestServer, TwistedMode, buddy_state, event, im_from, require,
    same_name, str_field,
};
use serde_json::Value;

/// Whether a Twisted `feedbag` event lists `group` containing `buddy`.
fn has_group_with(feedbag: &Value, group: &str, buddy: &str) -> bool {
    feedbag["groups"].as_array().is_some_and(|groups| {
        groups.iter().any(|g| {
            g["name"].as_str() == Some(group)
                && g["buddies"]
                    .as_array()
                    .is_some_and(|b| b.iter().any(|n| n.as_str().is_some_and(|n| same_name(n, buddy))))
        })
    })
}

#[test]
fn twisted_with_libpurple() {
    const TEST: &str = "twisted_with_libpurple";
    let Some(peers) = require(TEST, &[Peer::Purple, Peer::Twisted]) else {
        return;
    };
    let p = Progress::new(TEST);
    let server = TestServer::start();
    server.add_account("carol", "carol-pw-3");
    server.add_account("dave", "dave-pw-4");
    server.set_feedbag("carol", &[("Friends", &["dave"])]);
    server.set_feedbag("dave", &[("Buddies", &["carol"])]);

    p.step("Twisted signs on and gets its feedbag");
    let mut carol = server.twisted(peers, "carol", "carol-pw-3", TwistedMode::Aim);
    let on = carol.wait_event("signed_on", SIGNON);
    if on["groups"].as_u64().unwrap_or(0) < 1 {
        carol.fail(&format!("Twisted signed on with no feedbag groups: {on}"));
    }
    server
        .wait_signed_on("carol", Some(false), SIGNON)
        .unwrap_or_else(|e| carol.fail(&e));
    carol.send(&["feedbag", "cached"]);
    let fb = carol.wait("the sign-on feedbag", STEP, |e| {
        event(e) == "feedbag" && str_field(e, "source") == "signon"
    });
    if !has_group_with(&fb, "Friends", "dave") {
        carol.fail(&format!("the sign-on feedbag lacks group Friends with dave: {fb}"));
    }

    p.step("libpurple signs on; both see each other online");
    let mut dave = server.purple(peers, "dave", "dave-pw-4", Login::Md5, Encryption::None);
    dave.wait_event("signed_on", SIGNON);
    server
        .wait_signed_on("dave", Some(false), SIGNON)
        .unwrap_or_else(|e| dave.fail(&e));
    dave.wait(
        "carol online in dave's list",
        STEP,
        buddy_state("carol", true, Some(false)),
    );
    carol.wait("dave online for carol", STEP, |e| {
        event(e) == "buddy" && same_name(str_field(e, "name"), "dave") && e["online"] == true
    });

    p.step("Twisted queries the feedbag again (0x0013/0x0005)");
    carol.send(&["feedbag"]);
    let fb = carol.wait("the queried feedbag", STEP, |e| {
        (event(e) == "feedbag" && str_field(e, "source") == "query")
            || (event(e) == "error" && str_field(e, "reason") == "feedbag")
    });
    if !has_group_with(&fb, "Friends", "dave") {
        carol.fail(&format!("the queried feedbag lacks group Friends with dave: {fb}"));
    }

    p.step("IMs both ways");
    carol.send(&["im", "dave", "Hello dave from Twisted 1"]);
    dave.wait("carol's IM", STEP, im_from("carol", "Hello dave from Twisted 1"));
    dave.send(&["im", "carol", "Hello carol from libpurple 2"]);
    carol.wait("dave's IM", STEP, |e| {
        event(e) == "im"
            && same_name(str_field(e, "from"), "dave")
            && str_field(e, "text").contains("Hello carol from libpurple 2")
    });

    p.step("Twisted goes away and comes back; libpurple sees both");
    dave.discard_pending();
    carol.send(&["away", "Out to lunch"]);
    dave.wait("carol away", STEP, buddy_state("carol", true, Some(true)));
    // Twisted's away message lives in LOCATE only (no status text): libpurple's info shows it.
    dave.send(&["info", "carol"]);
    let info = dave.wait("user_info for carol", STEP, |e| {
        event(e) == "user_info" && same_name(str_field(e, "name"), "carol")
    });
    if !str_field(&info, "plain").contains("Out to lunch") {
        dave.fail(&format!("carol's away message is not in dave's user_info: {info}"));
    }
    carol.send(&["back"]);
    dave.wait("carol available again", STEP, buddy_state("carol", true, Some(false)));

    p.step("Twisted reads dave's profile (0x0002/0x0005)");
    dave.send(&["profile", "dave likes waffles 7"]);
    dave.sync();
    let mut last = None;
    for attempt in 1..=3u64 {
        carol.send(&["info", "dave"]);
        let info = carol.wait("user_info for dave", STEP, |e| {
            (event(e) == "user_info" && same_name(str_field(e, "name"), "dave"))
                || (event(e) == "error" && str_field(e, "reason") == "info")
        });
        if event(&info) == "error" {
            carol.fail(&format!("the user-info query (0x0002/0x0005) failed: {info}"));
        }
        if str_field(&info, "text").contains("dave likes waffles 7") {
            last = None;
            break;
        }
        last = Some(info);
        std::thread::sleep(std::time::Duration::from_millis(300 * attempt));
    }
    if let Some(info) = last {
        carol.fail(&format!("dave's profile is not in Twisted's user_info: {info}"));
    }

    p.step("Twisted signs off; libpurple sees carol leave");
    dave.discard_pending();
    match carol.quit(STEP) {
        Some(status) if status.success() => {}
        other => carol.fail(&format!("Twisted's driver did not exit cleanly after quit: {other:?}")),
    }
    dave.wait("carol's departure", STEP, buddy_state("carol", false, None));
    server.wait_signed_off("carol", STEP).unwrap_or_else(|e| dave.fail(&e));
    p.done();
}
