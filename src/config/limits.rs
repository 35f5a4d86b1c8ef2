//! `[limits]`: the protocol limits Redis has, with Redis's values and error texts.

use super::declare::{settings, INT_MAX, LONG_MAX, MIB};
use super::{ByteSize, OutputBufferLimits};

settings! {
    /// `[limits]`: the protocol limits Redis has, with Redis's defaults.
    pub struct LimitsConfig in limits;

    /// Largest bulk string a client may send.
    proto_max_bulk_len: ByteSize = ByteSize::mib(512),
        config "proto-max-bulk-len", runtime, range(MIB, LONG_MAX);
    /// Largest unparsed input kept for one client before it is disconnected.
    client_query_buffer_limit: ByteSize = ByteSize::gib(1),
        config "client-query-buffer-limit", runtime, range(MIB, LONG_MAX);
    /// Limits on the replies a client has pending (produced, not yet taken by its socket), per
    /// class: "<class> <hard> <soft> <soft seconds>" for any of normal, slave (replica), pubsub.
    /// The hard limit closes the client at once, the soft one when exceeded for longer than its
    /// seconds; 0 = off. A value changes only the classes it names.
    client_output_buffer_limit: OutputBufferLimits = OutputBufferLimits::default(),
        config "client-output-buffer-limit", runtime;
    /// Longest inline command line (commands typed in telnet), and longest count line of a
    /// multibulk request; Redis hard-codes 64 KiB (PROTO_INLINE_MAX_SIZE).
    inline_max: ByteSize = ByteSize::kib(64),
        config "tollgate-inline-max", runtime, range(1, LONG_MAX);
    /// Most elements in one multibulk request; Redis hard-codes INT_MAX.
    max_multibulk_len: u64 = INT_MAX,
        config "tollgate-max-multibulk-len", runtime, range(1, INT_MAX);
    /// Most elements in a request before AUTH, when a password is set; Redis hard-codes 10
    /// (Protocol error: unauthenticated multibulk length).
    unauth_max_multibulk: u64 = 10,
        config "tollgate-unauth-max-multibulk", runtime, range(1, INT_MAX);
    /// Largest bulk string before AUTH, when a password is set; Redis hard-codes 16384
    /// (Protocol error: unauthenticated bulk length).
    unauth_max_bulk: u64 = 16_384,
        config "tollgate-unauth-max-bulk", runtime, range(1, LONG_MAX);
    /// Milliseconds a script may run before other clients' commands are answered -BUSY
    /// instead of waiting for it (and SCRIPT KILL may stop it); Redis 7.0's name and default
    /// (alias lua-time-limit). 0: from the script's first check on.
    busy_reply_threshold: u64 = 5000, config "busy-reply-threshold", runtime,
        range(0, LONG_MAX);
}
