//! Every provider's parser, on arbitrary bytes as JSON and as a form body.
#![no_main]
use hookrelay::http::Request;
use hookrelay::model::ProviderSource;
use hookrelay::sources::{self, HookCall};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    for kind in sources::provider_names() {
        let source = ProviderSource { kind: kind.to_string(), ..ProviderSource::default() };
        let provider = sources::provider(kind).expect("registered");
        for content_type in ["application/json", "application/x-www-form-urlencoded"] {
            let request = Request::new("POST", "/hooks/x").with_body(content_type, body.to_vec());
            let _ = provider.parse(&HookCall { request: &request, source: &source, now_ms: 0 });
        }
    }
});
