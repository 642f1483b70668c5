//! Login cookies: random, single use, short-lived, bound to an account, a TLS mode and a service.
//!
//! A login (BUCP, roasted, or OpenAuth's startOSCARSession) [`issue`](CookieJar::issue)s a
//! cookie; the client presents it on a new connection's channel-1 frame and the server
//! [`redeem`](CookieJar::redeem)s it. Redeeming removes the cookie whatever the outcome, so a
//! replayed or stolen cookie is refused.
//!
//! Cookies live in memory (losing them on restart only means logging in again). They are
//! 256 bytes long: Perl Net::OSCAR insists on that size (§7.7).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::random;

/// Length of every cookie this server issues.
pub const COOKIE_LEN: usize = 256;

/// Which service a cookie admits its bearer to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// The BOS connection (ICBM, LOCATE, BUDDY, FEEDBAG, …).
    Bos,
    /// A chat room connection, for the room with this cookie (e.g. `4-0-myroom`).
    ChatRoom {
        /// The room's exchange.
        exchange: u16,
        /// The room cookie bytes.
        cookie: Vec<u8>,
        /// The room instance.
        instance: u16,
    },
    /// Another service connection (CHAT_NAV, BART, …) by family id.
    Family(u16),
}

/// What a cookie grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The account's normalized screen name.
    pub normalized: String,
    /// The account's formatted screen name.
    pub screen_name: String,
    /// Whether the connection presenting the cookie must be TLS.
    pub tls: bool,
    /// The service the cookie is for.
    pub service: ServiceKind,
}

/// Why a cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    /// Unknown, already used, or never issued.
    #[error("unknown or already used cookie")]
    Unknown,
    /// Issued, but expired.
    #[error("expired cookie")]
    Expired,
    /// Issued for a TLS connection and presented over plain TCP, or the reverse.
    #[error("cookie presented over the wrong transport")]
    WrongTransport,
    /// The random source failed.
    #[error("random source failed")]
    Random,
}

struct Entry {
    grant: Grant,
    expires: Instant,
    /// The login's multi-connection flag (TLV 0x004A), if it sent one.
    multi_conn: Option<u8>,
}

/// The in-memory cookie store.
pub struct CookieJar {
    ttl: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    map: HashMap<Box<[u8]>, Entry>,
    last_sweep: Instant,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieJar")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CookieJar {
    /// A jar whose cookies live `ttl` (default 60 s).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// The cookie lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a fresh cookie for `grant`.
    pub fn issue(&self, grant: Grant, now: Instant) -> Result<Vec<u8>, CookieError> {
        self.issue_with_multi_conn(grant, None, now)
    }

    /// Issues a fresh cookie for `grant` from a login that sent the multi-connection flag
    /// `multi_conn` (TLV 0x004A), handed back by [`redeem_with_multi_conn`](Self::redeem_with_multi_conn).
    pub fn issue_with_multi_conn(
        &self,
        grant: Grant,
        multi_conn: Option<u8>,
        now: Instant,
    ) -> Result<Vec<u8>, CookieError> {
        let mut cookie = vec![0u8; COOKIE_LEN];
        random::fill(&mut cookie).map_err(|_| CookieError::Random)?;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if now.saturating_duration_since(inner.last_sweep) > self.ttl {
            inner.map.retain(|_, e| e.expires > now);
            inner.last_sweep = now;
        }
        inner.map.insert(
            cookie.clone().into_boxed_slice(),
            Entry {
                grant,
                expires: now + self.ttl,
                multi_conn,
            },
        );
        Ok(cookie)
    }

    /// Redeems `cookie` presented over a connection that is (`tls`) or is not TLS. The cookie
    /// is consumed whether or not it is accepted.
    pub fn redeem(&self, cookie: &[u8], tls: bool, now: Instant) -> Result<Grant, CookieError> {
        self.redeem_with_multi_conn(cookie, tls, now).map(|(grant, _)| grant)
    }

    /// As [`redeem`](Self::redeem), also returning the multi-connection flag the login sent.
    pub fn redeem_with_multi_conn(
        &self,
        cookie: &[u8],
        tls: bool,
        now: Instant,
    ) -> Result<(Grant, Option<u8>), CookieError> {
        let entry = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .remove(cookie)
            .ok_or(CookieError::Unknown)?;
        if entry.expires <= now {
            return Err(CookieError::Expired);
        }
        if entry.grant.tls != tls {
            return Err(CookieError::WrongTransport);
        }
        Ok((entry.grant, entry.multi_conn))
    }

    /// Number of cookies held (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).map.len()
    }

    /// True when no cookie is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(tls: bool) -> Grant {
        Grant {
            normalized: "alice".into(),
            screen_name: "Alice".into(),
            tls,
            service: ServiceKind::Bos,
        }
    }

    #[test]
    fn single_use() {
        let jar = CookieJar::new(Duration::from_secs(60));
        let now = Instant::now();
        let c = jar.issue(grant(false), now).unwrap();
        assert_eq!(c.len(), COOKIE_LEN);
        assert_eq!(jar.redeem(&c, false, now).unwrap(), grant(false));
        assert_eq!(jar.redeem(&c, false, now), Err(CookieError::Unknown));
        assert_eq!(jar.redeem(b"nonsense", false, now), Err(CookieError::Unknown));
    }

    #[test]
    fn expiry_and_transport() {
        let jar = CookieJar::new(Duration::from_secs(60));
        let now = Instant::now();
        let c = jar.issue(grant(false), now).unwrap();
        assert_eq!(
            jar.redeem(&c, false, now + Duration::from_secs(61)),
            Err(CookieError::Expired)
        );
        let c = jar.issue(grant(true), now).unwrap();
        assert_eq!(jar.redeem(&c, false, now), Err(CookieError::WrongTransport));
        // Refused cookies are consumed too.
        assert_eq!(jar.redeem(&c, true, now), Err(CookieError::Unknown));
    }

    #[test]
    fn carries_the_login_multi_conn_flag() {
        let jar = CookieJar::new(Duration::from_secs(60));
        let now = Instant::now();
        let c = jar.issue_with_multi_conn(grant(false), Some(3), now).unwrap();
        assert_eq!(
            jar.redeem_with_multi_conn(&c, false, now).unwrap(),
            (grant(false), Some(3))
        );
        let c = jar.issue(grant(false), now).unwrap();
        assert_eq!(
            jar.redeem_with_multi_conn(&c, false, now).unwrap(),
            (grant(false), None)
        );
    }

    #[test]
    fn sweeps_expired_cookies() {
        let jar = CookieJar::new(Duration::from_secs(1));
        let now = Instant::now();
        for _ in 0..10 {
            jar.issue(grant(false), now).unwrap();
        }
        jar.issue(grant(false), now + Duration::from_secs(5)).unwrap();
        assert_eq!(jar.len(), 1);
    }
}
