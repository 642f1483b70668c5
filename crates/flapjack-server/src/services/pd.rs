//! Family 0x0009 PD ("permit/deny", once called BOS): client-side permit and deny lists (§8.8).
//!
//! Clients without a server-stored list send their settings at each sign-on: adding permit
//! entries switches to "permit some", adding deny entries to "deny some", and 0x0004 sets the
//! user classes allowed. The settings live in the session (they start from the stored
//! feedbag's) and are enforced by [`super::presence`] for presence and IMs.

use std::collections::HashSet;

use flapjack_wire::family::pd::{Pd, RightsReply};
use flapjack_wire::list::ScreenNameItem;
use flapjack_wire::snac::Message;
use flapjack_wire::types::normalize_screen_name;
use flapjack_wire::{ErrorCode, List};

use super::presence;
use super::{Cx, ServiceError};
use crate::session::Privacy;
use crate::store::pd_mode;

/// The family id.
pub const FAMILY: u16 = 0x0009;
/// The version announced in host versions.
pub const VERSION: u16 = 1;

/// Most permit-list entries.
pub const MAX_PERMITS: u16 = 200;
/// Most deny-list entries.
pub const MAX_DENIES: u16 = 200;
/// Most temporary permits.
pub const MAX_TEMP_PERMITS: u16 = 100;

/// Handles one PD SNAC.
pub async fn handle(cx: &Cx<'_>, message: Pd<'_>) -> Result<(), ServiceError> {
    match message {
        Pd::RightsQuery(_) => cx.reply(Message::Pd(Pd::RightsReply(RightsReply::new(
            MAX_PERMITS,
            MAX_DENIES,
            MAX_TEMP_PERMITS,
        )))),
        Pd::SetGroupPermitMask(mask) => change(cx, |p| p.class_mask = mask).await,
        Pd::AddPermit(names) => {
            change(cx, |p| {
                p.mode = pd_mode::PERMIT_SOME;
                insert(&mut p.permit, &names, MAX_PERMITS);
            })
            .await
        }
        Pd::DelPermit(names) => change(cx, |p| remove(&mut p.permit, &names)).await,
        Pd::AddDeny(names) => {
            let me = cx.session.normalized().to_owned();
            change(cx, |p| {
                p.mode = pd_mode::DENY_SOME;
                insert(&mut p.deny, &names, MAX_DENIES);
                // Old clients deny themselves to mean "permit all"; nobody blocks themselves.
                p.deny.remove(&me);
            })
            .await
        }
        Pd::DelDeny(names) => change(cx, |p| remove(&mut p.deny, &names)).await,
        Pd::AddTempPermit(names) => change(cx, |p| insert(&mut p.temp_permit, &names, MAX_TEMP_PERMITS)).await,
        Pd::DelTempPermit(names) => change(cx, |p| remove(&mut p.temp_permit, &names)).await,
        Pd::RightsReply(_) => cx.error(FAMILY, ErrorCode::InvalidSnac),
    }
}

fn insert(set: &mut HashSet<String>, names: &List<'_, ScreenNameItem>, max: u16) {
    for name in names.iter() {
        if set.len() >= usize::from(max) {
            break;
        }
        let n = normalize_screen_name(name.as_bytes());
        if !n.is_empty() {
            set.insert(n);
        }
    }
}

fn remove(set: &mut HashSet<String>, names: &List<'_, ScreenNameItem>) {
    for name in names.iter() {
        set.remove(&normalize_screen_name(name.as_bytes()));
    }
}

/// Applies `f` to the session's settings (loaded from the store first) and refreshes the
/// presence of everyone affected.
async fn change(cx: &Cx<'_>, f: impl FnOnce(&mut Privacy)) -> Result<(), ServiceError> {
    presence::ensure_privacy_loaded(cx.state, cx.session).await;
    let (old, new, live) = cx.session.with_state(|s| {
        let old = s.presence.privacy.clone();
        f(&mut s.presence.privacy);
        (old, s.presence.privacy.clone(), s.presence.live)
    });
    if live && old != new {
        presence::privacy_changed(cx.state, cx.session.normalized(), &old, &new, &HashSet::new());
    }
    Ok(())
}
