//! Glob-style pattern matching with Redis's exact rules (`stringmatchlen`): `*`, `?`,
//! `[abc]`, `[^a-z]`, `\x` escapes, and the same protection against abusive patterns.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, text, nocase, &mut skip_longer, 0)
}

/// C's `char` is signed on the platforms Redis ships for; ranges compare as signed.
fn sc(b: u8) -> i32 {
    b as i8 as i32
}

fn lower(c: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&c) {
        c + 32
    } else {
        c
    }
}

fn match_impl(pat: &[u8], s: &[u8], nocase: bool, skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > 1000 {
        return false;
    }
    // Reads past the end see the C string's terminating NUL.
    let at = |v: &[u8], i: usize| -> u8 { v.get(i).copied().unwrap_or(0) };
    let (mut p, mut plen) = (0usize, pat.len() as isize);
    let (mut t, mut tlen) = (0usize, s.len() as isize);
    while plen > 0 && tlen > 0 {
        match at(pat, p) {
            b'*' => {
                while plen > 0 && at(pat, p + 1) == b'*' {
                    p += 1;
                    plen -= 1;
                }
                if plen == 1 {
                    return true;
                }
                while tlen > 0 {
                    if match_impl(&pat[p + 1..], &s[t..], nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    t += 1;
                    tlen -= 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                t += 1;
                tlen -= 1;
            }
            b'[' => {
                p += 1;
                plen -= 1;
                let not = at(pat, p) == b'^';
                if not {
                    p += 1;
                    plen -= 1;
                }
                let mut matched = false;
                let c0 = at(s, t);
                loop {
                    if at(pat, p) == b'\\' && plen >= 2 {
                        p += 1;
                        plen -= 1;
                        if at(pat, p) == c0 {
                            matched = true;
                        }
                    } else if at(pat, p) == b']' {
                        break;
                    } else if plen <= 0 {
                        p -= 1;
                        plen += 1;
                        break;
                    } else if plen >= 3 && at(pat, p + 1) == b'-' {
                        let (mut start, mut end, mut c) =
                            (sc(at(pat, p)), sc(at(pat, p + 2)), sc(c0));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = lower(start);
                            end = lower(end);
                            c = lower(c);
                        }
                        p += 2;
                        plen -= 2;
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if nocase {
                        if lower(sc(at(pat, p))) == lower(sc(c0)) {
                            matched = true;
                        }
                    } else if at(pat, p) == c0 {
                        matched = true;
                    }
                    p += 1;
                    plen -= 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                t += 1;
                tlen -= 1;
            }
            c => {
                let mut c = c;
                if c == b'\\' && plen >= 2 {
                    p += 1;
                    plen -= 1;
                    c = at(pat, p);
                }
                let equal = if nocase {
                    lower(sc(c)) == lower(sc(at(s, t)))
                } else {
                    c == at(s, t)
                };
                if !equal {
                    return false;
                }
                t += 1;
                tlen -= 1;
            }
        }
        p += 1;
        plen -= 1;
        if tlen == 0 {
            while at(pat, p) == b'*' {
                p += 1;
                plen -= 1;
            }
            break;
        }
    }
    plen == 0 && tlen == 0
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn table() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", false), // as in Redis: only KEYS * and SCAN skip matching
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("user:*:name", "user:42:name", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("[abc", "a", true),
            ("", "", true),
            ("", "a", false),
            ("a**", "a", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(
                matches(p.as_bytes(), s.as_bytes(), false),
                *want,
                "{p} ~ {s}"
            );
        }
        assert!(matches(b"HELLO", b"hello", true));
        assert!(!matches(b"HELLO", b"hello", false));
    }

    #[test]
    fn abusive_pattern_finishes() {
        let pat = "a*".repeat(50) + "b";
        let text = "a".repeat(60);
        assert!(!matches(pat.as_bytes(), text.as_bytes(), false));
    }
}
