//! The two OpenAuth requests: the clientLogin form (§2.2) and the startOSCARSession query
//! parameters (§2.6).

use std::fmt;

use crate::AuthError;
use crate::percent;

use super::envelope::ResponseFormat;
use super::sign::{SIGNATURE_PARAM, signed_get_url};

/// clientLogin's `tokenType`: how long the token should live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// `shortterm` (the default, up to 24 hours).
    ShortTerm,
    /// `longterm` (a year).
    LongTerm,
    /// A positive number of seconds.
    Seconds(u64),
}

impl TokenType {
    /// Reads a `tokenType` value (`shortterm`, `longterm` in any case, or positive seconds).
    #[must_use]
    pub fn from_param(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("shortterm") {
            Some(Self::ShortTerm)
        } else if value.eq_ignore_ascii_case("longterm") {
            Some(Self::LongTerm)
        } else {
            value.parse::<u64>().ok().filter(|&s| s > 0).map(Self::Seconds)
        }
    }

    /// The `tokenType` value.
    #[must_use]
    pub fn to_param(self) -> String {
        match self {
            Self::ShortTerm => "shortterm".to_owned(),
            Self::LongTerm => "longterm".to_owned(),
            Self::Seconds(seconds) => seconds.to_string(),
        }
    }
}

/// The body of `POST /auth/clientLogin` (`application/x-www-form-urlencoded`).
///
/// Known parameters have fields; any others are kept in `extra` (e.g. `c`, `idType`,
/// `rememberMe`). `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientLoginRequest {
    /// `devId`: the developer key (also accepted as `k` when parsing, as some clients send it).
    pub dev_id: String,
    /// `f`: the response format. `None` when absent; a server picks its default.
    pub format: Option<ResponseFormat>,
    /// `s`: the login id (screen name, email or ICQ UIN).
    pub login_id: String,
    /// `pwd`: the password.
    pub password: String,
    /// `clientName`.
    pub client_name: Option<String>,
    /// `clientVersion`.
    pub client_version: Option<String>,
    /// `language`, e.g. `en-us`.
    pub language: Option<String>,
    /// `tokenType`.
    pub token_type: Option<TokenType>,
    /// `r`: request id, echoed as `requestId`.
    pub request_id: Option<String>,
    /// Any other parameters, in order.
    pub extra: Vec<(String, String)>,
}

impl fmt::Debug for ClientLoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientLoginRequest")
            .field("dev_id", &self.dev_id)
            .field("format", &self.format)
            .field("login_id", &self.login_id)
            .field("password", &"<redacted>")
            .field("client_name", &self.client_name)
            .field("client_version", &self.client_version)
            .field("language", &self.language)
            .field("token_type", &self.token_type)
            .field("request_id", &self.request_id)
            .field("extra", &self.extra)
            .finish()
    }
}

const CLIENT_LOGIN_KNOWN: [&str; 9] = [
    "devId",
    "f",
    "s",
    "pwd",
    "clientName",
    "clientVersion",
    "language",
    "tokenType",
    "r",
];

impl ClientLoginRequest {
    /// A request with the required fields and no optional ones.
    #[must_use]
    pub fn new(
        dev_id: impl Into<String>,
        format: ResponseFormat,
        login_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            dev_id: dev_id.into(),
            format: Some(format),
            login_id: login_id.into(),
            password: password.into(),
            client_name: None,
            client_version: None,
            language: None,
            token_type: None,
            request_id: None,
            extra: Vec::new(),
        }
    }

    /// The form body: `devId=…&f=…&s=…&pwd=…[&…]`, every name and value percent-encoded with
    /// the RFC 3986 rule (space → `%20`). Extra parameters whose names collide with a known
    /// one are left out.
    #[must_use]
    pub fn to_form_body(&self) -> String {
        let mut pairs: Vec<(&str, String)> = vec![("devId", self.dev_id.clone())];
        if let Some(format) = self.format {
            pairs.push(("f", format.as_param().to_owned()));
        }
        pairs.push(("s", self.login_id.clone()));
        pairs.push(("pwd", self.password.clone()));
        let optional = [
            ("clientName", self.client_name.clone()),
            ("clientVersion", self.client_version.clone()),
            ("language", self.language.clone()),
            ("tokenType", self.token_type.map(TokenType::to_param)),
            ("r", self.request_id.clone()),
        ];
        pairs.extend(optional.into_iter().filter_map(|(n, v)| v.map(|v| (n, v))));
        pairs.extend(
            self.extra
                .iter()
                .filter(|(n, _)| !CLIENT_LOGIN_KNOWN.contains(&n.as_str()))
                .map(|(n, v)| (n.as_str(), v.clone())),
        );
        pairs
            .iter()
            .map(|(n, v)| {
                format!(
                    "{}={}",
                    percent::encode_form_component(n),
                    percent::encode_form_component(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Parses a form body (`+` is a space, `%XX` decoded).
    ///
    /// `devId` may be sent as `k`; when both are present `devId` wins and `k` stays in
    /// `extra`.
    ///
    /// # Errors
    /// [`AuthError::MissingParameter`] for a missing `s`, `pwd` or `devId`/`k`;
    /// [`AuthError::BadParameter`] for a duplicated parameter, non-UTF-8 text, or an unusable
    /// `f` or `tokenType`.
    pub fn from_form_body(body: &str) -> Result<Self, AuthError> {
        Self::from_pairs(percent::parse_form_unique(body)?)
    }

    /// Builds the request from decoded, duplicate-free pairs.
    ///
    /// # Errors
    /// As [`from_form_body`](Self::from_form_body).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, AuthError> {
        percent::reject_duplicates(&pairs)?;
        let has_dev_id = pairs.iter().any(|(n, _)| n == "devId");
        let mut request = Self::new(String::new(), ResponseFormat::Json, "", "");
        request.format = None;
        let (mut dev_id, mut login_id, mut password) = (None, None, None);
        for (name, value) in pairs {
            match name.as_str() {
                "devId" => dev_id = Some(value),
                "k" if !has_dev_id => dev_id = Some(value),
                "f" => {
                    request.format =
                        Some(ResponseFormat::from_param(&value).ok_or_else(|| AuthError::BadParameter(name.clone()))?);
                }
                "s" => login_id = Some(value),
                "pwd" => password = Some(value),
                "clientName" => request.client_name = Some(value),
                "clientVersion" => request.client_version = Some(value),
                "language" => request.language = Some(value),
                "tokenType" => {
                    request.token_type =
                        Some(TokenType::from_param(&value).ok_or_else(|| AuthError::BadParameter(name.clone()))?);
                }
                "r" => request.request_id = Some(value),
                _ => request.extra.push((name, value)),
            }
        }
        let require = |v: Option<String>, name: &str| v.ok_or_else(|| AuthError::MissingParameter(name.into()));
        request.dev_id = require(dev_id, "devId")?;
        request.login_id = require(login_id, "s")?;
        request.password = require(password, "pwd")?;
        Ok(request)
    }

    /// The value of an extra parameter (e.g. `c`).
    #[must_use]
    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extra.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The query parameters of `GET /aim/startOSCARSession` (§2.6), without `sig_sha256`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartSessionParams {
    /// `a`: the token from clientLogin's `data.token.a`.
    pub token: String,
    /// `k`: the developer key (same value as clientLogin's `devId`).
    pub dev_key: Option<String>,
    /// `f`: the response format.
    pub format: Option<ResponseFormat>,
    /// `ts`: the request time on the **server's** clock, Unix seconds
    /// (see [`ClockOffset`](super::ClockOffset)).
    pub ts: i64,
    /// `distId`: distribution id (libpurple: 1717 AIM, 1553 ICQ).
    pub dist_id: Option<u32>,
    /// `useTLS`: ask for a TLS BOS endpoint.
    pub use_tls: Option<bool>,
    /// `clientName`.
    pub client_name: Option<String>,
    /// `clientVersion`.
    pub client_version: Option<String>,
    /// Any other parameters (e.g. `majorVersion`, `buildNumber`), in order.
    pub extra: Vec<(String, String)>,
}

const START_SESSION_KNOWN: [&str; 9] = [
    "a",
    "k",
    "f",
    "ts",
    "distId",
    "useTLS",
    "clientName",
    "clientVersion",
    SIGNATURE_PARAM,
];

impl StartSessionParams {
    /// Parameters with the token, key, format and time, and nothing optional.
    #[must_use]
    pub fn new(token: impl Into<String>, dev_key: impl Into<String>, format: ResponseFormat, ts: i64) -> Self {
        Self {
            token: token.into(),
            dev_key: Some(dev_key.into()),
            format: Some(format),
            ts,
            dist_id: None,
            use_tls: None,
            client_name: None,
            client_version: None,
            extra: Vec::new(),
        }
    }

    /// The parameters as decoded `(name, value)` pairs (unsorted; signing sorts them).
    /// Extra parameters whose names collide with a known one (or `sig_sha256`) are left out.
    #[must_use]
    pub fn to_params(&self) -> Vec<(String, String)> {
        let mut params = vec![("a".to_owned(), self.token.clone())];
        let optional = [
            ("k", self.dev_key.clone()),
            ("f", self.format.map(|f| f.as_param().to_owned())),
            ("ts", Some(self.ts.to_string())),
            ("distId", self.dist_id.map(|d| d.to_string())),
            ("useTLS", self.use_tls.map(|t| if t { "1" } else { "0" }.to_owned())),
            ("clientName", self.client_name.clone()),
            ("clientVersion", self.client_version.clone()),
        ];
        params.extend(optional.into_iter().filter_map(|(n, v)| v.map(|v| (n.to_owned(), v))));
        params.extend(
            self.extra
                .iter()
                .filter(|(n, _)| !START_SESSION_KNOWN.contains(&n.as_str()))
                .cloned(),
        );
        params
    }

    /// The signed request URL `url?QS&sig_sha256=…` (see
    /// [`signed_get_url`](super::signed_get_url)). `url` is e.g.
    /// `https://api.oscar.aol.com/aim/startOSCARSession`.
    #[must_use]
    pub fn signed_url(&self, url: &str, session_key: &str) -> String {
        signed_get_url(url, &self.to_params(), session_key)
    }

    /// Reads the parameters from decoded pairs, e.g. [`VerifiedRequest::params`]
    /// (`sig_sha256` is ignored).
    ///
    /// [`VerifiedRequest::params`]: super::VerifiedRequest::params
    ///
    /// # Errors
    /// [`AuthError::MissingParameter`] for a missing `a` or `ts`; [`AuthError::BadParameter`]
    /// for a duplicate, or an unusable `ts`, `f`, `distId` or `useTLS`.
    pub fn from_params(params: &[(String, String)]) -> Result<Self, AuthError> {
        percent::reject_duplicates(params)?;
        let mut out = Self {
            token: String::new(),
            dev_key: None,
            format: None,
            ts: 0,
            dist_id: None,
            use_tls: None,
            client_name: None,
            client_version: None,
            extra: Vec::new(),
        };
        let (mut token, mut ts) = (None, None);
        for (name, value) in params {
            let bad = || AuthError::BadParameter(name.clone());
            match name.as_str() {
                "a" => token = Some(value.clone()),
                "k" => out.dev_key = Some(value.clone()),
                "f" => out.format = Some(ResponseFormat::from_param(value).ok_or_else(bad)?),
                "ts" => ts = Some(value.trim().parse::<i64>().map_err(|_| bad())?),
                "distId" => out.dist_id = Some(value.trim().parse::<u32>().map_err(|_| bad())?),
                "useTLS" => out.use_tls = Some(parse_bool(value).ok_or_else(bad)?),
                "clientName" => out.client_name = Some(value.clone()),
                "clientVersion" => out.client_version = Some(value.clone()),
                SIGNATURE_PARAM => {}
                _ => out.extra.push((name.clone(), value.clone())),
            }
        }
        out.token = token.ok_or_else(|| AuthError::MissingParameter("a".into()))?;
        out.ts = ts.ok_or_else(|| AuthError::MissingParameter("ts".into()))?;
        Ok(out)
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" => Some(true),
        "0" => Some(false),
        v if v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_types() {
        assert_eq!(TokenType::from_param("LongTerm"), Some(TokenType::LongTerm));
        assert_eq!(TokenType::from_param("3600"), Some(TokenType::Seconds(3600)));
        assert_eq!(TokenType::from_param("0"), None);
        assert_eq!(TokenType::from_param("-5"), None);
        assert_eq!(TokenType::Seconds(9).to_param(), "9");
    }

    #[test]
    fn client_login_errors_name_the_parameter() {
        assert_eq!(
            ClientLoginRequest::from_form_body("devId=x&s=a"),
            Err(AuthError::MissingParameter("pwd".into()))
        );
        assert_eq!(
            ClientLoginRequest::from_form_body("s=a&pwd=b"),
            Err(AuthError::MissingParameter("devId".into()))
        );
        assert_eq!(
            ClientLoginRequest::from_form_body("devId=x&s=a&pwd=b&f=amf"),
            Err(AuthError::BadParameter("f".into()))
        );
        assert_eq!(
            ClientLoginRequest::from_form_body("devId=x&s=a&pwd=b&pwd=c"),
            Err(AuthError::BadParameter("pwd".into()))
        );
        assert_eq!(
            ClientLoginRequest::from_form_body("devId=x&s=a&pwd=b&tokenType=forever"),
            Err(AuthError::BadParameter("tokenType".into()))
        );
    }

    #[test]
    fn k_is_an_alias_for_dev_id() {
        let req = ClientLoginRequest::from_form_body("k=key&s=a&pwd=b").unwrap();
        assert_eq!(req.dev_id, "key");
        assert!(req.extra.is_empty());
        let both = ClientLoginRequest::from_form_body("k=other&devId=key&s=a&pwd=b").unwrap();
        assert_eq!(both.dev_id, "key");
        assert_eq!(both.extra("k"), Some("other"));
    }

    #[test]
    fn password_is_not_in_debug_output() {
        let req = ClientLoginRequest::new("k", ResponseFormat::Xml, "carol", "hunter2");
        assert!(!format!("{req:?}").contains("hunter2"));
    }

    #[test]
    fn start_session_params_round_trip_and_errors() {
        let mut params = StartSessionParams::new("tok", "key", ResponseFormat::Xml, 1234);
        params.dist_id = Some(1717);
        params.use_tls = Some(false);
        params.extra.push(("majorVersion".into(), "5".into()));
        params.extra.push(("a".into(), "collides".into()));
        let pairs = params.to_params();
        assert_eq!(pairs.iter().filter(|(n, _)| n == "a").count(), 1);
        params.extra.pop();
        assert_eq!(StartSessionParams::from_params(&pairs).unwrap(), params);

        let only = |pairs: &[(&str, &str)]| {
            StartSessionParams::from_params(
                &pairs
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(only(&[("ts", "1")]), Err(AuthError::MissingParameter("a".into())));
        assert_eq!(only(&[("a", "x")]), Err(AuthError::MissingParameter("ts".into())));
        assert_eq!(
            only(&[("a", "x"), ("ts", "soon")]),
            Err(AuthError::BadParameter("ts".into()))
        );
        assert_eq!(
            only(&[("a", "x"), ("ts", "1"), ("useTLS", "maybe")]),
            Err(AuthError::BadParameter("useTLS".into()))
        );
        assert_eq!(
            only(&[("a", "x"), ("ts", "1"), ("useTLS", "true")]).unwrap().use_tls,
            Some(true)
        );
    }
}
