//! Command errors, rendered as the `-CODE message` texts Redis sends. A leaf module: the
//! argument parsers (protocol) and the commands both return it.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CmdError {
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArgs(String),
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInt,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR DB index is out of range")]
    DbIndex,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(String),
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    /// Any other error, with its code (`ERR ...`, `NOPOLICY ...`).
    #[error("{0}")]
    Other(String),
}

impl CmdError {
    pub fn other(msg: impl Into<String>) -> Self {
        CmdError::Other(msg.into())
    }

    /// Redis's refusal of a command that may grow memory while it is over `maxmemory`.
    pub fn oom() -> Self {
        CmdError::other("OOM command not allowed when used memory > 'maxmemory'.")
    }
}

pub type CmdResult = Result<(), CmdError>;
