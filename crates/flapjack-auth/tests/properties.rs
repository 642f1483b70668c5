//! Property tests: round trips, sign → verify, and no panics on arbitrary input.

use flapjack_auth::bucp::{self, HashKind, Md5Verifiers};
use flapjack_auth::openauth::{
    ClientLoginData, ClientLoginRequest, ClockOffset, Envelope, ResponseFormat, SignedQuery, StartSessionData,
    StartSessionParams, Token, session_key, signed_get_url, verify_signed_request,
};
use flapjack_auth::roast::{self, RoastTable};
use flapjack_auth::{AuthError, percent};
use proptest::prelude::*;

const URL: &str = "https://api.oscar.aol.com/aim/startOSCARSession";

/// Text XML 1.0 can carry (tab, newline, CR and everything from space up, minus U+FFFE/FFFF).
fn xml_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..24).prop_map(|chars| {
        chars
            .into_iter()
            .filter(
                |&c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..),
            )
            .collect()
    })
}

/// Values with the characters that break naive signers mixed in.
fn tricky_value() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ +/=&%?#a-z~é日本🙂]{0,16}", Just(String::new()),]
}

/// Distinct parameter names (never `ts` or `sig_sha256`, which the test adds itself).
fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map("[a-zA-Z][a-zA-Z0-9_ .+%-]{0,10}", tricky_value(), 0..6).prop_map(|map| {
        map.into_iter()
            .filter(|(k, _)| k != "ts" && k != "sig_sha256")
            .collect()
    })
}

fn sorted(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs.sort();
    pairs
}

proptest! {
    #[test]
    fn percent_encode_decode_round_trip(s in any::<String>()) {
        let encoded = percent::encode(&s);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        prop_assert!(!encoded.contains('+'));
        prop_assert_eq!(percent::decode_query_component_str(&encoded).unwrap(), s.clone());
        prop_assert_eq!(percent::decode_form_component_str(&encoded).unwrap(), s);
    }

    #[test]
    fn percent_encoding_uses_upper_case_hex(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
        let encoded = percent::encode_bytes(&bytes);
        let mut rest = encoded.as_str();
        while let Some(i) = rest.find('%') {
            let hex = &rest[i + 1..i + 3];
            prop_assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
            rest = &rest[i + 3..];
        }
        prop_assert_eq!(percent::decode_query_component(&encoded).into_owned(), bytes);
    }

    #[test]
    fn decoders_never_panic(s in any::<String>()) {
        let _ = percent::decode_query_component_str(&s);
        let _ = percent::decode_form_component_str(&s);
        let _ = percent::parse_form(&s);
        let _ = percent::parse_query(&s);
        let _ = ClientLoginRequest::from_form_body(&s);
    }

    #[test]
    fn sign_then_verify_round_trip(
        params in params(),
        password in any::<String>(),
        secret in "[A-Za-z0-9+/=]{0,24}",
        ts in -10_000_000_000i64..10_000_000_000,
        drift in -600i64..=600,
        raw_signature in any::<bool>(),
    ) {
        let key = session_key(password.as_bytes(), secret.as_bytes());
        let mut all = params.clone();
        all.push(("ts".to_owned(), ts.to_string()));
        let url = signed_get_url(URL, &all, &key);
        let mut query = url.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
        if raw_signature {
            // libpurple style: the Base64 signature unencoded.
            let (head, sig) = query.split_once("&sig_sha256=").unwrap();
            let raw = percent::decode_query_component_str(sig).unwrap();
            query = format!("{head}&sig_sha256={raw}");
        }
        let verified = verify_signed_request("GET", &query, &[URL], &key, ts + drift, 600).unwrap();
        prop_assert_eq!(sorted(verified.params.clone()), sorted(all));
        prop_assert_eq!(verified.ts, ts);
        prop_assert!(!verified.plus_as_space);
        prop_assert_eq!(verified.url.as_str(), URL);
    }

    #[test]
    fn changing_any_value_breaks_the_signature(
        params in params().prop_filter("need a param", |p| !p.is_empty()),
        index in any::<prop::sample::Index>(),
        replacement in tricky_value(),
    ) {
        let key = session_key(b"pw", b"secret");
        let mut all = params.clone();
        all.push(("ts".to_owned(), "1000".to_owned()));
        let url = signed_get_url(URL, &all, &key);
        let sig = url.split("&sig_sha256=").nth(1).unwrap().to_owned();
        let i = index.index(params.len());
        prop_assume!(params[i].1 != replacement);
        let mut tampered = all.clone();
        tampered[i].1 = replacement;
        let query = format!(
            "{}&sig_sha256={sig}",
            tampered
                .iter()
                .map(|(k, v)| format!("{}={}", percent::encode(k), percent::encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        );
        prop_assert_eq!(
            verify_signed_request("GET", &query, &[URL], &key, 1000, 600),
            Err(AuthError::SignatureMismatch)
        );
    }

    #[test]
    fn verification_never_panics(query in any::<String>(), now in any::<i64>(), window in any::<u64>()) {
        let _ = verify_signed_request("GET", &query, &[URL, "garbage", ""], "key", now, window);
        if let Ok(parsed) = SignedQuery::parse(&query) {
            let _ = StartSessionParams::from_params(parsed.params());
        }
    }

    #[test]
    fn start_session_params_survive_signing(
        token in tricky_value(),
        key_text in "[A-Za-z0-9]{1,16}",
        ts in any::<i64>(),
        dist in proptest::option::of(any::<u32>()),
        tls in proptest::option::of(any::<bool>()),
        name in proptest::option::of(tricky_value()),
    ) {
        let session = session_key(b"pw", b"s");
        let mut params = StartSessionParams::new(token, key_text, ResponseFormat::Xml, ts);
        params.dist_id = dist;
        params.use_tls = tls;
        params.client_name = name;
        let url = params.signed_url(URL, &session);
        let query = url.split_once('?').unwrap().1;
        let verified = verify_signed_request("GET", query, &[URL], &session, ts, 0).unwrap();
        prop_assert_eq!(StartSessionParams::from_params(&verified.params).unwrap(), params);
    }

    #[test]
    fn client_login_form_round_trip(
        dev in tricky_value(),
        login in tricky_value(),
        pwd in tricky_value(),
        name in proptest::option::of(tricky_value()),
        r in proptest::option::of(tricky_value()),
        xml in any::<bool>(),
    ) {
        let format = if xml { ResponseFormat::Xml } else { ResponseFormat::Json };
        let mut req = ClientLoginRequest::new(dev, format, login, pwd);
        req.client_name = name;
        req.request_id = r;
        let body = req.to_form_body();
        prop_assert!(!body.contains('+') && !body.contains(' '));
        prop_assert_eq!(ClientLoginRequest::from_form_body(&body).unwrap(), req);
    }

    #[test]
    fn client_login_envelope_round_trip(
        a in xml_text(), secret in xml_text(), login in proptest::option::of(xml_text()),
        sn in proptest::option::of(xml_text()), host_time in any::<i64>(),
        expires in proptest::option::of(any::<u64>()), token_expires in proptest::option::of(any::<u64>()),
        request_id in proptest::option::of(xml_text()),
    ) {
        let envelope = Envelope::ok(ClientLoginData {
            token: Token { a, expires_in: expires },
            login_id: login,
            screen_name: sn,
            session_secret: secret,
            host_time,
            token_expires_in: token_expires,
        })
        .with_request_id(request_id);
        for format in [ResponseFormat::Json, ResponseFormat::Xml] {
            let parsed = Envelope::<ClientLoginData>::parse(&envelope.render(format), format).unwrap();
            prop_assert_eq!(&parsed, &envelope);
        }
    }

    #[test]
    fn start_session_envelope_round_trip(
        host in xml_text(), port in any::<u16>(), cookie in proptest::collection::vec(any::<u8>(), 0..64),
        cert in proptest::option::of(xml_text().prop_filter("non-empty", |s| !s.is_empty())),
    ) {
        let envelope = Envelope::ok(StartSessionData::new(host, port, &cookie, cert));
        for format in [ResponseFormat::Json, ResponseFormat::Xml] {
            let parsed = Envelope::<StartSessionData>::parse(&envelope.render(format), format).unwrap();
            prop_assert_eq!(parsed.clone().into_result().unwrap().cookie_bytes().unwrap(), cookie.clone());
            prop_assert_eq!(&parsed, &envelope);
        }
    }

    #[test]
    fn error_envelope_round_trip(status in any::<u16>(), detail in proptest::option::of(any::<u16>()),
                                 text in xml_text(), ts in proptest::option::of(any::<i64>())) {
        prop_assume!(status != 200);
        let mut envelope = Envelope::<StartSessionData>::error(status.into(), detail.map(Into::into))
            .with_status_text(text);
        envelope.data = flapjack_auth::openauth::ResponseData::Error(
            flapjack_auth::openauth::ErrorData { ts },
        );
        for format in [ResponseFormat::Json, ResponseFormat::Xml] {
            let parsed = Envelope::<StartSessionData>::parse(&envelope.render(format), format).unwrap();
            prop_assert_eq!(&parsed, &envelope);
            prop_assert!(parsed.into_result().is_err());
        }
    }

    #[test]
    fn envelope_parsers_never_panic(body in any::<String>()) {
        let _ = Envelope::<ClientLoginData>::from_json(&body);
        let _ = Envelope::<ClientLoginData>::from_xml(&body);
        let _ = Envelope::<StartSessionData>::from_xml(&body);
    }

    #[test]
    fn xml_parser_never_panics_on_xmlish_input(body in "[<>/a-z =\"'&;#x0-9!\\[\\]?-]{0,64}") {
        let _ = Envelope::<StartSessionData>::from_xml(&format!("<response>{body}</response>"));
        let _ = Envelope::<StartSessionData>::from_xml(&body);
    }

    #[test]
    fn bucp_verifiers_accept_their_own_hashes(
        key in "[ -~]{0,20}",
        password in proptest::collection::vec(any::<u8>(), 0..32),
        other in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let v = Md5Verifiers::new(key.clone(), &password);
        prop_assert_eq!(v.verify(&bucp::strong_hash(key.as_bytes(), &password)), Ok(HashKind::Strong));
        prop_assert_eq!(v.verify(&bucp::weak_hash(key.as_bytes(), &password)), Ok(HashKind::Weak));
        if other != password {
            prop_assert!(v.verify(&bucp::strong_hash(key.as_bytes(), &other)).is_err());
        }
    }

    #[test]
    fn roasting_is_an_involution(password in proptest::collection::vec(any::<u8>(), 0..64)) {
        for table in [RoastTable::Oscar, RoastTable::JavaAim, RoastTable::Kerberos, RoastTable::Toc] {
            prop_assert_eq!(roast::unroast(&roast::roast(&password, table), table), password.clone());
        }
    }

    #[test]
    fn clock_offset_follows_the_server(host in -4_000_000_000i64..4_000_000_000,
                                      local in -4_000_000_000i64..4_000_000_000,
                                      later in 0i64..1_000_000) {
        let offset = ClockOffset::from_host_time(host, local);
        prop_assert_eq!(offset.server_time(local), host);
        prop_assert_eq!(offset.server_time(local + later), host + later);
    }
}
