//! Password "roasting": the XOR obfuscation of FLAP channel-1 logins (§6.1).
//!
//! Each password byte is XORed with a repeating table. The operation is its own inverse, so
//! [`roast`] and [`unroast`] are the same function; both names exist for readable call sites.

/// The OSCAR table (AIM ≤ 3.0, old ICQ).
pub const OSCAR_TABLE: [u8; 16] = [
    0xF3, 0x26, 0x81, 0xC4, 0x39, 0x86, 0xDB, 0x92, 0x71, 0xA3, 0xB9, 0xE6, 0x53, 0x7A, 0x95, 0x7C,
];

/// The Java AIM table.
pub const JAVA_AIM_TABLE: [u8; 16] = [
    0xF3, 0xB3, 0x6C, 0x99, 0x95, 0x3F, 0xAC, 0xB6, 0xC5, 0xFA, 0x6B, 0x63, 0x69, 0x6C, 0xC3, 0x9A,
];

/// The Kerberos (AIM 6 ticket password, §6.4) table.
pub const KERBEROS_TABLE: [u8; 16] = [
    0x76, 0x91, 0xC5, 0xE7, 0xD0, 0xD9, 0x95, 0xDD, 0x9E, 0x2F, 0xEA, 0xD8, 0x6B, 0x21, 0xC2, 0xBC,
];

/// The TOC key, ASCII `Tic/Toc`.
pub const TOC_KEY: [u8; 7] = *b"Tic/Toc";

/// Which XOR table a client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoastTable {
    /// [`OSCAR_TABLE`].
    Oscar,
    /// [`JAVA_AIM_TABLE`].
    JavaAim,
    /// [`KERBEROS_TABLE`].
    Kerberos,
    /// [`TOC_KEY`].
    Toc,
}

impl RoastTable {
    /// The table's bytes.
    #[must_use]
    pub const fn bytes(self) -> &'static [u8] {
        match self {
            Self::Oscar => &OSCAR_TABLE,
            Self::JavaAim => &JAVA_AIM_TABLE,
            Self::Kerberos => &KERBEROS_TABLE,
            Self::Toc => &TOC_KEY,
        }
    }

    /// The table a FLAP channel-1 login uses, from its client id string (TLV 0x0003): Java AIM
    /// (starts with `AOL Instant Messenger (TM) version` and contains `for Java`) uses
    /// [`JAVA_AIM_TABLE`], everyone else [`OSCAR_TABLE`].
    #[must_use]
    pub fn for_client(client_id: &str) -> Self {
        if client_id.starts_with("AOL Instant Messenger (TM) version") && client_id.contains("for Java") {
            Self::JavaAim
        } else {
            Self::Oscar
        }
    }
}

/// XORs `password` with the repeating `table`.
#[must_use]
pub fn roast(password: &[u8], table: RoastTable) -> Vec<u8> {
    password
        .iter()
        .zip(table.bytes().iter().cycle())
        .map(|(p, t)| p ^ t)
        .collect()
}

/// Recovers the password from roasted bytes (the same XOR).
#[must_use]
pub fn unroast(roasted: &[u8], table: RoastTable) -> Vec<u8> {
    roast(roasted, table)
}

/// Recovers the password of a FLAP channel-1 login, picking the table from the client id
/// string (see [`RoastTable::for_client`]).
#[must_use]
pub fn unroast_for_client(roasted: &[u8], client_id: &str) -> Vec<u8> {
    unroast(roasted, RoastTable::for_client(client_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_from_the_protocol_notes() {
        assert_eq!(
            roast(b"password", RoastTable::Oscar),
            [0x83, 0x47, 0xF2, 0xB7, 0x4E, 0xE9, 0xA9, 0xF6]
        );
        assert_eq!(
            unroast(&[0x83, 0x47, 0xF2, 0xB7, 0x4E, 0xE9, 0xA9, 0xF6], RoastTable::Oscar),
            b"password"
        );
    }

    #[test]
    fn table_repeats_after_sixteen_bytes() {
        let roasted = roast(&[0; 20], RoastTable::Oscar);
        assert_eq!(&roasted[..16], &OSCAR_TABLE);
        assert_eq!(&roasted[16..], &OSCAR_TABLE[..4]);
        assert_eq!(roast(&[0; 8], RoastTable::Toc), b"Tic/TocT");
        assert!(roast(&[], RoastTable::JavaAim).is_empty());
    }

    #[test]
    fn picks_the_table_from_the_client_id() {
        assert_eq!(
            RoastTable::for_client("AOL Instant Messenger (TM) version 1.1.8 for Java"),
            RoastTable::JavaAim
        );
        assert_eq!(
            RoastTable::for_client("ICQ Inc. - Product of ICQ (TM).2001b.5.18.1.3659.85"),
            RoastTable::Oscar
        );
        assert_eq!(
            RoastTable::for_client("AOL Instant Messenger (SM), version 4.8.2790/WIN32"),
            RoastTable::Oscar
        );
        let java = "AOL Instant Messenger (TM) version 1.1.8 for Java";
        let roasted = roast(b"secret", RoastTable::JavaAim);
        assert_eq!(unroast_for_client(&roasted, java), b"secret");
        assert_ne!(unroast_for_client(&roasted, "WinAIM"), b"secret");
    }
}
