//! CONFIG GET and CONFIG SET: the parameter table built from the declared settings, Redis's
//! name lookup and glob matching, all-or-nothing CONFIG SET, and Redis 7.0's reply texts.

use std::fmt;
use std::sync::LazyLock;

use super::{settings, Config};

/// One `CONFIG GET`/`CONFIG SET` parameter.
#[derive(Clone, Copy)]
pub struct Param {
    /// The name `CONFIG GET` answers (Redis's name, or `tollgate-*`), lower case.
    pub name: &'static str,
    /// The value as Redis prints it: `yes`/`no`, decimal integers, bytes for sizes.
    pub get: fn(&Config) -> String,
    /// `None` for parameters fixed at start-up (`can't set immutable config`). The setter
    /// validates and returns the Redis error fragment that follows `- ` in the reply.
    pub set: Option<Setter>,
}

/// A `CONFIG SET` handler: parses and validates `value`, writes it into the config, or returns
/// the Redis error fragment (see [`config_set_error`]).
pub type Setter = fn(&mut Config, &str) -> Result<(), String>;

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Param")
            .field("name", &self.name)
            .field("settable", &self.set.is_some())
            .finish()
    }
}

/// Redis's text for a parameter that cannot change at run time.
pub const IMMUTABLE_CONFIG: &str = "can't set immutable config";

/// The full error line for a failed `CONFIG SET`, without the leading `-`, worded as Redis 7.0
/// (`ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be ...`).
pub fn config_set_error(name: &str, msg: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {msg}")
}

/// Redis 7.0's text for a protected parameter (`enable-protected-configs` is off by default).
pub const PROTECTED_CONFIG: &str = "can't set protected config";

/// Parameters Redis 7.0 refuses as protected rather than immutable: changing where the
/// snapshot is written is a way to write files anywhere.
const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// Redis's text for an unknown parameter in `CONFIG SET`.
pub fn config_set_unknown_error(name: &str) -> String {
    format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
}

/// Every parameter, in a stable order: the declared settings, then the Redis names below.
pub fn params() -> &'static [Param] {
    PARAMS.as_slice()
}

/// The parameter called `name`, ignoring case as Redis does.
pub fn find_param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// `CONFIG GET <pattern>...`: the matching `(name, value)` pairs, each parameter once.
///
/// As in Redis, an argument without glob characters (`*?[`) is looked up exactly, ignoring
/// case, and answered under the name as the client spelt it; an argument with them is matched
/// against every canonical name with `glob(pattern, name)`, which the caller supplies so that
/// `CONFIG GET` and `KEYS` share one matcher (Redis matches config names case-insensitively).
pub fn config_get(
    cfg: &Config,
    patterns: &[&[u8]],
    glob: impl Fn(&[u8], &[u8]) -> bool,
) -> Vec<(String, String)> {
    let mut seen = vec![false; PARAMS.len()];
    let mut out = Vec::new();
    for pattern in patterns {
        if pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            for (i, p) in PARAMS.iter().enumerate() {
                if !seen[i] && glob(pattern, p.name.as_bytes()) {
                    seen[i] = true;
                    out.push((p.name.to_string(), (p.get)(cfg)));
                }
            }
        } else if let Some(i) = PARAMS
            .iter()
            .position(|p| p.name.as_bytes().eq_ignore_ascii_case(pattern))
        {
            if !seen[i] {
                seen[i] = true;
                out.push((
                    String::from_utf8_lossy(pattern).into_owned(),
                    (PARAMS[i].get)(cfg),
                ));
            }
        }
    }
    out
}

/// `CONFIG SET <name> <value> [<name> <value> ...]`, all or nothing, as Redis 7.0 does it:
/// the first unknown, immutable or duplicate name fails the whole command before anything is
/// set; then the values are applied in order to a copy, and the first invalid one fails it.
/// On success `cfg` holds the new values (compare with a clone to see what changed). The error
/// is the full reply line without the leading `-`.
pub fn config_set(cfg: &mut Config, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
    let mut chosen: Vec<(&'static Param, &[u8])> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let shown = String::from_utf8_lossy(name);
        let Some(param) = std::str::from_utf8(name).ok().and_then(find_param) else {
            return Err(config_set_unknown_error(&shown));
        };
        if param.set.is_none() {
            let why = if PROTECTED.contains(&param.name) {
                PROTECTED_CONFIG
            } else {
                IMMUTABLE_CONFIG
            };
            return Err(config_set_error(&shown, why));
        }
        if chosen.iter().any(|(p, _)| std::ptr::eq(*p, param)) {
            return Err(config_set_error(&shown, "duplicate parameter"));
        }
        chosen.push((param, value));
    }
    let mut next = cfg.clone();
    for (param, value) in chosen {
        let Some(set) = param.set else { continue };
        let value = std::str::from_utf8(value)
            .map_err(|_| config_set_error(param.name, "argument must be valid UTF-8"))?;
        set(&mut next, value).map_err(|msg| config_set_error(param.name, &msg))?;
    }
    *cfg = next;
    Ok(())
}

/// Redis's `string2ll`: optional `-`, no `+`, no leading zeros, no spaces, must fit an i64.
pub(super) fn redis_int(s: &str) -> Result<i64, String> {
    const NOT_INT: &str = "argument couldn't be parsed into an integer";
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let canonical = match digits {
        [] => false,
        [b'0'] => digits.len() == b.len(), // "0" yes, "-0" no
        [first, rest @ ..] => (b'1'..=b'9').contains(first) && rest.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return Err(NOT_INT.to_string());
    }
    s.parse::<i64>().map_err(|_| NOT_INT.to_string())
}

/// Redis's text for a number outside a config's bounds.
pub(super) fn out_of_range(lo: u64, hi: u64) -> String {
    format!("argument must be between {lo} and {hi} inclusive")
}

/// Redis's text for a memory config that does not parse.
pub(super) const MEMORY_VALUE: &str = "argument must be a memory value";

/// Redis's text for an enum config, before the names.
pub(super) const ONE_OF: &str = "argument(s) must be one of the following: ";

/// Redis's yes/no (no true/false, unlike flags).
pub(super) fn redis_bool(s: &str) -> Result<bool, String> {
    if s.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".to_string())
    }
}

/// Every declared setting under its CONFIG name, then the Redis names below, then the
/// aliases.
static PARAMS: LazyLock<Vec<Param>> = LazyLock::new(|| {
    let mut params: Vec<Param> = settings()
        .map(|s| Param {
            name: s.config_name,
            get: s.redis_get,
            set: s.runtime.then_some(s.redis_set),
        })
        .chain(REDIS_ONLY.iter().copied())
        .collect();
    let aliases: Vec<Param> = ALIASES
        .iter()
        .filter_map(|(alias, name)| {
            let p = params.iter().find(|p| p.name == *name)?;
            Some(Param { name: alias, ..*p })
        })
        .collect();
    params.extend(aliases);
    params
});

/// Redis 7.0's old names of settings (`alias`, canonical name): answered and set as the
/// setting itself, listed by `CONFIG GET *` too, as Redis does. Setting both names in one
/// CONFIG SET is no duplicate (the last wins), as in Redis.
static ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("lua-time-limit", "busy-reply-threshold"),
];

/// Redis names that clients, redis-benchmark and test harnesses read, answered with what
/// tollgate does: no Redis AOF (snapshots are `[persist]`), one I/O thread as Redis counts it. They are
/// not settings: nothing in the file, the flags or the variables changes them.
static REDIS_ONLY: &[Param] = &[
    Param {
        name: "appendonly",
        get: |_| "no".to_string(),
        // Likewise `CONFIG SET appendonly no`.
        set: Some(|_, v| {
            if redis_bool(v)? {
                Err("tollgate has no Redis AOF".to_string())
            } else {
                Ok(())
            }
        }),
    },
    Param {
        name: "io-threads",
        get: |_| "1".to_string(),
        set: None,
    },
    Param {
        name: "maxmemory-clients",
        get: |_| "0".to_string(),
        set: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ByteSize;

    /// `*` and `?` only, enough to exercise config_get; the server passes its real matcher.
    fn simple_glob(p: &[u8], s: &[u8]) -> bool {
        match (p.split_first(), s.split_first()) {
            (None, None) => true,
            (Some((b'*', rest)), _) => {
                simple_glob(rest, s) || (!s.is_empty() && simple_glob(p, &s[1..]))
            }
            (Some((b'?', rest)), Some((_, srest))) => simple_glob(rest, srest),
            (Some((a, rest)), Some((b, srest))) => {
                a.eq_ignore_ascii_case(b) && simple_glob(rest, srest)
            }
            _ => false,
        }
    }

    fn get(c: &Config, name: &str) -> String {
        (find_param(name).unwrap().get)(c)
    }

    fn set(c: &mut Config, pairs: &[(&str, &str)]) -> Result<(), String> {
        let pairs: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        config_set(c, &pairs)
    }

    #[test]
    fn param_names_are_unique_and_lower_case() {
        let mut names: Vec<_> = params().iter().map(|p| p.name).collect();
        assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn config_get_formats_like_redis() {
        let c = Config::default();
        let cases: &[(&str, &str)] = &[
            ("bind", "127.0.0.1"),
            ("port", "6379"),
            ("tollgate-metrics-port", "9121"),
            ("databases", "16"),
            ("maxclients", "10000"),
            ("timeout", "0"),
            ("requirepass", ""),
            ("protected-mode", "yes"),
            ("tcp-keepalive", "300"),
            ("tollgate-shutdown-grace", "500ms"),
            ("tollgate-shards", "16"),
            ("tollgate-threads", "0"),
            ("proto-max-bulk-len", "536870912"),
            ("client-query-buffer-limit", "1073741824"),
            (
                "client-output-buffer-limit",
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
            ),
            ("tollgate-inline-max", "65536"),
            ("tollgate-max-multibulk-len", "2147483647"),
            ("tollgate-unauth-max-multibulk", "10"),
            ("tollgate-unauth-max-bulk", "16384"),
            ("busy-reply-threshold", "5000"),
            ("maxmemory", "0"),
            ("maxmemory-policy", "noeviction"),
            ("maxmemory-samples", "5"),
            ("hz", "10"),
            ("active-expire-effort", "1"),
            ("tollgate-active-expire-cpu", "25"),
            ("hash-max-listpack-entries", "512"),
            ("hash-max-listpack-value", "64"),
            ("set-max-intset-entries", "512"),
            ("zset-max-listpack-entries", "128"),
            ("zset-max-listpack-value", "64"),
            ("loglevel", "info"),
            ("tollgate-log-format", "text"),
            ("slowlog-log-slower-than", "10000"),
            ("slowlog-max-len", "128"),
            ("latency-monitor-threshold", "0"),
            ("latency-tracking", "yes"),
            ("latency-tracking-info-percentiles", "50 99 99.9"),
            ("tollgate-rl-on-full-memory", "deny"),
            ("tollgate-rl-max-leases", "10000"),
            ("dir", "./data"),
            ("dbfilename", "tollgate.snapshot"),
            ("save", "3600 1 300 100 60 10000"),
            ("appendfsync", "always"),
            ("appendfilename", "tollgate.log"),
            ("tollgate-truncate-corrupt-log", "no"),
            ("auto-aof-rewrite-percentage", "100"),
            ("auto-aof-rewrite-min-size", "67108864"),
            ("tollgate-quota-timezone", "UTC"),
            ("tollgate-quota-week-start", "monday"),
            ("tollgate-quota-default-plan", "freemium"),
            ("tollgate-quota-idempotency-ttl", "1d"),
            ("tollgate-quota-hold-ttl", "15m"),
            ("tollgate-cache-max-wait", "30s"),
            ("tollgate-cache-max-lease", "5m"),
            ("appendonly", "no"),
            ("io-threads", "1"),
            ("maxmemory-clients", "0"),
            ("hash-max-ziplist-entries", "512"),
            ("hash-max-ziplist-value", "64"),
            ("zset-max-ziplist-entries", "128"),
            ("zset-max-ziplist-value", "64"),
            ("lua-time-limit", "5000"),
        ];
        assert_eq!(
            cases.len(),
            params().len(),
            "a parameter is missing from this table"
        );
        for (name, want) in cases {
            assert_eq!(get(&c, name), *want, "{name}");
        }
    }

    #[test]
    fn config_get_patterns() {
        let c = Config::default();
        let names = |patterns: &[&str]| -> Vec<String> {
            let p: Vec<&[u8]> = patterns.iter().map(|s| s.as_bytes()).collect();
            config_get(&c, &p, simple_glob)
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        };
        assert_eq!(names(&["MAXMEMORY"]), vec!["MAXMEMORY"]);
        assert_eq!(names(&["maxmemory", "MAXMEMORY"]), vec!["maxmemory"]);
        assert_eq!(names(&["nosuch"]), Vec::<String>::new());
        assert_eq!(
            names(&["MAXMEM*"]),
            vec![
                "maxmemory",
                "maxmemory-policy",
                "maxmemory-samples",
                "maxmemory-clients"
            ]
        );
        assert_eq!(names(&["*"]).len(), params().len());
        assert_eq!(names(&["save", "appendonly"]), vec!["save", "appendonly"]);
    }

    #[test]
    fn config_set_errors_match_redis_7_0() {
        // Each expected line was produced by redis-server 7.0.15.
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("maxmemory-policy", "foo")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
            (&[("protected-mode", "maybe")], "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'"),
            (&[("maxclients", "0")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
            (&[("maxclients", "-1")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
            (&[("maxclients", "4294967296")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
            (&[("maxclients", "abc")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"),
            (&[("timeout", "-1")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"),
            (&[("timeout", "2147483648")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"),
            (&[("timeout", "0x10")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            (&[("timeout", "+5")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            (&[("timeout", "05")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            (&[("timeout", "-0")], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"),
            (&[("maxmemory", "10x")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            (&[("maxmemory", "-1")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            (&[("maxmemory", "1.5mb")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
            (&[("hz", "-1")], "ERR CONFIG SET failed (possibly related to argument 'hz') - argument must be between 0 and 2147483647 inclusive"),
            (&[("active-expire-effort", "11")], "ERR CONFIG SET failed (possibly related to argument 'active-expire-effort') - argument must be between 1 and 10 inclusive"),
            (&[("maxmemory-samples", "0")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive"),
            (&[("proto-max-bulk-len", "10")], "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"),
            (&[("client-query-buffer-limit", "1")], "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and 9223372036854775807 inclusive"),
            (&[("tcp-keepalive", "-1")], "ERR CONFIG SET failed (possibly related to argument 'tcp-keepalive') - argument must be between 0 and 2147483647 inclusive"),
            (&[("client-output-buffer-limit", "normal 0 0")], "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration."),
            (&[("client-output-buffer-limit", "master 0 0 0")], "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration."),
            (&[("client-output-buffer-limit", "normal 0 0 -1")], "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration."),
            (&[("tollgate-shutdown-grace", "2h")], "ERR CONFIG SET failed (possibly related to argument 'tollgate-shutdown-grace') - argument must be a duration from 0 to 1h (e.g. 500ms, 2s)"),
            (&[("tollgate-shutdown-grace", "1.5s")], "ERR CONFIG SET failed (possibly related to argument 'tollgate-shutdown-grace') - argument must be a duration from 0 to 1h (e.g. 500ms, 2s)"),
            (&[("databases", "4")], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"),
            (&[("io-threads", "2")], "ERR CONFIG SET failed (possibly related to argument 'io-threads') - can't set immutable config"),
            (&[("nosuch", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"),
            (&[("maxmemory", "1"), ("maxmemory", "2")], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"),
            (&[("databases", "1"), ("nosuch", "2")], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"),
            (&[("nosuch", "2"), ("databases", "1")], "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"),
            (&[("hz", "5"), ("maxclients", "0")], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
        ];
        for (pairs, want) in cases {
            let mut c = Config::default();
            assert_eq!(set(&mut c, pairs), Err(want.to_string()), "{pairs:?}");
            assert_eq!(
                c,
                Config::default(),
                "{pairs:?}: a failed CONFIG SET changes nothing"
            );
        }
    }

    #[test]
    fn config_set_applies_like_redis() {
        let mut c = Config::default();
        set(
            &mut c,
            &[
                ("MAXMEMORY", "100mb"),
                ("maxmemory-policy", "ALLKEYS-LRU"),
                ("protected-mode", "NO"),
                ("loglevel", "WARNING"),
                ("requirepass", "s3cret"),
                ("timeout", "30"),
                ("maxclients", "4294967295"),
                ("active-expire-effort", "10"),
                ("maxmemory-samples", "10"),
                ("proto-max-bulk-len", "2mb"),
                ("client-query-buffer-limit", "1gb"),
                ("tcp-keepalive", "60"),
                ("client-output-buffer-limit", "pubsub 1mb 512kb 5"),
                ("tollgate-shutdown-grace", "2s"),
                ("tollgate-inline-max", "1kb"),
                ("tollgate-max-multibulk-len", "100"),
                ("tollgate-unauth-max-multibulk", "3"),
                ("tollgate-unauth-max-bulk", "512"),
                ("save", ""),
                ("appendonly", "no"),
                ("tollgate-cache-max-wait", "1500ms"),
                ("tollgate-cache-max-lease", "1d"),
            ],
        )
        .unwrap();
        let cases: &[(&str, &str)] = &[
            ("maxmemory", "104857600"),
            ("maxmemory-policy", "allkeys-lru"),
            ("protected-mode", "no"),
            ("loglevel", "warn"),
            ("requirepass", "s3cret"),
            ("timeout", "30"),
            ("maxclients", "4294967295"),
            ("active-expire-effort", "10"),
            ("maxmemory-samples", "10"),
            ("proto-max-bulk-len", "2097152"),
            ("client-query-buffer-limit", "1073741824"),
            ("tcp-keepalive", "60"),
            (
                "client-output-buffer-limit",
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 5",
            ),
            ("tollgate-shutdown-grace", "2s"),
            ("tollgate-inline-max", "1024"),
            ("tollgate-max-multibulk-len", "100"),
            ("tollgate-unauth-max-multibulk", "3"),
            ("tollgate-unauth-max-bulk", "512"),
            ("tollgate-cache-max-wait", "1500ms"),
            ("tollgate-cache-max-lease", "1d"),
        ];
        for (name, want) in cases {
            assert_eq!(get(&c, name), *want, "{name}");
        }
        // The cache's caps: a day at most; a lease of at least 1ms.
        for (name, bad, range) in [
            ("tollgate-cache-max-wait", "25h", "0 to 1d"),
            ("tollgate-cache-max-lease", "0", "1ms to 1d"),
        ] {
            assert_eq!(
                set(&mut c, &[(name, bad)]),
                Err(config_set_error(
                    name,
                    &format!("argument must be a duration from {range} (e.g. 500ms, 2s)")
                ))
            );
        }
        // Redis clamps hz into 1..=500 after accepting 0..=INT_MAX.
        set(&mut c, &[("hz", "1000")]).unwrap();
        assert_eq!(get(&c, "hz"), "500");
        set(&mut c, &[("hz", "0")]).unwrap();
        assert_eq!(get(&c, "hz"), "1");
        // Memory values: k = 1000, kb = 1024; "" is 0, as memtoull reads it.
        set(&mut c, &[("maxmemory", "1K")]).unwrap();
        assert_eq!(get(&c, "maxmemory"), "1000");
        set(&mut c, &[("maxmemory", "")]).unwrap();
        assert_eq!(get(&c, "maxmemory"), "0");
        // Redis 7.0's save parsing: pairs, seconds at least 1, "" for none.
        set(&mut c, &[("save", "900 1 +60 0")]).unwrap();
        assert_eq!(get(&c, "save"), "900 1 60 0");
        set(&mut c, &[("save", "99999999999999999999 1 5 ")]).unwrap();
        assert_eq!(get(&c, "save"), "9223372036854775807 1 5 0");
        set(&mut c, &[("save", "")]).unwrap();
        assert_eq!(get(&c, "save"), "");
        for bad in [
            "60", "0 1", "60 -1", "a 1", "60 1x", " 60 1", "60  1", "+ 1",
        ] {
            assert_eq!(
                set(&mut c, &[("save", bad)]),
                Err(config_set_error("save", "Invalid save parameters")),
                "{bad}"
            );
        }
        for protected in ["dir", "dbfilename"] {
            assert_eq!(
                set(&mut c, &[(protected, "x")]),
                Err(config_set_error(protected, PROTECTED_CONFIG))
            );
        }
        assert!(set(&mut c, &[("appendonly", "yes")]).is_err());
        c.validate().unwrap();
    }

    #[test]
    fn every_settable_param_round_trips_its_own_value() {
        // CONFIG SET x (CONFIG GET x) must be accepted and change nothing.
        let mut c = Config::default();
        c.store.maxmemory = ByteSize::mib(3);
        c.server.requirepass = "pw".to_string();
        for p in params() {
            let Some(setter) = p.set else { continue };
            let before = c.clone();
            setter(&mut c, &(p.get)(&before)).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(c, before, "{}", p.name);
        }
    }

    #[test]
    fn runtime_settable_set_is_exactly_the_documented_one() {
        let mut settable: Vec<_> = params()
            .iter()
            .filter(|p| p.set.is_some())
            .map(|p| p.name)
            .collect();
        settable.sort_unstable();
        assert_eq!(
            settable,
            vec![
                "active-expire-effort",
                "appendfsync",
                "appendonly",
                "auto-aof-rewrite-min-size",
                "auto-aof-rewrite-percentage",
                "busy-reply-threshold",
                "client-output-buffer-limit",
                "client-query-buffer-limit",
                "hash-max-listpack-entries",
                "hash-max-listpack-value",
                "hash-max-ziplist-entries",
                "hash-max-ziplist-value",
                "hz",
                "latency-monitor-threshold",
                "latency-tracking",
                "latency-tracking-info-percentiles",
                "loglevel",
                "lua-time-limit",
                "maxclients",
                "maxmemory",
                "maxmemory-policy",
                "maxmemory-samples",
                "protected-mode",
                "proto-max-bulk-len",
                "requirepass",
                "save",
                "set-max-intset-entries",
                "slowlog-log-slower-than",
                "slowlog-max-len",
                "tcp-keepalive",
                "timeout",
                "tollgate-active-expire-cpu",
                "tollgate-cache-max-lease",
                "tollgate-cache-max-wait",
                "tollgate-inline-max",
                "tollgate-max-multibulk-len",
                "tollgate-rl-max-leases",
                "tollgate-rl-on-full-memory",
                "tollgate-shutdown-grace",
                "tollgate-unauth-max-bulk",
                "tollgate-unauth-max-multibulk",
                "zset-max-listpack-entries",
                "zset-max-listpack-value",
                "zset-max-ziplist-entries",
                "zset-max-ziplist-value",
            ]
        );
    }

    #[test]
    fn hash_listpack_settings_and_their_aliases_answer_as_redis_7_0() {
        // Each expected line was produced by redis-server 7.0.15.
        let mut c = Config::default();
        set(
            &mut c,
            &[
                ("hash-max-ziplist-entries", "10"),
                ("hash-max-listpack-entries", "20"),
            ],
        )
        .unwrap();
        assert_eq!(
            get(&c, "hash-max-ziplist-entries"),
            "20",
            "the last of the two names wins"
        );
        set(
            &mut c,
            &[
                ("hash-max-listpack-entries", "20"),
                ("hash-max-ziplist-entries", "10"),
            ],
        )
        .unwrap();
        assert_eq!(get(&c, "hash-max-listpack-entries"), "10");
        set(&mut c, &[("hash-max-ziplist-value", "1kb")]).unwrap();
        assert_eq!(get(&c, "hash-max-listpack-value"), "1024");
        set(&mut c, &[("hash-max-listpack-value", "10B")]).unwrap();
        assert_eq!(get(&c, "hash-max-ziplist-value"), "10");
        let errors: &[(&str, &str, &str)] = &[
            ("hash-max-ziplist-entries", "-1", "ERR CONFIG SET failed (possibly related to argument 'hash-max-ziplist-entries') - argument must be between 0 and 9223372036854775807 inclusive"),
            ("hash-max-listpack-entries", "1k", "ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - argument couldn't be parsed into an integer"),
            ("hash-max-listpack-entries", "-0", "ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - argument couldn't be parsed into an integer"),
            ("hash-max-listpack-value", "abc", "ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-value') - argument must be a memory value"),
            ("hash-max-listpack-value", "-0", "ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-value') - argument must be a memory value"),
            ("hash-max-listpack-value", "0x10", "ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-value') - argument must be a memory value"),
        ];
        for (name, value, want) in errors {
            assert_eq!(
                set(&mut c, &[(name, value)]),
                Err(want.to_string()),
                "{name} {value}"
            );
        }
        let p: Vec<&[u8]> = vec![b"hash-max-*"];
        let mut names: Vec<String> = config_get(&c, &p, simple_glob)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "hash-max-listpack-entries",
                "hash-max-listpack-value",
                "hash-max-ziplist-entries",
                "hash-max-ziplist-value"
            ]
        );
    }
}
