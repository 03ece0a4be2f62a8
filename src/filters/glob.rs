//! Glob patterns over refs and tags (`*`, `**`, `?`), matched with bit sets in a few word
//! operations per token: never backtracks, whatever the pattern. No `worker` import.
//! Home-made on purpose: `globset` compiles to a regex and `glob` walks a file system; both bring
//! path syntax (`[...]`, `{a,b}`) that refs do not use, where ours is about 140 lines with a bound.

/// Matches `text` against a glob: `*` is any run of characters but `/`, `**` any run at all,
/// `?` one character but `/`. Everything else is literal. Nothing recurses: see [`glob_steps`].
pub fn glob_match(pattern: &str, text: &str) -> bool {
    glob_steps(pattern, text).0
}

#[derive(Clone, Copy, PartialEq)]
enum Token {
    Literal(char),
    One,
    Star,
    DoubleStar,
}

fn tokens(pattern: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                Token::DoubleStar
            }
            '*' => Token::Star,
            '?' => Token::One,
            other => Token::Literal(other),
        });
    }
    tokens
}

/// The match, and its steps (word operations). The table "tokens from i on match text[j..]" is
/// kept one token at a time as a bit set over text positions (reversed: bit r is position n - r),
/// so each token costs a few operations per 64 positions: for a 255-byte pattern and a 255-byte
/// tag (the bounds of `validate_glob` and `Event::check_sizes`), at most 255 × 5 steps.
fn glob_steps(pattern: &str, text: &str) -> (bool, usize) {
    let text: Vec<char> = text.chars().collect();
    let n = text.len();
    let words = (n + 2).div_ceil(64); // bits 0..=n, and one for the carry out of bit n
    let bit = |r: usize, set: &mut Vec<u64>| set[r / 64] |= 1 << (r % 64);
    let (mut not_slash, mut literals) = (vec![0u64; words], std::collections::BTreeMap::new());
    let tokens = tokens(pattern);
    for token in &tokens {
        if let Token::Literal(c) = token {
            literals.entry(*c).or_insert_with(|| vec![0u64; words]);
        }
    }
    for (j, c) in text.iter().enumerate() {
        if *c != '/' {
            bit(n - j, &mut not_slash);
        }
        if let Some(set) = literals.get_mut(c) {
            bit(n - j, set);
        }
    }
    let mut matches = vec![0u64; words];
    bit(0, &mut matches);
    let mut steps = 0;
    for token in tokens.iter().rev() {
        steps += words;
        match token {
            Token::Literal(c) => shift_up_and(&mut matches, &literals[c]),
            Token::One => shift_up_and(&mut matches, &not_slash),
            Token::Star => star(&mut matches, &not_slash),
            Token::DoubleStar => double_star(&mut matches),
        }
        keep_bits(&mut matches, n);
        // No position matches the rest of the pattern: no earlier token can change that.
        if matches.iter().all(|w| *w == 0) {
            return (false, steps);
        }
    }
    (matches[n / 64] >> (n % 64) & 1 == 1, steps)
}

/// Bit r moves to bit r + 1 (a character consumed: position j - 1 from position j), kept where
/// `mask` allows that character.
fn shift_up_and(set: &mut [u64], mask: &[u64]) {
    let mut carry = 0;
    for (word, mask) in set.iter_mut().zip(mask) {
        let shifted = (*word << 1) | carry;
        carry = *word >> 63;
        *word = shifted & mask;
    }
}

/// `**`: position r matches if any r' <= r does (any characters may be consumed).
fn double_star(set: &mut [u64]) {
    let mut seen = false;
    for word in set.iter_mut() {
        if seen {
            *word = u64::MAX;
        } else if *word != 0 {
            seen = true;
            *word = !((*word & word.wrapping_neg()) - 1); // from the lowest set bit up
        }
    }
}

/// `*`: R[r] = M[r] | (not_slash[r] & R[r - 1]), a carry chain: adding a = M | p and b = M, where
/// p = not_slash & !M, carries exactly that into bit r + 1 (generate M, propagate p).
fn star(set: &mut [u64], not_slash: &[u64]) {
    let mut carry_in = false;
    let mut previous_carries = 0u64;
    for i in 0..set.len() {
        let m = set[i];
        let a = m | (not_slash[i] & !m);
        let (sum, over1) = a.overflowing_add(m);
        let (sum, over2) = sum.overflowing_add(carry_in as u64);
        let carries = sum ^ a ^ m; // the carry into each bit of this word
        carry_in = over1 || over2;
        // The carry into bit r + 1 is R[r]: this word's bit 0 ends the previous word's R.
        if i > 0 {
            set[i - 1] = (previous_carries >> 1) | ((carries & 1) << 63);
        }
        previous_carries = carries;
    }
    let last = set.len() - 1;
    set[last] = (previous_carries >> 1) | ((carry_in as u64) << 63);
}

/// Clears the bits above n (past the first text position).
fn keep_bits(set: &mut [u64], n: usize) {
    for (i, word) in set.iter_mut().enumerate() {
        let low = i * 64;
        if low > n {
            *word = 0;
        } else if n - low < 63 {
            *word &= (1u64 << (n - low + 1)) - 1;
        }
    }
}

/// A glob is at most 255 bytes and not empty.
pub fn validate_glob(field: &str, pattern: &str) -> Result<(), crate::error::Error> {
    crate::model::validate_name(field, pattern)
}

#[cfg(test)]
mod tests {
    use super::{glob_match, tokens, Token};

    /// The plain table over (token, position), the reference the bit sets are checked against.
    fn glob_table(pattern: &str, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let mut matches = vec![false; text.len() + 1];
        matches[text.len()] = true;
        for token in tokens(pattern).into_iter().rev() {
            let mut next = vec![false; text.len() + 1];
            for j in (0..=text.len()).rev() {
                let here = text.get(j).copied();
                next[j] = match token {
                    Token::Literal(c) => here == Some(c) && matches[j + 1],
                    Token::One => here.is_some_and(|c| c != '/') && matches[j + 1],
                    Token::Star => matches[j] || (here.is_some_and(|c| c != '/') && next[j + 1]),
                    Token::DoubleStar => matches[j] || (here.is_some() && next[j + 1]),
                };
            }
            matches = next;
        }
        matches[0]
    }

    /// Every string over `alphabet` up to `max` characters.
    fn strings(alphabet: &[char], max: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last.iter().flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}"))).collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn the_bit_sets_agree_with_the_table_on_every_small_pattern_and_text() {
        let patterns = strings(&['a', '/', '*', '?'], 5);
        let texts = strings(&['a', 'b', '/'], 5);
        for pattern in &patterns {
            for text in &texts {
                assert_eq!(glob_match(pattern, text), glob_table(pattern, text), "{pattern:?} on {text:?}");
            }
        }
    }

    #[test]
    fn the_bit_sets_agree_with_the_table_across_word_boundaries() {
        for n in [62, 63, 64, 65, 127, 128, 200, 255] {
            let text: String = (0..n).map(|i| if i % 17 == 16 { '/' } else { 'a' }).collect();
            for pattern in ["**", "*", "a*", "*a", "**/a*", "a**a", "?*", "*?a", "**?", "a/**", "b*", "*/*"] {
                assert_eq!(glob_match(pattern, &text), glob_table(pattern, &text), "{pattern:?} on {n}");
            }
            let slashless = "a".repeat(n);
            for pattern in ["*", "*a", "a*a*a", "?**?", "*b"] {
                assert_eq!(glob_match(pattern, &slashless), glob_table(pattern, &slashless), "{pattern:?} on {n}");
            }
        }
    }

    #[test]
    fn literal_patterns_match_exactly() {
        assert!(glob_match("main", "main"));
        assert!(!glob_match("main", "main2"));
        assert!(!glob_match("main", "mai"));
    }

    #[test]
    fn single_star_stays_within_a_path_component() {
        assert!(glob_match("release/*", "release/1.0"));
        assert!(glob_match("release/*", "release/"));
        assert!(!glob_match("release/*", "release/1.0/fix"));
        assert!(glob_match("v*", "v1.2.3"));
        assert!(glob_match("*-rc", "v1-rc"));
        assert!(!glob_match("*", "a/b"));
    }

    #[test]
    fn double_star_crosses_components() {
        assert!(glob_match("release/**", "release/1.0/fix"));
        assert!(glob_match("**", "a/b/c"));
        assert!(glob_match("**/hotfix", "release/1/hotfix"));
    }

    #[test]
    fn question_mark_is_one_character() {
        assert!(glob_match("v?", "v1"));
        assert!(!glob_match("v?", "v12"));
        assert!(!glob_match("a?b", "a/b"));
    }

    #[test]
    fn an_earlier_double_star_can_take_over_from_a_later_star() {
        assert!(glob_match("**/a*b", "q/a/c/axb"));
        assert!(!glob_match("**/a*b", "q/a/c/ax/b"));
    }

    #[test]
    fn pathological_patterns_finish() {
        let text = "a".repeat(200);
        assert!(!glob_match(&format!("{}b", "*a".repeat(50)), &text));
    }

    #[test]
    fn the_worst_255_byte_pattern_on_a_255_byte_tag_takes_a_few_steps_per_token() {
        // Read from its end, every position keeps matching `*a*a...` until the leading `b`: the
        // whole table is filled (the old table took 255 × 256 steps, 0.3 ms, here; backtracking
        // matchers take exponential time on such input).
        let tag = "a".repeat(255);
        let pattern = format!("b{}", "*a".repeat(127));
        assert_eq!(pattern.len(), 255);
        let (matched, steps) = super::glob_steps(&pattern, &tag);
        assert!(!matched);
        assert_eq!(steps, 255 * 5, "a few operations per token and 64 positions (256 and a carry: 5 words)");
        let (matched, steps) = super::glob_steps(&format!("{}?", "*a".repeat(127)), &tag);
        assert!(matched && steps <= 255 * 5, "{steps}");
    }
}
