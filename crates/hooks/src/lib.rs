//! Outgoing webhooks for Regulars (RELIABILITY W4). Stores register endpoints; every event
//! recorded queues a message per subscribed endpoint in the same transaction
//! (`regulars-store`); the worker here delivers them:
//!
//! - signed as the Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature`), the same id on every attempt;
//! - retried with growing waits and full jitter ([`backoff`]), honouring `Retry-After` on 429
//!   and 503, until the schedule is spent;
//! - a 410 Gone disables the endpoint; redirects are not followed;
//! - never to loopback, private or reserved addresses unless the operator allows them
//!   ([`ssrf`]), checked on the address actually connected to.

pub mod backoff;
pub mod signing;
pub mod ssrf;
mod worker;

pub use backoff::{Backoff, Jitter, DEFAULT_SCHEDULE};
pub use signing::{generate_secret, sign, signature_header, verify};
pub use ssrf::{check_endpoint_url, check_url_shape, is_forbidden, GuardedResolver};
pub use worker::{run_worker, Clock, ManualClock, Pass, SystemClock, Worker, WorkerConfig, KEEP_FINISHED};
