//! OpenAuth tokens, in memory (§2.11): `token.a` → (account, session key, expiry).
//!
//! clientLogin mints a token and a random `sessionSecret`, derives the session key
//! `Base64(HMAC-SHA256(password, sessionSecret))` while it still holds the password, and keeps
//! only the derived key here. startOSCARSession looks the token up and verifies the request's
//! signature with that key. Tokens are lost on restart (clients log in again).
//!
//! Bounds: an account keeps at most [`MAX_TOKENS_PER_ACCOUNT`] live tokens (the oldest goes
//! first), expired tokens are swept as new ones are minted, and a signed request that already
//! got a cookie is remembered for the `ts` window so that replaying it is refused.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Live tokens one account may hold; minting another drops its oldest.
pub const MAX_TOKENS_PER_ACCOUNT: usize = 16;

/// What a token stands for.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The account's normalized screen name.
    pub normalized: String,
    /// The account's formatted screen name.
    pub screen_name: String,
    /// The session key (Base64 text) the client signs with.
    pub session_key: String,
    /// A digest of the account's stored password hash when the token was minted: a token
    /// stops working once the password changes (or the account is deleted).
    pub credentials_tag: [u8; 32],
    /// When the token stops being accepted.
    pub expires: Instant,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("normalized", &self.normalized)
            .field("screen_name", &self.screen_name)
            .field("session_key", &"<redacted>")
            .field("credentials_tag", &"<redacted>")
            .field("expires", &self.expires)
            .finish()
    }
}

/// Why a token lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Never issued, dropped, or forgotten (restart).
    Unknown,
    /// Issued but past its expiry.
    Expired,
}

#[derive(Default)]
struct Inner {
    tokens: HashMap<String, TokenGrant>,
    by_account: HashMap<String, VecDeque<String>>,
    used_requests: HashMap<String, Instant>,
    last_sweep: Option<Instant>,
}

/// The token table.
#[derive(Default)]
pub struct TokenStore {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore").field("live", &self.len()).finish()
    }
}

impl TokenStore {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `token` → `grant`. Sweeps expired entries now and then.
    pub fn insert(&self, token: String, grant: TokenGrant, now: Instant) {
        let mut inner = self.lock();
        maybe_sweep(&mut inner, now);
        let account = grant.normalized.clone();
        inner.tokens.insert(token.clone(), grant);
        let list = inner.by_account.entry(account).or_default();
        list.push_back(token);
        let mut dropped = Vec::new();
        while list.len() > MAX_TOKENS_PER_ACCOUNT {
            if let Some(old) = list.pop_front() {
                dropped.push(old);
            }
        }
        for old in dropped {
            inner.tokens.remove(&old);
        }
    }

    /// The grant of a live token.
    pub fn get(&self, token: &str, now: Instant) -> Result<TokenGrant, TokenError> {
        let inner = self.lock();
        let grant = inner.tokens.get(token).ok_or(TokenError::Unknown)?;
        if grant.expires <= now {
            return Err(TokenError::Expired);
        }
        Ok(grant.clone())
    }

    /// Drops every token of an account (e.g. after a password change). Returns how many.
    pub fn revoke_account(&self, normalized: &str) -> usize {
        let mut inner = self.lock();
        let tokens = inner.by_account.remove(normalized).unwrap_or_default();
        let n = tokens.len();
        for t in tokens {
            inner.tokens.remove(&t);
        }
        n
    }

    /// Records that the signed request identified by `key` got its cookie; `false` if it had
    /// already (a replay). Remembered until `until`.
    pub fn first_use(&self, key: String, now: Instant, until: Instant) -> bool {
        let mut inner = self.lock();
        maybe_sweep(&mut inner, now);
        match inner.used_requests.get(&key) {
            Some(&t) if t > now => false,
            _ => {
                inner.used_requests.insert(key, until);
                true
            }
        }
    }

    /// Live and expired-but-unswept tokens held.
    pub fn len(&self) -> usize {
        self.lock().tokens.len()
    }

    /// True when no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sweeps expired tokens and remembered requests at most once a minute.
fn maybe_sweep(inner: &mut Inner, now: Instant) {
    let due = inner
        .last_sweep
        .is_none_or(|t| now.saturating_duration_since(t) > Duration::from_secs(60));
    if due {
        sweep(inner, now);
        inner.last_sweep = Some(now);
    }
}

fn sweep(inner: &mut Inner, now: Instant) {
    inner.tokens.retain(|_, g| g.expires > now);
    let Inner { tokens, by_account, .. } = inner;
    by_account.retain(|_, list| {
        list.retain(|t| tokens.contains_key(t));
        !list.is_empty()
    });
    inner.used_requests.retain(|_, until| *until > now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(name: &str, expires: Instant) -> TokenGrant {
        TokenGrant {
            normalized: name.into(),
            screen_name: name.into(),
            session_key: "k".into(),
            credentials_tag: [0; 32],
            expires,
        }
    }

    #[test]
    fn lookup_expiry_and_cap() {
        let store = TokenStore::new();
        let now = Instant::now();
        store.insert("t1".into(), grant("alice", now + Duration::from_secs(10)), now);
        assert_eq!(store.get("t1", now).unwrap().normalized, "alice");
        assert_eq!(store.get("t1", now + Duration::from_secs(10)), Err(TokenError::Expired));
        assert_eq!(store.get("nope", now), Err(TokenError::Unknown));
        for i in 0..MAX_TOKENS_PER_ACCOUNT {
            store.insert(format!("x{i}"), grant("alice", now + Duration::from_secs(10)), now);
        }
        assert_eq!(store.get("t1", now), Err(TokenError::Unknown));
        assert_eq!(store.len(), MAX_TOKENS_PER_ACCOUNT);
        assert_eq!(store.revoke_account("alice"), MAX_TOKENS_PER_ACCOUNT);
        assert!(store.is_empty());
    }

    #[test]
    fn replays_are_detected_until_forgotten() {
        let store = TokenStore::new();
        let now = Instant::now();
        let until = now + Duration::from_secs(5);
        assert!(store.first_use("q".into(), now, until));
        assert!(!store.first_use("q".into(), now, until));
        assert!(store.first_use("q".into(), until, until + Duration::from_secs(5)));
    }

    #[test]
    fn debug_hides_the_session_key() {
        let g = TokenGrant {
            session_key: "secret-key".into(),
            ..grant("a", Instant::now())
        };
        assert!(!format!("{g:?}").contains("secret-key"));
    }
}
