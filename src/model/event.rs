//! The normalized event every provider parses into.

use crate::error::Error;
use crate::model::MAX_NAME_BYTES;
use serde::{Deserialize, Serialize};

/// Its wire name (`push`, `tag_push`, ...) is serde's, here and in `HOOKRELAY_EVENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Push,
    TagPush,
    /// An image pushed to a container registry.
    ImagePush,
    Ping,
    /// Every event that fires nothing by default (a pull, a delete, a provider's other hooks).
    #[default]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    pub kind: EventKind,
    /// The provider's own name for the event (`push`, `Push Hook`, `Pipeline Hook`, `repo:push`).
    pub provider_event: String,
    /// The full name, `group/app`.
    pub repository: String,
    /// The full ref, `refs/heads/main` or `refs/tags/v1`; empty when the event has none.
    pub git_ref: String,
    pub commit: String,
    pub delivery_id: Option<String>,
    pub sender: String,
    /// The push deleted the ref (all-zero `after`).
    pub deleted: bool,
    /// For image pushes: the image that was pushed.
    pub image: Option<Image>,
}

/// A pushed image. `repository` is `namespace/name`, without the registry host.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Image {
    pub repository: String,
    /// Empty for a push by digest only.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

impl Image {
    /// `repository:tag`, or `repository@digest` when there is no tag.
    pub fn reference(&self) -> String {
        if self.tag.is_empty() {
            format!("{}@{}", self.repository, self.digest)
        } else {
            format!("{}:{}", self.repository, self.tag)
        }
    }
}

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

impl Event {
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    pub fn tag(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/tags/")
    }

    /// The branch or tag name (the image tag, for image pushes), as a target's `ref`.
    pub fn short_ref(&self) -> &str {
        if let Some(image) = &self.image {
            return &image.tag;
        }
        self.branch().or_else(|| self.tag()).unwrap_or(&self.git_ref)
    }

    /// An image push event.
    pub fn image_push(provider_event: &str, image: Image, sender: String) -> Event {
        Event {
            kind: EventKind::ImagePush,
            provider_event: provider_event.to_string(),
            repository: image.repository.clone(),
            commit: image.digest.clone(),
            sender,
            image: Some(image),
            ..Default::default()
        }
    }

    /// A push's kind follows from its ref: a tag ref is a tag push.
    pub fn push_kind(git_ref: &str) -> EventKind {
        if git_ref.starts_with("refs/tags/") {
            EventKind::TagPush
        } else {
            EventKind::Push
        }
    }

    pub fn is_zero_sha(sha: &str) -> bool {
        sha == ZERO_SHA || (!sha.is_empty() && sha.bytes().all(|b| b == b'0'))
    }

    /// Refuses (400, naming the field) a value longer than 255 bytes: the filters match these,
    /// targets receive them, and an unsigned registry lets anyone holding its URL choose them.
    pub fn check_sizes(&self) -> Result<(), Error> {
        let image = self.image.as_ref();
        let fields = [
            ("repository", self.repository.as_str()),
            ("repository", image.map_or("", |image| image.repository.as_str())),
            ("tag", image.map_or("", |image| image.tag.as_str())),
            ("digest", image.map_or("", |image| image.digest.as_str())),
            ("ref", self.short_ref()),
            ("commit", self.commit.as_str()),
            ("sender", self.sender.as_str()),
        ];
        if let Some((field, _)) = fields.iter().find(|(_, value)| value.len() > MAX_NAME_BYTES) {
            return Err(Error::bad_request(format!("{field} is longer than {MAX_NAME_BYTES} bytes")));
        }
        // A ref is checked as a token call's is, whatever signed it: a push names a branch or tag
        // (`"ref": null` is no push), and no ref carries a control character on to a target.
        let pushes = matches!(self.kind, EventKind::Push | EventKind::TagPush);
        if pushes || !self.git_ref.is_empty() {
            super::call::validate_ref(self.short_ref())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_and_tag_derive_from_the_ref() {
        let branch = Event { git_ref: "refs/heads/release/1.0".into(), ..Default::default() };
        assert_eq!((branch.branch(), branch.tag(), branch.short_ref()), (Some("release/1.0"), None, "release/1.0"));
        let tag = Event { git_ref: "refs/tags/v1".into(), ..Default::default() };
        assert_eq!((tag.branch(), tag.tag()), (None, Some("v1")));
        assert_eq!(Event::push_kind("refs/tags/v1"), EventKind::TagPush);
        assert_eq!(Event::push_kind("refs/heads/main"), EventKind::Push);
        assert!(Event::is_zero_sha(ZERO_SHA));
        assert!(!Event::is_zero_sha("0000a"));
    }

    #[test]
    fn tags_repositories_and_refs_are_bounded_at_255_bytes() {
        let image = |repository: &str, tag: &str| {
            let image = Image { repository: repository.into(), tag: tag.into(), digest: String::new() };
            Event::image_push("push", image, String::new())
        };
        assert_eq!(image(&"r".repeat(255), &"t".repeat(255)).check_sizes(), Ok(()));
        let long_tag = image("ns/app", &"t".repeat(256)).check_sizes().unwrap_err();
        assert_eq!(long_tag.message(), "tag is longer than 255 bytes");
        let long_repository = image(&"r".repeat(256), "v1").check_sizes().unwrap_err();
        assert_eq!(long_repository.message(), "repository is longer than 255 bytes");
        let push = Event { git_ref: format!("refs/heads/{}", "b".repeat(256)), ..Default::default() };
        assert_eq!(push.check_sizes().unwrap_err().message(), "ref is longer than 255 bytes");
    }
}
