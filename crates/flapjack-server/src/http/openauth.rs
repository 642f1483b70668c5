//! The two OpenAuth endpoints (§2.2–§2.11).
//!
//! **`POST /auth/clientLogin`** reads the form body only (`devId` or `k`, `f`, `s`, `pwd`,
//! `clientName`, `clientVersion`, `language`, `tokenType`, `r`, `c`), checks in this order:
//! parameters (460 / 462), developer key (440), the failed-login limiter shared with BUCP
//! (607), then the password against the account's argon2id hash on the blocking pool (330 /
//! 3011). An unknown account is checked against a dummy hash and answers exactly like a wrong
//! password. Success mints an opaque base64url token and a random `sessionSecret`, keeps
//! (token → account, session key, expiry) in memory and forgets the password.
//!
//! **`GET /aim/startOSCARSession`** reads the raw query (a literal `+` in `sig_sha256` stays a
//! `+`), then: parameters (460 / 462), developer key (440), token (401 / 1014 unknown or
//! expired), limiter (607), signature over the request's own URL and every public API URL
//! (401 / 1014), `ts` within the window (400 / 1015 with `data.ts`), the account still there with
//! the password the token was minted under (401 / 1014), replay (401 / 1014). Success
//! issues a one-time BOS cookie bound to the account and the TLS mode: with `useTLS=1` and a TLS
//! OSCAR listener, the TLS BOS address, a TLS-only cookie and `tlsCertName`; otherwise the plain
//! address and a plain-only cookie.
//!
//! Every API-level error is HTTP 200 with the envelope status; the body is JSON, JSONP (`c`) or
//! XML per `f` (JSON when absent or unreadable).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode as HttpStatus, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flapjack_auth::AuthError;
use flapjack_auth::openauth::{
    ClientLoginData, ClientLoginRequest, Envelope, EnvelopeData, ResponseFormat, SignedQuery, StartSessionData,
    StartSessionParams, StatusCode, Token, TokenType, canonical_query, session_key,
};
use flapjack_auth::percent;
use flapjack_wire::types::normalize_screen_name;

use super::tokens::TokenGrant;
use super::{Api, ConnInfo};
use crate::cookie::{Grant, ServiceKind};
use crate::limits::LoginBlock;
use crate::metrics::{LoginMethod, LoginResult};

/// How to render the answer: the request's `f`, `r` and `c`.
#[derive(Debug, Clone, Default)]
struct Reply {
    format: ResponseFormat,
    request_id: Option<String>,
    callback: Option<String>,
}

impl Reply {
    /// Reads `f`, `r` and `c` leniently from a raw query or form (for answering requests
    /// that do not parse). `plus_is_space`: form rules.
    fn from_raw(raw: &str, plus_is_space: bool) -> Self {
        let mut reply = Reply::default();
        for segment in raw.split('&') {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            let decode = |s: &str| {
                let bytes = if plus_is_space {
                    percent::decode_form_component(s)
                } else {
                    percent::decode_query_component(s)
                };
                String::from_utf8_lossy(&bytes).into_owned()
            };
            match decode(name).as_str() {
                "f" => reply.format = ResponseFormat::from_param(&decode(value)).unwrap_or_default(),
                "r" => reply.request_id = Some(decode(value)),
                "c" => reply.callback = Some(decode(value)),
                _ => {}
            }
        }
        reply
    }

    fn render<D: EnvelopeData>(&self, envelope: Envelope<D>) -> Response {
        let envelope = envelope.with_request_id(self.request_id.clone());
        let body = match (self.format, self.callback.as_deref()) {
            (ResponseFormat::Json, Some(callback)) => match envelope.to_jsonp(callback) {
                Ok(body) => return ok_body("application/javascript; charset=UTF-8", body),
                Err(e) => Envelope::<D>::from_error(&e)
                    .with_request_id(self.request_id.clone())
                    .to_json(),
            },
            (format, _) => envelope.render(format),
        };
        ok_body(self.format.content_type(), body)
    }

    fn error<D: EnvelopeData>(&self, err: &AuthError) -> Response {
        self.render(Envelope::<D>::from_error(err))
    }
}

fn ok_body(content_type: &'static str, body: String) -> Response {
    (
        HttpStatus::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn server_error(text: &str) -> AuthError {
    AuthError::Rejected {
        status: StatusCode::ServerError,
        detail: None,
        text: text.to_owned(),
    }
}

fn rate_limited() -> AuthError {
    AuthError::RateLimited {
        status: StatusCode::RateLimitReached,
    }
}

fn invalid_key() -> AuthError {
    AuthError::InvalidKey {
        status: StatusCode::InvalidKey,
    }
}

/// A digest of a stored password hash, to notice a password change without keeping the hash.
fn credentials_tag(password_hash: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(password_hash.as_bytes()).into()
}

fn random_token<const N: usize>() -> Result<String, String> {
    crate::random::random_bytes::<N>().map(|b| URL_SAFE_NO_PAD.encode(b))
}

impl Api {
    fn dev_key_allowed(&self, key: Option<&str>) -> bool {
        self.settings.dev_keys.is_empty() || key.is_some_and(|k| self.settings.dev_keys.iter().any(|d| d == k))
    }

    fn token_ttl(&self, token_type: Option<TokenType>) -> Duration {
        let max = self.settings.max_token_ttl;
        match token_type {
            None | Some(TokenType::ShortTerm) => self.settings.token_ttl.min(max),
            Some(TokenType::LongTerm) => max,
            Some(TokenType::Seconds(s)) => Duration::from_secs(s).min(max),
        }
    }

    fn count(&self, method: LoginMethod, result: LoginResult) {
        self.state.metrics.login(method, result);
    }

    fn refused_by_limiter(&self, account: &str, addr: IpAddr, now: Instant) -> bool {
        match self.state.login_limiter.check(account, addr, now) {
            Ok(()) => false,
            Err(block) => {
                let which = match block {
                    LoginBlock::Account => "account",
                    LoginBlock::Address => "address",
                };
                tracing::info!(account, %addr, which, "OpenAuth request refused: too many recent failures");
                true
            }
        }
    }
}

/// `POST /auth/clientLogin`.
pub async fn client_login(State(api): State<Arc<Api>>, Extension(conn): Extension<ConnInfo>, body: Bytes) -> Response {
    const METHOD: LoginMethod = LoginMethod::ClientLogin;
    let Ok(raw) = std::str::from_utf8(&body) else {
        api.count(METHOD, LoginResult::BadRequest);
        return Reply::default().error::<ClientLoginData>(&AuthError::BadParameter("body".into()));
    };
    let hints = Reply::from_raw(raw, true);
    let request = match ClientLoginRequest::from_form_body(raw) {
        Ok(r) => r,
        Err(e) => {
            api.count(METHOD, LoginResult::BadRequest);
            tracing::debug!(peer = %conn.peer, error = %e, "clientLogin: bad request");
            return hints.error::<ClientLoginData>(&e);
        }
    };
    let reply = Reply {
        format: request.format.unwrap_or_default(),
        request_id: request.request_id.clone(),
        callback: request.extra("c").map(str::to_owned),
    };
    if !api.dev_key_allowed(Some(&request.dev_id)) {
        api.count(METHOD, LoginResult::BadRequest);
        tracing::info!(peer = %conn.peer, dev_id = %request.dev_id, "clientLogin: developer key refused");
        return reply.error::<ClientLoginData>(&invalid_key());
    }
    let ClientLoginRequest {
        login_id,
        password,
        token_type,
        ..
    } = request;
    let normalized = normalize_screen_name(login_id.as_bytes());
    let addr = conn.peer.ip();
    let now = Instant::now();
    if api.refused_by_limiter(&normalized, addr, now) {
        api.count(METHOD, LoginResult::RateLimited);
        return reply.error::<ClientLoginData>(&rate_limited());
    }
    let state = &api.state;
    let account = if normalized.is_empty() {
        None
    } else {
        match state.store.account(&normalized).await {
            Ok(a) => a,
            Err(e) => {
                api.count(METHOD, LoginResult::Error);
                tracing::error!(error = %e, "clientLogin: store failed");
                return reply.error::<ClientLoginData>(&server_error("Server error"));
            }
        }
    };
    let Ok(secret) = random_token::<18>() else {
        api.count(METHOD, LoginResult::Error);
        return reply.error::<ClientLoginData>(&server_error("Server error"));
    };
    // The argon2id check runs on the blocking pool, a few at a time. An unknown account is
    // checked against a dummy hash so that it takes as long as a real one.
    let stored_hash = account.as_ref().map(|a| a.credentials.password_hash.clone());
    let verified_key = {
        let Ok(_slot) = api.argon2_slots.acquire().await else {
            api.count(METHOD, LoginResult::Error);
            return reply.error::<ClientLoginData>(&server_error("Server error"));
        };
        let state = state.clone();
        let secret = secret.clone();
        tokio::task::spawn_blocking(move || {
            let hash = stored_hash.unwrap_or_else(|| state.dummy_hash().to_owned());
            let ok = flapjack_auth::password::verify_password(password.as_bytes(), &hash).unwrap_or(false);
            ok.then(|| session_key(password.as_bytes(), secret.as_bytes()))
        })
        .await
        .unwrap_or(None)
    };
    let (account, key) = match (account, verified_key) {
        (Some(account), Some(key)) => (account, key),
        (account, _) => {
            state.login_limiter.record_failure(&normalized, addr, now);
            api.count(METHOD, LoginResult::Rejected);
            tracing::info!(
                account = %normalized,
                peer = %conn.peer,
                known = account.is_some(),
                "clientLogin: wrong password or unknown account"
            );
            return reply.error::<ClientLoginData>(&AuthError::IncorrectPassword);
        }
    };
    state.login_limiter.record_success(&account.normalized);
    let Ok(token) = random_token::<32>() else {
        api.count(METHOD, LoginResult::Error);
        return reply.error::<ClientLoginData>(&server_error("Server error"));
    };
    let ttl = api.token_ttl(token_type);
    api.tokens.insert(
        token.clone(),
        TokenGrant {
            normalized: account.normalized.clone(),
            screen_name: account.screen_name.clone(),
            session_key: key,
            credentials_tag: credentials_tag(&account.credentials.password_hash),
            expires: now + ttl,
        },
        now,
    );
    api.count(METHOD, LoginResult::Success);
    tracing::info!(account = %account.normalized, peer = %conn.peer, ttl_s = ttl.as_secs(), "clientLogin accepted");
    reply.render(Envelope::ok(ClientLoginData {
        token: Token {
            a: token,
            expires_in: Some(ttl.as_secs()),
        },
        login_id: Some(login_id),
        screen_name: Some(account.screen_name),
        session_secret: secret,
        host_time: unix_now(),
        token_expires_in: Some(ttl.as_secs()),
    }))
}

/// The URLs the request may have been signed over: its own (scheme of the listener, `Host`
/// header or the absolute request URI, path), then the public API URLs.
fn candidate_urls(api: &Api, conn: &ConnInfo, headers: &HeaderMap, uri: &Uri) -> Vec<String> {
    let mut urls = Vec::with_capacity(api.public_urls.len() + 2);
    if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
        urls.push(format!("{scheme}://{authority}{}", uri.path()));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| conn.local.to_string(), str::to_owned);
    urls.push(format!("{}://{host}{}", conn.scheme(), uri.path()));
    urls.extend(api.public_urls.iter().cloned());
    urls
}

/// `GET /aim/startOSCARSession`.
pub async fn start_oscar_session(
    State(api): State<Arc<Api>>,
    Extension(conn): Extension<ConnInfo>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    const METHOD: LoginMethod = LoginMethod::StartOscarSession;
    let raw = uri.query().unwrap_or("");
    let mut reply = Reply::from_raw(raw, false);
    let bad_request = |reply: &Reply, e: &AuthError| {
        api.count(METHOD, LoginResult::BadRequest);
        tracing::debug!(peer = %conn.peer, error = %e, "startOSCARSession: bad request");
        reply.error::<StartSessionData>(e)
    };
    let query = match SignedQuery::parse(raw) {
        Ok(q) => q,
        Err(e) => return bad_request(&reply, &e),
    };
    let mut params = match StartSessionParams::from_params(query.params()) {
        Ok(p) => p,
        Err(e) => return bad_request(&reply, &e),
    };
    reply.format = params.format.unwrap_or_default();
    if !api.dev_key_allowed(params.dev_key.as_deref()) {
        tracing::info!(peer = %conn.peer, "startOSCARSession: developer key refused");
        return bad_request(&reply, &invalid_key());
    }
    let now = Instant::now();
    let grant = match api.tokens.get(&params.token, now) {
        Ok(g) => g,
        Err(e) => {
            api.count(METHOD, LoginResult::Rejected);
            tracing::info!(peer = %conn.peer, why = ?e, "startOSCARSession: unknown or expired token");
            return reply.error::<StartSessionData>(&AuthError::AuthenticationFailed);
        }
    };
    let addr = conn.peer.ip();
    if api.refused_by_limiter(&grant.normalized, addr, now) {
        api.count(METHOD, LoginResult::RateLimited);
        return reply.error::<StartSessionData>(&rate_limited());
    }
    let candidates = candidate_urls(&api, &conn, &headers, &uri);
    let window = api.settings.ts_window;
    let verified = match query.verify("GET", &candidates, &grant.session_key, unix_now(), window.as_secs()) {
        Ok(v) => v,
        Err(AuthError::SignatureMismatch) => {
            api.state.login_limiter.record_failure(&grant.normalized, addr, now);
            api.count(METHOD, LoginResult::Rejected);
            tracing::info!(
                account = %grant.normalized,
                peer = %conn.peer,
                tried = ?candidates,
                "startOSCARSession: signature does not verify"
            );
            return reply.error::<StartSessionData>(&AuthError::SignatureMismatch);
        }
        Err(e) => {
            if let AuthError::ClockSkew { server_now } = e {
                tracing::info!(account = %grant.normalized, ts = query.ts(), server_now, "startOSCARSession: ts outside the window");
            }
            return bad_request(&reply, &e);
        }
    };
    if verified.plus_as_space {
        params = match StartSessionParams::from_params(&verified.params) {
            Ok(p) => p,
            Err(e) => return bad_request(&reply, &e),
        };
    }
    // The account must still exist with the password the token was minted under.
    match api.state.store.account(&grant.normalized).await {
        Ok(Some(account)) if credentials_tag(&account.credentials.password_hash) == grant.credentials_tag => {}
        Ok(_) => {
            api.tokens.revoke_account(&grant.normalized);
            api.count(METHOD, LoginResult::Rejected);
            tracing::info!(account = %grant.normalized, "startOSCARSession: account deleted or password changed since clientLogin");
            return reply.error::<StartSessionData>(&AuthError::AuthenticationFailed);
        }
        Err(e) => {
            api.count(METHOD, LoginResult::Error);
            tracing::error!(error = %e, "startOSCARSession: store failed");
            return reply.error::<StartSessionData>(&server_error("Server error"));
        }
    }
    let replay_key = format!("{}\n{}", verified.url, canonical_query(&verified.params));
    if !api
        .tokens
        .first_use(replay_key, now, now + 2 * window + Duration::from_secs(1))
    {
        api.count(METHOD, LoginResult::Rejected);
        tracing::info!(account = %grant.normalized, peer = %conn.peer, "startOSCARSession: replayed request refused");
        return reply.error::<StartSessionData>(&AuthError::AuthenticationFailed);
    }
    issue_bos_cookie(&api, &reply, &grant, params.use_tls == Some(true), &conn)
}

fn issue_bos_cookie(api: &Api, reply: &Reply, grant: &TokenGrant, use_tls: bool, conn: &ConnInfo) -> Response {
    const METHOD: LoginMethod = LoginMethod::StartOscarSession;
    let tls_cert_name = if use_tls { api.tls_cert_name.clone() } else { None };
    let tls = tls_cert_name.is_some();
    let state = &api.state;
    let cookie = match state.cookies.issue(
        Grant {
            normalized: grant.normalized.clone(),
            screen_name: grant.screen_name.clone(),
            tls,
            service: ServiceKind::Bos,
        },
        Instant::now(),
    ) {
        Ok(c) => c,
        Err(e) => {
            api.count(METHOD, LoginResult::Error);
            tracing::error!(error = %e, "startOSCARSession: cannot issue a cookie");
            return reply.error::<StartSessionData>(&server_error("Server error"));
        }
    };
    let bos = state.bos_address(tls);
    let Some((host, port)) = crate::tls::split_host_port(&bos) else {
        api.count(METHOD, LoginResult::Error);
        tracing::error!(%bos, "startOSCARSession: the advertised BOS address is not host:port");
        return reply.error::<StartSessionData>(&server_error("Server error"));
    };
    api.count(METHOD, LoginResult::Success);
    tracing::info!(account = %grant.normalized, peer = %conn.peer, %bos, tls, "startOSCARSession: BOS cookie issued");
    reply.render(Envelope::ok(StartSessionData::new(host, port, &cookie, tls_cert_name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_hints_are_read_leniently() {
        let r = Reply::from_raw("f=XML&r=a+b&c=cb&junk=%ZZ&&x", true);
        assert_eq!(r.format, ResponseFormat::Xml);
        assert_eq!(r.request_id.as_deref(), Some("a b"));
        assert_eq!(r.callback.as_deref(), Some("cb"));
        let q = Reply::from_raw("f=amf&r=a+b", false);
        assert_eq!(q.format, ResponseFormat::Json);
        assert_eq!(q.request_id.as_deref(), Some("a+b"));
    }
}
