//! What a model name a client sends may hold, judged once before routing: a name the gateway
//! routes is then the very name the key's model globs judge and the upstream receives.
//!
//! Some upstreams take the model in the URL path (Gemini's `{base}/v1beta/models/{model}:...`),
//! so a name with `?` or `#` could add a query or cut the URL, and `.`/`..` segments could walk
//! the path to another model or another API, with the owner's key, past a key's `--models`
//! globs. Adapters also percent-encode the model as one path segment; this check is the other
//! half, and the one that keeps globs honest.
//!
//! `/` stays allowed inside the model part: real ids have it (OpenRouter's
//! `anthropic/claude-3.5-sonnet`, Hugging Face's `Qwen/Qwen3-Coder-30B`), but no segment between
//! slashes may be empty, `.` or `..`.

use std::fmt;

/// Why a model name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidModelName {
    Empty,
    /// A character that could change the URL or the log line: `?`, `#`, `%`, `\`, whitespace,
    /// a control character.
    Char(char),
    /// An empty, `.` or `..` segment between `/`.
    Segment(String),
}

impl fmt::Display for InvalidModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidModelName::Empty => f.write_str("the model name is empty"),
            InvalidModelName::Char(c) => write!(
                f,
                "a model name may not contain {}: `?`, `#`, `%`, `\\`, whitespace and control \
                 characters are refused",
                describe(*c)
            ),
            InvalidModelName::Segment(s) if s.is_empty() => {
                f.write_str("a model name may not have an empty part between `/`")
            }
            InvalidModelName::Segment(s) => {
                write!(f, "a model name may not have a `{s}` part between `/`")
            }
        }
    }
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        c if c.is_control() || c.is_whitespace() => format!("the character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

/// Checks `name`, the whole name a client sent (`NAME/model` included).
pub fn check(name: &str) -> Result<(), InvalidModelName> {
    if name.is_empty() {
        return Err(InvalidModelName::Empty);
    }
    if let Some(c) = name
        .chars()
        .find(|&c| matches!(c, '?' | '#' | '%' | '\\') || c.is_whitespace() || c.is_control())
    {
        return Err(InvalidModelName::Char(c));
    }
    match name.split('/').find(|s| matches!(*s, "" | "." | "..")) {
        Some(s) => Err(InvalidModelName::Segment(s.to_owned())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_model_ids_pass() {
        for ok in [
            "gpt-4o-mini",
            "gemini-2.5-flash",
            "gem/gemini-2.5-flash",
            "models/gemini-2.5-pro",
            "oai/meta-llama/Llama-3-8B",
            "anthropic/claude-3.5-sonnet",
            "Qwen/Qwen3-Coder-30B-A3B-Instruct",
            "llama3.1:8b",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "claude-*",
            "deepseek-chat@2025",
            "...x",
            "a..b",
            "modèle-é",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn url_changing_names_are_refused() {
        let cases = [
            (
                "gem/gemini-2.5-flash:generateContent?alt=json&key=x#",
                InvalidModelName::Char('?'),
            ),
            (
                "gem/../../v1beta/cachedContents#",
                InvalidModelName::Char('#'),
            ),
            (
                "gem/../../v1beta/cachedContents",
                InvalidModelName::Segment("..".into()),
            ),
            (
                "gem/gemini-2.5-flash/../gemini-2.5-pro",
                InvalidModelName::Segment("..".into()),
            ),
            ("gem/./m", InvalidModelName::Segment(".".into())),
            ("gem//m", InvalidModelName::Segment(String::new())),
            ("gem/", InvalidModelName::Segment(String::new())),
            ("/m", InvalidModelName::Segment(String::new())),
            ("..", InvalidModelName::Segment("..".into())),
            ("gem/%2e%2e/x", InvalidModelName::Char('%')),
            ("gem\\..\\x", InvalidModelName::Char('\\')),
            ("a b", InvalidModelName::Char(' ')),
            ("a\tb", InvalidModelName::Char('\t')),
            ("a\nb", InvalidModelName::Char('\n')),
            ("a\u{7f}", InvalidModelName::Char('\u{7f}')),
            ("a\u{85}", InvalidModelName::Char('\u{85}')),
            ("a\u{2028}", InvalidModelName::Char('\u{2028}')),
            ("a\u{3000}b", InvalidModelName::Char('\u{3000}')),
            ("", InvalidModelName::Empty),
        ];
        for (name, want) in cases {
            assert_eq!(check(name), Err(want), "{name:?}");
        }
    }

    #[test]
    fn messages_name_the_fault() {
        let m = check("a b").unwrap_err().to_string();
        assert!(m.contains("a space"), "{m}");
        let m = check("a\nb").unwrap_err().to_string();
        assert!(m.contains("U+000A"), "{m}");
        let m = check("x/../y").unwrap_err().to_string();
        assert!(m.contains("`..`"), "{m}");
        let m = check("x?y").unwrap_err().to_string();
        assert!(m.contains("`?`"), "{m}");
    }
}
