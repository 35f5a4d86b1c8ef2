//! The modules of `src/` form layers that point one way: a module may use only modules of
//! lower layers. Protocol, store, algorithms, metrics and config know nothing of the commands
//! or the network, so each can be tested (and replaced) on its own. This test reads every
//! source file and fails on an upward (or sideways) `crate::` path, and on a top-level module
//! that has no layer yet.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::Path;

/// Lowest first. A module may use the modules of the layers before its own.
const LAYERS: &[&[&str]] = &[
    &["alloc", "clock", "duration", "error"],
    &["config", "protocol"],
    &["ratelimit", "quota"],
    &["store"],
    &["persist", "cache"],
    &["metrics"],
    &["clients"],
    &["pubsub", "scripting", "blocking"],
    &["state"],
    &["session"],
    &["commands"],
    &["server"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a file under `src/` belongs to (`src/store/shard.rs` → `store`).
fn module_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    match name {
        "lib" | "main" => None,
        _ => Some(name.to_string()),
    }
}

/// The top-level modules named by `crate::` paths in `code` (comments removed by the
/// caller), including grouped imports such as `use crate::{store, config::Config}`.
fn used_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn strip_comments(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_only_use_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let Some(module) = module_of(rel) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            problems.push(format!(
                "src/{}: module `{module}` has no layer: add it to LAYERS in tests/layers.rs",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for used in used_modules(strip_comments(line)) {
                if used == module {
                    continue;
                }
                match layer_of(&used) {
                    Some(l) if l < own => {}
                    Some(_) => problems.push(format!(
                        "src/{}:{}: `{module}` uses `crate::{used}`, which is not below it",
                        rel.display(),
                        n + 1
                    )),
                    None => problems.push(format!(
                        "src/{}:{}: `crate::{used}` is not a module in LAYERS",
                        rel.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_sees_plain_grouped_and_macro_paths() {
    assert_eq!(
        used_modules("use crate::{store::Shard, config}; $crate::commands::Spec"),
        ["store", "config", "commands"]
    );
    assert_eq!(used_modules("let x = crate::server::run;"), ["server"]);
    assert_eq!(strip_comments("a // crate::server"), "a ");
    assert_eq!(
        module_of(Path::new("store/shard.rs")).as_deref(),
        Some("store")
    );
    assert_eq!(module_of(Path::new("lib.rs")), None);
}
