//! Helpers for presence and feedbag tests on a real listener, on top of `common`'s raw client:
//! a feedbag-using (SSI) sign-on, feedbag edits with their acks, presence expectations and a
//! round-trip barrier.

#![allow(dead_code)]

use std::net::SocketAddr;

use flapjack_wire::family::buddy::Buddy;
use flapjack_wire::family::feedbag::{Feedbag, FeedbagItem, FeedbagStatus, ItemClass, PdMode, item_list};
use flapjack_wire::family::icbm::{Icbm, SendIm, SendImFlags};
use flapjack_wire::family::oservice::{ClientReadyEntry, FamilyVersion, Oservice};
use flapjack_wire::list::U16Item;
use flapjack_wire::snac::Message;
use flapjack_wire::userinfo::UserInfo;
use flapjack_wire::{ErrorCode, Family, IcbmCookie, List, ScreenName};

use crate::common::{RawClient, RxFrame, bos_connect, login_cookie};

/// A signed-on client and what it learned at sign-on.
pub struct Signed {
    /// The connection.
    pub c: RawClient,
    /// The feedbag received at sign-on (empty for a non-SSI sign-on).
    pub feedbag: Vec<FeedbagItem<'static>>,
    /// Its last-modified time.
    pub stamp: u32,
    /// The SNACs received between client ready and the sign-on barrier (arrivals for the list).
    pub seen: Vec<RxFrame>,
}

/// Versions and rates: §7 steps 4–9.
async fn handshake(c: &mut RawClient, families: &[u16]) {
    let versions: Vec<FamilyVersion> = families
        .iter()
        .map(|&f| FamilyVersion {
            family: Family::from(f),
            version: match f {
                1 => 3,
                0x13 => 4,
                _ => 1,
            },
        })
        .collect();
    c.send(Message::Oservice(Oservice::ClientVersions(
        List::from_items(versions.iter(), 100).unwrap(),
    )))
    .await;
    c.recv_snac_of(0x0001, 0x0018).await;
    c.send(Message::Oservice(Oservice::RateParamsQuery)).await;
    let rates = c.recv_snac_of(0x0001, 0x0007).await;
    let ids: Vec<u16> = match rates.snac().message {
        Message::Oservice(Oservice::RateParamsReply(r)) => r.class_ids().collect(),
        other => panic!("expected 01/07, got {other:?}"),
    };
    c.send(Message::Oservice(Oservice::RateParamsSubAdd(
        List::<U16Item>::from_items(ids.iter(), 100).unwrap(),
    )))
    .await;
}

/// Client ready (0x0001/0x0002) for `families`.
pub async fn client_ready(c: &mut RawClient, families: &[u16]) {
    let ready: Vec<ClientReadyEntry> = families
        .iter()
        .map(|&f| ClientReadyEntry {
            family: Family::from(f),
            version: 1,
            tool_id: 0x0110,
            tool_version: 0x0629,
        })
        .collect();
    c.send(Message::Oservice(Oservice::ClientReady(
        List::from_items(ready.iter(), 100).unwrap(),
    )))
    .await;
}

/// BOS sign-on as libpurple does it: rights queries, the feedbag query, feedbag use, then
/// client ready. Returns once the server answered a barrier after client ready, so the
/// session is live.
pub async fn ssi_sign_on(addr: SocketAddr, name: &str, password: &str) -> Signed {
    let cookie = login_cookie(addr, name, password).await;
    let (mut c, families) = bos_connect(addr, &cookie).await;
    handshake(&mut c, &families).await;
    c.send(Message::Feedbag(Feedbag::RightsQuery(Default::default()))).await;
    c.recv_snac_of(0x0013, 0x0003).await;
    let (feedbag, stamp, _) = query_feedbag(&mut c).await;
    c.send(Message::Feedbag(Feedbag::Use)).await;
    client_ready(&mut c, &families).await;
    let seen = barrier(&mut c).await;
    Signed {
        c,
        feedbag,
        stamp,
        seen,
    }
}

/// BOS sign-on without the feedbag (client-side lists): `before_ready` is sent before client
/// ready (e.g. BUDDY adds, PD lists), as step 12 of §7. Returns the client and the SNACs
/// received between client ready and a barrier.
pub async fn legacy_sign_on(
    addr: SocketAddr,
    name: &str,
    password: &str,
    before_ready: &[Message<'_>],
) -> (RawClient, Vec<RxFrame>) {
    let cookie = login_cookie(addr, name, password).await;
    let (mut c, families) = bos_connect(addr, &cookie).await;
    handshake(&mut c, &families).await;
    for m in before_ready {
        c.send(m.clone()).await;
    }
    client_ready(&mut c, &families).await;
    let seen = barrier(&mut c).await;
    (c, seen)
}

/// One 13/06 part as received: SNAC flags, request id, item count, timestamp.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    /// SNAC flags.
    pub flags: u16,
    /// Request id.
    pub request_id: u32,
    /// Items in this part.
    pub items: usize,
    /// The part's trailing timestamp.
    pub last_modified: u32,
}

/// Sends 13/04 and collects every 13/06 part; returns the items, the final timestamp and the
/// parts.
pub async fn query_feedbag(c: &mut RawClient) -> (Vec<FeedbagItem<'static>>, u32, Vec<Part>) {
    let req = c.send(Message::Feedbag(Feedbag::Query)).await;
    collect_reply(c, req).await
}

/// Collects 13/06 parts answering `req` until one without the "more follows" flag.
pub async fn collect_reply(c: &mut RawClient, req: u32) -> (Vec<FeedbagItem<'static>>, u32, Vec<Part>) {
    let mut items = Vec::new();
    let mut parts = Vec::new();
    loop {
        let f = c.recv_snac_of(0x0013, 0x0006).await;
        let snac = f.snac();
        let Message::Feedbag(Feedbag::Reply(r)) = &snac.message else {
            panic!("expected 13/06");
        };
        parts.push(Part {
            flags: snac.flags,
            request_id: snac.request_id,
            items: r.items.len(),
            last_modified: r.last_modified,
        });
        items.extend(r.items.iter().map(FeedbagItem::into_owned));
        if snac.flags & 0x0001 == 0 {
            return (items, r.last_modified, parts);
        }
        assert_eq!(snac.request_id, req);
    }
}

/// Sends an insert (0x0008), update (0x0009) or delete (0x000A) and returns the 13/0E statuses.
pub async fn edit(c: &mut RawClient, subtype: u16, items: &[FeedbagItem<'_>]) -> Vec<FeedbagStatus> {
    let list = item_list(items).unwrap();
    let message = match subtype {
        0x0008 => Feedbag::InsertItem(list),
        0x0009 => Feedbag::UpdateItem(list),
        0x000A => Feedbag::DeleteItem(list),
        other => panic!("not an edit subtype: {other:#x}"),
    };
    c.send(Message::Feedbag(Feedbag::StartCluster(Default::default())))
        .await;
    let req = c.send(Message::Feedbag(message)).await;
    let f = c.recv_snac_of(0x0013, 0x000E).await;
    let snac = f.snac();
    assert_eq!(snac.request_id, req, "the ack answers the edit");
    let Message::Feedbag(Feedbag::Status(codes)) = &snac.message else {
        panic!("expected 13/0E");
    };
    let codes: Vec<FeedbagStatus> = codes.iter().collect();
    c.send(Message::Feedbag(Feedbag::EndCluster)).await;
    codes
}

/// Inserts (as libpurple does) group `group` (id `gid`) if needed and `buddy` (id `bid`) in
/// it; asserts the statuses are all OK.
pub async fn add_buddy(c: &mut RawClient, gid: u16, group: &str, bid: u16, buddy: &str) {
    let items = [
        FeedbagItem::group(group.as_bytes().to_vec(), gid, &[bid]).unwrap(),
        FeedbagItem::buddy(buddy.as_bytes().to_vec(), gid, bid).unwrap(),
    ];
    let st = edit(c, 0x0008, &items).await;
    assert!(
        st == [FeedbagStatus::Ok, FeedbagStatus::Ok] || st == [FeedbagStatus::AlreadyExists, FeedbagStatus::Ok],
        "adding {buddy}: {st:?}"
    );
}

/// The PD info item with `mode`.
pub fn pd_item(bid: u16, mode: PdMode) -> FeedbagItem<'static> {
    FeedbagItem::pd_info_with_mask(bid, mode, 0xFFFF_FFFF)
}

/// A deny entry.
pub fn deny_item(name: &str, bid: u16) -> FeedbagItem<'static> {
    FeedbagItem::deny(name.as_bytes().to_vec(), bid).unwrap()
}

/// Sends 03/02 and returns every SNAC received before its answer: after this, everything the
/// server queued for this connection before handling the query has been read.
pub async fn barrier(c: &mut RawClient) -> Vec<RxFrame> {
    let req = c.send(Message::Buddy(Buddy::RightsQuery(Default::default()))).await;
    let mut seen = Vec::new();
    loop {
        let f = c.recv_snac().await;
        let h = f.snac().header();
        if h.family == 0x0003 && h.subtype == 0x0003 && h.request_id == req {
            return seen;
        }
        seen.push(f);
    }
}

/// Presence notices about `name` among `frames`: `true` for an arrival, `false` for a departure.
pub fn presence_of(frames: &[RxFrame], name: &str) -> Vec<bool> {
    frames
        .iter()
        .filter_map(|f| match f.snac().message {
            Message::Buddy(Buddy::Arrived(u)) if same(&u, name) => Some(true),
            Message::Buddy(Buddy::Departed(u)) if same(&u, name) => Some(false),
            _ => None,
        })
        .collect()
}

fn same(u: &UserInfo<'_>, name: &str) -> bool {
    flapjack_wire::types::normalize_screen_name(u.screen_name.as_bytes())
        == flapjack_wire::types::normalize_screen_name(name.as_bytes())
}

/// Waits for an arrival (0x0003/0x000B) of `name`, skipping other SNACs; returns its user info.
pub async fn expect_arrival(c: &mut RawClient, name: &str) -> UserInfo<'static> {
    for _ in 0..64 {
        let f = c.recv_snac().await;
        if let Message::Buddy(Buddy::Arrived(u)) = f.snac().message
            && same(&u, name)
        {
            return u.into_owned();
        }
    }
    panic!("no arrival of {name}");
}

/// Waits for a departure (0x0003/0x000C) of `name`; returns its user info.
pub async fn expect_departure(c: &mut RawClient, name: &str) -> UserInfo<'static> {
    for _ in 0..64 {
        let f = c.recv_snac().await;
        match f.snac().message {
            Message::Buddy(Buddy::Departed(u)) if same(&u, name) => return u.into_owned(),
            Message::Buddy(Buddy::Arrived(u)) if same(&u, name) => {
                panic!("expected a departure of {name}, got an arrival")
            }
            _ => {}
        }
    }
    panic!("no departure of {name}");
}

/// A channel-1 IM to `to`, asking for a host ack and offline storage.
pub fn im(to: &str, text: &str) -> Message<'static> {
    let to = ScreenName::new(to.as_bytes().to_vec()).unwrap();
    Message::Icbm(Icbm::SendIm(
        SendIm::channel1(
            IcbmCookie(*b"presence"),
            to,
            text,
            // As libpurple sends them: ack requested, store if offline.
            SendImFlags {
                request_ack: true,
                store_offline: true,
                ..SendImFlags::default()
            },
        )
        .unwrap(),
    ))
}

/// Sends an IM with an ack request: `Ok(())` on the host ack, `Err(code)` on an ICBM error.
pub async fn send_im(c: &mut RawClient, to: &str, text: &str) -> Result<(), ErrorCode> {
    let req = c.send(im(to, text)).await;
    for _ in 0..64 {
        let f = c.recv_snac().await;
        let snac = f.snac();
        if snac.request_id != req {
            continue;
        }
        return match snac.message {
            Message::Icbm(Icbm::HostAck(_)) => Ok(()),
            Message::Error { error, .. } => Err(error.code),
            other => panic!("unexpected answer to an IM: {other:?}"),
        };
    }
    panic!("no answer to the IM");
}

/// Whether an IM from `from` is among `frames`.
pub fn got_im_from(frames: &[RxFrame], from: &str) -> bool {
    frames.iter().any(|f| match f.snac().message {
        Message::Icbm(Icbm::IncomingIm(m)) => same(&m.sender, from),
        _ => false,
    })
}

/// Whether `item` is a root group.
pub fn is_root(item: &FeedbagItem<'_>) -> bool {
    item.class == ItemClass::Group && item.group_id == 0 && item.item_id == 0
}

/// Waits until `name` has no session left on `server` (its sign-off was handled).
pub async fn wait_gone(server: &flapjack_server::Server, name: &str) {
    let deadline = tokio::time::Instant::now() + crate::common::WAIT;
    while tokio::time::Instant::now() < deadline {
        if server.state().registry.sessions(name).is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("{name} never signed off");
}
