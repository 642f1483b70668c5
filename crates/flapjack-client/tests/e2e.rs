//! End to end: the tokio client against the real flapjack server on 127.0.0.1:0 — every login
//! flow the server offers (BUCP strong and weak, roasted, OpenAuth over HTTP and over HTTPS with
//! TLS to BOS), IMs both ways, presence, the buddy list, chat, and bursts of IMs that the rate
//! limiter paces so that the server never warns, limits or disconnects: a thousand from a bot
//! account, a few under AOL's classes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flapjack_client::openauth::Step;
use flapjack_client::{
    Client, ClientConfig, ClientError, ClientHandle, ConnKind, Event, EventStream, FeedbagStatus, Login, SignOffReason,
    TlsOptions,
};
use flapjack_server::credentials::make_credentials;
use flapjack_server::metrics::RateEvent;
use flapjack_server::store::{NewAccount, Store};
use flapjack_server::{Server, ServerConfig, SqliteOptions, SqliteStore};
use flapjack_wire::family::bucp::LoginError;

const ALICE: (&str, &str) = ("Alice", "alice pw");
const BOB: (&str, &str) = ("Bob", "bob pw");
/// A bot account (`flapjack account add --bot`): the server gives it relaxed rate classes.
const ROBOT: (&str, &str) = ("Robot", "robot pw");
const WAIT: Duration = Duration::from_secs(20);

async fn start(config: ServerConfig) -> Server {
    let store = Arc::new(SqliteStore::open_in_memory(SqliteOptions::default()).expect("store"));
    for ((name, pw), bot) in [(ALICE, false), (BOB, false), (ROBOT, true)] {
        let credentials = make_credentials(pw.as_bytes(), &config.argon2, true).expect("credentials");
        store
            .create_account(NewAccount {
                screen_name: name.to_owned(),
                credentials,
                bot,
            })
            .await
            .expect("account");
    }
    Server::start(config, store).await.expect("server")
}

fn bucp(server: &Server, (user, pw): (&str, &str)) -> ClientConfig {
    ClientConfig::new(
        Login::Bucp {
            server: server.local_addr().to_string(),
            weak_hash: false,
        },
        user,
        pw,
    )
}

async fn connect(cfg: ClientConfig) -> (ClientHandle, EventStream) {
    tokio::time::timeout(WAIT, Client::connect(cfg))
        .await
        .expect("signed on in time")
        .unwrap_or_else(|e| panic!("sign-on failed: {e}"))
}

/// The next event matching `pred`, skipping others; fails on a timeout or a sign-off.
async fn expect(events: &mut EventStream, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("events ended while waiting for {what}"));
        if pred(&ev) {
            return ev;
        }
        if let Event::SignedOff { reason } = &ev {
            panic!("signed off ({reason}) while waiting for {what}");
        }
    }
}

async fn sign_off(handle: ClientHandle, mut events: EventStream) {
    handle.sign_off().await.unwrap();
    let mut saw = false;
    while let Some(ev) = tokio::time::timeout(WAIT, events.next()).await.expect("events end") {
        if let Event::SignedOff { reason } = ev {
            assert_eq!(reason, SignOffReason::Requested);
            saw = true;
        }
    }
    assert!(saw, "a SignedOff event");
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "flapjack-client-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucp_logins_and_ims_both_ways() {
    let server = start(ServerConfig::for_tests()).await;
    let (alice, mut alice_ev) = connect(bucp(&server, ALICE)).await;
    let mut weak = bucp(&server, BOB);
    weak.login = Login::Bucp {
        server: server.local_addr().to_string(),
        weak_hash: true,
    };
    let (bob, mut bob_ev) = connect(weak).await;
    let Event::SignedOn { self_info, .. } =
        expect(&mut alice_ev, "SignedOn", |e| matches!(e, Event::SignedOn { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(self_info.screen_name, "Alice");

    let id = alice.send_im_acked("bob", "hello <b>Bob</b>").await.expect("host ack");
    let Event::ImReceived(im) = expect(&mut bob_ev, "IM from Alice", |e| matches!(e, Event::ImReceived(_))).await
    else {
        unreachable!()
    };
    assert_eq!(im.from.screen_name, "Alice");
    assert_eq!(im.text, "hello <b>Bob</b>");
    assert!(!im.auto_response && !im.offline);
    let _ = id;

    bob.send_im("Alice", "hi Alice — ünïcødé ☃").await.unwrap();
    let Event::ImReceived(im) = expect(&mut alice_ev, "IM from Bob", |e| matches!(e, Event::ImReceived(_))).await
    else {
        unreachable!()
    };
    assert_eq!(
        (im.from.screen_name.as_str(), im.text.as_str()),
        ("Bob", "hi Alice — ünïcødé ☃")
    );

    // An IM to someone offline fails with the SNAC error naming the message.
    let err = alice.send_im_acked("nobody here", "x").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Snac {
                code: flapjack_wire::ErrorCode::NotLoggedOn,
                ..
            }
        ),
        "{err}"
    );

    sign_off(alice, alice_ev).await;
    sign_off(bob, bob_ev).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roasted_login_and_refused_passwords() {
    let server = start(ServerConfig::for_tests()).await;
    let roasted = |who: (&str, &str)| {
        ClientConfig::new(
            Login::Roasted {
                server: server.local_addr().to_string(),
            },
            who.0,
            who.1,
        )
    };
    let (alice, alice_ev) = connect(roasted(ALICE)).await;
    sign_off(alice, alice_ev).await;

    let err = Client::connect(roasted(("Alice", "wrong"))).await.unwrap_err();
    assert!(
        matches!(
            err.error,
            ClientError::Login {
                code: LoginError::IncorrectPassword,
                ..
            }
        ),
        "{err}"
    );
    let err = Client::connect(bucp(&server, ("Alice", "wrong"))).await.unwrap_err();
    assert!(
        matches!(
            err.error,
            ClientError::Login {
                code: LoginError::IncorrectPassword,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("0x0005"), "{err}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openauth_over_http_with_a_transcript() {
    let mut config = ServerConfig::for_tests();
    config.http.http_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let server = start(config).await;
    let base = format!("http://{}", server.frontends().http_addr().expect("HTTP listener"));
    let mut cfg = ClientConfig::new(Login::OpenAuth { api_base: base.clone() }, ALICE.0, ALICE.1);
    cfg.open_auth.use_tls = false;
    let (alice, mut events) = connect(cfg).await;
    let Event::LoginTranscript(t) = expect(&mut events, "transcript", |e| matches!(e, Event::LoginTranscript(_))).await
    else {
        unreachable!()
    };
    let text = t.to_string();
    assert!(!text.contains(ALICE.1), "no password in:\n{text}");
    assert!(text.contains(&format!("POST {base}/auth/clientLogin")), "{text}");
    assert!(text.contains("pwd=<redacted>"), "{text}");
    assert!(text.contains("GET&http%3A%2F%2F127.0.0.1"), "the base string: {text}");
    assert!(
        matches!(t.steps.iter().find(|s| matches!(s, Step::SessionKey { .. })), Some(Step::SessionKey { key }) if key == "<redacted>")
    );
    let Some(Step::Bos { tls_cert_name, .. }) = t.steps.iter().find(|s| matches!(s, Step::Bos { .. })) else {
        panic!("{text}")
    };
    assert_eq!(tls_cert_name, &None);
    expect(&mut events, "SignedOn", |e| matches!(e, Event::SignedOn { .. })).await;

    // XML works too, and the secrets can be shown on request.
    let mut cfg = ClientConfig::new(Login::OpenAuth { api_base: base }, BOB.0, BOB.1);
    cfg.open_auth.use_tls = false;
    cfg.open_auth.format = flapjack_client::ResponseFormat::Xml;
    cfg.open_auth.reveal_secrets = true;
    let (bob, mut bob_events) = connect(cfg).await;
    let Event::LoginTranscript(t) = expect(&mut bob_events, "transcript", |e| {
        matches!(e, Event::LoginTranscript(_))
    })
    .await
    else {
        unreachable!()
    };
    assert!(t.to_string().contains("<response"), "an XML reply: {t}");
    assert!(
        matches!(t.steps.iter().find(|s| matches!(s, Step::SessionKey { .. })), Some(Step::SessionKey { key }) if key.ends_with('='))
    );

    alice.send_im("bob", "over OpenAuth").await.unwrap();
    let Event::ImReceived(im) = expect(&mut bob_events, "IM", |e| matches!(e, Event::ImReceived(_))).await else {
        unreachable!()
    };
    assert_eq!(im.text, "over OpenAuth");

    // A wrong password: the typed OpenAuth error, with the transcript.
    let cfg = ClientConfig::new(
        Login::OpenAuth {
            api_base: format!("http://{}", server.frontends().http_addr().unwrap()),
        },
        "Alice",
        "wrong",
    );
    let err = Client::connect(cfg).await.unwrap_err();
    assert_eq!(
        err.error,
        ClientError::OpenAuth(flapjack_auth::AuthError::IncorrectPassword)
    );
    assert!(err.transcript.is_some_and(|t| t.to_string().contains("3011")));
    sign_off(alice, events).await;
    sign_off(bob, bob_events).await;
    server.shutdown().await.unwrap();
}

/// Two OpenAuth sessions of one account (`flapjack send` while `flapjack chat` is open) live side
/// by side: the cookie hello says "multiple logins allowed" (TLV 0x004A = 1). A session that asks
/// for a single login (0x03) on its cookie hello signs the others off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openauth_sessions_of_one_account_coexist_unless_single_is_asked() {
    let mut config = ServerConfig::for_tests();
    config.http.http_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let server = start(config).await;
    let base = format!("http://{}", server.frontends().http_addr().expect("HTTP listener"));
    let mut cfg = ClientConfig::new(Login::OpenAuth { api_base: base }, ALICE.0, ALICE.1);
    cfg.open_auth.use_tls = false;
    let (first, mut first_ev) = connect(cfg.clone()).await;
    let (second, second_ev) = connect(cfg.clone()).await;
    let (bob, mut bob_ev) = connect(bucp(&server, BOB)).await;
    // The first session is still on: what it sends arrives.
    first.send_im("bob", "still here").await.unwrap();
    let Event::ImReceived(im) = expect(&mut bob_ev, "IM", |e| matches!(e, Event::ImReceived(_))).await else {
        unreachable!()
    };
    assert_eq!(im.text, "still here");
    while let Some(ev) = first_ev.try_next() {
        assert!(!matches!(ev, Event::SignedOff { .. }), "{ev:?}");
    }

    // A single-login session signs both older ones off.
    cfg.client_info.multi_conn = Some(3);
    let (third, third_ev) = connect(cfg).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let reason = loop {
        let ev = tokio::time::timeout_at(deadline, first_ev.next())
            .await
            .expect("in time")
            .expect("events");
        if let Event::SignedOff { reason } = ev {
            break reason;
        }
    };
    assert_eq!(reason, SignOffReason::SignedOnElsewhere);
    drop((first, second, second_ev));
    sign_off(third, third_ev).await;
    sign_off(bob, bob_ev).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openauth_over_https_then_tls_to_bos() {
    let dir = temp_dir("tls");
    let mut config = ServerConfig::for_tests();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    config.oscar_tls_addr = Some(any);
    config.http.https_addr = Some(any);
    config.tls.dir = Some(dir.clone());
    config.advertise_host = "localhost".into();
    let server = start(config).await;
    let pem = server
        .frontends()
        .tls()
        .expect("TLS material")
        .certificate_pem()
        .to_owned();
    let port = server.frontends().https_addr().unwrap().port();
    let tls = TlsOptions {
        extra_roots_pem: Some(pem.clone().into_bytes()),
        webpki_roots: false,
        verify: true,
    };
    let mut cfg = ClientConfig::new(
        Login::OpenAuth {
            api_base: format!("https://localhost:{port}"),
        },
        ALICE.0,
        ALICE.1,
    );
    cfg.tls = tls.clone();
    let (alice, mut events) = connect(cfg.clone()).await;
    let Event::Connecting {
        kind, tls_cert_name, ..
    } = expect(&mut events, "BOS connection", |e| {
        matches!(
            e,
            Event::Connecting {
                kind: ConnKind::Bos,
                ..
            }
        )
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(kind, ConnKind::Bos);
    let name = tls_cert_name.expect("TLS to BOS");
    assert!(!name.is_empty());
    expect(&mut events, "SignedOn", |e| matches!(e, Event::SignedOn { .. })).await;
    sign_off(alice, events).await;

    // Without the server's certificate the HTTPS step fails verification.
    cfg.tls = TlsOptions {
        extra_roots_pem: None,
        webpki_roots: true,
        verify: true,
    };
    let err = Client::connect(cfg.clone()).await.unwrap_err();
    assert!(matches!(err.error, ClientError::Tls(_)), "{err}");
    // And with verification off it goes through.
    cfg.tls.verify = false;
    let (alice, events) = connect(cfg).await;
    sign_off(alice, events).await;
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buddy_list_presence_profiles_and_away() {
    let server = start(ServerConfig::for_tests()).await;
    let (alice, mut alice_ev) = connect(bucp(&server, ALICE)).await;
    let (results, list) = alice
        .edit_buddies(|tx| {
            tx.add_buddy("Friends", "Bob");
        })
        .await
        .expect("transaction");
    assert!(!results.is_empty());
    assert!(results.iter().all(|r| r.status == FeedbagStatus::Ok), "{results:?}");
    assert_eq!(list.all_buddies().collect::<Vec<_>>(), ["Bob"]);

    let mut bob_cfg = bucp(&server, BOB);
    bob_cfg.profile = Some("Bob's profile".into());
    let (bob, bob_ev) = connect(bob_cfg).await;
    let Event::BuddyArrived(s) = expect(&mut alice_ev, "Bob arrives", |e| matches!(e, Event::BuddyArrived(_))).await
    else {
        unreachable!()
    };
    assert_eq!(
        flapjack_wire::types::normalize_screen_name(s.screen_name.as_bytes()),
        "bob"
    );
    assert!(!s.away);

    bob.set_away("gone fishing").await.unwrap();
    expect(
        &mut alice_ev,
        "Bob away",
        |e| matches!(e, Event::BuddyChanged(s) if s.away),
    )
    .await;
    let info = alice.get_user_info("bob").await.expect("user info");
    assert_eq!(info.away_message.as_deref(), Some("gone fishing"));
    assert_eq!(info.profile.as_deref(), Some("Bob's profile"));
    bob.set_available().await.unwrap();
    expect(
        &mut alice_ev,
        "Bob back",
        |e| matches!(e, Event::BuddyChanged(s) if !s.away),
    )
    .await;

    sign_off(bob, bob_ev).await;
    expect(&mut alice_ev, "Bob leaves", |e| {
        matches!(e, Event::BuddyDeparted { .. })
    })
    .await;

    // The list survives a new session.
    sign_off(alice, alice_ev).await;
    let (alice, mut alice_ev) = connect(bucp(&server, ALICE)).await;
    let Event::SignedOn { buddy_list, .. } =
        expect(&mut alice_ev, "SignedOn", |e| matches!(e, Event::SignedOn { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(buddy_list.all_buddies().collect::<Vec<_>>(), ["Bob"]);
    let (_, list) = alice
        .edit_buddies(|tx| {
            tx.remove_buddy("bob");
        })
        .await
        .unwrap();
    assert_eq!(list.all_buddies().count(), 0);
    sign_off(alice, alice_ev).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_rooms() {
    let server = start(ServerConfig::for_tests()).await;
    let (alice, mut alice_ev) = connect(bucp(&server, ALICE)).await;
    let (bob, mut bob_ev) = connect(bucp(&server, BOB)).await;
    let (room, members) = alice.join_chat("Lounge").await.expect("alice joins");
    assert_eq!(room.name, "Lounge");
    assert!(members.iter().any(|m| m.eq_ignore_ascii_case("alice")), "{members:?}");
    alice.invite_to_chat("Lounge", "bob", "come in").await.unwrap();
    let Event::ChatInvite {
        room: invited, message, ..
    } = expect(&mut bob_ev, "invitation", |e| matches!(e, Event::ChatInvite { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(message.as_deref(), Some("come in"));
    let (_, members) = bob
        .join_chat_room(invited)
        .await
        .expect("bob joins from the invitation");
    assert!(members.len() >= 2, "{members:?}");
    expect(&mut alice_ev, "bob in the room", |e| {
        matches!(e, Event::ChatMemberJoined { .. })
    })
    .await;
    bob.chat_send("Lounge", "hello room").await.unwrap();
    let Event::ChatMessage { from, text, .. } = expect(&mut alice_ev, "chat message", |e| {
        matches!(e, Event::ChatMessage { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!((from.to_lowercase().as_str(), text.as_str()), ("bob", "hello room"));
    bob.leave_chat("Lounge").await.unwrap();
    expect(&mut alice_ev, "bob leaves", |e| {
        matches!(e, Event::ChatMemberLeft { .. })
    })
    .await;
    sign_off(alice, alice_ev).await;
    sign_off(bob, bob_ev).await;
    server.shutdown().await.unwrap();
}

/// The acceptance test: a script that sends 1,000 IMs through the library as fast as it can call
/// `send_im`, from a bot account, is never warned, rate-limited or disconnected by the server,
/// and every message arrives, in order, within seconds. The bot's rate classes
/// (`flapjack_server::rate::BOT_RATE_CLASSES`) are relaxed but advertised and enforced exactly
/// like AOL's; the client's limiter paces the script to them (`tests/sans_io.rs` runs a bot past
/// the whole burst those classes allow, against the server's own limiter).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_sends_a_thousand_ims_as_fast_as_it_can() {
    let n: usize = std::env::var("FLAPJACK_E2E_BOT_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let config = ServerConfig::for_tests();
    assert!(config.enforce_rate_limits, "rate limits are not switched off");
    let server = start(config).await;
    let (robot, mut robot_ev) = connect(bucp(&server, ROBOT)).await;
    let Event::SignedOn { self_info, .. } =
        expect(&mut robot_ev, "SignedOn", |e| matches!(e, Event::SignedOn { .. })).await
    else {
        unreachable!()
    };
    assert_ne!(
        self_info.class & flapjack_wire::userinfo::class::BOT,
        0,
        "signed on as a bot"
    );
    let (bob, mut bob_ev) = connect(bucp(&server, BOB)).await;

    let started = Instant::now();
    for i in 0..n {
        robot.send_im("bob", &format!("bot {i}")).await.unwrap();
    }
    let handed_over = started.elapsed();
    let mut got = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while got.len() < n {
        let ev = tokio::time::timeout_at(deadline, bob_ev.next())
            .await
            .unwrap_or_else(|_| panic!("{} of {n} IMs arrived in time", got.len()))
            .expect("events");
        match ev {
            Event::ImReceived(im) => got.push(im.text),
            Event::SignedOff { reason } => panic!("the recipient was signed off: {reason}"),
            _ => {}
        }
    }
    let took = started.elapsed();
    eprintln!("{n} IMs from a bot: handed to the library in {handed_over:?}, all received after {took:?}");
    assert!(
        got.iter().zip(0..n).all(|(text, i)| *text == format!("bot {i}")),
        "every IM, in order"
    );
    // No rate warning or limit (0x0001/0x000A codes 2 and 3), no error, no disconnect.
    while let Some(ev) = robot_ev.try_next() {
        assert!(
            !matches!(
                ev,
                Event::RateWarning { .. } | Event::RateLimited { .. } | Event::Error(_) | Event::SignedOff { .. }
            ),
            "{ev:?}"
        );
    }
    // The server agrees: it never warned, limited, dropped or disconnected.
    let metrics = &server.state().metrics;
    for event in [
        RateEvent::Warn,
        RateEvent::Limit,
        RateEvent::Dropped,
        RateEvent::Disconnect,
    ] {
        assert_eq!(metrics.rate_events(event), 0, "{event:?}");
    }
    assert!(took < Duration::from_secs(30), "seconds, not minutes: {took:?}");
    sign_off(robot, robot_ev).await;
    sign_off(bob, bob_ev).await;
    server.shutdown().await.unwrap();
}

/// A burst the server's real AOL classes would punish (class 3: three IMs at once reach the
/// alert level, a handful more the limit): the client spaces them out, the server never warns,
/// limits or disconnects, and every message arrives in order. (With the real classes each IM
/// after the third waits about 5.1 s; the 1,000-IM version of this runs in `tests/sans_io.rs`
/// against the same arithmetic with a fake clock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ims_is_paced_and_never_limited() {
    // FLAPJACK_E2E_BURST=1000 runs the full-size version (about 85 minutes of real time with
    // the AOL classes).
    let n: usize = std::env::var("FLAPJACK_E2E_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let server = start(ServerConfig::for_tests()).await;
    let (alice, mut alice_ev) = connect(bucp(&server, ALICE)).await;
    let (bob, mut bob_ev) = connect(bucp(&server, BOB)).await;
    for i in 0..n {
        alice.send_im("bob", &format!("burst {i}")).await.unwrap();
    }
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60 + 6 * n as u64);
    while got.len() < n {
        let ev = tokio::time::timeout_at(deadline, bob_ev.next())
            .await
            .expect("in time")
            .expect("events");
        if let Event::ImReceived(im) = ev {
            got.push(im.text);
        }
    }
    assert_eq!(got, (0..n).map(|i| format!("burst {i}")).collect::<Vec<_>>());
    // Alice saw no rate warning, limit, error or sign-off.
    while let Some(ev) = alice_ev.try_next() {
        assert!(
            !matches!(
                ev,
                Event::RateWarning { .. } | Event::RateLimited { .. } | Event::Error(_) | Event::SignedOff { .. }
            ),
            "{ev:?}"
        );
    }
    sign_off(alice, alice_ev).await;
    sign_off(bob, bob_ev).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_server_restarts() {
    let server = start(ServerConfig::for_tests()).await;
    let addr = server.local_addr();
    let mut cfg = bucp(&server, ALICE);
    cfg.reconnect = Some(flapjack_client::ReconnectPolicy {
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        max_attempts: Some(50),
    });
    let (alice, mut events) = connect(cfg).await;
    expect(&mut events, "SignedOn", |e| matches!(e, Event::SignedOn { .. })).await;
    server.shutdown().await.unwrap();
    // The server says goodbye on shutdown; the client reports it and starts reconnecting.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut saw_signoff = false;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("in time")
            .expect("events");
        match ev {
            Event::SignedOff { reason } => {
                assert!(reason.is_transient(), "{reason}");
                saw_signoff = true;
            }
            Event::Reconnecting { attempt: 1, .. } => break,
            _ => {}
        }
    }
    assert!(saw_signoff);
    // A new server on the same port: the client signs on again by itself.
    let mut config = ServerConfig::for_tests();
    config.oscar_addr = addr;
    let server = start(config).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("in time")
            .expect("events");
        if matches!(ev, Event::SignedOn { .. }) {
            break;
        }
    }
    let (bob, mut bob_ev) = connect(bucp(&server, BOB)).await;
    alice.send_im("bob", "back again").await.unwrap();
    let Event::ImReceived(im) = expect(&mut bob_ev, "IM", |e| matches!(e, Event::ImReceived(_))).await else {
        unreachable!()
    };
    assert_eq!(im.text, "back again");
    sign_off(alice, events).await;
    sign_off(bob, bob_ev).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucp_and_roasted_over_the_tls_listener() {
    let dir = temp_dir("bucp-tls");
    let mut config = ServerConfig::for_tests();
    config.oscar_tls_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.tls.dir = Some(dir.clone());
    config.advertise_host = "localhost".into();
    let server = start(config).await;
    let pem = server.frontends().tls().unwrap().certificate_pem().to_owned();
    let tls_port = server.frontends().oscar_tls_addr().unwrap().port();
    let server_addr = format!("localhost:{tls_port}");
    for login in [
        Login::Bucp {
            server: server_addr.clone(),
            weak_hash: false,
        },
        Login::Roasted { server: server_addr },
    ] {
        let label = format!("{login:?}");
        let mut cfg = ClientConfig::new(login, ALICE.0, ALICE.1);
        cfg.login_tls = true;
        cfg.tls = TlsOptions {
            extra_roots_pem: Some(pem.clone().into_bytes()),
            webpki_roots: false,
            verify: true,
        };
        let (alice, mut events) = connect(cfg).await;
        let Event::Connecting {
            tls_cert_name, port, ..
        } = expect(&mut events, "BOS", |e| {
            matches!(
                e,
                Event::Connecting {
                    kind: ConnKind::Bos,
                    ..
                }
            )
        })
        .await
        else {
            unreachable!()
        };
        assert!(tls_cert_name.is_some(), "{label}: TLS to BOS after a TLS login");
        assert_eq!(port, tls_port, "{label}: the TLS BOS address");
        sign_off(alice, events).await;
    }
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_session_login_signs_the_older_one_off() {
    let server = start(ServerConfig::for_tests()).await;
    let mut cfg = bucp(&server, ALICE);
    cfg.client_info.multi_conn = Some(3); // "single login: kick the others"
    let (_first, mut first_ev) = connect(cfg.clone()).await;
    let (second, second_ev) = connect(cfg).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let reason = loop {
        let ev = tokio::time::timeout_at(deadline, first_ev.next())
            .await
            .expect("in time")
            .expect("events");
        if let Event::SignedOff { reason } = ev {
            break reason;
        }
    };
    assert_eq!(reason, SignOffReason::SignedOnElsewhere);
    assert_eq!(reason.to_string(), "signed on from another location");
    sign_off(second, second_ev).await;
    server.shutdown().await.unwrap();
}
