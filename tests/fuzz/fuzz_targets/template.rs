//! The http target's body templates, with each escaping (JSON, form, raw).
#![no_main]
use hookrelay::model::Call;
use hookrelay::template::Escaping;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|template: &str| {
    let call = Call { ref_name: "main".into(), ..Call::default() };
    for escaping in [Escaping::Json, Escaping::Form, Escaping::Raw] {
        let _ = hookrelay::template::render(template, &call, escaping);
    }
});
