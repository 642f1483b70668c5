//! The SQLite [`Store`]: one connection owned by a dedicated thread.
//!
//! Async callers send closures to the thread and await a oneshot reply, so no blocking SQLite
//! call ever runs on the async reactor. The database is in WAL mode with `synchronous=FULL`: a
//! commit is fsynced before the call returns, so a change acknowledged is durable. Numbered
//! migrations ([`MIGRATIONS`]) are applied at open, tracked by `PRAGMA user_version`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use flapjack_auth::bucp::Md5Verifiers;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tokio::sync::oneshot;

use super::{
    Account, Credentials, FeedbagEdit, NewAccount, OfflineMessage, Profile, SignOnRead, Store, StoreError, StoreFuture,
    StoredFeedbag, StoredItem,
};

/// The schema, one migration per entry; entry `n` brings `user_version` from `n` to `n + 1`.
/// Never edit a published entry: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: accounts, MD5 verifiers, feedbag, offline messages, profiles.
    r#"
    CREATE TABLE accounts (
        id               INTEGER PRIMARY KEY,
        normalized       TEXT    NOT NULL UNIQUE,
        screen_name      TEXT    NOT NULL,
        password_hash    TEXT    NOT NULL,
        bot              INTEGER NOT NULL DEFAULT 0,
        created_at       INTEGER NOT NULL,
        warning          INTEGER NOT NULL DEFAULT 0,
        pd_mode          INTEGER NOT NULL DEFAULT 1,
        feedbag_modified INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE md5_verifiers (
        account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        auth_key   TEXT    NOT NULL,
        strong     BLOB    NOT NULL,
        weak       BLOB    NOT NULL
    ) STRICT;
    CREATE TABLE feedbag_items (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        group_id   INTEGER NOT NULL,
        item_id    INTEGER NOT NULL,
        class_id   INTEGER NOT NULL,
        name       BLOB    NOT NULL,
        attributes BLOB    NOT NULL,
        PRIMARY KEY (account_id, group_id, item_id)
    ) STRICT;
    CREATE TABLE offline_messages (
        id           INTEGER PRIMARY KEY,
        recipient_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        sender       TEXT    NOT NULL,
        sent_at      INTEGER NOT NULL,
        cookie       BLOB    NOT NULL,
        channel      INTEGER NOT NULL,
        tlvs         BLOB    NOT NULL
    ) STRICT;
    CREATE INDEX offline_by_recipient ON offline_messages(recipient_id, id);
    CREATE TABLE profiles (
        account_id   INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        profile_mime BLOB,
        profile      BLOB,
        away_mime    BLOB,
        away         BLOB
    ) STRICT;
    "#,
    // 2: feedbag items by class (permit/deny lookups for offline recipients).
    r#"
    CREATE INDEX feedbag_items_by_class ON feedbag_items(account_id, class_id, group_id, item_id);
    "#,
    // 3: when the warning level was last set (it decays from then, applied on read).
    r#"
    ALTER TABLE accounts ADD COLUMN warning_updated INTEGER NOT NULL DEFAULT 0;
    "#,
];

/// Options for [`SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Most offline messages kept per recipient.
    pub max_offline_per_recipient: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_offline_per_recipient: 100,
        }
    }
}

type Job = Box<dyn FnOnce(&mut Connection, &SqliteOptions) + Send>;

enum Command {
    Run(Job),
    Close(oneshot::Sender<Result<(), StoreError>>),
}

/// A SQLite-backed [`Store`]. Dropping it closes the database (after pending calls finish).
pub struct SqliteStore {
    tx: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
    epochs: Epochs,
}

/// Counters of the writes queued through this store, per name bucket
/// ([`Store::feedbag_epoch`], [`Store::offline_epoch`]). A write bumps its bucket before its
/// job is queued, and the store thread runs jobs in queue order, so a read queued while a
/// bucket held `n` saw every write that bucket counted up to `n`.
///
/// The bump (or a read's snapshot) and the queueing happen together under `order`: otherwise a
/// read could count a write whose job is queued after its own.
struct Epochs {
    order: Mutex<()>,
    feedbag: Box<[AtomicU64]>,
    offline: Box<[AtomicU64]>,
}

/// Buckets per counter: names sharing one only cost each other a re-read.
const EPOCH_BUCKETS: usize = 256;

impl Epochs {
    fn new() -> Self {
        let buckets = || (0..EPOCH_BUCKETS).map(|_| AtomicU64::new(0)).collect();
        Self {
            order: Mutex::new(()),
            feedbag: buckets(),
            offline: buckets(),
        }
    }

    fn order(&self) -> MutexGuard<'_, ()> {
        self.order.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bucket(name: &str) -> usize {
        // FNV-1a: cheap, and spreads names that differ in their last characters.
        let mut h: u32 = 0x811C_9DC5;
        for &b in name.as_bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        (h as usize) % EPOCH_BUCKETS
    }

    fn read(counters: &[AtomicU64], name: &str) -> u64 {
        counters[Self::bucket(name)].load(Ordering::Acquire)
    }

    fn bump(counters: &[AtomicU64], name: &str) {
        counters[Self::bucket(name)].fetch_add(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    ///
    /// This blocks while the schema is prepared; call it before serving, or from
    /// `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let conn = Connection::open(path.as_ref()).map_err(backend)?;
        Self::start(conn, options)
    }

    /// An in-memory database (tests).
    pub fn open_in_memory(options: SqliteOptions) -> Result<Self, StoreError> {
        Self::start(Connection::open_in_memory().map_err(backend)?, options)
    }

    fn start(mut conn: Connection, options: SqliteOptions) -> Result<Self, StoreError> {
        prepare(&mut conn).map_err(backend)?;
        let (tx, rx) = mpsc::channel::<Command>();
        let thread = std::thread::Builder::new()
            .name("flapjack-sqlite".into())
            .spawn(move || run(conn, rx, options))
            .map_err(|e| StoreError::Backend(format!("cannot start the store thread: {e}")))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            epochs: Epochs::new(),
        })
    }

    /// Runs `f` on the store thread and awaits its result.
    fn call<T, F>(&self, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &SqliteOptions) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let sent = self.tx.as_ref().map(|tx| {
            tx.send(Command::Run(Box::new(
                move |conn: &mut Connection, options: &SqliteOptions| {
                    let _ = reply.send(f(conn, options));
                },
            )))
        });
        Box::pin(async move {
            match sent {
                Some(Ok(())) => rx.await.map_err(|_| StoreError::Closed)?,
                _ => Err(StoreError::Closed),
            }
        })
    }

    /// As [`call`](Self::call) for a write that changes `feedbag` and/or `offline` state of
    /// those names: their counters are bumped as the job is queued ([`Epochs`]).
    fn call_counted<T, F>(&self, feedbag: Option<&str>, offline: Option<&str>, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &SqliteOptions) -> Result<T, StoreError> + Send + 'static,
    {
        let _order = self.epochs.order();
        if let Some(name) = feedbag {
            Epochs::bump(&self.epochs.feedbag, name);
        }
        if let Some(name) = offline {
            Epochs::bump(&self.epochs.offline, name);
        }
        self.call(f)
    }
}

/// Runs `f` in one read transaction (one snapshot of the database), with the `BEGIN` and
/// `COMMIT` statements cached (a `rusqlite::Transaction` parses them again every time).
fn read_tx<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
    run_cached(conn, "BEGIN")?;
    let result = f(conn);
    let ended = run_cached(conn, if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
    if !conn.is_autocommit() {
        // The end failed: never leave the transaction open.
        let _ = run_cached(conn, "ROLLBACK");
    }
    let value = result?;
    ended.map(|()| value)
}

/// Runs a statement without parameters or rows, through the statement cache.
fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(backend)
}

fn prepare(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // journal_mode returns a row; in-memory databases answer "memory".
    let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
    // Query-planner stability: plans never depend on bound values. Otherwise SQLite marks a
    // statement whose plan peeked at a parameter (SQLite 3.5x does this for small integers,
    // among others) to be re-prepared when its bindings change, and the statement cache clears
    // bindings on every return: every cached statement was recompiled on every use (over half
    // of this thread's time during a login storm).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // Room for every statement this store prepares (rusqlite keeps 16 by default, fewer than
    // there are: the least recently used would be prepared again and again).
    conn.set_prepared_statement_cache_capacity(64);
    migrate(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied store migration");
    }
    Ok(())
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Command>, options: SqliteOptions) {
    while let Ok(cmd) = rx.recv() {
        match cmd {
            Command::Run(job) => job(&mut conn, &options),
            Command::Close(done) => {
                let r = checkpoint(&conn);
                let _ = done.send(r);
                break;
            }
        }
    }
    if let Err(e) = checkpoint(&conn) {
        tracing::warn!(error = %e, "store checkpoint at close failed");
    }
}

fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(backend)
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel ends the thread after the queued calls; wait for the final
        // checkpoint so that a reopen sees a tidy database.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The columns [`account_from_row`] reads, in its order (a macro, so that queries stay literals).
macro_rules! account_columns {
    () => {
        "a.id, a.screen_name, a.normalized, a.password_hash, a.bot, a.created_at, a.warning, \
         a.pd_mode, m.auth_key, m.strong, m.weak, a.warning_updated"
    };
}
/// How many columns [`account_columns!`] lists.
const ACCOUNT_COLUMN_COUNT: usize = 12;

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    let auth_key: Option<String> = r.get(8)?;
    let strong: Option<Vec<u8>> = r.get(9)?;
    let weak: Option<Vec<u8>> = r.get(10)?;
    let md5 = match (auth_key, strong, weak) {
        (Some(auth_key), Some(strong), Some(weak)) => match (strong.try_into(), weak.try_into()) {
            (Ok(strong), Ok(weak)) => Some(Md5Verifiers { auth_key, strong, weak }),
            _ => None,
        },
        _ => None,
    };
    Ok(Account {
        id: r.get(0)?,
        screen_name: r.get(1)?,
        normalized: r.get(2)?,
        credentials: Credentials {
            password_hash: r.get(3)?,
            md5,
        },
        bot: r.get::<_, i64>(4)? != 0,
        created_at: r.get(5)?,
        warning: r.get::<_, i64>(6)?.clamp(0, 1000) as u16,
        pd_mode: r.get::<_, i64>(7)?.clamp(0, 255) as u8,
        warning_updated: r.get(11)?,
    })
}

fn get_account(conn: &Connection, name: &str) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts a LEFT JOIN md5_verifiers m ON m.account_id = a.id WHERE a.normalized = ?1"
    ))?
    .query_row([name], account_from_row)
    .optional()
}

/// The account's feedbag items, ordered by (group id, item id).
fn feedbag_items(conn: &Connection, id: i64) -> Result<Vec<StoredItem>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT group_id, item_id, class_id, name, attributes FROM feedbag_items \
             WHERE account_id = ?1 ORDER BY group_id, item_id",
        )
        .map_err(backend)?;
    let rows = stmt.query_map([id], item_from_row).map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

fn item_from_row(r: &Row<'_>) -> rusqlite::Result<StoredItem> {
    Ok(StoredItem {
        group_id: r.get::<_, i64>(0)? as u16,
        item_id: r.get::<_, i64>(1)? as u16,
        class_id: r.get::<_, i64>(2)? as u16,
        name: r.get(3)?,
        attributes: r.get(4)?,
    })
}

fn account_id(conn: &Connection, name: &str) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT id FROM accounts WHERE normalized = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
        .map_err(backend)?
        .ok_or_else(|| StoreError::NoSuchAccount(name.to_owned()))
}

fn write_md5(conn: &Connection, id: i64, md5: Option<&Md5Verifiers>) -> rusqlite::Result<()> {
    match md5 {
        Some(v) => conn.execute(
            "INSERT INTO md5_verifiers (account_id, auth_key, strong, weak) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(account_id) DO UPDATE SET auth_key = excluded.auth_key, strong = excluded.strong, \
             weak = excluded.weak",
            params![id, v.auth_key, &v.strong[..], &v.weak[..]],
        )?,
        None => conn.execute("DELETE FROM md5_verifiers WHERE account_id = ?1", [id])?,
    };
    Ok(())
}

/// The next feedbag timestamp: now, but strictly after the previous one so that a client
/// comparing timestamps always sees a change.
fn touch_feedbag(conn: &Connection, id: i64) -> rusqlite::Result<i64> {
    let prev: i64 = conn.query_row("SELECT feedbag_modified FROM accounts WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    let ts = now().max(prev + 1);
    conn.execute(
        "UPDATE accounts SET feedbag_modified = ?2 WHERE id = ?1",
        params![id, ts],
    )?;
    Ok(ts)
}

fn update_account(conn: &Connection, name: &str, sql: &str, value: i64) -> Result<(), StoreError> {
    let n = conn.execute(sql, params![name, value]).map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NoSuchAccount(name.to_owned()));
    }
    Ok(())
}

impl Store for SqliteStore {
    fn create_account(&self, account: NewAccount) -> StoreFuture<'_, Account> {
        self.call(move |conn, _| {
            let normalized = flapjack_wire::types::normalize_screen_name(account.screen_name.as_bytes());
            let tx = conn.transaction().map_err(backend)?;
            let inserted = tx.execute(
                "INSERT INTO accounts (normalized, screen_name, password_hash, bot, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(normalized) DO NOTHING",
                params![
                    normalized,
                    account.screen_name,
                    account.credentials.password_hash,
                    account.bot as i64,
                    now()
                ],
            );
            if inserted.map_err(backend)? == 0 {
                return Err(StoreError::AccountExists(normalized));
            }
            let id = tx.last_insert_rowid();
            write_md5(&tx, id, account.credentials.md5.as_ref()).map_err(backend)?;
            tx.commit().map_err(backend)?;
            get_account(conn, &normalized)
                .map_err(backend)?
                .ok_or(StoreError::NoSuchAccount(normalized))
        })
    }

    fn account(&self, name: &str) -> StoreFuture<'_, Option<Account>> {
        let name = name.to_owned();
        self.call(move |conn, _| get_account(conn, &name).map_err(backend))
    }

    fn list_accounts(&self) -> StoreFuture<'_, Vec<Account>> {
        self.call(|conn, _| {
            let mut stmt = conn
                .prepare_cached(concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM accounts a LEFT JOIN md5_verifiers m ON m.account_id = a.id ORDER BY a.normalized"
                ))
                .map_err(backend)?;
            let rows = stmt.query_map([], account_from_row).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
    }

    fn set_credentials(&self, name: &str, credentials: Credentials) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            let tx = conn.transaction().map_err(backend)?;
            let id = account_id(&tx, &name)?;
            tx.execute(
                "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
                params![id, credentials.password_hash],
            )
            .map_err(backend)?;
            write_md5(&tx, id, credentials.md5.as_ref()).map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }

    fn set_bot(&self, name: &str, bot: bool) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            update_account(
                conn,
                &name,
                "UPDATE accounts SET bot = ?2 WHERE normalized = ?1",
                bot as i64,
            )
        })
    }

    fn delete_account(&self, name: &str) -> StoreFuture<'_, bool> {
        let owned = name.to_owned();
        self.call_counted(Some(name), Some(name), move |conn, _| {
            let name = owned;
            let n = conn
                .execute("DELETE FROM accounts WHERE normalized = ?1", [&name])
                .map_err(backend)?;
            Ok(n > 0)
        })
    }

    fn sign_on(&self, name: &str) -> StoreFuture<'_, Option<SignOnRead>> {
        // The snapshot and the queueing under the order lock (see `Epochs`).
        let _order = self.epochs.order();
        let feedbag_epoch = Some(Epochs::read(&self.epochs.feedbag, name));
        let offline_epoch = Some(Epochs::read(&self.epochs.offline, name));
        let name = name.to_owned();
        self.call(move |conn, _| {
            read_tx(conn, |conn| {
                let row = conn
                    .prepare_cached(concat!(
                        "SELECT ",
                        account_columns!(),
                        ", a.feedbag_modified, \
                         EXISTS (SELECT 1 FROM offline_messages o WHERE o.recipient_id = a.id) \
                         FROM accounts a LEFT JOIN md5_verifiers m ON m.account_id = a.id WHERE a.normalized = ?1"
                    ))
                    .and_then(|mut s| {
                        s.query_row([&name], |r| {
                            Ok((
                                account_from_row(r)?,
                                r.get::<_, i64>(ACCOUNT_COLUMN_COUNT)?,
                                r.get::<_, bool>(ACCOUNT_COLUMN_COUNT + 1)?,
                            ))
                        })
                        .optional()
                    })
                    .map_err(backend)?;
                let Some((account, last_modified, offline_waiting)) = row else {
                    return Ok(None);
                };
                let items = feedbag_items(conn, account.id)?;
                Ok(Some(SignOnRead {
                    account,
                    feedbag: StoredFeedbag { items, last_modified },
                    offline_waiting,
                    feedbag_epoch,
                    offline_epoch,
                }))
            })
        })
    }

    fn feedbag_epoch(&self, name: &str) -> Option<u64> {
        Some(Epochs::read(&self.epochs.feedbag, name))
    }

    fn offline_epoch(&self, name: &str) -> Option<u64> {
        Some(Epochs::read(&self.epochs.offline, name))
    }

    fn feedbag(&self, name: &str) -> StoreFuture<'_, StoredFeedbag> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            read_tx(conn, |conn| {
                let row = conn
                    .prepare_cached("SELECT id, feedbag_modified FROM accounts WHERE normalized = ?1")
                    .and_then(|mut s| {
                        s.query_row([&name], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                            .optional()
                    })
                    .map_err(backend)?;
                let Some((id, last_modified)) = row else {
                    return Err(StoreError::NoSuchAccount(name));
                };
                let items = feedbag_items(conn, id)?;
                Ok(StoredFeedbag { items, last_modified })
            })
        })
    }

    fn put_feedbag_items(&self, name: &str, items: Vec<StoredItem>) -> StoreFuture<'_, i64> {
        let owned = name.to_owned();
        self.call_counted(Some(name), None, move |conn, _| {
            let name = owned;
            let tx = conn.transaction().map_err(backend)?;
            let id = account_id(&tx, &name)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO feedbag_items (account_id, group_id, item_id, class_id, name, attributes) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(account_id, group_id, item_id) DO UPDATE SET \
                         class_id = excluded.class_id, name = excluded.name, attributes = excluded.attributes",
                    )
                    .map_err(backend)?;
                for item in &items {
                    stmt.execute(params![
                        id,
                        item.group_id,
                        item.item_id,
                        item.class_id,
                        item.name,
                        item.attributes
                    ])
                    .map_err(backend)?;
                }
            }
            let ts = touch_feedbag(&tx, id).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(ts)
        })
    }

    fn delete_feedbag_items(&self, name: &str, keys: Vec<(u16, u16)>) -> StoreFuture<'_, i64> {
        let owned = name.to_owned();
        self.call_counted(Some(name), None, move |conn, _| {
            let name = owned;
            let tx = conn.transaction().map_err(backend)?;
            let id = account_id(&tx, &name)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "DELETE FROM feedbag_items WHERE account_id = ?1 AND group_id = ?2 AND item_id = ?3",
                    )
                    .map_err(backend)?;
                for (group, item) in &keys {
                    stmt.execute(params![id, group, item]).map_err(backend)?;
                }
            }
            let ts = touch_feedbag(&tx, id).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(ts)
        })
    }

    fn set_pd_mode(&self, name: &str, mode: u8) -> StoreFuture<'_, ()> {
        let owned = name.to_owned();
        self.call_counted(Some(name), None, move |conn, _| {
            let name = owned;
            update_account(
                conn,
                &name,
                "UPDATE accounts SET pd_mode = ?2 WHERE normalized = ?1",
                i64::from(mode),
            )
        })
    }

    fn apply_feedbag_edit(&self, name: &str, edit: FeedbagEdit) -> StoreFuture<'_, i64> {
        let owned = name.to_owned();
        self.call_counted(Some(name), None, move |conn, _| {
            let name = owned;
            let tx = conn.transaction().map_err(backend)?;
            let id = account_id(&tx, &name)?;
            {
                let mut del = tx
                    .prepare_cached(
                        "DELETE FROM feedbag_items WHERE account_id = ?1 AND group_id = ?2 AND item_id = ?3",
                    )
                    .map_err(backend)?;
                for (group, item) in &edit.delete {
                    del.execute(params![id, group, item]).map_err(backend)?;
                }
                let mut put = tx
                    .prepare_cached(
                        "INSERT INTO feedbag_items (account_id, group_id, item_id, class_id, name, attributes) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(account_id, group_id, item_id) DO UPDATE SET \
                         class_id = excluded.class_id, name = excluded.name, attributes = excluded.attributes",
                    )
                    .map_err(backend)?;
                for item in &edit.put {
                    put.execute(params![
                        id,
                        item.group_id,
                        item.item_id,
                        item.class_id,
                        item.name,
                        item.attributes
                    ])
                    .map_err(backend)?;
                }
            }
            if let Some(mode) = edit.pd_mode {
                tx.execute(
                    "UPDATE accounts SET pd_mode = ?2 WHERE id = ?1",
                    params![id, i64::from(mode)],
                )
                .map_err(backend)?;
            }
            let ts = touch_feedbag(&tx, id).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(ts)
        })
    }

    fn feedbag_items_of_classes(&self, name: &str, classes: Vec<u16>) -> StoreFuture<'_, Vec<StoredItem>> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            let id = account_id(conn, &name)?;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT group_id, item_id, class_id, name, attributes FROM feedbag_items \
                     WHERE account_id = ?1 AND class_id = ?2 ORDER BY group_id, item_id",
                )
                .map_err(backend)?;
            let mut items = Vec::new();
            for class in classes {
                let rows = stmt
                    .query_map(params![id, class], |r| {
                        Ok(StoredItem {
                            group_id: r.get::<_, i64>(0)? as u16,
                            item_id: r.get::<_, i64>(1)? as u16,
                            class_id: r.get::<_, i64>(2)? as u16,
                            name: r.get(3)?,
                            attributes: r.get(4)?,
                        })
                    })
                    .map_err(backend)?;
                for row in rows {
                    items.push(row.map_err(backend)?);
                }
            }
            items.sort_by_key(|i| (i.group_id, i.item_id));
            Ok(items)
        })
    }

    fn store_offline_message(&self, message: OfflineMessage) -> StoreFuture<'_, ()> {
        let recipient = message.recipient.clone();
        self.call_counted(None, Some(&recipient), move |conn, options| {
            let tx = conn.transaction().map_err(backend)?;
            let id = account_id(&tx, &message.recipient)?;
            let count: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM offline_messages WHERE recipient_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if count as usize >= options.max_offline_per_recipient {
                return Err(StoreError::QuotaExceeded("offline message box full"));
            }
            tx.execute(
                "INSERT INTO offline_messages (recipient_id, sender, sent_at, cookie, channel, tlvs) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    message.sender,
                    message.sent_at,
                    &message.cookie[..],
                    message.channel,
                    message.tlvs
                ],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }

    fn take_offline_messages(&self, name: &str) -> StoreFuture<'_, Vec<OfflineMessage>> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            let tx = conn.transaction().map_err(backend)?;
            let id = account_id(&tx, &name)?;
            let messages = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT sender, sent_at, cookie, channel, tlvs FROM offline_messages \
                         WHERE recipient_id = ?1 ORDER BY id",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([id], |r| {
                        let cookie: Vec<u8> = r.get(2)?;
                        Ok(OfflineMessage {
                            recipient: name.clone(),
                            sender: r.get(0)?,
                            sent_at: r.get(1)?,
                            cookie: cookie.try_into().unwrap_or_default(),
                            channel: r.get::<_, i64>(3)? as u16,
                            tlvs: r.get(4)?,
                        })
                    })
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)?
            };
            if !messages.is_empty() {
                tx.prepare_cached("DELETE FROM offline_messages WHERE recipient_id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(messages)
        })
    }

    fn set_warning(&self, name: &str, level: u16) -> StoreFuture<'_, ()> {
        self.set_warning_at(name, level, now())
    }

    fn set_warning_at(&self, name: &str, level: u16, at: i64) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            let n = conn
                .execute(
                    "UPDATE accounts SET warning = ?2, warning_updated = ?3 WHERE normalized = ?1",
                    params![name, i64::from(level.min(1000)), at],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NoSuchAccount(name));
            }
            Ok(())
        })
    }

    fn profile(&self, name: &str) -> StoreFuture<'_, Option<Profile>> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            let id = account_id(conn, &name)?;
            conn.prepare_cached("SELECT profile_mime, profile, away_mime, away FROM profiles WHERE account_id = ?1")
                .and_then(|mut s| {
                    s.query_row([id], |r| {
                        Ok(Profile {
                            profile_mime: r.get(0)?,
                            profile: r.get(1)?,
                            away_mime: r.get(2)?,
                            away: r.get(3)?,
                        })
                    })
                    .optional()
                })
                .map_err(backend)
        })
    }

    fn set_profile(&self, name: &str, profile: Profile) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        self.call(move |conn, _| {
            let id = account_id(conn, &name)?;
            conn.execute(
                "INSERT INTO profiles (account_id, profile_mime, profile, away_mime, away) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(account_id) DO UPDATE SET profile_mime = excluded.profile_mime, \
                 profile = excluded.profile, away_mime = excluded.away_mime, away = excluded.away",
                params![
                    id,
                    profile.profile_mime,
                    profile.profile,
                    profile.away_mime,
                    profile.away
                ],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        let (done, rx) = oneshot::channel();
        let sent = self.tx.as_ref().map(|tx| tx.send(Command::Close(done)));
        Box::pin(async move {
            match sent {
                Some(Ok(())) => rx.await.map_err(|_| StoreError::Closed)?,
                _ => Err(StoreError::Closed),
            }
        })
    }
}
