//! Webhook signatures, verified on the raw body before anything is parsed, and the billing
//! events they carry. Every scheme accepts
//! several secrets at once (rotation), compares in constant time, and never puts a secret or a
//! signature into an error.

pub mod billing;
pub mod events;
mod secrets;
mod signature;

pub use secrets::{SecretSet, SecretsError};
pub use signature::{
    DEFAULT_TOLERANCE_SECONDS, SignatureError, verify_bearer, verify_github,
    verify_standard_webhooks, verify_stripe,
};
