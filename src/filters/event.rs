//! The event filter a hook or image trigger sets (events, repository, branch and tag globs, a
//! condition), written once and used for every provider. Decides only; never reads the store and
//! never imports `worker`.

use super::glob::{glob_match, validate_glob};
use super::tag::{compile_regex, condition_tags, tag_condition_matches, TagConditionType};
use crate::error::Error;
use crate::model::{quoted, wire_name, Event, EventKind};
use serde::{Deserialize, Serialize};

const MAX_PATTERNS: usize = 100;
const NO_REF: &str = "the event has no ref, so it matches none of the trigger's ref filters";

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
        let kind = event.kind;
        let wanted = if self.events.is_empty() {
            &[EventKind::Push, EventKind::TagPush, EventKind::ImagePush][..]
        } else {
            &self.events
        };
        if !wanted.contains(&kind) {
            return Err(format!("event '{}' is not one of the trigger's events", wire_name(&kind)));
        }
        if event.deleted {
            return Err(format!("{} was deleted", quoted(&event.git_ref)));
        }
        if let Some(repository) = &self.repository {
            if !repository.eq_ignore_ascii_case(&event.repository) {
                return Err(format!("repository '{}' is not '{repository}'", quoted(&event.repository)));
            }
        }
        // An event whose ref is unknown (a generic source's body without one) matches no ref filter,
        // not even `*`.
        let no_ref = event.image.is_none() && event.git_ref.is_empty();
        // As in GitHub Actions: once branches or tags are listed, a ref must match the list of its kind.
        if !self.branches.is_empty() || !self.tags.is_empty() {
            if no_ref {
                return Err(NO_REF.into());
            }
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
                    let kind = wire_name(&kind);
                    return Err(format!("tag '{}' does not meet the {kind} condition", quoted(event.short_ref())));
                }
            }
            (None, Some(_)) if no_ref => return Err(NO_REF.into()),
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
            kind: Event::push_kind(git_ref),
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
        let ping = Event { kind: EventKind::Ping, ..Default::default() };
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
    fn an_unknown_ref_matches_no_ref_filter_not_even_a_star() {
        let unknown = Event { kind: EventKind::Other, ..Default::default() };
        let other = vec![EventKind::Other];
        let filter = |branches: &[&str], condition: Option<&str>| EventFilter {
            events: other.clone(),
            branches: branches.iter().map(|b| b.to_string()).collect(),
            condition: condition.map(str::to_string),
            ..Default::default()
        };
        assert!(filter(&[], None).check(&unknown).is_ok(), "no ref filter: it may fire");
        for (branches, condition) in [(&["*"][..], None), (&["**"], None), (&[], Some(".*")), (&[], Some(""))] {
            let refused = filter(branches, condition).check(&unknown).unwrap_err();
            assert!(refused.contains("no ref"), "{branches:?} {condition:?}: {refused}");
        }
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
}
