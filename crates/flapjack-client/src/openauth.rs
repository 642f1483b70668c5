//! The OpenAuth HTTP login (§2): `POST {base}/auth/clientLogin` → session key →
//! signed `GET {base}/aim/startOSCARSession` → BOS host, port, cookie and TLS name.
//!
//! Every step is recorded in a [`Transcript`] (requests, replies, the derived session key, the
//! signature base string, the signed URL, the BOS target) that a CLI can print with `-v`.
//! Secrets — the password, `sessionSecret`, the token `a`, the session key and the BOS cookie —
//! are redacted unless [`OpenAuthConfig::reveal_secrets`] is set.
//!
//! `ts` follows the server's clock: the offset `hostTime − local time` is taken at clientLogin and
//! applied when signing. A `400` / `1015` answer carries the server's time in `data.ts`; the
//! client re-derives the offset and retries once.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flapjack_auth::AuthError;
use flapjack_auth::openauth::{
    ClientLoginData, ClientLoginRequest, ClockOffset, Envelope, ResponseFormat, StartSessionData, StartSessionParams,
    TokenType, session_key, sign, signature_base_string, signed_get_url,
};
use flapjack_auth::percent;

use crate::error::ClientError;
use crate::http::{self, HttpResponse};
use crate::tls::TlsOptions;

/// What to redact secrets with.
const REDACTED: &str = "<redacted>";

/// Settings of an OpenAuth login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAuthConfig {
    /// The API base, e.g. `https://api.example.net` (endpoints are `{base}/auth/clientLogin`
    /// and `{base}/aim/startOSCARSession`).
    pub api_base: String,
    /// The developer key (`devId` / `k`).
    pub dev_id: String,
    /// Response format to ask for (`f`).
    pub format: ResponseFormat,
    /// Ask for a TLS BOS endpoint (`useTLS=1`).
    pub use_tls: bool,
    /// `distId`.
    pub dist_id: Option<u32>,
    /// `clientName`.
    pub client_name: Option<String>,
    /// `clientVersion`.
    pub client_version: Option<String>,
    /// `language`.
    pub language: Option<String>,
    /// `tokenType`.
    pub token_type: Option<TokenType>,
    /// Show secrets in the transcript.
    pub reveal_secrets: bool,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl OpenAuthConfig {
    /// Defaults: JSON, `useTLS=1`, `distId` 1717 (libpurple's AIM id), client name `flapjack`.
    pub fn new(api_base: impl Into<String>) -> Self {
        Self {
            api_base: api_base.into(),
            dev_id: "flapjack".into(),
            format: ResponseFormat::Json,
            use_tls: true,
            dist_id: Some(1717),
            client_name: Some("flapjack".into()),
            client_version: Some(env!("CARGO_PKG_VERSION").into()),
            language: None,
            token_type: None,
            reveal_secrets: false,
            timeout: Duration::from_secs(30),
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.api_base.trim_end_matches('/'))
    }
}

/// Where to sign on after OpenAuth.
#[derive(Clone, PartialEq, Eq)]
pub struct BosTarget {
    /// BOS host.
    pub host: String,
    /// BOS port.
    pub port: u16,
    /// The login cookie (decoded from Base64).
    pub cookie: Vec<u8>,
    /// Verify this certificate name over TLS; `None` means plain TCP.
    pub tls_cert_name: Option<String>,
    /// The formatted screen name clientLogin reported.
    pub screen_name: Option<String>,
}

impl fmt::Debug for BosTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BosTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("cookie", &format_args!("<{} bytes>", self.cookie.len()))
            .field("tls_cert_name", &self.tls_cert_name)
            .field("screen_name", &self.screen_name)
            .finish()
    }
}

/// One step of the login, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An HTTP request.
    Request {
        /// `POST` or `GET`.
        method: String,
        /// The URL.
        url: String,
        /// The form body (password redacted).
        body: Option<String>,
    },
    /// An HTTP response.
    Response {
        /// Status code.
        status: u16,
        /// Content type.
        content_type: Option<String>,
        /// The body (secrets redacted).
        body: String,
    },
    /// The clock offset taken from the server's time.
    ClockOffset {
        /// The server's time (`hostTime`, or `data.ts` of a 1015).
        host_time: i64,
        /// Local time then.
        local_time: i64,
        /// `host_time − local_time`.
        offset_secs: i64,
    },
    /// The session key `Base64(HMAC-SHA256(password, sessionSecret))`.
    SessionKey {
        /// The key (redacted unless revealed).
        key: String,
    },
    /// The signature base string `GET&enc(URL)&enc(QS)`.
    SignatureBaseString {
        /// The string (token redacted unless revealed).
        base: String,
    },
    /// `sig_sha256`.
    Signature {
        /// The Base64 signature.
        value: String,
    },
    /// The server asked for a retry (400 / 1015) with its time.
    Retry {
        /// Why.
        reason: String,
    },
    /// Where BOS is.
    Bos {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// TLS certificate name, if TLS.
        tls_cert_name: Option<String>,
        /// The cookie (Base64, redacted unless revealed).
        cookie: String,
    },
    /// The login failed here.
    Failed {
        /// Why.
        error: String,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Request { method, url, body } => {
                write!(f, "> {method} {url}")?;
                if let Some(b) = body {
                    write!(f, "\n>   {b}")?;
                }
                Ok(())
            }
            Step::Response {
                status,
                content_type,
                body,
            } => write!(
                f,
                "< HTTP {status} ({})\n<   {body}",
                content_type.as_deref().unwrap_or("no content type")
            ),
            Step::ClockOffset {
                host_time,
                local_time,
                offset_secs,
            } => write!(
                f,
                "= clock: server {host_time}, local {local_time}, offset {offset_secs:+} s"
            ),
            Step::SessionKey { key } => write!(f, "= session key: {key}"),
            Step::SignatureBaseString { base } => write!(f, "= signature base string: {base}"),
            Step::Signature { value } => write!(f, "= sig_sha256: {value}"),
            Step::Retry { reason } => write!(f, "! retry: {reason}"),
            Step::Bos {
                host,
                port,
                tls_cert_name,
                cookie,
            } => match tls_cert_name {
                Some(name) => write!(
                    f,
                    "= BOS {host}:{port} over TLS (certificate name {name}), cookie {cookie}"
                ),
                None => write!(f, "= BOS {host}:{port} plain TCP, cookie {cookie}"),
            },
            Step::Failed { error } => write!(f, "! failed: {error}"),
        }
    }
}

/// Every step of an OpenAuth login.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transcript {
    /// The steps in order.
    pub steps: Vec<Step>,
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAuthLogin {
    /// Where to sign on.
    pub target: BosTarget,
    /// What happened.
    pub transcript: Transcript,
}

/// A failed login, with what happened up to the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAuthFailure {
    /// The error.
    pub error: ClientError,
    /// What happened.
    pub transcript: Transcript,
}

impl fmt::Display for OpenAuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for OpenAuthFailure {}

/// Secrets to hide in the transcript.
#[derive(Default)]
struct Redactor {
    secrets: Vec<String>,
    reveal: bool,
}

impl Redactor {
    fn add(&mut self, secret: &str) {
        if !secret.is_empty() && !self.reveal {
            // The value, and its single and double percent-encodings (URL, base string).
            let once = percent::encode(secret);
            let twice = percent::encode(&once);
            for s in [secret.to_owned(), once, twice] {
                if !self.secrets.contains(&s) {
                    self.secrets.push(s);
                }
            }
            // Longest first, so that an encoding is replaced before a substring of it.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            out = out.replace(s.as_str(), REDACTED);
        }
        out
    }

    fn show(&self, secret: &str) -> String {
        if self.reveal {
            secret.to_owned()
        } else {
            REDACTED.to_owned()
        }
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs the login for `screen_name` / `password`.
pub async fn login(
    cfg: &OpenAuthConfig,
    tls: &TlsOptions,
    screen_name: &str,
    password: &str,
) -> Result<OpenAuthLogin, OpenAuthFailure> {
    let mut transcript = Transcript::default();
    let mut redactor = Redactor {
        reveal: cfg.reveal_secrets,
        ..Redactor::default()
    };
    redactor.add(password);
    match run(cfg, tls, screen_name, password, &mut transcript, &mut redactor).await {
        Ok(target) => Ok(OpenAuthLogin { target, transcript }),
        Err(error) => {
            transcript.steps.push(Step::Failed {
                error: redactor.apply(&error.to_string()),
            });
            Err(OpenAuthFailure { error, transcript })
        }
    }
}

async fn run(
    cfg: &OpenAuthConfig,
    tls: &TlsOptions,
    screen_name: &str,
    password: &str,
    t: &mut Transcript,
    redactor: &mut Redactor,
) -> Result<BosTarget, ClientError> {
    let tls_config = tls.client_config()?;

    // Step 1: clientLogin.
    let mut req = ClientLoginRequest::new(cfg.dev_id.clone(), cfg.format, screen_name, password);
    req.client_name.clone_from(&cfg.client_name);
    req.client_version.clone_from(&cfg.client_version);
    req.language.clone_from(&cfg.language);
    req.token_type = cfg.token_type;
    let body = req.to_form_body();
    let url = cfg.endpoint("/auth/clientLogin");
    let shown_body = if cfg.reveal_secrets {
        body.clone()
    } else {
        redact_form_password(&body)
    };
    t.steps.push(Step::Request {
        method: "POST".into(),
        url: url.clone(),
        body: Some(shown_body),
    });
    let resp = http::request(
        "POST",
        &url,
        Some(("application/x-www-form-urlencoded; charset=UTF-8", body)),
        &tls_config,
        cfg.timeout,
    )
    .await?;
    let local_at_login = unix_now();
    let parsed = parse::<ClientLoginData>(&resp, cfg.format);
    if let Ok(Ok(data)) = &parsed {
        redactor.add(&data.session_secret);
        redactor.add(&data.token.a);
    }
    record_response(t, &resp, redactor);
    let data = parsed??;

    let offset = ClockOffset::from_host_time(data.host_time, local_at_login);
    t.steps.push(Step::ClockOffset {
        host_time: data.host_time,
        local_time: local_at_login,
        offset_secs: offset.offset_secs(),
    });
    // A token that arrives percent-encoded (as AOL's JSON may have carried it) is decoded once.
    let token = if has_percent_escape(&data.token.a) {
        let decoded = percent::decode_query_component_str(&data.token.a).unwrap_or_else(|_| data.token.a.clone());
        redactor.add(&decoded);
        decoded
    } else {
        data.token.a.clone()
    };

    // Step 2: the session key.
    let key = session_key(password.as_bytes(), data.session_secret.as_bytes());
    redactor.add(&key);
    t.steps.push(Step::SessionKey {
        key: redactor.show(&key),
    });

    // Step 3: startOSCARSession, signed; one retry on 400 / 1015.
    let url = cfg.endpoint("/aim/startOSCARSession");
    let mut offset = offset;
    let mut retried = false;
    let session = loop {
        let mut params = StartSessionParams::new(
            token.clone(),
            cfg.dev_id.clone(),
            cfg.format,
            offset.server_time(unix_now()),
        );
        params.dist_id = cfg.dist_id;
        params.use_tls = Some(cfg.use_tls);
        params.client_name.clone_from(&cfg.client_name);
        params.client_version.clone_from(&cfg.client_version);
        let pairs = params.to_params();
        let base = signature_base_string("GET", &url, &pairs);
        t.steps.push(Step::SignatureBaseString {
            base: redactor.apply(&base),
        });
        t.steps.push(Step::Signature {
            value: sign(&key, &base),
        });
        let signed = signed_get_url(&url, &pairs, &key);
        t.steps.push(Step::Request {
            method: "GET".into(),
            url: redactor.apply(&signed),
            body: None,
        });
        let resp = http::request("GET", &signed, None, &tls_config, cfg.timeout).await?;
        let local_now = unix_now();
        let parsed = parse::<StartSessionData>(&resp, cfg.format);
        if let Ok(Ok(data)) = &parsed {
            redactor.add(&data.cookie);
        }
        record_response(t, &resp, redactor);
        match parsed? {
            Err(AuthError::ClockSkew { server_now }) if !retried => {
                retried = true;
                offset = ClockOffset::from_host_time(server_now, local_now);
                t.steps.push(Step::Retry {
                    reason: "statusCode 400 / statusDetailCode 1015: ts outside the server's window".into(),
                });
                t.steps.push(Step::ClockOffset {
                    host_time: server_now,
                    local_time: local_now,
                    offset_secs: offset.offset_secs(),
                });
            }
            other => break other?,
        }
    };

    let cookie = session.cookie_bytes()?;
    let tls_cert_name = session.tls_cert_name.clone().filter(|n| !n.is_empty());
    t.steps.push(Step::Bos {
        host: session.host.clone(),
        port: session.port,
        tls_cert_name: tls_cert_name.clone(),
        cookie: redactor.show(&session.cookie),
    });
    Ok(BosTarget {
        host: session.host,
        port: session.port,
        cookie,
        tls_cert_name,
        screen_name: data.screen_name,
    })
}

/// Parses an envelope in the format the response says (content type), else the one asked for.
/// The outer error is for an unparsable body (HTTP-level failure); the inner one is the
/// envelope's status.
fn parse<D: flapjack_auth::openauth::EnvelopeData>(
    resp: &HttpResponse,
    asked: ResponseFormat,
) -> Result<Result<D, AuthError>, ClientError> {
    let format = match resp.content_type.as_deref() {
        Some(ct) if ct.contains("json") => ResponseFormat::Json,
        Some(ct) if ct.contains("xml") => ResponseFormat::Xml,
        _ => asked,
    };
    match Envelope::<D>::parse(&resp.body, format) {
        Ok(env) => Ok(env.into_result()),
        Err(e) if !(200..300).contains(&resp.status) => Err(ClientError::Http(format!(
            "status {} without an OpenAuth envelope ({e})",
            resp.status
        ))),
        Err(e) => Ok(Err(e)),
    }
}

fn record_response(t: &mut Transcript, resp: &HttpResponse, redactor: &Redactor) {
    t.steps.push(Step::Response {
        status: resp.status,
        content_type: resp.content_type.clone(),
        body: redactor.apply(&resp.body),
    });
}

fn redact_form_password(body: &str) -> String {
    body.split('&')
        .map(|pair| {
            if pair.starts_with("pwd=") {
                format!("pwd={REDACTED}")
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn has_percent_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        let mut r = Redactor::default();
        r.add("s3cr/t+");
        assert_eq!(r.apply("a=s3cr%2Ft%2B&b"), "a=<redacted>&b");
        assert_eq!(r.apply("a%3Ds3cr%252Ft%252B"), "a%3D<redacted>");
        assert_eq!(r.apply("\"s3cr/t+\""), "\"<redacted>\"");
        assert_eq!(
            redact_form_password("devId=k&s=bob&pwd=hunter2&f=json"),
            "devId=k&s=bob&pwd=<redacted>&f=json"
        );
        assert!(has_percent_escape("ab%2Fc"));
        assert!(!has_percent_escape("ab%zz"));
        let shown = Redactor {
            reveal: true,
            ..Redactor::default()
        };
        assert_eq!(shown.show("k"), "k");
    }
}
