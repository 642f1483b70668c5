//! The BOS sign-on's store read.
//!
//! When a BOS cookie is redeemed, one store call ([`Store::sign_on`](crate::store::Store::sign_on))
//! reads the account, its feedbag and whether offline messages wait for it, in one transaction.
//! What the rest of the sign-on needs stays in the session ([`SignOnStash`]) until client ready:
//! the feedbag answers the client's FEEDBAG 0x0004 query and 0x0007 use, and "no offline
//! message" spares client ready its store call. Every use first checks the store's change
//! counters ([`Store::feedbag_epoch`](crate::store::Store::feedbag_epoch),
//! [`Store::offline_epoch`](crate::store::Store::offline_epoch)) and reads the store as before
//! when anything may have changed since the sign-on read (a feedbag edit from another session,
//! an offline message stored meanwhile). Client ready drops the stash ([`finish`]), so an idle
//! session holds none of it.

use crate::server::ServerState;
use crate::services::feedbag::Bag;
use crate::session::Session;
use crate::store::{Account, OfflineMessage, StoreError};

/// What a BOS sign-on read from the store and may still use, kept in the session's state from
/// the cookie to client ready.
#[derive(Debug, Clone, Default)]
pub struct SignOnStash {
    /// The feedbag, and the store's feedbag counter it is current for.
    feedbag: Option<(Bag, u64)>,
    /// Set when no offline message waited: the store's offline counter at the read.
    no_offline_at: Option<u64>,
}

/// Reads what a session of `name` starts with: for a BOS connection (`bos`) the account plus
/// the stash for the rest of its sign-on, in one store call; for a service connection the
/// account alone. `None` when there is no such account.
pub async fn read(
    state: &ServerState,
    name: &str,
    bos: bool,
) -> Result<Option<(Account, Option<Box<SignOnStash>>)>, StoreError> {
    if !bos {
        return Ok(state.store.account(name).await?.map(|a| (a, None)));
    }
    let Some(read) = state.store.sign_on(name).await? else {
        return Ok(None);
    };
    let feedbag = read
        .feedbag_epoch
        .map(|epoch| (Bag::new(read.feedbag.items, read.feedbag.last_modified), epoch));
    let no_offline_at = if read.offline_waiting { None } else { read.offline_epoch };
    let stash =
        (feedbag.is_some() || no_offline_at.is_some()).then(|| Box::new(SignOnStash { feedbag, no_offline_at }));
    Ok(Some((read.account, stash)))
}

/// Takes the sign-on's feedbag out of the stash if it is still current, with the counter it
/// is current for. Call with the account's feedbag lock held.
pub(crate) fn take_feedbag(state: &ServerState, session: &Session) -> Option<(Bag, u64)> {
    let (bag, epoch) = session.with_state(|s| s.sign_on.as_mut().and_then(|st| st.feedbag.take()))?;
    (state.store.feedbag_epoch(session.normalized()) == Some(epoch)).then_some((bag, epoch))
}

/// Puts a feedbag that is current for counter `epoch` back for the rest of the sign-on (after
/// client ready there is no stash, and it is dropped).
pub(crate) fn keep_feedbag(session: &Session, bag: Bag, epoch: u64) {
    session.with_state(|s| {
        if let Some(st) = s.sign_on.as_mut() {
            st.feedbag = Some((bag, epoch));
        }
    });
}

/// Returns and deletes the session's account's offline messages
/// ([`Store::take_offline_messages`](crate::store::Store::take_offline_messages)), without a
/// store call the first time when the sign-on read found none and none was stored since.
pub async fn take_offline_messages(state: &ServerState, session: &Session) -> Result<Vec<OfflineMessage>, StoreError> {
    let none_at = session.with_state(|s| s.sign_on.as_mut().and_then(|st| st.no_offline_at.take()));
    if let Some(epoch) = none_at
        && state.store.offline_epoch(session.normalized()) == Some(epoch)
    {
        return Ok(Vec::new());
    }
    state.store.take_offline_messages(session.normalized()).await
}

/// The sign-on is over (client ready): drops what is left of the stash.
pub fn finish(session: &Session) {
    if session.read_state(|s| s.sign_on.is_some()) {
        session.with_state(|s| s.sign_on = None);
    }
}
