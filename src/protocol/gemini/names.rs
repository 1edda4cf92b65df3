//! Names and ids across the Gemini boundary: function names sanitized to Gemini's rules (and
//! mapped back), tool-call ids minted for Gemini calls that carry none.
//!
//! Function names. Gemini wants `^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$` (the SDK allows 128; 64 is
//! what proxies found safe). [`gemini_function_name`] is a pure function of the client's name, so
//! the declaration, every `functionCall` in history, `functionResponse.name` and
//! `allowedFunctionNames` all agree without state. Replies from Gemini carry the sanitized name;
//! [`ToolNames::from_request`] builds the reverse map from the IR request, and the upstream layer
//! applies it to the decoded reply with [`ToolNames::restore_response`] /
//! [`ToolNames::restore_event`]. Names that are already valid (all of Claude Code's, including
//! `mcp__server__tool`) are left alone, so the map is usually empty.
//!
//! Ids. Gemini calls may have no `id`. Minted ids start with [`MINTED_ID_PREFIX`], use only
//! `[A-Za-z0-9_-]` (Anthropic's id charset) and are never sent to Gemini: encoders leave
//! `functionCall.id` out for them, so a Gemini client never sees an id its upstream did not give.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::protocol::ir::{Block, Response};
use crate::protocol::stream::{BlockStart, StreamEvent};

/// Prefix of every tool-call id this codec invents.
pub const MINTED_ID_PREFIX: &str = "gcall_";

const MAX_NAME: usize = 64;

/// Whether `id` was minted by this codec (and so must not be sent to a Gemini peer).
pub fn is_minted_id(id: &str) -> bool {
    id.starts_with(MINTED_ID_PREFIX)
}

/// Keeps `[A-Za-z0-9_-]`, replaces anything else with `_`, caps the length.
pub fn sanitize_id_part(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect();
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// An id for the call at (`content`, `part`) of a request's history: deterministic, so the same
/// history decodes to the same ids on every turn.
pub fn request_call_id(content: usize, part: usize, name: &str) -> String {
    format!(
        "{MINTED_ID_PREFIX}{content}_{part}_{}",
        sanitize_id_part(name, 40)
    )
}

/// An id for the `n`th call of a reply. `salt` is the reply's `responseId` (unique per reply, so
/// ids stay unique across the turns of a conversation); without one a random salt is used.
pub fn response_call_id(salt: Option<&str>, n: usize, name: &str) -> String {
    let salt = match salt {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => format!("{:016x}", rand::random::<u64>()),
    };
    let digest = Sha256::digest(format!("{salt}\u{0}{n}\u{0}{name}").as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{MINTED_ID_PREFIX}{hex}_{}", sanitize_id_part(name, 40))
}

/// A reply id when the upstream gave none.
pub fn minted_response_id() -> String {
    format!("gen-{:016x}", rand::random::<u64>())
}

fn valid_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')
}

/// The name Gemini will accept for a client's function name. Valid names come back unchanged;
/// invalid characters become `_`, a leading non-letter gets a `_` prefix, and names over 64
/// characters are cut to 55 plus `_` and 8 hex digits of their hash (so two long names sharing a
/// prefix stay distinct).
pub fn gemini_function_name(name: &str) -> String {
    // Nearly every name is already valid: copy it as is.
    if name.len() <= MAX_NAME
        && name.chars().all(valid_name_char)
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        return name.to_owned();
    }
    let mut out: String = name
        .chars()
        .map(|c| if valid_name_char(c) { c } else { '_' })
        .collect();
    match out.chars().next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => out.insert(0, '_'),
    }
    if out.len() > MAX_NAME {
        let digest = Sha256::digest(name.as_bytes());
        let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        out.truncate(MAX_NAME - 9);
        out.push('_');
        out.push_str(&hex);
    }
    out
}

/// Sanitized name -> client name, for the names [`gemini_function_name`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolNames {
    to_original: HashMap<String, String>,
}

impl ToolNames {
    /// Every function name the request mentions (declarations, history calls, tool choice).
    pub fn from_request(req: &crate::protocol::ir::Request) -> Self {
        let mut names = ToolNames::default();
        for tool in &req.tools {
            if let crate::protocol::ir::Tool::Function(f) = tool {
                names.add(&f.name);
            }
        }
        for message in &req.messages {
            for block in &message.content {
                if let Block::ToolUse { name, .. } = block {
                    names.add(name);
                }
            }
        }
        if let Some(crate::protocol::ir::ToolChoice::Tool(name)) = &req.tool_choice {
            names.add(name);
        }
        names
    }

    fn add(&mut self, original: &str) {
        let sanitized = gemini_function_name(original);
        if sanitized != original {
            self.to_original.insert(sanitized, original.to_string());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.to_original.is_empty()
    }

    /// The client's name for a name Gemini used.
    pub fn original<'a>(&'a self, gemini_name: &'a str) -> &'a str {
        self.to_original
            .get(gemini_name)
            .map(String::as_str)
            .unwrap_or(gemini_name)
    }

    pub fn restore_response(&self, resp: &mut Response) {
        if self.is_empty() {
            return;
        }
        for block in &mut resp.content {
            if let Block::ToolUse { name, .. } = block {
                *name = self.original(name).to_string();
            }
        }
    }

    pub fn restore_event(&self, event: &mut StreamEvent) {
        if self.is_empty() {
            return;
        }
        if let StreamEvent::BlockStart {
            block: BlockStart::ToolUse { name, .. },
            ..
        } = event
        {
            *name = self.original(name).to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::{FunctionTool, Request, Tool};
    use serde_json::json;

    #[test]
    fn valid_names_are_untouched() {
        for n in ["Bash", "mcp__github__create_issue", "_x", "a.b:c-d"] {
            assert_eq!(gemini_function_name(n), n);
        }
    }

    #[test]
    fn invalid_names_are_sanitized_and_mapped_back() {
        assert_eq!(gemini_function_name("9lives"), "_9lives");
        assert_eq!(gemini_function_name("my tool/v2"), "my_tool_v2");
        let long = format!("mcp__server__{}", "x".repeat(80));
        let g = gemini_function_name(&long);
        assert_eq!(g.len(), 64);
        assert_ne!(g, gemini_function_name(&format!("{long}y")));

        let req = Request {
            tools: vec![Tool::Function(FunctionTool {
                name: "my tool".into(),
                description: None,
                input_schema: json!({"type": "object"}).into(),
                cache_control: None,
                extra: Default::default(),
            })],
            ..Request::default()
        };
        let names = ToolNames::from_request(&req);
        assert_eq!(names.original("my_tool"), "my tool");
        assert_eq!(names.original("Other"), "Other");
        let mut ev = StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::ToolUse {
                id: "i".into(),
                name: "my_tool".into(),
                signature: None,
            },
        };
        names.restore_event(&mut ev);
        assert!(
            matches!(ev, StreamEvent::BlockStart { block: BlockStart::ToolUse { ref name, .. }, .. } if name == "my tool")
        );
    }

    #[test]
    fn minted_ids_are_stable_and_in_charset() {
        let a = response_call_id(Some("r1"), 0, "mcp.tool:x");
        assert_eq!(a, response_call_id(Some("r1"), 0, "mcp.tool:x"));
        assert_ne!(a, response_call_id(Some("r2"), 0, "mcp.tool:x"));
        assert!(is_minted_id(&a));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
        assert_eq!(request_call_id(2, 1, "Bash"), "gcall_2_1_Bash");
    }
}
