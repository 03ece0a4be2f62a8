//! Filters written once and shared: glob patterns over refs. No `worker` import.

/// Matches `text` against a glob: `*` is any run of characters but `/`, `**` any run at all,
/// `?` one character but `/`. Everything else is literal. Dynamic programming over
/// (pattern, text) positions, so time is bounded by their product and no input recurses.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Literal(char),
        One,
        Star,
        DoubleStar,
    }
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
    let text: Vec<char> = text.chars().collect();
    // matches[j]: the tokens from i on match text[j..]; filled from the last token backwards.
    let mut matches = vec![false; text.len() + 1];
    matches[text.len()] = true;
    for &token in tokens.iter().rev() {
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

/// A glob is at most 255 bytes and not empty.
pub fn validate_glob(field: &str, pattern: &str) -> Result<(), crate::error::Error> {
    crate::model::validate_name(field, pattern)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

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
}
