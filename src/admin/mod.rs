//! The admin page at `/admin`: plain HTML, CSS and JS kept in Workers Static Assets (not in the
//! wasm), served through the route table with a strict Content-Security-Policy. It only calls the admin API of the same origin. No `worker` import.

use crate::http::Response;

/// Nothing but this origin's own script, style and API; no framing, no inline code, no forms posted away.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The static files hookrelay serves. They live in Workers Static Assets (`build/assets`, laid out
/// by `scripts/build.sh` from the sources named in `ASSET_SOURCES`), not in the wasm.
#[derive(Debug, Clone, Copy)]
pub enum Asset {
    Page,
    Script,
    Style,
    OpenApi,
}

/// Each asset's path under `build/assets`, and the repository file it is made from.
pub const ASSET_SOURCES: [(&str, &str); 4] = [
    ("admin/index.html", "src/admin/index.html"),
    ("admin/app.js", "src/admin/app.js"),
    ("admin/app.css", "src/admin/app.css"),
    ("openapi.json", "src/openapi.json"),
];

impl Asset {
    /// Its path among the static assets.
    pub fn path(self) -> &'static str {
        ASSET_SOURCES[self as usize].0
    }

    fn content_type(self) -> &'static str {
        match self {
            Asset::Page => "text/html; charset=utf-8",
            Asset::Script => "text/javascript; charset=utf-8",
            Asset::Style => "text/css; charset=utf-8",
            Asset::OpenApi => "application/json",
        }
    }
}

/// The answer for `asset`, whose bytes are `body`: its type and the page's security headers.
pub fn serve(asset: Asset, body: Vec<u8>) -> Response {
    let headers = [
        ("content-type", asset.content_type()),
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ];
    Response {
        status: 200,
        headers: headers.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(asset: Asset) -> Vec<u8> {
        let path = ASSET_SOURCES[asset as usize].1;
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
    }

    #[test]
    fn the_page_loads_only_its_own_assets() {
        let page = serve(Asset::Page, source(Asset::Page));
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
        let script = String::from_utf8(serve(Asset::Script, source(Asset::Script)).body).unwrap();
        // The charts' SVG namespace is a name that createElementNS needs, not an address anything is
        // fetched from: that one string is allowed, once.
        let script = script.replacen("\"http://www.w3.org/2000/svg\"", "", 1);
        let style = String::from_utf8(serve(Asset::Style, source(Asset::Style)).body).unwrap();
        for remote in ["http://", "https://", "@import", "url("] {
            assert!(!script.contains(remote) && !style.contains(remote), "nothing from elsewhere: {remote}");
        }
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!script.contains(sink), "API data reaches the page as text only: {sink}");
        }
    }
}
