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

mod compile;
mod parse;

/// The largest program a pattern may compile to (each instruction a few words).
pub const MAX_INSTRUCTIONS: usize = 10_000;
/// The most nodes compiling may visit, repetitions unfolded.
pub const MAX_COMPILE_STEPS: usize = 100_000;

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

impl Regex {
    /// Compiles `pattern`, or says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let node = parse::parse(pattern)?;
        Ok(Regex { program: compile::compile(&node)? })
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
