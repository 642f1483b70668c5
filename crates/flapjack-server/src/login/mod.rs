//! Logins on the OSCAR listener: BUCP (family 0x0017 MD5 challenge, §6.2) and the roasted
//! channel-1 login (§6.1). Both end with a one-time BOS cookie or a login error code.
//!
//! * 17/06 → 17/07 hands out the account's stored auth key. For an unknown account it hands
//!   out a key derived from a process secret and the name, stable across requests, so a
//!   challenge alone does not reveal whether an account exists.
//! * 17/02 is checked against the stored strong or weak MD5 verifier in constant time
//!   (unknown account: 0x0001, wrong password: 0x0005). The account read for the connection's
//!   17/06 ([`BucpCarry`]) stands in for a second read when the 17/02 names the same account
//!   within [`CARRY_FOR`].
//! * The roasted login unroasts the password and checks it against the argon2id hash on a
//!   blocking thread (an unknown account is checked against a dummy hash, to take as long).
//! * Failures count per account and per source address; over the limits the answer is 0x0018
//!   or 0x001D before any password is checked.
//! * Every attempt is counted in `flapjack_logins_total` ([`crate::metrics`]) once it ends:
//!   success, rejected (unknown account or wrong password, alike), rate limited, refused (legacy
//!   logins disabled on this transport) or error.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// How long the account read for a 17/06 may answer the connection's 17/02 instead of a new
/// read. A client answers the challenge at once (one round trip); past this the account is
/// read again, so that a password changed meanwhile counts.
pub const CARRY_FOR: Duration = Duration::from_secs(5);

/// What a BUCP connection carries from its 17/06 to its 17/02: the account read for the
/// challenge, or that there was none. Boxed, so that a connection holds one pointer.
#[derive(Debug, Default)]
pub struct BucpCarry(Option<Box<Carried>>);

#[derive(Debug)]
struct Carried {
    /// The normalized name the 17/06 asked for.
    name: String,
    /// When the account was read.
    at: Instant,
    /// What the store held (`None`: no such account).
    account: Option<Account>,
}

impl BucpCarry {
    /// The carried read for `name`, if it is fresh; the carry is used up either way.
    fn take(&mut self, name: &str, now: Instant) -> Option<Option<Account>> {
        let carried = self.0.take()?;
        (carried.name == name && now.saturating_duration_since(carried.at) <= CARRY_FOR).then_some(carried.account)
    }
}

/// The answer to a 17/06 challenge request: 17/07 with the key, or (legacy logins disabled)
/// a 17/03 failure.
pub enum ChallengeAnswer {
    /// Send this 17/07.
    Key(ChallengeResponse<'static>),
    /// Send this 17/03 and close.
    Refused(LoginResponse<'static>),
}

/// Answers 17/06; the account read is left in `carry` for the connection's 17/02.
pub async fn bucp_challenge(
    state: &ServerState,
    tls: bool,
    req: &ChallengeRequest<'_>,
    carry: &mut BucpCarry,
) -> ChallengeAnswer {
    carry.0 = None;
    let name = normalize_screen_name(req.screen_name());
    if !state.config.legacy_logins.allows(tls) {
        state.metrics.login(LoginMethod::Bucp, LoginResult::Refused);
        return ChallengeAnswer::Refused(failure(req.screen_name(), LoginError::ServiceUnavailable));
    }
    let account = match state.store.account(&name).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "store failed during a BUCP challenge");
            state.metrics.login(LoginMethod::Bucp, LoginResult::Error);
            return ChallengeAnswer::Refused(failure(req.screen_name(), LoginError::ServiceUnavailable));
        }
    };
    let key = match account.as_ref().and_then(|a| a.credentials.md5.as_ref()) {
        Some(m) => Str16::new(m.auth_key.as_bytes().to_vec()),
        None => Str16::new(decoy_key(state, &name).into_bytes()),
    }
    .unwrap_or_else(|_| Str16::empty());
    carry.0 = Some(Box::new(Carried {
        name,
        at: Instant::now(),
        account,
    }));
    ChallengeAnswer::Key(ChallengeResponse {
        key,
        tlvs: TlvBlock::empty(),
    })
}

/// Answers 17/02, with the account the connection's 17/06 read if it is still fresh.
pub async fn bucp_login(
    state: &ServerState,
    addr: IpAddr,
    tls: bool,
    req: &LoginRequest<'_>,
    carry: &mut BucpCarry,
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
    let read = match carry.take(&name, now) {
        Some(carried) => carried,
        None => match state.store.account(&name).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "store failed during a BUCP login");
                state.metrics.login(METHOD, LoginResult::Error);
                return failure(shown, LoginError::ServiceUnavailable);
            }
        },
    };
    let Some(account) = read else {
        state.login_limiter.record_failure(&name, addr, now);
        state.metrics.login(METHOD, LoginResult::Rejected);
        tracing::info!(account = %name, "BUCP login for an unknown account");
        return failure(shown, LoginError::InvalidScreenName);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn carry(name: &str, at: Instant, account: Option<Account>) -> BucpCarry {
        BucpCarry(Some(Box::new(Carried {
            name: name.into(),
            at,
            account,
        })))
    }

    #[test]
    fn a_carried_read_answers_once_for_its_name_while_fresh() {
        let now = Instant::now();
        // Fresh and for the same name: used, once.
        let mut c = carry("alice", now, None);
        assert_eq!(c.take("alice", now + Duration::from_secs(1)), Some(None));
        assert_eq!(c.take("alice", now + Duration::from_secs(1)), None);
        // Another name, or too old: not used (and gone).
        let mut c = carry("alice", now, None);
        assert_eq!(c.take("bob", now), None);
        assert_eq!(c.take("alice", now), None);
        let mut c = carry("alice", now, None);
        assert_eq!(c.take("alice", now + CARRY_FOR + Duration::from_millis(1)), None);
        assert_eq!(BucpCarry::default().take("alice", now), None);
    }
}
