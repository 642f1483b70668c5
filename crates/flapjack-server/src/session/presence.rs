//! Per-session presence state: the buddy lists a session watches, its permit/deny settings,
//! and what it shows others (profile, away message, capabilities, status extras).
//!
//! This is plain data; the fan-out that acts on it lives in `services::presence`.

use std::collections::HashSet;

use flapjack_wire::Capability;

/// Permit/deny modes, as on the wire (feedbag attribute 0x00CA, PD family).
pub use crate::store::pd_mode;

/// Someone's permit/deny settings: who may see them online and message them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privacy {
    /// The mode ([`pd_mode`]).
    pub mode: u8,
    /// The permit list (normalized names), used in [`pd_mode::PERMIT_SOME`].
    pub permit: HashSet<String>,
    /// The deny list (normalized names), used in [`pd_mode::DENY_SOME`].
    pub deny: HashSet<String>,
    /// Temporary permits (PD 0x000A): allowed whatever the mode.
    pub temp_permit: HashSet<String>,
    /// User classes allowed (feedbag attribute 0x00CB, PD 0x0004); 0 means no restriction.
    pub class_mask: u32,
}

impl Default for Privacy {
    fn default() -> Self {
        Self {
            mode: pd_mode::PERMIT_ALL,
            permit: HashSet::new(),
            deny: HashSet::new(),
            temp_permit: HashSet::new(),
            class_mask: u32::MAX,
        }
    }
}

impl Privacy {
    /// Whether the owner of these settings (normalized `owner`) lets `other` see and message
    /// them. `other_class` is the other user's class flags (without the away bit) and
    /// `on_buddy_list` says whether `other` is on the owner's buddy list (for
    /// [`pd_mode::PERMIT_ON_LIST`]). Nobody blocks themselves.
    pub fn allows(&self, owner: &str, other: &str, other_class: u16, on_buddy_list: bool) -> bool {
        if owner == other || self.temp_permit.contains(other) {
            return true;
        }
        if self.class_mask != 0 && self.class_mask & u32::from(other_class) == 0 {
            return false;
        }
        match self.mode {
            pd_mode::DENY_ALL => false,
            pd_mode::PERMIT_SOME => self.permit.contains(other),
            pd_mode::DENY_SOME => !self.deny.contains(other),
            pd_mode::PERMIT_ON_LIST => on_buddy_list,
            // PERMIT_ALL and anything unknown.
            _ => true,
        }
    }

    /// The names whose standing may differ between `self` and `other`: `None` when the mode
    /// or the class mask changed (anyone may be affected), else the names added to or removed
    /// from a list.
    pub fn changed_names(&self, other: &Privacy) -> Option<HashSet<String>> {
        if self.mode != other.mode || self.class_mask != other.class_mask {
            return None;
        }
        let mut names = HashSet::new();
        for (a, b) in [
            (&self.permit, &other.permit),
            (&self.deny, &other.deny),
            (&self.temp_permit, &other.temp_permit),
        ] {
            names.extend(a.symmetric_difference(b).cloned());
        }
        Some(names)
    }
}

/// The buddy lists a session watches (normalized names), by where they came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuddyLists {
    /// Buddies of the activated feedbag (FEEDBAG 0x0007 use).
    pub feedbag: HashSet<String>,
    /// Buddies added with BUDDY 0x0004 (client-side lists).
    pub legacy: HashSet<String>,
    /// Temporary buddies (BUDDY 0x000F).
    pub temp: HashSet<String>,
}

impl BuddyLists {
    /// True when `name` is on any of the lists.
    pub fn contains(&self, name: &str) -> bool {
        self.feedbag.contains(name) || self.legacy.contains(name) || self.temp.contains(name)
    }

    /// True when `name` is on a permanent list (feedbag or legacy), as "permit buddy list only"
    /// counts it.
    pub fn on_list(&self, name: &str) -> bool {
        self.feedbag.contains(name) || self.legacy.contains(name)
    }

    /// Every watched name.
    pub fn all(&self) -> HashSet<String> {
        let mut all = self.feedbag.clone();
        all.extend(self.legacy.iter().cloned());
        all.extend(self.temp.iter().cloned());
        all
    }
}

/// What a session shows others and whom it watches.
#[derive(Debug, Clone, Default)]
pub struct PresenceState {
    /// Presence runs for this session: it was announced and it receives buddy notifications
    /// (set once the client is ready and its permit/deny settings are loaded).
    pub live: bool,
    /// Watchers were last told this account is online (cleared by a departure).
    pub announced: bool,
    /// The permit/deny settings were loaded from the stored feedbag.
    pub privacy_loaded: bool,
    /// The client activated its feedbag (FEEDBAG 0x0007).
    pub feedbag_active: bool,
    /// Effective permit/deny settings.
    pub privacy: Privacy,
    /// Watched names.
    pub buddies: BuddyLists,
    /// Profile MIME type (LOCATE TLV 0x0001).
    pub profile_mime: Option<Vec<u8>>,
    /// Profile body (LOCATE TLV 0x0002).
    pub profile: Option<Vec<u8>>,
    /// Away message MIME type (LOCATE TLV 0x0003).
    pub away_mime: Option<Vec<u8>>,
    /// Away message (LOCATE TLV 0x0004); `Some` exactly while away.
    pub away_message: Option<Vec<u8>>,
    /// Capabilities (LOCATE TLV 0x0005), shown as user-info TLV 0x000D.
    pub capabilities: Vec<Capability>,
    /// ICQ direct-connection info (OSERVICE 0x001E TLV 0x000C), shown as user-info TLV 0x000C.
    pub dc_info: Option<Vec<u8>>,
    /// BART list with the status ("available") message (OSERVICE 0x001E TLV 0x001D), shown as
    /// user-info TLV 0x001D.
    pub bart_info: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn modes() {
        let mut p = Privacy::default();
        assert!(p.allows("me", "bob", 0x10, false));
        p.mode = pd_mode::DENY_ALL;
        assert!(!p.allows("me", "bob", 0x10, true));
        assert!(p.allows("me", "me", 0x10, false), "nobody blocks themselves");
        p.mode = pd_mode::PERMIT_SOME;
        p.permit = set(&["bob"]);
        assert!(p.allows("me", "bob", 0x10, false));
        assert!(!p.allows("me", "carol", 0x10, false));
        p.mode = pd_mode::DENY_SOME;
        p.deny = set(&["carol"]);
        assert!(p.allows("me", "bob", 0x10, false));
        assert!(!p.allows("me", "carol", 0x10, false));
        p.mode = pd_mode::PERMIT_ON_LIST;
        assert!(p.allows("me", "carol", 0x10, true));
        assert!(!p.allows("me", "bob", 0x10, false));
        p.temp_permit = set(&["bob"]);
        assert!(p.allows("me", "bob", 0x10, false));
        p.mode = pd_mode::PERMIT_ALL;
        p.class_mask = 0x0004;
        assert!(!p.allows("me", "dave", 0x10, false), "AOL members only");
        assert!(p.allows("me", "dave", 0x04, false));
        p.class_mask = 0;
        assert!(p.allows("me", "dave", 0x10, false));
    }

    #[test]
    fn user_info_block() {
        use crate::session::{Outbox, Session, SessionInfo};
        use flapjack_wire::userinfo::class;

        let (outbox, _rx) = Outbox::new(4);
        let info = SessionInfo {
            screen_name: "Robo Bot".into(),
            normalized: "robobot".into(),
            created_at: 1_000,
            signon_time: 2_000,
            bot: true,
            tls: false,
        };
        let session = Session::new(info, outbox, 150);
        session.with_state(|s| {
            s.away = true;
            s.idle_since = Some(2_000);
            s.status = Some(0x0002_0000);
            s.presence.capabilities = vec![Capability::CHAT];
            s.presence.bart_info = Some(vec![0, 2, 4, 0]);
        });
        let u = session.user_info(2_000 + 25 * 60);
        assert_eq!(u.screen_name.as_bytes(), b"Robo Bot");
        assert_eq!(u.warning, 150);
        assert_eq!(u.class(), class::AIM | class::BOT | class::AWAY);
        assert_eq!(u.idle_minutes(), Some(25));
        assert_eq!(u.signon_time(), Some(2_000));
        assert_eq!(u.status(), Some(0x0002_0000));
        assert_eq!(u.capabilities(), vec![Capability::CHAT]);
        assert_eq!(u.tlvs.get(0x001D), Some(&[0u8, 2, 4, 0][..]));
        // Twisted unpacks these with fixed sizes.
        for (tag, len) in [
            (0x0001, 2),
            (0x0003, 4),
            (0x0004, 2),
            (0x0005, 4),
            (0x0006, 4),
            (0x000F, 4),
        ] {
            assert_eq!(u.tlvs.get(tag).map(<[u8]>::len), Some(len), "TLV {tag:#06x}");
        }
        assert_eq!(session.base_class(), class::AIM | class::BOT);
    }

    #[test]
    fn changed_names() {
        let a = Privacy::default();
        let mut b = a.clone();
        b.deny = set(&["x"]);
        assert_eq!(a.changed_names(&b), Some(set(&["x"])));
        b.mode = pd_mode::DENY_SOME;
        assert_eq!(a.changed_names(&b), None);
    }
}
