//! In-place edits of `config.toml` for `alias set | remove`: the text is edited as a
//! `toml_edit` document, so comments, key order and layout stay as the user left them, and the
//! result must still parse as a [`Config`](super::Config) before it is written.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, Value};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The file is not TOML (or not a config) to begin with.
    #[error("{0}")]
    Unreadable(String),
    /// `aliases` is there but is not a table.
    #[error("`aliases` in config.toml is not a table")]
    NotATable,
    /// The edit would leave a file the server refuses.
    #[error("the edited config.toml would not load: {0}")]
    Invalid(String),
}

/// `text` with `[aliases]` mapping `pattern` to `target` (added, or replacing the old target
/// while keeping the line's comments).
pub fn set_alias(text: &str, pattern: &str, target: &str) -> Result<String, EditError> {
    let mut doc = parse(text)?;
    if doc.get("aliases").is_none() {
        doc.insert("aliases", Item::Table(Table::new()));
    }
    let aliases = doc
        .get_mut("aliases")
        .and_then(Item::as_table_like_mut)
        .ok_or(EditError::NotATable)?;
    match aliases.get_mut(pattern) {
        Some(Item::Value(old)) => {
            let decor = old.decor().clone();
            let mut new = Value::from(target);
            *new.decor_mut() = decor;
            *old = new;
        }
        _ => {
            aliases.insert(pattern, toml_edit::value(target));
        }
    }
    checked(doc)
}

/// `text` without the alias `pattern`; `None` when there is no such alias.
pub fn remove_alias(text: &str, pattern: &str) -> Result<Option<String>, EditError> {
    let mut doc = parse(text)?;
    let Some(item) = doc.get_mut("aliases") else {
        return Ok(None);
    };
    let aliases = item.as_table_like_mut().ok_or(EditError::NotATable)?;
    if aliases.remove(pattern).is_none() {
        return Ok(None);
    }
    checked(doc).map(Some)
}

fn parse(text: &str) -> Result<DocumentMut, EditError> {
    super::live::parse(text).map_err(EditError::Unreadable)?;
    text.parse::<DocumentMut>()
        .map_err(|e| EditError::Unreadable(e.to_string()))
}

fn checked(doc: DocumentMut) -> Result<String, EditError> {
    let out = doc.to_string();
    super::live::parse(&out).map_err(EditError::Invalid)?;
    Ok(out)
}

/// Writes `text` over the config file at `path` owner-only and atomically (a temporary file
/// renamed over it, which the running server's watcher sees as one change). A symlinked
/// `config.toml` (dotfiles) keeps its link: the file it points to is replaced.
pub fn write(path: &Path, text: &str) -> std::io::Result<PathBuf> {
    let real = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(e),
    };
    super::paths::write_private(&real, text.as_bytes())?;
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTED: &str = "# my gateway\n[server]\nlisten = \"127.0.0.1:3847\" # the usual port\n\n[aliases]\n# Claude Code on Gemini:\n\"claude-*\" = \"gem/gemini-2.5-pro\" # the big one\n\n# rules come later\n";

    #[test]
    fn set_keeps_comments_and_layout() {
        let out = set_alias(COMMENTED, "claude-*haiku*", "gem/gemini-2.5-flash").unwrap();
        assert!(
            out.starts_with(
                "# my gateway\n[server]\nlisten = \"127.0.0.1:3847\" # the usual port\n"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "# Claude Code on Gemini:\n\"claude-*\" = \"gem/gemini-2.5-pro\" # the big one\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("\"claude-*haiku*\" = \"gem/gemini-2.5-flash\"\n"),
            "{out}"
        );
        assert!(out.contains("# rules come later"), "{out}");
        let c = crate::config::live::parse(&out).unwrap();
        assert_eq!(c.aliases.len(), 2);
    }

    #[test]
    fn set_replaces_a_target_in_its_place() {
        let out = set_alias(COMMENTED, "claude-*", "qw/qwen3-coder-plus").unwrap();
        assert!(
            out.contains(
                "# Claude Code on Gemini:\n\"claude-*\" = \"qw/qwen3-coder-plus\" # the big one\n"
            ),
            "{out}"
        );
        assert_eq!(out.matches("claude-*").count(), 1, "{out}");
    }

    #[test]
    fn set_adds_the_table_when_missing() {
        let out = set_alias("# only a comment\n[timeouts]\nidle_secs = 5\n", "a", "b/c").unwrap();
        assert!(
            out.starts_with("# only a comment\n[timeouts]\nidle_secs = 5\n"),
            "{out}"
        );
        let c = crate::config::live::parse(&out).unwrap();
        assert_eq!(c.aliases["a"], "b/c");
        assert_eq!(c.timeouts.idle_secs, 5);
        // The template's commented-out aliases stay.
        let out = set_alias(crate::config::file::TEMPLATE, "claude-*", "gem/x").unwrap();
        assert!(
            out.contains("# \"claude-*haiku*\" = \"qw/qwen3-coder-flash\""),
            "{out}"
        );
        assert_eq!(
            crate::config::live::parse(&out).unwrap().aliases["claude-*"],
            "gem/x"
        );
    }

    #[test]
    fn remove_takes_only_that_alias() {
        let text = set_alias(COMMENTED, "gpt-*", "oai/gpt-4o").unwrap();
        let out = remove_alias(&text, "gpt-*").unwrap().unwrap();
        assert_eq!(out, COMMENTED);
        assert!(remove_alias(COMMENTED, "nope").unwrap().is_none());
        assert!(remove_alias("[server]\n", "nope").unwrap().is_none());
    }

    #[test]
    fn a_broken_file_is_not_edited() {
        assert!(matches!(
            set_alias("[server]\nlisten_addr = 1\n", "a", "b"),
            Err(EditError::Unreadable(_))
        ));
        assert!(matches!(
            set_alias("aliases = 3\n", "a", "b"),
            Err(EditError::Unreadable(_))
        ));
    }
}
