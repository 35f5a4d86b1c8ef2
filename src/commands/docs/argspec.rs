//! The argument syntax of `COMMAND DOCS` entries: a one-line notation close to the syntax
//! Redis's manual prints, parsed into the tree Redis 7.0 replies (`arguments`).
//!
//! ```text
//! key:key value [condition: NX | XX]@2.6.12 [GET]@6.2.0 [expiration: EX seconds:integer@2.6.12 | KEEPTTL@6.0.0]
//! ```
//!
//! - `name` is a string argument; `name:type` gives its type (`key`, `integer`, `double`,
//!   `pattern`, `unix-time`); `name:key1` is a key of key spec 1 (`:key` is spec 0).
//! - A word without lower-case letters is a pure token (`NX`, named `nx`); `change=CH` names
//!   it when its name is not the token's lower case.
//! - `[...]` is optional, `(...)` required. Inside, `a | b` is a one-of and needs a label
//!   (`condition: NX | XX`); `TOKEN arg` is an argument with a token (`EX seconds:integer`);
//!   `label: TOKEN a b` or `TOKEN a b` (named after the token) is a block with a token;
//!   `label: a b` a block without one (write a leading pure token as `(TOKEN)` so it is not
//!   taken for the block's); `label: TOKEN: a | b` is a one-of with a token.
//! - Suffixes, on a word or right after `]`/`)`: `...` multiple, `&` multiple_token,
//!   `@7.0.0` since, `!2.8.12` deprecated since.
//!
//! Why a notation rather than Rust literals: an entry reads like the command's syntax and is
//! one line, so adding a command's docs is adding one entry (`entries.rs` reads the files).

use std::borrow::Cow;

/// An argument's type, as `COMMAND DOCS` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Integer,
    Double,
    Key,
    Pattern,
    UnixTime,
    PureToken,
    OneOf,
    Block,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Integer => "integer",
            Type::Double => "double",
            Type::Key => "key",
            Type::Pattern => "pattern",
            Type::UnixTime => "unix-time",
            Type::PureToken => "pure-token",
            Type::OneOf => "oneof",
            Type::Block => "block",
        }
    }
}

/// One argument of a command's docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg<'a> {
    pub name: Cow<'a, str>,
    pub kind: Type,
    pub key_spec_index: Option<u32>,
    pub token: Option<&'a str>,
    pub since: Option<&'a str>,
    pub deprecated_since: Option<&'a str>,
    pub optional: bool,
    pub multiple: bool,
    pub multiple_token: bool,
    /// A one-of's alternatives, a block's parts.
    pub args: Vec<Arg<'a>>,
}

impl<'a> Arg<'a> {
    fn new(name: impl Into<Cow<'a, str>>, kind: Type) -> Self {
        Arg {
            name: name.into(),
            kind,
            key_spec_index: None,
            token: None,
            since: None,
            deprecated_since: None,
            optional: false,
            multiple: false,
            multiple_token: false,
            args: Vec::new(),
        }
    }

    /// The flags `COMMAND DOCS` lists, in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        [
            (self.optional, "optional"),
            (self.multiple, "multiple"),
            (self.multiple_token, "multiple_token"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n)
        .collect()
    }
}

/// Parses a whole argument line.
pub fn parse(line: &str) -> Result<Vec<Arg<'_>>, String> {
    let mut p = Parser {
        toks: tokenize(line),
        at: 0,
    };
    let items = p.seq()?;
    match p.toks.get(p.at) {
        None => Ok(items.into_iter().map(|i| i.arg).collect()),
        Some(t) => Err(format!("unexpected {t:?}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    /// `[` (optional) or `(`.
    Open(bool),
    /// `]` or `)` (which must match) and the suffixes glued to it.
    Close(bool, &'a str),
    Bar,
    /// A word ending in `:`, without it.
    Label(&'a str),
    Word(&'a str),
}

fn tokenize(line: &str) -> Vec<Tok<'_>> {
    let structural = |c: char| c.is_whitespace() || "[]()|".contains(c);
    let mut toks = Vec::new();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '[' || c == '(' {
            toks.push(Tok::Open(c == '['));
            rest = &rest[1..];
            continue;
        }
        if c == '|' {
            toks.push(Tok::Bar);
            rest = &rest[1..];
            continue;
        }
        let (start, close) = match c {
            ']' | ')' => (1, Some(c == ']')),
            _ => (0, None),
        };
        let len = rest[start..].find(structural).unwrap_or(rest.len() - start);
        let word = &rest[start..start + len];
        rest = &rest[start + len..];
        toks.push(match close {
            Some(opt) => Tok::Close(opt, word),
            None => match word.strip_suffix(':') {
                Some(label) if !label.is_empty() => Tok::Label(label),
                _ => Tok::Word(word),
            },
        });
    }
    toks
}

/// A parsed term, and whether it is a bare pure token (a word, nothing attached), which
/// may become the token of what follows it in a group.
struct Item<'a> {
    arg: Arg<'a>,
    bare_token: bool,
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.at).copied()
    }

    /// Terms up to a `|`, a closing bracket or the end.
    fn seq(&mut self) -> Result<Vec<Item<'a>>, String> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                None | Some(Tok::Bar) | Some(Tok::Close(..)) => return Ok(items),
                Some(Tok::Word(w)) => {
                    self.at += 1;
                    items.push(word(w)?);
                }
                Some(Tok::Open(opt)) => {
                    self.at += 1;
                    items.push(self.group(opt)?);
                }
                Some(Tok::Label(l)) => return Err(format!("label `{l}:` not at a group's start")),
            }
        }
    }

    /// A bracketed group, its opening bracket eaten.
    fn group(&mut self, optional: bool) -> Result<Item<'a>, String> {
        let mut label = None;
        let mut token = None;
        if let Some(Tok::Label(l)) = self.peek() {
            label = Some(l);
            self.at += 1;
            if let Some(Tok::Label(t)) = self.peek() {
                token = Some(t);
                self.at += 1;
            }
        }
        let mut alts = vec![self.seq()?];
        while self.peek() == Some(Tok::Bar) {
            self.at += 1;
            alts.push(self.seq()?);
        }
        let Some(Tok::Close(closing, suffix)) = self.peek() else {
            return Err("unclosed group".into());
        };
        self.at += 1;
        if closing != optional {
            return Err("mismatched brackets".into());
        }
        let mut arg = if alts.len() > 1 {
            let name = label.ok_or("a one-of needs a label")?;
            let mut arg = Arg::new(name, Type::OneOf);
            arg.token = token;
            for alt in alts {
                arg.args.push(unit(None, alt)?);
            }
            arg
        } else {
            let alt = alts.pop().unwrap_or_default();
            match token {
                Some(t) => {
                    let mut arg = block(label.ok_or("a token needs a label")?, alt);
                    arg.token = Some(t);
                    arg
                }
                None => unit(label, alt)?,
            }
        };
        arg.optional |= optional;
        let rest = suffixes(&mut arg, suffix)?;
        if !rest.is_empty() {
            return Err(format!("`{rest}` after a group"));
        }
        Ok(Item {
            arg,
            bare_token: false,
        })
    }
}

/// What a group's terms (or one alternative's) make.
fn unit<'a>(label: Option<&'a str>, mut items: Vec<Item<'a>>) -> Result<Arg<'a>, String> {
    let leading_token = items.len() >= 2 && items[0].bare_token;
    match (label, items.len()) {
        (None, 0) => Err("empty group".into()),
        (None, 1) => Ok(items.remove(0).arg),
        (None, 2) if leading_token => {
            let token = items.remove(0).arg.token;
            let mut arg = items.remove(0).arg;
            if arg.token.is_some() || arg.kind == Type::PureToken {
                return Err(format!("two tokens for `{}`", arg.name));
            }
            arg.token = token;
            Ok(arg)
        }
        (None, _) if leading_token => {
            let token = items.remove(0).arg.token;
            let name = token.unwrap_or_default().to_ascii_lowercase();
            let mut arg = block(name, items);
            arg.token = token;
            Ok(arg)
        }
        (None, _) => Err("a block needs a label".into()),
        (Some(label), _) if leading_token => {
            let token = items.remove(0).arg.token;
            let mut arg = block(label, items);
            arg.token = token;
            Ok(arg)
        }
        (Some(label), _) => Ok(block(label, items)),
    }
}

fn block<'a>(name: impl Into<Cow<'a, str>>, items: Vec<Item<'a>>) -> Arg<'a> {
    let mut arg = Arg::new(name, Type::Block);
    arg.args = items.into_iter().map(|i| i.arg).collect();
    arg
}

/// One word: a pure token or a named argument, with its suffixes.
fn word(w: &str) -> Result<Item<'_>, String> {
    let mut arg = Arg::new("", Type::String);
    let core = suffixes(&mut arg, w)?;
    if core.is_empty() {
        return Err(format!("`{w}`: no name"));
    }
    let plain = core.len() == w.len();
    if let Some((name, token)) = core.split_once('=') {
        arg.name = Cow::Borrowed(name);
        arg.kind = Type::PureToken;
        arg.token = Some(token);
        return Ok(Item {
            arg,
            bare_token: false,
        });
    }
    if !core.chars().any(|c| c.is_ascii_lowercase()) {
        arg.name = Cow::Owned(core.to_ascii_lowercase());
        arg.kind = Type::PureToken;
        arg.token = Some(core);
        return Ok(Item {
            arg,
            bare_token: plain,
        });
    }
    let (name, kind) = match core.rsplit_once(':') {
        Some((name, ty)) => match ty {
            "string" => (name, Type::String),
            "integer" => (name, Type::Integer),
            "double" => (name, Type::Double),
            "pattern" => (name, Type::Pattern),
            "unix-time" => (name, Type::UnixTime),
            _ => match ty.strip_prefix("key") {
                Some(index) => {
                    let index = if index.is_empty() {
                        0
                    } else {
                        index.parse().map_err(|_| format!("`{w}`: bad key index"))?
                    };
                    arg.key_spec_index = Some(index);
                    (name, Type::Key)
                }
                // A name with a colon in it (CLIENT KILL's `ip:port`).
                None => (core, Type::String),
            },
        },
        None => (core, Type::String),
    };
    arg.name = Cow::Borrowed(name);
    arg.kind = kind;
    Ok(Item {
        arg,
        bare_token: false,
    })
}

/// Takes the suffixes off the end of `w` into `arg`; returns what is before them.
fn suffixes<'a>(arg: &mut Arg<'a>, w: &'a str) -> Result<&'a str, String> {
    let mut core = w;
    if let Some((c, v)) = core.rsplit_once('!') {
        arg.deprecated_since = Some(version(v)?);
        core = c;
    }
    if let Some((c, v)) = core.rsplit_once('@') {
        arg.since = Some(version(v)?);
        core = c;
    }
    if let Some(c) = core.strip_suffix('&') {
        arg.multiple_token = true;
        core = c;
    }
    if let Some(c) = core.strip_suffix("...") {
        arg.multiple = true;
        core = c;
    }
    Ok(core)
}

fn version(v: &str) -> Result<&str, String> {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.') {
        Ok(v)
    } else {
        Err(format!("`{v}` is not a version"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(args: &[Arg]) -> String {
        args.iter()
            .map(|a| {
                let mut s = format!("{}:{}", a.name, a.kind.name());
                if let Some(t) = a.token {
                    s += &format!(" token={t}");
                }
                if let Some(i) = a.key_spec_index {
                    s += &format!(" ks={i}");
                }
                if let Some(v) = a.since {
                    s += &format!(" since={v}");
                }
                if let Some(v) = a.deprecated_since {
                    s += &format!(" dep={v}");
                }
                for f in a.flags() {
                    s += &format!(" {f}");
                }
                if !a.args.is_empty() {
                    s += &format!(" {{{}}}", show(&a.args));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn notation() {
        let cases = [
            ("key:key value", "key:key ks=0, value:string"),
            ("dst:key1 n:integer", "dst:key ks=1, n:integer"),
            ("[condition: NX | XX]@2.6.12", "condition:oneof since=2.6.12 optional {nx:pure-token token=NX, xx:pure-token token=XX}"),
            ("[change=CH]@3.0.2", "change:pure-token token=CH since=3.0.2 optional"),
            ("[expiration: EX seconds:integer@2.6.12 | KEEPTTL@6.0.0]", "expiration:oneof optional {seconds:integer token=EX since=2.6.12, keepttl:pure-token token=KEEPTTL since=6.0.0}"),
            ("(score_member: score:double member)...", "score_member:block multiple {score:double, member:string}"),
            ("[LIMIT offset:integer count:integer]", "limit:block token=LIMIT optional {offset:integer, count:integer}"),
            ("[offset_count: LIMIT offset:integer count:integer]", "offset_count:block token=LIMIT optional {offset:integer, count:integer}"),
            ("[GET pattern:pattern...&]", "pattern:pattern token=GET optional multiple multiple_token"),
            ("[count-block: (COUNT count:integer) [ANY]]", "count-block:block optional {count:integer token=COUNT, any:pure-token token=ANY optional}"),
            ("[wrap_sat_fail: OVERFLOW: WRAP | SAT]", "wrap_sat_fail:oneof token=OVERFLOW optional {wrap:pure-token token=WRAP, sat:pure-token token=SAT}"),
            ("(filter: ip:port!2.8.12 | [ID id:integer])", "filter:oneof {ip:port:string dep=2.8.12, id:integer token=ID optional}"),
            ("(FILTERBY x)", "x:string token=FILTERBY"),
        ];
        for (line, want) in cases {
            assert_eq!(show(&parse(line).unwrap()), want, "{line}");
        }
    }

    #[test]
    fn errors_are_errors() {
        for bad in [
            "[a | b]", "[a b]", "[x", "x]", "[x)", "(x)y", "a@", "a@x", "n:key-", "label: a",
            "(NX NX)", "()", "...",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
