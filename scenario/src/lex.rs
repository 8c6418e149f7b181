//! The lexer: one line at a time into tokens with columns.
//!
//! A scenario is line oriented, so the lexer never crosses a line: `#` starts a comment that
//! runs to the end of the line (outside a string), and every token records its column.
//!
//! | token | spelling |
//! |---|---|
//! | word | a letter or `_`, then letters, digits, `_`, `.`; `-` when a letter or digit follows (`lwp-wait`, `SIGRTMAX-1`); `+` when a digit follows (`SIGRTMIN+3`); `\|` when a letter or `_` follows (`SA_SIGINFO\|SA_RESTART`, `P1.A\|P1.B`); `*` after `.` (`P1.*`) |
//! | number | decimal or `0x` hex digits (`_` allowed), an optional leading `-`, and an optional unit (`10ms`, `128M`) |
//! | string | `"..."`, no escapes |
//! | symbol | `{ } [ ] ( ) , : ; = == != < <= > >= -> @ .. . * \|` |

use alloc::string::String;
use alloc::vec::Vec;

use crate::diag::Span;

/// A token's kind and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A word: names, keywords, flag lists (`SA_SIGINFO|SA_RESTART`).
    Word(String),
    /// A number with its unit suffix (empty if none). Values beyond `i64` are rejected.
    Num(i64, String),
    /// A quoted string.
    Str(String),
    /// Punctuation or an operator.
    Sym(&'static str),
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its first character.
    pub span: Span,
}

const SYMS: [&str; 22] = [
    "->", "==", "!=", "<=", ">=", "..", ".", "{", "}", "[", "]", "(", ")", ",", ":", ";", "=", "<",
    ">", "@", "*", "|",
];

/// Splits one line into tokens, dropping the comment. `line_no` is 1-based. Errors carry the
/// column of the offending character.
pub fn line(text: &str, line_no: u32) -> Result<Vec<Token>, (Span, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| Span::new(line_no, i as u32 + 1);
    while i < chars.len() {
        let c = chars[i];
        if c == '#' {
            break;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err((at(start), String::from("unterminated string"))),
                    Some('"') => break,
                    Some(&ch) => s.push(ch),
                }
                i += 1;
            }
            i += 1;
            out.push(Token {
                tok: Tok::Str(s),
                span: at(start),
            });
            continue;
        }
        let neg_num = c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit());
        if c.is_ascii_digit() || neg_num {
            let neg = c == '-';
            if neg {
                i += 1;
            }
            let hex = chars[i] == '0' && matches!(chars.get(i + 1), Some('x') | Some('X'));
            if hex {
                i += 2;
            }
            let digits_start = i;
            let mut digits = String::new();
            while let Some(&d) = chars.get(i) {
                if d == '_' {
                    i += 1;
                    continue;
                }
                if (hex && d.is_ascii_hexdigit()) || (!hex && d.is_ascii_digit()) {
                    digits.push(d);
                    i += 1;
                } else {
                    break;
                }
            }
            if digits.is_empty() {
                return Err((at(digits_start), String::from("expected digits after 0x")));
            }
            let radix = if hex { 16 } else { 10 };
            let Ok(mag) = u64::from_str_radix(&digits, radix) else {
                return Err((at(start), String::from("number too large")));
            };
            let value = if neg {
                if mag > i64::MAX as u64 + 1 {
                    return Err((at(start), String::from("number too large")));
                }
                (mag as i64).wrapping_neg()
            } else {
                // Values above i64::MAX (e.g. 0xffff_ffff_ffff_ffff) are kept as their bit
                // pattern: they are addresses or masks.
                mag as i64
            };
            let mut suffix = String::new();
            while let Some(&d) = chars.get(i) {
                if d.is_ascii_alphabetic() {
                    suffix.push(d);
                    i += 1;
                } else {
                    break;
                }
            }
            if chars
                .get(i)
                .is_some_and(|d| d.is_ascii_digit() || *d == '_')
            {
                return Err((at(start), String::from("malformed number")));
            }
            out.push(Token {
                tok: Tok::Num(value, suffix),
                span: at(start),
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let mut w = String::new();
            w.push(c);
            i += 1;
            while let Some(&d) = chars.get(i) {
                let next = chars.get(i + 1).copied();
                let take = d.is_ascii_alphanumeric()
                    || d == '_'
                    || d == '.'
                    || (d == '-' && next.is_some_and(|n| n.is_ascii_alphanumeric()))
                    || (d == '+' && next.is_some_and(|n| n.is_ascii_digit()))
                    || (d == '|' && next.is_some_and(|n| n.is_ascii_alphabetic() || n == '_'))
                    || (d == '*' && w.ends_with('.'));
                if !take {
                    break;
                }
                w.push(d);
                i += 1;
            }
            out.push(Token {
                tok: Tok::Word(w),
                span: at(start),
            });
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if let Some(sym) = SYMS.iter().find(|s| rest.starts_with(**s)) {
            i += sym.chars().count();
            out.push(Token {
                tok: Tok::Sym(sym),
                span: at(start),
            });
            continue;
        }
        return Err((at(start), alloc::format!("unexpected character '{c}'")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn words(s: &str) -> Vec<Tok> {
        line(s, 1).unwrap().into_iter().map(|t| t.tok).collect()
    }
    fn w(s: &str) -> Tok {
        Tok::Word(s.to_string())
    }
    fn n(v: i64, s: &str) -> Tok {
        Tok::Num(v, s.to_string())
    }

    #[test]
    fn words_numbers_symbols() {
        assert_eq!(
            words("P1.A: handle SIGRTMIN+3 flags=SA_SIGINFO|SA_RESTART -> ok # c"),
            vec![
                w("P1.A"),
                Tok::Sym(":"),
                w("handle"),
                w("SIGRTMIN+3"),
                w("flags"),
                Tok::Sym("="),
                w("SA_SIGINFO|SA_RESTART"),
                Tok::Sym("->"),
                w("ok"),
            ]
        );
        assert_eq!(
            words("kill -1 SIGRTMAX-1 0x10 10ms 1_000"),
            vec![
                w("kill"),
                n(-1, ""),
                w("SIGRTMAX-1"),
                n(16, ""),
                n(10, "ms"),
                n(1000, "")
            ]
        );
        assert_eq!(
            words("P1.W[*] P1.* lwp(P1.A).lpmap.blockallsigs >= 1..3"),
            vec![
                w("P1.W"),
                Tok::Sym("["),
                Tok::Sym("*"),
                Tok::Sym("]"),
                w("P1.*"),
                w("lwp"),
                Tok::Sym("("),
                w("P1.A"),
                Tok::Sym(")"),
                Tok::Sym("."),
                w("lpmap.blockallsigs"),
                Tok::Sym(">="),
                n(1, ""),
                Tok::Sym(".."),
                n(3, ""),
            ]
        );
        assert_eq!(
            words("scenario \"a b\""),
            vec![w("scenario"), Tok::Str("a b".into())]
        );
        assert_eq!(words("   # only a comment"), vec![]);
    }

    #[test]
    fn errors_have_columns() {
        assert_eq!(line("a \"open", 3).unwrap_err().0, Span::new(3, 3));
        assert_eq!(
            line("a $", 1).unwrap_err(),
            (Span::new(1, 3), "unexpected character '$'".to_string())
        );
        assert!(line("99999999999999999999", 1).is_err());
        assert!(line("0x", 1).is_err());
    }
}
