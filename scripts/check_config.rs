//! `npm run dev`'s check of `.dev.vars` before it serves: the same `settings::problems` the worker
//! answers `/healthz` with, said in one line. Reads the file named by its argument (`KEY=value`
//! lines, values optionally quoted); prints nothing and exits 0 when all is well. Never prints a
//! value.

use std::process::ExitCode;

/// `KEY=value` pairs of a `.dev.vars` file (dotenv syntax: comments, blank lines, quotes).
fn parse_dev_vars(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            (key.trim().to_string(), unquoted.to_string())
        })
        .collect()
}

fn main() -> ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| ".dev.vars".into());
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("[dev] {path} is missing: run `npm run setup`, which copies .dev.vars.example");
        return ExitCode::FAILURE;
    };
    let vars = parse_dev_vars(&text);
    let lookup = |name: &str| vars.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    // wrangler.toml declares the bindings that `wrangler dev` provides locally.
    let problems = hookrelay::settings::problems(lookup, lookup, |_| true);
    if problems.is_empty() {
        return ExitCode::SUCCESS;
    }
    println!("[dev] {path} is not right: {}", problems.join("; "));
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_vars_are_read_as_dotenv_does() {
        let text =
            "# admins\nADMIN_TOKENS=alice:dev-token-alice\nENCRYPTION_KEY=\"dev:AAAA\"\n\nALLOW_HTTP_TARGETS='1'\n";
        let vars = parse_dev_vars(text);
        assert_eq!(
            vars,
            [
                ("ADMIN_TOKENS".to_string(), "alice:dev-token-alice".to_string()),
                ("ENCRYPTION_KEY".to_string(), "dev:AAAA".to_string()),
                ("ALLOW_HTTP_TARGETS".to_string(), "1".to_string()),
            ]
        );
    }
}
