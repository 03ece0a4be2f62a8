//! The http target's body templates, as JSON and as text.
#![no_main]
use hookrelay::model::Call;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|template: &str| {
    let call = Call { ref_name: "main".into(), ..Call::default() };
    let _ = hookrelay::template::render(template, &call, true);
    let _ = hookrelay::template::render(template, &call, false);
});
