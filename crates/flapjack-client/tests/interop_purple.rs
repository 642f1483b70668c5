//! Interop: the flapjack client library and a real libpurple client talk through our server
//! (issue #3, acceptance item 2), once with BUCP logins (flapjack `Login::Bucp`, libpurple
//! `md5_login`) and once with OpenAuth (flapjack `Login::OpenAuth` against the server's HTTP
//! API, libpurple `client_login`).
//!
//! bobby (libpurple) signs on and adds alice while she is offline; alice (flapjack) signs on and
//! bobby sees her arrive; alice adds bobby and sees him online. IMs both ways (libpurple's text
//! reaches flapjack, flapjack's reaches libpurple). alice goes away: bobby sees her away, reads her
//! away message with an info query, IMs her, and gets the auto-response she sends as one; alice
//! comes back. bobby goes away: alice sees it, gets libpurple's auto-response flagged as one, and
//! reads his away message with a user-info query; bobby comes back. Profiles both ways. Typing
//! notifications both ways. Both join a chat room, see each other as members and talk both ways;
//! alice invites bobby into a second room (he accepts and talks), bobby invites alice into a third
//! (she joins from the invitation and talks), alice leaves that one and bobby sees it. Finally
//! alice signs off: bobby sees her depart from his buddy list and from both remaining rooms, and
//! the server holds no session of hers.
//!
//! The clients' rate limiters are real: flapjack paces its ICBM and user-info SNACs (AOL class 3)
//! instead of bursting, so a few steps wait seconds for the level to recover.
//!
//! The libpurple side runs through the server's interop harness (`purple-driver`); the flapjack
//! side is the tokio [`Client`] on a runtime of its own, waited on with the same bounded steps.

#[path = "../../flapjack-server/tests/interop/mod.rs"]
mod interop;

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use flapjack_client::{
    Client, ClientConfig, ClientError, ClientHandle, Event, EventStream, FeedbagStatus, ImRequest, MessageId,
    SignOffReason, TypingEvent, strip_html,
};
use interop::{
    Encryption, Login, Peer, Progress, SIGNON, STEP, TestServer, bool_field, buddy_state, contains_ci, event, im_from,
    require, same_name, str_field,
};
use serde_json::Value;

/// Feedbag item class of a buddy (§8.14).
const CLASS_BUDDY: u16 = 0;
/// Events of the flapjack client kept for diagnostics.
const KEEP_EVENTS: usize = 200;

/// The flapjack client under test: its own tokio runtime (the test is a plain blocking
/// `#[test]`, like the harness), the handle, and its event stream with a queue of events
/// received but not consumed yet.
struct Flapjack {
    label: String,
    rt: tokio::runtime::Runtime,
    handle: ClientHandle,
    events: EventStream,
    pending: VecDeque<Event>,
    log: VecDeque<String>,
    started: Instant,
}

impl Flapjack {
    /// Connects (login and BOS sign-on) within [`SIGNON`].
    fn connect(label: &str, cfg: ClientConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("flapjack-interop-client")
            .enable_all()
            .build()
            .expect("tokio runtime");
        let started = Instant::now();
        let (handle, events) = match rt.block_on(async { tokio::time::timeout(SIGNON, Client::connect(cfg)).await }) {
            Ok(Ok(connected)) => connected,
            Ok(Err(e)) => panic!(
                "[{label}] sign-on failed: {e}\n  transcript:\n{}",
                e.transcript.as_ref().map(ToString::to_string).unwrap_or_default()
            ),
            Err(_) => panic!("[{label}] not signed on after {SIGNON:?}"),
        };
        Self {
            label: label.to_owned(),
            rt,
            handle,
            events,
            pending: VecDeque::new(),
            log: VecDeque::new(),
            started,
        }
    }

    /// Panics with `msg` and the client's most recent events.
    fn fail(&self, msg: &str) -> ! {
        let recent: Vec<&str> = self.log.iter().rev().take(25).rev().map(String::as_str).collect();
        panic!(
            "[{} +{:.1}s] {msg}\n  last events of {}:\n    {}",
            self.label,
            self.started.elapsed().as_secs_f64(),
            self.label,
            recent.join("\n    ")
        );
    }

    /// Keeps `ev` in the diagnostic log (and echoes it with `FLAPJACK_INTEROP_VERBOSE`).
    fn record(&mut self, ev: &Event) {
        let mut line = format!("+{:7.3}s {ev:?}", self.started.elapsed().as_secs_f64());
        if line.len() > 400 {
            let mut cut = 400;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        if std::env::var_os("FLAPJACK_INTEROP_VERBOSE").is_some() {
            eprintln!("[{}] {line}", self.label);
        }
        if self.log.len() >= KEEP_EVENTS {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    /// The next event within `timeout` (`Err` on a timeout, `Ok(None)` once the stream ended).
    fn next_event(&mut self, timeout: Duration) -> Result<Option<Event>, tokio::time::error::Elapsed> {
        let events = &mut self.events;
        self.rt
            .block_on(async { tokio::time::timeout(timeout, events.next()).await })
    }

    /// Runs one library call within [`STEP`]; fails on its error or a timeout.
    fn call<T>(&self, what: &str, fut: impl Future<Output = Result<T, ClientError>>) -> T {
        match self.rt.block_on(async { tokio::time::timeout(STEP, fut).await }) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => self.fail(&format!("{what} failed: {e}")),
            Err(_) => self.fail(&format!("{what} did not finish within {STEP:?}")),
        }
    }

    /// Waits up to `timeout` for an event matching `pred` (looking first at events received
    /// earlier and not consumed), consumes and returns it. Fails on a timeout, when the event
    /// stream ends, or on an event `pred` does not accept that makes waiting pointless
    /// (`SignedOff`, `Error`).
    fn wait(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i).expect("index in range");
        }
        if let Some(t) = self.pending.iter().find(|e| is_terminal(e)) {
            self.fail(&format!("the client reported {t:?} earlier; cannot wait for {what}"));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Ok(Some(ev)) => {
                    self.record(&ev);
                    if pred(&ev) {
                        return ev;
                    }
                    if is_terminal(&ev) {
                        self.fail(&format!("the client reported {ev:?} while waiting for {what}"));
                    }
                    self.pending.push_back(ev);
                }
                Ok(None) => self.fail(&format!("the event stream ended while waiting for {what}")),
                Err(_) => self.fail(&format!("timed out after {timeout:?} waiting for {what}")),
            }
        }
    }

    /// Moves every event that has arrived into the pending queue.
    fn pull_available(&mut self) {
        while let Some(ev) = self.events.try_next() {
            self.record(&ev);
            self.pending.push_back(ev);
        }
    }

    /// Fails if an event matching `pred` has been received and not consumed.
    fn assert_absent(&mut self, what: &str, pred: impl Fn(&Event) -> bool) {
        self.pull_available();
        if let Some(e) = self.pending.iter().find(|e| pred(e)) {
            self.fail(&format!("unexpected {what}: {e:?}"));
        }
    }

    /// Drops every event received so far and not consumed (after checking that none of them
    /// ends the session or reports an error), so a later wait cannot match a stale one.
    fn discard_pending(&mut self) {
        self.assert_absent("an error or a sign-off", is_terminal);
        self.pending.clear();
    }

    /// Signs off and waits for the stream to end with `SignedOff { Requested }`.
    fn sign_off(&mut self) {
        let handle = self.handle.clone();
        self.call("sign_off", handle.sign_off());
        let deadline = Instant::now() + STEP;
        let mut reason = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Ok(Some(ev)) => {
                    self.record(&ev);
                    if let Event::SignedOff { reason: r } = &ev {
                        reason = Some(r.clone());
                    }
                }
                Ok(None) => break,
                Err(_) => self.fail("the event stream did not end after sign_off"),
            }
        }
        if reason != Some(SignOffReason::Requested) {
            self.fail(&format!(
                "sign_off ended with {reason:?}, not SignedOff {{ Requested }}"
            ));
        }
    }
}

impl Drop for Flapjack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            while let Some(ev) = self.events.try_next() {
                self.record(&ev);
            }
            let skip = self.log.len().saturating_sub(120);
            let mut out = format!(
                "\n===== {} (+{:.1}s): last {} events =====\n",
                self.label,
                self.started.elapsed().as_secs_f64(),
                self.log.len() - skip
            );
            for l in self.log.iter().skip(skip) {
                out.push_str(l);
                out.push('\n');
            }
            eprint!("{out}");
        }
    }
}

/// Events of the flapjack client after which waiting for anything else is pointless.
fn is_terminal(ev: &Event) -> bool {
    matches!(ev, Event::SignedOff { .. } | Event::Error(_))
}

/// How both clients log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logins {
    /// flapjack BUCP (strong MD5) against the OSCAR listener; libpurple `md5_login`.
    Bucp,
    /// flapjack OpenAuth against the HTTP API, BOS without TLS; libpurple `client_login`.
    OpenAuth,
}

/// libpurple's `chat_joined` for `room`.
fn chat_joined(room: &str) -> impl Fn(&Value) -> bool {
    let room = room.to_owned();
    move |e| event(e) == "chat_joined" && contains_ci(str_field(e, "room"), &room)
}

/// libpurple's `chat_buddy_joined`: `name` is in `room`'s member list.
fn chat_member(room: &str, name: &str) -> impl Fn(&Value) -> bool {
    let (room, name) = (room.to_owned(), name.to_owned());
    move |e| {
        event(e) == "chat_buddy_joined"
            && contains_ci(str_field(e, "room"), &room)
            && same_name(str_field(e, "name"), &name)
    }
}

/// libpurple's `chat_buddy_left`: `name` left `room`.
fn chat_member_left(room: &str, name: &str) -> impl Fn(&Value) -> bool {
    let (room, name) = (room.to_owned(), name.to_owned());
    move |e| {
        event(e) == "chat_buddy_left"
            && contains_ci(str_field(e, "room"), &room)
            && same_name(str_field(e, "name"), &name)
    }
}

/// libpurple's `chat` event: `from` said `text` in `room`.
fn chat_line(room: &str, from: &str, text: &str) -> impl Fn(&Value) -> bool {
    let (room, from, text) = (room.to_owned(), from.to_owned(), text.to_owned());
    move |e| {
        event(e) == "chat"
            && contains_ci(str_field(e, "room"), &room)
            && same_name(str_field(e, "from"), &from)
            && str_field(e, "plain").contains(&text)
    }
}

/// libpurple's `typing` event from `from` in `state` (`typing`, `typed`, `none`).
fn purple_typing(from: &str, state: &str) -> impl Fn(&Value) -> bool {
    let (from, state) = (from.to_owned(), state.to_owned());
    move |e| event(e) == "typing" && same_name(str_field(e, "from"), &from) && str_field(e, "state") == state
}

/// flapjack's `ImReceived` from `from` whose text, without markup, contains `text`.
fn fj_im(from: &str, text: &str) -> impl Fn(&Event) -> bool {
    let (from, text) = (from.to_owned(), text.to_owned());
    move |e| {
        matches!(e, Event::ImReceived(im)
            if same_name(&im.from.screen_name, &from) && strip_html(&im.text).contains(&text))
    }
}

/// flapjack's `ChatMessage` in `room` from `from` containing `text` (without markup).
fn fj_chat(room: &str, from: &str, text: &str) -> impl Fn(&Event) -> bool {
    let (room, from, text) = (room.to_owned(), from.to_owned(), text.to_owned());
    move |e| {
        matches!(e, Event::ChatMessage { room: r, from: f, text: t, .. }
            if r.eq_ignore_ascii_case(&room) && same_name(f, &from) && strip_html(t).contains(&text))
    }
}

/// flapjack's `ChatMemberJoined`: `name` joined `room`.
fn fj_member_joined(room: &str, name: &str) -> impl Fn(&Event) -> bool {
    let (room, name) = (room.to_owned(), name.to_owned());
    move |e| {
        matches!(e, Event::ChatMemberJoined { room: r, screen_name }
            if r.eq_ignore_ascii_case(&room) && same_name(screen_name, &name))
    }
}

/// flapjack's `Typing` from `from` with `ev`.
fn fj_typing(from: &str, ev: TypingEvent) -> impl Fn(&Event) -> bool {
    let from = from.to_owned();
    move |e| matches!(e, Event::Typing { from: f, event } if same_name(f, &from) && *event == ev)
}

/// Whether a member list names `name`.
fn has_member(members: &[String], name: &str) -> bool {
    members.iter().any(|m| same_name(m, name))
}

/// The whole scenario with one pair of login methods.
fn scenario(test: &str, logins: Logins) {
    let Some(peers) = require(test, &[Peer::Purple]) else {
        return;
    };
    let p = Progress::new(test);
    let server = TestServer::start();
    server.add_account("Alice", "alice-pw-1");
    server.add_account("bobby", "bobby-pw-2");
    let purple_login = match logins {
        Logins::Bucp => Login::Md5,
        Logins::OpenAuth => Login::ClientLogin,
    };

    p.step("bobby (libpurple) signs on and adds alice while she is offline");
    let mut bobby = server.purple(peers, "bobby", "bobby-pw-2", purple_login, Encryption::None);
    bobby.wait_event("signed_on", SIGNON);
    server
        .wait_signed_on("bobby", Some(false), SIGNON)
        .unwrap_or_else(|e| bobby.fail(&e));
    bobby.send(&["add", "alice", "Friends"]);
    server
        .wait_feedbag_item("bobby", CLASS_BUDDY, "alice", true, STEP)
        .unwrap_or_else(|e| bobby.fail(&e));

    p.step("alice (flapjack) signs on; bobby sees her arrive");
    let cfg = match logins {
        Logins::Bucp => ClientConfig::new(
            flapjack_client::Login::Bucp {
                server: server.oscar.to_string(),
                weak_hash: false,
            },
            "Alice",
            "alice-pw-1",
        ),
        Logins::OpenAuth => {
            let mut cfg = ClientConfig::new(
                flapjack_client::Login::OpenAuth {
                    api_base: server.api_base(),
                },
                "Alice",
                "alice-pw-1",
            );
            cfg.open_auth.use_tls = false;
            cfg
        }
    };
    let mut alice = Flapjack::connect(&format!("flapjack:Alice({logins:?})"), cfg);
    if logins == Logins::OpenAuth {
        alice.wait(
            "the OpenAuth transcript",
            STEP,
            |e| matches!(e, Event::LoginTranscript(t) if !t.steps.is_empty()),
        );
    }
    let Event::SignedOn { self_info, buddy_list } =
        alice.wait("SignedOn", STEP, |e| matches!(e, Event::SignedOn { .. }))
    else {
        unreachable!()
    };
    if self_info.screen_name != "Alice" || buddy_list.all_buddies().count() != 0 {
        alice.fail(&format!(
            "signed on as {:?} (want \"Alice\", as formatted) with buddy list {buddy_list:?} (want empty)",
            self_info.screen_name
        ));
    }
    server
        .wait_signed_on("alice", Some(false), SIGNON)
        .unwrap_or_else(|e| alice.fail(&e));
    bobby.wait(
        "alice arrives (online, not away) in bobby's list",
        STEP,
        buddy_state("alice", true, Some(false)),
    );

    p.step("alice adds bobby (online) and sees him");
    let handle = alice.handle.clone();
    let (results, list) = alice.call(
        "adding bobby",
        handle.edit_buddies(|tx| {
            tx.add_buddy("Buddies", "bobby");
        }),
    );
    if results.is_empty()
        || results.iter().any(|r| r.status != FeedbagStatus::Ok)
        || !list
            .group("Buddies")
            .is_some_and(|g| g.buddies.iter().any(|b| same_name(&b.screen_name, "bobby")))
    {
        alice.fail(&format!("adding bobby: results {results:?}, list afterwards {list:?}"));
    }
    server
        .wait_feedbag_item("alice", CLASS_BUDDY, "bobby", true, STEP)
        .unwrap_or_else(|e| alice.fail(&e));
    let Event::BuddyArrived(b) = alice.wait(
        "bobby online in alice's list",
        STEP,
        |e| matches!(e, Event::BuddyArrived(s) if same_name(&s.screen_name, "bobby")),
    ) else {
        unreachable!()
    };
    if b.away || b.invisible {
        alice.fail(&format!("bobby arrived away or invisible: {b:?}"));
    }

    p.step("IM from alice to bobby");
    alice.call(
        "IM to bobby",
        handle.send_im_acked("bobby", "Hello bobby from flapjack 1"),
    );
    let im = bobby.wait("alice's IM", STEP, im_from("alice", "Hello bobby from flapjack 1"));
    if bool_field(&im, "auto_response") {
        bobby.fail(&format!("a normal IM arrived flagged as an auto-response: {im}"));
    }

    p.step("IM from bobby to alice");
    bobby.send(&["im", "alice", "Hi alice from libpurple 2"]);
    let Event::ImReceived(im) = alice.wait("bobby's IM", STEP, fj_im("bobby", "Hi alice from libpurple 2")) else {
        unreachable!()
    };
    if im.auto_response || im.offline {
        alice.fail(&format!("bobby's IM arrived flagged auto-response or offline: {im:?}"));
    }
    if !im.wants_typing {
        alice.fail(&format!(
            "libpurple asks for typing notifications, the IM says not: {im:?}"
        ));
    }

    p.step("alice goes away; bobby sees it, reads her away message, and gets her auto-response");
    alice.call("set_away", handle.set_away("Out to lunch 3"));
    bobby.wait("alice away", STEP, buddy_state("alice", true, Some(true)));
    // libpurple shows a buddy's status text only from the BART status string (user info TLV
    // 0x001D), which libpurple sets along with its own away message but flapjack (like AIM 5)
    // does not: the away message (LOCATE TLV 0x0004) is what libpurple's info query shows.
    bobby.send(&["info", "alice"]);
    let info = bobby.wait("user_info for alice", STEP, |e| {
        event(e) == "user_info" && same_name(str_field(e, "name"), "alice")
    });
    if !str_field(&info, "plain").contains("Out to lunch 3") {
        bobby.fail(&format!("alice's away message is not in bobby's user_info: {info}"));
    }
    bobby.send(&["im", "alice", "Are you there 4"]);
    let Event::ImReceived(im) = alice.wait("bobby's IM while away", STEP, fj_im("bobby", "Are you there 4")) else {
        unreachable!()
    };
    if im.auto_response {
        alice.fail(&format!("bobby's IM arrived flagged as an auto-response: {im:?}"));
    }
    // The library does not answer by itself: an application answers with an auto-response.
    let mut auto = ImRequest::new(MessageId(0), "bobby", "Out to lunch 3");
    auto.auto_response = true;
    alice.call("auto-response to bobby", handle.send_im_with(auto));
    let reply = bobby.wait("alice's auto-response", STEP, im_from("alice", "Out to lunch 3"));
    if !bool_field(&reply, "auto_response") {
        bobby.fail(&format!(
            "alice's away reply arrived without the auto-response flag (ICBM TLV 0x0004): {reply}"
        ));
    }

    p.step("alice comes back");
    bobby.discard_pending();
    alice.call("set_available", handle.set_available());
    bobby.wait("alice available again", STEP, buddy_state("alice", true, Some(false)));

    p.step("bobby goes away; alice sees it, gets libpurple's auto-response and his away message");
    alice.discard_pending();
    bobby.send(&["away", "Gone fishing 5"]);
    alice.wait(
        "bobby away",
        STEP,
        |e| matches!(e, Event::BuddyChanged(s) if same_name(&s.screen_name, "bobby") && s.away),
    );
    alice.call("IM to away bobby", handle.send_im_acked("bobby", "Are you there 6"));
    bobby.wait(
        "alice's IM while bobby is away",
        STEP,
        im_from("alice", "Are you there 6"),
    );
    let Event::ImReceived(reply) = alice.wait("bobby's auto-response", STEP, fj_im("bobby", "Gone fishing 5")) else {
        unreachable!()
    };
    if !reply.auto_response {
        alice.fail(&format!(
            "libpurple's away reply arrived without the auto-response flag: {reply:?}"
        ));
    }
    let info = alice.call("user info of bobby", handle.get_user_info("bobby"));
    if !info.user.away
        || !info
            .away_message
            .as_deref()
            .is_some_and(|m| strip_html(m).contains("Gone fishing 5"))
    {
        alice.fail(&format!("bobby's user info lacks his away state or message: {info:?}"));
    }

    p.step("bobby comes back");
    alice.discard_pending();
    bobby.send(&["back"]);
    alice.wait(
        "bobby available again",
        STEP,
        |e| matches!(e, Event::BuddyChanged(s) if same_name(&s.screen_name, "bobby") && !s.away),
    );

    p.step("profiles both ways");
    alice.call("set_profile", handle.set_profile("Profile of Alice: <b>plugh 7</b>"));
    bobby.send(&["profile", "Profile of bobby: <b>xyzzy 8</b>"]);
    bobby.sync();
    bobby.wait_profile("alice", "plugh 7");
    let mut last = None;
    for attempt in 1..=3u64 {
        let info = alice.call("user info of bobby", handle.get_user_info("bobby"));
        if info
            .profile
            .as_deref()
            .is_some_and(|p| strip_html(p).contains("xyzzy 8"))
        {
            last = None;
            break;
        }
        last = Some(info);
        std::thread::sleep(Duration::from_millis(300 * attempt));
    }
    if let Some(info) = last {
        alice.fail(&format!("bobby's profile text is not in alice's user info: {info:?}"));
    }

    p.step("typing notifications both ways");
    alice.discard_pending();
    bobby.discard_pending();
    // libpurple sends 0x0004/0x0014 only to peers whose IMs carried TLV 0x000B (flapjack's do).
    bobby.send(&["typing", "alice", "typing"]);
    alice.wait("bobby is typing", STEP, fj_typing("bobby", TypingEvent::Begun));
    bobby.send(&["typing", "alice", "typed"]);
    alice.wait("bobby paused typing", STEP, fj_typing("bobby", TypingEvent::Typed));
    bobby.send(&["typing", "alice", "none"]);
    alice.wait("bobby stopped typing", STEP, fj_typing("bobby", TypingEvent::Finished));
    alice.call("typing to bobby", handle.send_typing("bobby", TypingEvent::Begun));
    bobby.wait("alice is typing", STEP, purple_typing("alice", "typing"));
    alice.call("typing to bobby", handle.send_typing("bobby", TypingEvent::Finished));
    bobby.wait("alice stopped typing", STEP, purple_typing("alice", "none"));

    p.step("both join a chat room, see each other and talk both ways");
    let (room, members) = alice.call("alice joins flapjacklounge", handle.join_chat("flapjacklounge"));
    if !room.name.eq_ignore_ascii_case("flapjacklounge") || !has_member(&members, "alice") {
        alice.fail(&format!("joined {room:?} with members {members:?}"));
    }
    bobby.send(&["join", "flapjacklounge"]);
    let joined = bobby.wait("bobby joins flapjacklounge", STEP, chat_joined("flapjacklounge"));
    let b_lounge = str_field(&joined, "room").to_owned();
    // libpurple reports chat_joined before the server's room info; the member list follows it.
    bobby.wait(
        "bobby in the lounge's member list",
        STEP,
        chat_member("flapjacklounge", "bobby"),
    );
    bobby.wait(
        "alice in the lounge's member list",
        STEP,
        chat_member("flapjacklounge", "alice"),
    );
    alice.wait(
        "bobby joins the lounge",
        STEP,
        fj_member_joined("flapjacklounge", "bobby"),
    );
    alice.call(
        "chat in the lounge",
        handle.chat_send("flapjacklounge", "Hello lounge from flapjack"),
    );
    bobby.wait(
        "alice's chat message",
        STEP,
        chat_line("flapjacklounge", "alice", "Hello lounge from flapjack"),
    );
    bobby.send(&["chat", &b_lounge, "Hello alice from libpurple in the lounge"]);
    alice.wait(
        "bobby's chat message",
        STEP,
        fj_chat("flapjacklounge", "bobby", "Hello alice from libpurple in the lounge"),
    );

    p.step("alice invites bobby into a second room; he accepts and talks");
    let (_, members) = alice.call("alice joins flapjackparlor", handle.join_chat("flapjackparlor"));
    if !has_member(&members, "alice") {
        alice.fail(&format!("alice is not in the parlor's member list {members:?}"));
    }
    alice.call(
        "invitation to bobby",
        handle.invite_to_chat("flapjackparlor", "bobby", "Join us in the parlor"),
    );
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
        "alice in the parlor's member list",
        STEP,
        chat_member("flapjackparlor", "alice"),
    );
    alice.wait(
        "bobby joins the parlor",
        STEP,
        fj_member_joined("flapjackparlor", "bobby"),
    );
    bobby.send(&["chat", &b_parlor, "Thanks for the invite"]);
    alice.wait(
        "bobby's message in the parlor",
        STEP,
        fj_chat("flapjackparlor", "bobby", "Thanks for the invite"),
    );

    p.step("bobby invites alice into a third room; she joins from the invitation and talks");
    bobby.send(&["join", "purplesalon"]);
    let joined = bobby.wait("bobby joins purplesalon", STEP, chat_joined("purplesalon"));
    let b_salon = str_field(&joined, "room").to_owned();
    bobby.wait(
        "bobby in the salon's member list",
        STEP,
        chat_member("purplesalon", "bobby"),
    );
    bobby.send(&["invite", &b_salon, "alice", "Come to the salon"]);
    let Event::ChatInvite { from, room, message } = alice.wait("bobby's chat invitation", STEP, |e| {
        matches!(e, Event::ChatInvite { .. })
    }) else {
        unreachable!()
    };
    if !same_name(&from, "bobby")
        || !room.name.eq_ignore_ascii_case("purplesalon")
        || !message.as_deref().is_some_and(|m| m.contains("Come to the salon"))
    {
        alice.fail(&format!(
            "the invitation names the wrong sender, room or message: from {from:?}, {room:?}, {message:?}"
        ));
    }
    let (joined_room, members) = alice.call("alice joins from the invitation", handle.join_chat_room(room));
    if !joined_room.name.eq_ignore_ascii_case("purplesalon")
        || !has_member(&members, "alice")
        || !has_member(&members, "bobby")
    {
        alice.fail(&format!("joined {joined_room:?} with members {members:?}"));
    }
    bobby.wait("alice joins the salon", STEP, chat_member("purplesalon", "alice"));
    alice.call(
        "chat in the salon",
        handle.chat_send(&joined_room.name, "Thanks, bobby"),
    );
    bobby.wait(
        "alice's message in the salon",
        STEP,
        chat_line("purplesalon", "alice", "Thanks, bobby"),
    );

    p.step("alice leaves the salon; bobby sees her go");
    alice.call("alice leaves the salon", handle.leave_chat(&joined_room.name));
    bobby.wait("alice leaves the salon", STEP, chat_member_left("purplesalon", "alice"));

    p.step("alice signs off; bobby sees her depart");
    bobby.discard_pending();
    alice.discard_pending();
    alice.sign_off();
    bobby.wait("alice's departure", STEP, buddy_state("alice", false, None));
    for room in ["flapjacklounge", "flapjackparlor"] {
        bobby.wait(&format!("alice leaves {room}"), STEP, chat_member_left(room, "alice"));
    }
    server.wait_signed_off("alice", STEP).unwrap_or_else(|e| bobby.fail(&e));
    match bobby.quit(STEP) {
        Some(status) if status.success() => {}
        other => bobby.fail(&format!("bobby's driver did not exit cleanly after quit: {other:?}")),
    }
    server.wait_signed_off("bobby", STEP).unwrap_or_else(|e| bobby.fail(&e));
    p.done();
}

/// BUCP: flapjack's strong-MD5 login and libpurple's `md5_login`.
#[test]
fn flapjack_and_purple_bucp() {
    scenario("flapjack_and_purple_bucp", Logins::Bucp);
}

/// OpenAuth: flapjack's clientLogin + startOSCARSession against the HTTP API and libpurple's
/// `client_login`.
#[test]
fn flapjack_and_purple_openauth() {
    scenario("flapjack_and_purple_openauth", Logins::OpenAuth);
}
