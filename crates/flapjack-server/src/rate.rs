//! Rate classes (§7.3) on the server side: which SNACs a connection lists in 0x0001/0x0007,
//! and the per-connection limiter built on the wire crate's [`RateState`] arithmetic.
//!
//! AIM clients silently fail when a SNAC they use is missing from the rate groups, so the
//! reply lists every subtype of every family the connection serves.

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

/// The 0x0001/0x0007 reply for a connection serving `families`, in the layout for the
/// client's announced OSERVICE version.
pub fn rate_reply(families: &[u16], oservice_version: u16) -> Result<RateParamsReply<'static>, EncodeError> {
    RateParamsReply::aol_default(
        RateLayout::for_oservice_version(oservice_version),
        &supported_snacs(families),
    )
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

/// Per-connection rate accounting, one [`RateState`] per AOL class.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    epoch: Instant,
    states: Vec<(RateState, RateStatus)>,
}

impl RateLimiter {
    /// Every class starts at its maximum level at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            epoch: now,
            states: AOL_RATE_CLASSES
                .iter()
                .map(|c| (RateState::new(*c, 0), RateStatus::Clear))
                .collect(),
        }
    }

    /// Accounts for one SNAC received at `now`.
    pub fn on_snac(&mut self, family: u16, subtype: u16, now: Instant) -> RateDecision {
        let now_ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        let id = aol_rate_class_of(family, subtype);
        let Some((state, last)) = self.states.iter_mut().find(|(s, _)| s.class().id == id) else {
            return RateDecision {
                allow: true,
                disconnect: false,
                change: None,
            };
        };
        let status = state.update(now_ms);
        let code = match status {
            _ if status == *last => None,
            RateStatus::Clear => Some(RateChangeCode::LimitCleared),
            RateStatus::Alert => Some(RateChangeCode::Warning),
            RateStatus::Limited => Some(RateChangeCode::Limit),
            RateStatus::Disconnect => None,
        };
        *last = status;
        let class: RateClass = state.snapshot(now_ms);
        RateDecision {
            allow: matches!(status, RateStatus::Clear | RateStatus::Alert),
            disconnect: status == RateStatus::Disconnect,
            change: code.map(|code| RateChange { code, class }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reply_lists_every_subtype_once() {
        let reply = rate_reply(&[0x0001, 0x0004], 3).unwrap();
        assert_eq!(reply.layout(), RateLayout::Extended);
        let total: usize = reply.groups().iter().map(|g| g.snacs.len()).sum();
        assert_eq!(total, 0x23 + 0x17);
        assert_eq!(reply.class_of(0x0004, 0x0006), Some(3));
        assert_eq!(rate_reply(&[0x0001], 1).unwrap().layout(), RateLayout::Basic);
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
}
