//! Webhook providers (git servers and container registries): one module each behind [`Provider`], and the registry table below, one line
//! per provider. A provider proves a call came from it (`verify`) and turns the body into
//! normalized events (`parse`). No `worker` import; never logs a secret.

pub mod acr;
pub mod bitbucket;
pub mod distribution;
pub mod dockerhub;
pub mod generic;
pub mod ghcr;
pub mod gitea;
pub mod gitee;
pub mod github;
pub mod gitlab;
pub mod harbor;
pub mod hmac;
pub mod payload;
pub mod quay;
pub mod registry;
pub mod replay;
pub mod standard;

use crate::error::Error;
use crate::http::Request;
use crate::model::call::{validate_ref, validate_variable, MAX_VARIABLES};
use crate::model::{Event, ProviderSource, Schedule, Source, SourceFields};
pub use replay::ReplayId;

/// A webhook call on its way in: the request, the trigger's source, and the time.
pub struct HookCall<'a> {
    pub request: &'a Request,
    pub source: &'a ProviderSource,
    pub now_ms: u64,
}

pub trait Provider: Sync {
    /// Checks, in constant time, that one of the source's secrets signed this call.
    fn verify(&self, call: &HookCall) -> Result<(), Error>;
    /// The normalized events in the body (usually one).
    fn parse(&self, call: &HookCall) -> Result<Vec<Event>, Error>;
    /// Checks a source's settings when a trigger is created or changed.
    fn validate(&self, source: &ProviderSource) -> Result<(), Error> {
        require_secrets(source)
    }
    /// Whether it reads any body, where a source's `fields` say (`generic`).
    fn maps_fields(&self) -> bool {
        false
    }
    /// Whether it is a container registry, whose image pushes a registry endpoint fans out.
    fn emits_images(&self) -> bool {
        false
    }
    /// The provider's own delivery id headers (never a generic one such as `Idempotency-Key`).
    fn id_headers(&self) -> &'static [&'static str] {
        &[]
    }
    /// What makes a verified call single-use (see `replay`). By default the provider signs no id:
    /// its own id header, if sent, and the hash of the signed body.
    fn replay_ids(&self, call: &HookCall) -> Vec<ReplayId> {
        replay::unsigned(call, self.id_headers())
    }
    /// The body's top-level field that carries the provider's credential, dropped before the body
    /// is stored or forwarded (Gitee's password mode sends the password as `password`).
    fn credential_field(&self) -> Option<&'static str> {
        None
    }
}

/// The registry: a new provider is one module and one line here.
static PROVIDERS: &[(&str, &dyn Provider)] = &[
    ("github", &github::GitHub),
    ("gitlab", &gitlab::GitLab),
    ("gitea", &gitea::Gitea),
    ("gitee", &gitee::Gitee),
    ("bitbucket", &bitbucket::Bitbucket),
    ("hmac", &hmac::GenericHmac),
    ("standard", &standard::StandardWebhooks),
    ("dockerhub", &dockerhub::DockerHub),
    ("harbor", &harbor::Harbor),
    ("acr", &acr::Acr),
    ("quay", &quay::Quay),
    ("ghcr", &ghcr::Ghcr),
    ("distribution", &distribution::Distribution),
];

pub fn provider(kind: &str) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().find(|(name, _)| *name == kind).map(|(_, provider)| *provider)
}

pub fn provider_names() -> Vec<&'static str> {
    PROVIDERS.iter().map(|(name, _)| *name).collect()
}

/// Reads a source as sent into the model's: a schedule, or a provider's source checked against its
/// provider. A field of the other kind is refused, naming it.
pub fn validate_source(fields: SourceFields) -> Result<Source, Error> {
    if fields.is_schedule() {
        return validate_schedule(fields).map(Source::Schedule);
    }
    if fields.has_schedule_fields() {
        return Err(Error::bad_request("source.cron, source.ref and source.variables are for schedules only"));
    }
    let source = fields.provider();
    validate_provider(&source)?;
    Ok(Source::Provider(source))
}

/// Checks a provider's source against its provider; unknown kinds are named with the known ones.
pub fn validate_provider(source: &ProviderSource) -> Result<(), Error> {
    let provider = provider(&source.kind).ok_or_else(|| {
        Error::bad_request(format!(
            "source.kind '{}' is unknown; use one of {}",
            source.kind,
            provider_names().join(", ")
        ))
    })?;
    if let Some(fields) = &source.fields {
        if !provider.maps_fields() {
            return Err(Error::bad_request("source.fields is for the hmac and standard sources only"));
        }
        generic::validate(fields)?;
    }
    provider.validate(source)
}

/// A schedule: a valid cron expression, an optional ref, variables, and no secrets.
fn validate_schedule(fields: SourceFields) -> Result<Schedule, Error> {
    let signed = fields.has_provider_fields();
    let SourceFields { cron, ref_name, variables, .. } = fields;
    let cron = cron.ok_or_else(|| Error::bad_request("source.cron is missing"))?;
    crate::cron::Cron::parse(&cron)?;
    if let Some(ref_name) = &ref_name {
        validate_ref(ref_name).map_err(|err| Error::bad_request(format!("source.{}", err.message())))?;
    }
    if variables.len() > MAX_VARIABLES {
        return Err(Error::bad_request(format!("source.variables: at most {MAX_VARIABLES}")));
    }
    for (key, value) in &variables {
        validate_variable(key, value)?;
    }
    if signed {
        return Err(Error::bad_request("source: a schedule has no secrets or signature settings"));
    }
    Ok(Schedule { cron, ref_name, variables })
}

const MAX_SECRETS: usize = 10;

pub fn require_secrets(source: &ProviderSource) -> Result<(), Error> {
    if source.secrets.is_empty() || source.secrets.len() > MAX_SECRETS {
        return Err(Error::bad_request(format!("source.secrets needs 1 to {MAX_SECRETS} secrets")));
    }
    if source.secrets.iter().any(|s| s.expose().is_empty() || s.expose().len() > 1024) {
        return Err(Error::bad_request("source.secrets must not be empty or longer than 1024 bytes"));
    }
    Ok(())
}

/// The most events one webhook may carry. Each costs filter work and, for a registry endpoint, the
/// index listing of its repository: so at most 100 repositories are listed per webhook, too.
pub const MAX_EVENTS: usize = 100;

/// Refuses a webhook that carries more than [`MAX_EVENTS`] events (413) or a repository, tag, ref,
/// digest, commit or sender over 255 bytes (400, naming the field). Nothing is stored before it.
pub fn check_events(events: &[Event]) -> Result<(), Error> {
    check_count(events.len())?;
    events.iter().try_for_each(Event::check_sizes)
}

/// For a parser about to copy `shared` (its repository, sender) into `count` events: checked
/// first, so that parsing never allocates more than the body and [`MAX_EVENTS`] small events.
pub fn check_fan_out(count: usize, shared: &Event) -> Result<(), Error> {
    check_count(count)?;
    shared.check_sizes()
}

fn check_count(count: usize) -> Result<(), Error> {
    if count > MAX_EVENTS {
        return Err(Error::TooMuchWork(format!(
            "a webhook carries at most {MAX_EVENTS} events (tags, refs or images); this one has {count}"
        )));
    }
    Ok(())
}

/// The header's value, or a 401 that names it.
pub fn required_header<'r>(request: &'r Request, name: &str) -> Result<&'r str, Error> {
    request
        .header(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::BadSignature(format!("{name} is missing")))
}

/// The end of every `verify`: `Ok`, or a 401 that names the header that failed.
pub fn verdict(verified: bool, header: &str) -> Result<(), Error> {
    if verified {
        Ok(())
    } else {
        Err(Error::BadSignature(format!("{header} does not match the body and any of the trigger's secrets")))
    }
}

/// Checks a signed Unix timestamp (seconds) against `now` within `tolerance_secs`.
pub fn check_timestamp(header: &str, value: &str, now_ms: u64, tolerance_secs: u64) -> Result<(), Error> {
    let seconds: u64 =
        value.trim().parse().map_err(|_| Error::BadSignature(format!("{header} is not a Unix timestamp")))?;
    let now = now_ms / 1000;
    if seconds.abs_diff(now) > tolerance_secs {
        return Err(Error::BadSignature(format!("{header} is more than {tolerance_secs} seconds away from now")));
    }
    Ok(())
}

/// `sha256=<hex>` style signatures: the bytes after the prefix, or a 401 naming the header.
pub fn prefixed_hex(header: &str, value: &str, prefix: &str) -> Result<Vec<u8>, Error> {
    let hex_part = value
        .strip_prefix(prefix)
        .ok_or_else(|| Error::BadSignature(format!("{header} must start with '{prefix}'")))?;
    hex::decode(hex_part.trim()).map_err(|_| Error::BadSignature(format!("{header} is not hex")))
}
