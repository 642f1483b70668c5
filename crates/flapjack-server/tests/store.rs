//! The SQLite store: accounts, credentials, feedbag, permit/deny, offline messages, warnings,
//! profiles, and durability across a reopen.

use std::path::PathBuf;

use flapjack_auth::bucp::{HashKind, Md5Verifiers, client_hash};
use flapjack_auth::password::Argon2Params;
use flapjack_server::credentials::{check_password, make_credentials};
use flapjack_server::store::sqlite::{SqliteOptions, SqliteStore};
use flapjack_server::store::{
    Credentials, NewAccount, OfflineMessage, Profile, Store, StoreError, StoredItem, pd_mode,
};

const CHEAP: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let random: [u8; 8] = flapjack_server::random::random_bytes().unwrap();
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("flapjack-{tag}-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn creds(pw: &str) -> Credentials {
    make_credentials(pw.as_bytes(), &CHEAP, true).unwrap()
}

fn new_account(name: &str, pw: &str) -> NewAccount {
    NewAccount {
        screen_name: name.into(),
        credentials: creds(pw),
        bot: false,
    }
}

#[tokio::test]
async fn accounts_and_credentials() {
    let store = SqliteStore::open_in_memory(SqliteOptions::default()).unwrap();
    let a = store.create_account(new_account("Alice Smith", "pw")).await.unwrap();
    assert_eq!(a.normalized, "alicesmith");
    assert_eq!(a.screen_name, "Alice Smith");
    assert!(a.created_at > 0);
    assert_eq!(a.pd_mode, pd_mode::PERMIT_ALL);
    assert!(check_password(b"pw", &a.credentials));
    assert!(!check_password(b"nope", &a.credentials));
    let md5 = a.credentials.md5.clone().unwrap();
    assert_eq!(md5.auth_key.len(), 32);
    assert_eq!(
        md5.verify(&client_hash(HashKind::Weak, md5.auth_key.as_bytes(), b"pw")),
        Ok(HashKind::Weak)
    );
    assert_eq!(
        store.create_account(new_account("ALICESMITH", "x")).await,
        Err(StoreError::AccountExists("alicesmith".into()))
    );

    // New password: new hash, new auth key; the MD5 verifiers can be dropped.
    store.set_credentials("alicesmith", creds("pw2")).await.unwrap();
    let a2 = store.account("alicesmith").await.unwrap().unwrap();
    assert!(check_password(b"pw2", &a2.credentials));
    assert_ne!(a2.credentials.md5.as_ref().unwrap().auth_key, md5.auth_key);
    let no_md5 = make_credentials(b"pw3", &CHEAP, false).unwrap();
    store.set_credentials("alicesmith", no_md5).await.unwrap();
    assert!(
        store
            .account("alicesmith")
            .await
            .unwrap()
            .unwrap()
            .credentials
            .md5
            .is_none()
    );

    store.set_bot("alicesmith", true).await.unwrap();
    assert!(store.account("alicesmith").await.unwrap().unwrap().bot);
    assert_eq!(
        store.set_bot("nobody", true).await,
        Err(StoreError::NoSuchAccount("nobody".into()))
    );

    store.create_account(new_account("bob", "pw")).await.unwrap();
    let names: Vec<String> = store
        .list_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.normalized)
        .collect();
    assert_eq!(names, ["alicesmith", "bob"]);
    assert!(store.delete_account("bob").await.unwrap());
    assert!(!store.delete_account("bob").await.unwrap());
    assert!(store.account("bob").await.unwrap().is_none());
}

#[tokio::test]
async fn feedbag_pd_mode_warning_profile() {
    let store = SqliteStore::open_in_memory(SqliteOptions::default()).unwrap();
    store.create_account(new_account("alice", "pw")).await.unwrap();
    let empty = store.feedbag("alice").await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.last_modified, 0);

    let group = StoredItem {
        group_id: 1,
        item_id: 0,
        class_id: 1,
        name: b"Buddies".to_vec(),
        attributes: vec![],
    };
    let buddy = StoredItem {
        group_id: 1,
        item_id: 7,
        class_id: 0,
        name: b"bob".to_vec(),
        attributes: vec![0x01, 0x31, 0x00, 0x03, b'B', b'o', b'b'],
    };
    let t1 = store
        .put_feedbag_items("alice", vec![buddy.clone(), group.clone()])
        .await
        .unwrap();
    let bag = store.feedbag("alice").await.unwrap();
    assert_eq!(bag.items, [group.clone(), buddy.clone()]);
    assert_eq!(bag.last_modified, t1);
    // Replacing an item keeps one row; timestamps strictly increase.
    let renamed = StoredItem {
        name: b"Friends".to_vec(),
        ..group.clone()
    };
    let t2 = store.put_feedbag_items("alice", vec![renamed.clone()]).await.unwrap();
    assert!(t2 > t1);
    let t3 = store.delete_feedbag_items("alice", vec![(1, 7)]).await.unwrap();
    assert!(t3 > t2);
    assert_eq!(store.feedbag("alice").await.unwrap().items, [renamed]);
    assert!(matches!(
        store.feedbag("nobody").await,
        Err(StoreError::NoSuchAccount(_))
    ));

    store.set_pd_mode("alice", pd_mode::DENY_SOME).await.unwrap();
    store.set_warning("alice", 250).await.unwrap();
    let a = store.account("alice").await.unwrap().unwrap();
    assert_eq!((a.pd_mode, a.warning), (pd_mode::DENY_SOME, 250));

    assert_eq!(store.profile("alice").await.unwrap(), None);
    let p = Profile {
        profile_mime: Some(b"text/aolrtf; charset=\"us-ascii\"".to_vec()),
        profile: Some(b"<b>hi</b>".to_vec()),
        away_mime: None,
        away: None,
    };
    store.set_profile("alice", p.clone()).await.unwrap();
    assert_eq!(store.profile("alice").await.unwrap(), Some(p));
}

fn offline(to: &str, n: u8) -> OfflineMessage {
    OfflineMessage {
        recipient: to.into(),
        sender: "Bob".into(),
        sent_at: 1_700_000_000 + i64::from(n),
        cookie: [n; 8],
        channel: 1,
        tlvs: vec![0x00, 0x02, 0x00, 0x01, n],
    }
}

#[tokio::test]
async fn offline_messages_are_taken_once_and_capped() {
    let store = SqliteStore::open_in_memory(SqliteOptions {
        max_offline_per_recipient: 2,
    })
    .unwrap();
    store.create_account(new_account("alice", "pw")).await.unwrap();
    store.store_offline_message(offline("alice", 1)).await.unwrap();
    store.store_offline_message(offline("alice", 2)).await.unwrap();
    assert!(matches!(
        store.store_offline_message(offline("alice", 3)).await,
        Err(StoreError::QuotaExceeded(_))
    ));
    assert!(matches!(
        store.store_offline_message(offline("nobody", 1)).await,
        Err(StoreError::NoSuchAccount(_))
    ));
    let got = store.take_offline_messages("alice").await.unwrap();
    assert_eq!(got, [offline("alice", 1), offline("alice", 2)]);
    assert!(store.take_offline_messages("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn changes_survive_a_reopen() {
    let dir = TempDir::new("store");
    let path = dir.0.join("flapjack.sqlite");
    let verifiers: Md5Verifiers;
    {
        let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        let a = store.create_account(new_account("Alice", "pw")).await.unwrap();
        verifiers = a.credentials.md5.unwrap();
        store
            .put_feedbag_items(
                "alice",
                vec![StoredItem {
                    group_id: 0,
                    item_id: 0,
                    class_id: 1,
                    name: vec![],
                    attributes: vec![],
                }],
            )
            .await
            .unwrap();
        store.store_offline_message(offline("alice", 9)).await.unwrap();
        // Dropped without close(): the committed changes must still be there.
    }
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let a = store.account("alice").await.unwrap().expect("account survives");
    assert_eq!(a.credentials.md5.as_ref(), Some(&verifiers));
    assert!(check_password(b"pw", &a.credentials));
    assert_eq!(store.feedbag("alice").await.unwrap().items.len(), 1);
    assert_eq!(
        store.take_offline_messages("alice").await.unwrap(),
        [offline("alice", 9)]
    );
    store.close().await.unwrap();
    assert_eq!(store.account("alice").await, Err(StoreError::Closed));
    drop(store);
    // And once more after an explicit close (migrations are not re-applied).
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert!(store.account("alice").await.unwrap().is_some());
    assert!(store.take_offline_messages("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_sign_on_read_and_the_change_counters() {
    let store = SqliteStore::open_in_memory(SqliteOptions::default()).unwrap();
    assert_eq!(store.sign_on("alice").await.unwrap(), None);
    let a = store.create_account(new_account("Alice", "pw")).await.unwrap();
    store.create_account(new_account("Bob", "pw")).await.unwrap();

    // A fresh account: no feedbag, nothing waiting, the counters as they stand.
    let read = store.sign_on("alice").await.unwrap().expect("alice");
    assert_eq!(read.account, a);
    assert_eq!(read.feedbag, store.feedbag("alice").await.unwrap());
    assert!(read.feedbag.items.is_empty());
    assert!(!read.offline_waiting);
    assert_eq!(read.feedbag_epoch, store.feedbag_epoch("alice"));
    assert_eq!(read.offline_epoch, store.offline_epoch("alice"));

    // Every feedbag write for alice moves her feedbag counter; an offline message moves her
    // offline counter; another account's writes leave hers alone (unless they share a bucket,
    // which costs only a re-read).
    let root = StoredItem {
        group_id: 0,
        item_id: 0,
        class_id: 1,
        name: vec![],
        attributes: vec![],
    };
    let before = store.feedbag_epoch("alice").unwrap();
    store.put_feedbag_items("alice", vec![root.clone()]).await.unwrap();
    let after_put = store.feedbag_epoch("alice").unwrap();
    assert!(after_put > before);
    store.set_pd_mode("alice", pd_mode::DENY_ALL).await.unwrap();
    let after_pd = store.feedbag_epoch("alice").unwrap();
    assert!(after_pd > after_put);
    store.delete_feedbag_items("alice", vec![(9, 9)]).await.unwrap();
    assert!(store.feedbag_epoch("alice").unwrap() > after_pd);
    let offline_before = store.offline_epoch("alice").unwrap();
    store.store_offline_message(offline("alice", 1)).await.unwrap();
    assert!(store.offline_epoch("alice").unwrap() > offline_before);

    let read = store.sign_on("alice").await.unwrap().expect("alice");
    assert_eq!(read.feedbag.items, [root]);
    assert!(read.feedbag.last_modified > 0);
    assert_eq!(read.account.pd_mode, pd_mode::DENY_ALL);
    assert!(read.offline_waiting, "the message waits");
    assert_eq!(read.feedbag_epoch, store.feedbag_epoch("alice"));
    // Reads take nothing: the message is still there.
    assert_eq!(
        store.take_offline_messages("alice").await.unwrap(),
        [offline("alice", 1)]
    );
    assert!(!store.sign_on("alice").await.unwrap().unwrap().offline_waiting);

    // Deleting the account moves both counters.
    let (f, o) = (
        store.feedbag_epoch("alice").unwrap(),
        store.offline_epoch("alice").unwrap(),
    );
    assert!(store.delete_account("alice").await.unwrap());
    assert!(store.feedbag_epoch("alice").unwrap() > f);
    assert!(store.offline_epoch("alice").unwrap() > o);
    assert_eq!(store.sign_on("alice").await.unwrap(), None);
    assert!(store.sign_on("bob").await.unwrap().is_some());
}
