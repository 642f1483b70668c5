//! Abuse limits at the edge: failed logins per account and per source address, and open
//! connections per source address.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Settings for [`LoginLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures allowed per account within `window` before its logins are refused (0x0018).
    pub per_account: u32,
    /// Failures allowed per source address within `window` before it is refused (0x001D).
    pub per_address: u32,
    /// The sliding window (a counter is reset when its first failure is older than this).
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(600),
        }
    }
}

/// Why a login was refused before its password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginBlock {
    /// The account had too many recent failures (login error 0x0018).
    Account,
    /// The address had too many recent failures (login error 0x001D).
    Address,
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    since: Instant,
    failures: u32,
}

#[derive(Debug)]
struct Window<K> {
    map: HashMap<K, Counter>,
    last_sweep: Instant,
}

impl<K: Hash + Eq> Window<K> {
    fn new(now: Instant) -> Self {
        Self {
            map: HashMap::new(),
            last_sweep: now,
        }
    }

    fn failures(&self, key: &K, now: Instant, window: Duration) -> u32 {
        match self.map.get(key) {
            Some(c) if now.saturating_duration_since(c.since) < window => c.failures,
            _ => 0,
        }
    }

    fn record(&mut self, key: K, now: Instant, window: Duration) {
        if now.saturating_duration_since(self.last_sweep) > window {
            self.map.retain(|_, c| now.saturating_duration_since(c.since) < window);
            self.last_sweep = now;
        }
        let c = self.map.entry(key).or_insert(Counter {
            since: now,
            failures: 0,
        });
        if now.saturating_duration_since(c.since) >= window {
            *c = Counter {
                since: now,
                failures: 0,
            };
        }
        c.failures = c.failures.saturating_add(1);
    }
}

/// Counts failed logins per account and per address.
#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    accounts: Mutex<Window<String>>,
    addresses: Mutex<Window<IpAddr>>,
}

impl LoginLimiter {
    /// A limiter with `limits`.
    pub fn new(limits: LoginLimits) -> Self {
        let now = Instant::now();
        Self {
            limits,
            accounts: Mutex::new(Window::new(now)),
            addresses: Mutex::new(Window::new(now)),
        }
    }

    /// Whether a login for `account` from `addr` may be attempted now.
    pub fn check(&self, account: &str, addr: IpAddr, now: Instant) -> Result<(), LoginBlock> {
        let w = self.limits.window;
        if lock(&self.addresses).failures(&addr, now, w) >= self.limits.per_address {
            return Err(LoginBlock::Address);
        }
        if lock(&self.accounts).failures(&account.to_owned(), now, w) >= self.limits.per_account {
            return Err(LoginBlock::Account);
        }
        Ok(())
    }

    /// Records a failed login.
    pub fn record_failure(&self, account: &str, addr: IpAddr, now: Instant) {
        let w = self.limits.window;
        lock(&self.accounts).record(account.to_owned(), now, w);
        lock(&self.addresses).record(addr, now, w);
    }

    /// Forgets the account's failures after a successful login.
    pub fn record_success(&self, account: &str) {
        lock(&self.accounts).map.remove(account);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Caps open connections per source address. [`ConnectionLimiter::acquire`] returns a guard
/// that gives the slot back when dropped.
#[derive(Debug)]
pub struct ConnectionLimiter {
    max_per_address: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection's slot; dropping it releases the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    limiter: Arc<ConnectionLimiter>,
    addr: IpAddr,
}

impl ConnectionLimiter {
    /// A limiter allowing `max_per_address` concurrent connections from one address.
    pub fn new(max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            max_per_address,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a slot for `addr`, or `None` when the address is at its cap.
    pub fn acquire(self: &Arc<Self>, addr: IpAddr) -> Option<ConnectionSlot> {
        let mut open = lock(&self.open);
        let n = open.entry(addr).or_insert(0);
        if *n >= self.max_per_address {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            limiter: Arc::clone(self),
            addr,
        })
    }

    /// Connections open from `addr`.
    pub fn open_from(&self, addr: IpAddr) -> usize {
        lock(&self.open).get(&addr).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.limiter.open);
        if let Some(n) = open.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_limits() {
        let l = LoginLimiter::new(LoginLimits {
            per_account: 2,
            per_address: 3,
            window: Duration::from_secs(60),
        });
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let now = Instant::now();
        assert_eq!(l.check("bob", a, now), Ok(()));
        l.record_failure("bob", a, now);
        l.record_failure("bob", a, now);
        assert_eq!(l.check("bob", a, now), Err(LoginBlock::Account));
        assert_eq!(l.check("carol", a, now), Ok(()));
        l.record_failure("carol", a, now);
        assert_eq!(l.check("carol", a, now), Err(LoginBlock::Address));
        let later = now + Duration::from_secs(61);
        assert_eq!(l.check("bob", a, later), Ok(()));
        l.record_success("bob");
    }

    #[test]
    fn connection_slots() {
        let l = ConnectionLimiter::new(2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let s1 = l.acquire(a).unwrap();
        let _s2 = l.acquire(a).unwrap();
        assert!(l.acquire(a).is_none());
        drop(s1);
        assert_eq!(l.open_from(a), 1);
        assert!(l.acquire(a).is_some());
    }
}
