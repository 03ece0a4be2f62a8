//! SWR tag conditions (`all`, `tag` lists, `regular` regexes) and the one place a condition is
//! compiled with regex-lite, bounded in size and nesting. Never compiles an unbounded pattern; no
//! `worker` import.

use crate::error::Error;
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::EventFilter;
    use crate::model::{Event, Image};

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
