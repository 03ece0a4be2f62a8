//! The admin page at `/admin`: plain HTML, CSS and JS embedded in the wasm, served with a strict
//! Content-Security-Policy. It only calls the admin API of the same origin. No `worker` import.

use crate::http::Response;

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// Nothing but this origin's own script, style and API; no framing, no inline code, no forms posted away.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub enum Asset {
    Page,
    Script,
    Style,
}

pub fn serve(asset: Asset) -> Response {
    let (content_type, body) = match asset {
        Asset::Page => ("text/html; charset=utf-8", INDEX_HTML),
        Asset::Script => ("text/javascript; charset=utf-8", APP_JS),
        Asset::Style => ("text/css; charset=utf-8", APP_CSS),
    };
    let headers = [
        ("content-type", content_type),
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ];
    Response {
        status: 200,
        headers: headers.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_assets() {
        let page = serve(Asset::Page);
        assert_eq!(page.header("content-security-policy"), Some(CSP));
        let html = String::from_utf8(page.body).unwrap();
        assert!(html.contains("src=\"/admin/app.js\""), "the page loads its script from /admin/app.js");
        assert!(html.contains("href=\"/admin/app.css\""), "the page loads its style from /admin/app.css");
        for remote in ["http://", "https://", "//cdn"] {
            assert!(!html.contains(remote), "the page refers to nothing outside the worker: {remote}");
        }
        assert!(!html.contains("<script>") && !html.contains(" style=\""), "no inline script or style");
    }

    #[test]
    fn the_script_and_style_load_nothing_and_never_parse_html() {
        let script = String::from_utf8(serve(Asset::Script).body).unwrap();
        let style = String::from_utf8(serve(Asset::Style).body).unwrap();
        for remote in ["http://", "https://", "@import", "url("] {
            assert!(!script.contains(remote) && !style.contains(remote), "nothing from elsewhere: {remote}");
        }
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!script.contains(sink), "API data reaches the page as text only: {sink}");
        }
    }
}
