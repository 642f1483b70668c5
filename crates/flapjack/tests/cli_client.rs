//! The scriptable client subcommands as processes against an in-process server: `login` (with
//! its handshake transcript, typed errors and exit codes, config file and password sources),
//! `send` (host ack, delivery errors), `listen` (JSON lines) and `bot` (a command per IM).

mod cli_support;

use std::process::Stdio;

use cli_support::{TestServer, WAIT, finish, lines_of, read_until, run, text};
use flapjack_client::{Event, ImRequest, MessageId, TypingEvent};
use serde_json::Value;

const ALICE: (&str, &str) = ("Alice", "alice pw 1");
const BOB: (&str, &str) = ("Bob", "bob pw 2");

#[test]
fn login_reports_what_happened_and_fails_with_typed_errors() {
    let s = TestServer::start(&[ALICE, BOB]);

    // OpenAuth with -v: the whole handshake, secrets redacted.
    let mut cmd = s.flapjack();
    cmd.args(["login", "-v", "--api", &s.api, "--user", ALICE.0, "--password", ALICE.1]);
    let o = run(cmd);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    for needle in [
        "Signed on as Alice",
        &format!("POST {}/auth/clientLogin", s.api),
        "pwd=<redacted>",
        "session key: <redacted>",
        "signature base string: GET&http%3A%2F%2F127.0.0.1",
        "/aim/startOSCARSession?",
        "sig_sha256",
        &format!("> connect to BOS {} (plain TCP)", s.oscar),
        &format!("BOS:       {} (plain TCP)", s.oscar),
        "signed on: 2",
        "Signed off.",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    assert!(
        !out.contains(ALICE.1) && !err.contains(ALICE.1),
        "the password is never shown"
    );

    // BUCP, password from the environment, defaults from a config file.
    let cfg = s.home.0.join("client.toml");
    std::fs::write(&cfg, format!("server = \"{}\"\nuser = \"{}\"\n", s.oscar, BOB.0)).unwrap();
    let mut cmd = s.flapjack();
    cmd.args(["login", "-v", "--config"])
        .arg(&cfg)
        .env("FLAPJACK_PASSWORD", BOB.1);
    let o = run(cmd);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("Signed on as Bob"), "{out}");
    assert!(out.contains("BUCP MD5 challenge login as Bob"), "{out}");
    assert!(out.contains(&format!("login:     BUCP at {}", s.oscar)), "{out}");

    // The roasted-password login, the config file still naming the server.
    let mut cmd = s.flapjack();
    cmd.args(["login", "-v", "--login", "roasted", "--config"])
        .arg(&cfg)
        .env("FLAPJACK_PASSWORD", BOB.1);
    let o = run(cmd);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("roasted-password login as Bob"), "{out}");
    assert!(
        out.contains(&format!("login:     roasted login at {}", s.oscar)),
        "{out}"
    );

    // The default config location, and a password file.
    let dir = s.home.0.join("flapjack");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pw"), format!("{}\n", ALICE.1)).unwrap();
    std::fs::write(
        dir.join("client.toml"),
        format!("api = \"{}\"\nuser = \"{}\"\npassword_file = \"pw\"\n", s.api, ALICE.0),
    )
    .unwrap();
    let mut cmd = s.flapjack();
    cmd.arg("login");
    let o = run(cmd);
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).contains("login:     OpenAuth at http://"),
        "{}",
        text(&o.stdout)
    );
    std::fs::remove_file(dir.join("client.toml")).unwrap();

    // Wrong passwords: exit code 3 and the typed error (OpenAuth 330/3011, BUCP 0x0005).
    let mut cmd = s.flapjack();
    cmd.args(["login", "-v", "--api", &s.api, "--user", ALICE.0, "--password", "wrong"]);
    let o = run(cmd);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(3), "{out}\n{err}");
    assert!(
        err.contains("incorrect password") && err.contains("330") && err.contains("3011"),
        "{err}"
    );
    assert!(
        out.contains("statusDetailCode\":3011"),
        "the transcript shows the reply:\n{out}"
    );
    let mut cmd = s.flapjack();
    cmd.args([
        "login",
        "--server",
        &s.oscar.to_string(),
        "--user",
        ALICE.0,
        "--password",
        "wrong",
    ]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o.stderr).contains("0x0005 (incorrect password)"),
        "{}",
        text(&o.stderr)
    );

    // No server anywhere, and no password without a terminal: exit 1 with a hint.
    let mut cmd = s.flapjack();
    cmd.args(["login", "--user", "x", "--password", "y"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("--server"), "{}", text(&o.stderr));
    let mut cmd = s.flapjack();
    cmd.args(["login", "--server", &s.oscar.to_string(), "--user", "x"]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("no password"), "{}", text(&o.stderr));
}

#[test]
fn tls_with_a_self_signed_certificate() {
    let s = TestServer::start_with(&[ALICE], true);
    let (oscar_tls, https, pem) = s.tls.clone().unwrap();
    let api = format!("https://localhost:{https}");

    // OpenAuth over HTTPS, then TLS to BOS, trusting the server's certificate.
    let mut cmd = s.flapjack();
    cmd.args([
        "login",
        "-v",
        "--tls",
        "--api",
        &api,
        "--user",
        ALICE.0,
        "--password",
        ALICE.1,
        "--ca-cert",
    ])
    .arg(&pem);
    let o = run(cmd);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(out.contains(&format!("POST {api}/auth/clientLogin")), "{out}");
    assert!(out.contains("useTLS%3D1"), "{out}");
    assert!(
        out.contains("BOS:       localhost:") && out.contains("over TLS (certificate name"),
        "{out}"
    );

    // BUCP over TLS to the TLS listener.
    let mut cmd = s.flapjack();
    cmd.args([
        "login",
        "--tls",
        "--server",
        &format!("localhost:{oscar_tls}"),
        "--user",
        ALICE.0,
        "--password",
        ALICE.1,
        "--ca-cert",
    ])
    .arg(&pem);
    let o = run(cmd);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert!(
        out.contains("login:     BUCP at localhost:") && out.contains("over TLS"),
        "{out}"
    );

    // Without the certificate, verification fails: exit 3 and a TLS error.
    let mut cmd = s.flapjack();
    cmd.args([
        "login",
        "--tls",
        "--api",
        &api,
        "--user",
        ALICE.0,
        "--password",
        ALICE.1,
    ]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("TLS"), "{}", text(&o.stderr));
}

#[test]
fn send_waits_for_the_ack_and_reports_delivery_errors() {
    let s = TestServer::start(&[ALICE, BOB]);
    let mut bob = s.peer(BOB.0, BOB.1);

    let mut cmd = s.flapjack();
    cmd.args([
        "send",
        "bob",
        "hello <b>Bob</b>",
        "--api",
        &s.api,
        "--user",
        ALICE.0,
        "--password",
        ALICE.1,
    ]);
    let o = run(cmd);
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), "delivered to bob");
    let Event::ImReceived(im) = bob.expect(&s.rt, "the IM", |e| matches!(e, Event::ImReceived(_))) else {
        unreachable!()
    };
    assert_eq!(
        (im.from.screen_name.as_str(), im.text.as_str()),
        ("Alice", "hello <b>Bob</b>")
    );

    // The message from standard input, over BUCP.
    let pw = s.home.0.join("alice.pw");
    std::fs::write(&pw, ALICE.1).unwrap();
    let mut child = s
        .flapjack()
        .args([
            "send",
            "Bob",
            "-",
            "--server",
            &s.oscar.to_string(),
            "--user",
            ALICE.0,
            "--password-file",
        ])
        .arg(&pw)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"line one\n").unwrap();
    let o = finish(child, WAIT);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let Event::ImReceived(im) = bob.expect(&s.rt, "the IM", |e| matches!(e, Event::ImReceived(_))) else {
        unreachable!()
    };
    assert_eq!(im.text, "line one");

    // Nobody there: exit code 4, the reason in words.
    let mut cmd = s.flapjack();
    cmd.args([
        "send",
        "nobody",
        "hi",
        "--server",
        &s.oscar.to_string(),
        "--user",
        ALICE.0,
        "--password",
        ALICE.1,
    ]);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("recipient not logged on"),
        "{}",
        text(&o.stderr)
    );
    bob.sign_off(&s.rt);
}

#[test]
fn listen_prints_one_json_object_per_event() {
    let s = TestServer::start(&[ALICE, BOB]);
    let mut child = s
        .flapjack()
        .args([
            "listen",
            "--count",
            "2",
            "--server",
            &s.oscar.to_string(),
            "--user",
            ALICE.0,
            "--password",
            ALICE.1,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let mut seen = read_until(&lines, "\"type\":\"signed_on\"");
    let bob = s.peer(BOB.0, BOB.1);
    s.rt.block_on(async {
        bob.handle.send_typing("alice", TypingEvent::Begun).await.unwrap();
        bob.handle.send_im_acked("alice", "first <i>one</i>").await.unwrap();
        let mut auto = ImRequest::new(MessageId(0), "alice", "I'm away");
        auto.auto_response = true;
        bob.handle.send_im_with(auto).await.unwrap();
    });
    seen.extend(read_until(&lines, "\"type\":\"signed_off\""));
    let o = finish(child, WAIT);
    assert!(o.status.success(), "{}", text(&o.stderr));

    let events: Vec<Value> = seen
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for (line, v) in seen.iter().zip(&events) {
        assert!(line.starts_with("{\"type\":"), "type first: {line}");
        assert!(v["time"].as_u64().is_some_and(|t| t > 1_000_000_000), "{line}");
    }
    let types: Vec<&str> = events.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"signed_on"), "{types:?}");
    assert!(types.contains(&"typing"), "{types:?}");
    let signed_on = events.iter().find(|v| v["type"] == "signed_on").unwrap();
    assert_eq!(signed_on["screen_name"], "Alice");
    assert!(signed_on["buddy_list"]["groups"].is_array());
    let ims: Vec<&Value> = events.iter().filter(|v| v["type"] == "im").collect();
    assert_eq!(ims.len(), 2, "--count 2 stops after two IMs: {types:?}");
    assert_eq!(ims[0]["from"], "Bob");
    assert_eq!(ims[0]["text"], "first one");
    assert_eq!(ims[0]["html"], "first <i>one</i>");
    assert_eq!(ims[0]["auto_response"], false);
    assert_eq!(ims[1]["auto_response"], true);
    assert_eq!(types.last(), Some(&"signed_off"));
    bob.sign_off(&s.rt);
}

#[test]
fn bot_answers_each_im_with_the_commands_output() {
    let s = TestServer::start(&[ALICE, BOB]);
    // The reply shows the text from the environment and the event JSON from stdin.
    let script = r#"read -r event; kind=$(printf '%s' "$event" | grep -o '"type":"im"'); printf 'echo: %s (%s, to %s)\n' "$FLAPJACK_TEXT" "$kind" "$FLAPJACK_USER""#;
    let mut child = s
        .flapjack()
        .args([
            "bot",
            "--server",
            &s.oscar.to_string(),
            "--user",
            ALICE.0,
            "--password",
            ALICE.1,
            "--exec",
            script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let errs = lines_of(child.stderr.take().unwrap());
    read_until(&errs, "signed on as Alice");
    let mut bob = s.peer(BOB.0, BOB.1);
    s.rt.block_on(async {
        // An automatic response is never answered (no loops between away messages and bots).
        let mut auto = ImRequest::new(MessageId(0), "alice", "auto");
        auto.auto_response = true;
        bob.handle.send_im_with(auto).await.unwrap();
        bob.handle.send_im_acked("alice", "ping").await.unwrap();
        bob.handle.send_im_acked("alice", "pong").await.unwrap();
    });
    for word in ["ping", "pong"] {
        let Event::ImReceived(im) = bob.expect(&s.rt, "the bot's reply", |e| matches!(e, Event::ImReceived(_))) else {
            unreachable!()
        };
        assert_eq!(im.from.screen_name, "Alice");
        assert_eq!(
            im.text,
            format!("echo: {word} (\"type\":\"im\", to Alice)"),
            "replies in order, none to the auto-response"
        );
    }
    read_until(&errs, "replied to Bob");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = finish(child, WAIT);
    assert!(o.status.success(), "a clean sign-off on SIGTERM: {:?}", o.status);
    bob.sign_off(&s.rt);
}
