//! The server-stored buddy list (FEEDBAG, §8.14) and its transactions.
//!
//! A [`BuddyEdit`] list is applied to a working copy of the items; the difference from the
//! current list becomes at most three batches — inserts (0x0008), updates (0x0009, e.g. group
//! order lists), deletes (0x000A) — sent inside a cluster (0x0011 … 0x0012). Each batch waits for
//! its 0x000E status (one code per item) before the next goes, and only items the server accepted
//! change the local copy. Transactions queue behind each other.

use std::collections::{HashSet, VecDeque};

use flapjack_wire::family::feedbag::{Feedbag, FeedbagItem, FeedbagStatus, ItemClass, PdMode, tag};
use flapjack_wire::snac::{Message, SnacHeader, flags};
use flapjack_wire::{EncodeError, Family, TlvBlock};

use super::{ConnId, Session};
use crate::command::{BuddyEdit, TxId};
use crate::error::{ClientError, RequestContext};
use crate::event::{Buddy, BuddyGroup, BuddyList, Event, FeedbagOp, ItemResult};

#[derive(Debug)]
struct Batch {
    op: FeedbagOp,
    items: Vec<FeedbagItem<'static>>,
}

#[derive(Debug)]
struct ActiveTx {
    tx: TxId,
    batches: VecDeque<Batch>,
    sent: Option<Batch>,
    results: Vec<ItemResult>,
}

/// The list and the transactions in flight.
#[derive(Debug, Default)]
pub(super) struct FeedbagState {
    items: Vec<FeedbagItem<'static>>,
    loading: Vec<FeedbagItem<'static>>,
    loading_active: bool,
    available: bool,
    queue: VecDeque<(TxId, Vec<BuddyEdit>)>,
    active: Option<ActiveTx>,
}

impl FeedbagState {
    pub fn start_loading(&mut self) {
        self.loading_active = true;
        self.available = true;
        self.loading.clear();
    }

    pub fn unavailable(&mut self) {
        self.available = false;
        self.loading_active = false;
    }

    /// The list as groups, permit/deny lists and privacy mode.
    pub fn snapshot(&self) -> BuddyList {
        snapshot(&self.items)
    }
}

impl Session {
    pub(super) fn feedbag_snac(&mut self, id: ConnId, header: SnacHeader, m: Feedbag<'_>) {
        match m {
            Feedbag::RightsReply(_) => self.sign_on_answer(0x0013),
            Feedbag::Reply(reply) => {
                self.feedbag
                    .loading
                    .extend(reply.items.iter().map(FeedbagItem::into_owned));
                if header.flags & flags::MORE_FOLLOWS == 0 {
                    self.feedbag_loaded(id, header.request_id);
                }
            }
            Feedbag::ReplyNotModified(_) => self.feedbag_loaded(id, header.request_id),
            Feedbag::Status(codes) => {
                let codes: Vec<FeedbagStatus> = codes.iter().collect();
                let ctx = self.conn_mut(id).and_then(|c| c.take_pending(header.request_id));
                if let Some(RequestContext::BuddyEdit { tx }) = ctx {
                    self.feedbag_status(tx, &codes);
                }
            }
            // Changes pushed by the server (another session of this account).
            Feedbag::InsertItem(list) | Feedbag::UpdateItem(list) => {
                for item in list.iter() {
                    upsert(&mut self.feedbag.items, item.into_owned());
                }
                self.emit(Event::BuddyListChanged(self.feedbag.snapshot()));
            }
            Feedbag::DeleteItem(list) => {
                for item in list.iter() {
                    remove_key(&mut self.feedbag.items, item.group_id, item.item_id);
                }
                self.emit(Event::BuddyListChanged(self.feedbag.snapshot()));
            }
            _ => {}
        }
    }

    fn feedbag_loaded(&mut self, id: ConnId, request_id: u32) {
        self.conn_mut(id).and_then(|c| c.take_pending(request_id));
        if !self.feedbag.loading_active {
            return;
        }
        self.feedbag.loading_active = false;
        self.feedbag.items = std::mem::take(&mut self.feedbag.loading);
        // Activate the list: the server starts presence for it.
        self.with_conn(id, |c, out, now| {
            c.send_snac(Message::Feedbag(Feedbag::Use), None, out, now);
        });
        self.sign_on_answer(0x0013);
    }

    pub(super) fn edit_buddies(&mut self, tx: TxId, edits: Vec<BuddyEdit>) -> Result<(), ClientError> {
        let id = self.bos_id().ok_or(ClientError::NotSignedOn)?;
        if !self.feedbag.available || !self.conn(id).is_some_and(|c| c.serves(0x0013)) {
            return Err(ClientError::ServiceUnavailable(Family::Feedbag));
        }
        // Validate now, so that a bad edit fails the command rather than the transaction.
        let mut ids = || 1;
        apply_edits(&self.feedbag.items, &edits, &mut ids)?;
        self.feedbag.queue.push_back((tx, edits));
        if self.feedbag.active.is_none() {
            self.start_next_tx();
        }
        Ok(())
    }

    fn start_next_tx(&mut self) {
        while self.feedbag.active.is_none() {
            let Some((tx, edits)) = self.feedbag.queue.pop_front() else {
                return;
            };
            let mut rng = self.rng.clone();
            let mut next_id = || ((rng.next_u64() % 0x7FFE) + 1) as u16;
            let working = match apply_edits(&self.feedbag.items, &edits, &mut next_id) {
                Ok(w) => w,
                Err(e) => {
                    // The list changed since the command was accepted.
                    self.emit(Event::Error(e));
                    continue;
                }
            };
            self.rng = rng;
            let batches = diff(&self.feedbag.items, &working);
            if batches.is_empty() {
                self.emit(Event::BuddyListEdited {
                    tx,
                    results: Vec::new(),
                    list: self.feedbag.snapshot(),
                });
                continue;
            }
            self.feedbag.active = Some(ActiveTx {
                tx,
                batches: batches.into(),
                sent: None,
                results: Vec::new(),
            });
            if let Some(bos) = self.bos_id() {
                self.with_conn(bos, |c, out, now| {
                    c.send_snac(
                        Message::Feedbag(Feedbag::StartCluster(TlvBlock::empty())),
                        None,
                        out,
                        now,
                    );
                });
            }
            self.send_next_batch();
        }
    }

    fn send_next_batch(&mut self) {
        let Some(bos) = self.bos_id() else {
            return;
        };
        let Some(active) = &mut self.feedbag.active else {
            return;
        };
        let tx = active.tx;
        let Some(batch) = active.batches.pop_front() else {
            self.finish_tx();
            return;
        };
        let message = match batch.op {
            FeedbagOp::Insert => Feedbag::insert(&batch.items),
            FeedbagOp::Update => Feedbag::update(&batch.items),
            FeedbagOp::Delete => Feedbag::delete(&batch.items),
        };
        active.sent = Some(batch);
        match message {
            Ok(m) => {
                self.with_conn(bos, |c, out, now| {
                    c.send_snac(Message::Feedbag(m), Some(RequestContext::BuddyEdit { tx }), out, now);
                });
            }
            Err(e) => {
                self.emit(Event::Error(ClientError::Encode(e)));
                self.feedbag_failed(tx);
            }
        }
    }

    fn feedbag_status(&mut self, tx: TxId, codes: &[FeedbagStatus]) {
        let Some(active) = &mut self.feedbag.active else {
            return;
        };
        if active.tx != tx {
            return;
        }
        let Some(batch) = active.sent.take() else {
            return;
        };
        for (i, item) in batch.items.into_iter().enumerate() {
            // A short status list counts the missing codes as failures.
            let status = codes.get(i).copied().unwrap_or(FeedbagStatus::Invalid);
            active.results.push(ItemResult {
                op: batch.op,
                name: item.name.to_string_lossy(),
                status,
            });
            if status == FeedbagStatus::Ok {
                match batch.op {
                    FeedbagOp::Insert | FeedbagOp::Update => upsert(&mut self.feedbag.items, item),
                    FeedbagOp::Delete => remove_key(&mut self.feedbag.items, item.group_id, item.item_id),
                }
            }
        }
        self.send_next_batch();
    }

    fn finish_tx(&mut self) {
        let Some(active) = self.feedbag.active.take() else {
            return;
        };
        if let Some(bos) = self.bos_id() {
            self.with_conn(bos, |c, out, now| {
                c.send_snac(Message::Feedbag(Feedbag::EndCluster), None, out, now);
            });
        }
        self.emit(Event::BuddyListEdited {
            tx: active.tx,
            results: active.results,
            list: self.feedbag.snapshot(),
        });
        self.start_next_tx();
    }

    /// The server refused a batch with an error SNAC: close the cluster and go on.
    pub(super) fn feedbag_failed(&mut self, tx: TxId) {
        if self.feedbag.active.as_ref().is_some_and(|a| a.tx == tx) {
            self.feedbag.active = None;
            if let Some(bos) = self.bos_id() {
                self.with_conn(bos, |c, out, now| {
                    c.send_snac(Message::Feedbag(Feedbag::EndCluster), None, out, now);
                });
            }
            self.start_next_tx();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The list as data

fn norm(name: &[u8]) -> String {
    flapjack_wire::types::normalize_screen_name(name)
}

fn same_name(item: &FeedbagItem<'_>, name: &str) -> bool {
    norm(item.name.as_bytes()) == norm(name.as_bytes())
}

fn upsert(items: &mut Vec<FeedbagItem<'static>>, item: FeedbagItem<'static>) {
    match items
        .iter_mut()
        .find(|i| i.group_id == item.group_id && i.item_id == item.item_id)
    {
        Some(slot) => *slot = item,
        None => items.push(item),
    }
}

fn remove_key(items: &mut Vec<FeedbagItem<'static>>, group_id: u16, item_id: u16) {
    items.retain(|i| !(i.group_id == group_id && i.item_id == item_id));
}

fn is_group(i: &FeedbagItem<'_>) -> bool {
    i.class == ItemClass::Group
}

fn find_group(items: &[FeedbagItem<'static>], name: &str) -> Option<u16> {
    items
        .iter()
        .find(|i| is_group(i) && i.group_id != 0 && i.name.to_string_lossy().eq_ignore_ascii_case(name))
        .map(|i| i.group_id)
}

fn set_order(
    items: &mut Vec<FeedbagItem<'static>>,
    group_id: u16,
    f: impl FnOnce(&mut Vec<u16>),
) -> Result<(), EncodeError> {
    let pos = match items.iter().position(|i| is_group(i) && i.group_id == group_id) {
        Some(p) => p,
        None if group_id == 0 => {
            items.push(FeedbagItem::root_group(&[])?);
            items.len() - 1
        }
        None => return Ok(()),
    };
    let mut order: Vec<u16> = items[pos].order().collect();
    f(&mut order);
    let item = items[pos].clone();
    items[pos] = if order.is_empty() {
        item.without_attr(tag::ORDER)
    } else {
        item.with_order(&order)?
    };
    Ok(())
}

fn unused_id(used: &HashSet<u16>, next_id: &mut impl FnMut() -> u16) -> u16 {
    for _ in 0..64 {
        let id = next_id();
        if id != 0 && !used.contains(&id) {
            return id;
        }
    }
    // A crowded or degenerate generator: take the first free id.
    (1..=0x7FFF).find(|id| !used.contains(id)).unwrap_or(0x7FFF)
}

fn add_group(
    items: &mut Vec<FeedbagItem<'static>>,
    name: &str,
    next_id: &mut impl FnMut() -> u16,
) -> Result<u16, ClientError> {
    if let Some(gid) = find_group(items, name) {
        return Ok(gid);
    }
    if name.is_empty() {
        return Err(ClientError::InvalidRequest("a group needs a name".into()));
    }
    let used: HashSet<u16> = items.iter().filter(|i| is_group(i)).map(|i| i.group_id).collect();
    let gid = unused_id(&used, next_id);
    items.push(FeedbagItem::group(name.as_bytes().to_vec(), gid, &[])?);
    set_order(items, 0, |o| o.push(gid))?;
    Ok(gid)
}

fn add_item(
    items: &mut Vec<FeedbagItem<'static>>,
    class: ItemClass,
    group_id: u16,
    name: &str,
    attrs: TlvBlock<'static>,
    next_id: &mut impl FnMut() -> u16,
) -> Result<u16, ClientError> {
    let used: HashSet<u16> = items.iter().filter(|i| !is_group(i)).map(|i| i.item_id).collect();
    let bid = unused_id(&used, next_id);
    let sn = flapjack_wire::Str16::new(name.as_bytes().to_vec())?;
    items.push(FeedbagItem::new(sn, group_id, bid, class, attrs));
    Ok(bid)
}

fn remove_buddy(items: &mut Vec<FeedbagItem<'static>>, name: &str) -> Result<Option<TlvBlock<'static>>, ClientError> {
    let gone: Vec<(u16, u16, TlvBlock<'static>)> = items
        .iter()
        .filter(|i| i.class == ItemClass::Buddy && same_name(i, name))
        .map(|i| (i.group_id, i.item_id, i.attrs.clone()))
        .collect();
    for (gid, bid, _) in &gone {
        remove_key(items, *gid, *bid);
        set_order(items, *gid, |o| o.retain(|x| x != bid))?;
    }
    Ok(gone.into_iter().next().map(|(_, _, attrs)| attrs))
}

fn check_name(name: &str) -> Result<(), ClientError> {
    if name.trim().is_empty() {
        Err(ClientError::InvalidRequest("empty screen name".into()))
    } else {
        Ok(())
    }
}

/// Applies `edits` to a copy of `items`.
fn apply_edits(
    items: &[FeedbagItem<'static>],
    edits: &[BuddyEdit],
    next_id: &mut impl FnMut() -> u16,
) -> Result<Vec<FeedbagItem<'static>>, ClientError> {
    let mut w = items.to_vec();
    for edit in edits {
        match edit {
            BuddyEdit::AddGroup { name } => {
                add_group(&mut w, name, next_id)?;
            }
            BuddyEdit::RemoveGroup { name } => {
                if let Some(gid) = find_group(&w, name) {
                    w.retain(|i| i.group_id != gid);
                    set_order(&mut w, 0, |o| o.retain(|x| *x != gid))?;
                }
            }
            BuddyEdit::AddBuddy { group, name } => {
                check_name(name)?;
                let gid = add_group(&mut w, group, next_id)?;
                let exists = w
                    .iter()
                    .any(|i| i.class == ItemClass::Buddy && i.group_id == gid && same_name(i, name));
                if !exists {
                    let bid = add_item(&mut w, ItemClass::Buddy, gid, name, TlvBlock::empty(), next_id)?;
                    set_order(&mut w, gid, |o| o.push(bid))?;
                }
            }
            BuddyEdit::RemoveBuddy { name } => {
                remove_buddy(&mut w, name)?;
            }
            BuddyEdit::MoveBuddy { name, to_group } => {
                check_name(name)?;
                let attrs = remove_buddy(&mut w, name)?.unwrap_or_else(TlvBlock::empty);
                let gid = add_group(&mut w, to_group, next_id)?;
                let bid = add_item(&mut w, ItemClass::Buddy, gid, name, attrs, next_id)?;
                set_order(&mut w, gid, |o| o.push(bid))?;
            }
            BuddyEdit::SetAlias { name, alias } => {
                let mut found = false;
                for item in w
                    .iter_mut()
                    .filter(|i| i.class == ItemClass::Buddy && same_name(i, name))
                {
                    let base = item.clone().without_attr(tag::ALIAS);
                    *item = match alias {
                        Some(a) => base.with_attr(tag::ALIAS, a.as_bytes())?,
                        None => base,
                    };
                    found = true;
                }
                if !found {
                    return Err(ClientError::InvalidRequest(format!("{name} is not on the buddy list")));
                }
            }
            BuddyEdit::AddPermit { name } | BuddyEdit::AddDeny { name } => {
                check_name(name)?;
                let class = if matches!(edit, BuddyEdit::AddPermit { .. }) {
                    ItemClass::Permit
                } else {
                    ItemClass::Deny
                };
                if !w.iter().any(|i| i.class == class && same_name(i, name)) {
                    add_item(&mut w, class, 0, name, TlvBlock::empty(), next_id)?;
                }
            }
            BuddyEdit::RemovePermit { name } => {
                w.retain(|i| !(i.class == ItemClass::Permit && same_name(i, name)));
            }
            BuddyEdit::RemoveDeny { name } => {
                w.retain(|i| !(i.class == ItemClass::Deny && same_name(i, name)));
            }
            BuddyEdit::SetPrivacy(mode) => match w.iter_mut().find(|i| i.class == ItemClass::PdInfo) {
                Some(item) => *item = item.clone().with_attr(tag::PD_MODE, &[mode.value()])?,
                None => {
                    let used: HashSet<u16> = w.iter().filter(|i| !is_group(i)).map(|i| i.item_id).collect();
                    let bid = unused_id(&used, next_id);
                    w.push(FeedbagItem::pd_info(bid, *mode));
                }
            },
        }
    }
    Ok(w)
}

/// The batches that turn `old` into `new`: inserts (groups first), updates, deletes.
fn diff(old: &[FeedbagItem<'static>], new: &[FeedbagItem<'static>]) -> Vec<Batch> {
    let key = |i: &FeedbagItem<'_>| (i.group_id, i.item_id);
    let old_keys: HashSet<(u16, u16)> = old.iter().map(key).collect();
    let new_keys: HashSet<(u16, u16)> = new.iter().map(key).collect();
    let mut inserts: Vec<FeedbagItem<'static>> = new.iter().filter(|i| !old_keys.contains(&key(i))).cloned().collect();
    inserts.sort_by_key(|i| !is_group(i));
    let updates: Vec<FeedbagItem<'static>> = new
        .iter()
        .filter(|i| old.iter().any(|o| key(o) == key(i) && o != *i))
        .cloned()
        .collect();
    let deletes: Vec<FeedbagItem<'static>> = old.iter().filter(|i| !new_keys.contains(&key(i))).cloned().collect();
    [
        (FeedbagOp::Insert, inserts),
        (FeedbagOp::Update, updates),
        (FeedbagOp::Delete, deletes),
    ]
    .into_iter()
    .filter(|(_, items)| !items.is_empty())
    .map(|(op, items)| Batch { op, items })
    .collect()
}

fn snapshot(items: &[FeedbagItem<'static>]) -> BuddyList {
    let root_order: Vec<u16> = items
        .iter()
        .find(|i| is_group(i) && i.group_id == 0)
        .map(|r| r.order().collect())
        .unwrap_or_default();
    let mut group_ids: Vec<u16> = root_order
        .iter()
        .copied()
        .filter(|gid| items.iter().any(|i| is_group(i) && i.group_id == *gid))
        .collect();
    for i in items.iter().filter(|i| is_group(i) && i.group_id != 0) {
        if !group_ids.contains(&i.group_id) {
            group_ids.push(i.group_id);
        }
    }
    let groups = group_ids
        .iter()
        .filter_map(|gid| {
            let group = items.iter().find(|i| is_group(i) && i.group_id == *gid)?;
            let order: Vec<u16> = group.order().collect();
            let mut members: Vec<&FeedbagItem<'static>> = items
                .iter()
                .filter(|i| i.class == ItemClass::Buddy && i.group_id == *gid)
                .collect();
            members.sort_by_key(|m| order.iter().position(|x| *x == m.item_id).unwrap_or(usize::MAX));
            Some(BuddyGroup {
                name: group.name.to_string_lossy(),
                buddies: members
                    .iter()
                    .map(|m| Buddy {
                        screen_name: m.name.to_string_lossy(),
                        alias: m.alias().map(|a| String::from_utf8_lossy(a).into_owned()),
                    })
                    .collect(),
            })
        })
        .collect();
    let names = |class: ItemClass| {
        items
            .iter()
            .filter(|i| i.class == class)
            .map(|i| i.name.to_string_lossy())
            .collect::<Vec<_>>()
    };
    BuddyList {
        groups,
        permit: names(ItemClass::Permit),
        deny: names(ItemClass::Deny),
        privacy: items
            .iter()
            .find(|i| i.class == ItemClass::PdInfo)
            .and_then(|i| i.pd_mode())
            .filter(|m| !matches!(m, PdMode::Unknown(_))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut() -> u16 {
        let mut n = 0;
        move || {
            n += 1;
            n
        }
    }

    #[test]
    fn adding_a_buddy_to_a_new_group_inserts_then_updates_orders() {
        let mut ids = counter();
        let edits = [BuddyEdit::AddBuddy {
            group: "Friends".into(),
            name: "bob".into(),
        }];
        let w = apply_edits(&[], &edits, &mut ids).unwrap();
        let batches = diff(&[], &w);
        assert_eq!(batches.len(), 1, "everything is new: one insert batch");
        let ins = &batches[0];
        assert_eq!(ins.op, FeedbagOp::Insert);
        assert!(is_group(&ins.items[0]), "groups go first");
        let list = snapshot(&w);
        assert_eq!(list.groups.len(), 1);
        assert_eq!(list.groups[0].name, "Friends");
        assert_eq!(list.groups[0].buddies[0].screen_name, "bob");

        // A second buddy: one insert, one group update.
        let edits = [BuddyEdit::AddBuddy {
            group: "friends".into(),
            name: "carol".into(),
        }];
        let w2 = apply_edits(&w, &edits, &mut ids).unwrap();
        let batches = diff(&w, &w2);
        let ops: Vec<FeedbagOp> = batches.iter().map(|b| b.op).collect();
        assert_eq!(ops, [FeedbagOp::Insert, FeedbagOp::Update]);
        assert_eq!(snapshot(&w2).groups[0].buddies.len(), 2);

        // Removing: a delete and a group update; adding twice is a no-op.
        let w3 = apply_edits(&w2, &[BuddyEdit::RemoveBuddy { name: "B O B".into() }], &mut ids).unwrap();
        let ops: Vec<FeedbagOp> = diff(&w2, &w3).iter().map(|b| b.op).collect();
        assert_eq!(ops, [FeedbagOp::Update, FeedbagOp::Delete]);
        let same = apply_edits(
            &w3,
            &[BuddyEdit::AddBuddy {
                group: "Friends".into(),
                name: "carol".into(),
            }],
            &mut ids,
        )
        .unwrap();
        assert!(diff(&w3, &same).is_empty());
    }

    #[test]
    fn privacy_alias_and_deny() {
        let mut ids = counter();
        let w = apply_edits(
            &[],
            &[
                BuddyEdit::AddBuddy {
                    group: "G".into(),
                    name: "bob".into(),
                },
                BuddyEdit::SetAlias {
                    name: "bob".into(),
                    alias: Some("Bobby".into()),
                },
                BuddyEdit::AddDeny { name: "troll".into() },
                BuddyEdit::SetPrivacy(PdMode::DenySome),
            ],
            &mut ids,
        )
        .unwrap();
        let list = snapshot(&w);
        assert_eq!(list.groups[0].buddies[0].alias.as_deref(), Some("Bobby"));
        assert_eq!(list.deny, ["troll"]);
        assert_eq!(list.privacy, Some(PdMode::DenySome));
        assert!(
            apply_edits(
                &w,
                &[BuddyEdit::SetAlias {
                    name: "nobody".into(),
                    alias: None
                }],
                &mut ids
            )
            .is_err()
        );
    }
}
