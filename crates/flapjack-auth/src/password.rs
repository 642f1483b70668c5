//! Account passwords at rest: argon2id, stored as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! Cost parameters are configurable ([`Argon2Params`]). The default is the OWASP 2023 minimum
//! for argon2id: **m = 19 MiB (19 456 KiB), t = 2 iterations, p = 1 lane**, 32-byte output.
//! Verification reads the parameters from the stored string, so raising the cost later only
//! needs [`needs_rehash`] at the next successful login.
//!
//! The salt is passed in (at least [`MIN_SALT_LEN`] bytes, [`RECOMMENDED_SALT_LEN`] is 16, from
//! the OS RNG): this crate does no I/O and draws no randomness itself.
//!
//! Note the protocol's limits: BUCP logins cannot be checked against this hash (see
//! [`bucp::Md5Verifiers`](crate::bucp::Md5Verifiers)), while roasted, clientLogin and Kerberos
//! logins reveal the cleartext, which is checked here.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::AuthError;

/// The shortest salt accepted, bytes.
pub const MIN_SALT_LEN: usize = 8;
/// The longest salt accepted, bytes (the PHC string format's limit).
pub const MAX_SALT_LEN: usize = 48;
/// The salt length to use, bytes.
pub const RECOMMENDED_SALT_LEN: usize = 16;
/// The most memory a stored hash may ask for when verifying (1 GiB), so a corrupt or hostile
/// stored string cannot exhaust memory.
pub const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;

/// argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    /// Memory, KiB (default 19 456 = 19 MiB).
    pub memory_kib: u32,
    /// Iterations (default 2).
    pub iterations: u32,
    /// Lanes (default 1).
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

impl Argon2Params {
    fn to_params(self) -> Result<Params, AuthError> {
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(Params::DEFAULT_OUTPUT_LEN),
        )
        .map_err(|e| AuthError::PasswordHash(e.to_string()))
    }
}

/// Hashes `password` with argon2id into a PHC string.
///
/// # Errors
/// [`AuthError::PasswordHash`] when the salt is not [`MIN_SALT_LEN`]..=[`MAX_SALT_LEN`] bytes
/// or the parameters are out of argon2's range (e.g. memory below 8 KiB per lane).
pub fn hash_password(password: &[u8], salt: &[u8], params: &Argon2Params) -> Result<String, AuthError> {
    if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt.len()) {
        return Err(AuthError::PasswordHash(format!(
            "salt must be {MIN_SALT_LEN}..={MAX_SALT_LEN} bytes, got {}",
            salt.len()
        )));
    }
    let salt = SaltString::encode_b64(salt).map_err(|e| AuthError::PasswordHash(e.to_string()))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.to_params()?);
    argon2
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::PasswordHash(e.to_string()))
}

/// Checks `password` against a stored PHC string (constant-time comparison inside argon2).
///
/// Returns `Ok(false)` for a wrong password.
///
/// # Errors
/// [`AuthError::PasswordHash`] when the stored string is malformed, is not argon2id, or asks
/// for more than [`MAX_VERIFY_MEMORY_KIB`].
pub fn verify_password(password: &[u8], phc: &str) -> Result<bool, AuthError> {
    let hash = parse_argon2id(phc)?;
    match Argon2::default().verify_password(password, &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(AuthError::PasswordHash(e.to_string())),
    }
}

/// Whether a stored hash should be recomputed with `params` (different algorithm or costs).
/// A malformed string needs rehashing too.
#[must_use]
pub fn needs_rehash(phc: &str, params: &Argon2Params) -> bool {
    let Ok(hash) = parse_argon2id(phc) else {
        return true;
    };
    let Ok(stored) = Params::try_from(&hash) else {
        return true;
    };
    hash.version != Some(Version::V0x13.into())
        || stored.m_cost() != params.memory_kib
        || stored.t_cost() != params.iterations
        || stored.p_cost() != params.parallelism
}

fn parse_argon2id(phc: &str) -> Result<PasswordHash<'_>, AuthError> {
    let hash = PasswordHash::new(phc).map_err(|e| AuthError::PasswordHash(e.to_string()))?;
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return Err(AuthError::PasswordHash(format!(
            "expected argon2id, found {}",
            hash.algorithm
        )));
    }
    let params = Params::try_from(&hash).map_err(|e| AuthError::PasswordHash(e.to_string()))?;
    if params.m_cost() > MAX_VERIFY_MEMORY_KIB {
        return Err(AuthError::PasswordHash(format!(
            "stored hash asks for {} KiB, more than the {MAX_VERIFY_MEMORY_KIB} KiB allowed",
            params.m_cost()
        )));
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters so debug-build tests stay fast.
    const CHEAP: Argon2Params = Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn hash_then_verify() {
        let phc = hash_password(b"hunter2", &[7; 16], &CHEAP).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert_eq!(verify_password(b"hunter2", &phc), Ok(true));
        assert_eq!(verify_password(b"hunter3", &phc), Ok(false));
        assert!(!needs_rehash(&phc, &CHEAP));
        assert!(needs_rehash(&phc, &Argon2Params::default()));
    }

    #[test]
    fn default_parameters_are_the_documented_ones() {
        let params = Argon2Params::default();
        assert_eq!(
            (params.memory_kib, params.iterations, params.parallelism),
            (19_456, 2, 1)
        );
        let phc = hash_password(b"pw", &[1; 16], &params).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(verify_password(b"pw", &phc), Ok(true));
    }

    #[test]
    fn same_password_and_salt_give_the_same_hash() {
        let a = hash_password(b"pw", &[9; 16], &CHEAP).unwrap();
        let b = hash_password(b"pw", &[9; 16], &CHEAP).unwrap();
        let c = hash_password(b"pw", &[8; 16], &CHEAP).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert!(hash_password(b"pw", &[1; 4], &CHEAP).is_err());
        assert!(hash_password(b"pw", &[1; 49], &CHEAP).is_err());
        let zero = Argon2Params {
            memory_kib: 0,
            iterations: 0,
            parallelism: 0,
        };
        assert!(hash_password(b"pw", &[1; 16], &zero).is_err());
        for bad in [
            "",
            "plain",
            "$argon2id$",
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(verify_password(b"pw", bad).is_err(), "{bad:?}");
            assert!(needs_rehash(bad, &CHEAP));
        }
    }
}
