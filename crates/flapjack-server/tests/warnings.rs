//! Warnings end to end (§8.4.7, §8.1 0x0010): who may warn whom, the 0x0009 reply, the
//! victim's 0x0010 notice (with or without the warner), the level in user-info blocks and in
//! the store, the 100 % cap, and decay applied on read.

mod common;
mod presence_support;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use flapjack_server::ServerConfig;
use flapjack_server::credentials::make_credentials;
use flapjack_server::store::NewAccount;
use flapjack_server::warning::WarningDecay;
use flapjack_wire::family::buddy::{Buddy, NameList};
use flapjack_wire::family::icbm::{Icbm, WarnMode};
use flapjack_wire::family::oservice::Oservice;
use flapjack_wire::snac::Message;
use flapjack_wire::{ErrorCode, ScreenName};
use presence_support::{expect_arrival, legacy_sign_on, send_im};

fn config(decay: WarningDecay) -> ServerConfig {
    ServerConfig {
        enforce_rate_limits: false,
        motd: None,
        warning_decay: decay,
        ..ServerConfig::for_tests()
    }
}

fn names(list: &[&str]) -> NameList<'static> {
    let sns: Vec<ScreenName<'static>> = list
        .iter()
        .map(|n| ScreenName::new(n.as_bytes().to_vec()).unwrap())
        .collect();
    flapjack_wire::family::buddy::name_list(&sns).unwrap()
}

/// Sends 04/08: `Ok((delta, new level))` from 04/09, or `Err(code)` from 04/01.
async fn warn(c: &mut RawClient, who: &str, mode: WarnMode) -> Result<(u16, u16), ErrorCode> {
    let req = c
        .send(Message::Icbm(Icbm::WarnRequest {
            mode,
            screen_name: ScreenName::new(who.as_bytes().to_vec()).unwrap(),
        }))
        .await;
    for _ in 0..64 {
        let f = c.recv_snac().await;
        let snac = f.snac();
        if snac.request_id != req {
            continue;
        }
        return match snac.message {
            Message::Icbm(Icbm::WarnReply { delta, new_level }) => Ok((delta, new_level)),
            Message::Error { error, .. } => Err(error.code),
            other => panic!("unexpected answer to a warning: {other:?}"),
        };
    }
    panic!("no answer to the warning");
}

/// The next 01/10: (level, warner's screen name and warning level, if named).
async fn expect_evil(c: &mut RawClient) -> (u16, Option<(String, u16)>) {
    let f = c.recv_snac_of(0x0001, 0x0010).await;
    let Message::Oservice(Oservice::EvilNotification(n)) = f.snac().message else {
        panic!("expected 01/10");
    };
    (
        n.level,
        n.warner.map(|u| {
            (
                String::from_utf8_lossy(u.screen_name.as_bytes()).into_owned(),
                u.warning,
            )
        }),
    )
}

/// The warning level in the client's own user info (01/0E → 01/0F).
async fn self_warning(c: &mut RawClient) -> u16 {
    c.send(Message::Oservice(Oservice::SelfInfoQuery)).await;
    let f = c.recv_snac_of(0x0001, 0x000F).await;
    let Message::Oservice(Oservice::SelfInfo(me)) = f.snac().message else {
        panic!("expected 01/0F");
    };
    me.info.warning
}

/// Sends an IM and returns the sender's warning level as the recipient sees it.
async fn im_sender_warning(from: &mut RawClient, to: &mut RawClient, to_name: &str) -> u16 {
    assert_eq!(send_im(from, to_name, "hi").await, Ok(()));
    let f = to.recv_snac_of(0x0004, 0x0007).await;
    let Message::Icbm(Icbm::IncomingIm(m)) = f.snac().message else {
        panic!("expected an IM");
    };
    m.sender.warning
}

#[tokio::test]
async fn warn_end_to_end() {
    let server = start_server(
        config(WarningDecay::NONE),
        &[("Alice", "pw"), ("Bob", "pw"), ("Carol", "pw")],
    )
    .await;
    let addr = server.local_addr();
    // Carol watches Bob (client-side buddy list), to see his level change.
    let (mut carol, _) = legacy_sign_on(
        addr,
        "carol",
        "pw",
        &[Message::Buddy(Buddy::AddBuddies(names(&["Bob"])))],
    )
    .await;
    let (mut alice, _) = legacy_sign_on(addr, "alice", "pw", &[]).await;
    let (mut bob, _) = legacy_sign_on(addr, "bob", "pw", &[]).await;
    assert_eq!(expect_arrival(&mut carol, "bob").await.warning, 0);

    // Nobody may warn someone who has not IMed them.
    assert_eq!(
        warn(&mut alice, "bob", WarnMode::Normal).await,
        Err(ErrorCode::RequestDenied)
    );
    // Nor themselves, nor someone offline or unknown.
    assert_eq!(
        warn(&mut alice, "alice", WarnMode::Normal).await,
        Err(ErrorCode::NotSupportedByHost)
    );
    assert_eq!(
        warn(&mut alice, "nobody", WarnMode::Normal).await,
        Err(ErrorCode::NotLoggedOn)
    );

    // Bob IMs Alice (sees him at 0 %); Alice warns him: +10.0 %.
    assert_eq!(im_sender_warning(&mut bob, &mut alice, "alice").await, 0);
    assert_eq!(warn(&mut alice, "bob", WarnMode::Normal).await, Ok((100, 100)));
    // Bob is told the new level and who warned him (with her own level).
    assert_eq!(expect_evil(&mut bob).await, (100, Some(("Alice".to_owned(), 0))));
    assert_eq!(self_warning(&mut bob).await, 100);
    // Carol, who watches Bob, sees the new level.
    assert_eq!(expect_arrival(&mut carol, "bob").await.warning, 100);
    // It is durable.
    let stored = server.state().store.account("bob").await.unwrap().unwrap();
    assert_eq!(stored.warning, 100);
    assert!(stored.warning_updated > 0);

    // One IM, one warning.
    assert_eq!(
        warn(&mut alice, "bob", WarnMode::Normal).await,
        Err(ErrorCode::RequestDenied)
    );
    // Two more IMs, then an anonymous warning: +3.0 %, no warner in the notice.
    assert_eq!(im_sender_warning(&mut bob, &mut alice, "alice").await, 100);
    assert_eq!(im_sender_warning(&mut bob, &mut alice, "alice").await, 100);
    assert_eq!(warn(&mut alice, "bob", WarnMode::Anonymous).await, Ok((30, 130)));
    assert_eq!(expect_evil(&mut bob).await, (130, None));
    // Bob's user info in his IMs carries the level.
    assert_eq!(im_sender_warning(&mut bob, &mut carol, "carol").await, 130);
    // Carol got an IM from Bob, not Alice: Carol may warn Bob but not Alice.
    assert_eq!(
        warn(&mut carol, "alice", WarnMode::Normal).await,
        Err(ErrorCode::RequestDenied)
    );
    assert_eq!(warn(&mut carol, "bob", WarnMode::Normal).await, Ok((100, 230)));
    assert_eq!(expect_evil(&mut bob).await, (230, Some(("Carol".to_owned(), 0))));

    // The cap: at 99.0 % a warning adds only 1.0 %, and at 100 % nothing more.
    server.state().store.set_warning("bob", 990).await.unwrap();
    assert_eq!(im_sender_warning(&mut bob, &mut alice, "alice").await, 230);
    assert_eq!(warn(&mut alice, "bob", WarnMode::Normal).await, Ok((10, 1000)));
    assert_eq!(expect_evil(&mut bob).await.0, 1000);
    assert_eq!(im_sender_warning(&mut bob, &mut alice, "alice").await, 1000);
    assert_eq!(
        warn(&mut alice, "bob", WarnMode::Normal).await,
        Err(ErrorCode::RequestDenied)
    );
    assert_eq!(
        server.state().store.account("bob").await.unwrap().unwrap().warning,
        1000
    );

    // The level survives a new sign-on (it lives in the store).
    drop(bob);
    presence_support::wait_gone(&server, "bob").await;
    let (mut bob, _) = legacy_sign_on(addr, "bob", "pw", &[]).await;
    assert_eq!(self_warning(&mut bob).await, 1000);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn blocked_and_bot_victims_cannot_be_warned() {
    let server = start_server(config(WarningDecay::NONE), &[("Alice", "pw"), ("Bob", "pw")]).await;
    let addr = server.local_addr();
    let credentials = make_credentials(b"pw", &ServerConfig::for_tests().argon2, true).unwrap();
    server
        .state()
        .store
        .create_account(NewAccount {
            screen_name: "HelperBot".into(),
            credentials,
            bot: true,
        })
        .await
        .unwrap();
    let (mut alice, _) = legacy_sign_on(addr, "alice", "pw", &[]).await;
    let (mut bob, _) = legacy_sign_on(addr, "bob", "pw", &[]).await;
    let (mut bot, _) = legacy_sign_on(addr, "helperbot", "pw", &[]).await;
    assert_eq!(send_im(&mut bot, "alice", "beep").await, Ok(()));
    assert_eq!(
        warn(&mut alice, "helperbot", WarnMode::Normal).await,
        Err(ErrorCode::RequestDenied)
    );

    // Bob IMs Alice, then Alice blocks Bob: he is "not logged on" to her, warnings included.
    assert_eq!(send_im(&mut bob, "alice", "hello").await, Ok(()));
    alice
        .send(Message::Pd(flapjack_wire::family::pd::Pd::AddDeny(names(&["bob"]))))
        .await;
    presence_support::barrier(&mut alice).await;
    assert_eq!(
        warn(&mut alice, "bob", WarnMode::Normal).await,
        Err(ErrorCode::NotLoggedOn)
    );
    // Unblocked, the credit from his IM is still there.
    alice
        .send(Message::Pd(flapjack_wire::family::pd::Pd::DelDeny(names(&["bob"]))))
        .await;
    presence_support::barrier(&mut alice).await;
    assert_eq!(warn(&mut alice, "bob", WarnMode::Normal).await, Ok((100, 100)));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn levels_decay_on_read() {
    // 1.0 % per second: a tenth every 100 ms.
    let server = start_server(
        config(WarningDecay::per_percent(Duration::from_secs(1))),
        &[("Alice", "pw"), ("Bob", "pw")],
    )
    .await;
    let addr = server.local_addr();
    let (mut alice, _) = legacy_sign_on(addr, "alice", "pw", &[]).await;
    let (mut bob, _) = legacy_sign_on(addr, "bob", "pw", &[]).await;
    assert_eq!(send_im(&mut bob, "alice", "hello").await, Ok(()));
    let (delta, level) = warn(&mut alice, "bob", WarnMode::Normal).await.unwrap();
    assert_eq!((delta, level), (100, 100));
    let stored = Arc::new(server.state().store.account("bob").await.unwrap().unwrap());
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    // At least two whole seconds (−2.0 %) have passed; less than the full 10 seconds.
    let now = self_warning(&mut bob).await;
    assert!((1..=80).contains(&now), "decayed to {now}");
    // Decay is applied on read: the store still holds the level as set, with its time.
    let again = server.state().store.account("bob").await.unwrap().unwrap();
    assert_eq!(
        (again.warning, again.warning_updated),
        (stored.warning, stored.warning_updated)
    );
    // A new warning starts from the decayed level.
    assert_eq!(send_im(&mut bob, "alice", "hello again").await, Ok(()));
    let (delta, level) = warn(&mut alice, "bob", WarnMode::Normal).await.unwrap();
    assert_eq!(delta, 100);
    assert!((101..=180).contains(&level), "new level {level}");
    server.shutdown().await.unwrap();
}
