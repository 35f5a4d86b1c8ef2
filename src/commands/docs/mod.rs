//! COMMAND and its subcommands: the command table rendered in Redis 7's 10-element form,
//! with key specs, so cluster-aware clients can route on the first key; and `COMMAND DOCS`,
//! from the entries of `entries.rs` (arguments in the notation of `argspec.rs`), which
//! `redis-cli` reads for its `HELP` and typing hints. This file: the parsers (the few
//! argument shapes of COMMAND) first, then what they reply.

pub mod argspec;
pub mod entries;

use super::flag::*;
use super::{cmd, lookup, resolve, tips, CmdError, CmdResult, Ctx, Spec, COMMANDS};
use crate::protocol::args::{self, is, Args};
use crate::protocol::Out;

/// ACL categories in the order Redis lists them.
const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

#[rustfmt::skip]
pub static COMMAND_SUBCOMMANDS: &[Spec] = &[
    cmd!("command|count", 2, LOADING | STALE, "server", "slow connection", args::no_sub_args => count),
    cmd!("command|info", -2, LOADING | STALE, "server", "slow connection", names => info, tips: tips::ORDER),
    cmd!("command|docs", -2, LOADING | STALE, "server", "slow connection", names => docs, tips: tips::ORDER),
    cmd!("command|list", -2, LOADING | STALE, "server", "slow connection", parse_list => list, tips: tips::ORDER),
    cmd!("command|getkeys", -4, LOADING | STALE, "server", "slow connection", target => getkeys),
    cmd!("command|help", 2, LOADING | STALE, "server", "slow connection", args::no_sub_args => help),
];

/// COMMAND INFO/DOCS `[name ...]`: the names (none: every command).
fn names<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    Ok(Args::subcommand(argv).rest())
}

/// COMMAND GETKEYS `command [arg ...]`: the command to find keys in.
fn target<'a>(argv: &'a [&'a [u8]]) -> Result<&'a [&'a [u8]], CmdError> {
    match Args::subcommand(argv).rest() {
        [] => Err(CmdError::WrongArgs("command|getkeys".into())),
        target => Ok(target),
    }
}

/// COMMAND LIST's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListFilter<'a> {
    All,
    AclCat(&'a [u8]),
    Pattern(&'a [u8]),
    Module(&'a [u8]),
}

/// COMMAND LIST `[FILTERBY MODULE|ACLCAT|PATTERN value]`.
fn parse_list<'a>(argv: &'a [&'a [u8]]) -> Result<ListFilter<'a>, CmdError> {
    let mut a = Args::subcommand(argv);
    if a.is_empty() {
        return Ok(ListFilter::All);
    }
    if a.remaining() != 3 || !a.eat_keyword("FILTERBY") {
        return Err(CmdError::Syntax);
    }
    let kind = a.next_bytes()?;
    let value = a.next_bytes()?;
    if is(kind, "ACLCAT") {
        Ok(ListFilter::AclCat(value))
    } else if is(kind, "PATTERN") {
        Ok(ListFilter::Pattern(value))
    } else if is(kind, "MODULE") {
        Ok(ListFilter::Module(value))
    } else {
        Err(CmdError::Syntax)
    }
}

/// Flags Redis 7.0 keeps out of COMMAND replies ("hidden on purpose" in `addReplyCommandFlags`).
const HIDDEN_FLAGS: u32 = SENTINEL | MAY_REPLICATE | NOPROPAGATE;

fn flags_of(spec: &Spec) -> Vec<&'static str> {
    NAMES
        .iter()
        .filter(|(f, _)| spec.has(*f) && f & HIDDEN_FLAGS == 0)
        .map(|(_, n)| *n)
        .collect()
}

fn categories_of(spec: &Spec) -> Vec<String> {
    let mut cats: Vec<&str> = spec.acl.split_whitespace().collect();
    if spec.has(WRITE) {
        cats.push("write");
    }
    if spec.has(READONLY) && !cats.contains(&"read") && spec.keys.first > 0 {
        cats.push("read");
    }
    CATEGORIES
        .iter()
        .filter(|c| cats.contains(c))
        .map(|c| format!("@{c}"))
        .collect()
}

/// One command in COMMAND INFO's 10-element form.
fn write_info(out: &mut Out, spec: &Spec) {
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(spec.arity as i64);
    let flags = flags_of(spec);
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    let k = spec.keys;
    out.int(k.first as i64);
    out.int(k.last as i64);
    out.int(k.step as i64);
    let cats = categories_of(spec);
    out.set(cats.len());
    for c in &cats {
        out.simple(c);
    }
    let tips = spec.tips;
    out.set(tips.len());
    for t in tips {
        out.bulk(t.as_bytes());
    }
    write_key_specs(out, spec);
    // Redis 7.0 in RESP3: no subcommands is an empty set, some an array.
    match spec.subcommands.len() {
        0 => out.set(0),
        n => out.array(n),
    }
    for sub in spec.subcommands {
        write_info(out, sub);
    }
}

/// The key specs of a command: one range (first/last/step), or for the commands with a
/// destination key spec (`Spec::dest_key_flags`) a source spec and a destination spec, as
/// Redis lists them; a set in RESP3, as Redis 7.0 sends them.
fn write_key_specs(out: &mut Out, spec: &Spec) {
    if let Some((index, flags)) = spec.keynum {
        let k = spec.keys;
        out.set(if k.first > 0 { 2 } else { 1 });
        if k.first > 0 {
            write_key_spec(out, spec.key_flags, None, k.first, 0, 1);
        }
        write_keynum_spec(out, flags, None, index as usize);
        return;
    }
    if spec.has(super::flag::MOVABLEKEYS) && !spec.key_flags.is_empty() {
        out.set(1);
        write_keynum_spec(out, spec.key_flags, spec.key_notes, 2);
        return;
    }
    let k = spec.keys;
    if k.first <= 0 {
        out.set(0);
        return;
    }
    if let Some(source_flags) = spec.source_key_flags {
        out.set(2);
        write_key_spec(out, spec.key_flags, None, k.first, 0, 1);
        write_key_spec(out, source_flags, None, k.first + 1, k.last, k.step);
        return;
    }
    match spec.dest_key_flags {
        Some(dest_flags) => {
            out.set(2);
            write_key_spec(out, spec.key_flags, None, k.first, 0, 1);
            write_key_spec(out, dest_flags, None, k.first + 1, 0, 1);
        }
        None => {
            let lastkey = if k.last < 0 { k.last } else { k.last - k.first };
            out.set(1);
            write_key_spec(
                out,
                spec.key_flags,
                spec.key_notes,
                k.first,
                lastkey,
                k.step,
            );
        }
    }
}

/// A key spec's notes, flags and index begin-search (what every spec here starts with).
fn write_spec_head(out: &mut Out, flags: &str, notes: Option<&str>, index: i64) {
    out.map(if notes.is_some() { 4 } else { 3 });
    if let Some(n) = notes {
        out.bulk(b"notes");
        out.bulk(n.as_bytes());
    }
    out.bulk(b"flags");
    let flags: Vec<&str> = flags.split_whitespace().collect();
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"index");
    out.bulk(b"spec");
    out.map(1);
    out.bulk(b"index");
    out.int(index);
}

/// The key spec of a command whose keys follow a count (EVAL's `numkeys`, the second
/// argument; SINTERCARD's, the first): index begin-search there, keynum find-keys.
fn write_keynum_spec(out: &mut Out, flags: &str, notes: Option<&str>, index: usize) {
    write_spec_head(out, flags, notes, index as i64);
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"keynum");
    out.bulk(b"spec");
    out.map(3);
    out.bulk(b"keynumidx");
    out.int(0);
    out.bulk(b"firstkey");
    out.int(1);
    out.bulk(b"keystep");
    out.int(1);
}

/// One key spec: index begin-search, range find-keys.
fn write_key_spec(
    out: &mut Out,
    flags: &str,
    notes: Option<&str>,
    index: i32,
    lastkey: i32,
    step: i32,
) {
    write_spec_head(out, flags, notes, index as i64);
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"range");
    out.bulk(b"spec");
    out.map(3);
    out.bulk(b"lastkey");
    out.int(lastkey as i64);
    out.bulk(b"keystep");
    out.int(step as i64);
    out.bulk(b"limit");
    out.int(0);
}

/// COMMAND with no subcommand: every command's info.
pub fn command(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.out.array(COMMANDS.len());
    for spec in COMMANDS {
        write_info(ctx.out, spec);
    }
    Ok(())
}

fn count(ctx: &mut Ctx, (): ()) -> CmdResult {
    ctx.out.int(COMMANDS.len() as i64);
    Ok(())
}

/// Finds a command or `container|sub` by its full name.
fn by_full_name(name: &[u8]) -> Option<&'static Spec> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    match lower.split_once('|') {
        None => lookup(name),
        Some((parent, sub)) => lookup(parent.as_bytes())?
            .subcommands
            .iter()
            .find(|s| s.name.split_once('|').map(|x| x.1) == Some(sub)),
    }
}

fn info(ctx: &mut Ctx, names: &[&[u8]]) -> CmdResult {
    if names.is_empty() {
        return command(ctx, ());
    }
    ctx.out.array(names.len());
    for name in names {
        match by_full_name(name) {
            Some(spec) => write_info(ctx.out, spec),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// One command's docs, in the order and shape of Redis 7.0's `addReplyCommandDocs`; a
/// command without an entry gets a one-line summary and its group.
fn write_doc(out: &mut Out, spec: &Spec) {
    let subs = !spec.subcommands.is_empty();
    let Some(doc) = entries::get(spec.name) else {
        out.map(if subs { 3 } else { 2 });
        out.bulk(b"summary");
        out.bulk(format!("The {} command", spec.name.replace('|', " ").to_uppercase()).as_bytes());
        out.bulk(b"group");
        out.bulk(spec.group.as_bytes());
        write_subcommand_docs(out, spec);
        return;
    };
    let fields = [
        doc.summary,
        doc.since,
        doc.complexity,
        doc.deprecated_since,
        doc.replaced_by,
    ];
    let len = 1
        + fields.iter().flatten().count()
        + usize::from(!doc.doc_flags.is_empty())
        + usize::from(!doc.history.is_empty())
        + usize::from(!doc.args.is_empty())
        + usize::from(subs);
    out.map(len);
    let text = |out: &mut Out, name: &str, value: Option<&str>| {
        if let Some(v) = value {
            out.bulk(name.as_bytes());
            out.bulk(v.as_bytes());
        }
    };
    text(out, "summary", doc.summary);
    text(out, "since", doc.since);
    // The table's group, which a unit test checks against the entry's.
    text(out, "group", Some(spec.group));
    text(out, "complexity", doc.complexity);
    if !doc.doc_flags.is_empty() {
        out.bulk(b"doc_flags");
        out.set(doc.doc_flags.len());
        for f in &doc.doc_flags {
            out.simple(f);
        }
    }
    text(out, "deprecated_since", doc.deprecated_since);
    text(out, "replaced_by", doc.replaced_by);
    if !doc.history.is_empty() {
        out.bulk(b"history");
        out.set(doc.history.len());
        for (version, change) in &doc.history {
            out.array(2);
            out.bulk(version.as_bytes());
            out.bulk(change.as_bytes());
        }
    }
    if !doc.args.is_empty() {
        out.bulk(b"arguments");
        write_args(out, &doc.args);
    }
    write_subcommand_docs(out, spec);
}

fn write_subcommand_docs(out: &mut Out, spec: &Spec) {
    if spec.subcommands.is_empty() {
        return;
    }
    out.bulk(b"subcommands");
    out.map(spec.subcommands.len());
    for s in spec.subcommands {
        out.bulk(s.name.as_bytes());
        write_doc(out, s);
    }
}

/// Arguments as Redis 7.0's `addReplyCommandArgList` gives them.
fn write_args(out: &mut Out, args: &[argspec::Arg]) {
    out.array(args.len());
    for a in args {
        let flags = a.flags();
        let nested = matches!(a.kind, argspec::Type::OneOf | argspec::Type::Block);
        let optional = [a.token, a.since, a.deprecated_since];
        out.map(
            2 + usize::from(a.key_spec_index.is_some())
                + optional.iter().flatten().count()
                + usize::from(!flags.is_empty())
                + usize::from(nested),
        );
        out.bulk(b"name");
        out.bulk(a.name.as_bytes());
        out.bulk(b"type");
        out.bulk(a.kind.name().as_bytes());
        if let Some(i) = a.key_spec_index {
            out.bulk(b"key_spec_index");
            out.int(i64::from(i));
        }
        for (name, value) in [
            ("token", a.token),
            ("since", a.since),
            ("deprecated_since", a.deprecated_since),
        ] {
            if let Some(v) = value {
                out.bulk(name.as_bytes());
                out.bulk(v.as_bytes());
            }
        }
        if !flags.is_empty() {
            out.bulk(b"flags");
            out.set(flags.len());
            for f in flags {
                out.simple(f);
            }
        }
        if nested {
            out.bulk(b"arguments");
            write_args(out, &a.args);
        }
    }
}

fn docs(ctx: &mut Ctx, names: &[&[u8]]) -> CmdResult {
    let specs: Vec<&Spec> = if names.is_empty() {
        COMMANDS.iter().collect()
    } else {
        names.iter().filter_map(|n| by_full_name(n)).collect()
    };
    ctx.out.map(specs.len());
    for spec in specs {
        ctx.out.bulk(spec.name.as_bytes());
        write_doc(ctx.out, spec);
    }
    Ok(())
}

fn list(ctx: &mut Ctx, filter: ListFilter) -> CmdResult {
    let mut names: Vec<&str> = Vec::new();
    for spec in COMMANDS {
        names.push(spec.name);
        names.extend(spec.subcommands.iter().map(|s| s.name));
    }
    let lower = |v: &[u8]| String::from_utf8_lossy(v).to_ascii_lowercase();
    match filter {
        ListFilter::All => {}
        ListFilter::AclCat(v) => {
            let cat = format!("@{}", lower(v));
            names.retain(|n| {
                by_full_name(n.as_bytes()).is_some_and(|s| categories_of(s).contains(&cat))
            });
        }
        ListFilter::Pattern(v) => {
            let v = lower(v);
            names.retain(|n| crate::store::glob::matches(v.as_bytes(), n.as_bytes(), true));
        }
        ListFilter::Module(_) => names.clear(),
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn getkeys(ctx: &mut Ctx, target: &[&[u8]]) -> CmdResult {
    let spec = match resolve(target) {
        Ok(s) => s,
        Err(CmdError::WrongArgs(_)) => {
            return Err(CmdError::other(
                "ERR Invalid number of arguments specified for command",
            ))
        }
        Err(_) => return Err(CmdError::other("ERR Invalid command specified")),
    };
    // Keys after a count at a known index (ZUNIONSTORE's destination, then its sources):
    // an invalid count is Redis's error.
    if let Some((index, _)) = spec.keynum {
        let index = index as usize;
        let n = target
            .get(index)
            .map_or(-1, |n| crate::protocol::args::int(n).unwrap_or(-1));
        let keys = match usize::try_from(n) {
            Ok(n) if n >= 1 && n < target.len().saturating_sub(index) => {
                &target[index + 1..index + 1 + n]
            }
            _ => {
                return Err(CmdError::other(
                    "ERR Invalid arguments specified for command",
                ))
            }
        };
        let dst = spec.key_positions(index);
        ctx.out.array(dst.len() + keys.len());
        for i in dst {
            ctx.out.bulk(target[i]);
        }
        for k in keys {
            ctx.out.bulk(k);
        }
        return Ok(());
    }
    // Keys after a count (EVAL): those the count names, none when it is not a valid count.
    if spec.has(super::flag::MOVABLEKEYS) {
        let at = 2;
        let n = target
            .get(at)
            .map_or(-1, |n| crate::protocol::args::int(n).unwrap_or(-1));
        let keys = match usize::try_from(n) {
            Ok(n) if n <= target.len().saturating_sub(at + 1) => &target[at + 1..at + 1 + n],
            _ => &[][..],
        };
        // No keys is an answer only for a command whose keys are optional (EVAL).
        if keys.is_empty() && !spec.has(super::flag::NO_MANDATORY_KEYS) {
            return Err(CmdError::other(
                "ERR Invalid arguments specified for command",
            ));
        }
        ctx.out.array(keys.len());
        for k in keys {
            ctx.out.bulk(k);
        }
        return Ok(());
    }
    let keys = spec.key_positions(target.len());
    if keys.is_empty() {
        return Err(CmdError::other("ERR The command has no key arguments"));
    }
    ctx.out.array(keys.len());
    for i in keys {
        ctx.out.bulk(target[i]);
    }
    Ok(())
}

fn help(ctx: &mut Ctx, (): ()) -> CmdResult {
    super::help(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::{argv, check};

    /// Every entry of a command in the table names the table's group (what is shown).
    #[test]
    fn entry_groups_match_the_table() {
        for spec in COMMANDS
            .iter()
            .chain(COMMANDS.iter().flat_map(|s| s.subcommands))
        {
            if let Some(doc) = entries::get(spec.name) {
                assert_eq!(doc.group, Some(spec.group), "{}", spec.name);
            }
        }
    }

    #[test]
    fn command_subcommand_arguments() {
        check(
            names,
            &[
                ("COMMAND INFO", Ok(argv("COMMAND")[1..].as_ref())),
                ("COMMAND DOCS get set", Ok(argv("get set"))),
            ],
        );
        check(
            target,
            &[
                ("COMMAND GETKEYS GET k", Ok(argv("GET k"))),
                (
                    "COMMAND GETKEYS",
                    Err("ERR wrong number of arguments for 'command|getkeys' command"),
                ),
            ],
        );
        check(
            parse_list,
            &[
                ("COMMAND LIST", Ok(ListFilter::All)),
                (
                    "COMMAND LIST filterby aclcat string",
                    Ok(ListFilter::AclCat(b"string")),
                ),
                (
                    "COMMAND LIST FILTERBY PATTERN x*",
                    Ok(ListFilter::Pattern(b"x*")),
                ),
                (
                    "COMMAND LIST FILTERBY MODULE m",
                    Ok(ListFilter::Module(b"m")),
                ),
                ("COMMAND LIST FILTERBY FOO x", Err("ERR syntax error")),
                ("COMMAND LIST FILTERBY ACLCAT", Err("ERR syntax error")),
                ("COMMAND LIST FOO a b", Err("ERR syntax error")),
                ("COMMAND LIST FILTERBY ACLCAT a b", Err("ERR syntax error")),
            ],
        );
    }
}
