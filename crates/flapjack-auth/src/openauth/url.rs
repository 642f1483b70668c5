//! The URL that goes into the signature base string (§2.7).
//!
//! The signed URL is `scheme://host[:port]/path`: no query, no fragment, no `?`. Clients
//! disagree about the port (qutIM strips it, Jasmine signed `:5190`), and about case only in
//! theory, so a tolerant server computes a few spellings of each accepted URL
//! ([`BaseUrl::signing_variants`]) and accepts a signature over any of them.

use crate::AuthError;

/// A parsed `scheme://host[:port]/path` (query and fragment dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

impl BaseUrl {
    /// Parses an absolute URL, dropping any query (`?…`) and fragment (`#…`).
    ///
    /// Scheme and host are lower-cased; an empty path becomes `/`. IPv6 hosts are written in
    /// brackets (`http://[::1]:8080/x`).
    ///
    /// # Errors
    /// [`AuthError::InvalidUrl`] when there is no `scheme://`, the host is empty, the URL
    /// carries user info (`user@`), or the port is not a number in `1..=65535`.
    pub fn parse(url: &str) -> Result<Self, AuthError> {
        let invalid = || AuthError::InvalidUrl(url.to_owned());
        let without_query = strip_query(url);
        let (scheme, rest) = without_query.split_once("://").ok_or_else(invalid)?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err(invalid());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(invalid());
        }
        let (host, port) = split_host_port(authority).ok_or_else(invalid)?;
        if host.is_empty() || host.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
            return Err(invalid());
        }
        Ok(Self {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_owned(),
        })
    }

    /// The scheme, lower case (`https`).
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, lower case, IPv6 in brackets.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port written in the URL, if any.
    #[must_use]
    pub fn explicit_port(&self) -> Option<u16> {
        self.port
    }

    /// The path (at least `/`).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The default port of the scheme: 80 for `http`, 443 for `https`.
    #[must_use]
    pub fn default_port(&self) -> Option<u16> {
        match self.scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        }
    }

    /// The port the URL refers to (explicit, else the scheme's default).
    #[must_use]
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| self.default_port())
    }

    /// The canonical signing form: `scheme://host[:port]/path` with the port left out when it
    /// is the scheme's default (the AOL / OAuth normalisation).
    #[must_use]
    pub fn without_default_port(&self) -> String {
        match self.port {
            Some(port) if Some(port) != self.default_port() => self.render(Some(port)),
            _ => self.render(None),
        }
    }

    /// The form with the port always written (`https://host:443/path`), as some clients sign.
    /// Equals [`without_default_port`](Self::without_default_port) for a scheme without a
    /// default port and no explicit port.
    #[must_use]
    pub fn with_explicit_port(&self) -> String {
        self.render(self.effective_port())
    }

    /// Both spellings a tolerant server accepts, without duplicates, canonical one first.
    #[must_use]
    pub fn signing_variants(&self) -> Vec<String> {
        let mut variants = vec![self.without_default_port()];
        let explicit = self.with_explicit_port();
        if !variants.contains(&explicit) {
            variants.push(explicit);
        }
        variants
    }

    fn render(&self, port: Option<u16>) -> String {
        match port {
            Some(port) => format!("{}://{}:{}{}", self.scheme, self.host, port, self.path),
            None => format!("{}://{}{}", self.scheme, self.host, self.path),
        }
    }
}

impl std::fmt::Display for BaseUrl {
    /// Writes the canonical signing form ([`BaseUrl::without_default_port`]).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.without_default_port())
    }
}

impl std::str::FromStr for BaseUrl {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `url` up to (not including) the first `?` or `#`.
#[must_use]
pub fn strip_query(url: &str) -> &str {
    match url.find(['?', '#']) {
        Some(i) => &url[..i],
        None => url,
    }
}

/// Every URL string a server should try when verifying a signature against `candidate`:
/// the candidate as written (minus query), then its canonical spellings with and without the
/// default port. A candidate that does not parse (e.g. built from a garbage `Host` header) still
/// yields its literal form, so it can only ever fail to match, never error.
#[must_use]
pub fn candidate_signing_urls(candidate: &str) -> Vec<String> {
    let literal = strip_query(candidate).to_owned();
    let mut out = vec![literal];
    if let Ok(parsed) = BaseUrl::parse(candidate) {
        for variant in parsed.signing_variants() {
            if !out.contains(&variant) {
                out.push(variant);
            }
        }
    }
    out
}

fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &authority[..close + 2];
        let after = &rest[close + 1..];
        if after.is_empty() {
            return Some((host, None));
        }
        let port = after.strip_prefix(':')?;
        return Some((host, Some(parse_port(port)?)));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(parse_port(port)?))),
        None => Some((authority, None)),
    }
}

fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse::<u16>().ok().filter(|&p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let url = BaseUrl::parse("HTTPS://API.Oscar.AOL.com:443/aim/startOSCARSession?a=1#x").unwrap();
        assert_eq!(
            url.without_default_port(),
            "https://api.oscar.aol.com/aim/startOSCARSession"
        );
        assert_eq!(
            url.with_explicit_port(),
            "https://api.oscar.aol.com:443/aim/startOSCARSession"
        );
        assert_eq!(url.signing_variants().len(), 2);

        let jasmine = BaseUrl::parse("http://api.icq.net:5190/aim/startOSCARSession").unwrap();
        assert_eq!(
            jasmine.signing_variants(),
            vec!["http://api.icq.net:5190/aim/startOSCARSession".to_owned()]
        );

        let v6 = BaseUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!(v6.host(), "[::1]");
        assert_eq!(v6.without_default_port(), "http://[::1]:8080/");
    }

    #[test]
    fn rejects_unusable_urls() {
        for bad in [
            "",
            "api.oscar.aol.com/aim",
            "https://",
            "https://:443/x",
            "https://host:0/x",
            "https://host:99999/x",
            "https://host:x/x",
            "https://user@host/x",
            "https://[::1/x",
            "ht tp://host/",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn candidates_include_the_literal_form() {
        assert_eq!(
            candidate_signing_urls("http://127.0.0.1:9191/aim/startOSCARSession?x=1"),
            vec!["http://127.0.0.1:9191/aim/startOSCARSession".to_owned()]
        );
        assert_eq!(candidate_signing_urls("garbage"), vec!["garbage".to_owned()]);
        assert_eq!(
            candidate_signing_urls("https://Api.Example/x"),
            vec![
                "https://Api.Example/x".to_owned(),
                "https://api.example/x".to_owned(),
                "https://api.example:443/x".to_owned()
            ]
        );
    }
}
