//! Logins on the OSCAR listener: BUCP (family 0x0017 MD5 challenge, §6.2) and the roasted
//! channel-1 login (§6.1). Both end with a one-time BOS cookie or a login error code.
//!
//! * 17/06 → 17/07 hands out the account's stored auth key. For an unknown account it hands
//!   out a key derived from a process secret and the name, stable across requests, so a
//!   challenge alone does not reveal whether an account exists.
//! * 17/02 is checked against the stored strong or weak MD5 verifier in constant time
//!   (unknown account: 0x0001, wrong password: 0x0005).
//! * The roasted login unroasts the password and checks it against the argon2id hash on a
//!   blocking thread (an unknown account is checked against a dummy hash, to take as long).
//! * Failures count per account and per source address; over the limits the answer is 0x0018
//!   or 0x001D before any password is checked.
//! * Every attempt is counted in `flapjack_logins_total` ([`crate::metrics`]) once it ends:
//!   success, rejected (unknown account or wrong password, alike), rate limited, refused (legacy
//!   logins disabled on this transport) or error.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use flapjack_auth::roast::unroast_for_client;
use flapjack_wire::family::bucp::{ChallengeRequest, ChallengeResponse, LoginError, LoginRequest, LoginResponse};
use flapjack_wire::flap::signon_tag;
use flapjack_wire::types::normalize_screen_name;
use flapjack_wire::{Str16, TlvBlock};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::cookie::{Grant, ServiceKind};
use crate::limits::LoginBlock;
use crate::metrics::{LoginMethod, LoginResult};
use crate::server::ServerState;
use crate::store::Account;

/// The auth key for `normalized` when no account has that name: 32 hex digits, like a real
/// key, stable for the life of the process.
fn decoy_key(state: &ServerState, normalized: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(state.secret()).expect("HMAC takes any key length");
    mac.update(b"flapjack decoy auth key\0");
    mac.update(normalized.as_bytes());
    let tag = mac.finalize().into_bytes();
    flapjack_auth::bucp::auth_key_from_random(&tag[..16])
}

/// The answer to a 17/06 challenge request: 17/07 with the key, or (legacy logins disabled)
/// a 17/03 failure.
pub enum ChallengeAnswer {
    /// Send this 17/07.
    Key(ChallengeResponse<'static>),
    /// Send this 17/03 and close.
    Refused(LoginResponse<'static>),
}

/// Answers 17/06.
pub async fn bucp_challenge(state: &ServerState, tls: bool, req: &ChallengeRequest<'_>) -> ChallengeAnswer {
    let name = normalize_screen_name(req.screen_name());
    if !state.config.legacy_logins.allows(tls) {
        state.metrics.login(LoginMethod::Bucp, LoginResult::Refused);
        return ChallengeAnswer::Refused(failure(req.screen_name(), LoginError::ServiceUnavailable));
    }
    let key = match state.store.account(&name).await {
        Ok(Some(a)) => a.credentials.md5.map(|m| m.auth_key),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "store failed during a BUCP challenge");
            state.metrics.login(LoginMethod::Bucp, LoginResult::Error);
            return ChallengeAnswer::Refused(failure(req.screen_name(), LoginError::ServiceUnavailable));
        }
    }
    .unwrap_or_else(|| decoy_key(state, &name));
    let key = Str16::new(key.into_bytes()).unwrap_or_else(|_| Str16::empty());
    ChallengeAnswer::Key(ChallengeResponse {
        key,
        tlvs: TlvBlock::empty(),
    })
}

/// Answers 17/02.
pub async fn bucp_login(
    state: &ServerState,
    addr: IpAddr,
    tls: bool,
    req: &LoginRequest<'_>,
) -> LoginResponse<'static> {
    const METHOD: LoginMethod = LoginMethod::Bucp;
    let shown = req.screen_name();
    if !state.config.legacy_logins.allows(tls) {
        state.metrics.login(METHOD, LoginResult::Refused);
        return failure(shown, LoginError::ServiceUnavailable);
    }
    let name = normalize_screen_name(shown);
    let now = Instant::now();
    if let Err(block) = state.login_limiter.check(&name, addr, now) {
        state.metrics.login(METHOD, LoginResult::RateLimited);
        return blocked(shown, &name, block);
    }
    let account = match state.store.account(&name).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            state.login_limiter.record_failure(&name, addr, now);
            state.metrics.login(METHOD, LoginResult::Rejected);
            tracing::info!(account = %name, "BUCP login for an unknown account");
            return failure(shown, LoginError::InvalidScreenName);
        }
        Err(e) => {
            tracing::error!(error = %e, "store failed during a BUCP login");
            state.metrics.login(METHOD, LoginResult::Error);
            return failure(shown, LoginError::ServiceUnavailable);
        }
    };
    let verified = account
        .credentials
        .md5
        .as_ref()
        .and_then(|v| v.matches(&req.password_hash()));
    match verified {
        Some(kind) => {
            tracing::info!(account = %name, hash = ?kind, "BUCP login accepted");
            success(state, METHOD, &account, tls, req.client_info().multi_conn)
        }
        None => {
            state.login_limiter.record_failure(&name, addr, now);
            state.metrics.login(METHOD, LoginResult::Rejected);
            tracing::info!(account = %name, "BUCP login with a wrong password");
            failure(shown, LoginError::IncorrectPassword)
        }
    }
}

/// Answers a roasted channel-1 login (its TLVs); the result goes back on channel 4.
pub async fn roasted_login(
    state: &Arc<ServerState>,
    addr: IpAddr,
    tls: bool,
    tlvs: &TlvBlock<'_>,
) -> LoginResponse<'static> {
    const METHOD: LoginMethod = LoginMethod::Roasted;
    let shown = tlvs.get(signon_tag::SCREEN_NAME).unwrap_or_default();
    if !state.config.legacy_logins.allows(tls) {
        state.metrics.login(METHOD, LoginResult::Refused);
        return failure(shown, LoginError::ServiceUnavailable);
    }
    let name = normalize_screen_name(shown);
    let now = Instant::now();
    if let Err(block) = state.login_limiter.check(&name, addr, now) {
        state.metrics.login(METHOD, LoginResult::RateLimited);
        return blocked(shown, &name, block);
    }
    let client_id = String::from_utf8_lossy(tlvs.get(signon_tag::CLIENT_ID_STRING).unwrap_or_default()).into_owned();
    let password = unroast_for_client(tlvs.get(signon_tag::ROASTED_PASSWORD).unwrap_or_default(), &client_id);
    let account = match state.store.account(&name).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "store failed during a roasted login");
            state.metrics.login(METHOD, LoginResult::Error);
            return failure(shown, LoginError::ServiceUnavailable);
        }
    };
    let (hash, known) = match &account {
        Some(a) => (a.credentials.password_hash.clone(), true),
        None => (state.dummy_hash().to_owned(), false),
    };
    let ok = tokio::task::spawn_blocking(move || {
        flapjack_auth::password::verify_password(&password, &hash).unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    match account {
        Some(a) if ok && known => {
            tracing::info!(account = %name, "roasted login accepted");
            success(state, METHOD, &a, tls, tlvs.get_u8(signon_tag::MULTI_CONN))
        }
        Some(_) => {
            state.login_limiter.record_failure(&name, addr, now);
            state.metrics.login(METHOD, LoginResult::Rejected);
            tracing::info!(account = %name, "roasted login with a wrong password");
            failure(shown, LoginError::IncorrectPassword)
        }
        None => {
            state.login_limiter.record_failure(&name, addr, now);
            state.metrics.login(METHOD, LoginResult::Rejected);
            tracing::info!(account = %name, "roasted login for an unknown account");
            failure(shown, LoginError::InvalidScreenName)
        }
    }
}

fn blocked(shown: &[u8], name: &str, block: LoginBlock) -> LoginResponse<'static> {
    tracing::info!(account = %name, ?block, "login refused: too many recent failures");
    failure(
        shown,
        match block {
            LoginBlock::Account => LoginError::RateLimited,
            LoginBlock::Address => LoginError::IpRateLimited,
        },
    )
}

fn failure(shown: &[u8], error: LoginError) -> LoginResponse<'static> {
    let shown = &shown[..shown.len().min(255)];
    LoginResponse::failure(shown, error).unwrap_or(LoginResponse {
        tlvs: TlvBlock::empty(),
    })
}

/// A successful login: a BOS cookie remembering the login's multi-connection flag (TLV
/// 0x004A), which decides at BOS sign-on whether older sessions are signed off. Counts the
/// attempt as a success, or as an error when no cookie can be issued.
fn success(
    state: &ServerState,
    method: LoginMethod,
    account: &Account,
    tls: bool,
    multi_conn: Option<u8>,
) -> LoginResponse<'static> {
    state.login_limiter.record_success(&account.normalized);
    let grant = Grant {
        normalized: account.normalized.clone(),
        screen_name: account.screen_name.clone(),
        tls,
        service: ServiceKind::Bos,
    };
    let cookie = match state.cookies.issue_with_multi_conn(grant, multi_conn, Instant::now()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot issue a cookie");
            state.metrics.login(method, LoginResult::Error);
            return failure(account.screen_name.as_bytes(), LoginError::ServiceUnavailable);
        }
    };
    let bos = state.bos_address(tls);
    match LoginResponse::success(account.screen_name.as_bytes(), bos.as_bytes(), &cookie, None) {
        Ok(response) => {
            state.metrics.login(method, LoginResult::Success);
            response
        }
        Err(_) => {
            state.metrics.login(method, LoginResult::Error);
            failure(account.screen_name.as_bytes(), LoginError::ServiceUnavailable)
        }
    }
}
