//! What the deployment tunes through vars (`wrangler.toml`'s `[vars]`, `.dev.vars` locally).

use crate::model::delivery::{RetryPolicy, DELIVERY_RETENTION_SECONDS};

/// What the deployment tunes through vars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `RETRY_BASE_SECONDS` and `RETRY_MAX_ATTEMPTS`.
    pub retry: RetryPolicy,
    /// `DELIVERY_TTL_SECONDS`: how long delivery records are kept.
    pub delivery_ttl_seconds: u64,
    /// `ALLOW_HTTP_TARGETS`: local development and tests may send over http and to local addresses.
    pub allow_local_targets: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry: RetryPolicy::default(),
            delivery_ttl_seconds: DELIVERY_RETENTION_SECONDS,
            allow_local_targets: false,
        }
    }
}

impl Settings {
    /// From the vars, by name; a var that is missing or not a number keeps its default.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Settings {
        let number = |name: &str| var(name).and_then(|text| text.trim().parse::<u64>().ok());
        let defaults = Settings::default();
        let base = number("RETRY_BASE_SECONDS").map_or(defaults.retry.base_seconds, |n| n.min(3600) as u32);
        let attempts = number("RETRY_MAX_ATTEMPTS").map_or(defaults.retry.max_attempts, |n| n.clamp(1, 100) as u32);
        Settings {
            retry: RetryPolicy { base_seconds: base, max_attempts: attempts },
            // KV's shortest TTL is a minute.
            delivery_ttl_seconds: number("DELIVERY_TTL_SECONDS").map_or(defaults.delivery_ttl_seconds, |n| n.max(60)),
            allow_local_targets: var("ALLOW_HTTP_TARGETS")
                .is_some_and(|value| matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_vars_with_defaults_and_bounds() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string())
        };
        assert_eq!(Settings::from_vars(vars(&[])), Settings::default());
        let tuned = Settings::from_vars(vars(&[
            ("RETRY_BASE_SECONDS", "1"),
            ("RETRY_MAX_ATTEMPTS", "3"),
            ("DELIVERY_TTL_SECONDS", "5"),
            ("ALLOW_HTTP_TARGETS", "true"),
        ]));
        assert!(tuned.allow_local_targets);
        assert_eq!(tuned.retry, RetryPolicy { base_seconds: 1, max_attempts: 3 });
        assert_eq!(tuned.delivery_ttl_seconds, 60, "KV's shortest TTL");
        let odd = Settings::from_vars(vars(&[("RETRY_BASE_SECONDS", "soon"), ("RETRY_MAX_ATTEMPTS", "0")]));
        assert_eq!(odd.retry, RetryPolicy { base_seconds: 30, max_attempts: 1 });
    }
}
