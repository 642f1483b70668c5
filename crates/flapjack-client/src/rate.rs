//! Client-side rate limiting (§7.3): keep every rate class's moving average exactly as the
//! server computes it, and hold outgoing SNACs back until sending them keeps the level at or
//! above the class's alert level (plus a safety margin).
//!
//! The arithmetic is the wire crate's [`RateState`] — the same code the server runs — fed with
//! the times the client *sends*, in microseconds (every level × 1000, as flapjack's server
//! counts): in whole milliseconds the integer moving average would drift down at levels of a
//! few milliseconds and waste most of a relaxed class's burst. The server sees *arrival* times, later by the network and
//! scheduling delay. If every delay lies within `[0, J]` milliseconds, the server's level differs
//! from the client's by at most `J / window` (a delayed SNAC shortens the next interval by its
//! delay, and the moving average divides that by the window). The limiter therefore keeps the
//! level at or above `alert + ⌈2·J / window⌉`, where `J` is the class's jitter tolerance.
//!
//! # A margin proportionate to the class
//!
//! `J` is the configured tolerance (1 s by default), capped at `alert · window / 2`: half the
//! time a window's worth of SNACs takes at the alert level. The margin is then never more than
//! the alert level itself, so the limiter never holds a class below half the rate the server
//! allows before warning. AOL's classes (alert levels of seconds, windows of 10–80) are far from
//! the cap and keep the whole second: class 3 (IMs) gets a floor of 5100 ms. So do relaxed
//! classes with long windows, such as the ones flapjack's server gives bot accounts, where a
//! second is a fraction of a millisecond of level. Relaxed classes with short windows are
//! paced to their scale instead of to a second of jitter: with window 64 and alert 3 ms the
//! tolerance is 96 ms and the floor 6 ms rather than 35 ms, a thousand IMs take about
//! 3.4 seconds rather than 24, and delays must vary by less than about 0.2 s for the server
//! never to warn — which loopback and LAN paths meet easily. A client on a slower path turns
//! the cap off ([`JitterTolerance::fixed`]; `rate_jitter_proportional: false` in the session
//! and client configurations) and is paced for the whole tolerance in every class.
//!
//! Queues are per class and first-in first-out: SNACs of one class never overtake each other;
//! a SNAC of another class may overtake a held-back one (a typing notification is not stuck
//! behind a queue of instant messages).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use flapjack_wire::family::oservice::{RateChange, RateChangeCode, RateClass, RateParamsReply, RateState};

/// How much network and scheduling delay the limiter allows for; see the
/// [module documentation](self). A [`Duration`] converts to a proportional tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterTolerance {
    /// The largest variation of the delay between sending a SNAC and the server counting it.
    pub jitter: Duration,
    /// Cap the tolerance of each class at `alert · window / 2`, keeping the margin
    /// proportionate to the class.
    pub proportional: bool,
}

impl JitterTolerance {
    /// `jitter`, capped per class.
    pub const fn proportional(jitter: Duration) -> Self {
        Self {
            jitter,
            proportional: true,
        }
    }

    /// `jitter` in every class, however small its levels.
    pub const fn fixed(jitter: Duration) -> Self {
        Self {
            jitter,
            proportional: false,
        }
    }

    /// The tolerance applied to `class`.
    pub fn for_class(&self, class: &RateClass) -> Duration {
        Duration::from_millis(self.class_ms(class))
    }

    fn class_ms(&self, class: &RateClass) -> u64 {
        let jitter_ms = u64::try_from(self.jitter.as_millis()).unwrap_or(u64::MAX);
        if !self.proportional {
            return jitter_ms;
        }
        let window = u64::from(class.window.max(1));
        jitter_ms.min(u64::from(class.alert).saturating_mul(window) / 2)
    }

    /// `⌈2·J / window⌉` with `J` the tolerance for `class`, at least 1.
    fn margin(&self, class: &RateClass) -> u32 {
        let window = u64::from(class.window.max(1));
        let m = self.class_ms(class).saturating_mul(2).div_ceil(window).max(1);
        u32::try_from(m).unwrap_or(u32::MAX)
    }
}

impl From<Duration> for JitterTolerance {
    fn from(jitter: Duration) -> Self {
        Self::proportional(jitter)
    }
}

/// A SNAC waiting for its rate class, already encoded (SNAC header and body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedSnac {
    /// Family, for bookkeeping.
    pub family: u16,
    /// Subtype.
    pub subtype: u16,
    /// The encoded SNAC (channel-2 payload).
    pub payload: Vec<u8>,
}

/// Levels and times are tracked in microseconds (every level × 1000, as flapjack's server
/// does), so that the integer moving average does not drift down at levels of a few
/// milliseconds; the wire and the public accessors use milliseconds.
const SCALE: u32 = 1000;

/// A class record in milliseconds (as on the wire) scaled to microseconds.
fn to_micros(c: &RateClass) -> RateClass {
    RateClass {
        clear: c.clear.saturating_mul(SCALE),
        alert: c.alert.saturating_mul(SCALE),
        limit: c.limit.saturating_mul(SCALE),
        disconnect: c.disconnect.saturating_mul(SCALE),
        current: c.current.saturating_mul(SCALE),
        max: c.max.saturating_mul(SCALE),
        extra: c.extra.map(|mut e| {
            e.last_time = e.last_time.saturating_mul(SCALE);
            e
        }),
        ..*c
    }
}

#[derive(Debug, Clone)]
struct ClassQueue {
    /// The class as the server described it (milliseconds).
    class: RateClass,
    /// The moving average in microseconds.
    state: RateState,
    queue: VecDeque<QueuedSnac>,
    /// Milliseconds above the alert level.
    margin: u32,
}

impl ClassQueue {
    fn new(class: RateClass, state: RateState, margin: u32) -> Self {
        Self {
            class,
            state,
            queue: VecDeque::new(),
            margin,
        }
    }

    /// The lowest level a send may produce, in microseconds.
    fn floor_us(&self) -> u32 {
        let c = self.state.class();
        let base = if self.state.is_limited() {
            c.clear.max(c.alert)
        } else {
            c.alert
        };
        // Never ask for more than the class can reach, or nothing would ever be sent.
        base.saturating_add(self.margin.saturating_mul(SCALE))
            .min(c.max.saturating_sub(1))
    }

    /// Microseconds from `now_us` until a send keeps the level at or above the floor.
    fn wait_us(&self, now_us: u64) -> u64 {
        let floor = self.floor_us();
        if floor == 0 {
            return 0;
        }
        self.state.ms_until_above(now_us, floor - 1).unwrap_or(0)
    }
}

/// The rate classes of one connection and the SNACs held back for them.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    epoch: Instant,
    classes: Vec<ClassQueue>,
    members: HashMap<(u16, u16), usize>,
    fallback: Option<usize>,
    queued: usize,
}

impl RateLimiter {
    /// Tracks the classes of a 0x0001/0x0007 reply as if counting had started at `start` (when
    /// the connection opened, which is when the server starts counting), keeping levels at least
    /// `alert + ⌈2·J / window⌉` with `J` the tolerance for the class (by default
    /// `min(jitter, alert · window / 2)`; see the [module documentation](self)). `epoch` is the
    /// zero of the millisecond clock.
    pub fn new(
        reply: &RateParamsReply<'_>,
        epoch: Instant,
        start: Instant,
        tolerance: impl Into<JitterTolerance>,
    ) -> Self {
        let start_us = us_since(epoch, start);
        let tolerance = tolerance.into();
        let classes: Vec<ClassQueue> = reply
            .classes()
            .iter()
            .map(|c| {
                let mut started = c;
                // The server starts counting when the connection opens; start there, with the
                // record's level and limited flag.
                if let Some(extra) = &mut started.extra {
                    extra.last_time = 0;
                }
                let state = RateState::new(to_micros(&started), start_us);
                ClassQueue::new(c, state, tolerance.margin(&c))
            })
            .collect();
        let mut members = HashMap::new();
        for group in reply.groups().iter() {
            if let Some(idx) = classes.iter().position(|c| c.class.id == group.class_id) {
                for s in group.snacs.iter() {
                    members.entry((s.family, s.subtype)).or_insert(idx);
                }
            }
        }
        // SNACs no group lists: a server counts them somewhere; assume class 1 (AOL's "everything
        // else"), else the first class.
        let fallback = classes
            .iter()
            .position(|c| c.class.id == 1)
            .or(if classes.is_empty() { None } else { Some(0) });
        Self {
            epoch,
            classes,
            members,
            fallback,
            queued: 0,
        }
    }

    fn index_of(&self, family: u16, subtype: u16) -> Option<usize> {
        self.members.get(&(family, subtype)).copied().or(self.fallback)
    }

    /// The class id a SNAC is counted in.
    pub fn class_of(&self, family: u16, subtype: u16) -> Option<u16> {
        self.index_of(family, subtype).map(|i| self.classes[i].class.id)
    }

    /// Accounts for a SNAC that was sent at `at` without the limiter (before the classes were
    /// known).
    pub fn record_sent(&mut self, family: u16, subtype: u16, at: Instant) {
        let at_us = us_since(self.epoch, at);
        if let Some(i) = self.index_of(family, subtype) {
            self.classes[i].state.update(at_us);
        }
    }

    /// Queues a SNAC; [`release`](Self::release) sends it when its class allows.
    pub fn enqueue(&mut self, snac: QueuedSnac) {
        match self.index_of(snac.family, snac.subtype) {
            Some(i) => {
                self.classes[i].queue.push_back(snac);
                self.queued += 1;
            }
            // No classes at all: the server limits nothing. Keep it in a queue of its own so the
            // caller's single release path still sees it.
            None => {
                let unlimited = RateClass::new(0, 1, 0, 0, 0, 0, u32::MAX);
                let mut class = ClassQueue::new(unlimited, RateState::new(unlimited, 0), 0);
                class.queue.push_back(snac);
                self.classes.push(class);
                self.fallback = Some(self.classes.len() - 1);
                self.queued += 1;
            }
        }
    }

    /// Takes every queued SNAC that may be sent at `now`, in each class's order, and accounts
    /// for it as sent at `now`.
    pub fn release(&mut self, now: Instant, mut send: impl FnMut(QueuedSnac)) {
        let now_us = us_since(self.epoch, now);
        for class in &mut self.classes {
            while !class.queue.is_empty() && class.wait_us(now_us) == 0 {
                let snac = class.queue.pop_front().expect("non-empty");
                class.state.update(now_us);
                self.queued -= 1;
                send(snac);
            }
        }
    }

    /// When the next held-back SNAC may go, if any is held back.
    pub fn next_release(&self, now: Instant) -> Option<Instant> {
        let now_us = us_since(self.epoch, now);
        self.classes
            .iter()
            .filter(|c| !c.queue.is_empty())
            .map(|c| now_us.saturating_add(c.wait_us(now_us)))
            .min()
            .map(|us| self.epoch + Duration::from_micros(us))
    }

    /// Adopts the server's view of a class from 0x0001/0x000A.
    pub fn on_change(&mut self, change: &RateChange, now: Instant, tolerance: impl Into<JitterTolerance>) {
        let now_us = us_since(self.epoch, now);
        let tolerance = tolerance.into();
        if let Some(c) = self.classes.iter_mut().find(|c| c.class.id == change.class.id) {
            c.class = change.class;
            c.state.set_class(to_micros(&change.class), now_us);
            c.margin = tolerance.margin(&change.class);
            // A basic record carries no limited flag: take it from the code.
            if change.class.extra.is_none() && change.code == RateChangeCode::Limit && !c.state.is_limited() {
                let mut limited = change.class;
                limited.extra = Some(flapjack_wire::family::oservice::RateClassExtra {
                    last_time: 0,
                    dropping_snacs: 1,
                });
                c.state = RateState::new(to_micros(&limited), now_us);
            }
        }
    }

    /// SNACs held back.
    pub fn queued(&self) -> usize {
        self.queued
    }

    fn find(&self, class_id: u16) -> Option<&ClassQueue> {
        self.classes.iter().find(|c| c.class.id == class_id)
    }

    /// A class's level after the last SNAC sent in it, in milliseconds (rounded down).
    pub fn level(&self, class_id: u16) -> Option<u32> {
        self.find(class_id).map(|c| c.state.current() / SCALE)
    }

    /// The lowest level the limiter lets a class reach, in milliseconds (rounded down).
    pub fn floor(&self, class_id: u16) -> Option<u32> {
        self.find(class_id).map(|c| c.floor_us() / SCALE)
    }

    /// The class parameters being tracked, as the server last described them.
    pub fn classes(&self) -> impl Iterator<Item = &RateClass> {
        self.classes.iter().map(|c| &c.class).filter(|c| c.id != 0)
    }

    /// Drops every queued SNAC.
    pub fn clear(&mut self) {
        for c in &mut self.classes {
            c.queue.clear();
        }
        self.queued = 0;
    }
}

fn us_since(epoch: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch).as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flapjack_wire::family::oservice::{RateClassExtra, RateLayout, RateStatus, SnacType};

    fn aol_reply() -> RateParamsReply<'static> {
        let snacs = [
            SnacType::new(0x0004, 0x0006),
            SnacType::new(0x0004, 0x0014),
            SnacType::new(0x0002, 0x0005),
            SnacType::new(0x0001, 0x0002),
            SnacType::new(0x000E, 0x0005),
        ];
        RateParamsReply::aol_default(RateLayout::Extended, &snacs).unwrap()
    }

    fn im(i: u32) -> QueuedSnac {
        QueuedSnac {
            family: 4,
            subtype: 6,
            payload: i.to_be_bytes().to_vec(),
        }
    }

    /// A deterministic pseudo-random sequence for the simulated network delay.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, bound: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % bound.max(1)
        }
    }

    /// Runs `n` IMs queued at once through the limiter; a simulated server tracks the class on
    /// arrival times (send time plus a delay within `delay_ms`, in order as TCP keeps it) and
    /// classifies every SNAC. Returns the worst status, the lowest server level and the
    /// virtual time taken.
    fn simulate(n: u32, jitter: Duration, delay_ms: u64, seed: u64) -> (Vec<RateStatus>, u32, Duration) {
        simulate_classes(&aol_reply(), 1, n, jitter, delay_ms, seed)
    }

    /// Relaxed classes with a short window, where a second of jitter would dwarf the alert
    /// level: AOL's membership, window 64, clear 4, alert 3, limit 2, disconnect 1, max 6000 ms.
    fn relaxed_reply() -> RateParamsReply<'static> {
        let classes: Vec<RateClass> = (1..=5).map(|id| RateClass::new(id, 64, 4, 3, 2, 1, 6000)).collect();
        let ims = [SnacType::new(0x0004, 0x0006)];
        let typing = [SnacType::new(0x0004, 0x0014)];
        let entries: Vec<(RateClass, &[SnacType])> = classes
            .iter()
            .map(|c| {
                let m: &[SnacType] = match c.id {
                    3 => &ims,
                    1 => &typing,
                    _ => &[],
                };
                (*c, m)
            })
            .collect();
        RateParamsReply::new(RateLayout::Extended, &entries).unwrap()
    }

    /// [`simulate`] for any classes (IMs in class 3), with a server that counts in units of
    /// `1/scale` ms (flapjack's server uses microseconds so that small levels do not drift).
    fn simulate_classes(
        reply: &RateParamsReply<'_>,
        scale: u32,
        n: u32,
        jitter: impl Into<JitterTolerance>,
        delay_ms: u64,
        seed: u64,
    ) -> (Vec<RateStatus>, u32, Duration) {
        let epoch = Instant::now();
        let mut limiter = RateLimiter::new(reply, epoch, epoch, jitter);
        let c = reply.classes().get(3).unwrap();
        let scaled = RateClass {
            clear: c.clear * scale,
            alert: c.alert * scale,
            limit: c.limit * scale,
            disconnect: c.disconnect * scale,
            current: c.current * scale,
            max: c.max * scale,
            ..c
        };
        let mut server = RateState::new(scaled, 0);
        let unit = u64::from(scale);
        let mut rng = Lcg(seed);
        for i in 0..n {
            limiter.enqueue(im(i));
        }
        let mut now = epoch;
        let mut sent = Vec::new();
        let mut statuses = Vec::new();
        let mut lowest = u32::MAX;
        let mut last_arrival = 0u64;
        let mut guard = 0;
        while sent.len() < n as usize {
            let now_ms = now.duration_since(epoch).as_millis() as u64;
            limiter.release(now, |s| {
                let arrival = (now_ms * unit + rng.next(delay_ms * unit + 1)).max(last_arrival);
                last_arrival = arrival;
                statuses.push(server.update(arrival));
                lowest = lowest.min(server.current() / scale);
                sent.push(u32::from_be_bytes(s.payload[..4].try_into().unwrap()));
            });
            if let Some(next) = limiter.next_release(now) {
                assert!(next > now || sent.len() == n as usize, "progress");
                now = next.max(now + Duration::from_millis(1));
            }
            guard += 1;
            assert!(guard < 10 * n as usize + 100, "no livelock");
        }
        assert_eq!(sent, (0..n).collect::<Vec<_>>(), "in order, none lost");
        assert_eq!(limiter.queued(), 0);
        (statuses, lowest, now.duration_since(epoch))
    }

    #[test]
    fn a_thousand_ims_never_reach_the_alert_level() {
        let (statuses, lowest, took) = simulate(1000, Duration::ZERO, 0, 1);
        assert!(statuses.iter().all(|s| *s == RateStatus::Clear), "{statuses:?}");
        assert!(lowest >= 5000, "lowest server level {lowest}");
        // Steady state is one IM per ~alert ms: about 5000 s of virtual time, not much more.
        assert!(took < Duration::from_secs(5100), "took {took:?}");
        assert!(took > Duration::from_secs(4900), "took {took:?}");
    }

    #[test]
    fn jitter_within_the_tolerance_never_reaches_the_alert_level() {
        for seed in 1..6 {
            let (statuses, lowest, _) = simulate(1000, Duration::from_millis(1000), 1000, seed);
            assert!(
                statuses.iter().all(|s| *s == RateStatus::Clear),
                "seed {seed}: lowest {lowest}"
            );
        }
    }

    #[test]
    fn without_margin_jitter_would_trip_the_alert() {
        // The same network with no tolerance configured does trip the server's alert level:
        // the margin is what keeps the simulation above it (the test can fail).
        let tripped = (1..6).any(|seed| {
            let (statuses, _, _) = simulate(300, Duration::ZERO, 1000, seed);
            statuses.iter().any(|s| *s != RateStatus::Clear)
        });
        assert!(tripped);
    }

    #[test]
    fn the_margin_is_proportionate_to_the_class() {
        let second = Duration::from_secs(1);
        let aol = aol_reply();
        let l = RateLimiter::new(&aol, Instant::now(), Instant::now(), second);
        // AOL's classes are far from the cap: the whole second, ⌈2000 / window⌉ above alert.
        let floors: Vec<u32> = (1..=5).map(|id| l.floor(id).unwrap()).collect();
        assert_eq!(floors, [2000 + 25, 2000 + 25, 5000 + 100, 5300 + 100, 5300 + 200]);
        let class3 = aol.classes().get(3).unwrap();
        assert_eq!(JitterTolerance::from(second).for_class(&class3), second);

        // Relaxed classes with a short window: the tolerance is capped at alert · window / 2 =
        // 96 ms, the margin at the alert level (6 ms, not 35 ms).
        let relaxed = relaxed_reply();
        let class3 = relaxed.classes().get(3).unwrap();
        assert_eq!(
            JitterTolerance::proportional(second).for_class(&class3),
            Duration::from_millis(96)
        );
        let l = RateLimiter::new(&relaxed, Instant::now(), Instant::now(), second);
        assert_eq!(l.floor(3), Some(3 + 3));
        // Without the cap, a second of jitter: 3 + ⌈2000 / 64⌉.
        let l = RateLimiter::new(&relaxed, Instant::now(), Instant::now(), JitterTolerance::fixed(second));
        assert_eq!(l.floor(3), Some(3 + 32));
        assert_eq!(JitterTolerance::fixed(second).for_class(&class3), second);
        // A tiny tolerance still keeps a margin of 1.
        let l = RateLimiter::new(&relaxed, Instant::now(), Instant::now(), Duration::ZERO);
        assert_eq!(l.floor(3), Some(3 + 1));
    }

    #[test]
    fn a_thousand_ims_in_relaxed_classes_take_seconds_and_never_reach_the_alert_level() {
        // The default tolerance (a second, capped to 96 ms in these classes), delays within the
        // capped tolerance, and a server counting in microseconds as flapjack's does.
        for seed in 1..6 {
            let (statuses, lowest, took) =
                simulate_classes(&relaxed_reply(), 1000, 1000, Duration::from_secs(1), 96, seed);
            assert!(
                statuses.iter().all(|s| *s == RateStatus::Clear),
                "seed {seed}: lowest {lowest}"
            );
            assert!(lowest >= 3, "seed {seed}: lowest server level {lowest}");
            // ~440 at once, then one every 6 ms: about 3.4 s.
            assert!(took < Duration::from_millis(3500), "seed {seed}: took {took:?}");
            assert!(took > Duration::from_millis(3200), "seed {seed}: took {took:?}");
        }
        // A fixed second of tolerance (a floor of 35 ms) is about seven times slower.
        let (_, _, took) = simulate_classes(
            &relaxed_reply(),
            1000,
            1000,
            JitterTolerance::fixed(Duration::from_secs(1)),
            0,
            1,
        );
        assert!(took > Duration::from_secs(20), "took {took:?}");
    }

    #[test]
    fn relaxed_classes_without_the_margin_would_trip_the_alert() {
        // Delays of up to 200 ms trip the server's alert level in the relaxed classes when no
        // tolerance is configured (a margin of 1 ms), and not with the default capped one: the
        // margin is what keeps the simulation above it.
        let tripped = |jitter: Duration| {
            (1..6).any(|seed| {
                let (statuses, _, _) = simulate_classes(&relaxed_reply(), 1000, 1000, jitter, 200, seed);
                statuses.iter().any(|s| *s != RateStatus::Clear)
            })
        };
        assert!(tripped(Duration::ZERO));
        assert!(!tripped(Duration::from_secs(1)));
    }

    #[test]
    fn long_windows_keep_their_whole_burst() {
        // Window 10,000, alert 3 ms, max 6000 ms: twenty thousand SNACs at once leave the level
        // at 6000 · (1 − 1/10000)^20000 ≈ 812 ms. Counted in whole milliseconds, every one of
        // them would have cost a millisecond, and the class would have run dry after ~6000.
        let class = RateClass::new(3, 10_000, 4, 3, 2, 1, 6000);
        let ims = [SnacType::new(0x0004, 0x0006)];
        let reply = RateParamsReply::new(RateLayout::Extended, &[(class, &ims[..])]).unwrap();
        let epoch = Instant::now();
        let mut l = RateLimiter::new(&reply, epoch, epoch, Duration::from_secs(1));
        assert_eq!(l.floor(3), Some(3 + 1), "a second is a fifth of a millisecond here");
        for i in 0..20_000 {
            l.enqueue(im(i));
        }
        let mut sent = 0;
        l.release(epoch, |_| sent += 1);
        assert_eq!(sent, 20_000);
        let level = l.level(3).unwrap();
        assert!((805..=815).contains(&level), "level {level}");
    }

    #[test]
    fn classes_are_independent_and_fifo() {
        let epoch = Instant::now();
        let reply = aol_reply();
        let mut l = RateLimiter::new(&reply, epoch, epoch, Duration::ZERO);
        assert_eq!(l.class_of(4, 6), Some(3));
        assert_eq!(l.class_of(0x000E, 5), Some(2));
        assert_eq!(l.class_of(0x0013, 8), Some(1), "unlisted SNACs count in class 1");
        for i in 0..10 {
            l.enqueue(im(i));
        }
        l.enqueue(QueuedSnac {
            family: 4,
            subtype: 0x14,
            payload: vec![0xAA],
        });
        let mut out = Vec::new();
        l.release(epoch, |s| out.push(s.payload));
        // A burst of three IMs fits above the alert level, the typing notification (class 1)
        // is not held behind them.
        assert_eq!(out.len(), 4, "{out:?}");
        assert!(out.contains(&vec![0xAA]));
        assert_eq!(l.queued(), 7);
        let next = l.next_release(epoch).unwrap();
        assert!(next > epoch);
        let mut more = Vec::new();
        l.release(next - Duration::from_millis(1), |s| more.push(s.payload));
        assert!(more.is_empty(), "not before the deadline");
        l.release(next, |s| more.push(s.payload));
        assert_eq!(more, vec![3u32.to_be_bytes().to_vec()]);
    }

    #[test]
    fn a_limit_from_the_server_holds_until_clear() {
        let epoch = Instant::now();
        let reply = aol_reply();
        let mut l = RateLimiter::new(&reply, epoch, epoch, Duration::ZERO);
        let mut class = reply.classes().get(3).unwrap();
        class.current = 3900;
        class.extra = Some(RateClassExtra {
            last_time: 0,
            dropping_snacs: 1,
        });
        l.on_change(
            &RateChange {
                code: RateChangeCode::Limit,
                class,
            },
            epoch,
            Duration::ZERO,
        );
        assert!(l.floor(3).unwrap() >= class.clear);
        l.enqueue(im(1));
        let mut out = Vec::new();
        l.release(epoch, |s| out.push(s));
        assert!(out.is_empty());
        let next = l.next_release(epoch).unwrap();
        // (3900·19 + t) / 20 ≥ 5101 ⇒ t ≥ 27920 ms.
        assert_eq!(next.duration_since(epoch), Duration::from_millis(27920));
        l.release(next, |s| out.push(s));
        assert_eq!(out.len(), 1);
        assert!(l.level(3).unwrap() >= class.clear);
    }

    #[test]
    fn snacs_sent_before_the_classes_are_counted() {
        let epoch = Instant::now();
        let reply = aol_reply();
        let mut l = RateLimiter::new(&reply, epoch, epoch, Duration::ZERO);
        for _ in 0..3 {
            l.record_sent(4, 6, epoch);
        }
        // 6000 → 5700 → 5415 → 5144: a fourth IM at once would fall to 4886 < 5000.
        assert_eq!(l.level(3), Some(5144));
        l.enqueue(im(0));
        let mut out = Vec::new();
        l.release(epoch, |s| out.push(s));
        assert!(out.is_empty());
    }
}
