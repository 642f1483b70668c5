//! Family 0x0003 BUDDY: client-side buddy lists and temporary buddies (§8.3).
//!
//! Clients without a server-stored list (or for people not on it, "temporary buddies") send
//! the names to watch with 0x0004 / 0x000F and drop them with 0x0005 / 0x0010. The names join
//! the session's watch set (and the registry's reverse index); a live session gets arrivals
//! for those online at once. Names over the limit are refused with 0x000A. Arrivals (0x000B)
//! and departures (0x000C) themselves are sent by [`super::presence`].

use flapjack_wire::family::buddy::{Buddy, NameList, RightsReply};
use flapjack_wire::snac::Message;
use flapjack_wire::types::normalize_screen_name;
use flapjack_wire::{ErrorCode, ScreenName};

use super::presence;
use super::{Cx, ServiceError};
use crate::session::BuddyLists;

/// The family id.
pub const FAMILY: u16 = 0x0003;
/// The version announced in host versions.
pub const VERSION: u16 = 1;

/// Most names on the client-side buddy list.
pub const MAX_BUDDIES: u16 = 200;
/// Most watchers (people who have you listed) announced; not enforced.
pub const MAX_WATCHERS: u16 = 3000;
/// Most ICQ broadcast recipients announced.
pub const MAX_ICQ_BROADCAST: u16 = 220;
/// Most temporary buddies.
pub const MAX_TEMP_BUDDIES: u16 = 160;

/// Handles one BUDDY SNAC.
pub async fn handle(cx: &Cx<'_>, message: Buddy<'_>) -> Result<(), ServiceError> {
    match message {
        Buddy::RightsQuery(_) => cx.reply(Message::Buddy(Buddy::RightsReply(RightsReply::new(
            MAX_BUDDIES,
            MAX_WATCHERS,
            MAX_ICQ_BROADCAST,
            MAX_TEMP_BUDDIES,
        )))),
        Buddy::AddBuddies(names) => add(cx, &names, false),
        Buddy::AddTempBuddies(names) => add(cx, &names, true),
        Buddy::DelBuddies(names) => {
            remove(cx, &names, false);
            Ok(())
        }
        Buddy::DelTempBuddies(names) => {
            remove(cx, &names, true);
            Ok(())
        }
        _ => cx.error(FAMILY, ErrorCode::InvalidSnac),
    }
}

fn list_of(lists: &mut BuddyLists, temp: bool) -> &mut std::collections::HashSet<String> {
    if temp { &mut lists.temp } else { &mut lists.legacy }
}

fn add(cx: &Cx<'_>, names: &NameList<'_>, temp: bool) -> Result<(), ServiceError> {
    let max = usize::from(if temp { MAX_TEMP_BUDDIES } else { MAX_BUDDIES });
    let mut rejected: Vec<ScreenName<'_>> = Vec::new();
    let added = presence::update_buddies(cx.state, cx.session, |lists| {
        let list = list_of(lists, temp);
        for name in names.iter() {
            let n = normalize_screen_name(name.as_bytes());
            if n.is_empty() || list.contains(&n) {
                continue;
            }
            if list.len() >= max {
                rejected.push(name);
                continue;
            }
            list.insert(n);
        }
    });
    if !rejected.is_empty() {
        cx.notify(Message::Buddy(Buddy::reject(&rejected)?))?;
    }
    presence::deliver_arrivals(cx.state, cx.session, &added);
    Ok(())
}

fn remove(cx: &Cx<'_>, names: &NameList<'_>, temp: bool) {
    presence::update_buddies(cx.state, cx.session, |lists| {
        let list = list_of(lists, temp);
        for name in names.iter() {
            list.remove(&normalize_screen_name(name.as_bytes()));
        }
    });
}
