//! FEEDBAG on a real listener: rights, per-item statuses, order coherence, the split reply,
//! query-if-modified, pushes to the user's other sessions, and durability of acked edits.

mod common;
mod presence_support;

use std::sync::Arc;

use common::*;
use flapjack_server::store::{NewAccount, Store};
use flapjack_server::{Server, ServerConfig, SqliteOptions, SqliteStore};
use flapjack_wire::family::feedbag::{Feedbag, FeedbagItem, FeedbagStatus, ItemClass, ListStamp, PdMode, tag};
use flapjack_wire::snac::Message;
use presence_support::*;

fn config() -> ServerConfig {
    ServerConfig {
        enforce_rate_limits: false,
        motd: None,
        ..ServerConfig::for_tests()
    }
}

fn order(item: &FeedbagItem<'_>) -> Vec<u16> {
    item.order().collect()
}

fn find<'a>(items: &'a [FeedbagItem<'static>], gid: u16, bid: u16) -> &'a FeedbagItem<'static> {
    items
        .iter()
        .find(|i| i.group_id == gid && i.item_id == bid)
        .unwrap_or_else(|| panic!("no item {gid}/{bid}"))
}

#[tokio::test]
async fn rights_statuses_and_orders() {
    let server = start_server(config(), &[("Alice", "pw")]).await;
    let mut a = ssi_sign_on(server.local_addr(), "alice", "pw").await;

    // Rights: AOL's per-class limits.
    a.c.send(Message::Feedbag(Feedbag::RightsQuery(Default::default())))
        .await;
    let f = a.c.recv_snac_of(0x0013, 0x0003).await;
    let Message::Feedbag(Feedbag::RightsReply(r)) = f.snac().message else {
        panic!("13/03")
    };
    let limits: Vec<u16> = r.max_items_by_class().take(6).collect();
    assert_eq!(limits, [200, 61, 200, 200, 1, 1]);

    // A buddy in a group that does not exist is refused; with its group it is accepted.
    let st = edit(&mut a.c, 0x0008, &[FeedbagItem::buddy(&b"Bob"[..], 5, 10).unwrap()]).await;
    assert_eq!(st, [FeedbagStatus::Invalid]);
    add_buddy(&mut a.c, 5, "Friends", 10, "Bob").await;

    let st = edit(
        &mut a.c,
        0x0008,
        &[
            FeedbagItem::buddy(&b"bob"[..], 5, 11).unwrap(), // Bob again (normalized) in the group
            FeedbagItem::buddy(&b"Carol"[..], 5, 10).unwrap(), // id taken by Bob
            FeedbagItem::buddy(&b"Carol"[..], 5, 12).unwrap(),
            pd_item(40, PdMode::PermitAll),
            pd_item(41, PdMode::DenyAll), // one PD item only
            deny_item("alice", 42),       // denying yourself
        ],
    )
    .await;
    assert_eq!(
        st,
        [
            FeedbagStatus::AlreadyExists,
            FeedbagStatus::Invalid,
            FeedbagStatus::Ok,
            FeedbagStatus::Ok,
            FeedbagStatus::LimitExceeded,
            FeedbagStatus::Invalid,
        ]
    );
    let st = edit(&mut a.c, 0x0009, &[FeedbagItem::buddy(&b"Zed"[..], 5, 99).unwrap()]).await;
    assert_eq!(st, [FeedbagStatus::NotFound]);
    let st = edit(&mut a.c, 0x000A, &[FeedbagItem::buddy(&b"Zed"[..], 5, 99).unwrap()]).await;
    assert_eq!(st, [FeedbagStatus::NotFound]);
    // A group is deleted only once empty.
    let st = edit(
        &mut a.c,
        0x000A,
        &[FeedbagItem::group(&b"Friends"[..], 5, &[]).unwrap()],
    )
    .await;
    assert_eq!(st, [FeedbagStatus::Invalid]);

    // The orders: the root lists group 5, the group lists its buddies.
    let (items, _, _) = query_feedbag(&mut a.c).await;
    assert!(is_root(&items[0]), "the root group comes first");
    assert_eq!(order(&items[0]), [5]);
    assert_eq!(order(find(&items, 5, 0)), [10, 12]);

    // Deleting a buddy takes it out of its group's order.
    let st = edit(&mut a.c, 0x000A, &[FeedbagItem::buddy(&b"Bob"[..], 5, 10).unwrap()]).await;
    assert_eq!(st, [FeedbagStatus::Ok]);
    let (items, _, _) = query_feedbag(&mut a.c).await;
    assert_eq!(order(find(&items, 5, 0)), [12]);
    // Limits per class: 61 groups (the root not counted).
    let groups: Vec<FeedbagItem<'static>> = (100..=160)
        .map(|g| FeedbagItem::group(format!("g{g}").into_bytes(), g, &[]).unwrap())
        .collect();
    let st = edit(&mut a.c, 0x0008, &groups).await;
    assert_eq!(st.iter().filter(|s| **s == FeedbagStatus::Ok).count(), 60);
    assert_eq!(st[60], FeedbagStatus::LimitExceeded);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_large_list_is_split_and_query_if_modified_answers_0f() {
    let server = start_server(config(), &[("Alice", "pw")]).await;
    let mut a = ssi_sign_on(server.local_addr(), "alice", "pw").await;

    // 200 buddies with aliases in four groups: well over one part.
    for g in 1..=4u16 {
        let group = FeedbagItem::group(format!("Group {g}").into_bytes(), g, &[]).unwrap();
        assert_eq!(edit(&mut a.c, 0x0008, &[group]).await, [FeedbagStatus::Ok]);
        let buddies: Vec<FeedbagItem<'static>> = (0..50u16)
            .map(|i| {
                let bid = g * 100 + i;
                FeedbagItem::buddy(format!("buddy{bid:04}").into_bytes(), g, bid)
                    .unwrap()
                    .with_attr(
                        tag::ALIAS,
                        format!("A rather long alias for buddy number {bid}").as_bytes(),
                    )
                    .unwrap()
            })
            .collect();
        let st = edit(&mut a.c, 0x0008, &buddies).await;
        assert!(st.iter().all(|s| *s == FeedbagStatus::Ok), "{st:?}");
    }
    // The 201st buddy is over the limit.
    let st = edit(
        &mut a.c,
        0x0008,
        &[FeedbagItem::buddy(&b"onetoomany"[..], 1, 999).unwrap()],
    )
    .await;
    assert_eq!(st, [FeedbagStatus::LimitExceeded]);

    let req = a.c.send(Message::Feedbag(Feedbag::Query)).await;
    let (items, stamp, parts) = collect_reply(&mut a.c, req).await;
    assert!(parts.len() >= 2, "split into {} parts", parts.len());
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        assert_eq!(p.request_id, req, "every part answers the query");
        assert_eq!(p.flags & 0x0001 != 0, !last, "more-follows on all but the last");
        assert_eq!(p.last_modified == 0, !last, "a zero timestamp on all but the last");
        assert!(p.items > 0);
    }
    assert_ne!(stamp, 0);
    assert_eq!(items.len(), 1 + 4 + 200);
    assert!(is_root(&items[0]));
    assert_eq!(order(&items[0]), [1, 2, 3, 4]);
    // Every group precedes its buddies.
    let mut groups_seen = std::collections::HashSet::new();
    for i in &items {
        match i.class {
            ItemClass::Group => {
                groups_seen.insert(i.group_id);
            }
            ItemClass::Buddy => assert!(groups_seen.contains(&i.group_id), "buddy before its group"),
            _ => {}
        }
    }
    assert_eq!(order(find(&items, 3, 0)).len(), 50);

    // Unchanged: 13/0F with the same stamp; a stale stamp or count gets the list.
    let count = items.len() as u16;
    let req =
        a.c.send(Message::Feedbag(Feedbag::QueryIfModified(ListStamp::new(stamp, count))))
            .await;
    let f = a.c.recv_snac().await;
    let snac = f.snac();
    assert_eq!(snac.request_id, req);
    let Message::Feedbag(Feedbag::ReplyNotModified(s)) = snac.message else {
        panic!("expected 13/0F, got {:?}", snac.message)
    };
    assert_eq!((s.last_modified, s.count.value()), (stamp, count));
    let req =
        a.c.send(Message::Feedbag(Feedbag::QueryIfModified(ListStamp::new(
            stamp - 1,
            count,
        ))))
        .await;
    let (again, _, _) = collect_reply(&mut a.c, req).await;
    assert_eq!(again.len(), items.len());
    let req =
        a.c.send(Message::Feedbag(Feedbag::QueryIfModified(ListStamp::new(0, 0))))
            .await;
    let (again, _, _) = collect_reply(&mut a.c, req).await;
    assert_eq!(again.len(), items.len());

    // After an edit the old stamp is stale.
    let st = edit(&mut a.c, 0x000A, &[find(&items, 1, 100).clone()]).await;
    assert_eq!(st, [FeedbagStatus::Ok]);
    let req =
        a.c.send(Message::Feedbag(Feedbag::QueryIfModified(ListStamp::new(stamp, count))))
            .await;
    let (again, newer, _) = collect_reply(&mut a.c, req).await;
    assert_eq!(again.len(), items.len() - 1);
    assert!(newer > stamp);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn edits_reach_the_other_sessions() {
    let server = start_server(config(), &[("Alice", "pw")]).await;
    let addr = server.local_addr();
    let mut one = ssi_sign_on(addr, "alice", "pw").await;
    let mut two = ssi_sign_on(addr, "alice", "pw").await;
    add_buddy(&mut one.c, 1, "Buddies", 2, "Bob").await;
    // The editor gets only its ack; the other session gets the items as stored.
    let seen = barrier(&mut one.c).await;
    assert!(seen.iter().all(|f| f.snac().header().family != 0x0013), "{seen:?}");
    let seen = barrier(&mut two.c).await;
    let mut inserted = Vec::new();
    let mut updated = Vec::new();
    for f in &seen {
        match f.snac().message {
            Message::Feedbag(Feedbag::InsertItem(l)) => inserted.extend(l.iter().map(FeedbagItem::into_owned)),
            Message::Feedbag(Feedbag::UpdateItem(l)) => updated.extend(l.iter().map(FeedbagItem::into_owned)),
            _ => {}
        }
    }
    let keys: Vec<(u16, u16)> = inserted.iter().map(|i| (i.group_id, i.item_id)).collect();
    assert_eq!(keys, [(1, 0), (1, 2)]);
    assert_eq!(updated.len(), 1, "the root group's new order");
    assert!(is_root(&updated[0]));
    assert_eq!(order(&updated[0]), [1]);

    let st = edit(&mut two.c, 0x000A, &[FeedbagItem::buddy(&b"Bob"[..], 1, 2).unwrap()]).await;
    assert_eq!(st, [FeedbagStatus::Ok]);
    let seen = barrier(&mut one.c).await;
    let deleted: Vec<(u16, u16)> = seen
        .iter()
        .filter_map(|f| match f.snac().message {
            Message::Feedbag(Feedbag::DeleteItem(l)) => {
                Some(l.iter().map(|i| (i.group_id, i.item_id)).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(deleted, [(1, 2)]);
    server.shutdown().await.unwrap();
}

fn temp_db(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("flapjack-{tag}-{}-{nanos}.db", std::process::id()))
}

#[tokio::test]
async fn an_acked_edit_is_in_the_store() {
    let path = temp_db("feedbag");
    let cfg = config();
    let store = Arc::new(SqliteStore::open(&path, SqliteOptions::default()).unwrap());
    store
        .create_account(NewAccount {
            screen_name: "Alice".into(),
            credentials: flapjack_server::credentials::make_credentials(b"pw", &cfg.argon2, true).unwrap(),
            bot: false,
        })
        .await
        .unwrap();
    let server = Server::start(cfg, store).await.unwrap();
    let mut a = ssi_sign_on(server.local_addr(), "alice", "pw").await;
    add_buddy(&mut a.c, 3, "Work", 30, "Boss").await;

    // The ack came: another connection to the database sees the items right away.
    let other = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let bag = other.feedbag("alice").await.unwrap();
    assert!(bag.last_modified > 0);
    let boss = bag
        .items
        .iter()
        .find(|i| i.class_id == 0 && i.name == b"Boss")
        .expect("the buddy is stored");
    assert_eq!((boss.group_id, boss.item_id), (3, 30));
    other.close().await.unwrap();
    drop(other);

    // And after the server (and its store) is gone.
    drop(a);
    server.shutdown().await.unwrap();
    let reopened = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let bag = reopened.feedbag("alice").await.unwrap();
    assert!(bag.items.iter().any(|i| i.name == b"Boss"));
    assert!(
        bag.items.iter().any(|i| i.class_id == 1 && i.group_id == 0),
        "the root group"
    );
    reopened.close().await.unwrap();
    drop(reopened);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
