//! Each command's documentation for `COMMAND DOCS` (summary, since, complexity, history,
//! arguments...), read once from two text files compiled in: `redis.txt` (Redis 7.0's
//! commands, as redis-server 7.0 documents them) and `tollgate.txt` (tollgate's own).
//!
//! An entry is the command's name on a line of its own, then indented `field: value` lines:
//!
//! ```text
//! set
//!   summary: Set the string value of a key
//!   since: 1.0.0
//!   group: string
//!   complexity: O(1)
//!   history: 2.6.12: Added the `EX`, `PX`, `NX` and `XX` options.
//!   args: key:key value [condition: NX | XX]@2.6.12 ...
//! ```
//!
//! `args` is in the notation of `argspec.rs`; `history` repeats, one line per change;
//! `doc_flags` is a space-separated list; `deprecated_since` and `replaced_by` are as in Redis.
//! A command of the table without an entry gets a one-line summary (`docs::write_doc`), and an
//! entry without a command in the table is simply not shown: entries may come before their
//! commands.

use super::argspec::{self, Arg};
use std::collections::HashMap;
use std::sync::OnceLock;

/// One command's documentation.
#[derive(Debug, Default)]
pub struct Doc<'a> {
    pub summary: Option<&'a str>,
    pub since: Option<&'a str>,
    pub group: Option<&'a str>,
    pub complexity: Option<&'a str>,
    pub doc_flags: Vec<&'a str>,
    pub deprecated_since: Option<&'a str>,
    pub replaced_by: Option<&'a str>,
    pub history: Vec<(&'a str, &'a str)>,
    pub args: Vec<Arg<'a>>,
}

/// The entry files, in the order they are read (a later entry of the same name wins).
pub const FILES: &[(&str, &str)] = &[
    ("redis.txt", include_str!("redis.txt")),
    ("tollgate.txt", include_str!("tollgate.txt")),
];

/// The documentation of a command or `container|sub`, by its lower-case full name.
pub fn get(name: &str) -> Option<&'static Doc<'static>> {
    static DOCS: OnceLock<HashMap<&'static str, Doc<'static>>> = OnceLock::new();
    DOCS.get_or_init(|| {
        FILES
            .iter()
            .flat_map(|(_, text)| parse(text))
            // An entry that does not parse is left out (the command keeps its one-line
            // summary); a unit test parses every entry, so none ships.
            .filter_map(|(name, doc)| Some((name, doc.ok()?)))
            .collect()
    })
    .get(name)
}

/// Every entry of a file: its name and its documentation, or why it does not parse.
pub fn parse(text: &str) -> Vec<(&str, Result<Doc<'_>, String>)> {
    let mut entries: Vec<(&str, Result<Doc, String>)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            entries.push((line.trim(), Ok(Doc::default())));
            continue;
        }
        let Some((_, entry)) = entries.last_mut() else {
            continue;
        };
        if let Ok(doc) = entry {
            if let Err(e) = field(doc, line.trim()) {
                *entry = Err(format!("{e} in `{}`", line.trim()));
            }
        }
    }
    entries
}

fn field<'a>(doc: &mut Doc<'a>, line: &'a str) -> Result<(), String> {
    let (key, value) = line.split_once(": ").ok_or("no `field: value`")?;
    let slot = match key {
        "summary" => &mut doc.summary,
        "since" => &mut doc.since,
        "group" => &mut doc.group,
        "complexity" => &mut doc.complexity,
        "deprecated_since" => &mut doc.deprecated_since,
        "replaced_by" => &mut doc.replaced_by,
        "doc_flags" => {
            doc.doc_flags = value.split_whitespace().collect();
            return Ok(());
        }
        "history" => {
            let change = value
                .split_once(": ")
                .ok_or("history without `version: `")?;
            doc.history.push(change);
            return Ok(());
        }
        "args" => {
            doc.args = argspec::parse(value)?;
            return Ok(());
        }
        _ => return Err(format!("unknown field `{key}`")),
    };
    if slot.replace(value).is_some() {
        return Err(format!("`{key}` twice"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry of every file parses (so `get` leaves none out), and names are unique.
    #[test]
    fn every_entry_parses() {
        let mut seen = std::collections::HashSet::new();
        for (file, text) in FILES {
            for (name, doc) in parse(text) {
                if let Err(e) = &doc {
                    panic!("{file}: {name}: {e}");
                }
                assert!(seen.insert(name), "{file}: {name} twice");
                assert!(get(name).is_some());
            }
        }
    }

    #[test]
    fn fields() {
        let text = "a\n  summary: S: x\n  history: 1.0: one: two\n  doc_flags: deprecated syscmd\n  args: k:key\nb\n  bogus: 1\nc\n  args: [x\n";
        let entries = parse(text);
        let (name, Ok(a)) = &entries[0] else {
            panic!("{entries:?}")
        };
        assert_eq!(*name, "a");
        assert_eq!(a.summary, Some("S: x"));
        assert_eq!(a.history, vec![("1.0", "one: two")]);
        assert_eq!(a.doc_flags, vec!["deprecated", "syscmd"]);
        assert_eq!(a.args.len(), 1);
        assert!(entries[1].1.is_err());
        assert!(entries[2].1.is_err());
    }
}
