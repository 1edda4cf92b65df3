//! Everything the CLI prints: data (tables, `--json`, raw bytes) on stdout, messages on stderr,
//! colour only when stderr is a terminal and `NO_COLOR` is unset. Nothing else in the crate
//! prints, so stdout stays data-only and scripts can rely on it.

// The CLI's single printing point: the lint policy denies printing everywhere else.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

use crate::config::env;

/// Writes data to stdout. A closed pipe (`llm-gateway upstream list | head -1`) is not an error.
pub fn data(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// One line of data on stdout.
pub fn line(text: &str) -> anyhow::Result<()> {
    data(format!("{text}\n").as_bytes())
}

/// One JSON value on stdout, pretty-printed.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    data(text.as_bytes())
}

/// A table on stdout: upper-case headers, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    data(render_table(headers, rows).as_bytes())
}

/// `label: value` lines on stdout, labels aligned (for `show` commands).
pub fn fields(pairs: &[(&str, String)]) -> anyhow::Result<()> {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut text = String::new();
    for (k, v) in pairs {
        text.push_str(&format!("{:<width$} {v}\n", format!("{k}:")));
    }
    data(text.as_bytes())
}

/// A message for the user on stderr.
pub fn info(message: &str) {
    eprintln!("{message}");
}

pub fn warn(message: &str) {
    eprintln!("{} {message}", paint("warning:", YELLOW));
}

/// `error: ...` and, when there is one, `hint: ...` on stderr.
pub fn error(message: &str, hint: Option<&str>) {
    eprintln!("{} {message}", paint("error:", RED));
    if let Some(h) = hint {
        eprintln!("{} {h}", paint("hint:", CYAN));
    }
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const CYAN: &str = "\x1b[1;36m";

fn paint(text: &str, colour: &str) -> String {
    if colour_enabled() {
        format!("{colour}{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn colour_enabled() -> bool {
    io::stderr().is_terminal() && std::env::var_os(env::NO_COLOR).is_none_or(|v| v.is_empty())
}

pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut text = String::new();
    let mut push_row = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let pad = widths.get(i).copied().unwrap_or(0);
                text.push_str(&format!("{cell:<pad$}  "));
            }
        }
        text.push('\n');
    };
    push_row(headers.to_vec());
    for row in rows {
        push_row(row.iter().map(String::as_str).collect());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = render_table(
            &["NAME", "PROVIDER", "MODELS"],
            &[
                vec!["oai".into(), "openai".into(), "2".into()],
                vec!["anthropic-main".into(), "anthropic".into(), "10".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME            PROVIDER   MODELS\n\
             oai             openai     2\n\
             anthropic-main  anthropic  10\n"
        );
    }
}
