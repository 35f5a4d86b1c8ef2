//! Usage quotas, pure: calendar windows in a time zone ([`window`]), a subject's usage, holds,
//! ledger and remembered ids with the charge/reserve/settle/cancel/refund/reset operations
//! ([`state`]), and their binary encoding ([`codec`]). No clock, no network: every operation
//! takes `now` (unix ms) and the plan; the commands and the durable log build on it.

pub mod catalog;
pub mod codec;
pub mod mutation;
pub mod state;
pub mod window;

pub use catalog::Catalog;
pub use codec::{decode, encode, DecodeError};
pub use mutation::{Applied, Mutation};
pub use state::{
    resolve_plan, HoldInfo, LedgerEntry, Level, Op, Outcome, Params, QuotaError, ResetScope,
    Status, SubjectState, WindowStatus, DEFAULT_LEDGER_LEN, DEFAULT_MAX_IDS,
};
pub use window::{Calendar, WindowBounds};

#[cfg(test)]
mod tests;
