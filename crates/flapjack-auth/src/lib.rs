//! Login cryptography and OpenAuth web types for flapjack, an OSCAR (AIM / ICQ) implementation.
//!
//! Everything here is a pure function of its inputs: no I/O, no clock reads (time is passed in
//! as Unix seconds), no randomness (salts and keys are passed in). The client and the server
//! both use this crate, so they sign and verify one way.
//!
//! | module | what |
//! |---|---|
//! | [`percent`] | RFC 3986 percent-encoding as OpenAuth signs it; query vs. form decoding |
//! | [`openauth`] | session key, request signature and its server-side verification, the clientLogin / startOSCARSession requests and JSON/XML response envelopes, status codes, clock offset |
//! | [`bucp`] | BUCP MD5 login hashes and the server's per-account verifiers |
//! | [`roast`] | XOR password roasting of FLAP channel-1 logins |
//! | [`password`] | argon2id password hashes at rest |
//!
//! Section numbers (§) refer to the project's OSCAR protocol notes.

#![forbid(unsafe_code)]

mod error;

pub mod bucp;
pub mod openauth;
pub mod password;
pub mod percent;
pub mod roast;

pub use error::AuthError;
