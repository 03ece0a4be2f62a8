//! Property tests: parsers and renderers take arbitrary input without panicking, and what is
//! encoded decodes back. Native, through the public core API; `npm test` runs them.

use hookrelay::cron::Cron;
use hookrelay::http::{check_json_depth, parse_urlencoded, percent_decode, percent_encode, Request};
use hookrelay::model::{Call, Source};
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
            let source = Source { kind: kind.to_string(), ..Source::default() };
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
            let source = Source { kind: kind.to_string(), ..Source::default() };
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

/// Patterns in the syntax both engines share, built from a small alphabet so that matches happen.
fn pattern() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("-".to_string()),
        Just(".".to_string()),
        Just(r"\d".to_string()),
        Just(r"\W".to_string()),
        Just("[ab]".to_string()),
        Just("[^a]".to_string()),
        Just("[a-c1]".to_string()),
        Just(r"[\w-]".to_string()),
        Just(r"\.".to_string()),
        Just("^".to_string()),
        Just("$".to_string()),
        Just(r"\b".to_string()),
        Just(r"\B".to_string()),
        Just(r"\<".to_string()),
        Just(r"\>".to_string()),
        Just(r"\b{start-half}".to_string()),
        Just("[]a]".to_string()),
        Just("[-b]".to_string()),
        Just("[[:alpha:]1]".to_string()),
        Just("(?i)a".to_string()),
        Just("(?i:B)".to_string()),
        Just("(?s:.)".to_string()),
        Just("(?m:^)".to_string()),
        Just("(?:)".to_string()),
        Just(r"\x41".to_string()),
    ];
    let quantifier = prop_oneof![
        4 => Just(""),
        1 => Just("*"),
        1 => Just("+"),
        1 => Just("?"),
        1 => Just("{2}"),
        1 => Just("{1,3}"),
        1 => Just("{0,}"),
        1 => Just("*?"),
        1 => Just("**"),
        1 => Just("{2}{0,2}"),
        1 => Just("{ 1 , 2 }"),
    ];
    let piece = (atom, quantifier).prop_map(|(atom, q)| format!("{atom}{q}"));
    let leaf = proptest::collection::vec(piece, 0..4).prop_map(|pieces| pieces.concat());
    leaf.prop_recursive(3, 24, 3, |inner| {
        let quantifier = prop_oneof![Just(""), Just("*"), Just("+"), Just("?"), Just("{1,2}")];
        prop_oneof![
            (proptest::collection::vec(inner.clone(), 1..3), quantifier)
                .prop_map(|(alternatives, q)| format!("(?:{}){q}", alternatives.join("|"))),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a}({b})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// src/regex/ replaced regex-lite: on the syntax they share, they accept the same patterns
    /// and match the same texts.
    #[test]
    fn the_condition_regex_agrees_with_regex_lite(pattern in pattern(), text in "[ab1\\-._ \n]{0,10}") {
        let ours = hookrelay::regex::Regex::new(&pattern);
        let reference = regex_lite::Regex::new(&pattern);
        prop_assert_eq!(ours.is_ok(), reference.is_ok(), "{:?}: ours {:?}", pattern, ours.as_ref().err());
        if let (Ok(ours), Ok(reference)) = (ours, reference) {
            prop_assert_eq!(ours.is_match(&text), reference.is_match(&text), "{:?} on {:?}", pattern, text);
        }
    }

    /// Random strings of metacharacters: whatever regex-lite accepts, this engine accepts too
    /// (except programs too large, and the verbose flag `x`, which conditions have no use for) and
    /// matches alike.
    #[test]
    fn what_regex_lite_accepts_is_accepted_and_matched_alike(
        pattern in "[ab.^$|()\\[\\]{}*+?,:<>=!PdwsbBiAzx1 -]{0,14}",
        text in "[ab1\\- \n]{0,8}",
    ) {
        if let Ok(reference) = regex_lite::Regex::new(&pattern) {
            match hookrelay::regex::Regex::new(&pattern) {
                Ok(ours) => prop_assert_eq!(ours.is_match(&text), reference.is_match(&text), "{:?} on {:?}", pattern, text),
                Err(err) => prop_assert!(err.contains("too large") || err.contains("flag x"), "{:?} refused: {}", pattern, err),
            }
        }
    }

    #[test]
    fn any_pattern_compiles_or_is_refused_without_panicking(pattern in "\\PC{0,40}", text in "\\PC{0,40}") {
        if let Ok(regex) = hookrelay::regex::Regex::new(&pattern) {
            let _ = regex.is_match(&text);
        }
    }
}
