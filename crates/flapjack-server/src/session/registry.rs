//! The in-process [`Registry`]: a sharded map, one lock per shard, and a sharded reverse index
//! of who watches whom for presence fan-out.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock, Weak};

use bytes::Bytes;

use super::{Registry, Session};

const SHARDS: usize = 64;

/// The hasher of every registry map: foldhash, seeded at random per process (screen names
/// are not secret, but the seed keeps colliding names from being chosen in advance). SipHash,
/// the standard one, was a visible share of the message path.
type Hasher = foldhash::fast::RandomState;
type Shard = RwLock<HashMap<String, Vec<Arc<Session>>, Hasher>>;
/// Watched name → watcher session id → weak session handle.
type WatchShard = RwLock<HashMap<String, HashMap<u64, Weak<Session>>, Hasher>>;

/// Sessions of this process, sharded by a hash of the normalized screen name.
#[derive(Debug)]
pub struct LocalRegistry {
    hasher: Hasher,
    shards: Box<[Shard]>,
    watchers: Box<[WatchShard]>,
}

impl Default for LocalRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self {
            hasher: Hasher::default(),
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::default())).collect(),
            watchers: (0..SHARDS).map(|_| RwLock::new(HashMap::default())).collect(),
        }
    }

    fn shard(&self, name: &str) -> &Shard {
        &self.shards[(self.hasher.hash_one(name) as usize) % SHARDS]
    }

    fn watch_shard(&self, name: &str) -> &WatchShard {
        &self.watchers[(self.hasher.hash_one(name) as usize) % SHARDS]
    }
}

impl Registry for LocalRegistry {
    fn register(&self, session: Arc<Session>) {
        let mut shard = self
            .shard(session.normalized())
            .write()
            .unwrap_or_else(|p| p.into_inner());
        shard.entry(session.normalized().to_owned()).or_default().push(session);
    }

    fn unregister(&self, session: &Session) {
        let mut shard = self
            .shard(session.normalized())
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(list) = shard.get_mut(session.normalized()) {
            list.retain(|s| s.id() != session.id());
            if list.is_empty() {
                shard.remove(session.normalized());
            }
        }
    }

    fn register_replacing(&self, session: Arc<Session>) -> Vec<Arc<Session>> {
        // One write lock: two concurrent single-session sign-ons cannot both survive.
        let mut shard = self
            .shard(session.normalized())
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let list = shard.entry(session.normalized().to_owned()).or_default();
        let older = std::mem::take(list);
        list.push(session);
        older
    }

    fn sessions(&self, normalized: &str) -> Vec<Arc<Session>> {
        self.shard(normalized)
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(normalized)
            .cloned()
            .unwrap_or_default()
    }

    fn with_sessions(&self, normalized: &str, f: &mut dyn FnMut(&[Arc<Session>])) {
        let shard = self.shard(normalized).read().unwrap_or_else(|p| p.into_inner());
        f(shard.get(normalized).map_or(&[], Vec::as_slice));
    }

    fn deliver(&self, normalized: &str, snac: Bytes) -> usize {
        // Push under the read lock: try_send never blocks, and it spares cloning the list.
        let shard = self.shard(normalized).read().unwrap_or_else(|p| p.into_inner());
        let Some(list) = shard.get(normalized) else {
            return 0;
        };
        super::push_to_ready(list, snac)
    }

    fn all(&self) -> Vec<Arc<Session>> {
        self.shards
            .iter()
            .flat_map(|s| {
                s.read()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn watch(&self, watcher: &Arc<Session>, names: &[String]) {
        for name in names {
            let mut shard = self.watch_shard(name).write().unwrap_or_else(|p| p.into_inner());
            shard
                .entry(name.clone())
                .or_default()
                .insert(watcher.id(), Arc::downgrade(watcher));
        }
    }

    fn unwatch(&self, watcher: &Session, names: &[String]) {
        for name in names {
            let mut shard = self.watch_shard(name).write().unwrap_or_else(|p| p.into_inner());
            if let Some(set) = shard.get_mut(name) {
                set.remove(&watcher.id());
                if set.is_empty() {
                    shard.remove(name);
                }
            }
        }
    }

    fn watchers(&self, normalized: &str) -> Vec<Arc<Session>> {
        self.watch_shard(normalized)
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(normalized)
            .map(|set| set.values().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .map(Vec::len)
                    .sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Disconnect, Outbound, Outbox, SessionInfo};

    fn session(name: &str, cap: usize) -> (Arc<Session>, crate::session::OutboxReceiver) {
        let (outbox, rx) = Outbox::new(cap);
        let info = SessionInfo {
            screen_name: name.into(),
            normalized: name.to_lowercase(),
            created_at: 0,
            signon_time: 0,
            bot: false,
            tls: false,
        };
        (Session::new(info, outbox, 0), rx)
    }

    #[test]
    fn deliver_to_every_ready_session_and_kick_slow_readers() {
        let reg = LocalRegistry::new();
        let (a1, mut r1) = session("Bob", 1);
        let (a2, mut r2) = session("Bob", 4);
        let (a3, _r3) = session("Bob", 4);
        a1.set_ready();
        a2.set_ready();
        reg.register(a1.clone());
        reg.register(a2.clone());
        reg.register(a3.clone());
        assert_eq!(reg.len(), 3);
        assert_eq!(reg.deliver("bob", Bytes::from_static(b"x")), 2);
        assert!(matches!(r2.rx.try_recv(), Ok(Outbound::Frame { .. })));
        // a1's queue (capacity 1) is full now: the second delivery kicks it.
        assert_eq!(reg.deliver("bob", Bytes::from_static(b"y")), 1);
        assert_eq!(*r1.kill.borrow_and_update(), Some(Disconnect::SlowReader));
        assert_eq!(reg.deliver("nobody", Bytes::from_static(b"z")), 0);
        reg.unregister(&a1);
        reg.unregister(&a2);
        reg.unregister(&a3);
        assert!(reg.is_empty());
        assert!(reg.sessions("bob").is_empty());
    }

    #[test]
    fn register_replacing_takes_the_older_sessions_out() {
        let reg = LocalRegistry::new();
        let (a1, _r1) = session("Bob", 4);
        let (a2, _r2) = session("Bob", 4);
        let (a3, _r3) = session("Bob", 4);
        let (other, _ro) = session("Carol", 4);
        reg.register(a1.clone());
        reg.register(a2.clone());
        reg.register(other.clone());
        let mut older: Vec<u64> = reg.register_replacing(a3.clone()).iter().map(|s| s.id()).collect();
        older.sort();
        assert_eq!(older, vec![a1.id(), a2.id()]);
        let now: Vec<u64> = reg.sessions("bob").iter().map(|s| s.id()).collect();
        assert_eq!(now, vec![a3.id()]);
        assert_eq!(reg.sessions("carol").len(), 1);
        // Unregistering a replaced session later (its connection closing) is harmless.
        reg.unregister(&a1);
        assert_eq!(reg.len(), 2);
        assert!(reg.register_replacing(session("Dave", 4).0).is_empty());
    }

    #[test]
    fn watch_index() {
        let reg = LocalRegistry::new();
        let (a, _ra) = session("Alice", 4);
        let (c, _rc) = session("Carol", 4);
        reg.watch(&a, &["bob".into(), "dave".into()]);
        reg.watch(&c, &["bob".into()]);
        let mut w: Vec<u64> = reg.watchers("bob").iter().map(|s| s.id()).collect();
        w.sort();
        assert_eq!(w, vec![a.id(), c.id()]);
        reg.unwatch(&a, &["bob".into()]);
        assert_eq!(reg.watchers("bob").len(), 1);
        assert_eq!(reg.watchers("dave").len(), 1);
        drop(c);
        assert!(reg.watchers("bob").is_empty(), "dropped sessions are not returned");
        reg.unwatch(&a, &["dave".into()]);
        assert!(reg.watchers("dave").is_empty());
    }
}
