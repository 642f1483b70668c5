//! Family 0x0013 FEEDBAG: the server-stored buddy list (§8.14).
//!
//! * **Query** (0x0004, or 0x0005 when the client's stamp differs) answers 0x0006 with the root
//!   group first and every group before the buddies, cut into parts of at most
//!   [`REPLY_PART_BODY`] bytes: every part but the last has SNAC flag 0x0001 and a zero
//!   timestamp (Twisted reads a zero timestamp as "more follows", libpurple reads the flag),
//!   and the last carries the real, non-zero last-modified time. A feedbag never written gets
//!   its root group created first, so the timestamp is never 0.
//! * **Edits** (0x0008 insert, 0x0009 update, 0x000A delete) are checked item by item against
//!   the stored list and answered with one status per item in 0x000E (ok, not found, already
//!   exists, invalid, limit exceeded). Accepted changes are committed to the store *before*
//!   the ack is sent, then pushed to the user's other sessions. Edits of one account are
//!   serialized.
//! * **Order coherence.** Group order lists (attribute 0x00C8) name exactly the group's
//!   buddies (the root's: the groups): after each edit the server drops ids that no longer
//!   exist and appends new members, keeping the client's order otherwise. A buddy must go in
//!   an existing group (as libpurple's own list cleaner insists), and a group can only be
//!   deleted once its buddies are gone (in the same SNAC or before).
//! * **Use** (0x0007) activates the list: presence for its buddies and its permit/deny
//!   settings. Edits adding an online buddy send the editor an arrival.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, LazyLock, Weak};

use bytes::Bytes;
use flapjack_wire::family::feedbag::{
    AuthMessage, AuthReply, Feedbag, FeedbagItem, FeedbagStatus, ItemClass, Limits, ListStamp, Reply, RightsReply,
    chunk_items, item_list,
};
use flapjack_wire::snac::{Message, flags};
use flapjack_wire::types::normalize_screen_name;
use flapjack_wire::{ErrorCode, ScreenName, Snac, Str16, TlvBlock};

use super::oservice::{EncodedCache, push_encoded};
use super::{Cx, ServiceError};
use super::{presence, sign_on};
use crate::server::ServerState;
use crate::session::{Session, encode_snac, next_server_request_id};
use crate::store::{FeedbagEdit, StoreError, StoredItem};

/// The family id.
pub const FAMILY: u16 = 0x0013;
/// The version announced in host versions (libpurple announces 4, Twisted 3).
pub const VERSION: u16 = 4;

/// Most items of each class id (index = class), as AOL limited AIM accounts: 200 buddies,
/// 61 groups (the root group not counted), 200 permit and 200 deny entries, one PD item, one
/// presence-prefs item; modest limits for the rarer classes.
pub const MAX_ITEMS_BY_CLASS: [u16; 0x25] = [
    200, // 0x00 buddy
    61,  // 0x01 group
    200, // 0x02 permit
    200, // 0x03 deny
    1,   // 0x04 PD info
    1,   // 0x05 presence prefs
    50,  // 0x06 non-buddy
    20, 20, // 0x07, 0x08 third-party alerts
    3,  // 0x09 client prefs
    20, 20, 20,  // 0x0A stock, 0x0B weather, 0x0C
    128, // 0x0D watch list
    255, // 0x0E ICQ ignore list
    20,  // 0x0F date/time
    200, // 0x10 external user
    1,   // 0x11 root creator
    20,  // 0x12 fish
    1,   // 0x13 import timestamp
    20,  // 0x14 BART (buddy icon)
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, // 0x15..0x24
];

/// Most items of client-defined classes (beyond [`MAX_ITEMS_BY_CLASS`]) together.
pub const MAX_CLIENT_ITEMS: u16 = 200;

/// Longest item name.
pub const MAX_ITEM_NAME_LEN: u16 = 200;

/// Largest 0x0006 body sent in one SNAC before the reply is split.
pub const REPLY_PART_BODY: usize = 8 * 1024;

/// Largest body of an edit pushed to the user's other sessions.
const PUSH_PART_BODY: usize = 8 * 1024;

// Class ids as stored (`ItemClass` values).
const BUDDY: u16 = 0x0000;
const GROUP: u16 = 0x0001;
const PERMIT: u16 = 0x0002;
const DENY: u16 = 0x0003;

/// Handles one FEEDBAG SNAC.
pub async fn handle(cx: &Cx<'_>, message: Feedbag<'_>) -> Result<(), ServiceError> {
    match message {
        Feedbag::RightsQuery(_) => {
            static RIGHTS: EncodedCache<()> = EncodedCache::new();
            let reply = RIGHTS.get_or_encode(
                |_| true,
                || (),
                || {
                    Ok(encode_snac(&Snac::new(
                        0,
                        Message::Feedbag(Feedbag::RightsReply(rights()?)),
                    )))
                },
            )?;
            push_encoded(cx.session, &reply, cx.request_id)
        }
        Feedbag::Query => query(cx, None).await,
        Feedbag::QueryIfModified(stamp) => query(cx, Some(stamp)).await,
        Feedbag::Use => use_list(cx).await,
        Feedbag::InsertItem(items) => edit(cx, Op::Insert, items.iter().map(|i| from_wire(&i)).collect()).await,
        Feedbag::UpdateItem(items) => edit(cx, Op::Update, items.iter().map(|i| from_wire(&i)).collect()).await,
        Feedbag::DeleteItem(items) => edit(cx, Op::Delete, items.iter().map(|i| from_wire(&i)).collect()).await,
        // Cluster markers only batch a client's UI; edits are committed one SNAC at a time.
        Feedbag::StartCluster(_) | Feedbag::EndCluster => Ok(()),
        Feedbag::RequestAuthorizeToHost(m) => {
            let to = m.screen_name.as_bytes().to_vec();
            let relayed = Feedbag::RequestAuthorizeToClient(AuthMessage {
                screen_name: me(cx),
                ..m
            });
            relay_auth(cx, &to, relayed)
        }
        Feedbag::PreAuthorizeBuddy(m) => {
            let to = m.screen_name.as_bytes().to_vec();
            let relayed = Feedbag::PreAuthorizedBuddy(AuthMessage {
                screen_name: me(cx),
                ..m
            });
            relay_auth(cx, &to, relayed)
        }
        Feedbag::RespondAuthorizeToHost(r) => {
            let to = r.screen_name.as_bytes().to_vec();
            let relayed = Feedbag::RespondAuthorizeToClient(AuthReply {
                screen_name: me(cx),
                ..r
            });
            relay_auth(cx, &to, relayed)
        }
        _ => cx.error(FAMILY, ErrorCode::InvalidSnac),
    }
}

/// The 0x0003 rights reply.
pub fn rights() -> Result<RightsReply<'static>, flapjack_wire::EncodeError> {
    RightsReply::new(&Limits {
        max_items_by_class: &MAX_ITEMS_BY_CLASS,
        max_client_items: Some(MAX_CLIENT_ITEMS),
        max_item_name_len: Some(MAX_ITEM_NAME_LEN),
        ..Limits::default()
    })
}

fn me(cx: &Cx<'_>) -> ScreenName<'static> {
    ScreenName::new(cx.session.screen_name().as_bytes().to_vec()).unwrap_or_else(|_| ScreenName::empty())
}

/// Relays an authorization request/reply (already carrying the sender's name) to `to`'s
/// sessions, unless either blocks the other.
fn relay_auth(cx: &Cx<'_>, to: &[u8], message: Feedbag<'_>) -> Result<(), ServiceError> {
    let to = normalize_screen_name(to);
    if presence::may_reach_online(cx.state, cx.session, &to) {
        let bytes = Bytes::from(Snac::new(next_server_request_id(), Message::Feedbag(message)).to_bytes());
        cx.state.registry.deliver(&to, bytes);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Per-account serialization

/// One lock per account name, so that two sessions of one user never interleave edits.
fn account_lock(name: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: LazyLock<std::sync::Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    let mut map = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(lock) = map.get(name).and_then(Weak::upgrade) {
        return lock;
    }
    if map.len() > 1024 {
        map.retain(|_, w| w.strong_count() > 0);
    }
    let lock = Arc::new(tokio::sync::Mutex::new(()));
    map.insert(name.to_owned(), Arc::downgrade(&lock));
    lock
}

// ---------------------------------------------------------------------------------------------
// The list in memory

type Key = (u16, u16);

/// One account's feedbag, keyed by (group id, item id).
#[derive(Debug, Clone, Default)]
pub struct Bag {
    items: BTreeMap<Key, StoredItem>,
    last_modified: i64,
}

fn norm(name: &[u8]) -> String {
    normalize_screen_name(name)
}

fn attrs_of(item: &StoredItem) -> TlvBlock<'_> {
    TlvBlock::from_raw(&item.attributes[..]).unwrap_or_else(|_| TlvBlock::empty())
}

fn order_of(item: &StoredItem) -> Vec<u16> {
    attrs_of(item)
        .get(flapjack_wire::family::feedbag::tag::ORDER)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

fn with_order(item: &StoredItem, order: &[u16]) -> StoredItem {
    let wire = to_wire(item);
    let attrs = wire
        .with_order(order)
        .map(|w| w.attrs.as_bytes().to_vec())
        .unwrap_or_else(|_| item.attributes.clone());
    StoredItem {
        attributes: attrs,
        ..item.clone()
    }
}

fn to_wire(item: &StoredItem) -> FeedbagItem<'_> {
    FeedbagItem::new(
        Str16::new(&item.name[..]).unwrap_or_else(|_| Str16::empty()),
        item.group_id,
        item.item_id,
        ItemClass::from(item.class_id),
        attrs_of(item),
    )
}

fn from_wire(item: &FeedbagItem<'_>) -> StoredItem {
    StoredItem {
        group_id: item.group_id,
        item_id: item.item_id,
        class_id: item.class.value(),
        name: item.name.as_bytes().to_vec(),
        attributes: item.attrs.as_bytes().to_vec(),
    }
}

impl Bag {
    /// A bag of stored items.
    pub fn new(items: Vec<StoredItem>, last_modified: i64) -> Self {
        Self {
            items: items.into_iter().map(|i| ((i.group_id, i.item_id), i)).collect(),
            last_modified,
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the bag holds nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The last-modified time (Unix seconds, 0 when never written).
    pub fn last_modified(&self) -> i64 {
        self.last_modified
    }

    /// The items in reply order: the root group, the groups (in the root's order, then any
    /// others), then every other item by (group id, item id), so that each group precedes its
    /// buddies.
    pub fn reply_order(&self) -> Vec<&StoredItem> {
        let mut out = Vec::with_capacity(self.items.len());
        let root = self.items.get(&(0, 0)).filter(|i| i.class_id == GROUP);
        let mut placed: BTreeSet<Key> = BTreeSet::new();
        if let Some(root) = root {
            out.push(root);
            placed.insert((0, 0));
            for gid in order_of(root) {
                if let Some(g) = self.items.get(&(gid, 0)).filter(|i| i.class_id == GROUP && gid != 0)
                    && placed.insert((gid, 0))
                {
                    out.push(g);
                }
            }
        }
        for (k, i) in &self.items {
            if i.class_id == GROUP && !placed.contains(k) {
                placed.insert(*k);
                out.push(i);
            }
        }
        for (k, i) in &self.items {
            if !placed.contains(k) {
                out.push(i);
            }
        }
        out
    }

    /// The buddies' normalized names.
    pub fn buddies(&self) -> HashSet<String> {
        presence::buddies_from_items(self.items.values())
    }

    /// The permit/deny settings the bag holds.
    pub fn privacy(&self) -> crate::session::Privacy {
        presence::privacy_from_items(self.items.values())
    }

    fn group_exists(&self, gid: u16) -> bool {
        self.items.get(&(gid, 0)).is_some_and(|i| i.class_id == GROUP)
    }

    /// Items of `class` counted against its limit (the root group is not counted).
    fn count(&self, class: u16) -> usize {
        if usize::from(class) >= MAX_ITEMS_BY_CLASS.len() {
            return self
                .items
                .values()
                .filter(|i| usize::from(i.class_id) >= MAX_ITEMS_BY_CLASS.len())
                .count();
        }
        self.items
            .values()
            .filter(|i| i.class_id == class && !(class == GROUP && i.group_id == 0))
            .count()
    }

    fn within_limit(&self, item: &StoredItem) -> bool {
        if item.class_id == GROUP && item.group_id == 0 {
            return true;
        }
        let max = MAX_ITEMS_BY_CLASS
            .get(usize::from(item.class_id))
            .copied()
            .unwrap_or(MAX_CLIENT_ITEMS);
        self.count(item.class_id) < usize::from(max)
    }

    /// Whether another item (not at `except`) has the same class and normalized name in the
    /// scope where names must be unique (a buddy within its group, permit/deny entries and
    /// groups across the list).
    fn duplicate_name(&self, item: &StoredItem, except: Option<Key>) -> bool {
        if !matches!(item.class_id, BUDDY | GROUP | PERMIT | DENY) {
            return false;
        }
        let name = norm(&item.name);
        self.items.iter().any(|(k, other)| {
            Some(*k) != except
                && other.class_id == item.class_id
                && (item.class_id != BUDDY || other.group_id == item.group_id)
                && !(item.class_id == GROUP && (other.group_id == 0 || item.group_id == 0))
                && norm(&other.name) == name
        })
    }
}

/// Checks the shape of an item to insert or update: ids, names, a buddy's group.
fn check_shape(bag: &Bag, item: &StoredItem, owner: &str) -> Result<(), FeedbagStatus> {
    if item.name.len() > usize::from(MAX_ITEM_NAME_LEN) {
        return Err(FeedbagStatus::Invalid);
    }
    let named = || !norm(&item.name).is_empty();
    let ok = match item.class_id {
        GROUP => item.item_id == 0,
        BUDDY => item.group_id != 0 && item.item_id != 0 && named() && bag.group_exists(item.group_id),
        PERMIT => item.item_id != 0 && item.group_id == 0 && named(),
        // Denying yourself puts clients in a strange state (Open OSCAR refuses it too).
        DENY => item.item_id != 0 && item.group_id == 0 && named() && norm(&item.name) != owner,
        _ => item.item_id != 0,
    };
    if ok { Ok(()) } else { Err(FeedbagStatus::Invalid) }
}

/// An edit operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// 0x0008.
    Insert,
    /// 0x0009.
    Update,
    /// 0x000A.
    Delete,
}

/// Applies one edit SNAC's items to `bag`: one status per item, in order. Order lists of the
/// groups it touched are made coherent afterwards.
pub fn apply(bag: &mut Bag, op: Op, items: &[StoredItem], owner: &str) -> Vec<FeedbagStatus> {
    let mut statuses = vec![FeedbagStatus::Ok; items.len()];
    let mut touched: BTreeSet<u16> = BTreeSet::new();
    match op {
        Op::Insert => {
            // Groups first, so that a group and its first buddies can arrive in one SNAC in
            // any order.
            let groups = (0..items.len()).filter(|&i| items[i].class_id == GROUP);
            let others = (0..items.len()).filter(|&i| items[i].class_id != GROUP);
            for i in groups.chain(others) {
                statuses[i] = insert_one(bag, &items[i], owner, &mut touched);
            }
        }
        Op::Update => {
            for (i, item) in items.iter().enumerate() {
                statuses[i] = update_one(bag, item, owner, &mut touched);
            }
        }
        Op::Delete => {
            let deleting: HashSet<Key> = items.iter().map(|i| (i.group_id, i.item_id)).collect();
            for (i, item) in items.iter().enumerate() {
                statuses[i] = delete_one(bag, item, &deleting, &mut touched);
            }
        }
    }
    for gid in touched {
        normalize_order(bag, gid);
    }
    statuses
}

fn insert_one(bag: &mut Bag, item: &StoredItem, owner: &str, touched: &mut BTreeSet<u16>) -> FeedbagStatus {
    if let Err(s) = check_shape(bag, item, owner) {
        return s;
    }
    let key = (item.group_id, item.item_id);
    if let Some(existing) = bag.items.get(&key) {
        return if existing.class_id == item.class_id && norm(&existing.name) == norm(&item.name) {
            FeedbagStatus::AlreadyExists
        } else {
            FeedbagStatus::Invalid
        };
    }
    if bag.duplicate_name(item, None) {
        return FeedbagStatus::AlreadyExists;
    }
    if !bag.within_limit(item) {
        return FeedbagStatus::LimitExceeded;
    }
    bag.items.insert(key, item.clone());
    match item.class_id {
        GROUP => {
            touched.insert(item.group_id);
            touched.insert(0);
        }
        BUDDY => {
            touched.insert(item.group_id);
        }
        _ => {}
    }
    FeedbagStatus::Ok
}

fn update_one(bag: &mut Bag, item: &StoredItem, owner: &str, touched: &mut BTreeSet<u16>) -> FeedbagStatus {
    let key = (item.group_id, item.item_id);
    let Some(existing) = bag.items.get(&key) else {
        return FeedbagStatus::NotFound;
    };
    if existing.class_id != item.class_id {
        return FeedbagStatus::Invalid;
    }
    if let Err(s) = check_shape(bag, item, owner) {
        return s;
    }
    if bag.duplicate_name(item, Some(key)) {
        return FeedbagStatus::AlreadyExists;
    }
    bag.items.insert(key, item.clone());
    if item.class_id == GROUP {
        touched.insert(item.group_id);
    }
    FeedbagStatus::Ok
}

fn delete_one(bag: &mut Bag, item: &StoredItem, deleting: &HashSet<Key>, touched: &mut BTreeSet<u16>) -> FeedbagStatus {
    let key = (item.group_id, item.item_id);
    let Some(existing) = bag.items.get(&key) else {
        return FeedbagStatus::NotFound;
    };
    if existing.class_id == GROUP {
        let gid = key.0;
        // A group goes only once what it holds is gone (or goes in the same SNAC).
        let still_holds = bag.items.iter().any(|(k, i)| {
            !deleting.contains(k)
                && if gid == 0 {
                    i.class_id == GROUP && i.group_id != 0
                } else {
                    i.group_id == gid && k.1 != 0
                }
        });
        if still_holds {
            return FeedbagStatus::Invalid;
        }
        touched.insert(0);
    } else if existing.class_id == BUDDY {
        touched.insert(existing.group_id);
    }
    bag.items.remove(&key);
    FeedbagStatus::Ok
}

/// Makes group `gid`'s order list name exactly its members (buddy ids; for the root, group
/// ids), keeping the existing order and appending new members in id order.
fn normalize_order(bag: &mut Bag, gid: u16) {
    let Some(group) = bag.items.get(&(gid, 0)).filter(|i| i.class_id == GROUP) else {
        return;
    };
    let members: BTreeSet<u16> = if gid == 0 {
        bag.items
            .values()
            .filter(|i| i.class_id == GROUP && i.group_id != 0)
            .map(|i| i.group_id)
            .collect()
    } else {
        bag.items
            .values()
            .filter(|i| i.class_id == BUDDY && i.group_id == gid)
            .map(|i| i.item_id)
            .collect()
    };
    let current = order_of(group);
    let mut seen = BTreeSet::new();
    let mut order: Vec<u16> = current
        .iter()
        .copied()
        .filter(|id| members.contains(id) && seen.insert(*id))
        .collect();
    order.extend(members.iter().filter(|id| !seen.contains(id)));
    if order != current {
        let updated = with_order(group, &order);
        bag.items.insert((gid, 0), updated);
    }
}

/// What an edit changed, for the store and for the other sessions.
#[derive(Debug, Default)]
struct Diff {
    inserted: Vec<StoredItem>,
    updated: Vec<StoredItem>,
    deleted: Vec<StoredItem>,
}

impl Diff {
    fn between(old: &Bag, new: &Bag) -> Self {
        let mut d = Diff::default();
        for (k, o) in &old.items {
            match new.items.get(k) {
                None => d.deleted.push(o.clone()),
                Some(n) if n != o => d.updated.push(n.clone()),
                Some(_) => {}
            }
        }
        for (k, n) in &new.items {
            if !old.items.contains_key(k) {
                d.inserted.push(n.clone());
            }
        }
        d
    }

    fn is_empty(&self) -> bool {
        self.inserted.is_empty() && self.updated.is_empty() && self.deleted.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Loads the feedbag of `session`'s account, creating the root group (durably) when it is
/// missing so that the list always starts with it and its timestamp is non-zero. During the
/// sign-on the copy read with the cookie is used while it is current
/// ([`sign_on::take_feedbag`]); the store's feedbag counter it is then current for comes back
/// with it, so that the caller may keep it for the rest of the sign-on. Call with the account
/// lock held.
async fn load(state: &ServerState, session: &Session) -> Result<(Bag, Option<u64>), StoreError> {
    let name = session.normalized();
    let (mut bag, mut epoch) = match sign_on::take_feedbag(state, session) {
        Some((bag, epoch)) => (bag, Some(epoch)),
        None => {
            let stored = state.store.feedbag(name).await?;
            (Bag::new(stored.items, stored.last_modified), None)
        }
    };
    if !bag.group_exists(0) || bag.last_modified <= 0 {
        let groups: Vec<u16> = bag
            .items
            .values()
            .filter(|i| i.class_id == GROUP && i.group_id != 0)
            .map(|i| i.group_id)
            .collect();
        let root = match bag.items.get(&(0, 0)).filter(|i| i.class_id == GROUP) {
            Some(r) => r.clone(),
            None => {
                let root = FeedbagItem::root_group(&groups)
                    .map_err(|e| StoreError::Backend(format!("encoding the root group: {e}")))?;
                from_wire(&root)
            }
        };
        let ts = state
            .store
            .apply_feedbag_edit(
                name,
                FeedbagEdit {
                    put: vec![root.clone()],
                    ..FeedbagEdit::default()
                },
            )
            .await?;
        bag.items.insert((0, 0), root);
        bag.last_modified = ts;
        // Our own write moved the counter; under the account lock nobody else wrote this
        // account's feedbag, so the bag is current for the counter as it is now.
        epoch = epoch.and(state.store.feedbag_epoch(name));
    }
    Ok((bag, epoch))
}

fn stamp(ts: i64) -> u32 {
    u32::try_from(ts.max(1)).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn query(cx: &Cx<'_>, if_modified: Option<ListStamp>) -> Result<(), ServiceError> {
    let lock = account_lock(cx.session.normalized());
    let loaded = {
        let _guard = lock.lock().await;
        load(cx.state, cx.session).await
    };
    let (bag, epoch) = match loaded {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "loading the feedbag failed");
            return cx.error(FAMILY, ErrorCode::ServiceUnavailable);
        }
    };
    let ts = stamp(bag.last_modified);
    let count = u16::try_from(bag.len()).unwrap_or(u16::MAX);
    if let Some(s) = if_modified
        && s.last_modified == ts
        && s.count.value() == count
    {
        let count = match s.count {
            flapjack_wire::family::feedbag::ItemCount::U8(_) => {
                flapjack_wire::family::feedbag::ItemCount::U8(u8::try_from(count).unwrap_or(u8::MAX))
            }
            flapjack_wire::family::feedbag::ItemCount::U16(_) => flapjack_wire::family::feedbag::ItemCount::U16(count),
        };
        cx.reply(Message::Feedbag(Feedbag::ReplyNotModified(ListStamp {
            last_modified: ts,
            count,
        })))?;
    } else {
        send_reply(cx.session, cx.request_id, &bag)?;
    }
    if let Some(epoch) = epoch {
        sign_on::keep_feedbag(cx.session, bag, epoch);
    }
    Ok(())
}

/// Sends `bag` as 0x0006 parts answering `request_id`.
fn send_reply(session: &Session, request_id: u32, bag: &Bag) -> Result<(), ServiceError> {
    let items: Vec<FeedbagItem<'_>> = bag.reply_order().into_iter().map(to_wire).collect();
    let chunks: Vec<&[FeedbagItem<'_>]> = chunk_items(&items, REPLY_PART_BODY).collect();
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.into_iter().enumerate() {
        let more = i < last;
        let reply = Reply::new(chunk, if more { 0 } else { stamp(bag.last_modified) })?;
        let mut snac = Snac::new(request_id, Message::Feedbag(Feedbag::Reply(reply)));
        if more {
            snac.flags = flags::MORE_FOLLOWS;
        }
        session.outbox().push_snac(&snac)?;
    }
    Ok(())
}

async fn use_list(cx: &Cx<'_>) -> Result<(), ServiceError> {
    let lock = account_lock(cx.session.normalized());
    // The lock is held until the session has taken the list, so that a concurrent edit from
    // another session cannot be overwritten with this older copy.
    let guard = lock.lock().await;
    let (bag, epoch) = match load(cx.state, cx.session).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "loading the feedbag failed");
            return cx.error(FAMILY, ErrorCode::ServiceUnavailable);
        }
    };
    let buddies = bag.buddies();
    let new_privacy = bag.privacy();
    if let Some(epoch) = epoch {
        sign_on::keep_feedbag(cx.session, bag, epoch);
    }
    let (old_privacy, live) = cx.session.with_state(|s| {
        s.presence.feedbag_active = true;
        let old = std::mem::replace(&mut s.presence.privacy, new_privacy.clone());
        s.presence.privacy.temp_permit = old.temp_permit.clone();
        s.presence.privacy_loaded = true;
        (old, s.presence.live)
    });
    let added = presence::update_buddies(cx.state, cx.session, |b| b.feedbag = buddies);
    drop(guard);
    if live {
        presence::privacy_changed(
            cx.state,
            cx.session.normalized(),
            &old_privacy,
            &new_privacy,
            &HashSet::new(),
        );
        presence::deliver_arrivals(cx.state, cx.session, &added);
    }
    Ok(())
}

async fn edit(cx: &Cx<'_>, op: Op, stored: Vec<StoredItem>) -> Result<(), ServiceError> {
    let owner = cx.session.normalized();
    let lock = account_lock(owner);
    let guard = lock.lock().await;
    // The edit moves the feedbag counter: whatever the sign-on kept is not put back.
    let old = match load(cx.state, cx.session).await {
        Ok((b, _)) => b,
        Err(e) => {
            tracing::error!(error = %e, "loading the feedbag failed");
            return ack(cx, &vec![FeedbagStatus::Invalid; stored.len()]);
        }
    };
    let mut new = old.clone();
    let statuses = apply(&mut new, op, &stored, owner);
    let diff = Diff::between(&old, &new);
    if diff.is_empty() {
        drop(guard);
        return ack(cx, &statuses);
    }
    let old_privacy = old.privacy();
    let new_privacy = new.privacy();
    let edit = FeedbagEdit {
        put: diff.inserted.iter().chain(&diff.updated).cloned().collect(),
        delete: diff.deleted.iter().map(|i| (i.group_id, i.item_id)).collect(),
        pd_mode: (old_privacy.mode != new_privacy.mode).then_some(new_privacy.mode),
    };
    match cx.state.store.apply_feedbag_edit(owner, edit).await {
        Ok(ts) => new.last_modified = ts,
        Err(e) => {
            // Nothing was committed: every item failed, and the client undoes its changes.
            tracing::error!(error = %e, "committing a feedbag edit failed");
            drop(guard);
            return ack(cx, &vec![FeedbagStatus::Invalid; stored.len()]);
        }
    }
    // Durable: acknowledge, then tell the other sessions and update presence. The lock is held
    // throughout, so that the pushes and session updates of two edits cannot cross.
    ack(cx, &statuses)?;
    push_to_other_sessions(cx.state, cx.session, &diff);
    after_change(cx.state, owner, &old, &new, &old_privacy, &new_privacy);
    drop(guard);
    Ok(())
}

fn ack(cx: &Cx<'_>, statuses: &[FeedbagStatus]) -> Result<(), ServiceError> {
    cx.reply(Message::Feedbag(Feedbag::status(statuses)?))
}

/// Sends the other ready sessions of the editor's account what changed: deletes, inserts,
/// then updates (libpurple's order).
fn push_to_other_sessions(state: &ServerState, editor: &Session, diff: &Diff) {
    let others: Vec<Arc<Session>> = state
        .registry
        .sessions(editor.normalized())
        .into_iter()
        .filter(|s| s.id() != editor.id() && s.is_ready())
        .collect();
    if others.is_empty() {
        return;
    }
    let mut snacs: Vec<Bytes> = Vec::new();
    for (items, op) in [
        (&diff.deleted, Op::Delete),
        (&diff.inserted, Op::Insert),
        (&diff.updated, Op::Update),
    ] {
        if items.is_empty() {
            continue;
        }
        let wire: Vec<FeedbagItem<'_>> = items.iter().map(to_wire).collect();
        for chunk in chunk_items(&wire, PUSH_PART_BODY) {
            match item_list(chunk) {
                Ok(list) => {
                    let message = match op {
                        Op::Delete => Feedbag::DeleteItem(list),
                        Op::Insert => Feedbag::InsertItem(list),
                        Op::Update => Feedbag::UpdateItem(list),
                    };
                    snacs.push(Bytes::from(
                        Snac::new(next_server_request_id(), Message::Feedbag(message)).to_bytes(),
                    ));
                }
                Err(e) => tracing::warn!(error = %e, "a feedbag change too large to push"),
            }
        }
    }
    for s in &others {
        for b in &snacs {
            let _ = s.outbox().push_snac_bytes(b.clone());
        }
    }
}

/// Presence after a committed edit: every session of the account that uses the feedbag
/// watches its new buddies (and live ones get arrivals for those added), every session takes
/// the new permit/deny settings, and affected pairs are refreshed.
fn after_change(
    state: &ServerState,
    owner: &str,
    old: &Bag,
    new: &Bag,
    old_privacy: &crate::session::Privacy,
    new_privacy: &crate::session::Privacy,
) {
    let old_buddies = old.buddies();
    let new_buddies = new.buddies();
    let privacy_changed = old_privacy != new_privacy;
    for s in state.registry.sessions(owner) {
        if privacy_changed {
            s.with_state(|st| {
                let temp = std::mem::take(&mut st.presence.privacy.temp_permit);
                st.presence.privacy = new_privacy.clone();
                st.presence.privacy.temp_permit = temp;
                st.presence.privacy_loaded = true;
            });
        }
        if old_buddies != new_buddies && s.with_state(|st| st.presence.feedbag_active) {
            let buddies = new_buddies.clone();
            let added = presence::update_buddies(state, &s, |b| b.feedbag = buddies);
            presence::deliver_arrivals(state, &s, &added);
        }
    }
    // In "permit buddy list only" mode, a buddy list change is a permission change.
    let extra: HashSet<String> = if new_privacy.mode == crate::store::pd_mode::PERMIT_ON_LIST
        || old_privacy.mode == crate::store::pd_mode::PERMIT_ON_LIST
    {
        old_buddies.symmetric_difference(&new_buddies).cloned().collect()
    } else {
        HashSet::new()
    };
    if privacy_changed || !extra.is_empty() {
        presence::privacy_changed(state, owner, old_privacy, new_privacy, &extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PD_INFO: u16 = 0x0004;

    fn item(name: &str, gid: u16, bid: u16, class: u16) -> StoredItem {
        StoredItem {
            group_id: gid,
            item_id: bid,
            class_id: class,
            name: name.as_bytes().to_vec(),
            attributes: Vec::new(),
        }
    }

    fn root_bag() -> Bag {
        Bag::new(vec![from_wire(&FeedbagItem::root_group(&[]).unwrap())], 1)
    }

    #[test]
    fn insert_group_and_buddy_keeps_orders() {
        let mut bag = root_bag();
        // Buddy before its group in one SNAC: groups are applied first.
        let st = apply(
            &mut bag,
            Op::Insert,
            &[item("Bob", 7, 3, BUDDY), item("Friends", 7, 0, GROUP)],
            "alice",
        );
        assert_eq!(st, vec![FeedbagStatus::Ok, FeedbagStatus::Ok]);
        assert_eq!(order_of(&bag.items[&(0, 0)]), vec![7]);
        assert_eq!(order_of(&bag.items[&(7, 0)]), vec![3]);
        let order: Vec<Key> = bag.reply_order().iter().map(|i| (i.group_id, i.item_id)).collect();
        assert_eq!(order, vec![(0, 0), (7, 0), (7, 3)]);
    }

    #[test]
    fn statuses() {
        let mut bag = root_bag();
        apply(&mut bag, Op::Insert, &[item("Friends", 7, 0, GROUP)], "alice");
        let st = apply(
            &mut bag,
            Op::Insert,
            &[
                item("Bob", 7, 3, BUDDY),
                item("b o b", 7, 4, BUDDY), // same normalized name in the group
                item("Carol", 7, 3, BUDDY), // id taken
                item("Dave", 9, 5, BUDDY),  // no group 9
                item("alice", 0, 8, DENY),  // denying yourself
                item("", 0, 9, PD_INFO),
                item("", 0, 10, PD_INFO), // one PD item only
            ],
            "alice",
        );
        assert_eq!(
            st,
            vec![
                FeedbagStatus::Ok,
                FeedbagStatus::AlreadyExists,
                FeedbagStatus::Invalid,
                FeedbagStatus::Invalid,
                FeedbagStatus::Invalid,
                FeedbagStatus::Ok,
                FeedbagStatus::LimitExceeded,
            ]
        );
        let st = apply(&mut bag, Op::Update, &[item("Zed", 7, 99, BUDDY)], "alice");
        assert_eq!(st, vec![FeedbagStatus::NotFound]);
        let st = apply(&mut bag, Op::Delete, &[item("Friends", 7, 0, GROUP)], "alice");
        assert_eq!(st, vec![FeedbagStatus::Invalid], "the group still holds Bob");
        let st = apply(
            &mut bag,
            Op::Delete,
            &[
                item("Friends", 7, 0, GROUP),
                item("Bob", 7, 3, BUDDY),
                item("x", 7, 50, BUDDY),
            ],
            "alice",
        );
        assert_eq!(st, vec![FeedbagStatus::Ok, FeedbagStatus::Ok, FeedbagStatus::NotFound]);
        assert!(order_of(&bag.items[&(0, 0)]).is_empty());
    }

    #[test]
    fn client_order_is_kept_and_cleaned() {
        let mut bag = root_bag();
        apply(
            &mut bag,
            Op::Insert,
            &[item("G", 1, 0, GROUP), item("a", 1, 5, BUDDY), item("b", 1, 6, BUDDY)],
            "me",
        );
        assert_eq!(order_of(&bag.items[&(1, 0)]), vec![5, 6]);
        let reordered = with_order(&bag.items[&(1, 0)], &[6, 42, 5, 6]);
        apply(&mut bag, Op::Update, &[reordered], "me");
        assert_eq!(order_of(&bag.items[&(1, 0)]), vec![6, 5]);
    }

    #[test]
    fn group_limit() {
        let mut bag = root_bag();
        let groups: Vec<StoredItem> = (1..=62).map(|g| item(&format!("g{g}"), g, 0, GROUP)).collect();
        let st = apply(&mut bag, Op::Insert, &groups, "me");
        assert!(st[..61].iter().all(|s| *s == FeedbagStatus::Ok));
        assert_eq!(st[61], FeedbagStatus::LimitExceeded);
    }
}
