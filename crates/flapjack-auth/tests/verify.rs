//! Server-side verification of signed startOSCARSession requests.

use flapjack_auth::AuthError;
use flapjack_auth::openauth::{
    ClientLoginRequest, ResponseFormat, SignedQuery, StartSessionParams, session_key, sign, signed_get_url,
    signed_query, verify_signed_request,
};
use flapjack_auth::percent;

const PUBLIC_URL: &str = "https://api.oscar.aol.com/aim/startOSCARSession";
const WINDOW: u64 = 600;

// ---------------------------------------------------------------------------------------------
// Real requests, copied byte for byte from /work/shared/captures (see its README.md). The HTTP
// server in those captures was a test stand-in, so only the clients' requests (and the secrets
// the stand-in handed out, which the clients then used) are vectors.

/// libpurple-clientlogin.pcapng: libpurple's clientLogin POST body.
const LIBPURPLE_LOGIN_BODY: &str = "devId=ma19CwYN9i9Mw5nY&f=xml&pwd=secret%20pw&s=carol";
/// libpurple-clientlogin.pcapng: `sessionSecret` from the clientLogin reply.
const LIBPURPLE_SECRET: &str = "w2dD48+1N4xbDXfc3nHSPA==";
/// libpurple-clientlogin.pcapng: `hostTime` from the clientLogin reply.
const LIBPURPLE_HOST_TIME: i64 = 1_795_948_902;
/// libpurple-clientlogin.pcapng: the raw query of the signed GET. It was sent (proxy-style) to
/// `http://127.0.0.1:9191/aim/startOSCARSession`, but libpurple signed over the public URL, and
/// its signature is appended raw (note the literal `+`).
const LIBPURPLE_QUERY: &str = "a=vrNkLKMU2RElaztufz_C3mWMiLp2kNn2&distId=1717&f=xml&k=ma19CwYN9i9Mw5nY&ts=1795948902&useTLS=0&sig_sha256=J05aNcHzVlXMvYanz3Us4f+YsVVkhUv1RgBUEFsF2FE=";
const LIBPURPLE_OWN_URL: &str = "http://127.0.0.1:9191/aim/startOSCARSession";

/// seed-client-openauth.pcapng: the stdlib-Python client's clientLogin POST body.
const SEED_LOGIN_BODY: &str = "devId=whatever&k=whatever&f=json&s=erin&pwd=some%20password&clientVersion=yadda%20yadda%20yadda&clientName=blah%20blah%20blah";
/// seed-client-openauth.pcapng, first run: `sessionSecret`, `hostTime` and the correctly signed
/// GET (`Host: 127.0.0.1:9191`, signed over the URL it requested).
const SEED_SECRET: &str = "rscNkwREVDuvQH8KRfmRPw==";
const SEED_HOST_TIME: i64 = 1_795_948_923;
const SEED_QUERY: &str = "a=gwcSNoeqkN91tVZRPiFGSokxv9elxyY9&clientName=blah%20blah%20blah&clientVersion=yadda%20yadda%20yadda&f=json&k=whatever&ts=1795948923&useTLS=0&sig_sha256=kivtvUyFdLHVgXLcxik0cpNAs7hVHggcF5obsUR%2B91A%3D";
const SEED_OWN_URL: &str = "http://127.0.0.1:9191/aim/startOSCARSession";
/// seed-client-openauth.pcapng, second run: the classic broken signature (the stand-in answered
/// 401 / 1014).
const SEED_BROKEN_SECRET: &str = "PsVdyzn5q6VcJJo2AZcRpg==";
const SEED_BROKEN_QUERY: &str = "a=eJNi1sLb-_k6YGmRctyzwTYrH3R5PntO&clientName=blah+blah+blah&clientVersion=yadda+yadda+yadda&f=json&k=whatever&ts=1795948924&useTLS=0&sig_sha256=yEVkGEyusceHuAEEjYudsqTBNt5U3bnSlDcpliprbds=";

#[test]
fn real_libpurple_request_verifies_against_the_public_url() {
    let login = ClientLoginRequest::from_form_body(LIBPURPLE_LOGIN_BODY).unwrap();
    assert_eq!(login.password, "secret pw");
    assert_eq!(login.login_id, "carol");
    assert_eq!(login.dev_id, "ma19CwYN9i9Mw5nY");
    assert_eq!(login.format, Some(ResponseFormat::Xml));

    let key = session_key(login.password.as_bytes(), LIBPURPLE_SECRET.as_bytes());
    let query = SignedQuery::parse(LIBPURPLE_QUERY).unwrap();
    assert_eq!(query.get("a"), Some("vrNkLKMU2RElaztufz_C3mWMiLp2kNn2"));

    let verified = query
        .verify(
            "GET",
            &[LIBPURPLE_OWN_URL, PUBLIC_URL],
            &key,
            LIBPURPLE_HOST_TIME + 3,
            WINDOW,
        )
        .unwrap();
    assert_eq!(verified.url, PUBLIC_URL);
    assert_eq!(verified.ts, LIBPURPLE_HOST_TIME);
    assert!(!verified.plus_as_space);

    let params = StartSessionParams::from_params(&verified.params).unwrap();
    assert_eq!(params.token, "vrNkLKMU2RElaztufz_C3mWMiLp2kNn2");
    assert_eq!(params.dev_key.as_deref(), Some("ma19CwYN9i9Mw5nY"));
    assert_eq!(params.format, Some(ResponseFormat::Xml));
    assert_eq!(params.dist_id, Some(1717));
    assert_eq!(params.use_tls, Some(false));

    // Our client signs the same request identically (apart from encoding the signature).
    let ours = signed_query("GET", PUBLIC_URL, &params.to_params(), &key);
    assert_eq!(
        ours,
        LIBPURPLE_QUERY.replace(
            "J05aNcHzVlXMvYanz3Us4f+YsVVkhUv1RgBUEFsF2FE=",
            "J05aNcHzVlXMvYanz3Us4f%2BYsVVkhUv1RgBUEFsF2FE%3D"
        )
    );
}

#[test]
fn real_libpurple_request_fails_without_the_public_url_candidate() {
    let key = session_key(b"secret pw", LIBPURPLE_SECRET.as_bytes());
    assert_eq!(
        verify_signed_request(
            "GET",
            LIBPURPLE_QUERY,
            &[LIBPURPLE_OWN_URL],
            &key,
            LIBPURPLE_HOST_TIME,
            WINDOW
        ),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn real_libpurple_request_fails_with_the_wrong_password() {
    let key = session_key(b"secret pw!", LIBPURPLE_SECRET.as_bytes());
    assert_eq!(
        verify_signed_request("GET", LIBPURPLE_QUERY, &[PUBLIC_URL], &key, LIBPURPLE_HOST_TIME, WINDOW),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn real_seed_client_request_verifies_against_its_own_url() {
    let login = ClientLoginRequest::from_form_body(SEED_LOGIN_BODY).unwrap();
    assert_eq!(login.password, "some password");
    assert_eq!(login.client_name.as_deref(), Some("blah blah blah"));
    assert_eq!(login.client_version.as_deref(), Some("yadda yadda yadda"));
    assert_eq!(login.dev_id, "whatever");
    assert_eq!(login.extra("k"), Some("whatever"));

    let key = session_key(login.password.as_bytes(), SEED_SECRET.as_bytes());
    let verified = verify_signed_request(
        "GET",
        SEED_QUERY,
        &[SEED_OWN_URL, PUBLIC_URL],
        &key,
        SEED_HOST_TIME,
        WINDOW,
    )
    .unwrap();
    assert_eq!(verified.url, SEED_OWN_URL);
    assert_eq!(verified.get("clientName"), Some("blah blah blah"));
}

#[test]
fn real_seed_client_broken_request_is_a_signature_mismatch() {
    let key = session_key(b"some password", SEED_BROKEN_SECRET.as_bytes());
    assert_eq!(
        verify_signed_request(
            "GET",
            SEED_BROKEN_QUERY,
            &[SEED_OWN_URL, PUBLIC_URL],
            &key,
            SEED_HOST_TIME + 1,
            WINDOW
        ),
        Err(AuthError::SignatureMismatch)
    );
}

// ---------------------------------------------------------------------------------------------
// The Stack Overflow asker's base string (§2.10), rebuilt with Python 2's rules.

/// Python 2 `urllib.quote(s)`: keeps letters, digits, `_.-` and `/` (the default `safe`).
fn py2_quote(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_.-/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Python 2 `urllib.urlencode(pairs)`: `quote_plus` with `safe=''` (space → `+`).
fn py2_urlencode(pairs: &[(&str, &str)]) -> String {
    let quote_plus = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b' ' => "+".to_owned(),
                b if b.is_ascii_alphanumeric() || b"_.-".contains(&b) => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `"GET&" + urllib.quote(url + "?") + urllib.urlencode(params)`.
fn so_broken_base(url: &str, pairs: &[(&str, &str)]) -> String {
    format!("GET&{}{}", py2_quote(&format!("{url}?")), py2_urlencode(pairs))
}

#[test]
fn so_broken_helper_reproduces_the_captured_broken_signature() {
    // Guards the helper: it rebuilds exactly what the seed client sent in its broken run.
    let key = session_key(b"some password", SEED_BROKEN_SECRET.as_bytes());
    let pairs = [
        ("a", "eJNi1sLb-_k6YGmRctyzwTYrH3R5PntO"),
        ("clientName", "blah blah blah"),
        ("clientVersion", "yadda yadda yadda"),
        ("f", "json"),
        ("k", "whatever"),
        ("ts", "1795948924"),
        ("useTLS", "0"),
    ];
    assert_eq!(
        sign(&key, &so_broken_base(SEED_OWN_URL, &pairs)),
        "yEVkGEyusceHuAEEjYudsqTBNt5U3bnSlDcpliprbds="
    );
}

#[test]
fn so_broken_signature_is_rejected() {
    let key = session_key(b"some password", b"Olpq7NboSbO0gxym");
    let url = "http://api.oscar.aol.com/aim/startOSCARSession";
    let pairs = [
        ("a", "token/with+odd=chars"),
        ("clientName", "blah blah blah"),
        ("clientVersion", "yadda yadda yadda"),
        ("f", "json"),
        ("k", "DEVKEY"),
        ("ts", "1234567890"),
    ];
    let base = so_broken_base(url, &pairs);
    assert!(base.starts_with("GET&http%3A//api.oscar.aol.com/aim/startOSCARSession%3Fa=token%2F"));
    let bad_sig = sign(&key, &base);
    // The asker's request: urlencode'd params plus the signature.
    let raw_query = format!("{}&sig_sha256={}", py2_urlencode(&pairs), percent::encode(&bad_sig));
    assert_eq!(
        verify_signed_request("GET", &raw_query, &[url, PUBLIC_URL], &key, 1_234_567_890, WINDOW),
        Err(AuthError::SignatureMismatch)
    );
    // The same request signed correctly verifies (so the rejection is about the base string).
    let good = signed_query("GET", url, &pairs, &key);
    assert!(verify_signed_request("GET", &good, &[url], &key, 1_234_567_890, WINDOW).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Synthetic requests.

fn example() -> (String, Vec<(&'static str, &'static str)>) {
    let key = session_key(b"test", b"Olpq7NboSbO0gxym");
    let params = vec![
        ("a", "/AbC+def/=="),
        ("distId", "1717"),
        ("f", "json"),
        ("k", "DEVKEY"),
        ("ts", "1234567890"),
        ("useTLS", "0"),
    ];
    (key, params)
}

const TS: i64 = 1_234_567_890;

fn query_of(url: &str) -> &str {
    url.split_once('?').map_or("", |(_, q)| q)
}

#[test]
fn accepts_the_correct_request() {
    let (key, params) = example();
    let url = signed_get_url(PUBLIC_URL, &params, &key);
    let verified = verify_signed_request("GET", query_of(&url), &[PUBLIC_URL], &key, TS, WINDOW).unwrap();
    assert_eq!(verified.get("a"), Some("/AbC+def/=="));
    assert_eq!(verified.ts, TS);
    // A leading `?` is tolerated.
    let with_mark = format!("?{}", query_of(&url));
    assert!(verify_signed_request("GET", &with_mark, &[PUBLIC_URL], &key, TS, WINDOW).is_ok());
}

#[test]
fn accepts_raw_plus_and_percent_encoded_signatures() {
    let (key, params) = example();
    let encoded = query_of(&signed_get_url(PUBLIC_URL, &params, &key)).to_owned();
    assert!(encoded.ends_with("sig_sha256=MwgoRhqexMXGYBB3oO8xjDORKPhrFaHWVHbl8ZBo%2Bkw%3D"));
    let raw = encoded.replace(
        "MwgoRhqexMXGYBB3oO8xjDORKPhrFaHWVHbl8ZBo%2Bkw%3D",
        "MwgoRhqexMXGYBB3oO8xjDORKPhrFaHWVHbl8ZBo+kw=",
    );
    let lower = encoded.replace("%2Bkw%3D", "%2bkw%3d");
    let unpadded = raw.trim_end_matches('=').to_owned();
    let space = raw.replace('+', "%20");
    for query in [&encoded, &raw, &lower, &unpadded, &space] {
        assert!(
            verify_signed_request("GET", query, &[PUBLIC_URL], &key, TS, WINDOW).is_ok(),
            "{query}"
        );
    }
}

#[test]
fn accepts_a_signature_over_a_configured_public_url() {
    let (key, params) = example();
    let url = signed_get_url(PUBLIC_URL, &params, &key);
    let own = "http://10.0.0.5:8080/aim/startOSCARSession";
    assert_eq!(
        verify_signed_request("GET", query_of(&url), &[own], &key, TS, WINDOW),
        Err(AuthError::SignatureMismatch)
    );
    let verified = verify_signed_request("GET", query_of(&url), &[own, PUBLIC_URL], &key, TS, WINDOW).unwrap();
    assert_eq!(verified.url, PUBLIC_URL);
}

#[test]
fn accepts_either_port_spelling() {
    let (key, params) = example();
    let with_port = "https://api.oscar.aol.com:443/aim/startOSCARSession";
    // Client signed with an explicit default port; server configured without.
    let url = signed_get_url(with_port, &params, &key);
    let verified = verify_signed_request("GET", query_of(&url), &[PUBLIC_URL], &key, TS, WINDOW).unwrap();
    assert_eq!(verified.url, with_port);
    // And the other way round, with a server URL in another case.
    let url = signed_get_url(PUBLIC_URL, &params, &key);
    let configured = "HTTPS://API.OSCAR.AOL.COM:443/aim/startOSCARSession";
    assert!(verify_signed_request("GET", query_of(&url), &[configured], &key, TS, WINDOW).is_ok());
    // A different port or path is a different URL.
    for other in [
        "https://api.oscar.aol.com:8443/aim/startOSCARSession",
        "https://api.oscar.aol.com/aim/startOSCARSession2",
        "http://api.oscar.aol.com/aim/startOSCARSession",
    ] {
        assert_eq!(
            verify_signed_request("GET", query_of(&url), &[other], &key, TS, WINDOW),
            Err(AuthError::SignatureMismatch),
            "{other}"
        );
    }
}

#[test]
fn rejects_tampering_wrong_key_and_wrong_method() {
    let (key, params) = example();
    let query = query_of(&signed_get_url(PUBLIC_URL, &params, &key)).to_owned();
    let tampered = query.replace("distId=1717", "distId=1718");
    let added = format!("extra=1&{query}");
    let other_key = session_key(b"test", b"another-secret");
    for (q, k, m) in [
        (&tampered, &key, "GET"),
        (&added, &key, "GET"),
        (&query, &other_key, "GET"),
        (&query, &key, "POST"),
    ] {
        assert_eq!(
            verify_signed_request(m, q, &[PUBLIC_URL], k, TS, WINDOW),
            Err(AuthError::SignatureMismatch)
        );
    }
    // The method is case-insensitive on our side.
    assert!(verify_signed_request("get", &query, &[PUBLIC_URL], &key, TS, WINDOW).is_ok());
}

#[test]
fn rejects_ts_outside_the_window_with_server_time() {
    let (key, params) = example();
    let query = query_of(&signed_get_url(PUBLIC_URL, &params, &key)).to_owned();
    let check = |now: i64| verify_signed_request("GET", &query, &[PUBLIC_URL], &key, now, WINDOW);
    assert!(check(TS + 600).is_ok());
    assert!(check(TS - 600).is_ok());
    assert_eq!(check(TS + 601), Err(AuthError::ClockSkew { server_now: TS + 601 }));
    assert_eq!(check(TS - 3600), Err(AuthError::ClockSkew { server_now: TS - 3600 }));
    assert!(check(i64::MIN).is_err());
    assert!(check(i64::MAX).is_err());
}

#[test]
fn clock_skew_is_only_reported_to_a_correctly_signed_request() {
    let (key, params) = example();
    let query = query_of(&signed_get_url(PUBLIC_URL, &params, &key)).to_owned();
    let wrong_key = session_key(b"x", b"y");
    assert_eq!(
        verify_signed_request("GET", &query, &[PUBLIC_URL], &wrong_key, TS + 10_000, WINDOW),
        Err(AuthError::SignatureMismatch)
    );
}

#[test]
fn reports_missing_and_duplicate_parameters() {
    let (key, params) = example();
    let query = query_of(&signed_get_url(PUBLIC_URL, &params, &key)).to_owned();
    let sig = query.split("&sig_sha256=").nth(1).unwrap().to_owned();
    let verify = |q: &str| verify_signed_request("GET", q, &[PUBLIC_URL], &key, TS, WINDOW);

    let no_sig = query.split("&sig_sha256=").next().unwrap().to_owned();
    assert_eq!(verify(&no_sig), Err(AuthError::MissingParameter("sig_sha256".into())));
    let no_ts = query.replace("ts=1234567890&", "");
    assert_eq!(verify(&no_ts), Err(AuthError::MissingParameter("ts".into())));
    assert_eq!(
        verify(&format!("{query}&a=again")),
        Err(AuthError::BadParameter("a".into()))
    );
    assert_eq!(
        verify(&format!("{query}&sig_sha256={sig}")),
        Err(AuthError::BadParameter("sig_sha256".into()))
    );
    // A duplicate spelled differently is still a duplicate once decoded.
    assert_eq!(
        verify(&format!("{query}&%64istId=1")),
        Err(AuthError::BadParameter("distId".into()))
    );
    assert_eq!(
        verify(&query.replace("ts=1234567890", "ts=soon")),
        Err(AuthError::BadParameter("ts".into()))
    );
    assert_eq!(
        verify(&query.replace(&sig, "not-base64!")),
        Err(AuthError::BadParameter("sig_sha256".into()))
    );
    assert_eq!(
        verify(&query.replace(&sig, "AAAA")),
        Err(AuthError::BadParameter("sig_sha256".into()))
    );
    assert_eq!(
        verify(&query.replace("k=DEVKEY", "k=%FF")),
        Err(AuthError::BadParameter("k".into()))
    );
    assert_eq!(verify(""), Err(AuthError::MissingParameter("sig_sha256".into())));
}

#[test]
fn tolerates_a_form_style_query_over_a_correct_signature() {
    // The client signed the decoded value "blah blah blah" correctly, then an HTTP library
    // wrote the query with `+` for spaces.
    let key = session_key(b"pw", b"secret");
    let params = [
        ("a", "tok"),
        ("clientName", "blah blah blah"),
        ("k", "key"),
        ("ts", "1234567890"),
    ];
    let correct = signed_query("GET", PUBLIC_URL, &params, &key);
    let form_style = correct.replace("%20", "+");
    let strict = verify_signed_request("GET", &correct, &[PUBLIC_URL], &key, TS, WINDOW).unwrap();
    assert!(!strict.plus_as_space);
    let tolerant = verify_signed_request("GET", &form_style, &[PUBLIC_URL], &key, TS, WINDOW).unwrap();
    assert!(tolerant.plus_as_space);
    assert_eq!(tolerant.get("clientName"), Some("blah blah blah"));

    // A literal `+` signed as such (sent as %2B) stays a plus.
    let plus = [("a", "x+y"), ("ts", "1234567890")];
    let q = signed_query("GET", PUBLIC_URL, &plus, &key);
    assert!(q.contains("a=x%2By"));
    let verified = verify_signed_request("GET", &q, &[PUBLIC_URL], &key, TS, WINDOW).unwrap();
    assert_eq!(verified.get("a"), Some("x+y"));
    // …and a raw `+` that the client meant literally (signed as "x+y") also verifies.
    let raw_plus = q.replace("a=x%2By", "a=x+y");
    let verified = verify_signed_request("GET", &raw_plus, &[PUBLIC_URL], &key, TS, WINDOW).unwrap();
    assert_eq!(verified.get("a"), Some("x+y"));
    assert!(!verified.plus_as_space);
}

#[test]
fn garbage_candidate_urls_only_fail_to_match() {
    let (key, params) = example();
    let url = signed_get_url(PUBLIC_URL, &params, &key);
    assert_eq!(
        verify_signed_request("GET", query_of(&url), &["", "::::", "http://[x"], &key, TS, WINDOW),
        Err(AuthError::SignatureMismatch)
    );
    let no_candidates: [&str; 0] = [];
    assert_eq!(
        verify_signed_request("GET", query_of(&url), &no_candidates, &key, TS, WINDOW),
        Err(AuthError::SignatureMismatch)
    );
}
