//! What the deployment tunes through vars (`wrangler.toml`'s `[vars]`, `.dev.vars` locally).

use crate::model::delivery::{RetryPolicy, DELIVERY_RETENTION_SECONDS};

/// What the deployment tunes through vars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `RETRY_BASE_SECONDS` and `RETRY_MAX_ATTEMPTS`.
    pub retry: RetryPolicy,
    /// `DELIVERY_TTL_SECONDS`: how long delivery records are kept.
    pub delivery_ttl_seconds: u64,
    /// `ALLOW_HTTP_TARGETS`: local development and tests may send over http and to local addresses.
    pub allow_local_targets: bool,
    /// `PUBLIC_URL`: where admins reach this worker (`https://hooks.example.com`), for the links
    /// in notifications; without it they link to the admin page's path alone.
    pub public_url: Option<String>,
    /// `STORAGE_BUDGET_MB`, in bytes: what one target's delivery records may take (0: no budget).
    pub storage_budget_bytes: u64,
    /// `REFUSAL_FLUSH_SECONDS`, in ms, for tests only: how often at most a trigger's refused
    /// webhooks cost a ledger request of their own (`ledger::refusals`).
    pub refusal_flush_ms: u64,
}

/// `STORAGE_BUDGET_MB`'s default.
pub const STORAGE_BUDGET_MB: u64 = 100;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry: RetryPolicy::default(),
            delivery_ttl_seconds: DELIVERY_RETENTION_SECONDS,
            allow_local_targets: false,
            public_url: None,
            storage_budget_bytes: STORAGE_BUDGET_MB * 1_000_000,
            refusal_flush_ms: crate::ledger::refusals::FLUSH_EVERY_MS,
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
            public_url: var("PUBLIC_URL")
                .map(|url| url.trim().trim_end_matches('/').to_string())
                .filter(|url| public_url_problem(url).is_none()),
            storage_budget_bytes: number("STORAGE_BUDGET_MB")
                .map_or(defaults.storage_budget_bytes, |mb| mb.min(1_000_000).saturating_mul(1_000_000)),
            refusal_flush_ms: number("REFUSAL_FLUSH_SECONDS").map_or(defaults.refusal_flush_ms, |n| n.min(3600) * 1000),
        }
    }
}

/// The numeric vars, which must be whole numbers when they are set.
const NUMBER_VARS: [&str; 5] =
    ["RETRY_BASE_SECONDS", "RETRY_MAX_ATTEMPTS", "DELIVERY_TTL_SECONDS", "STORAGE_BUDGET_MB", "REFUSAL_FLUSH_SECONDS"];

/// What keeps this deployment from working, one line per setting: the setting's name and what is
/// wrong, never its value. `var` and `secret` read vars and secrets by name; `bound` says whether
/// a binding is declared. Empty when all is well.
pub fn problems(
    var: impl Fn(&str) -> Option<String>,
    secret: impl Fn(&str) -> Option<String>,
    bound: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    if !bound("TRIGGERS") {
        problems.push("TRIGGERS: no KV namespace is bound (see wrangler.toml)".to_string());
    }
    for name in ["LEDGER", "SCHEDULES"] {
        if !bound(name) {
            problems.push(format!("{name}: no Durable Object namespace is bound (see wrangler.toml)"));
        }
    }
    if let Some(key) = secret("ENCRYPTION_KEY").filter(|key| !key.trim().is_empty()) {
        if let Err(why) = crate::crypto::Keyring::parse(&key) {
            problems.push(why);
        }
    }
    if let Some(admins) = secret("ADMIN_TOKENS").filter(|admins| !admins.trim().is_empty()) {
        let malformed = admins.split(',').map(str::trim).filter(|entry| !entry.is_empty()).position(|entry| {
            entry.split_once(':').is_none_or(|(name, token)| name.trim().is_empty() || token.trim().is_empty())
        });
        if let Some(position) = malformed {
            problems.push(format!("ADMIN_TOKENS: entry {} is not name:token", position + 1));
        }
    }
    if let Some(problem) = secret("ADMIN_ACCESS_KEYS").and_then(|keys| crate::access_keys::AccessKeys::problem(&keys)) {
        problems.push(problem);
    }
    if let Some(problem) = var("PUBLIC_URL").and_then(|url| public_url_problem(url.trim())) {
        problems.push(problem);
    }
    for name in NUMBER_VARS {
        if var(name).is_some_and(|text| text.trim().parse::<u64>().is_err()) {
            problems.push(format!("{name}: not a whole number"));
        }
    }
    problems
}

/// What is wrong with a `PUBLIC_URL`, if anything: it must be an http(s) origin (a path is allowed).
fn public_url_problem(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok();
    let fine = parsed.is_some_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some());
    (!fine).then(|| "PUBLIC_URL: not an http(s) URL such as https://hooks.example.com".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_each_setting_and_never_echo_its_value() {
        let none = |_: &str| None;
        assert_eq!(problems(none, none, |_| true), Vec::<String>::new());
        assert_eq!(
            problems(none, none, |_| false),
            [
                "TRIGGERS: no KV namespace is bound (see wrangler.toml)",
                "LEDGER: no Durable Object namespace is bound (see wrangler.toml)",
                "SCHEDULES: no Durable Object namespace is bound (see wrangler.toml)"
            ]
        );
        let secrets = |name: &str| match name {
            "ENCRYPTION_KEY" => Some("c2VjcmV0LWtleS1tYXRlcmlhbC13aXRob3V0LWlk".to_string()),
            "ADMIN_TOKENS" => Some("alice:tok-a,bob-without-token".to_string()),
            "ADMIN_ACCESS_KEYS" => Some("alice:LTAI5tKey:sk-a,carol:LTAI5tOther-sk-c".to_string()),
            _ => None,
        };
        let vars = |name: &str| (name == "RETRY_MAX_ATTEMPTS").then(|| "ten".to_string());
        let found = problems(vars, secrets, |_| true);
        assert_eq!(
            found,
            [
                "ENCRYPTION_KEY: key 1 is not <id>:<base64 of 32 bytes> (no ':')",
                "ADMIN_TOKENS: entry 2 is not name:token",
                "ADMIN_ACCESS_KEYS: entry 2 is not name:access_key_id:access_key_secret",
                "RETRY_MAX_ATTEMPTS: not a whole number",
            ]
        );
        let shown = found.join(" ");
        assert!(!shown.contains("c2VjcmV0") && !shown.contains("bob-without-token") && !shown.contains("ten"));
        assert!(!shown.contains("sk-a") && !shown.contains("LTAI5t"));
    }

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
            ("STORAGE_BUDGET_MB", "5"),
            ("REFUSAL_FLUSH_SECONDS", "2"),
        ]));
        assert!(tuned.allow_local_targets);
        assert_eq!((tuned.storage_budget_bytes, tuned.refusal_flush_ms), (5_000_000, 2000));
        assert_eq!(Settings::default().storage_budget_bytes, 100_000_000);
        assert_eq!(tuned.retry, RetryPolicy { base_seconds: 1, max_attempts: 3 });
        assert_eq!(tuned.delivery_ttl_seconds, 60, "KV's shortest TTL");
        let odd = Settings::from_vars(vars(&[("RETRY_BASE_SECONDS", "soon"), ("RETRY_MAX_ATTEMPTS", "0")]));
        assert_eq!(odd.retry, RetryPolicy { base_seconds: 30, max_attempts: 1 });
        let public = Settings::from_vars(vars(&[("PUBLIC_URL", " https://hooks.example.com/ ")]));
        assert_eq!(public.public_url.as_deref(), Some("https://hooks.example.com"));
    }

    #[test]
    fn a_public_url_must_be_an_http_url() {
        let none = |_: &str| None;
        for (url, fine) in [("https://hooks.example.com", true), ("hooks.example.com", false), ("ftp://x", false)] {
            let var = |name: &str| (name == "PUBLIC_URL").then(|| url.to_string());
            let found = problems(var, none, |_| true);
            assert_eq!(found.is_empty(), fine, "{url}: {found:?}");
            assert_eq!(Settings::from_vars(var).public_url.is_some(), fine, "a bad one is not used");
        }
    }
}
