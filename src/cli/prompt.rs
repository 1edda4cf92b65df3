//! The only place that asks the user something. Questions are asked (with dialoguer, on stderr)
//! only when stdin is a terminal; otherwise a missing value is a usage error naming the flag that
//! supplies it, so scripts fail fast instead of hanging.

use std::io::{IsTerminal, Read};

use anyhow::Context as _;

use super::UserError;
use crate::secret::Secret;

/// Whether questions can be asked (stdin is a terminal).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

fn missing(flag: &str) -> anyhow::Error {
    UserError::usage(format!(
        "missing {flag} (stdin is not a terminal, so it cannot be asked for)"
    ))
    .into()
}

/// A secret typed without echo; `flag` names the option that supplies it non-interactively.
pub fn secret(prompt: &str, flag: &str) -> anyhow::Result<Secret> {
    if !interactive() {
        return Err(missing(flag));
    }
    let value = dialoguer::Password::new()
        .with_prompt(prompt)
        .interact()
        .context("cannot read from the terminal")?;
    let value = value.trim();
    if value.is_empty() {
        return Err(UserError::usage(format!("{flag}: the value is empty")).into());
    }
    Ok(Secret::new(value))
}

/// One of `items`; returns its index.
pub fn choose(prompt: &str, items: &[&str], flag: &str) -> anyhow::Result<usize> {
    if !interactive() {
        return Err(missing(flag));
    }
    dialoguer::Select::new()
        .with_prompt(prompt)
        .items(items)
        .default(0)
        .interact()
        .context("cannot read from the terminal")
}

/// A yes/no question (default no); without a terminal, a usage error naming `flag` (`--yes`).
pub fn confirm(prompt: &str, flag: &str) -> anyhow::Result<bool> {
    if !interactive() {
        return Err(missing(flag));
    }
    dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(false)
        .interact()
        .context("cannot read from the terminal")
}

/// A secret piped on stdin (`--api-key-stdin`): the whole input, trimmed.
pub fn secret_from_stdin(flag: &str) -> anyhow::Result<Secret> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("{flag}: cannot read stdin"))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(UserError::usage(format!("{flag}: stdin was empty")).into());
    }
    Ok(Secret::new(value))
}
