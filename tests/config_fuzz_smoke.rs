//! The `config` fuzz target's body (`fuzz/config_body.rs`) over deterministic pseudo-random
//! inputs: the shipped config file with values and lines swapped for odd ones, and CONFIG SET
//! requests mixing real parameter names with odd values, so stable CI exercises it without
//! nightly and cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::Rng;

include!("../fuzz/config_body.rs");

/// Values that sit on the edges of what settings accept.
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "7",
    "16",
    "500",
    "501",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "1k",
    "1kb",
    "1mb",
    "1gb",
    "1tb",
    "1.5",
    "1e3",
    "-0",
    "+1",
    "01",
    " 1",
    "",
    "yes",
    "no",
    "YES",
    "maybe",
    "allkeys-lru",
    "volatile-ttl",
    "noeviction",
    "LFU",
    "debug",
    "warning",
    "json",
    "text",
    "0.0.0.0 ::",
    "::1",
    "127.0.0.1",
    "300.1.1.1",
    "\u{e9}",
    "a\"b",
    "[x]",
];

/// Right-hand sides for the TOML file.
const TOML_VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "16",
    "4294967296",
    "9223372036854775807",
    "99999999999999999999",
    "1.5",
    "true",
    "false",
    "\"\"",
    "\"1mb\"",
    "\"1gb\"",
    "\"yes\"",
    "\"allkeys-lfu\"",
    "\"nope\"",
    "\"0.0.0.0 ::\"",
    "\"300.1.1.1\"",
    "[]",
    "{}",
    "\"10s\"",
    "\"0\"",
    "\"token-bucket\"",
    "\"gcra\"",
    "\"sliding-window\"",
    "\"fixed\"",
    "[1, 2]",
    "\"off\"",
    "{ freemium = \"off\", gold = 1 }",
];

fn mutate_file(base: &str, r: &mut Rng) -> String {
    let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
    for _ in 0..1 + r.below(4) {
        let i = r.below(lines.len());
        match r.below(6) {
            // A value swapped for an odd one.
            0..=2 => {
                if let Some(eq) = lines[i].find('=') {
                    let key = lines[i][..eq].to_string();
                    lines[i] = format!("{key}= {}", r.pick(TOML_VALUES));
                }
            }
            // A line dropped, duplicated or a section header invented.
            3 => {
                lines.remove(i);
            }
            4 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            _ => lines.insert(
                i,
                r.pick(&[
                    "[quota]",
                    "[server]",
                    "[ratelimit.policies.x]",
                    "[cache.types.x]",
                    "x = 1",
                    "[[",
                ])
                .to_string(),
            ),
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
    }
    lines.join("\n")
}

#[test]
fn config_fuzz_body_on_deterministic_inputs() {
    let base =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/tollgate.toml"))
            .unwrap();
    let names: Vec<&str> = params().iter().map(|p| p.name).collect();
    let mut r = Rng(0x5eed_c0f1);
    // The shipped file itself, and an empty one.
    check_config(base.as_bytes());
    check_config(b"");
    for _ in 0..3_000 {
        let mut input = if r.below(3) == 0 {
            Vec::new()
        } else {
            mutate_file(&base, &mut r).into_bytes()
        };
        input.push(0);
        let pairs = r.below(4);
        let mut parts = Vec::new();
        for _ in 0..pairs {
            let name = if r.below(8) == 0 {
                "nosuch"
            } else {
                r.pick(&names)
            };
            parts.push(name.to_string());
            parts.push(r.pick(VALUES).to_string());
        }
        input.extend_from_slice(parts.join("\0").as_bytes());
        check_config(&input);
    }
}
