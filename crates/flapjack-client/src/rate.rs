//! Client-side rate limiting (§7.3): keep every rate class's moving average exactly as the
//! server computes it, and hold outgoing SNACs back until sending them keeps the level at or
//! above the class's alert level (plus a safety margin).
//!
//! The arithmetic is the wire crate's [`RateState`] — the same code the server runs — fed with
//! the times the client *sends*. The server sees *arrival* times, later by the network and
//! scheduling delay. If every delay lies within `[0, J]` milliseconds, the server's level differs
//! from the client's by at most `J / window` (a delayed SNAC shortens the next interval by its
//! delay, and the moving average divides that by the window). The limiter therefore keeps the
//! level at or above `alert + ⌈2·J / window⌉`, where `J` is the configured jitter tolerance.
//!
//! Queues are per class and first-in first-out: SNACs of one class never overtake each other;
//! a SNAC of another class may overtake a held-back one (a typing notification is not stuck
//! behind a queue of instant messages).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use flapjack_wire::family::oservice::{RateChange, RateChangeCode, RateClass, RateParamsReply, RateState};

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

#[derive(Debug, Clone)]
struct ClassQueue {
    state: RateState,
    queue: VecDeque<QueuedSnac>,
    margin: u32,
}

impl ClassQueue {
    /// The lowest level a send may produce.
    fn floor(&self) -> u32 {
        let c = self.state.class();
        let base = if self.state.is_limited() {
            c.clear.max(c.alert)
        } else {
            c.alert
        };
        // Never ask for more than the class can reach, or nothing would ever be sent.
        base.saturating_add(self.margin).min(c.max.saturating_sub(1))
    }

    /// Milliseconds from `now_ms` until a send keeps the level at or above the floor.
    fn wait_ms(&self, now_ms: u64) -> u64 {
        let floor = self.floor();
        if floor == 0 {
            return 0;
        }
        self.state.ms_until_above(now_ms, floor - 1).unwrap_or(0)
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
    /// `alert + ⌈2·jitter / window⌉`. `epoch` is the zero of the millisecond clock.
    pub fn new(reply: &RateParamsReply<'_>, epoch: Instant, start: Instant, jitter: Duration) -> Self {
        let start_ms = ms_since(epoch, start);
        let jitter_ms = u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX);
        let classes: Vec<ClassQueue> = reply
            .classes()
            .iter()
            .map(|c| {
                let mut c = c;
                // The server starts counting when the connection opens; start there, with the
                // record's level and limited flag.
                if let Some(extra) = &mut c.extra {
                    extra.last_time = 0;
                }
                ClassQueue {
                    state: RateState::new(c, start_ms),
                    queue: VecDeque::new(),
                    margin: margin_for(&c, jitter_ms),
                }
            })
            .collect();
        let mut members = HashMap::new();
        for group in reply.groups().iter() {
            if let Some(idx) = classes.iter().position(|c| c.state.class().id == group.class_id) {
                for s in group.snacs.iter() {
                    members.entry((s.family, s.subtype)).or_insert(idx);
                }
            }
        }
        // SNACs no group lists: a server counts them somewhere; assume class 1 (AOL's "everything
        // else"), else the first class.
        let fallback = classes
            .iter()
            .position(|c| c.state.class().id == 1)
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
        self.index_of(family, subtype).map(|i| self.classes[i].state.class().id)
    }

    /// Accounts for a SNAC that was sent at `at` without the limiter (before the classes were
    /// known).
    pub fn record_sent(&mut self, family: u16, subtype: u16, at: Instant) {
        let at_ms = ms_since(self.epoch, at);
        if let Some(i) = self.index_of(family, subtype) {
            self.classes[i].state.update(at_ms);
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
                self.classes.push(ClassQueue {
                    state: RateState::new(RateClass::new(0, 1, 0, 0, 0, 0, u32::MAX), 0),
                    queue: VecDeque::from([snac]),
                    margin: 0,
                });
                self.fallback = Some(self.classes.len() - 1);
                self.queued += 1;
            }
        }
    }

    /// Takes every queued SNAC that may be sent at `now`, in each class's order, and accounts
    /// for it as sent at `now`.
    pub fn release(&mut self, now: Instant, mut send: impl FnMut(QueuedSnac)) {
        let now_ms = ms_since(self.epoch, now);
        for class in &mut self.classes {
            while !class.queue.is_empty() && class.wait_ms(now_ms) == 0 {
                let snac = class.queue.pop_front().expect("non-empty");
                class.state.update(now_ms);
                self.queued -= 1;
                send(snac);
            }
        }
    }

    /// When the next held-back SNAC may go, if any is held back.
    pub fn next_release(&self, now: Instant) -> Option<Instant> {
        let now_ms = ms_since(self.epoch, now);
        self.classes
            .iter()
            .filter(|c| !c.queue.is_empty())
            .map(|c| now_ms.saturating_add(c.wait_ms(now_ms)))
            .min()
            .map(|ms| self.epoch + Duration::from_millis(ms))
    }

    /// Adopts the server's view of a class from 0x0001/0x000A.
    pub fn on_change(&mut self, change: &RateChange, now: Instant, jitter: Duration) {
        let now_ms = ms_since(self.epoch, now);
        let jitter_ms = u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX);
        if let Some(c) = self.classes.iter_mut().find(|c| c.state.class().id == change.class.id) {
            c.state.set_class(change.class, now_ms);
            c.margin = margin_for(&change.class, jitter_ms);
            // A basic record carries no limited flag: take it from the code.
            if change.class.extra.is_none() && change.code == RateChangeCode::Limit && !c.state.is_limited() {
                let mut limited = change.class;
                limited.extra = Some(flapjack_wire::family::oservice::RateClassExtra {
                    last_time: 0,
                    dropping_snacs: 1,
                });
                c.state = RateState::new(limited, now_ms);
            }
        }
    }

    /// SNACs held back.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// A class's level after the last SNAC sent in it.
    pub fn level(&self, class_id: u16) -> Option<u32> {
        self.classes
            .iter()
            .find(|c| c.state.class().id == class_id)
            .map(|c| c.state.current())
    }

    /// The lowest level the limiter lets a class reach.
    pub fn floor(&self, class_id: u16) -> Option<u32> {
        self.classes
            .iter()
            .find(|c| c.state.class().id == class_id)
            .map(ClassQueue::floor)
    }

    /// The class parameters being tracked.
    pub fn classes(&self) -> impl Iterator<Item = &RateClass> {
        self.classes.iter().map(|c| c.state.class()).filter(|c| c.id != 0)
    }

    /// Drops every queued SNAC.
    pub fn clear(&mut self) {
        for c in &mut self.classes {
            c.queue.clear();
        }
        self.queued = 0;
    }
}

/// `⌈2·jitter / window⌉`, at least 1.
fn margin_for(class: &RateClass, jitter_ms: u64) -> u32 {
    let window = u64::from(class.window.max(1));
    let m = jitter_ms.saturating_mul(2).div_ceil(window).max(1);
    u32::try_from(m).unwrap_or(u32::MAX)
}

fn ms_since(epoch: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
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
        let epoch = Instant::now();
        let reply = aol_reply();
        let mut limiter = RateLimiter::new(&reply, epoch, epoch, jitter);
        let mut server = RateState::new(reply.classes().get(3).unwrap(), 0);
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
                let arrival = (now_ms + rng.next(delay_ms + 1)).max(last_arrival);
                last_arrival = arrival;
                statuses.push(server.update(arrival));
                lowest = lowest.min(server.current());
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
