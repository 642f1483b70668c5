//! The OpenAuth HTTP API on real listeners (127.0.0.1:0): clientLogin → startOSCARSession → BOS,
//! the Stack Overflow seed scenario both ways, JSON and XML, and every error the API answers.

mod openauth_support;

use std::net::SocketAddr;
use std::time::Duration;

use flapjack_auth::openauth::{
    ClientLoginData, Envelope, ResponseData, StartSessionData, session_key, sign, signed_query,
};
use flapjack_auth::percent;
use flapjack_server::Server;
use flapjack_server::limits::LoginLimits;
use flapjack_server::metrics::{LoginMethod, LoginResult};
use openauth_support::*;

const START_PATH: &str = "/aim/startOSCARSession";
const PUBLIC_URL: &str = "https://api.oscar.aol.com/aim/startOSCARSession";

fn http_endpoint(server: &Server) -> Endpoint {
    Endpoint::plain(server.frontends().http_addr().expect("HTTP listener"))
}

/// Logs the seed client in and returns (login data, session key).
async fn seed_login(ep: &Endpoint, format: &str) -> (ClientLoginData, String) {
    let data = login_ok(ep, &seed_login_body(format)).await;
    let key = session_key(PASSWORD.as_bytes(), data.session_secret.as_bytes());
    (data, key)
}

/// The seed client's startOSCARSession parameters.
fn seed_params(token: &str, ts: i64) -> Vec<(&'static str, String)> {
    vec![
        ("a", token.to_owned()),
        ("clientName", "blah blah blah".to_owned()),
        ("clientVersion", "yadda yadda yadda".to_owned()),
        ("f", "json".to_owned()),
        ("k", "whatever".to_owned()),
        ("ts", ts.to_string()),
        ("useTLS", "0".to_owned()),
    ]
}

fn pairs<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// A correctly signed query for `params` over `url`.
fn signed(url: &str, params: &[(&'static str, String)], key: &str) -> String {
    signed_query("GET", url, &pairs(params), key)
}

async fn expect_host_online(oscar: SocketAddr, cookie: &[u8]) {
    match bos_signon(tcp(oscar).await, cookie).await {
        Bos::HostOnline(families) => assert!(families.contains(&1), "{families:?}"),
        Bos::Refused => panic!("cookie refused"),
    }
}

fn plain_addr(data: &StartSessionData) -> SocketAddr {
    format!("{}:{}", data.host, data.port).parse().expect("host:port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_broken_base_string_is_refused_and_the_correct_one_reaches_bos() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let (login, key) = seed_login(&ep, "json").await;
    let own_url = ep.url(START_PATH);
    let ts = login.host_time;
    let params = seed_params(&login.token.a, ts);

    // The asker's request: "GET&" + quote(url + "?") + urlencode(params), spaces as `+`.
    let broken_sig = sign(&key, &so_broken_base(&own_url, &pairs(&params)));
    let broken_query = format!(
        "{}&sig_sha256={}",
        py2_urlencode(&pairs(&params)),
        percent::encode(&broken_sig)
    );
    let resp = start_session(&ep, &broken_query).await;
    assert_eq!(resp.codes(), (401, Some(1014)), "{}", resp.body);
    assert!(resp.content_type.starts_with("application/json"));
    // Also the asker's original target URL, and its raw (unencoded) signature: still 401/1014.
    let public_http = "http://api.oscar.aol.com/aim/startOSCARSession";
    let broken_sig = sign(&key, &so_broken_base(public_http, &pairs(&params)));
    let broken_query = format!("{}&sig_sha256={broken_sig}", py2_urlencode(&pairs(&params)));
    assert_eq!(start_session(&ep, &broken_query).await.codes(), (401, Some(1014)));

    // The same inputs signed correctly get a cookie that reaches BOS host online.
    let resp = start_session(&ep, &signed(&own_url, &params, &key)).await;
    let data = resp.session_envelope().into_result().expect("startOSCARSession");
    assert_eq!(data.tls_cert_name, None);
    assert_eq!(plain_addr(&data), server.local_addr());
    expect_host_online(server.local_addr(), &data.cookie_bytes().unwrap()).await;

    let m = &server.state().metrics;
    assert_eq!(m.logins(LoginMethod::ClientLogin, LoginResult::Success), 1);
    assert_eq!(m.logins(LoginMethod::StartOscarSession, LoginResult::Rejected), 2);
    assert_eq!(m.logins(LoginMethod::StartOscarSession, LoginResult::Success), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_client_login_has_the_documented_shape() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let resp = client_login(&ep, &format!("{}&r=req-42&tokenType=3600", seed_login_body("json"))).await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.content_type.starts_with("application/json"),
        "{}",
        resp.content_type
    );
    let v: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
    let r = &v["response"];
    assert_eq!(r["statusCode"], 200);
    assert_eq!(r["requestId"], "req-42");
    let d = &r["data"];
    let token = d["token"]["a"].as_str().unwrap();
    assert!(token.len() >= 40, "{token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "URL-safe: {token}"
    );
    assert_eq!(d["token"]["expiresIn"], 3600);
    assert_eq!(d["tokenExpiresIn"], 3600);
    assert_eq!(d["loginId"], "erin");
    assert_eq!(d["screenName"], USER);
    assert!(d["sessionSecret"].as_str().unwrap().len() >= 16);
    let host_time = d["hostTime"].as_i64().unwrap();
    assert!((host_time - unix_now()).abs() < 5);
    assert!(!resp.body.contains(PASSWORD) && !resp.body.contains("some%20password"));

    // A default token lives 24 h; longterm a year.
    let d = login_ok(&ep, &seed_login_body("json")).await;
    assert_eq!(d.token.expires_in, Some(86_400));
    let d = login_ok(&ep, &format!("{}&tokenType=longterm", seed_login_body("json"))).await;
    assert_eq!(d.token_expires_in, Some(365 * 86_400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_flow_libpurple_style_over_the_public_url() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    // libpurple's body (f=xml, devId), then its startOSCARSession signed over the public URL.
    let resp = client_login(&ep, "devId=ma19CwYN9i9Mw5nY&f=xml&pwd=some%20password&s=Erin&r=7").await;
    assert!(resp.content_type.starts_with("text/xml"), "{}", resp.content_type);
    assert!(
        resp.body
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><response xmlns=\"https://api.login.aol.com\"><statusCode>200</statusCode><statusText>OK</statusText><requestId>7</requestId><data><token><a>"),
        "{}",
        resp.body
    );
    for element in [
        "<expiresIn>86400</expiresIn>",
        "<loginId>Erin</loginId>",
        "<screenName>Erin</screenName>",
        "<sessionSecret>",
        "<hostTime>",
        "<tokenExpiresIn>86400</tokenExpiresIn>",
    ] {
        assert!(resp.body.contains(element), "{element} in {}", resp.body);
    }
    let login = resp.login_envelope().into_result().unwrap();
    let key = session_key(PASSWORD.as_bytes(), login.session_secret.as_bytes());
    let params = vec![
        ("a", login.token.a.clone()),
        ("distId", "1717".to_owned()),
        ("f", "xml".to_owned()),
        ("k", "ma19CwYN9i9Mw5nY".to_owned()),
        ("ts", login.host_time.to_string()),
        ("useTLS", "0".to_owned()),
    ];
    let resp = start_session(&ep, &signed(PUBLIC_URL, &params, &key)).await;
    assert!(resp.content_type.starts_with("text/xml"));
    assert!(resp.body.contains("<statusCode>200</statusCode>"), "{}", resp.body);
    assert!(resp.body.contains("<host>127.0.0.1</host>"), "{}", resp.body);
    assert!(!resp.body.contains("tlsCertName"));
    let data = resp.session_envelope().into_result().unwrap();
    expect_host_online(server.local_addr(), &data.cookie_bytes().unwrap()).await;
}

/// A correctly signed request whose signature contains `+`, by trying successive `ts` from
/// `ts0`: (ts used, query with `%2B`, the same query with the signature raw).
fn query_with_plus_in_signature(url: &str, token: &str, key: &str, ts0: i64) -> (i64, String, String) {
    for ts in ts0..ts0 + 200 {
        let params = seed_params(token, ts);
        let query = signed(url, &params, key);
        let encoded_sig = query.rsplit_once("sig_sha256=").unwrap().1.to_owned();
        if encoded_sig.contains("%2B") {
            let raw_sig = percent::decode_query_component_str(&encoded_sig).unwrap();
            let raw_query = query.replace(&encoded_sig, &raw_sig);
            return (ts, query, raw_query);
        }
    }
    panic!("no signature with a `+` in 200 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_plus_and_percent_encoded_signatures_are_both_accepted() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let (login, key) = seed_login(&ep, "json").await;
    let url = ep.url(START_PATH);
    let (ts, _, raw) = query_with_plus_in_signature(&url, &login.token.a, &key, login.host_time);
    assert!(raw.rsplit_once("sig_sha256=").unwrap().1.contains('+'));
    // A different request (the same one would be a replay), percent-encoded.
    let (_, encoded, _) = query_with_plus_in_signature(&url, &login.token.a, &key, ts + 1);
    assert!(encoded.contains("%2B"));
    let d1 = start_session(&ep, &raw)
        .await
        .session_envelope()
        .into_result()
        .expect("raw +");
    let d2 = start_session(&ep, &encoded)
        .await
        .session_envelope()
        .into_result()
        .expect("%2B");
    expect_host_online(server.local_addr(), &d1.cookie_bytes().unwrap()).await;
    expect_host_online(server.local_addr(), &d2.cookie_bytes().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_account_answer_alike() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let wrong = client_login(&ep, "devId=k&f=json&s=erin&pwd=nope").await;
    let unknown = client_login(&ep, "devId=k&f=json&s=nobodyhere&pwd=nope").await;
    let empty = client_login(&ep, "devId=k&f=json&s=%20&pwd=nope").await;
    for resp in [&wrong, &unknown, &empty] {
        assert_eq!(resp.status, 200);
        assert_eq!(resp.codes(), (330, Some(3011)), "{}", resp.body);
    }
    assert_eq!(wrong.body, unknown.body);
    let xml = client_login(&ep, "devId=k&f=xml&s=erin&pwd=nope").await;
    assert!(xml.body.contains("<statusCode>330</statusCode>"), "{}", xml.body);
    assert!(
        xml.body.contains("<statusDetailCode>3011</statusDetailCode>"),
        "{}",
        xml.body
    );
    assert_eq!(
        server
            .state()
            .metrics
            .logins(LoginMethod::ClientLogin, LoginResult::Rejected),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_expired_and_badly_signed_tokens_get_401_1014() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let url = ep.url(START_PATH);

    // Unknown token, however well signed.
    let (login, key) = seed_login(&ep, "json").await;
    let params = seed_params("bm90LWEtdG9rZW4", login.host_time);
    assert_eq!(
        start_session(&ep, &signed(&url, &params, &key)).await.codes(),
        (401, Some(1014))
    );

    // A signature made with the wrong session key (wrong password).
    let wrong_key = session_key(b"not the password", login.session_secret.as_bytes());
    let params = seed_params(&login.token.a, login.host_time);
    assert_eq!(
        start_session(&ep, &signed(&url, &params, &wrong_key)).await.codes(),
        (401, Some(1014))
    );
    // Signed over a URL the server does not accept.
    assert_eq!(
        start_session(
            &ep,
            &signed("https://elsewhere.example/aim/startOSCARSession", &params, &key)
        )
        .await
        .codes(),
        (401, Some(1014))
    );
    // A tampered parameter.
    let tampered = signed(&url, &params, &key).replace("useTLS=0", "useTLS=1");
    assert_eq!(start_session(&ep, &tampered).await.codes(), (401, Some(1014)));

    // Expired: a one-second token.
    let short = login_ok(&ep, &format!("{}&tokenType=1", seed_login_body("json"))).await;
    assert_eq!(short.token.expires_in, Some(1));
    let short_key = session_key(PASSWORD.as_bytes(), short.session_secret.as_bytes());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let params = seed_params(&short.token.a, unix_now());
    assert_eq!(
        start_session(&ep, &signed(&url, &params, &short_key)).await.codes(),
        (401, Some(1014))
    );

    // The good token still works.
    let params = seed_params(&login.token.a, unix_now());
    assert!(
        start_session(&ep, &signed(&url, &params, &key))
            .await
            .session_envelope()
            .into_result()
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ts_outside_the_window_gets_400_1015_with_server_time() {
    let mut config = config();
    config.http.ts_window = Duration::from_secs(60);
    let server = start(config).await;
    let ep = http_endpoint(&server);
    let (login, key) = seed_login(&ep, "json").await;
    let url = ep.url(START_PATH);
    for skew in [-3600, 61 + 5, 7200] {
        let params = seed_params(&login.token.a, unix_now() + skew);
        let resp = start_session(&ep, &signed(&url, &params, &key)).await;
        assert_eq!(resp.codes(), (400, Some(1015)), "{}", resp.body);
        let env: Envelope<StartSessionData> = resp.session_envelope();
        let ResponseData::Error(data) = env.data else {
            panic!("error data expected: {}", resp.body)
        };
        let server_ts = data.ts.expect("data.ts");
        assert!((server_ts - unix_now()).abs() < 5);
    }
    // Within the window, it works (qutIM's retry with data.ts).
    let params = seed_params(&login.token.a, unix_now() - 50);
    assert!(
        start_session(&ep, &signed(&url, &params, &key))
            .await
            .session_envelope()
            .into_result()
            .is_ok()
    );
    // XML error with data.ts.
    let mut params = seed_params(&login.token.a, 1_000_000_000);
    params[3].1 = "xml".to_owned();
    let resp = start_session(&ep, &signed(&url, &params, &key)).await;
    assert!(
        resp.body.contains("<statusDetailCode>1015</statusDetailCode>"),
        "{}",
        resp.body
    );
    assert!(resp.body.contains("<data><ts>"), "{}", resp.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_bad_parameters_get_460_and_462() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    for (body, code) in [
        ("devId=k&f=json&s=erin", 460),
        ("devId=k&f=json&pwd=x", 460),
        ("f=json&s=erin&pwd=x", 460),
        ("", 460),
        ("devId=k&f=amf&s=erin&pwd=x", 462),
        ("devId=k&f=json&s=erin&pwd=x&tokenType=forever", 462),
        ("devId=k&f=json&s=erin&pwd=x&pwd=y", 462),
        ("devId=k&f=json&s=erin&pwd=%FF", 462),
    ] {
        let resp = client_login(&ep, body).await;
        assert_eq!(resp.status, 200, "{body}");
        assert_eq!(resp.codes(), (code, None), "{body}: {}", resp.body);
    }
    // The error comes in the requested format when it can be read.
    let resp = client_login(&ep, "devId=k&f=xml&s=erin").await;
    assert!(resp.body.contains("<statusCode>460</statusCode>"), "{}", resp.body);
    assert!(resp.body.contains("pwd"), "{}", resp.body);

    let (login, key) = seed_login(&ep, "json").await;
    let url = ep.url(START_PATH);
    let mut params = seed_params(&login.token.a, login.host_time);
    params.remove(0); // no `a`
    assert_eq!(
        start_session(&ep, &signed(&url, &params, &key)).await.codes(),
        (460, None)
    );
    let params = seed_params(&login.token.a, login.host_time);
    let unsigned: String = signed(&url, &params, &key)
        .split("&sig_sha256=")
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(start_session(&ep, &unsigned).await.codes(), (460, None));
    let no_ts: Vec<_> = params.iter().filter(|(n, _)| *n != "ts").cloned().collect();
    assert_eq!(
        start_session(&ep, &signed(&url, &no_ts, &key)).await.codes(),
        (460, None)
    );
    assert_eq!(start_session(&ep, "").await.codes(), (460, None));

    for (name, value) in [("useTLS", "maybe"), ("ts", "soon"), ("f", "amf"), ("distId", "x")] {
        let mut params = seed_params(&login.token.a, login.host_time);
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some(p) => p.1 = value.to_owned(),
            None => params.push((name, value.to_owned())),
        }
        assert_eq!(
            start_session(&ep, &signed(&url, &params, &key)).await.codes(),
            (462, None),
            "{name}={value}"
        );
    }
    let q = signed(&url, &seed_params(&login.token.a, login.host_time), &key);
    assert_eq!(start_session(&ep, &format!("{q}&a=again")).await.codes(), (462, None));
    assert_eq!(
        start_session(&ep, &q.replace("sig_sha256=", "sig_sha256=%21%21"))
            .await
            .codes(),
        (462, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn developer_keys_can_be_restricted() {
    // Unrestricted (the default): any key, `devId` or `k`.
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    login_ok(&ep, "k=anything&s=erin&pwd=some%20password").await;

    let mut config = config();
    config.http.dev_keys = vec!["good-key".into()];
    let server = start(config).await;
    let ep = http_endpoint(&server);
    let resp = client_login(&ep, "devId=other&f=json&s=erin&pwd=some%20password").await;
    assert_eq!(resp.codes(), (440, None), "{}", resp.body);
    let resp = client_login(&ep, "k=other&f=json&s=erin&pwd=some%20password").await;
    assert_eq!(resp.codes(), (440, None));
    let login = login_ok(&ep, "devId=good-key&f=json&s=erin&pwd=some%20password").await;
    let key = session_key(PASSWORD.as_bytes(), login.session_secret.as_bytes());
    let url = ep.url(START_PATH);
    let mut params = seed_params(&login.token.a, login.host_time);
    assert_eq!(
        start_session(&ep, &signed(&url, &params, &key)).await.codes(),
        (440, None)
    );
    params.retain(|(n, _)| *n != "k");
    assert_eq!(
        start_session(&ep, &signed(&url, &params, &key)).await.codes(),
        (440, None)
    );
    params.push(("k", "good-key".into()));
    assert!(
        start_session(&ep, &signed(&url, &params, &key))
            .await
            .session_envelope()
            .into_result()
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_failures_get_607() {
    let mut config = config();
    config.login_limits = LoginLimits {
        per_account: 3,
        per_address: 100,
        window: Duration::from_secs(600),
    };
    let server = start(config).await;
    let ep = http_endpoint(&server);
    for _ in 0..3 {
        assert_eq!(
            client_login(&ep, "devId=k&s=erin&pwd=bad").await.codes(),
            (330, Some(3011))
        );
    }
    // Now even the right password is refused, and an unknown account behaves the same way.
    let resp = client_login(&ep, "devId=k&s=erin&pwd=some%20password").await;
    assert_eq!(resp.codes(), (607, None), "{}", resp.body);
    for _ in 0..3 {
        client_login(&ep, "devId=k&s=ghost&pwd=bad").await;
    }
    assert_eq!(client_login(&ep, "devId=k&s=ghost&pwd=bad").await.codes(), (607, None));
    // Another account is unaffected.
    login_ok(&ep, "devId=k&s=frank&pwd=frank%20pw").await;
    let m = &server.state().metrics;
    assert_eq!(m.logins(LoginMethod::ClientLogin, LoginResult::RateLimited), 2);
    assert!(m.rate_limited.load(std::sync::atomic::Ordering::Relaxed) >= 2);

    // Per source address, and shared with BUCP (the same limiter).
    let mut config = openauth_support::config();
    config.login_limits = LoginLimits {
        per_account: 100,
        per_address: 2,
        window: Duration::from_secs(600),
    };
    let server = start(config).await;
    let ep = http_endpoint(&server);
    client_login(&ep, "devId=k&s=a1&pwd=bad").await;
    client_login(&ep, "devId=k&s=a2&pwd=bad").await;
    assert_eq!(
        client_login(&ep, "devId=k&s=erin&pwd=some%20password").await.codes(),
        (607, None)
    );
    // BUCP from the same address is refused too (0x001D: address connecting too frequently).
    let bucp = bucp_login(tcp(server.local_addr()).await, USER, PASSWORD).await;
    assert_eq!(bucp.err(), Some(0x001D));

    // Bad signatures count against the token's account too.
    let mut config = openauth_support::config();
    config.login_limits = LoginLimits {
        per_account: 2,
        per_address: 100,
        window: Duration::from_secs(600),
    };
    let server = start(config).await;
    let ep = http_endpoint(&server);
    let (login, key) = seed_login(&ep, "json").await;
    let url = ep.url(START_PATH);
    let params = seed_params(&login.token.a, login.host_time);
    for _ in 0..2 {
        assert_eq!(
            start_session(&ep, &signed(&url, &params, "wrong")).await.codes(),
            (401, Some(1014))
        );
    }
    assert_eq!(
        start_session(&ep, &signed(&url, &params, &key)).await.codes(),
        (607, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_and_signed_requests_are_single_use() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let (login, key) = seed_login(&ep, "json").await;
    let query = signed(&ep.url(START_PATH), &seed_params(&login.token.a, login.host_time), &key);
    let data = start_session(&ep, &query)
        .await
        .session_envelope()
        .into_result()
        .unwrap();
    let cookie = data.cookie_bytes().unwrap();
    assert_eq!(cookie.len(), 256);
    expect_host_online(server.local_addr(), &cookie).await;
    // The cookie again: refused on the OSCAR listener.
    assert_eq!(bos_signon(tcp(server.local_addr()).await, &cookie).await, Bos::Refused);
    // The same signed request again: refused.
    assert_eq!(start_session(&ep, &query).await.codes(), (401, Some(1014)));
    // A fresh request with the same token: fine (the token lives on).
    let query = signed(
        &ep.url(START_PATH),
        &seed_params(&login.token.a, login.host_time + 1),
        &key,
    );
    assert!(
        start_session(&ep, &query)
            .await
            .session_envelope()
            .into_result()
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_tls_without_a_tls_listener_gets_the_plain_address() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let (login, key) = seed_login(&ep, "json").await;
    let mut params = seed_params(&login.token.a, login.host_time);
    params[6].1 = "1".into();
    let data = start_session(&ep, &signed(&ep.url(START_PATH), &params, &key))
        .await
        .session_envelope()
        .into_result()
        .unwrap();
    assert_eq!(data.tls_cert_name, None);
    assert_eq!(plain_addr(&data), server.local_addr());
    expect_host_online(server.local_addr(), &data.cookie_bytes().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_public_url_and_default_port_spellings_verify() {
    let mut config = config();
    config.http.public_api_urls = vec!["https://im.example.net:8443/".into()];
    let server = start(config).await;
    let ep = http_endpoint(&server);
    let (login, key) = seed_login(&ep, "json").await;
    for (i, url) in [
        "https://im.example.net:8443/aim/startOSCARSession",
        "https://api.oscar.aol.com:443/aim/startOSCARSession",
        "https://api.icq.net/aim/startOSCARSession",
    ]
    .into_iter()
    .enumerate()
    {
        let params = seed_params(&login.token.a, login.host_time + i as i64);
        let resp = start_session(&ep, &signed(url, &params, &key)).await;
        assert!(resp.session_envelope().into_result().is_ok(), "{url}: {}", resp.body);
    }
    // A Host header naming the public host (a reverse proxy) verifies through it too.
    let mut proxied = ep.clone();
    proxied.host = "api.example.org".into();
    let params = seed_params(&login.token.a, login.host_time + 10);
    let resp = start_session(
        &proxied,
        &signed("http://api.example.org/aim/startOSCARSession", &params, &key),
    )
    .await;
    assert!(resp.session_envelope().into_result().is_ok(), "{}", resp.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonp_and_request_ids() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let resp = client_login(&ep, &format!("{}&c=cb_1&r=9", seed_login_body("json"))).await;
    assert!(
        resp.content_type.starts_with("application/javascript"),
        "{}",
        resp.content_type
    );
    assert!(
        resp.body.starts_with("cb_1({\"response\":{\"statusCode\":200"),
        "{}",
        resp.body
    );
    assert!(resp.body.ends_with("});"));
    assert!(resp.body.contains("\"requestId\":\"9\""));
    let resp = client_login(&ep, &format!("{}&c=alert(1)%3B", seed_login_body("json"))).await;
    assert_eq!(resp.codes(), (462, None), "{}", resp.body);
    // Error envelopes echo `r` too.
    let resp = client_login(&ep, "devId=k&s=erin&pwd=bad&r=abc").await;
    assert!(resp.body.contains("\"requestId\":\"abc\""), "{}", resp.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_http_errors_or_envelopes_never_a_panic() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    assert_eq!(request(&ep, "GET", "/nope", None).await.status, 404);
    assert_eq!(request(&ep, "GET", "/auth/clientLogin", None).await.status, 405);
    assert_eq!(
        request(&ep, "POST", "/aim/startOSCARSession", Some(b"a=1"))
            .await
            .status,
        405
    );
    assert_eq!(
        request(&ep, "POST", "/auth/clientLogin", Some(&[0xff, 0xfe, 0]))
            .await
            .codes(),
        (462, None)
    );
    let huge = vec![b'a'; 64 * 1024];
    assert_eq!(request(&ep, "POST", "/auth/clientLogin", Some(&huge)).await.status, 413);
    for q in [
        "%",
        "a",
        "&&&",
        "sig_sha256=%%%&ts=1",
        "a=%FF&ts=1&sig_sha256=AAAA",
        "=&=&=",
    ] {
        let resp = start_session(&ep, q).await;
        assert_eq!(resp.status, 200, "{q}");
        let (code, _) = resp.codes();
        assert!(code == 460 || code == 462, "{q}: {}", resp.body);
    }
    // The server still works.
    login_ok(&ep, &seed_login_body("json")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let resp = request(&ep, "GET", "/healthz", None).await;
    assert_eq!((resp.status, resp.body.as_str()), (200, "ok\n"));
    login_ok(&ep, &seed_login_body("json")).await;
    client_login(&ep, "devId=k&s=erin&pwd=bad").await;
    let resp = request(&ep, "GET", "/metrics", None).await;
    assert_eq!(resp.status, 200);
    assert!(resp.content_type.starts_with("text/plain; version=0.0.4"));
    for line in [
        "flapjack_logins_total{method=\"clientlogin\",result=\"success\"} 1",
        "flapjack_logins_total{method=\"clientlogin\",result=\"rejected\"} 1",
        "flapjack_openauth_tokens 1",
        "# TYPE flapjack_sessions_online gauge",
        "# TYPE flapjack_ims_relayed_total counter",
        "# TYPE flapjack_offline_messages_stored_total counter",
        "# TYPE flapjack_rate_limited_total counter",
        "# TYPE flapjack_connections_refused_total counter",
    ] {
        assert!(resp.body.lines().any(|l| l == line), "{line} in\n{}", resp.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_die_with_a_password_change_or_account_deletion() {
    let server = start(config()).await;
    let ep = http_endpoint(&server);
    let url = ep.url(START_PATH);
    let (login, key) = seed_login(&ep, "json").await;
    let credentials =
        flapjack_server::credentials::make_credentials(b"new password", &server.state().config.argon2, true).unwrap();
    server.state().store.set_credentials("erin", credentials).await.unwrap();
    let params = seed_params(&login.token.a, login.host_time);
    assert_eq!(
        start_session(&ep, &signed(&url, &params, &key)).await.codes(),
        (401, Some(1014))
    );

    let login = login_ok(&ep, "devId=k&s=frank&pwd=frank%20pw").await;
    let key = session_key(OTHER_PASSWORD.as_bytes(), login.session_secret.as_bytes());
    assert!(server.state().store.delete_account("frank").await.unwrap());
    let params = seed_params(&login.token.a, login.host_time);
    assert_eq!(
        start_session(&ep, &signed(&url, &params, &key)).await.codes(),
        (401, Some(1014))
    );
}
