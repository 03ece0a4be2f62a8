//! Body templates for `http` targets: `{{ref}}`, `{{branch}}`, `{{tag}}`, `{{repository}}`,
//! `{{commit}}`, `{{image}}`, `{{digest}}`, `{{delivery_id}}` and `{{variables.NAME}}` are
//! filled in from the call, escaped for the body's media type (`Escaping`): JSON-escaped in JSON,
//! percent-encoded in forms, as they are elsewhere. One pass, no recursion: a value that itself
//! contains `{{...}}` is never expanded. No `worker` import.
//! Home-made on purpose: the template crates (`handlebars`, `tera`, `minijinja`) bring a whole
//! language (loops, filters, includes) where we want eight fixed names and one escaping rule.

use crate::error::Error;
use crate::model::{Call, EventFacts};

const PLACEHOLDERS: [&str; 8] = ["ref", "branch", "tag", "repository", "commit", "image", "digest", "delivery_id"];
/// A template is at most this long.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

/// The placeholders in `template`, in order, or a 400 naming the first that is not one of ours.
fn placeholders(template: &str) -> Result<Vec<(usize, usize, &str)>, Error> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = template[from..].find("{{").map(|i| from + i) {
        let end = template[start..]
            .find("}}")
            .map(|i| start + i)
            .ok_or_else(|| Error::bad_request("body_template has a '{{' without its '}}'"))?;
        let name = template[start + 2..end].trim();
        let known = PLACEHOLDERS.contains(&name)
            || name.strip_prefix("variables.").is_some_and(|v| !v.is_empty() && !v.contains(['{', '}']));
        if !known {
            return Err(Error::bad_request(format!(
                "body_template: '{{{{{name}}}}}' is not a placeholder; use {} or variables.NAME",
                PLACEHOLDERS.join(", ")
            )));
        }
        found.push((start, end + 2, name));
        from = end + 2;
    }
    Ok(found)
}

pub fn validate(template: &str) -> Result<(), Error> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(Error::bad_request(format!("body_template is longer than {MAX_TEMPLATE_BYTES} bytes")));
    }
    placeholders(template).map(|_| ())
}

/// The value of one placeholder for `call`, whose event's facts are `facts` (`Call::event_facts`).
fn value(call: &Call, facts: &EventFacts, name: &str) -> String {
    let image = call.image.as_ref();
    match name {
        "ref" => call.ref_name.clone(),
        "branch" => facts.branch.clone(),
        "tag" => facts.tag.clone(),
        "repository" => facts.repository.clone(),
        "commit" => facts.commit.clone(),
        "image" => image.map(|i| i.reference()).unwrap_or_default(),
        "digest" => image.map(|i| i.digest.clone()).unwrap_or_default(),
        "delivery_id" => call.delivery.clone(),
        other => other.strip_prefix("variables.").and_then(|key| call.variables.get(key)).cloned().unwrap_or_default(),
    }
}

/// How a value is written into a template, decided by the body's media type alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// As a JSON string's contents: a value cannot close its string and add fields.
    Json,
    /// Percent-encoded as a form value: a value cannot add a `&name=value` pair.
    Form,
    /// As it is (text/plain and every other type): the template's author owns that syntax.
    Raw,
}

impl Escaping {
    /// Media types compare case-insensitively and without their parameters (RFC 9110 8.3.1);
    /// any JSON subtype (`json`, `+json` suffixes, `x-ndjson`) is JSON: escaping too often only
    /// costs a backslash, escaping too rarely lets a value rewrite the body.
    pub fn for_media_type(content_type: &str) -> Escaping {
        let essence = crate::http::media_essence(content_type);
        if essence.ends_with("json") {
            Escaping::Json
        } else if essence == "application/x-www-form-urlencoded" {
            Escaping::Form
        } else {
            Escaping::Raw
        }
    }

    fn write(self, out: &mut String, value: &str) {
        match self {
            Escaping::Json => {
                let quoted = serde_json::to_string(value).unwrap_or_default();
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
            // The crate's one encoder (everything but RFC 3986 unreserved characters), which
            // `http::encode_form` uses too; `form_urlencoded::byte_serialize` cost 1.3 KB of wasm.
            Escaping::Form => out.push_str(&crate::http::percent_encode(value)),
            Escaping::Raw => out.push_str(value),
        }
    }
}

/// Fills in `template` for `call`, each value written as `escaping` says.
pub fn render(template: &str, call: &Call, escaping: Escaping) -> Result<String, Error> {
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    let facts = call.event_facts();
    for (start, end, name) in placeholders(template)? {
        out.push_str(&template[last..start]);
        escaping.write(&mut out, &value(call, &facts, name));
        last = end;
    }
    out.push_str(&template[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Image;

    fn push_call() -> Call {
        let variables = [
            ("HOOKRELAY_REF", "refs/heads/main"),
            ("HOOKRELAY_REPOSITORY", "group/app"),
            ("HOOKRELAY_COMMIT", "abc123"),
            ("NOTE", "say \"hi\"\n"),
        ];
        Call {
            ref_name: "main".into(),
            delivery: "t1-0001".into(),
            variables: variables.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Call::default()
        }
    }

    #[test]
    fn fills_every_placeholder_and_escapes_for_json() {
        let template = r#"{"branch":"{{branch}}","tag":"{{ tag }}","repo":"{{repository}}","sha":"{{commit}}","id":"{{delivery_id}}","note":"{{variables.NOTE}}","none":"{{variables.MISSING}}"}"#;
        let body = render(template, &push_call(), Escaping::Json).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"branch": "main", "tag": "", "repo": "group/app", "sha": "abc123", "id": "t1-0001",
                "note": "say \"hi\"\n", "none": ""})
        );
        assert_eq!(
            render("ref={{ref}}&note={{variables.NOTE}}", &push_call(), Escaping::Raw).unwrap(),
            "ref=main&note=say \"hi\"\n"
        );
    }

    #[test]
    fn escaping_follows_the_media_type_whatever_its_case_parameters_or_suffix() {
        for (content_type, escaping) in [
            ("application/json", Escaping::Json),
            ("application/JSON", Escaping::Json),
            ("APPLICATION/JSON", Escaping::Json),
            ("application/json; charset=utf-8", Escaping::Json),
            (" Application/Json ;charset=UTF-8", Escaping::Json),
            ("application/vnd.foo+json", Escaping::Json),
            ("application/vnd.foo+JSON; version=2", Escaping::Json),
            ("text/json", Escaping::Json),
            ("application/x-www-form-urlencoded", Escaping::Form),
            ("application/X-WWW-Form-URLEncoded", Escaping::Form),
            ("application/x-www-form-urlencoded; charset=utf-8", Escaping::Form),
            ("text/plain", Escaping::Raw),
            ("text/plain; charset=json", Escaping::Raw),
            ("application/xml", Escaping::Raw),
            ("multipart/form-data; boundary=x", Escaping::Raw),
        ] {
            assert_eq!(Escaping::for_media_type(content_type), escaping, "{content_type}");
        }
    }

    #[test]
    fn form_values_are_percent_encoded_and_cannot_add_a_pair() {
        let mut call = push_call();
        call.ref_name = "main&deploy_all=true".into();
        let body = render("ref={{ref}}&note={{variables.NOTE}}", &call, Escaping::Form).unwrap();
        assert_eq!(body, "ref=main%26deploy_all%3Dtrue&note=say%20%22hi%22%0A");
        let pairs = crate::http::parse_urlencoded(&body);
        let names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["ref", "note"]);
        assert_eq!(pairs[0].1, "main&deploy_all=true");
    }

    #[test]
    fn image_pushes_fill_image_tag_and_digest() {
        let call = Call {
            ref_name: "v2".into(),
            image: Some(Image { repository: "ns/app".into(), tag: "v2".into(), digest: "sha256:d".into() }),
            ..Call::default()
        };
        let body = render("{{image}} {{tag}} {{digest}} {{repository}} [{{branch}}]", &call, Escaping::Raw).unwrap();
        assert_eq!(body, "ns/app:v2 v2 sha256:d ns/app []");
    }

    #[test]
    fn the_events_typed_facts_fill_the_template_whatever_the_variables_say() {
        let mut call = push_call();
        call.facts = Some(crate::model::EventFacts {
            branch: "release/2".into(),
            tag: String::new(),
            repository: "group/other".into(),
            commit: "def456".into(),
        });
        let body = render("{{branch}} [{{tag}}] {{repository}} {{commit}}", &call, Escaping::Raw).unwrap();
        assert_eq!(body, "release/2 [] group/other def456");
        assert_eq!(render("{{variables.HOOKRELAY_COMMIT}}", &call, Escaping::Raw).unwrap(), "abc123", "the view stays");
    }

    #[test]
    fn unknown_or_unclosed_placeholders_are_refused_by_name() {
        assert!(validate("{{secret}}").unwrap_err().message().contains("{{secret}}"));
        assert!(validate("{{ref").unwrap_err().message().contains("without"));
        assert!(validate("{{variables.}}").is_err());
        assert!(validate(&"x".repeat(MAX_TEMPLATE_BYTES + 1)).is_err());
        assert!(validate("plain { braces } and {{ref}}").is_ok());
    }

    #[test]
    fn values_are_never_expanded_again() {
        let mut call = push_call();
        call.variables.insert("X".into(), "{{commit}}".into());
        assert_eq!(render("{{variables.X}}", &call, Escaping::Raw).unwrap(), "{{commit}}");
    }
}
