//! Plain request and response values, and query-string and form encoding on the `percent-encoding`
//! and `form_urlencoded` crates. Below the error type: body parsers that can refuse a body live in
//! `body`. No `worker` import: the shell converts.

mod body;

pub use body::{check_json_depth, parse_multipart, utf8, MAX_JSON_DEPTH};

/// Bodies above this are refused before anything is parsed or stored.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// An incoming request as the core sees it. `path` and `query` are still percent-encoded,
/// so that an encoded `/` (`%2F`) in a GitLab project path or ref stays inside one segment.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `scheme://host[:port]` as the platform received it; empty when not known (native tests).
    pub origin: String,
}

impl Request {
    /// Where this deployment is reached, for links in answers: the request's origin, else
    /// `https://` and its `Host`.
    pub fn origin(&self) -> String {
        match (self.origin.is_empty(), self.header("host")) {
            (false, _) => self.origin.clone(),
            (true, Some(host)) => format!("https://{host}"),
            (true, None) => String::new(),
        }
    }

    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Request { method: method.to_ascii_uppercase(), path: path.into(), query: query.into(), ..Default::default() }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.with_header("content-type", content_type)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The media type of the body, lower case, without parameters.
    /// The media type's essence (`type/subtype`, lower case), without its parameters.
    pub fn media_type(&self) -> String {
        media_essence(self.header("content-type").unwrap_or(""))
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_urlencoded(&self.query)
    }

    /// The first value of the query field `name`, decoded.
    pub fn query_field(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
    }

    pub fn is_json(&self) -> bool {
        let media = self.media_type();
        media == "application/json" || media.ends_with("+json")
    }
}

/// An answer as the core builds it; the shell copies it onto the platform's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &impl serde::Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Response { status, headers: vec![("content-type".into(), "application/json".into())], body }
    }

    pub fn empty(status: u16) -> Self {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Bytes percent-encoded in a path segment or a form value: everything but RFC 3986's unreserved
/// characters (letters, digits, `-._~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Decodes `%XX` escapes (the `percent-encoding` crate); with `plus_as_space`, `+` is a space as in
/// forms and query strings. Invalid escapes are kept as they are, and invalid UTF-8 is replaced,
/// never a panic.
pub fn percent_decode(input: &str, plus_as_space: bool) -> String {
    let decoded = if plus_as_space && input.contains('+') {
        percent_encoding::percent_decode_str(&input.replace('+', " ")).decode_utf8_lossy().into_owned()
    } else {
        percent_encoding::percent_decode_str(input).decode_utf8_lossy().into_owned()
    };
    decoded
}

/// Encodes everything but RFC 3986 unreserved characters, so a value is safe in one path segment.
pub fn percent_encode(input: &str) -> String {
    percent_encoding::utf8_percent_encode(input, NOT_UNRESERVED).to_string()
}

/// A query string or urlencoded form's pairs, decoded (the `form_urlencoded` crate).
pub fn parse_urlencoded(input: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(input.as_bytes()).into_owned().collect()
}

/// Pairs as a urlencoded form, every byte but the unreserved ones percent-encoded (spaces as
/// `%20`, which every form reader takes, rather than `+`).
pub fn encode_form(pairs: &[(String, String)]) -> String {
    let encoded: Vec<String> =
        pairs.iter().map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value))).collect();
    encoded.join("&")
}

#[cfg(test)]
mod tests {

    #[test]
    fn json_deeper_than_64_levels_is_refused_before_parsing() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(check_json_depth(nested(64).as_bytes()), Ok(()));
        let refused = check_json_depth(nested(65).as_bytes()).unwrap_err();
        assert!(refused.message().contains("deeper than 64"), "{}", refused.message());
        let in_strings = format!(r#"{{"a":"{}","b":"\"{}"}}"#, "[".repeat(100), "{".repeat(100));
        assert_eq!(check_json_depth(in_strings.as_bytes()), Ok(()), "brackets inside strings do not count");
    }

    use super::*;
    use crate::error::Error;

    #[test]
    fn percent_decoding_keeps_encoded_slash_decodable_and_survives_bad_escapes() {
        assert_eq!(percent_decode("release%2F1.0", false), "release/1.0");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
        assert_eq!(percent_decode("%E2%9C%93", false), "✓");
    }

    #[test]
    fn percent_encoding_round_trips() {
        let raw = "group/app name+ü";
        assert_eq!(percent_decode(&percent_encode(raw), false), raw);
        assert_eq!(percent_encode("a/b"), "a%2Fb");
    }

    #[test]
    fn urlencoded_pairs_decode_brackets_and_plus() {
        let pairs = parse_urlencoded("token=T&ref=main&variables%5BUPLOAD%5D=yes+please&flag");
        assert_eq!(
            pairs,
            vec![
                ("token".into(), "T".into()),
                ("ref".into(), "main".into()),
                ("variables[UPLOAD]".into(), "yes please".into()),
                ("flag".into(), "".into()),
            ]
        );
    }

    #[test]
    fn multipart_form_as_curl_sends_it() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nT1\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"variables[NOTE]\"\r\n\r\nline1\r\nline2\r\n\
                    --XyZ--\r\n";
        let request = Request::new("POST", "/").with_body("multipart/form-data; boundary=XyZ", body);
        let fields = request.form_pairs().unwrap();
        assert_eq!(fields, vec![("token".into(), "T1".into()), ("variables[NOTE]".into(), "line1\r\nline2".into())]);
    }

    #[test]
    fn multipart_without_boundary_or_end_is_a_bad_request() {
        let no_boundary = Request::new("POST", "/").with_body("multipart/form-data", "x");
        assert!(matches!(no_boundary.form_pairs(), Err(Error::BadRequest(_))));
        let truncated = Request::new("POST", "/")
            .with_body("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv");
        assert!(matches!(truncated.form_pairs(), Err(Error::BadRequest(_))));
    }

    #[test]
    fn media_type_ignores_parameters_and_case() {
        let request = Request::new("POST", "/").with_header("Content-Type", "Application/JSON; charset=utf-8");
        assert_eq!(request.media_type(), "application/json");
        assert!(request.is_json());
    }
}

/// A `Content-Type` value's essence: `type/subtype`, lower case, without its parameters.
pub fn media_essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Whether `text` is exactly one media type (RFC 9110 8.3.1): `type/subtype` of token characters,
/// then parameters `; name=value` whose value is a token or a quoted string.
pub fn is_one_media_type(text: &str) -> bool {
    let token =
        |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    // A quoted value without escapes or `;` (which the split below would cut): rare, and refusing
    // the rest is safe.
    let quoted = |v: &str| {
        let inner = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
        inner.is_some_and(|inner| inner.bytes().all(|b| (b' '..=b'~').contains(&b) && !b"\\\"".contains(&b)))
    };
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let well_formed = essence.split_once('/').is_some_and(|(kind, subtype)| token(kind) && token(subtype));
    well_formed
        && parts.all(|parameter| {
            parameter.trim().split_once('=').is_some_and(|(name, value)| token(name) && (token(value) || quoted(value)))
        })
}

#[cfg(test)]
mod media_type_tests {
    use super::is_one_media_type;

    #[test]
    fn one_media_type_with_parameters_is_accepted_and_a_list_or_junk_is_not() {
        for good in [
            "application/json",
            "application/JSON; charset=utf-8",
            "text/plain;charset=\"utf-8\"",
            "application/vnd.deploy+json",
        ] {
            assert!(is_one_media_type(good), "{good}");
        }
        for bad in [
            "application/json, text/plain",
            "json",
            "",
            "application/",
            "/json",
            "text/plain; charset",
            "a/b; c=\"d",
            "a/b c",
            "a/b;c=d,e/f",
        ] {
            assert!(!is_one_media_type(bad), "{bad}");
        }
    }
}
