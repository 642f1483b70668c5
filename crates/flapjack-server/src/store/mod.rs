//! The durable state: accounts, feedbag items, permit/deny mode, offline messages, warnings and
//! (when configured) profiles.
//!
//! [`Store`] is deliberately small and object safe (`Arc<dyn Store>`), so a PostgreSQL backend can
//! follow the SQLite one ([`sqlite::SqliteStore`]). Every method returns a boxed future; a
//! method that changes state resolves only after the change is committed durably, so a caller may
//! acknowledge it to a client.
//!
//! Accounts are addressed by their *normalized* screen name (lower case, no spaces:
//! [`flapjack_wire::types::normalize_screen_name`]); the formatted name is kept for display.

pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use flapjack_auth::bucp::Md5Verifiers;

/// The future every [`Store`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What can go wrong in the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// An account with this normalized screen name already exists.
    #[error("account {0:?} already exists")]
    AccountExists(String),
    /// No account has this normalized screen name.
    #[error("no account {0:?}")]
    NoSuchAccount(String),
    /// A per-account limit (e.g. stored offline messages) is reached.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(&'static str),
    /// The store was closed.
    #[error("the store is closed")]
    Closed,
    /// The backend failed (I/O, corruption, a bad migration).
    #[error("store backend: {0}")]
    Backend(String),
}

/// How an account's password is kept: an argon2id PHC string for logins that reveal the
/// cleartext (roasted, OpenAuth), and separately the BUCP MD5 verifiers (absent when MD5 logins
/// are disabled for the account).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// argon2id PHC string.
    pub password_hash: String,
    /// The per-account auth key and precomputed strong / weak BUCP hashes.
    pub md5: Option<Md5Verifiers>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("password_hash", &"<redacted>")
            .field("md5", &self.md5)
            .finish()
    }
}

/// A new account to create.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The screen name as its owner formats it (e.g. `Alice Smith`).
    pub screen_name: String,
    /// Password material.
    pub credentials: Credentials,
    /// A bot account (user class 0x0400).
    pub bot: bool,
}

/// Permit/deny modes (PD family, feedbag item class 4), as on the wire.
pub mod pd_mode {
    /// Everyone may contact the user (the default).
    pub const PERMIT_ALL: u8 = 1;
    /// Nobody may.
    pub const DENY_ALL: u8 = 2;
    /// Only the permit list may.
    pub const PERMIT_SOME: u8 = 3;
    /// Everyone but the deny list may.
    pub const DENY_SOME: u8 = 4;
    /// Only people on the user's buddy list may.
    pub const PERMIT_ON_LIST: u8 = 5;
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Backend row id.
    pub id: i64,
    /// The screen name as formatted.
    pub screen_name: String,
    /// The lookup key.
    pub normalized: String,
    /// Password material.
    pub credentials: Credentials,
    /// A bot account.
    pub bot: bool,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Warning level, tenths of a percent (0..=1000), as set at `warning_updated` (it decays
    /// from then: [`crate::warning::WarningDecay::apply`]).
    pub warning: u16,
    /// Permit/deny mode ([`pd_mode`]).
    pub pd_mode: u8,
    /// When the warning level was last set, Unix seconds (0: never).
    pub warning_updated: i64,
}

/// One feedbag (server-stored buddy list) item, in the store's own form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// Group id (0 for the root group and for items without a group).
    pub group_id: u16,
    /// Item id (0 for a group).
    pub item_id: u16,
    /// Item class (0 buddy, 1 group, 2 permit, 3 deny, 4 PD info, …).
    pub class_id: u16,
    /// Item name bytes (a screen name, a group name, or empty).
    pub name: Vec<u8>,
    /// The item's attribute TLVs, encoded, without the length prefix.
    pub attributes: Vec<u8>,
}

/// An account's whole feedbag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredFeedbag {
    /// The items, ordered by (group id, item id).
    pub items: Vec<StoredItem>,
    /// Last change, Unix seconds (0 for a feedbag never written).
    pub last_modified: i64,
}

/// One atomic feedbag change: items to insert or replace (keyed by group id and item id),
/// items to delete, and the account's permit/deny mode when the PD item changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbagEdit {
    /// Items to insert or replace.
    pub put: Vec<StoredItem>,
    /// (group id, item id) of items to delete.
    pub delete: Vec<(u16, u16)>,
    /// The new permit/deny mode ([`pd_mode`]), if it changed.
    pub pd_mode: Option<u8>,
}

/// An IM kept for a recipient who was offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineMessage {
    /// Normalized screen name of the recipient.
    pub recipient: String,
    /// Formatted screen name of the sender.
    pub sender: String,
    /// When it was sent, Unix seconds.
    pub sent_at: i64,
    /// The ICBM cookie.
    pub cookie: [u8; 8],
    /// The ICBM channel.
    pub channel: u16,
    /// The message TLVs to deliver, encoded (a rest block).
    pub tlvs: Vec<u8>,
}

/// Profile and away message, kept across sessions when the server is configured to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Profile MIME type (LOCATE TLV 0x0001).
    pub profile_mime: Option<Vec<u8>>,
    /// Profile body (TLV 0x0002).
    pub profile: Option<Vec<u8>>,
    /// Away message MIME type (TLV 0x0003).
    pub away_mime: Option<Vec<u8>>,
    /// Away message (TLV 0x0004).
    pub away: Option<Vec<u8>>,
}

/// What a BOS sign-on reads, all in one transaction ([`Store::sign_on`]): the account, its
/// feedbag (for the client's 0x0013/0x0004 query and 0x0007 use, and the permit/deny settings)
/// and whether offline messages wait for it, with the change counters as of the read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOnRead {
    /// The account.
    pub account: Account,
    /// Its feedbag.
    pub feedbag: StoredFeedbag,
    /// True when at least one offline message was stored for it.
    pub offline_waiting: bool,
    /// [`Store::feedbag_epoch`] of the account just before the read was queued: the feedbag
    /// read is still current while the counter has not moved.
    pub feedbag_epoch: Option<u64>,
    /// [`Store::offline_epoch`] of the account just before the read was queued: no offline
    /// message was stored since while the counter has not moved.
    pub offline_epoch: Option<u64>,
}

/// The durable store. All names are normalized screen names.
pub trait Store: Send + Sync + 'static {
    /// Creates an account; fails with [`StoreError::AccountExists`].
    fn create_account(&self, account: NewAccount) -> StoreFuture<'_, Account>;
    /// Looks an account up.
    fn account(&self, name: &str) -> StoreFuture<'_, Option<Account>>;
    /// All accounts, by normalized name.
    fn list_accounts(&self) -> StoreFuture<'_, Vec<Account>>;
    /// Replaces the password material (`md5: None` removes the MD5 verifiers).
    fn set_credentials(&self, name: &str, credentials: Credentials) -> StoreFuture<'_, ()>;
    /// Sets or clears the bot flag.
    fn set_bot(&self, name: &str, bot: bool) -> StoreFuture<'_, ()>;
    /// Deletes an account and everything it owns; `false` if there was none.
    fn delete_account(&self, name: &str) -> StoreFuture<'_, bool>;

    /// Everything a BOS sign-on reads ([`SignOnRead`]) in one transaction; `None` when there is
    /// no such account. The default reads the account and the feedbag one after the other,
    /// reports offline messages as waiting and no change counters (so nothing read is reused).
    fn sign_on(&self, name: &str) -> StoreFuture<'_, Option<SignOnRead>> {
        let name = name.to_owned();
        Box::pin(async move {
            let Some(account) = self.account(&name).await? else {
                return Ok(None);
            };
            let feedbag = match self.feedbag(&name).await {
                Ok(f) => f,
                Err(StoreError::NoSuchAccount(_)) => return Ok(None),
                Err(e) => return Err(e),
            };
            Ok(Some(SignOnRead {
                account,
                feedbag,
                offline_waiting: true,
                feedbag_epoch: None,
                offline_epoch: None,
            }))
        })
    }

    /// A counter of the feedbag (and permit/deny mode) writes asked of this store for `name`
    /// (or for names that share its counter), bumped when the write is queued, before it runs;
    /// `None` when the backend keeps none. A copy of the feedbag read while the counter was at
    /// `n` is current as long as it still reads `n`. Writes made through other connections to
    /// the same database (another process) are not counted.
    fn feedbag_epoch(&self, name: &str) -> Option<u64> {
        let _ = name;
        None
    }

    /// As [`feedbag_epoch`](Self::feedbag_epoch), for the offline messages stored for `name`.
    fn offline_epoch(&self, name: &str) -> Option<u64> {
        let _ = name;
        None
    }

    /// The account's feedbag.
    fn feedbag(&self, name: &str) -> StoreFuture<'_, StoredFeedbag>;
    /// Inserts or replaces items (keyed by group id and item id); returns the new timestamp.
    fn put_feedbag_items(&self, name: &str, items: Vec<StoredItem>) -> StoreFuture<'_, i64>;
    /// Deletes items by (group id, item id); returns the new timestamp.
    fn delete_feedbag_items(&self, name: &str, keys: Vec<(u16, u16)>) -> StoreFuture<'_, i64>;
    /// Sets the permit/deny mode ([`pd_mode`]).
    fn set_pd_mode(&self, name: &str, mode: u8) -> StoreFuture<'_, ()>;
    /// Applies `edit` in one transaction (deletes, then puts, then the PD mode) and returns
    /// the new last-modified timestamp, strictly greater than the previous one. It resolves
    /// only once the change is durable, so the caller may acknowledge it.
    fn apply_feedbag_edit(&self, name: &str, edit: FeedbagEdit) -> StoreFuture<'_, i64>;
    /// The feedbag items of the given classes (e.g. the permit/deny items, to check an offline
    /// recipient's privacy), ordered by (group id, item id).
    fn feedbag_items_of_classes(&self, name: &str, classes: Vec<u16>) -> StoreFuture<'_, Vec<StoredItem>>;

    /// Keeps an IM for an offline recipient ([`StoreError::QuotaExceeded`] when the
    /// recipient's box is full).
    fn store_offline_message(&self, message: OfflineMessage) -> StoreFuture<'_, ()>;
    /// Returns and deletes the recipient's offline messages, oldest first.
    fn take_offline_messages(&self, name: &str) -> StoreFuture<'_, Vec<OfflineMessage>>;

    /// Sets the warning level (tenths of a percent), stamped now.
    fn set_warning(&self, name: &str, level: u16) -> StoreFuture<'_, ()>;
    /// Sets the warning level (tenths of a percent) as of `at` (Unix seconds), the time its
    /// decay runs from. Resolves once durable. The default ignores `at` (stamps now).
    fn set_warning_at(&self, name: &str, level: u16, at: i64) -> StoreFuture<'_, ()> {
        let _ = at;
        self.set_warning(name, level)
    }
    /// The persisted profile, if any.
    fn profile(&self, name: &str) -> StoreFuture<'_, Option<Profile>>;
    /// Persists the profile.
    fn set_profile(&self, name: &str, profile: Profile) -> StoreFuture<'_, ()>;

    /// Flushes everything to stable storage and closes; later calls fail with
    /// [`StoreError::Closed`].
    fn close(&self) -> StoreFuture<'_, ()>;
}

/// Checks a screen name for a new account: an AIM name (3 to 16 characters, a letter first,
/// then letters, digits and single spaces, no trailing space) or an ICQ number (5 to 10
/// digits, not starting with 0).
pub fn validate_screen_name(name: &str) -> Result<(), String> {
    let b = name.as_bytes();
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return if (5..=10).contains(&b.len()) && b[0] != b'0' {
            Ok(())
        } else {
            Err(format!(
                "{name:?}: an ICQ number has 5 to 10 digits and does not start with 0"
            ))
        };
    }
    if !(3..=16).contains(&b.len()) {
        return Err(format!("{name:?}: a screen name has 3 to 16 characters"));
    }
    if !b[0].is_ascii_alphabetic() {
        return Err(format!("{name:?}: a screen name starts with a letter"));
    }
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ') {
        return Err(format!("{name:?}: a screen name has only letters, digits and spaces"));
    }
    if name.ends_with(' ') || name.contains("  ") {
        return Err(format!("{name:?}: no trailing or double spaces"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_screen_name;

    #[test]
    fn screen_names() {
        for ok in ["Alice", "bob", "Foo Bar 9", "123456", "abcdefghijklmnop"] {
            assert!(validate_screen_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "9lives",
            "a_b_c",
            "abc ",
            "a  bc",
            "012345",
            "abcdefghijklmnopq",
            "Zoë",
        ] {
            assert!(validate_screen_name(bad).is_err(), "{bad}");
        }
    }
}
