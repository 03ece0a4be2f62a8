//! Regular expressions for trigger conditions (a hook trigger's `condition`, SWR's `regular`).
//!
//! The syntax is the common core of regex-lite and most engines: literals, `.`, classes (`[a-z]`,
//! `[^0-9]`, `\d \w \s` and their negations, ASCII), anchors (`^ $ \A \z \b \B`), groups (`(...)`,
//! `(?:...)`, `(?P<name>...)`), alternation, and the quantifiers `* + ? {n} {n,} {n,m}` (a trailing
//! `?`, lazy, is accepted; it cannot change whether a text matches). Flags, look-around,
//! backreferences and Unicode classes are refused with a clear message.
//!
//! Matching is a Pike VM: every position of the text is visited once, with at most one thread per
//! instruction, so the time is linear in the text whatever the pattern: a condition cannot
//! backtrack for long. Programs over [`MAX_INSTRUCTIONS`] are refused, so neither can it cost
//! unbounded memory. This replaces regex-lite, which cost 23 KB of the gzipped wasm (measured
//! 2026-11-29: 366,758 vs 343,477 bytes); the property tests check that both agree.

/// The largest program a pattern may compile to (each instruction a few words).
pub const MAX_INSTRUCTIONS: usize = 10_000;
const MAX_REPEAT: u32 = 1_000;
const MAX_NESTING: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regex {
    program: Vec<Inst>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Inst {
    Char(char),
    /// Any character but `\n`.
    Any,
    Class(Class),
    Start,
    End,
    /// `\b` (true) or `\B` (false).
    WordBoundary(bool),
    Split(usize, usize),
    Jump(usize),
    Match,
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
}

enum Node {
    Char(char),
    Any,
    Class(Class),
    Start,
    End,
    WordBoundary(bool),
    Concat(Vec<Node>),
    Alternate(Vec<Node>),
    Repeat { node: Box<Node>, min: u32, max: Option<u32> },
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\r'), (' ', ' ')];

impl Regex {
    /// Compiles `pattern`, or says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let mut parser = Parser { chars: pattern.chars().collect(), at: 0, depth: 0 };
        let node = parser.alternation()?;
        if parser.at < parser.chars.len() {
            return Err("unopened group: ')' without a matching '('".into());
        }
        let mut program = Vec::new();
        compile(&node, &mut program)?;
        emit(&mut program, Inst::Match)?;
        Ok(Regex { program })
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
                    Inst::Any => c != '\n',
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
                Inst::Start if at == 0 => stack.push(pc + 1),
                Inst::End if at == chars.len() => stack.push(pc + 1),
                Inst::WordBoundary(wanted) => {
                    let before = at > 0 && is_word(chars[at - 1]);
                    let after = chars.get(at).is_some_and(|&c| is_word(c));
                    if (before != after) == *wanted {
                        stack.push(pc + 1);
                    }
                }
                Inst::Start | Inst::End => {}
                Inst::Char(_) | Inst::Any | Inst::Class(_) => threads.list.push(pc),
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
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
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

    fn alternation(&mut self) -> Result<Node, String> {
        let mut branches = vec![self.concat()?];
        while self.eat('|') {
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 { branches.remove(0) } else { Node::Alternate(branches) })
    }

    fn concat(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.repeats(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn atom(&mut self) -> Result<Node, String> {
        match self.next() {
            Some('.') => Ok(Node::Any),
            Some('^') => Ok(Node::Start),
            Some('$') => Ok(Node::End),
            Some('(') => self.group(),
            Some('[') => self.class().map(Node::Class),
            Some('\\') => self.escape(),
            Some('*' | '+' | '?' | '{') => Err("a repetition operator must follow an expression".into()),
            Some(c) => Ok(Node::Char(c)),
            None => Err("unexpected end of pattern".into()),
        }
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
            if matches!(self.peek(), Some('*' | '+' | '?' | '{')) {
                return Err("a repetition operator cannot follow another".into());
            }
            node = Node::Repeat { node: Box::new(node), min, max };
        }
    }

    /// `n}`, `n,}` or `n,m}` after a `{`.
    fn counted(&mut self) -> Result<(u32, Option<u32>), String> {
        let invalid = || format!("a counted repetition must be {{n}}, {{n,}} or {{n,m}} with n <= m <= {MAX_REPEAT}");
        let min = self.number().ok_or_else(invalid)?;
        let max = if self.eat(',') {
            if self.peek() == Some('}') {
                None
            } else {
                Some(self.number().ok_or_else(invalid)?)
            }
        } else {
            Some(min)
        };
        if !self.eat('}') || max.is_some_and(|max| max < min) || max.unwrap_or(min) > MAX_REPEAT {
            return Err(invalid());
        }
        Ok((min, max))
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        digits.parse().ok()
    }

    fn group(&mut self) -> Result<Node, String> {
        if self.eat('?') {
            let named = self.eat('P') || self.peek() == Some('<');
            if named {
                if !self.eat('<') || self.peek() == Some('=') || self.peek() == Some('!') {
                    return Err("look-around is not supported".into());
                }
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.at += 1;
                }
                if !self.eat('>') {
                    return Err("a group name must be letters, digits or '_', closed by '>'".into());
                }
            } else if !self.eat(':') {
                return Err(
                    "only (...), (?:...) and (?P<name>...) groups are supported (no flags or look-around)".into()
                );
            }
        }
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("groups nest deeper than {MAX_NESTING}"));
        }
        let inner = self.alternation()?;
        self.depth -= 1;
        if !self.eat(')') {
            return Err("unclosed group: '(' without a matching ')'".into());
        }
        Ok(inner)
    }

    fn escape(&mut self) -> Result<Node, String> {
        let c = self.next().ok_or("the pattern ends in an incomplete escape")?;
        if let Some(class) = perl_class(c) {
            return Ok(Node::Class(class));
        }
        Ok(match c {
            'b' => Node::WordBoundary(true),
            'B' => Node::WordBoundary(false),
            'A' => Node::Start,
            'z' => Node::End,
            _ => Node::Char(escaped_char(c)?),
        })
    }

    /// After `[`: `[abc]`, `[^a-z]`, `[\d_]`; a `]` first is a literal.
    fn class(&mut self) -> Result<Class, String> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.next().ok_or("unclosed character class: '[' without a matching ']'")?;
            match c {
                ']' if !first => break,
                '[' => return Err("a '[' inside a character class must be escaped".into()),
                '\\' => {
                    let e = self.next().ok_or("the pattern ends in an incomplete escape")?;
                    if let Some(class) = perl_class(e) {
                        ranges.extend(effective_ranges(&class));
                    } else {
                        let low = escaped_char(e)?;
                        ranges.push(self.range_from(low)?);
                    }
                }
                c => ranges.push(self.range_from(c)?),
            }
            first = false;
        }
        Ok(Class { negated, ranges })
    }

    /// `low` alone, or `low-high` when a range follows (a `-` before `]` is a literal).
    fn range_from(&mut self, low: char) -> Result<(char, char), String> {
        if self.peek() != Some('-') || matches!(self.chars.get(self.at + 1), Some(']') | None) {
            return Ok((low, low));
        }
        self.at += 1;
        let high = match self.next() {
            Some('\\') => escaped_char(self.next().ok_or("the pattern ends in an incomplete escape")?)?,
            Some('[') => return Err("a '[' inside a character class must be escaped".into()),
            Some(c) => c,
            None => return Err("unclosed character class: '[' without a matching ']'".into()),
        };
        if high < low {
            return Err(format!("invalid range {low}-{high}: its end comes before its start"));
        }
        Ok((low, high))
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

/// A class's ranges with its negation applied, to sit inside another class.
fn effective_ranges(class: &Class) -> Vec<(char, char)> {
    if !class.negated {
        return class.ranges.clone();
    }
    let mut complement = Vec::new();
    let mut next = '\0';
    for &(low, high) in &class.ranges {
        if low > next {
            complement.push((next, char::from_u32(low as u32 - 1).unwrap_or(next)));
        }
        next = char::from_u32(high as u32 + 1).unwrap_or(char::MAX);
    }
    complement.push((next, char::MAX));
    complement
}

/// The character an escape stands for: `\n \t \r`, or escaped ASCII punctuation.
fn escaped_char(c: char) -> Result<char, String> {
    match c {
        'n' => Ok('\n'),
        't' => Ok('\t'),
        'r' => Ok('\r'),
        c if c.is_ascii_punctuation() || c == ' ' => Ok(c),
        c => Err(format!("the escape \\{c} is not supported")),
    }
}

fn emit(program: &mut Vec<Inst>, inst: Inst) -> Result<usize, String> {
    if program.len() >= MAX_INSTRUCTIONS {
        return Err(format!("it compiles to too large a program (over {MAX_INSTRUCTIONS} instructions)"));
    }
    program.push(inst);
    Ok(program.len() - 1)
}

fn compile(node: &Node, program: &mut Vec<Inst>) -> Result<(), String> {
    match node {
        Node::Char(c) => emit(program, Inst::Char(*c)).map(drop),
        Node::Any => emit(program, Inst::Any).map(drop),
        Node::Class(class) => emit(program, Inst::Class(class.clone())).map(drop),
        Node::Start => emit(program, Inst::Start).map(drop),
        Node::End => emit(program, Inst::End).map(drop),
        Node::WordBoundary(wanted) => emit(program, Inst::WordBoundary(*wanted)).map(drop),
        Node::Concat(items) => items.iter().try_for_each(|item| compile(item, program)),
        Node::Alternate(branches) => {
            let mut jumps = Vec::new();
            for (i, branch) in branches.iter().enumerate() {
                if i + 1 == branches.len() {
                    compile(branch, program)?;
                } else {
                    let split = emit(program, Inst::Split(0, 0))?;
                    compile(branch, program)?;
                    jumps.push(emit(program, Inst::Jump(0))?);
                    program[split] = Inst::Split(split + 1, program.len());
                }
            }
            let end = program.len();
            for jump in jumps {
                program[jump] = Inst::Jump(end);
            }
            Ok(())
        }
        Node::Repeat { node, min, max } => {
            for _ in 0..*min {
                compile(node, program)?;
            }
            match max {
                None => {
                    let split = emit(program, Inst::Split(0, 0))?;
                    compile(node, program)?;
                    emit(program, Inst::Jump(split))?;
                    program[split] = Inst::Split(split + 1, program.len());
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(emit(program, Inst::Split(0, 0))?);
                        compile(node, program)?;
                    }
                    let end = program.len();
                    for split in splits {
                        program[split] = Inst::Split(split + 1, end);
                    }
                }
            }
            Ok(())
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
        assert!(matches("^.$", "é") && !matches("^.$", "\n"));
        assert!(matches(r"^[]a]+$", "]a") && matches(r"^[a-]+$", "-a"));
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
            ("a**", "cannot follow another"),
            ("a{2,1}", "counted repetition"),
            ("a{1001}", "counted repetition"),
            ("[z-a]", "invalid range"),
            ("(?i)a", "no flags"),
            ("(?=a)", "look-around"),
            (r"\p{L}", "not supported"),
            (r"\1", "not supported"),
            ("a\\", "incomplete escape"),
            ("(a{1,100}){1,100}", "too large a program"),
        ] {
            let err = Regex::new(pattern).expect_err(pattern);
            assert!(err.contains(why), "{pattern}: {err}");
        }
        assert!(Regex::new(&"(".repeat(65)).unwrap_err().contains("nest deeper"));
    }
}
