//! RFC 3986 percent-encoding as OpenAuth signs it, and the two decoders a server needs.
//!
//! OpenAuth (§2.7 of the protocol notes) encodes with the RFC 3986 *unreserved* set: only
//! `A-Z a-z 0-9 - . _ ~` stay as they are, every other byte of the UTF-8 text becomes `%XX` with
//! upper-case hex, and a space is `%20`, never `+`. libpurple's `purple_url_encode` and qutIM's
//! `QUrl::toPercentEncoding` do exactly this.
//!
//! Decoding comes in two flavours, and mixing them up breaks signatures:
//!
//! * [`decode_query_component`]: a URL query as RFC 3986 reads it. `%XX` is decoded, a `+` stays a
//!   `+`. Use it for the signed `startOSCARSession` query, where libpurple sends the Base64
//!   signature raw (`sig_sha256=ab+c/d=`).
//! * [`decode_form_component`]: an `application/x-www-form-urlencoded` body (the `clientLogin`
//!   POST), where `+` means a space.
//!
//! Malformed escapes (`%`, `%4`, `%zz`) are not errors: they are kept literally, as browsers and
//! the `percent-encoding` crate do. Only invalid UTF-8 after decoding is an error, for the
//! functions that return text.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};

use crate::AuthError;

/// The bytes that OpenAuth percent-encodes: everything except the RFC 3986 unreserved set
/// `A-Z a-z 0-9 - . _ ~`.
pub const RFC3986_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes the UTF-8 bytes of `input` with the OpenAuth rule (upper-case hex, space →
/// `%20`, only `A-Z a-z 0-9 - . _ ~` unescaped).
///
/// ```
/// assert_eq!(flapjack_auth::percent::encode("a b+c/=~"), "a%20b%2Bc%2F%3D~");
/// ```
#[must_use]
pub fn encode(input: &str) -> String {
    encode_bytes(input.as_bytes())
}

/// Percent-encodes raw bytes with the OpenAuth rule (see [`encode`]).
#[must_use]
pub fn encode_bytes(input: &[u8]) -> String {
    percent_encode(input, RFC3986_UNRESERVED).to_string()
}

/// Encodes one name or value of an `application/x-www-form-urlencoded` body.
///
/// This is the same as [`encode`]: spaces become `%20` (which every form decoder accepts), not
/// `+`. libpurple and the other OpenAuth clients write `clientLogin` bodies this way.
#[must_use]
pub fn encode_form_component(input: &str) -> String {
    encode(input)
}

/// Decodes one name or value of a URL query (RFC 3986): `%XX` → byte, and `+` **stays `+`**.
///
/// Returns raw bytes; malformed escapes are kept literally.
#[must_use]
pub fn decode_query_component(input: &str) -> Cow<'_, [u8]> {
    percent_decode(input.as_bytes()).into()
}

/// Like [`decode_query_component`], but returns UTF-8 text.
///
/// # Errors
/// [`AuthError::BadParameter`] naming `input` (lossily) when the decoded bytes are not UTF-8.
pub fn decode_query_component_str(input: &str) -> Result<String, AuthError> {
    bytes_to_string(decode_query_component(input), input)
}

/// Decodes one name or value of an `application/x-www-form-urlencoded` body: `+` → space first,
/// then `%XX` → byte (so `%2B` is a literal `+`).
///
/// Returns raw bytes; malformed escapes are kept literally.
#[must_use]
pub fn decode_form_component(input: &str) -> Cow<'_, [u8]> {
    if input.as_bytes().contains(&b'+') {
        let spaced: Vec<u8> = input.bytes().map(|b| if b == b'+' { b' ' } else { b }).collect();
        Cow::Owned(percent_decode(&spaced).collect())
    } else {
        decode_query_component(input)
    }
}

/// Like [`decode_form_component`], but returns UTF-8 text.
///
/// # Errors
/// [`AuthError::BadParameter`] naming `input` (lossily) when the decoded bytes are not UTF-8.
pub fn decode_form_component_str(input: &str) -> Result<String, AuthError> {
    bytes_to_string(decode_form_component(input), input)
}

fn bytes_to_string(bytes: Cow<'_, [u8]>, raw: &str) -> Result<String, AuthError> {
    String::from_utf8(bytes.into_owned()).map_err(|_| AuthError::BadParameter(raw.to_owned()))
}

/// Splits a query or form string into raw (still encoded) `(name, value)` segments.
///
/// Empty segments (`a=1&&b=2`, a trailing `&`) are skipped; a segment without `=` is a name with
/// an empty value.
pub(crate) fn split_pairs(input: &str) -> impl Iterator<Item = (&str, &str)> {
    input
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| segment.split_once('=').unwrap_or((segment, "")))
}

/// Parses an `application/x-www-form-urlencoded` body (`+` means space) into decoded
/// `(name, value)` pairs, in the order they appear. Duplicates are kept; see
/// [`parse_form_unique`] for the strict variant.
///
/// # Errors
/// [`AuthError::BadParameter`] when a name or value is not UTF-8 after decoding (the error
/// names the parameter).
pub fn parse_form(body: &str) -> Result<Vec<(String, String)>, AuthError> {
    split_pairs(body)
        .map(|(name, value)| {
            let name = decode_form_component_str(name)?;
            let value = decode_form_component(value);
            let value = String::from_utf8(value.into_owned()).map_err(|_| AuthError::BadParameter(name.clone()))?;
            Ok((name, value))
        })
        .collect()
}

/// Like [`parse_form`], but a parameter name that appears twice is an error.
///
/// # Errors
/// [`AuthError::BadParameter`] naming a duplicated or non-UTF-8 parameter.
pub fn parse_form_unique(body: &str) -> Result<Vec<(String, String)>, AuthError> {
    let pairs = parse_form(body)?;
    reject_duplicates(&pairs)?;
    Ok(pairs)
}

/// Parses a URL query (RFC 3986: `+` stays `+`) into decoded `(name, value)` pairs, in order.
/// Duplicates are kept.
///
/// # Errors
/// [`AuthError::BadParameter`] when a name or value is not UTF-8 after decoding.
pub fn parse_query(raw_query: &str) -> Result<Vec<(String, String)>, AuthError> {
    split_pairs(raw_query)
        .map(|(name, value)| {
            let name = decode_query_component_str(name)?;
            let value = String::from_utf8(decode_query_component(value).into_owned())
                .map_err(|_| AuthError::BadParameter(name.clone()))?;
            Ok((name, value))
        })
        .collect()
}

/// Fails with [`AuthError::BadParameter`] on the first name that appears twice.
pub(crate) fn reject_duplicates(pairs: &[(String, String)]) -> Result<(), AuthError> {
    let mut names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    match names.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(AuthError::BadParameter(w[0].to_owned())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_only_unreserved_unescaped() {
        assert_eq!(
            encode("AZaz09-._~ !\"#$%&'()*+,/:;<=>?@[\\]^`{|}"),
            "AZaz09-._~%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D"
        );
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(encode_bytes(&[0x00, 0xff]), "%00%FF");
    }

    #[test]
    fn query_decoding_keeps_plus() {
        assert_eq!(decode_query_component_str("ab+c%2Bd%20e").unwrap(), "ab+c+d e");
    }

    #[test]
    fn form_decoding_turns_plus_into_space() {
        assert_eq!(decode_form_component_str("ab+c%2Bd%20e").unwrap(), "ab c+d e");
    }

    #[test]
    fn malformed_escapes_are_kept() {
        assert_eq!(decode_query_component_str("%zz%4").unwrap(), "%zz%4");
        assert_eq!(decode_form_component_str("100%").unwrap(), "100%");
    }

    #[test]
    fn invalid_utf8_is_a_bad_parameter() {
        assert_eq!(
            decode_query_component_str("%FF"),
            Err(AuthError::BadParameter("%FF".into()))
        );
        assert_eq!(parse_query("name=%C3"), Err(AuthError::BadParameter("name".into())));
    }

    #[test]
    fn parses_forms_and_queries() {
        let form = parse_form("devId=k&f=xml&pwd=secret%20pw+x&s=carol&&flag").unwrap();
        assert_eq!(
            form,
            vec![
                ("devId".into(), "k".into()),
                ("f".into(), "xml".into()),
                ("pwd".into(), "secret pw x".into()),
                ("s".into(), "carol".into()),
                ("flag".into(), String::new()),
            ]
        );
        let query = parse_query("a=x+y&b=%2B").unwrap();
        assert_eq!(query, vec![("a".into(), "x+y".into()), ("b".into(), "+".into())]);
        assert_eq!(
            parse_form_unique("a=1&b=2&a=3"),
            Err(AuthError::BadParameter("a".into()))
        );
    }
}
