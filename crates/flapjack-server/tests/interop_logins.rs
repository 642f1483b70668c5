//! Interop: every login path of the real clients against the server.
//!
//! libpurple signs on with `md5_login` (BUCP) and `client_login` (OpenAuth over our HTTP
//! listener), each without and with required TLS (the server's generated self-signed
//! certificate, accepted by the driver); Twisted signs on with BUCP (`--mode aim`) and with the
//! roasted channel-1 login (`--mode icq`, numeric UIN). Each test also tries a wrong password
//! concurrently, which must be refused.
//!
//! A sign-on counts only once the server holds a signed-on session (client ready processed) on
//! the expected transport; the client's own `signed_on` event is not enough.

mod interop;

use std::time::Instant;

use interop::{
    Checks, Encryption, Login, Peer, SIGNON, TestServer, TwistedMode, event, report_time, require, same_name, str_field,
};

fn purple_login(test: &str, login: Login, enc: Encryption) {
    let Some(peers) = require(test, &[Peer::Purple]) else {
        return;
    };
    let started = Instant::now();
    let server = TestServer::start();
    server.add_account("alice", "alice-secret");
    server.add_account("mallory", "mallory-secret");
    let tls = enc != Encryption::None;
    let mut good = server.purple(peers, "alice", "alice-secret", login, enc);
    let mut bad = server.purple(peers, "mallory", "not-the-password", login, enc);
    let mut checks = Checks::default();

    checks.check("right password signs on", || {
        let on = good.wait_event("signed_on", SIGNON);
        if !same_name(str_field(&on, "user"), "alice") {
            good.fail(&format!("signed on as the wrong user: {on}"));
        }
        server
            .wait_signed_on("alice", Some(tls), SIGNON)
            .unwrap_or_else(|e| good.fail(&e));
        // The names libpurple checked our self-signed certificate against (the driver accepts
        // it): BUCP over TLS checks the login server as given (--server), then the hard-coded
        // BOS name; clientLogin checks BOS against startOSCARSession's tlsCertName.
        let cert_hosts: Vec<String> = match (tls, login) {
            (false, _) => Vec::new(),
            (true, Login::Md5) => vec!["127.0.0.1".into(), "bos.oscar.aol.com".into()],
            (true, Login::ClientLogin) => vec![server.tls_cert_name()],
        };
        for host in &cert_hosts {
            good.wait(&format!("`cert_accepted` for {host}"), SIGNON, |e| {
                event(e) == "cert_accepted" && str_field(e, "host") == host
            });
        }
        if login == Login::ClientLogin {
            good.wait("an http_fetch of clientLogin", SIGNON, |e| {
                event(e) == "http_fetch" && str_field(e, "url").contains("/auth/clientLogin")
            });
            let use_tls = if tls { "useTLS=1" } else { "useTLS=0" };
            good.wait(
                &format!("an http_fetch of startOSCARSession with {use_tls}"),
                SIGNON,
                |e| {
                    event(e) == "http_fetch"
                        && str_field(e, "url").contains("/aim/startOSCARSession")
                        && str_field(e, "url").contains(use_tls)
                },
            );
        }
        good.assert_absent("a certificate prompt on a plain connection", |e| {
            !tls && event(e).starts_with("cert_")
        });
    });

    checks.check("wrong password is refused", || {
        let err = bad.wait("connection_error for the wrong password", SIGNON, |e| {
            event(e) == "connection_error"
        });
        if str_field(&err, "reason") != "authentication_failed" {
            bad.fail(&format!("expected reason authentication_failed, got {err}"));
        }
        if !server.sessions("mallory").is_empty() {
            bad.fail("the server holds a session for the refused login");
        }
    });

    checks.finish(test);
    report_time(test, started);
}

fn twisted_login(test: &str, mode: TwistedMode) {
    let Some(peers) = require(test, &[Peer::Twisted]) else {
        return;
    };
    let started = Instant::now();
    let server = TestServer::start();
    let (user, other) = match mode {
        TwistedMode::Aim => ("carol", "mallory"),
        // ICQ numbers: at least 6 digits (Twisted skips to the first NUL after 10 bytes).
        TwistedMode::Icq => ("27182818", "31415926"),
    };
    server.add_account(user, "carol-secret");
    server.add_account(other, "other-secret");
    let mut good = server.twisted(peers, user, "carol-secret", mode);
    let mut bad = server.twisted(peers, other, "not-the-password", mode);
    let mut checks = Checks::default();

    checks.check("right password signs on", || {
        let me = good.wait_event("self_info", SIGNON);
        if !same_name(str_field(&me, "name"), user) {
            good.fail(&format!("self info names someone else: {me}"));
        }
        good.wait_event("signed_on", SIGNON);
        server
            .wait_signed_on(user, Some(false), SIGNON)
            .unwrap_or_else(|e| good.fail(&e));
    });

    checks.check("wrong password is refused", || {
        let err = bad.wait("an auth error for the wrong password", SIGNON, |e| {
            event(e) == "error" && str_field(e, "reason") == "auth"
        });
        if !server.sessions(other).is_empty() {
            bad.fail(&format!("the server holds a session for the refused login ({err})"));
        }
    });

    checks.finish(test);
    report_time(test, started);
}

#[test]
fn login_purple_md5_plain() {
    purple_login("login_purple_md5_plain", Login::Md5, Encryption::None);
}

#[test]
fn login_purple_md5_tls() {
    purple_login("login_purple_md5_tls", Login::Md5, Encryption::Require);
}

#[test]
fn login_purple_clientlogin_plain() {
    purple_login("login_purple_clientlogin_plain", Login::ClientLogin, Encryption::None);
}

#[test]
fn login_purple_clientlogin_tls() {
    purple_login("login_purple_clientlogin_tls", Login::ClientLogin, Encryption::Require);
}

#[test]
fn login_twisted_aim_bucp() {
    twisted_login("login_twisted_aim_bucp", TwistedMode::Aim);
}

#[test]
fn login_twisted_icq_roasted() {
    twisted_login("login_twisted_icq_roasted", TwistedMode::Icq);
}
