//! Making and checking password material ([`Credentials`]) with `flapjack-auth`.
//!
//! Hashing is deliberately slow (argon2id); call these from a blocking context
//! (`spawn_blocking`, or the CLI), never on the async reactor.

use flapjack_auth::bucp::{Md5Verifiers, auth_key_from_random};
use flapjack_auth::password::{Argon2Params, RECOMMENDED_SALT_LEN, hash_password, verify_password};

use crate::random::random_bytes;
use crate::store::Credentials;

/// Why credentials could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// Hashing failed.
    #[error(transparent)]
    Auth(#[from] flapjack_auth::AuthError),
}

/// Makes credentials for `password`: an argon2id hash with a fresh salt, and (when `with_md5`)
/// BUCP verifiers under a fresh random per-account auth key.
pub fn make_credentials(
    password: &[u8],
    params: &Argon2Params,
    with_md5: bool,
) -> Result<Credentials, CredentialsError> {
    let salt: [u8; RECOMMENDED_SALT_LEN] = random_bytes().map_err(CredentialsError::Random)?;
    let password_hash = hash_password(password, &salt, params)?;
    let md5 = if with_md5 {
        let key: [u8; 16] = random_bytes().map_err(CredentialsError::Random)?;
        Some(Md5Verifiers::new(auth_key_from_random(&key), password))
    } else {
        None
    };
    Ok(Credentials { password_hash, md5 })
}

/// Checks a cleartext password against the stored argon2id hash. A malformed stored hash
/// counts as a mismatch (and is logged).
pub fn check_password(password: &[u8], credentials: &Credentials) -> bool {
    match verify_password(password, &credentials.password_hash) {
        Ok(ok) => ok,
        Err(e) => {
            tracing::warn!(error = %e, "stored password hash is unusable");
            false
        }
    }
}
