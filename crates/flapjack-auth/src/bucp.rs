//! BUCP (family 0x0017) MD5 challenge login hashes (§6.2.3).
//!
//! The server sends an auth key in 0x0017/0x0007; the client answers 0x0017/0x0002 with TLV
//! 0x0025 holding one of:
//!
//! * **strong** (AIM 4.8+, libpurple's default, flagged by the empty TLV 0x004C):
//!   `MD5(key ‖ MD5(password) ‖ "AOL Instant Messenger (SM)")`
//! * **weak** (AIM 3.5–4.7): `MD5(key ‖ password ‖ "AOL Instant Messenger (SM)")`
//!
//! A server cannot recompute either without the password, so it keeps a fixed per-account auth
//! key and both precomputed hashes ([`Md5Verifiers`]), made when the password is set and stored
//! next to (not instead of) the argon2id hash. It hands out that same key in every challenge and
//! accepts a match with either hash, as Open OSCAR does. Comparison is constant-time.

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::AuthError;

/// `AIM_MD5_STRING`: the constant appended to every BUCP hash (no NUL).
pub const AIM_MD5_STRING: &[u8] = b"AOL Instant Messenger (SM)";

/// Which BUCP hash a login request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashKind {
    /// `MD5(key ‖ MD5(password) ‖ const)`, signalled by TLV 0x004C.
    Strong,
    /// `MD5(key ‖ password ‖ const)`.
    Weak,
}

/// `MD5(password)`: what a server may store to accept strong hashes for any key.
#[must_use]
pub fn password_md5(password: &[u8]) -> [u8; 16] {
    Md5::digest(password).into()
}

/// The strong hash: `MD5(key ‖ MD5(password) ‖ "AOL Instant Messenger (SM)")`.
///
/// ```
/// let hash = flapjack_auth::bucp::strong_hash(b"3141592653", b"password");
/// assert_eq!(hash[..4], [0x3c, 0x6d, 0x35, 0x9f]);
/// ```
#[must_use]
pub fn strong_hash(key: &[u8], password: &[u8]) -> [u8; 16] {
    strong_hash_from_md5(key, &password_md5(password))
}

/// The strong hash from an already computed `MD5(password)`.
#[must_use]
pub fn strong_hash_from_md5(key: &[u8], password_md5: &[u8; 16]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(key);
    md5.update(password_md5);
    md5.update(AIM_MD5_STRING);
    md5.finalize().into()
}

/// The weak (old) hash: `MD5(key ‖ password ‖ "AOL Instant Messenger (SM)")`.
#[must_use]
pub fn weak_hash(key: &[u8], password: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(key);
    md5.update(password);
    md5.update(AIM_MD5_STRING);
    md5.finalize().into()
}

/// The hash of `kind` (what a client puts in TLV 0x0025).
#[must_use]
pub fn client_hash(kind: HashKind, key: &[u8], password: &[u8]) -> [u8; 16] {
    match kind {
        HashKind::Strong => strong_hash(key, password),
        HashKind::Weak => weak_hash(key, password),
    }
}

/// Makes an auth key from caller-supplied random bytes: lower-case hex, so it is printable
/// ASCII as the 0x0017/0x0007 key should be. Pass at least 16 random bytes (e.g. from the OS
/// RNG); this crate does no I/O and draws no randomness itself.
#[must_use]
pub fn auth_key_from_random(random: &[u8]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a server stores per account to answer BUCP logins without the password.
///
/// Compute it whenever the password is set ([`Md5Verifiers::new`]). The fields are plain so the
/// store can persist them; `auth_key` is sent verbatim in every 0x0017/0x0007.
///
/// If the server sets TLV 0x0026 (truncate to 8 characters) in its challenge, compute the
/// verifiers from the truncated password.
#[derive(Clone, PartialEq, Eq)]
pub struct Md5Verifiers {
    /// The per-account auth key (ASCII), sent in the challenge.
    pub auth_key: String,
    /// `strong_hash(auth_key, password)`.
    pub strong: [u8; 16],
    /// `weak_hash(auth_key, password)`.
    pub weak: [u8; 16],
}

impl std::fmt::Debug for Md5Verifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Md5Verifiers")
            .field("auth_key", &self.auth_key)
            .field("strong", &"<redacted>")
            .field("weak", &"<redacted>")
            .finish()
    }
}

impl Md5Verifiers {
    /// Computes both verifiers for `password` under `auth_key` (see [`auth_key_from_random`]).
    #[must_use]
    pub fn new(auth_key: impl Into<String>, password: &[u8]) -> Self {
        let auth_key = auth_key.into();
        Self {
            strong: strong_hash(auth_key.as_bytes(), password),
            weak: weak_hash(auth_key.as_bytes(), password),
            auth_key,
        }
    }

    /// Which hash `client_hash` (TLV 0x0025) matches, in constant time; `None` if neither (or
    /// if it is not 16 bytes).
    #[must_use]
    pub fn matches(&self, client_hash: &[u8]) -> Option<HashKind> {
        let strong = self.strong.as_slice().ct_eq(client_hash);
        let weak = self.weak.as_slice().ct_eq(client_hash);
        if bool::from(strong) {
            Some(HashKind::Strong)
        } else if bool::from(weak) {
            Some(HashKind::Weak)
        } else {
            None
        }
    }

    /// Verifies a login request's hash. Either kind is accepted whatever TLV 0x004C says, as
    /// clients are inconsistent about the marker.
    ///
    /// # Errors
    /// [`AuthError::IncorrectPassword`] (BUCP login error 0x0005) when neither matches.
    pub fn verify(&self, client_hash: &[u8]) -> Result<HashKind, AuthError> {
        self.matches(client_hash).ok_or(AuthError::IncorrectPassword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        auth_key_from_random(bytes)
    }

    #[test]
    fn known_answers_from_the_protocol_notes() {
        // §6.2.3: key 3141592653, password "password".
        assert_eq!(
            hex(&strong_hash(b"3141592653", b"password")),
            "3c6d359f22d234b6f94b3d256c34f1b1"
        );
        assert_eq!(
            hex(&weak_hash(b"3141592653", b"password")),
            "9622ee629a7581516626405d0a23a58e"
        );
        assert_eq!(hex(&password_md5(b"password")), "5f4dcc3b5aa765d61d8327deb882cf99");
    }

    #[test]
    fn verifiers_accept_both_kinds_and_reject_others() {
        let v = Md5Verifiers::new("3141592653", b"password");
        assert_eq!(
            v.verify(&client_hash(HashKind::Strong, b"3141592653", b"password")),
            Ok(HashKind::Strong)
        );
        assert_eq!(
            v.verify(&client_hash(HashKind::Weak, b"3141592653", b"password")),
            Ok(HashKind::Weak)
        );
        assert_eq!(
            v.verify(&strong_hash(b"3141592653", b"Password")),
            Err(AuthError::IncorrectPassword)
        );
        assert_eq!(
            v.verify(&strong_hash(b"other-key", b"password")),
            Err(AuthError::IncorrectPassword)
        );
        assert_eq!(v.matches(&[]), None);
        assert_eq!(v.matches(&v.strong[..15]), None);
        assert!(!format!("{v:?}").contains(&hex(&v.strong)));
    }

    #[test]
    fn auth_keys_are_hex() {
        assert_eq!(auth_key_from_random(&[0x00, 0xab, 0xff]), "00abff");
    }
}
