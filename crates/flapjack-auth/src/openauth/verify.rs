//! Server-side verification of a signed OpenAuth request (§2.7, §2.8, §2.11).
//!
//! The server gets the raw query string exactly as received, parses it with
//! [`SignedQuery::parse`] (which is enough to read the token `a` and look up the session key),
//! then calls [`SignedQuery::verify`] with the candidate base URLs, the stored session key text,
//! its clock and the skew window.
//!
//! Tolerances, all of them still requiring a valid HMAC:
//! * `sig_sha256` is read raw, so libpurple's unencoded `ab+c/d=` keeps its `+`; the
//!   percent-encoded form `ab%2Bc%2Fd%3D` works too, and so does a missing `=` padding.
//! * Each candidate URL is tried as written and in its spellings with and without the default
//!   port ([`candidate_signing_urls`]).
//! * Names and values are decoded the RFC 3986 way (`+` is a literal plus). If that does not
//!   verify and the query contains a `+` outside `sig_sha256`, the form reading (`+` = space) is
//!   tried too, for clients that signed the decoded values correctly but let an HTTP library
//!   write the query form-style. [`VerifiedRequest::params`] holds the reading that verified.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use subtle::ConstantTimeEq;

use crate::AuthError;
use crate::percent::{self, split_pairs};

use super::sign::{SIGNATURE_PARAM, base_string_from_query, canonical_query, sign_raw};
use super::url::candidate_signing_urls;

/// The default `ts` window: ±5 minutes (the sources do not document AOL's; the server makes it configurable).
pub const DEFAULT_MAX_SKEW_SECS: u64 = 300;

/// The name of the timestamp parameter.
pub const TIMESTAMP_PARAM: &str = "ts";

const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A parsed signed query: its decoded parameters (without `sig_sha256`) and the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedQuery {
    params: Vec<(String, String)>,
    plus_as_space: Option<Vec<(String, String)>>,
    signature: [u8; 32],
    ts: i64,
}

impl SignedQuery {
    /// Parses the raw query string of the request (the part after `?`, exactly as received).
    ///
    /// # Errors
    /// * [`AuthError::MissingParameter`] for a missing `sig_sha256` or `ts`;
    /// * [`AuthError::BadParameter`] for a duplicated parameter, a name or value that is not
    ///   UTF-8, a `ts` that is not an integer, or a `sig_sha256` that is not the Base64 of 32
    ///   bytes.
    pub fn parse(raw_query: &str) -> Result<Self, AuthError> {
        let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
        let mut params = Vec::new();
        let mut raw_pairs = Vec::new();
        let mut signature_raw = None;
        for (raw_name, raw_value) in split_pairs(raw_query) {
            let name = percent::decode_query_component_str(raw_name)?;
            if name == SIGNATURE_PARAM {
                if signature_raw.replace(raw_value).is_some() {
                    return Err(AuthError::BadParameter(SIGNATURE_PARAM.to_owned()));
                }
                continue;
            }
            let value = String::from_utf8(percent::decode_query_component(raw_value).into_owned())
                .map_err(|_| AuthError::BadParameter(name.clone()))?;
            params.push((name, value));
            raw_pairs.push((raw_name, raw_value));
        }
        percent::reject_duplicates(&params)?;
        let signature_raw = signature_raw.ok_or_else(|| AuthError::MissingParameter(SIGNATURE_PARAM.to_owned()))?;
        let signature = decode_signature(signature_raw)?;
        let ts = parse_ts(&params)?;
        let plus_as_space = alternative_reading(&raw_pairs, &params);
        Ok(Self {
            params,
            plus_as_space,
            signature,
            ts,
        })
    }

    /// The decoded parameters (RFC 3986 reading, `+` literal), without `sig_sha256`, in the
    /// order received.
    #[must_use]
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The decoded value of parameter `name` (RFC 3986 reading).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        lookup(&self.params, name)
    }

    /// The request's `ts`, Unix seconds.
    #[must_use]
    pub fn ts(&self) -> i64 {
        self.ts
    }

    /// Verifies the signature and then the timestamp.
    ///
    /// * `method`: the HTTP method (`GET` for startOSCARSession).
    /// * `candidate_urls`: the base URLs the client may have signed, e.g. the request's own URL
    ///   (built from its scheme, `Host` and path) and the configured public URLs such as
    ///   `https://api.oscar.aol.com/aim/startOSCARSession`. Queries in them are ignored.
    /// * `session_key`: the stored session key, Base64 text.
    /// * `now`: the server's clock, Unix seconds; `max_skew_secs`: the accepted `|ts - now|`.
    ///
    /// The signature is checked first, so a [`AuthError::ClockSkew`] answer is only given to a
    /// client that holds the session key.
    ///
    /// # Errors
    /// [`AuthError::SignatureMismatch`] when no candidate verifies (answer 401 / 1014);
    /// [`AuthError::ClockSkew`] with `server_now = now` when `ts` is out of the window (answer
    /// 400 / 1015 with `data.ts`); [`AuthError::BadParameter`] for `ts` in the rare case the
    /// form reading verified but made `ts` unreadable.
    pub fn verify<S: AsRef<str>>(
        &self,
        method: &str,
        candidate_urls: &[S],
        session_key: &str,
        now: i64,
        max_skew_secs: u64,
    ) -> Result<VerifiedRequest, AuthError> {
        let urls: Vec<String> = candidate_urls
            .iter()
            .flat_map(|c| candidate_signing_urls(c.as_ref()))
            .collect();
        let readings = std::iter::once((&self.params, false)).chain(self.plus_as_space.as_ref().map(|alt| (alt, true)));
        for (params, plus_as_space) in readings {
            let query = canonical_query(params);
            for url in &urls {
                let expected = sign_raw(session_key, &base_string_from_query(method, url, &query));
                if bool::from(expected.ct_eq(&self.signature)) {
                    let ts = if plus_as_space { parse_ts(params)? } else { self.ts };
                    check_skew(ts, now, max_skew_secs)?;
                    return Ok(VerifiedRequest {
                        params: params.clone(),
                        url: url.clone(),
                        ts,
                        plus_as_space,
                    });
                }
            }
        }
        Err(AuthError::SignatureMismatch)
    }
}

/// [`SignedQuery::parse`] then [`SignedQuery::verify`], in one call.
///
/// # Errors
/// As those two functions.
pub fn verify_signed_request<S: AsRef<str>>(
    method: &str,
    raw_query: &str,
    candidate_urls: &[S],
    session_key: &str,
    now: i64,
    max_skew_secs: u64,
) -> Result<VerifiedRequest, AuthError> {
    SignedQuery::parse(raw_query)?.verify(method, candidate_urls, session_key, now, max_skew_secs)
}

/// A request whose signature and timestamp verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The decoded parameters that were signed (everything but `sig_sha256`), in order received.
    pub params: Vec<(String, String)>,
    /// The base URL spelling the signature verified against.
    pub url: String,
    /// The request's `ts`, Unix seconds.
    pub ts: i64,
    /// `true` when the query only verified with `+` read as a space (form-style query).
    pub plus_as_space: bool,
}

impl VerifiedRequest {
    /// The decoded value of parameter `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        lookup(&self.params, name)
    }
}

/// Checks `|ts - now| <= max_skew_secs`.
///
/// # Errors
/// [`AuthError::ClockSkew`] carrying `now` otherwise.
pub fn check_skew(ts: i64, now: i64, max_skew_secs: u64) -> Result<(), AuthError> {
    let diff = (i128::from(ts) - i128::from(now)).unsigned_abs();
    if diff > u128::from(max_skew_secs) {
        Err(AuthError::ClockSkew { server_now: now })
    } else {
        Ok(())
    }
}

fn lookup<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn parse_ts(params: &[(String, String)]) -> Result<i64, AuthError> {
    let raw = lookup(params, TIMESTAMP_PARAM).ok_or_else(|| AuthError::MissingParameter(TIMESTAMP_PARAM.to_owned()))?;
    raw.parse::<i64>()
        .map_err(|_| AuthError::BadParameter(TIMESTAMP_PARAM.to_owned()))
}

fn decode_signature(raw: &str) -> Result<[u8; 32], AuthError> {
    let bad = || AuthError::BadParameter(SIGNATURE_PARAM.to_owned());
    // `+` stays `+`; `%2B` becomes `+`; a space (a `+` someone form-decoded) is put back.
    let decoded = percent::decode_query_component(raw);
    let text: Vec<u8> = decoded.iter().map(|&b| if b == b' ' { b'+' } else { b }).collect();
    let bytes = LENIENT_STANDARD.decode(text).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// The `+`-as-space reading of the query, when it differs and has no duplicates.
fn alternative_reading(raw_pairs: &[(&str, &str)], strict: &[(String, String)]) -> Option<Vec<(String, String)>> {
    if !raw_pairs.iter().any(|(n, v)| n.contains('+') || v.contains('+')) {
        return None;
    }
    let alt: Vec<(String, String)> = raw_pairs
        .iter()
        .map(|(n, v)| {
            Some((
                percent::decode_form_component_str(n).ok()?,
                percent::decode_form_component_str(v).ok()?,
            ))
        })
        .collect::<Option<_>>()?;
    if alt.as_slice() == strict || percent::reject_duplicates(&alt).is_err() {
        return None;
    }
    Some(alt)
}
