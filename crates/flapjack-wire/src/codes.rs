//! Protocol code enums that keep unknown values.
//!
//! [`code_enum!`](crate::code_enum) builds an enum over an integer type with an
//! `Unknown(n)` variant, in the manner of rustls's `enum_builder!`: every value
//! decodes, and every value re-encodes to the number it came from.

/// Builds a code enum with `From<int>` / `Into<int>` and an `Unknown` variant.
#[macro_export]
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $ty:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version of flapjack has no name for; kept as is.
            Unknown($ty),
        }

        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                match v {
                    $( x if x == $value => $name::$variant, )*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $ty {
            fn from(v: $name) -> $ty {
                match v {
                    $( $name::$variant => $value, )*
                    $name::Unknown(other) => other,
                }
            }
        }

        impl $name {
            /// The numeric value on the wire.
            pub fn value(self) -> $ty {
                self.into()
            }
        }
    };
}

code_enum! {
    /// SNAC families ("food groups"). Each is a service with its own subtypes.
    pub enum Family: u16 {
        /// 0x0001 OSERVICE: generic service control, present on every connection.
        Oservice = 0x0001,
        /// 0x0002 LOCATE: profiles, away messages, capabilities.
        Locate = 0x0002,
        /// 0x0003 BUDDY: client-side buddy list and presence notifications.
        Buddy = 0x0003,
        /// 0x0004 ICBM: inter-client basic messages (instant messages).
        Icbm = 0x0004,
        /// 0x0006 INVITE: invite a friend by email.
        Invite = 0x0006,
        /// 0x0007 ADMIN: account administration.
        Admin = 0x0007,
        /// 0x0008 POPUP: server pop-up notices.
        Popup = 0x0008,
        /// 0x0009 PD: permit/deny lists ("BOS" family in older docs).
        Pd = 0x0009,
        /// 0x000A USER_LOOKUP: find a user by email.
        UserLookup = 0x000A,
        /// 0x000B STATS: usage statistics reports.
        Stats = 0x000B,
        /// 0x000D CHAT_NAV: chat room navigation and creation.
        ChatNav = 0x000D,
        /// 0x000E CHAT: one chat room's traffic.
        Chat = 0x000E,
        /// 0x000F ODIR: directory search.
        Odir = 0x000F,
        /// 0x0010 BART: buddy art (icons).
        Bart = 0x0010,
        /// 0x0013 FEEDBAG: the server-stored buddy list ("SSI").
        Feedbag = 0x0013,
        /// 0x0015 ICQ: the ICQ meta / offline-message tunnel.
        Icq = 0x0015,
        /// 0x0017 BUCP: the MD5 challenge login ("BUCP" authorizer).
        Bucp = 0x0017,
        /// 0x0018 ALERT: email alerts.
        Alert = 0x0018,
    }
}

code_enum! {
    /// The generic error codes carried by subtype 0x0001 of every family (§5.2).
    pub enum ErrorCode: u16 {
        /// 0x01 invalid SNAC.
        InvalidSnac = 0x0001,
        /// 0x02 rate to host: the sender exceeded its rate limit.
        RateToHost = 0x0002,
        /// 0x03 rate to client: the recipient's rate was exceeded.
        RateToClient = 0x0003,
        /// 0x04 recipient not logged on.
        NotLoggedOn = 0x0004,
        /// 0x05 service unavailable.
        ServiceUnavailable = 0x0005,
        /// 0x06 service not defined.
        ServiceNotDefined = 0x0006,
        /// 0x07 obsolete SNAC.
        ObsoleteSnac = 0x0007,
        /// 0x08 not supported by host.
        NotSupportedByHost = 0x0008,
        /// 0x09 not supported by client.
        NotSupportedByClient = 0x0009,
        /// 0x0A refused by client.
        RefusedByClient = 0x000A,
        /// 0x0B reply too big.
        ReplyTooBig = 0x000B,
        /// 0x0C responses lost.
        ResponsesLost = 0x000C,
        /// 0x0D request denied.
        RequestDenied = 0x000D,
        /// 0x0E busted SNAC payload.
        BustedSnacPayload = 0x000E,
        /// 0x0F insufficient rights.
        InsufficientRights = 0x000F,
        /// 0x10 in local permit/deny.
        InLocalPermitDeny = 0x0010,
        /// 0x11 sender's warning level too high.
        SenderTooEvil = 0x0011,
        /// 0x12 receiver's warning level too high.
        ReceiverTooEvil = 0x0012,
        /// 0x13 user temporarily unavailable.
        UserUnavailable = 0x0013,
        /// 0x14 no match.
        NoMatch = 0x0014,
        /// 0x15 list overflow.
        ListOverflow = 0x0015,
        /// 0x16 request ambiguous.
        RequestAmbiguous = 0x0016,
        /// 0x17 queue full.
        QueueFull = 0x0017,
        /// 0x18 not while on AOL.
        NotWhileOnAol = 0x0018,
        /// 0x19 query fail.
        QueryFail = 0x0019,
        /// 0x1A timeout.
        Timeout = 0x001A,
        /// 0x1B error text.
        ErrorText = 0x001B,
        /// 0x1C general failure.
        GeneralFailure = 0x001C,
        /// 0x1D progress.
        Progress = 0x001D,
        /// 0x1E in free area.
        InFreeArea = 0x001E,
        /// 0x1F restricted by parental controls.
        RestrictedByParentalControls = 0x001F,
        /// 0x20 remote restricted by parental controls.
        RemoteRestrictedByParentalControls = 0x0020,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_round_trip() {
        for v in 0..=0x40u16 {
            assert_eq!(u16::from(Family::from(v)), v);
            assert_eq!(u16::from(ErrorCode::from(v)), v);
        }
        assert_eq!(Family::from(0x0004), Family::Icbm);
        assert_eq!(Family::from(0x1234), Family::Unknown(0x1234));
    }
}
