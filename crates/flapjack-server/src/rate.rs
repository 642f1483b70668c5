//! Rate classes (§7.3) on the server side: which SNACs a connection lists in 0x0001/0x0007,
//! and the per-connection limiter built on the wire crate's [`RateState`] arithmetic.
//!
//! AIM clients silently fail when a SNAC they use is missing from the rate groups, so the
//! reply lists every subtype of every family the connection serves.
//!
//! Accounts flagged as bots (`flapjack account add --bot`, user class 0x0400) get relaxed
//! classes, [`BOT_RATE_CLASSES`]: the same class membership, advertised in their 0x0001/0x0007
//! and enforced on their connections exactly like the AOL defaults, only with smaller levels
//! (a bot may send far more often). Everyone else gets [`AOL_RATE_CLASSES`].
//!
//! Levels are average milliseconds between SNACs on the wire; the limiter keeps them in
//! microseconds (every level scaled by 1000, time in µs), so that the integer moving average
//! does not drift at the small levels bots use. Records sent to the client (0x0001/0x000A) are
//! scaled back to milliseconds.

use std::time::Instant;

use flapjack_wire::EncodeError;
use flapjack_wire::family::oservice::{
    AOL_RATE_CLASSES, RateChange, RateChangeCode, RateClass, RateLayout, RateParamsReply, RateState, RateStatus,
    SnacType, aol_rate_class_of,
};

/// The highest subtype listed in the rate groups for a family.
fn max_subtype(family: u16) -> u16 {
    match family {
        0x0001 => 0x0023, // OSERVICE
        0x0002 => 0x0016, // LOCATE
        0x0003 => 0x0010, // BUDDY
        0x0004 => 0x0017, // ICBM
        0x0009 => 0x000B, // PD
        0x000B => 0x0004, // STATS
        0x000D => 0x0009, // CHAT_NAV
        0x000E => 0x000A, // CHAT
        0x0010 => 0x0007, // BART
        0x0013 => 0x001C, // FEEDBAG
        0x0017 => 0x000B, // BUCP
        _ => 0x0010,
    }
}

/// Every SNAC type of `families` (subtypes 1 up to the family's highest known subtype).
pub fn supported_snacs(families: &[u16]) -> Vec<SnacType> {
    families
        .iter()
        .flat_map(|&f| (1..=max_subtype(f)).map(move |s| SnacType::new(f, s)))
        .collect()
}

/// The rate classes of bot accounts: AOL's five classes and membership (see
/// [`aol_rate_class_of`]), with small levels and a long window.
///
/// | class | window | clear | alert | limit | disconnect | max |
/// |---|---|---|---|---|---|---|
/// | 1–5 | 20000 | 4 | 3 | 2 | 1 | 6000 |
///
/// Sustained, in each class on one connection, averaged over the last 20,000 SNACs: a warning
/// above ~330 SNACs/s, SNACs dropped above 500/s (until the bot is back under 250/s), and a
/// disconnect above 1,000/s. A fresh connection starts at the maximum level, so a bot may
/// first burst about 160,000 SNACs (20,000 × ln(6000 / 2)) at thousands a second before its
/// average reaches the limit (a person's client gets 6 seconds' worth, a handful of IMs).
/// Levels are whole milliseconds on the wire, so no class can allow more than 1,000 SNACs/s
/// sustained; the long window is what lets a bot answer a crowd at once (or a load test run
/// each of its connections at ~6,000 IMs/s for twelve seconds, about 72,000 SNACs).
pub const BOT_RATE_CLASSES: [RateClass; 5] = [
    RateClass::new(1, 20_000, 4, 3, 2, 1, 6000),
    RateClass::new(2, 20_000, 4, 3, 2, 1, 6000),
    RateClass::new(3, 20_000, 4, 3, 2, 1, 6000),
    RateClass::new(4, 20_000, 4, 3, 2, 1, 6000),
    RateClass::new(5, 20_000, 4, 3, 2, 1, 6000),
];

/// The classes advertised to and enforced on an account: [`BOT_RATE_CLASSES`] for bots,
/// [`AOL_RATE_CLASSES`] for everyone else.
pub fn classes_for(bot: bool) -> &'static [RateClass; 5] {
    if bot { &BOT_RATE_CLASSES } else { &AOL_RATE_CLASSES }
}

/// The 0x0001/0x0007 reply for a connection serving `families`, in the layout for the
/// client's announced OSERVICE version, with the classes of a bot or a normal account.
pub fn rate_reply(families: &[u16], oservice_version: u16, bot: bool) -> Result<RateParamsReply<'static>, EncodeError> {
    let layout = RateLayout::for_oservice_version(oservice_version);
    let supported = supported_snacs(families);
    if !bot {
        return RateParamsReply::aol_default(layout, &supported);
    }
    let members: Vec<Vec<SnacType>> = BOT_RATE_CLASSES
        .iter()
        .map(|c| {
            supported
                .iter()
                .copied()
                .filter(|s| aol_rate_class_of(s.family, s.subtype) == c.id)
                .collect()
        })
        .collect();
    let entries: Vec<(RateClass, &[SnacType])> = BOT_RATE_CLASSES
        .iter()
        .zip(&members)
        .map(|(c, m)| (*c, m.as_slice()))
        .collect();
    RateParamsReply::new(layout, &entries)
}

/// Levels and times are kept in microseconds: every level × 1000.
const SCALE: u32 = 1000;

fn to_micros(c: &RateClass) -> RateClass {
    RateClass {
        clear: c.clear.saturating_mul(SCALE),
        alert: c.alert.saturating_mul(SCALE),
        limit: c.limit.saturating_mul(SCALE),
        disconnect: c.disconnect.saturating_mul(SCALE),
        current: c.current.saturating_mul(SCALE),
        max: c.max.saturating_mul(SCALE),
        ..*c
    }
}

fn to_millis(c: RateClass) -> RateClass {
    RateClass {
        clear: c.clear / SCALE,
        alert: c.alert / SCALE,
        limit: c.limit / SCALE,
        disconnect: c.disconnect / SCALE,
        current: c.current / SCALE,
        max: c.max / SCALE,
        extra: c.extra.map(|mut e| {
            e.last_time /= SCALE;
            e
        }),
        ..c
    }
}

/// What the limiter decided about one SNAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Handle the SNAC (false: drop it).
    pub allow: bool,
    /// Disconnect the client.
    pub disconnect: bool,
    /// The class changed state: send this 0x0001/0x000A.
    pub change: Option<RateChange>,
}

/// Per-connection rate accounting, one [`RateState`] per class (levels in microseconds).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    epoch: Instant,
    states: Vec<(RateState, RateStatus)>,
}

impl RateLimiter {
    /// The AOL classes, each starting at its maximum level at `now`.
    pub fn new(now: Instant) -> Self {
        Self::with_classes(now, &AOL_RATE_CLASSES)
    }

    /// The classes of a bot or a normal account ([`classes_for`]), starting at `now`.
    pub fn for_account(now: Instant, bot: bool) -> Self {
        Self::with_classes(now, classes_for(bot))
    }

    /// `classes` (levels in milliseconds, as on the wire), each starting at its maximum.
    pub fn with_classes(now: Instant, classes: &[RateClass]) -> Self {
        Self {
            epoch: now,
            states: classes
                .iter()
                .map(|c| (RateState::new(to_micros(c), 0), RateStatus::Clear))
                .collect(),
        }
    }

    /// Accounts for one SNAC received at `now`.
    pub fn on_snac(&mut self, family: u16, subtype: u16, now: Instant) -> RateDecision {
        let now_us = now.saturating_duration_since(self.epoch).as_micros() as u64;
        let id = aol_rate_class_of(family, subtype);
        let Some((state, last)) = self.states.iter_mut().find(|(s, _)| s.class().id == id) else {
            return RateDecision {
                allow: true,
                disconnect: false,
                change: None,
            };
        };
        let status = state.update(now_us);
        let code = match status {
            _ if status == *last => None,
            RateStatus::Clear => Some(RateChangeCode::LimitCleared),
            RateStatus::Alert => Some(RateChangeCode::Warning),
            RateStatus::Limited => Some(RateChangeCode::Limit),
            RateStatus::Disconnect => None,
        };
        *last = status;
        RateDecision {
            allow: matches!(status, RateStatus::Clear | RateStatus::Alert),
            disconnect: status == RateStatus::Disconnect,
            change: code.map(|code| RateChange {
                code,
                class: to_millis(state.snapshot(now_us)),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reply_lists_every_subtype_once() {
        let reply = rate_reply(&[0x0001, 0x0004], 3, false).unwrap();
        assert_eq!(reply.layout(), RateLayout::Extended);
        let total: usize = reply.groups().iter().map(|g| g.snacs.len()).sum();
        assert_eq!(total, 0x23 + 0x17);
        assert_eq!(reply.class_of(0x0004, 0x0006), Some(3));
        assert_eq!(rate_reply(&[0x0001], 1, false).unwrap().layout(), RateLayout::Basic);
    }

    #[test]
    fn bursts_of_ims_are_limited_then_disconnected() {
        let mut r = RateLimiter::new(Instant::now());
        let t0 = Instant::now();
        let decisions: Vec<_> = (0..20)
            .map(|i| r.on_snac(0x0004, 0x0006, t0 + Duration::from_millis(i)))
            .collect();
        assert!(decisions[0].allow);
        assert!(decisions.iter().any(|d| !d.allow && !d.disconnect));
        assert!(
            decisions
                .iter()
                .any(|d| d.change.is_some_and(|c| c.code == RateChangeCode::Limit))
        );
        assert!(decisions.iter().any(|d| d.disconnect));
        // Other classes are unaffected.
        assert!(r.on_snac(0x0001, 0x0002, t0).allow);
    }

    #[test]
    fn bots_get_relaxed_classes_advertised_and_enforced() {
        let reply = rate_reply(&[0x0001, 0x0004], 3, true).unwrap();
        let advertised: Vec<RateClass> = reply.classes().iter().collect();
        assert_eq!(advertised.len(), BOT_RATE_CLASSES.len());
        for (got, want) in advertised.iter().zip(BOT_RATE_CLASSES) {
            assert_eq!(
                (got.id, got.window, got.limit, got.max),
                (want.id, want.window, want.limit, want.max)
            );
        }
        assert_eq!(reply.class_of(0x0004, 0x0006), Some(3));

        // 2,000 IMs at one every 3 ms: a person's client is cut off, a bot's is fine (and so
        // is a burst of 50,000 at one every 250 µs).
        let t0 = Instant::now();
        let mut person = RateLimiter::for_account(t0, false);
        let mut bot = RateLimiter::for_account(t0, true);
        let at = |i: u64| t0 + Duration::from_micros(3000 * i);
        assert!((0..2000).any(|i| person.on_snac(0x0004, 0x0006, at(i)).disconnect));
        assert!((0..2000).all(|i| bot.on_snac(0x0004, 0x0006, at(i)).allow));
        let mut bot = RateLimiter::for_account(t0, true);
        assert!((0..50_000).all(|i| bot.on_snac(0x0004, 0x0006, t0 + Duration::from_micros(250 * i)).allow));

        // Still enforced: a bot flooding at one IM every 100 µs is limited once its burst is
        // spent, then disconnected, and the 0x0001/0x000A records it gets are in milliseconds.
        let mut bot = RateLimiter::for_account(t0, true);
        let flood: Vec<RateDecision> = (0..300_000)
            .map(|i| bot.on_snac(0x0004, 0x0006, t0 + Duration::from_micros(100 * i)))
            .collect();
        let limit = flood
            .iter()
            .find_map(|d| d.change.filter(|c| c.code == RateChangeCode::Limit))
            .expect("limited");
        assert_eq!(limit.class.limit, BOT_RATE_CLASSES[2].limit);
        assert!(limit.class.current < limit.class.limit);
        assert!(flood.iter().any(|d| d.disconnect));
    }
}
