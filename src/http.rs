//! Plain request and response values, and the body parsers the routes share:
//! query strings, urlencoded and multipart forms. No `worker` import: the shell converts.

use crate::error::Error;

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
}

impl Request {
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
    pub fn media_type(&self) -> String {
        let raw = self.header("content-type").unwrap_or("");
        raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_urlencoded(&self.query)
    }

    /// The first value of the query field `name`, decoded.
    pub fn query_field(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
    }

    /// Fields of a urlencoded or multipart form body; an empty list for any other body.
    pub fn form_pairs(&self) -> Result<Vec<(String, String)>, Error> {
        match self.media_type().as_str() {
            "application/x-www-form-urlencoded" => Ok(parse_urlencoded(&utf8(&self.body)?)),
            "multipart/form-data" => {
                let content_type = self.header("content-type").unwrap_or("");
                let boundary = multipart_boundary(content_type)
                    .ok_or_else(|| Error::bad_request("multipart body without a boundary"))?;
                parse_multipart(&self.body, &boundary)
            }
            _ => Ok(Vec::new()),
        }
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

pub fn utf8(bytes: &[u8]) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::bad_request("the body is not valid UTF-8"))
}

/// Decodes `%XX` escapes; with `plus_as_space`, `+` is a space as in forms and query strings.
/// Invalid escapes are kept as they are, and invalid UTF-8 is replaced, never a panic.
pub fn percent_decode(input: &str, plus_as_space: bool) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_as_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Encodes everything but RFC 3986 unreserved characters, so a value is safe in one path segment.
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    percent_encode_into(&mut out, input);
    out
}

fn percent_encode_into(out: &mut String, input: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            // Not `format!`: this runs per byte of every forwarded variable.
            out.extend(['%', HEX[usize::from(b >> 4)] as char, HEX[usize::from(b & 15)] as char]);
        }
    }
}

/// JSON nested deeper than this is refused before it is parsed.
pub const MAX_JSON_DEPTH: usize = 64;

/// Refuses a JSON text nested deeper than `MAX_JSON_DEPTH` (one pass, no allocation), so that
/// no input reaches the parser's own recursion limit.
pub fn check_json_depth(body: &[u8]) -> Result<(), crate::error::Error> {
    // Most payloads open fewer containers than the limit in all: then no nesting can exceed it,
    // and this cheaper count spares the string-aware pass.
    if body.iter().filter(|&&b| b == b'{' || b == b'[').count() <= MAX_JSON_DEPTH {
        return Ok(());
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(crate::error::Error::bad_request(format!(
                        "the JSON is nested deeper than {MAX_JSON_DEPTH} levels"
                    )));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

pub fn parse_urlencoded(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true), percent_decode(value, true))
        })
        .collect()
}

pub fn encode_form(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        percent_encode_into(&mut out, key);
        out.push('=');
        percent_encode_into(&mut out, value);
    }
    out
}

fn multipart_boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_string())
    })
}

/// Reads the fields of a `multipart/form-data` body (RFC 7578), as `curl --form` sends it.
/// File parts are read as text fields too, which is what `--form 'variables[X]=<file'` means.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<(String, String)>, Error> {
    let malformed = || Error::bad_request("malformed multipart body");
    if boundary.is_empty() || boundary.len() > 200 {
        return Err(malformed());
    }
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut fields = Vec::new();
    let mut rest = match find(body, delimiter) {
        Some(at) => &body[at + delimiter.len()..],
        None => return Err(malformed()),
    };
    loop {
        if rest.starts_with(b"--") {
            return Ok(fields);
        }
        rest = rest.strip_prefix(b"\r\n").ok_or_else(malformed)?;
        let head_end = find(rest, b"\r\n\r\n").ok_or_else(malformed)?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let content = &rest[head_end + 4..];
        let next = find_delimiter(content, delimiter).ok_or_else(malformed)?;
        let name = part_name(&head).ok_or_else(malformed)?;
        let value = String::from_utf8_lossy(&content[..next]).into_owned();
        fields.push((name, value));
        rest = &content[next + 2 + delimiter.len()..];
    }
}

/// The position of `\r\n--boundary` in `content`.
fn find_delimiter(content: &[u8], delimiter: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(found) = find(&content[at..], delimiter) {
        let position = at + found;
        if position >= 2 && &content[position - 2..position] == b"\r\n" {
            return Some(position - 2);
        }
        at = position + 1;
    }
    None
}

fn part_name(head: &str) -> Option<String> {
    let disposition = head.split("\r\n").find(|line| line.to_ascii_lowercase().starts_with("content-disposition:"))?;
    disposition.split(';').skip(1).find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        (key.trim() == "name").then(|| value.trim().trim_matches('"').to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|window| window == needle)
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
