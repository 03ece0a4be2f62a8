//! Regular expressions for trigger conditions (a hook trigger's `condition`, SWR's `regular`).
//!
//! The syntax is regex-lite's (which conditions used before): literals and escapes (`\n \t \x41
//! \u{e9}`, escaped punctuation), `.`, classes (`[a-z]`, `[^0-9]`, `[[:alpha:]]`, nested classes,
//! `\d \w \s` and their negations; all ASCII), anchors and boundaries (`^ $ \A \z \b \B \< \>
//! \b{start} \b{end} \b{start-half} \b{end-half}`), groups (`(...)`, `(?:...)`, `(?P<name>...)`,
//! `(?<name>...)`), alternation, the quantifiers `* + ? {n} {n,} {n,m}` (lazy ones too: they cannot
//! change whether a text matches), and the flags `i` (ASCII case), `m`, `s` and `U`, as `(?i)` or
//! `(?i:...)`. Refused with a clear message: the `x` and `R` flags, look-around, backreferences
//! and Unicode classes (`\p`), none of which regex-lite has either.
//!
//! Matching is a Pike VM: every position of the text is visited once, with at most one thread per
//! instruction, so matching takes time linear in the text whatever the pattern. Compiling is
//! bounded too: a program over [`MAX_INSTRUCTIONS`] instructions, or a pattern whose repetitions
//! would take more than [`MAX_COMPILE_STEPS`] to unfold (of empty groups, say), is refused.
//! This replaces regex-lite, which cost 23 KB of the gzipped wasm (measured 2026-11-29: 366,758 vs
//! 343,477 bytes); the property tests check that both accept and match alike.

/// The largest program a pattern may compile to (each instruction a few words).
pub const MAX_INSTRUCTIONS: usize = 10_000;
/// The most nodes compiling may visit, repetitions unfolded.
pub const MAX_COMPILE_STEPS: usize = 100_000;
const MAX_NESTING: usize = 64;
const TOO_LARGE: &str = "it compiles to too large a program";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regex {
    program: Vec<Inst>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Inst {
    Char(char),
    /// Any character; `\n` too when the flag says so.
    Any {
        newline: bool,
    },
    Class(Class),
    Look(Look),
    Split(usize, usize),
    Jump(usize),
    Match,
}

/// Assertions: they look at the characters around a position and consume none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Start,
    End,
    StartLine,
    EndLine,
    WordBoundary,
    NotWordBoundary,
    WordStart,
    WordEnd,
    WordStartHalf,
    WordEndHalf,
}

impl Look {
    fn holds(self, chars: &[char], at: usize) -> bool {
        let before = at.checked_sub(1).map(|i| chars[i]);
        let after = chars.get(at).copied();
        let word_before = before.is_some_and(is_word);
        let word_after = after.is_some_and(is_word);
        match self {
            Look::Start => at == 0,
            Look::End => at == chars.len(),
            Look::StartLine => before.is_none_or(|c| c == '\n'),
            Look::EndLine => after.is_none_or(|c| c == '\n'),
            Look::WordBoundary => word_before != word_after,
            Look::NotWordBoundary => word_before == word_after,
            Look::WordStart => !word_before && word_after,
            Look::WordEnd => word_before && !word_after,
            Look::WordStartHalf => !word_before,
            Look::WordEndHalf => !word_after,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(low, high)| low <= c && c <= high) != self.negated
    }

    /// The ranges it matches, its negation applied, to sit inside another class.
    fn effective_ranges(&self) -> Vec<(char, char)> {
        if !self.negated {
            return self.ranges.clone();
        }
        let mut ranges = self.ranges.clone();
        ranges.sort_unstable();
        let mut complement = Vec::new();
        let mut next = Some('\0');
        for (low, high) in ranges {
            let Some(from) = next else { break };
            if low > from {
                complement.push((from, before(low)));
            }
            if high >= from {
                next = after(high);
            }
        }
        if let Some(from) = next {
            complement.push((from, char::MAX));
        }
        complement
    }

    /// ASCII case-insensitivity: each letter range gains its other case.
    fn fold_case(&mut self) {
        let mut extra = Vec::new();
        for &(low, high) in &self.ranges {
            for (from, to, shift) in [('a', 'z', -32i32), ('A', 'Z', 32)] {
                let (low, high) = (low.max(from), high.min(to));
                if low <= high {
                    let moved = |c: char| char::from_u32((c as i32 + shift) as u32).unwrap_or(c);
                    extra.push((moved(low), moved(high)));
                }
            }
        }
        self.ranges.extend(extra);
    }
}

/// The character before `c`, skipping the surrogate gap.
fn before(c: char) -> char {
    match c as u32 {
        0xE000 => '\u{D7FF}',
        n => char::from_u32(n.saturating_sub(1)).unwrap_or('\0'),
    }
}

/// The character after `c`, skipping the surrogate gap; `None` after the last.
fn after(c: char) -> Option<char> {
    match c as u32 {
        0xD7FF => Some('\u{E000}'),
        n => char::from_u32(n + 1),
    }
}

enum Node {
    Char(char),
    Any { newline: bool },
    Class(Class),
    Look(Look),
    Concat(Vec<Node>),
    Alternate(Vec<Node>),
    Repeat { node: Box<Node>, min: u32, max: Option<u32> },
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

impl Regex {
    /// Compiles `pattern`, or says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let mut parser = Parser { chars: pattern.chars().collect(), at: 0, depth: 0, names: Vec::new() };
        let node = parser.alternation(&mut Flags::default())?;
        if parser.at < parser.chars.len() {
            return Err("unopened group: ')' without a matching '('".into());
        }
        let mut compiler = Compiler { program: Vec::new(), steps: 0 };
        compiler.compile(&node)?;
        compiler.emit(Inst::Match)?;
        Ok(Regex { program: compiler.program })
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let mut current = Threads::new(self.program.len());
        let mut next = Threads::new(self.program.len());
        let mut stack = Vec::new();
        for at in 0..=chars.len() {
            // A new thread at every position: the pattern may match anywhere.
            if self.add(&mut current, &mut stack, 0, &chars, at) {
                return true;
            }
            let Some(&c) = chars.get(at) else { break };
            next.clear();
            for &pc in &current.list {
                let advances = match &self.program[pc] {
                    Inst::Char(wanted) => *wanted == c,
                    Inst::Any { newline } => *newline || c != '\n',
                    Inst::Class(class) => class.matches(c),
                    _ => false,
                };
                if advances && self.add(&mut next, &mut stack, pc + 1, &chars, at + 1) {
                    return true;
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        false
    }

    /// Follows jumps, splits and assertions from `pc` at position `at`, keeping the instructions
    /// that wait for a character; `true` as soon as one path reaches `Match`.
    fn add(&self, threads: &mut Threads, stack: &mut Vec<usize>, pc: usize, chars: &[char], at: usize) -> bool {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if !threads.insert(pc) {
                continue;
            }
            match &self.program[pc] {
                Inst::Match => {
                    stack.clear();
                    return true;
                }
                Inst::Jump(to) => stack.push(*to),
                Inst::Split(first, second) => {
                    stack.push(*second);
                    stack.push(*first);
                }
                Inst::Look(look) => {
                    if look.holds(chars, at) {
                        stack.push(pc + 1);
                    }
                }
                Inst::Char(_) | Inst::Any { .. } | Inst::Class(_) => threads.list.push(pc),
            }
        }
        false
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The instructions live at one position, each at most once (a generation-stamped set).
struct Threads {
    list: Vec<usize>,
    seen: Vec<u32>,
    generation: u32,
}

impl Threads {
    fn new(size: usize) -> Self {
        Threads { list: Vec::new(), seen: vec![0; size], generation: 1 }
    }

    fn insert(&mut self, pc: usize) -> bool {
        let fresh = self.seen[pc] != self.generation;
        self.seen[pc] = self.generation;
        fresh
    }

    fn clear(&mut self) {
        self.list.clear();
        self.generation += 1;
    }
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

struct Compiler {
    program: Vec<Inst>,
    /// Nodes visited so far, repetitions unfolded: bounds the time compiling takes.
    steps: usize,
}

impl Compiler {
    fn emit(&mut self, inst: Inst) -> Result<usize, String> {
        if self.program.len() >= MAX_INSTRUCTIONS {
            return Err(format!("{TOO_LARGE} (over {MAX_INSTRUCTIONS} instructions)"));
        }
        self.program.push(inst);
        Ok(self.program.len() - 1)
    }

    fn compile(&mut self, node: &Node) -> Result<(), String> {
        self.steps += 1;
        if self.steps > MAX_COMPILE_STEPS {
            return Err(format!("{TOO_LARGE} (its repetitions unfold too far)"));
        }
        match node {
            Node::Char(c) => self.emit(Inst::Char(*c)).map(drop),
            Node::Any { newline } => self.emit(Inst::Any { newline: *newline }).map(drop),
            Node::Class(class) => self.emit(Inst::Class(class.clone())).map(drop),
            Node::Look(look) => self.emit(Inst::Look(*look)).map(drop),
            Node::Concat(items) => items.iter().try_for_each(|item| self.compile(item)),
            Node::Alternate(branches) => {
                let mut jumps = Vec::new();
                for (i, branch) in branches.iter().enumerate() {
                    if i + 1 == branches.len() {
                        self.compile(branch)?;
                    } else {
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.compile(branch)?;
                        jumps.push(self.emit(Inst::Jump(0))?);
                        self.program[split] = Inst::Split(split + 1, self.program.len());
                    }
                }
                let end = self.program.len();
                for jump in jumps {
                    self.program[jump] = Inst::Jump(end);
                }
                Ok(())
            }
            Node::Repeat { node, min, max } => {
                for _ in 0..*min {
                    self.compile(node)?;
                }
                match max {
                    None => {
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.compile(node)?;
                        self.emit(Inst::Jump(split))?;
                        self.program[split] = Inst::Split(split + 1, self.program.len());
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.emit(Inst::Split(0, 0))?);
                            self.compile(node)?;
                        }
                        let end = self.program.len();
                        for split in splits {
                            self.program[split] = Inst::Split(split + 1, end);
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).unwrap_or_else(|err| panic!("{pattern}: {err}")).is_match(text)
    }

    #[test]
    fn the_usual_conditions_match_as_expected() {
        assert!(matches(r"^v\d+\.\d+$", "v1.20"));
        assert!(!matches(r"^v\d+\.\d+$", "v1.20-rc"));
        assert!(matches(r"release", "pre-release-1"));
        assert!(matches(r"^(main|release/.+)$", "release/2.0"));
        assert!(!matches(r"^(main|release/.+)$", "mainline"));
        assert!(matches(r"^[a-z0-9-]{3,8}$", "web-01"));
        assert!(!matches(r"^[a-z0-9-]{3,8}$", "we"));
        assert!(matches(r"^[^_]+$", "abc") && !matches(r"^[^_]+$", "a_c"));
        assert!(matches(r"\bv2\b", "app v2 build") && !matches(r"\bv2\b", "appv2"));
        assert!(matches(r"^(?:a|b)*c?$", "") && matches(r"^(?P<x>ab)+$", "abab"));
        assert!(matches(r"^a{2}$", "aa") && !matches(r"^a{2}$", "aaa") && matches(r"^a{2,}$", "aaaa"));
        assert!(matches(r"^[\w.-]+$", "my-app.v1_2") && !matches(r"^[\W]+$", "a"));
        assert!(matches("^.$", "é") && !matches("^.$", "\n") && matches("(?s)^.$", "\n"));
        assert!(matches(r"^[]a]+$", "]a") && matches(r"^[a-]+$", "-a") && !matches(r"^[]-a]$", "^"));
        assert!(matches("(?i)^release$", "RELEASE") && matches("^(?i:r)elease$", "Release"));
        assert!(!matches("^(?i:r)elease$", "rELEASE") && matches("(?i)[a-c]", "B"));
        assert!(matches(r"\<v1\>", "a v1 b") && !matches(r"\<v1", "xv1") && matches(r"v\b{end}", "v"));
        assert!(matches("(?m)^b$", "a\nb\nc") && !matches("^b$", "a\nb\nc"));
        assert!(matches(r"^[[:alpha:]]+[[:^alpha:]]$", "ab1") && matches(r"^\x41\u{e9}$", "Aé"));
        assert!(matches("^a**$", "aa") && matches("^a{2}{2}$", "aaaa") && matches("^a{ 1 , 2 }$", "a"));
    }

    #[test]
    fn nested_and_empty_loops_end_in_linear_time() {
        let text = format!("{}b", "a".repeat(250));
        assert!(!matches("^(a*)*$", &text));
        assert!(!matches("^(a|aa)+$", &text));
        assert!(matches("(|a)*b", &text));
    }

    #[test]
    fn bad_patterns_say_why() {
        for (pattern, why) in [
            ("(", "unclosed group"),
            (")", "unopened group"),
            ("[a", "unclosed character class"),
            ("*a", "must follow an expression"),
            ("a{2,1}", "counted repetition"),
            ("[z-a]", "invalid range"),
            ("(?x)a", "flag x is not supported"),
            ("(?=a)", "look-around"),
            ("(?<!a)", "look-around"),
            ("(?P=x)", "backreferences"),
            ("(?P<>x)", "group name"),
            ("(?P<a>x)(?P<a>y)", "used twice"),
            (r"\p{L}", "not supported"),
            (r"\1", "not supported"),
            ("a\\", "incomplete escape"),
            ("[[:nope:]]", "unknown POSIX class"),
            ("(a{1,100}){1,100}", "too large a program"),
            ("(?:(?:(?:){1000}){1000}){1000}", "too large a program"),
        ] {
            let err = Regex::new(pattern).expect_err(pattern);
            assert!(err.contains(why), "{pattern}: {err}");
        }
        assert!(Regex::new(&"(".repeat(65)).unwrap_err().contains("nest deeper"));
        assert!(Regex::new(&"[".repeat(65)).unwrap_err().contains("nest deeper"));
    }
}
