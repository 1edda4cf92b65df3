//! Tool names OpenAI accepts (`^[a-zA-Z0-9_-]{1,64}$`) and the way back (C6).
//!
//! Claude Code's MCP tools (`mcp__<server>__<tool>`) can exceed 64 characters and Gemini clients
//! may use `.` or `:`. [`wire_tool_name`] keeps valid names untouched and rewrites others
//! deterministically as `<sanitized prefix>_<8 hex of sha256(name)>`, so the same name always maps
//! to the same wire name and no state is needed across requests. The map from
//! [`ToolNames::for_request`] (or `request::tool_name_map`) turns wire names in the upstream's
//! reply back into the client's names: [`ToolNames::restore`] for whole responses,
//! `StreamDecoder::with_tool_names` for streams.

use std::borrow::Cow;
use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::protocol::ir::{self, Block};

const MAX_LEN: usize = 64;
/// Room for `_` and 8 hex digits.
const PREFIX_LEN: usize = MAX_LEN - 9;

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The name to send to an OpenAI-compatible upstream for a client's tool name.
pub fn wire_tool_name(name: &str) -> Cow<'_, str> {
    if !name.is_empty() && name.len() <= MAX_LEN && name.chars().all(valid_char) {
        return Cow::Borrowed(name);
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let prefix: String = name
        .chars()
        .map(|c| if valid_char(c) { c } else { '_' })
        .take(PREFIX_LEN)
        .collect();
    Cow::Owned(format!("{prefix}_{hash}"))
}

/// The rewritten tool names of one request, both ways. Empty when no name needed rewriting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolNames {
    to_wire: HashMap<String, String>,
    to_client: HashMap<String, String>,
}

impl ToolNames {
    /// Collects every tool name of the request: declared tools, tool calls in the history and a
    /// named `tool_choice`.
    pub fn for_request(req: &ir::Request) -> Self {
        let mut names = ToolNames::default();
        for t in &req.tools {
            if let ir::Tool::Function(f) = t {
                names.add(&f.name);
            }
        }
        for m in &req.messages {
            for b in &m.content {
                if let Block::ToolUse { name, .. } = b {
                    names.add(name);
                }
            }
        }
        if let Some(ir::ToolChoice::Tool(name)) = &req.tool_choice {
            names.add(name);
        }
        names
    }

    fn add(&mut self, name: &str) {
        if let Cow::Owned(wire) = wire_tool_name(name) {
            self.to_client.insert(wire.clone(), name.to_owned());
            self.to_wire.insert(name.to_owned(), wire);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.to_wire.is_empty()
    }

    /// The wire name for a client name.
    pub fn wire<'a>(&'a self, name: &'a str) -> &'a str {
        self.to_wire.get(name).map_or(name, String::as_str)
    }

    /// The client's name for a wire name the upstream used.
    pub fn client<'a>(&'a self, wire: &'a str) -> &'a str {
        self.to_client.get(wire).map_or(wire, String::as_str)
    }

    /// Renames the tool calls of a decoded reply back to the client's names.
    pub fn restore(&self, resp: &mut ir::Response) {
        if self.is_empty() {
            return;
        }
        for b in &mut resp.content {
            if let Block::ToolUse { name, .. } = b
                && let Some(client) = self.to_client.get(name.as_str())
            {
                *name = client.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_untouched() {
        assert_eq!(
            wire_tool_name("mcp__github__create_issue"),
            "mcp__github__create_issue"
        );
    }

    #[test]
    fn long_and_invalid_names_are_rewritten_stably() {
        let long = format!("mcp__{}__tool", "x".repeat(80));
        let w = wire_tool_name(&long);
        assert_eq!(w.len(), 64);
        assert_eq!(w, wire_tool_name(&long));
        assert!(w.chars().all(valid_char));
        let dotted = wire_tool_name("files.read");
        assert!(dotted.starts_with("files_read_"));
        assert_ne!(dotted, wire_tool_name("files_read"));
    }

    #[test]
    fn map_restores_names() {
        let long = "a".repeat(70);
        let req = ir::Request {
            tools: vec![ir::Tool::Function(ir::FunctionTool {
                name: long.clone(),
                description: None,
                input_schema: serde_json::json!({}).into(),
                cache_control: None,
                extra: ir::Extras::default(),
            })],
            ..ir::Request::default()
        };
        let names = ToolNames::for_request(&req);
        let wire = names.wire(&long).to_owned();
        assert_ne!(wire, long);
        let mut resp = ir::Response {
            content: vec![Block::ToolUse {
                id: "c".into(),
                name: wire,
                input: serde_json::json!({}).into(),
                signature: None,
            }],
            ..ir::Response::default()
        };
        names.restore(&mut resp);
        assert!(matches!(&resp.content[0], Block::ToolUse { name, .. } if *name == long));
    }
}
