//! Filters written once and shared: glob patterns over refs. No `worker` import.

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

use crate::error::Error;
use crate::model::{quoted, Event, EventKind};
use serde::{Deserialize, Serialize};

const MAX_PATTERNS: usize = 100;

/// The filters a hook trigger may set, all optional, checked the same way for every provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Defaults to push, tag_push and image_push.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventKind>,
    /// An exact `group/app` (case-insensitive, as the git hosts treat names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// A regex (regex-lite's syntax) that must match somewhere in the branch or tag name; with a
    /// `trigger_type`, an SWR tag condition instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// SWR image-trigger semantics for `condition`: all, tag (exact tags separated by `;`) or
    /// regular (a regex that must match the whole tag). An empty tag never matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_type: Option<TagConditionType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagConditionType {
    All,
    Tag,
    Regular,
}

/// The exact tags of an SWR `tag` condition: `;`-separated, spaces around each ignored.
pub fn condition_tags(condition: &str) -> impl Iterator<Item = &str> {
    condition.split(';').map(str::trim).filter(|tag| !tag.is_empty())
}

/// Whether `tag` meets an SWR condition. Validated conditions never fail to compile here.
pub fn tag_condition_matches(kind: TagConditionType, condition: &str, tag: &str) -> bool {
    if tag.is_empty() {
        return false;
    }
    match kind {
        TagConditionType::All => true,
        TagConditionType::Tag => condition_tags(condition).any(|wanted| wanted == tag),
        TagConditionType::Regular => {
            compile_regex("condition", &format!("^(?:{condition})$")).is_ok_and(|re| re.is_match(tag))
        }
    }
}

/// The most a condition may compile to, in regex-lite's own measure (bytes, approximately):
/// generous for a real tag pattern, while `(a{1,100}){1,100}` is refused.
const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// How deeply a condition may nest groups and repetitions.
const REGEX_NEST_LIMIT: u32 = 32;

/// Compiles a condition with regex-lite, bounded in size and nesting (its matching is linear in the
/// text whatever the pattern); the error names the field.
pub fn compile_regex(field: &str, pattern: &str) -> Result<regex_lite::Regex, Error> {
    if pattern.len() > crate::model::MAX_NAME_BYTES {
        return Err(Error::bad_request(format!("{field} is longer than 255 bytes")));
    }
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|err| Error::bad_request(format!("{field} is not a valid regex: {}", first_line(&err.to_string()))))
}

/// regex-lite's errors quote the pattern over several lines; the first one says what is wrong.
fn first_line(text: &str) -> &str {
    text.lines().find(|line| !line.trim().is_empty()).unwrap_or(text)
}

impl EventFilter {
    pub fn validate(&self) -> Result<(), Error> {
        if self.branches.len() > MAX_PATTERNS || self.tags.len() > MAX_PATTERNS {
            return Err(Error::bad_request(format!("branches and tags take at most {MAX_PATTERNS} patterns")));
        }
        for pattern in &self.branches {
            validate_glob("branches", pattern)?;
        }
        for pattern in &self.tags {
            validate_glob("tags", pattern)?;
        }
        if let Some(repository) = &self.repository {
            crate::model::validate_name("repository", repository)?;
            // SWR's API addresses it in its path (`$` for `/`), where a dot segment cannot be named.
            if repository.split('/').any(|segment| segment == "." || segment == "..") {
                return Err(Error::bad_request("repository must not have a '.' or '..' segment"));
            }
        }
        match (self.trigger_type, self.condition.as_deref()) {
            (Some(TagConditionType::Tag), condition)
                if condition.is_none_or(|c| condition_tags(c).next().is_none()) =>
            {
                return Err(Error::bad_request(
                    "condition: trigger_type tag needs at least one tag (separate tags with ';')",
                ));
            }
            (Some(TagConditionType::Regular), None) => {
                return Err(Error::bad_request("condition: trigger_type regular needs a regex"))
            }
            (Some(TagConditionType::Regular), Some(condition)) => {
                compile_regex("condition", &format!("^(?:{condition})$"))?;
            }
            (None, Some(condition)) => {
                compile_regex("condition", condition)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// `Ok` when the event passes every filter, else the reason it does not.
    pub fn check(&self, event: &Event) -> Result<(), String> {
        let kind = event.kind();
        let wanted = if self.events.is_empty() {
            &[EventKind::Push, EventKind::TagPush, EventKind::ImagePush][..]
        } else {
            &self.events
        };
        if !wanted.contains(&kind) {
            return Err(format!("event '{}' is not one of the trigger's events", kind.as_str()));
        }
        if event.deleted {
            return Err(format!("{} was deleted", quoted(&event.git_ref)));
        }
        if let Some(repository) = &self.repository {
            if !repository.eq_ignore_ascii_case(&event.repository) {
                return Err(format!("repository '{}' is not '{repository}'", quoted(&event.repository)));
            }
        }
        // As in GitHub Actions: once branches or tags are listed, a ref must match the list of its kind.
        if !self.branches.is_empty() || !self.tags.is_empty() {
            let (name, patterns, what) = match (&event.image, event.branch(), event.tag()) {
                (Some(image), _, _) => (image.tag.as_str(), &self.tags, "tag"),
                (None, Some(branch), _) => (branch, &self.branches, "branch"),
                (None, _, Some(tag)) => (tag, &self.tags, "tag"),
                _ => (event.git_ref.as_str(), &self.branches, "ref"),
            };
            if !patterns.iter().any(|pattern| glob_match(pattern, name)) {
                return Err(format!("{what} '{}' matches none of the trigger's {what} patterns", quoted(name)));
            }
        }
        match (self.trigger_type, &self.condition) {
            (Some(kind), condition) => {
                if !tag_condition_matches(kind, condition.as_deref().unwrap_or(""), event.short_ref()) {
                    let kind = format!("{kind:?}").to_ascii_lowercase();
                    return Err(format!("tag '{}' does not meet the {kind} condition", quoted(event.short_ref())));
                }
            }
            (None, Some(condition)) => {
                let regex = compile_regex("condition", condition).map_err(|err| err.message())?;
                if !regex.is_match(event.short_ref()) {
                    return Err(format!("ref '{}' does not match the condition", quoted(event.short_ref())));
                }
            }
            (None, None) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    fn push(git_ref: &str) -> Event {
        Event {
            kind: Some(Event::push_kind(git_ref)),
            repository: "Group/App".into(),
            git_ref: git_ref.into(),
            ..Default::default()
        }
    }

    #[test]
    fn default_events_are_push_and_tag_push() {
        let filter = EventFilter::default();
        assert!(filter.check(&push("refs/heads/main")).is_ok());
        assert!(filter.check(&push("refs/tags/v1")).is_ok());
        let ping = Event { kind: Some(EventKind::Ping), ..Default::default() };
        assert!(filter.check(&ping).is_err());
        let tags_only = EventFilter { events: vec![EventKind::TagPush], ..Default::default() };
        assert!(tags_only.check(&push("refs/heads/main")).is_err());
    }

    #[test]
    fn a_deleted_ref_never_fires() {
        let mut event = push("refs/heads/main");
        event.deleted = true;
        assert!(EventFilter::default().check(&event).unwrap_err().contains("deleted"));
    }

    #[test]
    fn repository_is_exact_but_case_insensitive() {
        let filter = EventFilter { repository: Some("group/app".into()), ..Default::default() };
        assert!(filter.check(&push("refs/heads/main")).is_ok());
        let other = EventFilter { repository: Some("group/app2".into()), ..Default::default() };
        assert!(other.check(&push("refs/heads/main")).is_err());
    }

    #[test]
    fn branches_and_tags_filter_their_own_kind() {
        let filter = EventFilter { branches: vec!["main".into(), "release/*".into()], ..Default::default() };
        assert!(filter.check(&push("refs/heads/release/2")).is_ok());
        assert!(filter.check(&push("refs/heads/dev")).is_err());
        assert!(filter.check(&push("refs/tags/v1")).is_err(), "tags not listed: no tag fires");
        let tags = EventFilter { tags: vec!["v*".into()], ..Default::default() };
        assert!(tags.check(&push("refs/tags/v1.2")).is_ok());
        assert!(tags.check(&push("refs/tags/x1")).is_err());
    }

    #[test]
    fn condition_is_a_regex_over_the_short_ref() {
        let filter = EventFilter { condition: Some(r"^v\d+\.\d+$".into()), ..Default::default() };
        assert!(filter.check(&push("refs/tags/v1.2")).is_ok());
        assert!(filter.check(&push("refs/tags/v1.2-rc")).is_err());
    }

    #[test]
    fn invalid_or_huge_regexes_are_refused_on_validate() {
        let bad = EventFilter { condition: Some("(".into()), ..Default::default() };
        assert!(bad.validate().unwrap_err().message().starts_with("condition"));
        let huge = EventFilter { condition: Some("(a{1,100}){1,100}".into()), ..Default::default() };
        assert!(huge.validate().is_err());
    }

    #[test]
    fn a_refused_regex_says_why_in_one_line() {
        for (pattern, why) in [
            ("(", "without closing"),
            ("(a{1000}){1000}", "size limit"),
            ("a{99999}", "size limit"),
            ("(?=a)", "look-around"),
            (r"\p{L}", "Unicode character classes"),
        ] {
            let message = compile_regex("condition", pattern).unwrap_err().message();
            assert!(message.starts_with("condition is not a valid regex: "), "{pattern}: {message}");
            assert!(message.contains(why) && !message.contains('\n'), "{pattern}: {message}");
        }
        let nested = format!("{}a{}", "(".repeat(40), ")".repeat(40));
        assert!(compile_regex("condition", &nested).is_err(), "nesting is bounded");
        assert!(compile_regex("condition", r"^v\d+\.\d+(-rc\d+)?$").is_ok());
    }
}

#[cfg(test)]
mod tag_condition_tests {
    use super::*;
    use crate::model::Image;

    fn image(tag: &str) -> Event {
        Event::image_push(
            "push",
            Image { repository: "ns/app".into(), tag: tag.into(), digest: "sha256:1".into() },
            String::new(),
        )
    }

    fn filter(kind: TagConditionType, condition: &str) -> EventFilter {
        EventFilter { trigger_type: Some(kind), condition: Some(condition.into()), ..Default::default() }
    }

    #[test]
    fn a_refused_tag_is_named_as_it_is() {
        let reason = filter(TagConditionType::Tag, "v1").check(&image("V2-RC")).unwrap_err();
        assert_eq!(reason, "tag 'V2-RC' does not meet the tag condition");
    }

    #[test]
    fn a_reason_quotes_at_most_64_bytes_of_a_long_tag() {
        let long = "t".repeat(255);
        let reasons = [
            filter(TagConditionType::Tag, "v1").check(&image(&long)).unwrap_err(),
            EventFilter { tags: vec!["v*".into()], ..Default::default() }.check(&image(&long)).unwrap_err(),
            EventFilter { condition: Some("^v".into()), ..Default::default() }.check(&image(&long)).unwrap_err(),
        ];
        for reason in reasons {
            assert!(reason.contains(&format!("'{}…'", "t".repeat(64))), "{reason}");
            assert!(reason.len() < 130, "{reason}");
        }
    }

    #[test]
    fn all_matches_every_tag_but_an_empty_one() {
        let all = EventFilter { trigger_type: Some(TagConditionType::All), ..Default::default() };
        assert!(all.validate().is_ok());
        assert!(all.check(&image("v1")).is_ok());
        assert!(all.check(&image("")).is_err(), "a digest-only push never matches");
    }

    #[test]
    fn tag_lists_are_exact_and_ignore_spaces_around_semicolons() {
        let tags = filter(TagConditionType::Tag, "v1.0; latest ;prod");
        assert!(tags.validate().is_ok());
        for ok in ["v1.0", "latest", "prod"] {
            assert!(tags.check(&image(ok)).is_ok(), "{ok}");
        }
        for no in ["v1", "v1.0.1", "", " latest"] {
            assert!(tags.check(&image(no)).is_err(), "{no:?}");
        }
    }

    #[test]
    fn regular_must_match_the_whole_tag() {
        let regular = filter(TagConditionType::Regular, r"v\d+\.\d+");
        assert!(regular.check(&image("v1.2")).is_ok());
        assert!(regular.check(&image("v1.2-rc1")).is_err(), "a partial match is not enough");
        assert!(regular.check(&image("xv1.2")).is_err());
        let alternation = filter(TagConditionType::Regular, "a|b");
        assert!(alternation.check(&image("ab")).is_err(), "the anchors wrap the whole alternation");
        assert!(alternation.check(&image("b")).is_ok());
    }

    #[test]
    fn invalid_conditions_are_refused() {
        assert!(filter(TagConditionType::Regular, "(").validate().is_err());
        assert!(filter(TagConditionType::Tag, " ; ;").validate().unwrap_err().message().contains("at least one tag"));
        assert!(EventFilter { trigger_type: Some(TagConditionType::Regular), ..Default::default() }
            .validate()
            .is_err());
        assert!(serde_json::from_str::<EventFilter>(r#"{"trigger_type":"prefix"}"#).is_err());
    }

    #[test]
    fn image_tags_are_filtered_by_tags_globs_and_repository() {
        let f = EventFilter { repository: Some("NS/app".into()), tags: vec!["v*".into()], ..Default::default() };
        assert!(f.check(&image("v2")).is_ok());
        assert!(f.check(&image("latest")).is_err());
    }
}
