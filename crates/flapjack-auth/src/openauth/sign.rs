//! The OpenAuth session key and request signature (§2.5, §2.7).
//!
//! ```text
//! sessionKey = Base64(HMAC-SHA256(key = password, msg = sessionSecret))
//! QS         = join("&", enc(name) "=" enc(value) for params sorted by name, minus sig_sha256)
//! BASE       = METHOD "&" enc(URL) "&" enc(QS)
//! sig_sha256 = Base64(HMAC-SHA256(key = sessionKey *as Base64 text*, msg = BASE))
//! ```
//! `enc` is [`percent::encode`](crate::percent::encode); Base64 is the standard alphabet with
//! `=` padding.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::percent;

use super::url::strip_query;

/// The name of the signature parameter, which is never part of the signed set.
pub const SIGNATURE_PARAM: &str = "sig_sha256";

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `msg` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// The session key: `Base64(HMAC-SHA256(key = password, msg = sessionSecret))` (§2.5).
///
/// The password is the same (possibly truncated, for ICQ) string the client sent as `pwd`; the
/// secret is `data.sessionSecret` from the clientLogin reply, used as its text bytes.
///
/// ```
/// use flapjack_auth::openauth::session_key;
/// assert_eq!(
///     session_key(b"test", b"Olpq7NboSbO0gxym"),
///     "pgBumyiK1xwvjLjcDLRCW7/LySPp+DUXQ3PpDU3c84w="
/// );
/// ```
#[must_use]
pub fn session_key(password: &[u8], session_secret: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(password, session_secret))
}

/// The normalised query `QS` of §2.7: every parameter except `sig_sha256`, sorted by name (then
/// by value, for stability), each name and value percent-encoded once, joined with `=` and `&`.
///
/// ```
/// use flapjack_auth::openauth::canonical_query;
/// assert_eq!(
///     canonical_query(&[("ts", "1"), ("a", "x y"), ("sig_sha256", "zz")]),
///     "a=x%20y&ts=1"
/// );
/// ```
#[must_use]
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| *k != SIGNATURE_PARAM)
        .collect();
    sorted.sort_unstable();
    let mut out = String::new();
    for (i, (name, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent::encode(name));
        out.push('=');
        out.push_str(&percent::encode(value));
    }
    out
}

/// The signature base string `METHOD&enc(URL)&enc(QS)` (§2.7).
///
/// `url` is used as written up to any `?` or `#` (sign exactly the `scheme://host[:port]/path`
/// you request; see [`BaseUrl`](super::BaseUrl) for normalising). `method` is upper-cased.
#[must_use]
pub fn signature_base_string<K: AsRef<str>, V: AsRef<str>>(method: &str, url: &str, params: &[(K, V)]) -> String {
    base_string_from_query(method, url, &canonical_query(params))
}

/// The base string from an already built `QS`.
pub(crate) fn base_string_from_query(method: &str, url: &str, query: &str) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent::encode(strip_query(url)),
        percent::encode(query)
    )
}

/// `sig_sha256 = Base64(HMAC-SHA256(key = session key text, msg = base string))`.
///
/// `session_key` is the Base64 *text* from [`session_key`] — every client uses the text, not
/// the 32 decoded bytes, as the HMAC key.
#[must_use]
pub fn sign(session_key: &str, base_string: &str) -> String {
    STANDARD.encode(sign_raw(session_key, base_string))
}

/// The raw 32 bytes of the signature.
pub(crate) fn sign_raw(session_key: &str, base_string: &str) -> [u8; 32] {
    hmac_sha256(session_key.as_bytes(), base_string.as_bytes())
}

/// The query string to send: `QS&sig_sha256=<signature, percent-encoded>`.
///
/// The signature is percent-encoded (`+` → `%2B`, `/` → `%2F`, `=` → `%3D`), which is what a
/// correct client sends; servers also accept it raw.
#[must_use]
pub fn signed_query<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    url: &str,
    params: &[(K, V)],
    session_key: &str,
) -> String {
    let query = canonical_query(params);
    let signature = sign(session_key, &base_string_from_query(method, url, &query));
    let encoded = percent::encode(&signature);
    if query.is_empty() {
        format!("{SIGNATURE_PARAM}={encoded}")
    } else {
        format!("{query}&{SIGNATURE_PARAM}={encoded}")
    }
}

/// The whole signed `GET` URL: `URL?QS&sig_sha256=<sig>` (the final URL of §2.7).
///
/// `url` is signed and requested as written, minus any query or fragment.
///
/// ```
/// use flapjack_auth::openauth::{session_key, signed_get_url};
/// let key = session_key(b"test", b"Olpq7NboSbO0gxym");
/// let url = signed_get_url(
///     "https://api.oscar.aol.com/aim/startOSCARSession",
///     &[("a", "/AbC+def/=="), ("distId", "1717"), ("f", "json"),
///       ("k", "DEVKEY"), ("ts", "1234567890"), ("useTLS", "0")],
///     &key,
/// );
/// assert!(url.ends_with("&sig_sha256=MwgoRhqexMXGYBB3oO8xjDORKPhrFaHWVHbl8ZBo%2Bkw%3D"));
/// ```
#[must_use]
pub fn signed_get_url<K: AsRef<str>, V: AsRef<str>>(url: &str, params: &[(K, V)], session_key: &str) -> String {
    let base = strip_query(url);
    format!("{base}?{}", signed_query("GET", base, params, session_key))
}
