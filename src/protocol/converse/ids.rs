//! Tool names and tool-use ids as Bedrock accepts them, and the way back.
//!
//! Converse takes tool names of 1-64 `[a-zA-Z0-9_-]` and tool-use ids of 1-64 characters
//! (`[a-zA-Z0-9_.:-]` says the model; Mistral on Bedrock wants less, so the stricter set of
//! names is used for both). OpenAI's `call_...|fc_...` ids, Gemini's long ids and MCP tool
//! names break those rules. Both are rewritten deterministically with
//! [`wire_tool_name`](crate::protocol::openai::wire_tool_name) (a sanitised prefix and 8 hex
//! of a SHA-256), so a call and its result always get the same wire id without shared state;
//! the [`ToolMap`] of one request turns them back in the reply.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::protocol::ir::{self, Block};
use crate::protocol::openai::wire_tool_name;

/// The rewritten tool names and ids of one request, wire -> client. Empty when nothing
/// needed rewriting (the common case: Anthropic clients' ids and names are valid).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolMap {
    names: HashMap<String, String>,
    ids: HashMap<String, String>,
}

impl ToolMap {
    /// Every tool name and id of `req`: declared tools, calls and results in the history, a
    /// named `tool_choice`.
    pub fn for_request(req: &ir::Request) -> Self {
        let mut map = ToolMap::default();
        for t in &req.tools {
            if let ir::Tool::Function(f) = t {
                add(&mut map.names, &f.name);
            }
        }
        if let Some(ir::ToolChoice::Tool(name)) = &req.tool_choice {
            add(&mut map.names, name);
        }
        for m in &req.messages {
            for b in &m.content {
                match b {
                    Block::ToolUse { id, name, .. } => {
                        add(&mut map.names, name);
                        add(&mut map.ids, id);
                    }
                    Block::ToolResult { tool_use_id, .. } => add(&mut map.ids, tool_use_id),
                    _ => {}
                }
            }
        }
        map
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.ids.is_empty()
    }

    /// The client's tool name for a name in the reply.
    pub fn client_name(&self, wire: &str) -> String {
        self.names
            .get(wire)
            .map_or_else(|| wire.to_owned(), Clone::clone)
    }

    /// The client's tool-use id for an id in the reply (only ids the request carried were
    /// rewritten; new ones pass as they are).
    pub fn client_id(&self, wire: &str) -> String {
        self.ids
            .get(wire)
            .map_or_else(|| wire.to_owned(), Clone::clone)
    }

    /// Renames the tool calls of a decoded reply back to the client's names and ids.
    pub fn restore(&self, resp: &mut ir::Response) {
        if self.is_empty() {
            return;
        }
        for b in &mut resp.content {
            if let Block::ToolUse { id, name, .. } = b {
                *id = self.client_id(id);
                *name = self.client_name(name);
            }
        }
    }
}

fn add(map: &mut HashMap<String, String>, client: &str) {
    if let Cow::Owned(wire) = wire_id(client) {
        map.insert(wire, client.to_owned());
    }
}

/// The id or name to send for a client's: unchanged when valid, else rewritten stably. An
/// empty one (a broken history) gets a fixed placeholder rather than a 400.
pub fn wire_id(client: &str) -> Cow<'_, str> {
    if client.is_empty() {
        return Cow::Owned("tool".to_owned());
    }
    wire_tool_name(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn valid_ids_pass_and_others_map_back() {
        assert_eq!(wire_id("toolu_01ABC-x"), "toolu_01ABC-x");
        let long = format!("call_{}|fc_{}", "a".repeat(40), "b".repeat(40));
        let wire = wire_id(&long).into_owned();
        assert!(wire.len() <= 64);
        assert!(
            wire.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
        let req = ir::Request {
            messages: vec![ir::Message {
                role: ir::Role::Assistant,
                content: vec![Block::ToolUse {
                    id: long.clone(),
                    name: "files.read".into(),
                    input: json!({}).into(),
                    signature: None,
                }],
            }],
            ..ir::Request::default()
        };
        let map = ToolMap::for_request(&req);
        let mut resp = ir::Response {
            content: vec![Block::ToolUse {
                id: wire.clone(),
                name: wire_id("files.read").into_owned(),
                input: json!({}).into(),
                signature: None,
            }],
            ..ir::Response::default()
        };
        map.restore(&mut resp);
        assert!(matches!(&resp.content[0],
            Block::ToolUse { id, name, .. } if *id == long && name == "files.read"));
        assert_eq!(map.client_id("tooluse_new"), "tooluse_new");
    }
}
