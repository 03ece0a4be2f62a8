//! Property tests: parsers and renderers take arbitrary input without panicking, and what is
//! encoded decodes back. Native, through the public core API; `npm test` runs them.

use hookrelay::cron::Cron;
use hookrelay::http::{check_json_depth, parse_urlencoded, percent_decode, percent_encode, Request};
use hookrelay::model::{Call, ProviderSource};
use hookrelay::sources::{self, HookCall};
use proptest::prelude::*;

fn request(body: &[u8], content_type: &str) -> Request {
    Request::new("POST", "/hooks/x").with_body(content_type, body.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cron_parsing_never_panics_and_valid_expressions_are_due_at_their_next_minute(text in "[0-9a-zA-Z*/,\\- ]{0,40}") {
        if let Ok(cron) = Cron::parse(&text) {
            let next = cron.next_after(1_700_000_000_000).expect("a valid expression fires");
            prop_assert!(cron.is_due(next));
            prop_assert_eq!(next % 60_000, 0);
        }
    }

    #[test]
    fn percent_encoding_round_trips(text in "\\PC{0,64}") {
        prop_assert_eq!(percent_decode(&percent_encode(&text), false), text);
    }

    #[test]
    fn query_and_form_parsing_never_panic(text in "\\PC{0,200}") {
        let _ = parse_urlencoded(&text);
        let _ = percent_decode(&text, true);
    }

    #[test]
    fn the_json_depth_check_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = check_json_depth(&body);
    }

    #[test]
    fn every_provider_parses_arbitrary_bodies_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        for kind in sources::provider_names() {
            let source = ProviderSource { kind: kind.to_string(), ..ProviderSource::default() };
            let provider = sources::provider(kind).expect("registered");
            for content_type in ["application/json", "application/x-www-form-urlencoded"] {
                let req = request(&body, content_type);
                let _ = provider.parse(&HookCall { request: &req, source: &source, now_ms: 0 });
            }
        }
    }

    #[test]
    fn every_provider_parses_arbitrary_json_without_panicking(json in "\\{(\"[a-z_]{1,12}\":(\"[ -~]{0,12}\"|[0-9]{1,4}|null|\\[\\]|\\{\\}),){0,6}\"x\":1\\}") {
        for kind in sources::provider_names() {
            let source = ProviderSource { kind: kind.to_string(), ..ProviderSource::default() };
            let req = request(json.as_bytes(), "application/json");
            let _ = sources::provider(kind).expect("registered").parse(&HookCall { request: &req, source: &source, now_ms: 0 });
        }
    }

    #[test]
    fn templates_render_or_refuse_without_panicking(template in "[ -~]{0,80}", escaping in 0..3usize) {
        use hookrelay::template::Escaping;
        let escaping = [Escaping::Json, Escaping::Form, Escaping::Raw][escaping];
        let _ = hookrelay::template::render(&template, &Call::default(), escaping);
    }
}
