//! Cron expressions: parsing, and the next due minute of whatever parses.
#![no_main]
use hookrelay::cron::Cron;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(cron) = Cron::parse(text) {
        if let Some(next) = cron.next_after(1_700_000_000_000) {
            assert!(cron.is_due(next));
        }
    }
});
