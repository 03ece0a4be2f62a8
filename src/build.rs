//! Embeds `src/openapi.json` without its indentation: the readable file stays in the repository,
//! and the wasm carries the same JSON in fewer bytes (whitespace between tokens only; strings are
//! copied as they are).

fn main() {
    println!("cargo:rerun-if-changed=src/openapi.json");
    let source = std::fs::read_to_string("src/openapi.json").expect("src/openapi.json");
    let mut minified = String::with_capacity(source.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in source.chars() {
        if in_string {
            minified.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            minified.push(c);
        }
    }
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.json");
    std::fs::write(out, minified).expect("write the minified OpenAPI description");
}
