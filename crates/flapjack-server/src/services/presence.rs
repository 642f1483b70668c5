//! Presence: who sees whom online, and the fan-out of arrivals (0x0003/0x000B) and
//! departures (0x0003/0x000C) (§8.3, §10).
//!
//! * **Reverse index.** Every session's watched names (feedbag buddies once it sent FEEDBAG
//!   0x0007 use, BUDDY 0x0004 adds, temporary buddies) are mirrored in the registry's
//!   "who watches X" index ([`crate::session::Registry::watch`]) whenever a list changes, so a
//!   status change of X reads X's watchers directly and never scans all sessions.
//! * **Live.** A session takes part once the client is ready (0x0001/0x0002) and its
//!   permit/deny settings are loaded: it is then announced to its watchers and receives
//!   arrivals for its own list. Sessions that are not live neither see nor are seen.
//! * **Representative.** An account with several sessions shows the user info of one live,
//!   visible session (one neither away nor idle if there is one, else the newest). Invisible
//!   sessions (status bit 0x0100) are not visible: an account with no visible session has
//!   departed.
//! * **Permit/deny** is checked both ways: `viewer` sees `target` only if neither blocks the
//!   other ([`can_see`]); the ICBM relay asks [`may_message`] (the same rule, with the stored
//!   settings of an offline recipient) and answers a refused sender "not logged on".
//!   A change of someone's settings re-sends the affected pairs' presence ([`privacy_changed`]).

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use flapjack_wire::family::buddy::{Buddy, departure};
use flapjack_wire::family::feedbag::{ItemClass, tag as fb_tag};
use flapjack_wire::snac::Message;
use flapjack_wire::types::normalize_screen_name;
use flapjack_wire::userinfo::status;
use flapjack_wire::{ScreenName, Snac, TlvBlock};

use super::unix_now;
use crate::server::ServerState;
use crate::session::{BuddyLists, Privacy, Session, next_server_request_id};
use crate::store::{StoreError, StoredItem};

fn encode(message: Message<'_>) -> Bytes {
    Bytes::from(Snac::new(next_server_request_id(), message).to_bytes())
}

/// An encoded 0x0003/0x000B arrival carrying `target`'s user info.
pub fn arrival_of(target: &Session) -> Bytes {
    encode(Message::Buddy(Buddy::Arrived(target.user_info(unix_now()))))
}

/// An encoded 0x0003/0x000C departure of `screen_name` (the ICQ-safe block: one TLV 0x0001).
pub fn departure_of(screen_name: &str) -> Bytes {
    let name = ScreenName::new(screen_name.as_bytes().to_vec()).unwrap_or_else(|_| ScreenName::empty());
    encode(Message::Buddy(Buddy::Departed(departure(name))))
}

fn push(session: &Session, bytes: &Bytes) {
    // A full queue disconnects that (slow) reader; a closed one is signing off anyway.
    let _ = session.outbox().push_snac_bytes(bytes.clone());
}

/// True when presence runs for `session` (see the module docs).
pub fn is_live(session: &Session) -> bool {
    session.read_state(|s| s.presence.live)
}

/// True when the session's status word has the invisible bit.
fn invisible(status_word: Option<u32>) -> bool {
    status_word.is_some_and(|s| s & u32::from(status::INVISIBLE) != 0)
}

/// Among `sessions` (one account's), the live, visible one whose user info watchers see.
pub fn representative(sessions: &[Arc<Session>]) -> Option<Arc<Session>> {
    sessions
        .iter()
        .filter_map(|s| {
            let rank = s.read_state(|st| {
                (st.presence.live && !invisible(st.status))
                    .then_some(u8::from(!st.away) * 2 + u8::from(st.idle_since.is_none()))
            })?;
            Some((rank, s.id(), s))
        })
        .max_by_key(|(rank, id, _)| (*rank, *id))
        .map(|(_, _, s)| s.clone())
}

/// Whether `owner` (one session) blocks `other`.
fn blocks(owner: &Session, other: &str, other_class: u16) -> bool {
    owner.read_state(|s| {
        s.presence.privacy_loaded
            && !s.presence.privacy.allows(
                owner.normalized(),
                other,
                other_class,
                s.presence.buddies.on_list(other),
            )
    })
}

/// Whether `viewer` may see the account whose sessions are `target_sessions`: neither side
/// blocks the other.
fn can_see_with(viewer: &Session, target: &str, target_sessions: &[Arc<Session>]) -> bool {
    can_see_among(viewer, target, target_sessions.iter())
}

/// [`can_see_with`] over any selection of the target's sessions.
fn can_see_among<'s>(
    viewer: &Session,
    target: &str,
    mut target_sessions: impl Iterator<Item = &'s Arc<Session>> + Clone,
) -> bool {
    let target_class = target_sessions
        .clone()
        .next()
        .map_or(flapjack_wire::userinfo::class::AIM, |t| t.base_class());
    if blocks(viewer, target, target_class) {
        return false;
    }
    let viewer_class = viewer.base_class();
    !target_sessions.any(|t| blocks(t, viewer.normalized(), viewer_class))
}

/// The message path's permit/deny check against the recipient's live `sessions` (from the
/// registry, without copying them): `Some(allowed)` when at least one of them has its
/// settings loaded; `None` when the answer needs the stored settings ([`may_message`]).
pub fn may_message_live(sender: &Session, recipient: &str, sessions: &[Arc<Session>]) -> Option<bool> {
    let known = sessions
        .iter()
        .filter(|s| s.read_state(|st| st.presence.privacy_loaded));
    known.clone().next()?;
    Some(can_see_among(sender, recipient, known))
}

/// Whether `viewer` may see `target` (normalized) online: neither blocks the other. Says
/// nothing about whether `target` is online or visible (see [`representative`]).
pub fn can_see(state: &ServerState, viewer: &Session, target: &str) -> bool {
    can_see_with(viewer, target, &state.registry.sessions(target))
}

/// Whether `sender` may send an IM (or typing, or a rendezvous reply) to `recipient`
/// (normalized): neither blocks the other. An offline recipient's settings come from the
/// store; when they cannot be read the answer is no (fail closed).
pub async fn may_message(state: &ServerState, sender: &Session, recipient: &str) -> bool {
    if let Some(allowed) = may_message_live(sender, recipient, &state.registry.sessions(recipient)) {
        return allowed;
    }
    // The recipient is offline (or still signing on): the sender's own settings, then the
    // recipient's stored ones.
    if blocks(sender, recipient, flapjack_wire::userinfo::class::AIM) {
        return false;
    }
    match stored_privacy(state, recipient).await {
        Ok(Some((privacy, buddies))) => privacy.allows(
            recipient,
            sender.normalized(),
            sender.base_class(),
            buddies.contains(sender.normalized()),
        ),
        Ok(None) => true,
        Err(e) => {
            tracing::error!(error = %e, "reading a recipient's permit/deny settings failed");
            false
        }
    }
}

/// Whether `sender` may reach `recipient`'s online sessions (the synchronous check for typing
/// notifications and other relays that are never stored).
pub fn may_reach_online(state: &ServerState, sender: &Session, recipient: &str) -> bool {
    can_see(state, sender, recipient)
}

/// Permit/deny settings held by feedbag items: the PD item (mode 0x00CA, mask 0x00CB) and the
/// permit (class 2) and deny (class 3) entries.
pub fn privacy_from_items<'a>(items: impl IntoIterator<Item = &'a StoredItem>) -> Privacy {
    let mut p = Privacy::default();
    let mut seen_pd = false;
    for item in items {
        match ItemClass::from(item.class_id) {
            ItemClass::Permit => {
                p.permit.insert(normalize_screen_name(&item.name));
            }
            ItemClass::Deny => {
                p.deny.insert(normalize_screen_name(&item.name));
            }
            ItemClass::PdInfo if !seen_pd => {
                seen_pd = true;
                if let Ok(attrs) = TlvBlock::from_raw(&item.attributes[..]) {
                    if let Some(mode) = attrs.get_u8(fb_tag::PD_MODE) {
                        p.mode = mode;
                    }
                    if let Some(mask) = attrs.get_u32(fb_tag::PD_MASK) {
                        p.class_mask = mask;
                    }
                }
            }
            _ => {}
        }
    }
    p
}

/// The normalized names of the buddy items among `items`.
pub fn buddies_from_items<'a>(items: impl IntoIterator<Item = &'a StoredItem>) -> HashSet<String> {
    items
        .into_iter()
        .filter(|i| i.class_id == ItemClass::Buddy.value())
        .map(|i| normalize_screen_name(&i.name))
        .filter(|n| !n.is_empty())
        .collect()
}

/// The stored permit/deny settings of `name` and, for "permit buddy list only", its buddies;
/// `None` when there is no such account.
async fn stored_privacy(state: &ServerState, name: &str) -> Result<Option<(Privacy, HashSet<String>)>, StoreError> {
    let classes = vec![
        ItemClass::Permit.value(),
        ItemClass::Deny.value(),
        ItemClass::PdInfo.value(),
    ];
    let items = match state.store.feedbag_items_of_classes(name, classes).await {
        Ok(items) => items,
        Err(StoreError::NoSuchAccount(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let privacy = privacy_from_items(&items);
    let buddies = if privacy.mode == crate::store::pd_mode::PERMIT_ON_LIST {
        let items = state
            .store
            .feedbag_items_of_classes(name, vec![ItemClass::Buddy.value()])
            .await?;
        buddies_from_items(&items)
    } else {
        HashSet::new()
    };
    Ok(Some((privacy, buddies)))
}

/// Loads the session's permit/deny settings from the stored feedbag, once.
pub async fn ensure_privacy_loaded(state: &ServerState, session: &Session) {
    if session.read_state(|s| s.presence.privacy_loaded) {
        return;
    }
    let privacy = match stored_privacy(state, session.normalized()).await {
        Ok(Some((p, _))) => p,
        Ok(None) => Privacy::default(),
        Err(e) => {
            // Fail closed: nobody sees this session until its settings can be read.
            tracing::error!(error = %e, "reading permit/deny settings failed; denying all");
            Privacy {
                mode: crate::store::pd_mode::DENY_ALL,
                ..Privacy::default()
            }
        }
    };
    session.with_state(|s| {
        if !s.presence.privacy_loaded {
            s.presence.privacy = privacy;
            s.presence.privacy_loaded = true;
        }
    });
}

/// Changes one of `session`'s buddy lists with `f` and keeps the reverse index in step (under
/// the session's lock, so concurrent edits cannot leave the two apart). Returns the names that
/// became watched.
pub fn update_buddies(state: &ServerState, session: &Arc<Session>, f: impl FnOnce(&mut BuddyLists)) -> Vec<String> {
    session.with_state(|s| {
        let before = s.presence.buddies.all();
        f(&mut s.presence.buddies);
        let after = s.presence.buddies.all();
        let added: Vec<String> = after.difference(&before).cloned().collect();
        let removed: Vec<String> = before.difference(&after).cloned().collect();
        if !added.is_empty() {
            state.registry.watch(session, &added);
        }
        if !removed.is_empty() {
            state.registry.unwatch(session, &removed);
        }
        added
    })
}

/// Sends `session` (if live) an arrival for each of `names` that is online and visible to it.
pub fn deliver_arrivals(state: &ServerState, session: &Session, names: &[String]) {
    if !is_live(session) {
        return;
    }
    for name in names {
        let sessions = state.registry.sessions(name);
        if let Some(rep) = representative(&sessions)
            && can_see_with(session, name, &sessions)
        {
            push(session, &arrival_of(&rep));
        }
    }
}

/// Tells `target`'s live watchers how it appears now: an arrival (with the representative
/// session's info) to each watcher allowed to see it, or a departure to all of them when no
/// session is visible any more and it had been announced (`was_announced` covers a session
/// that just left).
pub fn announce(state: &ServerState, target: &str, screen_name: &str, was_announced: bool) {
    let sessions = state.registry.sessions(target);
    let watchers: Vec<Arc<Session>> = state
        .registry
        .watchers(target)
        .into_iter()
        .filter(|w| is_live(w))
        .collect();
    match representative(&sessions) {
        Some(rep) => {
            for s in &sessions {
                s.with_state(|st| st.presence.announced = true);
            }
            if watchers.is_empty() {
                return;
            }
            let bytes = arrival_of(&rep);
            for w in &watchers {
                if can_see_with(w, target, &sessions) {
                    push(w, &bytes);
                }
            }
        }
        None => {
            let mut announced = was_announced;
            for s in &sessions {
                announced |= s.with_state(|st| std::mem::take(&mut st.presence.announced));
            }
            if !announced || watchers.is_empty() {
                return;
            }
            let bytes = departure_of(screen_name);
            for w in &watchers {
                push(w, &bytes);
            }
        }
    }
}

/// Re-sends `target`'s presence to the live sessions of `viewer` that watch it: an arrival if
/// they may see it now, else a departure.
fn refresh_view(state: &ServerState, viewer: &str, target: &str) {
    let viewers: Vec<Arc<Session>> = state
        .registry
        .sessions(viewer)
        .into_iter()
        .filter(|v| v.read_state(|s| s.presence.live && s.presence.buddies.contains(target)))
        .collect();
    if viewers.is_empty() {
        return;
    }
    let sessions = state.registry.sessions(target);
    let rep = representative(&sessions);
    let arrival = rep.as_ref().map(|r| arrival_of(r));
    let name = sessions
        .first()
        .map_or_else(|| target.to_owned(), |s| s.screen_name().to_owned());
    let gone = departure_of(&name);
    for v in &viewers {
        match &arrival {
            Some(a) if can_see_with(v, target, &sessions) => push(v, a),
            _ => push(v, &gone),
        }
    }
}

/// `owner`'s permit/deny settings went from `old` to `new` (`extra` names whose standing
/// changed for another reason, e.g. buddies added in "permit buddy list only" mode): re-sends
/// presence between `owner` and every affected account, both ways.
pub fn privacy_changed(state: &ServerState, owner: &str, old: &Privacy, new: &Privacy, extra: &HashSet<String>) {
    let mut affected = match old.changed_names(new) {
        Some(names) => names,
        None => {
            // Anyone may be affected: everyone watching the owner and everyone the owner watches.
            let mut all: HashSet<String> = state
                .registry
                .watchers(owner)
                .iter()
                .map(|w| w.normalized().to_owned())
                .collect();
            for s in state.registry.sessions(owner) {
                all.extend(s.read_state(|st| st.presence.buddies.all()));
            }
            all
        }
    };
    affected.extend(extra.iter().cloned());
    affected.remove(owner);
    for other in &affected {
        refresh_view(state, other, owner);
        refresh_view(state, owner, other);
    }
}

/// Client ready on a BOS connection: loads the permit/deny settings (and a persisted
/// profile), makes the session live, sends it arrivals for its list, and announces it.
pub async fn on_client_ready(state: &Arc<ServerState>, session: &Arc<Session>) {
    ensure_privacy_loaded(state, session).await;
    if state.config.persist_profiles && session.read_state(|s| s.presence.profile.is_none()) {
        match state.store.profile(session.normalized()).await {
            Ok(Some(p)) => session.with_state(|s| {
                if s.presence.profile.is_none() {
                    s.presence.profile_mime = p.profile_mime;
                    s.presence.profile = p.profile;
                }
            }),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "loading the stored profile failed"),
        }
    }
    // Setting `live` under the session's lock and then reading the other sessions' flags
    // under theirs means that of two sessions going live at once, at least one sees the other.
    let names: Vec<String> = session.with_state(|s| {
        s.presence.live = true;
        s.presence.buddies.all().into_iter().collect()
    });
    deliver_arrivals(state, session, &names);
    announce(state, session.normalized(), session.screen_name(), false);
}

/// A BOS session ended (it already left the registry): forgets its watches and tells its
/// watchers (a departure, or the user info of the account's remaining session).
pub fn on_signed_off(state: &ServerState, session: &Arc<Session>) {
    let (was_live, was_announced) = session.with_state(|s| {
        let names: Vec<String> = s.presence.buddies.all().into_iter().collect();
        state.registry.unwatch(session, &names);
        s.presence.buddies = BuddyLists::default();
        let r = (s.presence.live, s.presence.announced);
        s.presence.live = false;
        s.presence.announced = false;
        r
    });
    if was_live {
        announce(state, session.normalized(), session.screen_name(), was_announced);
    }
}

/// Something watchers see changed for `session` (away, idle, status, capabilities, status
/// message): re-announces its account.
pub fn status_changed(state: &ServerState, session: &Session) {
    if is_live(session) {
        announce(state, session.normalized(), session.screen_name(), false);
    }
}
