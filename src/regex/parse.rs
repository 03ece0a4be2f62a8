//! Patterns into [`Node`] trees: regex-lite's syntax (see the module above), with flags applied
//! as they are read (`(?i)` folds case into classes, `(?m)` picks line anchors, `(?s)` a `.` that
//! takes newlines), and every refusal explained.

use super::{Class, Look, Node};

const MAX_NESTING: usize = 64;

/// The tree of `pattern`, or what is wrong with it.
pub(super) fn parse(pattern: &str) -> Result<Node, String> {
    let mut parser = Parser { chars: pattern.chars().collect(), at: 0, depth: 0, names: Vec::new() };
    let node = parser.alternation(&mut Flags::default())?;
    if parser.at < parser.chars.len() {
        return Err("unopened group: ')' without a matching '('".into());
    }
    Ok(node)
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\r'), (' ', ' ')];

/// `[[:name:]]`, ASCII.
fn posix_class(name: &str) -> Option<&'static [(char, char)]> {
    Some(match name {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "ascii" => &[('\0', '\x7F')],
        "blank" => &[('\t', '\t'), (' ', ' ')],
        "cntrl" => &[('\0', '\x1F'), ('\x7F', '\x7F')],
        "digit" => DIGIT,
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => SPACE,
        "upper" => &[('A', 'Z')],
        "word" => WORD,
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    case_insensitive: bool,
    multi_line: bool,
    dot_matches_newline: bool,
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    depth: usize,
    names: Vec<String>,
}

const INCOMPLETE_ESCAPE: &str = "the pattern ends in an incomplete escape";
const UNCLOSED_CLASS: &str = "unclosed character class: '[' without a matching ']'";

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        self.at += usize::from(found);
        found
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    /// `flags` are those in force; a bare `(?i)` changes them up to the end of the enclosing group.
    fn alternation(&mut self, flags: &mut Flags) -> Result<Node, String> {
        let mut branches = vec![self.concat(flags)?];
        while self.eat('|') {
            branches.push(self.concat(flags)?);
        }
        Ok(if branches.len() == 1 { branches.remove(0) } else { Node::Alternate(branches) })
    }

    fn concat(&mut self, flags: &mut Flags) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            if let Some(atom) = self.atom(flags)? {
                items.push(self.repeats(atom)?);
            }
        }
        Ok(Node::Concat(items))
    }

    /// One atom, or `None` for a bare flag group such as `(?i)`.
    fn atom(&mut self, flags: &mut Flags) -> Result<Option<Node>, String> {
        let node = match self.next() {
            Some('.') => Node::Any { newline: flags.dot_matches_newline },
            Some('^') => Node::Look(if flags.multi_line { Look::StartLine } else { Look::Start }),
            Some('$') => Node::Look(if flags.multi_line { Look::EndLine } else { Look::End }),
            Some('(') => return self.group(flags),
            Some('[') => {
                let mut class = self.class()?;
                if flags.case_insensitive {
                    class.fold_case();
                }
                Node::Class(class)
            }
            Some('\\') => self.escape(*flags)?,
            Some('*' | '+' | '?' | '{') => return Err("a repetition operator must follow an expression".into()),
            Some(c) => literal(c, *flags),
            None => return Err("unexpected end of pattern".into()),
        };
        Ok(Some(node))
    }

    fn repeats(&mut self, mut node: Node) -> Result<Node, String> {
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => (0, Some(0)),
                _ => return Ok(node),
            };
            let (min, max) = if self.next() == Some('{') { self.counted()? } else { (min, max) };
            self.eat('?'); // lazy: the same texts match
            node = Node::Repeat { node: Box::new(node), min, max };
        }
    }

    /// `n}`, `n,}` or `n,m}` after a `{` (spaces around the numbers allowed).
    fn counted(&mut self) -> Result<(u32, Option<u32>), String> {
        let invalid = || "a counted repetition must be {n}, {n,} or {n,m} with n <= m".to_string();
        let min = self.number().ok_or_else(invalid)?;
        let max = if self.eat(',') {
            self.skip_spaces();
            if self.peek() == Some('}') {
                None
            } else {
                Some(self.number().ok_or_else(invalid)?)
            }
        } else {
            Some(min)
        };
        if !self.eat('}') || max.is_some_and(|max| max < min) {
            return Err(invalid());
        }
        Ok((min, max))
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn number(&mut self) -> Option<u32> {
        self.skip_spaces();
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        self.skip_spaces();
        digits.parse().ok()
    }

    /// After `(`: a group, or a flag group (`None` when bare, as `(?i)`).
    fn group(&mut self, flags: &mut Flags) -> Result<Option<Node>, String> {
        let mut inner_flags = *flags;
        if self.eat('?') {
            if self.eat('P') && self.peek() != Some('<') {
                return Err("backreferences are not supported".into());
            }
            if self.eat('<') {
                if matches!(self.peek(), Some('=' | '!')) {
                    return Err("look-around is not supported".into());
                }
                self.group_name()?;
            } else if matches!(self.peek(), Some('=' | '!')) {
                return Err("look-around is not supported".into());
            } else {
                let scoped = self.flags(&mut inner_flags)?;
                if !scoped {
                    *flags = inner_flags; // `(?i)`: to the end of the enclosing group
                    return Ok(None);
                }
            }
        }
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("groups nest deeper than {MAX_NESTING}"));
        }
        let inner = self.alternation(&mut inner_flags)?;
        self.depth -= 1;
        if !self.eat(')') {
            return Err("unclosed group: '(' without a matching ')'".into());
        }
        Ok(Some(inner))
    }

    /// A group's name up to `>`: a letter or `_`, then letters, digits, `_`, `.`, `[` or `]`.
    fn group_name(&mut self) -> Result<(), String> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')) {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().collect();
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        if !valid || !self.eat('>') {
            return Err("a group name must start with a letter or '_' and be closed by '>'".into());
        }
        if self.names.contains(&name) {
            return Err(format!("the group name '{name}' is used twice"));
        }
        self.names.push(name);
        Ok(())
    }

    /// `i`, `m`, `s`, `U`, with `-` before those to turn off, up to `)` (bare: `Ok(false)`) or
    /// `:` (scoped: `Ok(true)`).
    fn flags(&mut self, flags: &mut Flags) -> Result<bool, String> {
        let mut on = true;
        let mut any = false;
        loop {
            match self.next() {
                Some(')') if any => return Ok(false),
                Some(':') if any || on => return Ok(true),
                Some('-') if on => on = false,
                Some('i') => flags.case_insensitive = on,
                Some('m') => flags.multi_line = on,
                Some('s') => flags.dot_matches_newline = on,
                Some('U') => {} // ungreedy: the same texts match
                Some(c @ ('x' | 'R')) => return Err(format!("the flag {c} is not supported")),
                Some('>' | ')' | ':') | None => return Err("a flag group must name flags, as (?i) or (?i:...)".into()),
                Some(c) => return Err(format!("unknown flag {c}: only i, m, s and U are supported")),
            }
            any = true;
        }
    }

    fn escape(&mut self, flags: Flags) -> Result<Node, String> {
        let c = self.next().ok_or(INCOMPLETE_ESCAPE)?;
        if let Some(class) = perl_class(c) {
            return Ok(Node::Class(class));
        }
        Ok(match c {
            // `\b{start}` and the like; otherwise a `{` after `\b` is a counted repetition.
            'b' => Node::Look(self.boundary_name().unwrap_or(Look::WordBoundary)),
            'B' => Node::Look(Look::NotWordBoundary),
            'A' => Node::Look(Look::Start),
            'z' => Node::Look(Look::End),
            '<' => Node::Look(Look::WordStart),
            '>' => Node::Look(Look::WordEnd),
            _ => literal(self.escaped_char(c)?, flags),
        })
    }

    /// `{start}`, `{end}`, `{start-half}` or `{end-half}` after `\b`, if one follows.
    fn boundary_name(&mut self) -> Option<Look> {
        let rest: String = self.chars[self.at..].iter().take(12).collect();
        for (name, look) in [
            ("{start}", Look::WordStart),
            ("{end}", Look::WordEnd),
            ("{start-half}", Look::WordStartHalf),
            ("{end-half}", Look::WordEndHalf),
        ] {
            if rest.starts_with(name) {
                self.at += name.len();
                return Some(look);
            }
        }
        None
    }

    /// The character an escape stands for: `\n \t \r \f \v \a`, `\x7F`, `\x{...}`, `\u007F`,
    /// `\u{...}`, `\U0000007F`, `\U{...}`, or escaped punctuation.
    fn escaped_char(&mut self, c: char) -> Result<char, String> {
        let digits = match c {
            'n' => return Ok('\n'),
            't' => return Ok('\t'),
            'r' => return Ok('\r'),
            'f' => return Ok('\x0C'),
            'v' => return Ok('\x0B'),
            'a' => return Ok('\x07'),
            'x' => 2,
            'u' => 4,
            'U' => 8,
            c if c.is_ascii_punctuation() || c == ' ' => return Ok(c),
            c => return Err(format!("the escape \\{c} is not supported")),
        };
        let hex: String = if self.eat('{') {
            let start = self.at;
            while self.peek().is_some_and(|c| c != '}') {
                self.at += 1;
            }
            let hex = self.chars[start..self.at].iter().collect();
            if !self.eat('}') {
                return Err(format!("unclosed \\{c}{{...}} escape"));
            }
            hex
        } else {
            let hex: String = self.chars[self.at..].iter().take(digits).collect();
            self.at += hex.chars().count();
            hex
        };
        let valid = !hex.is_empty() && hex.len() <= 8 && hex.chars().all(|c| c.is_ascii_hexdigit());
        u32::from_str_radix(&hex, 16)
            .ok()
            .filter(|_| valid)
            .and_then(char::from_u32)
            .ok_or_else(|| format!("\\{c} must give a character in hex, as \\x41 or \\x{{e9}}"))
    }

    /// After `[`: `[abc]`, `[^a-z]`, `[\d_]`, `[[:alpha:]]`, `[a[bc]]`; a `]` or `-` first is a literal.
    fn class(&mut self) -> Result<Class, String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("classes nest deeper than {MAX_NESTING}"));
        }
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.next().ok_or(UNCLOSED_CLASS)?;
            match c {
                ']' if !first => break,
                '[' if self.peek() == Some(':') => ranges.extend(self.posix()?),
                '[' => ranges.extend(self.class()?.effective_ranges()),
                '\\' => {
                    let e = self.next().ok_or(INCOMPLETE_ESCAPE)?;
                    match perl_class(e) {
                        Some(class) => ranges.extend(class.effective_ranges()),
                        None => {
                            let low = self.escaped_char(e)?;
                            ranges.push(self.range_from(low)?);
                        }
                    }
                }
                ']' | '-' if first => ranges.push((c, c)),
                c => ranges.push(self.range_from(c)?),
            }
            first = false;
        }
        self.depth -= 1;
        Ok(Class { negated, ranges })
    }

    /// `[:name:]` or `[:^name:]`, after the first `[`.
    fn posix(&mut self) -> Result<Vec<(char, char)>, String> {
        self.at += 1;
        let negated = self.eat('^');
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_lowercase()) {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().collect();
        if !(self.eat(':') && self.eat(']')) {
            return Err("a POSIX class must be written [:name:]".into());
        }
        let ranges = posix_class(&name).ok_or_else(|| format!("unknown POSIX class [:{name}:]"))?;
        Ok(Class { negated, ranges: ranges.to_vec() }.effective_ranges())
    }

    /// `low` alone, or `low-high` when a range follows (a `-` before `]` is a literal).
    fn range_from(&mut self, low: char) -> Result<(char, char), String> {
        if self.peek() != Some('-') || matches!(self.peek_at(1), Some(']') | None) {
            return Ok((low, low));
        }
        self.at += 1;
        let high = match self.next() {
            Some('\\') => {
                let e = self.next().ok_or(INCOMPLETE_ESCAPE)?;
                self.escaped_char(e)?
            }
            Some('[') => return Err("a range cannot end in a class".into()),
            Some(c) => c,
            None => return Err(UNCLOSED_CLASS.into()),
        };
        if high < low {
            return Err(format!("invalid range {low}-{high}: its end comes before its start"));
        }
        Ok((low, high))
    }
}

/// A literal character, as a class of both cases when the `i` flag is on.
fn literal(c: char, flags: Flags) -> Node {
    if flags.case_insensitive && c.is_ascii_alphabetic() {
        Node::Class(Class {
            negated: false,
            ranges: vec![
                (c.to_ascii_lowercase(), c.to_ascii_lowercase()),
                (c.to_ascii_uppercase(), c.to_ascii_uppercase()),
            ],
        })
    } else {
        Node::Char(c)
    }
}

/// `\d \D \w \W \s \S`.
fn perl_class(c: char) -> Option<Class> {
    let ranges = match c.to_ascii_lowercase() {
        'd' => DIGIT,
        'w' => WORD,
        's' => SPACE,
        _ => return None,
    };
    Some(Class { negated: c.is_ascii_uppercase(), ranges: ranges.to_vec() })
}
