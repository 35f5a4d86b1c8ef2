//! The wire protocol: request decoding, reply encoding and the argument helpers commands use.

pub mod args;
pub mod parse;
pub mod reply;

pub use parse::{Decoded, Decoder, Limits};
pub use reply::Out;
