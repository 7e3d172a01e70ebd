//! The signed events Berth receives: their signatures, verified on the raw body before anything
//! is parsed, and the events they carry (billing, GitHub, Argo CD). Every scheme accepts several
//! secrets at once (rotation), compares in constant time, and never puts a secret or a signature
//! into an error.

pub mod billing;
pub mod events;
mod secrets;
mod signature;

pub use secrets::{SecretSet, SecretsError};
pub use signature::{
    DEFAULT_TOLERANCE_SECONDS, SignatureError, verify_bearer, verify_github,
    verify_standard_webhooks, verify_stripe,
};
