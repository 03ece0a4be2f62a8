//! Body parsers that can refuse what they read, with the one error type: urlencoded and multipart
//! forms (the multipart reader is our own: no kept crate reads `multipart/form-data` without an
//! async runtime), UTF-8, and the JSON depth check. No `worker` import.

use super::{parse_urlencoded, Request};
use crate::error::Error;

impl Request {
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
}

pub fn utf8(bytes: &[u8]) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::bad_request("the body is not valid UTF-8"))
}

/// JSON nested deeper than this is refused before it is parsed.
pub const MAX_JSON_DEPTH: usize = 64;

/// Refuses a JSON text nested deeper than `MAX_JSON_DEPTH` (one pass, no allocation), so that
/// no input reaches the parser's own recursion limit.
pub fn check_json_depth(body: &[u8]) -> Result<(), Error> {
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
                    return Err(Error::bad_request(format!("the JSON is nested deeper than {MAX_JSON_DEPTH} levels")));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
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
