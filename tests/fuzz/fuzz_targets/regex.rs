//! Condition regexes: any pattern compiles or is refused, and whatever compiles matches any text.
#![no_main]
use hookrelay::regex::Regex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str)| {
    let (pattern, text) = input;
    if let Ok(regex) = Regex::new(pattern) {
        let _ = regex.is_match(text);
    }
});
