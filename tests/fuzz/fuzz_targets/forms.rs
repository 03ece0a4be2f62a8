//! The query, form and multipart parsers, and the JSON depth check.
#![no_main]
use hookrelay::http::{check_json_depth, parse_urlencoded, percent_decode, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_urlencoded(&text);
    let _ = percent_decode(&text, true);
    let _ = check_json_depth(data);
    for content_type in ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz"] {
        let _ = Request::new("POST", "/x").with_body(content_type, data.to_vec()).form_pairs();
    }
    let _ = Request::new("GET", &format!("/x?{text}")).query_pairs();
});
