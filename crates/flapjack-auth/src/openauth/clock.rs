//! Following the server's clock (§2.8).
//!
//! `ts` must be the server's notion of "now". libpurple sends clientLogin's `hostTime` as is
//! (fine when startOSCARSession follows at once); qutIM and Miranda remember
//! `offset = hostTime - localTime` and later send `localTime + offset`. [`ClockOffset`] is the
//! latter. After a 400 / 1015 answer, rebuild it from the error's `data.ts`
//! ([`AuthError::ClockSkew`](crate::AuthError::ClockSkew)'s `server_now`) and retry.

/// The difference between the server's clock and the local clock, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClockOffset {
    offset_secs: i64,
}

impl ClockOffset {
    /// The offset learnt when the server said `host_time` (clientLogin's `hostTime`, or a
    /// 1015 error's `data.ts`) and the local clock read `local_now` (both Unix seconds).
    #[must_use]
    pub const fn from_host_time(host_time: i64, local_now: i64) -> Self {
        Self {
            offset_secs: host_time.saturating_sub(local_now),
        }
    }

    /// Server time minus local time, seconds.
    #[must_use]
    pub const fn offset_secs(self) -> i64 {
        self.offset_secs
    }

    /// The `ts` to send at local time `local_now`: the server's clock now.
    #[must_use]
    pub const fn server_time(self, local_now: i64) -> i64 {
        local_now.saturating_add(self.offset_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_the_server_clock() {
        // Server is 100 s ahead; 30 s later locally, ts must be hostTime + 30.
        let offset = ClockOffset::from_host_time(1_795_948_902, 1_795_948_802);
        assert_eq!(offset.offset_secs(), 100);
        assert_eq!(offset.server_time(1_795_948_832), 1_795_948_932);
        // Server behind.
        let behind = ClockOffset::from_host_time(1_000, 1_500);
        assert_eq!(behind.server_time(1_510), 1_010);
        // Never overflows.
        assert_eq!(
            ClockOffset::from_host_time(i64::MAX, i64::MIN).server_time(i64::MAX),
            i64::MAX
        );
    }
}
