//! Webhooks: telling a business's systems what happened on its calls. The events are
//! written to the outbox by the store in the same transaction as the change they report
//! ([`crate::store::outbox`]); this module delivers them — the address policy against SSRF
//! ([`address`]), the retry schedule ([`backoff`]), one signed attempt ([`sender`]) and the
//! worker every daemon runs ([`worker`]), configured by [`settings`].

pub mod address;
pub mod backoff;
pub mod sender;
pub mod settings;
pub mod worker;

pub use settings::WebhookSettings;
pub use worker::Worker;
