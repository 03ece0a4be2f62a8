//! Container image references (`[registry/]repository[:tag][@digest]`), parsed and normalized as
//! Docker's `distribution/reference` does, which is how the kubelet reads a container's `image`:
//! Docker Hub is the implicit registry and `library/` its implicit namespace. Comparing two
//! references means comparing these canonical parts, never the text. No `worker` import.

use crate::error::Error;
use std::fmt;

const DOCKER_HUB: &str = "docker.io";
const MAX_NAME_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// The registry host (and port), lower case: `docker.io` when the reference names none.
    pub registry: String,
    /// The path inside the registry: `library/nginx` for `nginx`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageReference {
    /// Parses `text` by the reference grammar; a 400 naming `field` for anything else.
    pub fn parse(field: &str, text: &str) -> Result<ImageReference, Error> {
        let invalid = |why: &str| {
            let shown: String = text.chars().take(80).map(|c| if c.is_control() { '?' } else { c }).collect();
            Error::bad_request(format!("{field} '{shown}' is not an image reference: {why}"))
        };
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) if is_digest(digest) => (name, Some(digest.to_string())),
            Some(_) => return Err(invalid("the digest must be algorithm:hex")),
            None => (text, None),
        };
        let (name, tag) = match name.rfind(':') {
            Some(colon) if !name[colon..].contains('/') => (&name[..colon], Some(&name[colon + 1..])),
            _ => (name, None),
        };
        if tag.is_some_and(|tag| !is_tag(tag)) {
            return Err(invalid("a tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"));
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(invalid("the name is longer than 255 bytes"));
        }
        // Docker's rule: the first component is a registry only if it looks like a host. (ASCII
        // upper case only: any other letter is invalid either way, and Unicode tables cost wasm.)
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first.to_ascii_lowercase(), rest)
            }
            _ => (DOCKER_HUB.to_string(), name),
        };
        if !is_registry(&registry) {
            return Err(invalid("the registry must be a host name with an optional port"));
        }
        if path.is_empty() || !path.split('/').all(is_path_component) {
            return Err(invalid(
                "the repository path is lower-case letters and digits separated by '.', '_', '__', '-' or '/'",
            ));
        }
        if path.len() == 64 && path.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("a 64-digit hex string is an image id, not a repository"));
        }
        let registry = if registry == "index.docker.io" { DOCKER_HUB.to_string() } else { registry };
        let repository =
            if registry == DOCKER_HUB && !path.contains('/') { format!("library/{path}") } else { path.to_string() };
        Ok(ImageReference { registry, repository, tag: tag.map(str::to_string), digest })
    }

    /// Whether both name the same repository on the same registry, whatever their tags.
    pub fn same_repository(&self, other: &ImageReference) -> bool {
        self.registry == other.registry && self.repository == other.repository
    }
}

/// The canonical reference: `docker.io/library/nginx:1.25`.
impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `[\w][\w.-]{0,127}`
fn is_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !tag.starts_with(['.', '-'])
}

/// `algorithm:hex`, the algorithm letters and digits with `+._-` between, the hex at least 32 digits.
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else { return false };
    let algorithm_ok = algorithm.split(['+', '.', '_', '-']).all(|part| {
        part.starts_with(|c: char| c.is_ascii_alphabetic()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Host components (letters, digits, inner '-') separated by '.', then an optional `:port`;
/// or a bracketed IPv6 address.
fn is_registry(registry: &str) -> bool {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (registry, None),
    };
    if port.is_some_and(|port| port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(alphanumeric) || !bytes.last().is_some_and(alphanumeric) {
        return false;
    }
    let mut separator = String::new();
    for &b in bytes {
        if alphanumeric(&b) {
            let allowed = matches!(separator.as_str(), "" | "." | "_" | "__") || separator.bytes().all(|s| s == b'-');
            if !allowed {
                return false;
            }
            separator.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            separator.push(b as char);
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        ImageReference::parse("image", text).unwrap().to_string()
    }

    #[test]
    fn docker_hub_and_library_are_implicit() {
        assert_eq!(canonical("nginx"), "docker.io/library/nginx");
        assert_eq!(canonical("nginx:1.25"), "docker.io/library/nginx:1.25");
        assert_eq!(canonical("library/nginx:1.25"), "docker.io/library/nginx:1.25");
        assert_eq!(canonical("docker.io/nginx:1.25"), "docker.io/library/nginx:1.25");
        assert_eq!(canonical("index.docker.io/library/nginx"), "docker.io/library/nginx");
        assert_eq!(canonical("bitnami/redis:7"), "docker.io/bitnami/redis:7");
    }

    #[test]
    fn a_first_component_is_a_registry_only_if_it_looks_like_a_host() {
        let parsed = ImageReference::parse("image", "Registry.Example.com:5000/shop/web:v9").unwrap();
        assert_eq!((parsed.registry.as_str(), parsed.repository.as_str()), ("registry.example.com:5000", "shop/web"));
        assert_eq!(parsed.tag.as_deref(), Some("v9"));
        assert_eq!(canonical("localhost/app"), "localhost/app");
        assert_eq!(canonical("evil.example/backdoor:latest"), "evil.example/backdoor:latest");
        assert_eq!(canonical("[::1]:5000/app"), "[::1]:5000/app");
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(canonical(&format!("reg.example/ns/app:v1@{digest}")), format!("reg.example/ns/app:v1@{digest}"));
        assert_eq!(ImageReference::parse("image", &format!("app@{digest}")).unwrap().tag, None);
    }

    #[test]
    fn malformed_references_are_refused_naming_the_field() {
        for bad in [
            "",
            "Shop/Web",
            "reg.example/Shop/web",
            "reg.example/shop//web",
            "reg.example/shop/web:",
            "reg.example/shop/web:-v1",
            "reg.example/shop/web@sha256:short",
            "reg.example/shop/web@md5",
            "reg.example/shop web",
            "reg.example/.hidden",
            "reg.example/a..b",
            "reg_example.com/app",
            "reg.example:port/app",
            "reg.example/",
            "/app",
            &"a".repeat(64),
            &format!("reg.example/{}", "a".repeat(256)),
        ] {
            let err = ImageReference::parse("containers[].image", bad).unwrap_err();
            assert!(err.message().starts_with("containers[].image"), "{bad:?}: {}", err.message());
        }
    }

    #[test]
    fn the_same_repository_is_compared_canonically_and_without_tags() {
        let parse = |text| ImageReference::parse("image", text).unwrap();
        assert!(
            parse("nginx:1").same_repository(&parse("docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef"))
        );
        assert!(parse("REG.example/ns/app:v1").same_repository(&parse("reg.example/ns/app")));
        assert!(!parse("reg.example/ns/app").same_repository(&parse("reg.example:443/ns/app")));
        assert!(!parse("reg.example/ns/app").same_repository(&parse("reg.example/ns/app-evil")));
        assert!(!parse("reg.example/ns/app").same_repository(&parse("evil.example/ns/app")));
    }
}
