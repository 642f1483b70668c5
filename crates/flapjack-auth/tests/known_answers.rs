//! Known-answer vectors from the protocol notes (§2.5, §2.7, §6.1, §6.2.3).

use flapjack_auth::bucp::{self, Md5Verifiers};
use flapjack_auth::openauth::{
    ResponseFormat, StartSessionParams, canonical_query, session_key, sign, signature_base_string, signed_get_url,
};
use flapjack_auth::roast::{self, RoastTable};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// AOL's published vector ([AOLDOC], §2.5).
#[test]
fn aol_session_key_vector() {
    assert_eq!(
        session_key(b"test", b"Olpq7NboSbO0gxym"),
        "pgBumyiK1xwvjLjcDLRCW7/LySPp+DUXQ3PpDU3c84w="
    );
}

const URL: &str = "https://api.oscar.aol.com/aim/startOSCARSession";
const PARAMS: [(&str, &str); 6] = [
    ("a", "/AbC+def/=="),
    ("distId", "1717"),
    ("f", "json"),
    ("k", "DEVKEY"),
    ("ts", "1234567890"),
    ("useTLS", "0"),
];
const QS: &str = "a=%2FAbC%2Bdef%2F%3D%3D&distId=1717&f=json&k=DEVKEY&ts=1234567890&useTLS=0";
const BASE: &str = "GET&https%3A%2F%2Fapi.oscar.aol.com%2Faim%2FstartOSCARSession&a%3D%252FAbC%252Bdef%252F%253D%253D%26distId%3D1717%26f%3Djson%26k%3DDEVKEY%26ts%3D1234567890%26useTLS%3D0";
const SIG: &str = "MwgoRhqexMXGYBB3oO8xjDORKPhrFaHWVHbl8ZBo+kw=";
const FINAL_URL: &str = "https://api.oscar.aol.com/aim/startOSCARSession?a=%2FAbC%2Bdef%2F%3D%3D&distId=1717&f=json&k=DEVKEY&ts=1234567890&useTLS=0&sig_sha256=MwgoRhqexMXGYBB3oO8xjDORKPhrFaHWVHbl8ZBo%2Bkw%3D";

/// The whole worked example of §2.7, step by step.
#[test]
fn worked_signature_example() {
    let key = session_key(b"test", b"Olpq7NboSbO0gxym");
    assert_eq!(canonical_query(&PARAMS), QS);
    assert_eq!(signature_base_string("GET", URL, &PARAMS), BASE);
    assert_eq!(sign(&key, BASE), SIG);
    assert_eq!(signed_get_url(URL, &PARAMS, &key), FINAL_URL);
}

/// Parameter order does not matter, and `sig_sha256` is never signed.
#[test]
fn worked_example_is_order_independent() {
    let key = session_key(b"test", b"Olpq7NboSbO0gxym");
    let mut shuffled = PARAMS.to_vec();
    shuffled.reverse();
    shuffled.push(("sig_sha256", "ignored"));
    assert_eq!(signature_base_string("get", URL, &shuffled), BASE);
    assert_eq!(signed_get_url(URL, &shuffled, &key), FINAL_URL);
}

/// The typed parameters produce the same URL.
#[test]
fn start_session_params_sign_like_the_worked_example() {
    let key = session_key(b"test", b"Olpq7NboSbO0gxym");
    let mut params = StartSessionParams::new("/AbC+def/==", "DEVKEY", ResponseFormat::Json, 1_234_567_890);
    params.dist_id = Some(1717);
    params.use_tls = Some(false);
    assert_eq!(params.signed_url(URL, &key), FINAL_URL);
}

/// BUCP hashes of §6.2.3.
#[test]
fn bucp_hashes() {
    assert_eq!(
        hex(&bucp::strong_hash(b"3141592653", b"password")),
        "3c6d359f22d234b6f94b3d256c34f1b1"
    );
    assert_eq!(
        hex(&bucp::weak_hash(b"3141592653", b"password")),
        "9622ee629a7581516626405d0a23a58e"
    );
    let verifiers = Md5Verifiers::new("3141592653", b"password");
    assert_eq!(hex(&verifiers.strong), "3c6d359f22d234b6f94b3d256c34f1b1");
    assert_eq!(hex(&verifiers.weak), "9622ee629a7581516626405d0a23a58e");
}

/// The strong hash inside the §13 hex example of a 0x0017/0x0002 login.
#[test]
fn bucp_hash_matches_the_hex_example() {
    let tlv_0025: [u8; 16] = [
        0x3C, 0x6D, 0x35, 0x9F, 0x22, 0xD2, 0x34, 0xB6, 0xF9, 0x4B, 0x3D, 0x25, 0x6C, 0x34, 0xF1, 0xB1,
    ];
    assert_eq!(
        Md5Verifiers::new("3141592653", b"password").verify(&tlv_0025),
        Ok(bucp::HashKind::Strong)
    );
}

/// Roasting of §6.1.
#[test]
fn roasted_password() {
    assert_eq!(
        roast::roast(b"password", RoastTable::Oscar),
        [0x83, 0x47, 0xF2, 0xB7, 0x4E, 0xE9, 0xA9, 0xF6]
    );
}
