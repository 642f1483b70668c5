//! Warnings ("evil", §8.4.7, §8.1 0x0010): the level arithmetic, its decay, and who may warn
//! whom.
//!
//! * **Levels** are tenths of a percent, `0..=`[`MAX_LEVEL`] (100.0 %). A normal warning adds
//!   [`NORMAL_DELTA`] (10.0 %), an anonymous one [`ANONYMOUS_DELTA`] (3.0 %: the victim is not
//!   told who warned, so it counts for less); the sum is capped at 100.0 %.
//! * **Decay** ([`WarningDecay`]): the level drops by 1.0 % per configured interval (default
//!   [`DEFAULT_DECAY_PER_PERCENT`]), continuously in tenths. It is a pure function of the level,
//!   the time it was set and now, applied whenever the level is read (user-info blocks, the next
//!   warning, sign-on), so no timer runs and nothing is written as it fades. The store keeps the
//!   pair (level, time set), which changes only when someone warns.
//! * **Who may warn** (what the ICBM service enforces): AOL's rule that you may warn only
//!   someone who sent you an IM. Each channel-1 IM *delivered online* from X to Y gives Y one
//!   warn credit against X, valid for [`CREDIT_WINDOW`]; a warning spends one; at most
//!   [`MAX_CREDITS`] are kept per pair, so a user can warn a pest at most three times per hour
//!   of its messages. Besides: nobody warns themselves (error 0x08), the victim must be signed
//!   on and reachable through permit/deny both ways (else "not logged on", as for IMs), bots
//!   cannot be warned, and a victim at 100 % cannot be warned further (both "request denied",
//!   like an unearned warning). Offline messages delivered at sign-on earn no credit.
//!
//! The credits live in memory ([`WarnTracker`]), sharded like the registry so the IM path takes
//! one short shard lock; losing them on restart only means waiting for the next IM.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The highest warning level: 100.0 %.
pub const MAX_LEVEL: u16 = 1000;
/// What a normal warning adds: 10.0 %.
pub const NORMAL_DELTA: u16 = 100;
/// What an anonymous warning adds: 3.0 %.
pub const ANONYMOUS_DELTA: u16 = 30;
/// How long it takes, by default, for a warning level to drop by 1.0 % (so a normal 10 %
/// warning fades in ten minutes, a full 100 % in 100 minutes).
pub const DEFAULT_DECAY_PER_PERCENT: Duration = Duration::from_secs(60);
/// How long a warn credit (earned by receiving an IM) stays usable.
pub const CREDIT_WINDOW: Duration = Duration::from_secs(3600);
/// Most unspent warn credits one user holds against another.
pub const MAX_CREDITS: usize = 3;

const SHARDS: usize = 16;

/// How warning levels fade: 1.0 % (10 tenths) per interval, or never (the `Default`, as for
/// a session whose server set nothing; the server's configured default is
/// [`WarningDecay::standard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WarningDecay {
    /// Seconds per 1.0 %; 0 means no decay.
    secs_per_percent: u32,
}

impl WarningDecay {
    /// Levels never fade.
    pub const NONE: Self = Self { secs_per_percent: 0 };

    /// The server's default: 1.0 % per [`DEFAULT_DECAY_PER_PERCENT`].
    pub fn standard() -> Self {
        Self::per_percent(DEFAULT_DECAY_PER_PERCENT)
    }

    /// The level drops by 1.0 % every `interval` (whole seconds, at least one; a zero
    /// interval means no decay).
    pub fn per_percent(interval: Duration) -> Self {
        if interval.is_zero() {
            return Self::NONE;
        }
        Self {
            secs_per_percent: interval.as_secs().clamp(1, u64::from(u32::MAX)) as u32,
        }
    }

    /// The interval per 1.0 %, or `None` when levels never fade.
    pub fn interval(self) -> Option<Duration> {
        (self.secs_per_percent > 0).then(|| Duration::from_secs(u64::from(self.secs_per_percent)))
    }

    /// The level at `now` of a level `level` set at `since` (both Unix seconds): `level` minus
    /// one tenth per tenth of the interval elapsed, never below 0, never above
    /// [`MAX_LEVEL`]. A `since` in the future (clock stepped back) counts as no time elapsed.
    pub fn apply(self, level: u16, since: u32, now: u32) -> u16 {
        let level = level.min(MAX_LEVEL);
        if self.secs_per_percent == 0 {
            return level;
        }
        let elapsed = u64::from(now.saturating_sub(since));
        let dropped = elapsed * 10 / u64::from(self.secs_per_percent);
        u64::from(level).saturating_sub(dropped) as u16
    }
}

/// Adds `delta` to the level `current`, capped at [`MAX_LEVEL`]: returns (the delta actually
/// applied, the new level). An applied delta of 0 means the victim is already at 100 %.
pub fn raise(current: u16, delta: u16) -> (u16, u16) {
    let current = current.min(MAX_LEVEL);
    let new = current.saturating_add(delta).min(MAX_LEVEL);
    (new - current, new)
}

/// The delta a warning in this mode adds.
pub fn delta_for(anonymous: bool) -> u16 {
    if anonymous { ANONYMOUS_DELTA } else { NORMAL_DELTA }
}

/// The maps' hasher (as the registry's: foldhash, randomly seeded).
type Hasher = foldhash::fast::RandomState;
/// Warner → victim → times the warner received an IM from the victim, oldest first. Nested
/// so that the message path looks a pair up by `&str`, allocating only for a new pair.
type CreditShard = Mutex<HashMap<String, HashMap<String, VecDeque<Instant>, Hasher>, Hasher>>;

/// Warn credits (who received IMs from whom, recently) and the lock that serializes warnings.
#[derive(Debug)]
pub struct WarnTracker {
    hasher: Hasher,
    shards: Box<[CreditShard]>,
    /// When the tracker was made; sweeps are timed in whole seconds since.
    epoch: Instant,
    /// The last sweep, seconds since `epoch`.
    last_sweep: AtomicU64,
    serial: tokio::sync::Mutex<()>,
}

impl Default for WarnTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl WarnTracker {
    /// No credits.
    pub fn new() -> Self {
        Self {
            hasher: Hasher::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect(),
            epoch: Instant::now(),
            last_sweep: AtomicU64::new(0),
            serial: tokio::sync::Mutex::new(()),
        }
    }

    fn shard(&self, warner: &str) -> &CreditShard {
        &self.shards[(self.hasher.hash_one(warner) as usize) % SHARDS]
    }

    /// `sender` (normalized) delivered an IM to `recipient` (normalized) at `now`: the
    /// recipient may warn the sender once more (up to [`MAX_CREDITS`] held).
    pub fn record_im(&self, sender: &str, recipient: &str, now: Instant) {
        if sender == recipient {
            return;
        }
        {
            let mut shard = self.shard(recipient).lock().unwrap_or_else(|p| p.into_inner());
            // Looked up by `&str`: the names are copied only for a new pair.
            match shard.get_mut(recipient).and_then(|senders| senders.get_mut(sender)) {
                Some(credits) => earn(credits, now),
                None => {
                    let mut credits = VecDeque::with_capacity(MAX_CREDITS);
                    credits.push_back(now);
                    shard
                        .entry(recipient.to_owned())
                        .or_default()
                        .insert(sender.to_owned(), credits);
                }
            }
        }
        self.maybe_sweep(now);
    }

    /// Whether `warner` holds an unexpired credit against `victim` at `now`.
    pub fn has_credit(&self, warner: &str, victim: &str, now: Instant) -> bool {
        let mut shard = self.shard(warner).lock().unwrap_or_else(|p| p.into_inner());
        match shard.get_mut(warner).and_then(|v| v.get_mut(victim)) {
            Some(credits) => {
                expire(credits, now);
                !credits.is_empty()
            }
            None => false,
        }
    }

    /// Spends the oldest unexpired credit of `warner` against `victim`; false if none.
    pub fn spend(&self, warner: &str, victim: &str, now: Instant) -> bool {
        let mut shard = self.shard(warner).lock().unwrap_or_else(|p| p.into_inner());
        let Some(victims) = shard.get_mut(warner) else {
            return false;
        };
        let Some(credits) = victims.get_mut(victim) else {
            return false;
        };
        expire(credits, now);
        let spent = credits.pop_front().is_some();
        if credits.is_empty() {
            victims.remove(victim);
            if victims.is_empty() {
                shard.remove(warner);
            }
        }
        spent
    }

    /// Held while one warning is checked, committed and announced, so that two warnings of
    /// the same victim cannot both read the old level (warnings are rare; one lock is enough).
    pub async fn serialize(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.serial.lock().await
    }

    /// Number of (warner, victim) pairs holding credits.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .map(HashMap::len)
                    .sum::<usize>()
            })
            .sum()
    }

    /// True when nobody holds a credit.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops expired credits everywhere, at most once per window, so that the map only holds
    /// pairs that exchanged IMs within the last [`CREDIT_WINDOW`].
    fn maybe_sweep(&self, now: Instant) {
        // Checked on every IM: an atomic read, the lock only once per window.
        let elapsed = now.saturating_duration_since(self.epoch).as_secs();
        let last = self.last_sweep.load(Ordering::Relaxed);
        if elapsed.saturating_sub(last) < CREDIT_WINDOW.as_secs()
            || self
                .last_sweep
                .compare_exchange(last, elapsed, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        for shard in self.shards.iter() {
            shard.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, victims| {
                victims.retain(|_, credits| {
                    expire(credits, now);
                    !credits.is_empty()
                });
                !victims.is_empty()
            });
        }
    }
}

/// One more credit, the oldest dropped past [`MAX_CREDITS`].
fn earn(credits: &mut VecDeque<Instant>, now: Instant) {
    expire(credits, now);
    if credits.len() >= MAX_CREDITS {
        credits.pop_front();
    }
    credits.push_back(now);
}

fn expire(credits: &mut VecDeque<Instant>, now: Instant) {
    while credits
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= CREDIT_WINDOW)
    {
        credits.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_is_one_percent_per_interval_in_tenths() {
        let d = WarningDecay::per_percent(Duration::from_secs(60));
        // 10 tenths per 60 s = one tenth every 6 s.
        assert_eq!(d.apply(100, 1_000, 1_000), 100);
        assert_eq!(d.apply(100, 1_000, 1_005), 100);
        assert_eq!(d.apply(100, 1_000, 1_006), 99);
        assert_eq!(d.apply(100, 1_000, 1_060), 90);
        assert_eq!(d.apply(100, 1_000, 1_000 + 599), 1);
        assert_eq!(d.apply(100, 1_000, 1_000 + 600), 0);
        assert_eq!(d.apply(100, 1_000, u32::MAX), 0);
        // A full 100 % takes 100 intervals.
        assert_eq!(d.apply(1000, 0, 99 * 60), 10);
        assert_eq!(d.apply(1000, 0, 100 * 60), 0);
        // A clock stepped back counts as no time elapsed; out-of-range levels are capped.
        assert_eq!(d.apply(100, 2_000, 1_000), 100);
        assert_eq!(d.apply(5000, 0, 0), MAX_LEVEL);
        // Slower decay.
        let slow = WarningDecay::per_percent(Duration::from_secs(3600));
        assert_eq!(slow.apply(500, 0, 3600), 490);
        assert_eq!(slow.apply(500, 0, 359), 500);
        assert_eq!(slow.apply(500, 0, 360), 499);
    }

    #[test]
    fn no_decay() {
        assert_eq!(WarningDecay::NONE.apply(730, 0, u32::MAX), 730);
        assert_eq!(WarningDecay::per_percent(Duration::ZERO), WarningDecay::NONE);
        assert_eq!(WarningDecay::NONE.interval(), None);
        // Sub-second intervals round up to one second.
        assert_eq!(
            WarningDecay::per_percent(Duration::from_millis(10)).interval(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(WarningDecay::default(), WarningDecay::NONE);
        assert_eq!(WarningDecay::standard().interval(), Some(DEFAULT_DECAY_PER_PERCENT));
    }

    #[test]
    fn raise_caps_at_one_hundred_percent() {
        assert_eq!(raise(0, NORMAL_DELTA), (100, 100));
        assert_eq!(raise(950, NORMAL_DELTA), (50, 1000));
        assert_eq!(raise(1000, ANONYMOUS_DELTA), (0, 1000));
        assert_eq!(raise(990, ANONYMOUS_DELTA), (10, 1000));
        assert_eq!(raise(u16::MAX, 1), (0, 1000));
        assert_eq!(delta_for(true), 30);
        assert_eq!(delta_for(false), 100);
    }

    #[test]
    fn decay_then_raise_round_trip() {
        // Warned to 20 % at t=0, 5 minutes pass (−5 %), warned again: 25 %.
        let d = WarningDecay::per_percent(Duration::from_secs(60));
        let now = 300;
        let current = d.apply(200, 0, now);
        assert_eq!(current, 150);
        assert_eq!(raise(current, NORMAL_DELTA), (100, 250));
    }

    #[test]
    fn credits_are_earned_by_ims_spent_by_warnings_and_expire() {
        let t = WarnTracker::new();
        let t0 = Instant::now();
        assert!(!t.has_credit("alice", "bob", t0));
        assert!(!t.spend("alice", "bob", t0));
        // Bob IMs Alice: Alice may warn Bob, not the reverse.
        t.record_im("bob", "alice", t0);
        assert!(t.has_credit("alice", "bob", t0));
        assert!(!t.has_credit("bob", "alice", t0));
        assert!(t.spend("alice", "bob", t0));
        assert!(!t.spend("alice", "bob", t0), "one warning per IM");
        assert!(t.is_empty());
        // At most MAX_CREDITS are held.
        for i in 0..10 {
            t.record_im("bob", "alice", t0 + Duration::from_secs(i));
        }
        let mut n = 0;
        while t.spend("alice", "bob", t0 + Duration::from_secs(10)) {
            n += 1;
        }
        assert_eq!(n, MAX_CREDITS);
        // Credits expire after the window.
        t.record_im("bob", "alice", t0);
        assert!(!t.has_credit("alice", "bob", t0 + CREDIT_WINDOW));
        // Talking to yourself earns nothing.
        t.record_im("alice", "alice", t0);
        assert!(!t.has_credit("alice", "alice", t0));
    }

    #[test]
    fn sweep_drops_stale_pairs() {
        let t = WarnTracker::new();
        let t0 = Instant::now();
        for i in 0..50 {
            t.record_im(&format!("u{i}"), "alice", t0);
        }
        assert_eq!(t.len(), 50);
        // An IM after the window sweeps the stale pairs.
        t.record_im("late", "alice", t0 + CREDIT_WINDOW + Duration::from_secs(1));
        assert_eq!(t.len(), 1);
    }
}
