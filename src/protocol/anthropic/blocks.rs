//! Content blocks between the Anthropic wire and the IR, shared by requests and replies:
//! client content in (with the Gemini signature carriers of `mod.rs` resolved), and content out
//! for Anthropic upstreams (only what the API accepts). The client-facing direction, which
//! mints carriers, is `response::blocks_to_client`.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{GEMINI_CARRIER_PREFIX, wire};
use crate::protocol::ir::{Block, Dialect, Image, ImageSource, Json, Signature, Text};

/// Client content -> IR blocks, reading the Gemini signature carriers the way
/// `response::blocks_to_client` writes them (a `thinking` block whose signature is
/// `gw.gemini.<sig>`):
/// * a carrier right before a `tool_use` is that call's signature (its text, if any, stays as
///   an unsigned thought before the call);
/// * an empty carrier right after an unsigned text (and not before a call) is that text's;
/// * any other is a Gemini-signed thinking block.
pub(crate) fn blocks_from_wire(content: wire::Content) -> Vec<Block> {
    let blocks = match content {
        wire::Content::Text(s) => {
            return vec![Block::Text {
                text: s,
                signature: None,
                cache_control: None,
            }];
        }
        wire::Content::Blocks(b) => b,
    };
    let mut out = Vec::with_capacity(blocks.len());
    // The signature of a carrier just read, for the call after it.
    let mut for_call: Option<String> = None;
    let mut blocks = blocks.into_iter().peekable();
    while let Some(b) = blocks.next() {
        if let wire::ContentBlock::Thinking(t) = &b
            && let Some(sig) = t
                .signature
                .as_deref()
                .and_then(|s| s.strip_prefix(GEMINI_CARRIER_PREFIX))
        {
            if matches!(blocks.peek(), Some(wire::ContentBlock::ToolUse(_))) {
                if !t.thinking.is_empty() {
                    out.push(Block::Thinking {
                        text: t.thinking.clone(),
                        signature: None,
                    });
                }
                for_call = Some(sig.to_owned());
                continue;
            }
            if t.thinking.is_empty()
                && let Some(Block::Text { signature, .. }) = out.last_mut()
                && signature.is_none()
            {
                *signature = Some(gemini_sig(sig.to_owned()));
                continue;
            }
            out.push(Block::Thinking {
                text: t.thinking.clone(),
                signature: Some(gemini_sig(sig.to_owned())),
            });
            continue;
        }
        let mut block = block_from_wire(b);
        if let (Block::ToolUse { signature, .. }, Some(sig)) = (&mut block, for_call.take()) {
            *signature = Some(gemini_sig(sig));
        }
        out.push(block);
    }
    out
}

fn gemini_sig(value: String) -> Signature {
    Signature {
        origin: Dialect::Gemini,
        value,
    }
}

/// What a client's Anthropic `document` block carries, for upstreams that have no such block
/// (Claude Code sends one when it reads a PDF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentContent<'a> {
    /// A file in base64 (a PDF): Gemini takes it inline.
    File {
        media_type: &'a str,
        data: &'a str,
        title: Option<&'a str>,
    },
    /// A plain-text document, or the text blocks of a `content` source joined.
    Text {
        text: Cow<'a, str>,
        title: Option<&'a str>,
    },
    /// A document the gateway does not fetch (a `url` source, a Files API `file` source), or
    /// a source it does not know: named to the upstream, so the model learns it was there.
    Reference {
        location: Cow<'a, str>,
        title: Option<&'a str>,
    },
}

impl DocumentContent<'_> {
    /// The document as text, when text is all of it an upstream can get: a text document
    /// under its [`label`](Self::label) line, a reference named (not fetched). `None` for a file.
    pub fn as_text(&self) -> Option<String> {
        match self {
            DocumentContent::Text { text, .. } => Some(format!("{}\n{text}", self.label())),
            DocumentContent::Reference { .. } => Some(self.not_included(REFERENCE_NOT_FETCHED)),
            DocumentContent::File { .. } => None,
        }
    }

    /// A line that names the document, for upstreams that get its text or only a mention.
    pub fn label(&self) -> String {
        let named = |title: &Option<&str>| match title {
            Some(t) => format!("document `{t}`"),
            None => "document".to_owned(),
        };
        match self {
            DocumentContent::File {
                media_type, title, ..
            } => format!("[{} ({media_type})]", named(title)),
            DocumentContent::Text { title, .. } => format!("[{}]", named(title)),
            DocumentContent::Reference { location, title } => {
                format!("[{} at {location}]", named(title))
            }
        }
    }

    /// The [`label`](Self::label) and why the upstream does not get the document itself.
    pub fn not_included(&self, why: &str) -> String {
        format!("{} (not included: {why})", self.label())
    }
}

/// Why a referenced document reaches no upstream: the gateway does not fetch for the client.
const REFERENCE_NOT_FETCHED: &str = "the gateway passes on only documents sent inline";

/// The content of `block` when it is an Anthropic client's `document` block.
pub fn document_content(block: &Block) -> Option<DocumentContent<'_>> {
    let Block::Unknown {
        origin: Dialect::Anthropic,
        value,
    } = block
    else {
        return None;
    };
    if value.get("type")?.as_str()? != "document" {
        return None;
    }
    let title = value.get("title").and_then(Value::as_str);
    let Some(source) = value.get("source") else {
        return Some(DocumentContent::Reference {
            location: Cow::Borrowed("(no source)"),
            title,
        });
    };
    let field = |name| source.get(name).and_then(Value::as_str);
    let kind = source.get("type").and_then(Value::as_str);
    let doc = match (kind, field("data"), field("media_type")) {
        (Some("base64"), Some(data), Some(media_type)) => DocumentContent::File {
            media_type,
            data,
            title,
        },
        (Some("text"), Some(data), _) => DocumentContent::Text {
            text: Cow::Borrowed(data),
            title,
        },
        (Some("content"), ..) => DocumentContent::Text {
            text: Cow::Owned(content_source_text(source.get("content"))),
            title,
        },
        (Some("url"), ..) => DocumentContent::Reference {
            location: Cow::Borrowed(field("url").unwrap_or("(no url)")),
            title,
        },
        (Some("file"), ..) => DocumentContent::Reference {
            location: Cow::Owned(format!(
                "Files API file `{}`",
                field("file_id").unwrap_or("?")
            )),
            title,
        },
        _ => DocumentContent::Reference {
            location: Cow::Owned(format!("an unreadable `{}` source", kind.unwrap_or("?"))),
            title,
        },
    };
    Some(doc)
}

/// A `content` source's text: a string, or its text blocks one per line (its images are not
/// part of a document any upstream here reads).
fn content_source_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// One block without carrier handling (tool results and upstream replies).
pub(crate) fn block_from_wire(b: wire::ContentBlock) -> Block {
    match b {
        wire::ContentBlock::Text(t) => Block::Text {
            text: t.text,
            signature: None,
            cache_control: t.cache_control,
        },
        wire::ContentBlock::Image(img) => {
            let source = match (img.source.kind.as_str(), &img.source) {
                (
                    "base64",
                    wire::ImageSource {
                        media_type: Some(m),
                        data: Some(d),
                        ..
                    },
                ) => Some(ImageSource::Base64 {
                    media_type: m.clone(),
                    data: d.clone(),
                }),
                ("url", wire::ImageSource { url: Some(u), .. }) => Some(ImageSource::Url {
                    url: u.clone(),
                    media_type: None,
                }),
                _ => None,
            };
            match source {
                Some(source) => Block::Image(Image {
                    source,
                    cache_control: img.cache_control,
                }),
                None => unknown(&wire::ContentBlock::Image(img)),
            }
        }
        wire::ContentBlock::ToolUse(t) => Block::ToolUse {
            id: t.id,
            name: t.name,
            input: if t.input.is_null() {
                Json::empty_object()
            } else {
                t.input
            },
            signature: None,
        },
        wire::ContentBlock::ToolResult(r) => Block::ToolResult {
            tool_use_id: r.tool_use_id,
            content: match r.content {
                None => Vec::new(),
                Some(wire::Content::Text(s)) => vec![Block::Text {
                    text: s,
                    signature: None,
                    cache_control: None,
                }],
                Some(wire::Content::Blocks(bs)) => bs.into_iter().map(block_from_wire).collect(),
            },
            is_error: r.is_error.unwrap_or(false),
            cache_control: r.cache_control,
        },
        wire::ContentBlock::Thinking(t) => Block::Thinking {
            text: t.thinking,
            signature: t
                .signature
                .filter(|s| !s.is_empty())
                .map(|value| Signature {
                    origin: Dialect::Anthropic,
                    value,
                }),
        },
        wire::ContentBlock::RedactedThinking(r) => Block::RedactedThinking { data: r.data },
        wire::ContentBlock::Unknown(value) => Block::Unknown {
            origin: Dialect::Anthropic,
            value,
        },
    }
}

fn unknown(b: &wire::ContentBlock) -> Block {
    Block::Unknown {
        origin: Dialect::Anthropic,
        value: serde_json::to_value(b).unwrap_or(Value::Null),
    }
}

/// IR blocks -> blocks an Anthropic upstream accepts.
pub(crate) fn blocks_to_upstream(blocks: &[Block]) -> Vec<wire::ContentBlock> {
    blocks.iter().filter_map(block_to_upstream).collect()
}

fn block_to_upstream(b: &Block) -> Option<wire::ContentBlock> {
    Some(match b {
        // Anthropic rejects empty text blocks.
        Block::Text { text, .. } if text.is_empty() => return None,
        Block::Text {
            text,
            cache_control,
            ..
        } => text_block(text, cache_control.clone()),
        Block::Image(img) => image_block(img),
        Block::ToolUse {
            id, name, input, ..
        } => tool_use_block(id, name, input),
        Block::ToolResult {
            tool_use_id,
            content,
            is_error,
            cache_control,
        } => wire::ContentBlock::ToolResult(wire::ToolResultBlock {
            tool_use_id: tool_use_id.clone(),
            content: tool_result_content(content),
            is_error: is_error.then_some(true),
            cache_control: cache_control.clone(),
            extra: Map::new(),
        }),
        Block::Thinking {
            text,
            signature:
                Some(Signature {
                    origin: Dialect::Anthropic,
                    value,
                }),
        } => thinking_block(text, value),
        // Unsigned (OpenAI-style reasoning) or Gemini-signed thoughts: the API rejects them.
        Block::Thinking { .. } => return None,
        Block::RedactedThinking { data } => {
            wire::ContentBlock::RedactedThinking(wire::RedactedThinkingBlock {
                data: data.clone(),
                extra: Map::new(),
            })
        }
        Block::Unknown {
            origin: Dialect::Anthropic,
            value,
        } => wire::ContentBlock::Unknown(value.clone()),
        Block::Unknown { .. } => return None,
    })
}

/// A single plain text result travels as a string, as clients usually send it (unless only a
/// block can hold it: a lone surrogate escape, which a string content is refused for); a
/// result none of whose blocks the API accepts goes without content, as an empty one does.
/// Decided on what is sent, so that the body reads back the same.
fn tool_result_content(content: &[Block]) -> Option<wire::Content> {
    let sent: Vec<(&Block, wire::ContentBlock)> = content
        .iter()
        .filter(|b| {
            matches!(
                b,
                Block::Text { .. } | Block::Image(_) | Block::Unknown { .. }
            )
        })
        .filter_map(|b| block_to_upstream(b).map(|w| (b, w)))
        .collect();
    match sent.as_slice() {
        [] => None,
        [
            (
                Block::Text {
                    text,
                    cache_control: None,
                    ..
                },
                _,
            ),
        ] if text.reads_as_string() => Some(wire::Content::Text(text.clone())),
        _ => Some(wire::Content::Blocks(
            sent.into_iter().map(|(_, w)| w).collect(),
        )),
    }
}

pub(crate) fn text_block(text: &Text, cache_control: Option<Value>) -> wire::ContentBlock {
    wire::ContentBlock::Text(wire::TextBlock {
        text: text.clone(),
        cache_control,
        extra: Map::new(),
    })
}

pub(crate) fn thinking_block(text: &str, signature: &str) -> wire::ContentBlock {
    wire::ContentBlock::Thinking(wire::ThinkingBlock {
        thinking: text.to_owned(),
        signature: Some(signature.to_owned()),
        extra: Map::new(),
    })
}

pub(crate) fn tool_use_block(id: &str, name: &str, input: &Json) -> wire::ContentBlock {
    wire::ContentBlock::ToolUse(wire::ToolUseBlock {
        id: id.to_owned(),
        name: name.to_owned(),
        input: object_input(input),
        cache_control: None,
        extra: Map::new(),
    })
}

/// `tool_use.input` must be an object: a JSON-object string is parsed, anything else is `{}`.
pub(crate) fn object_input(input: &Json) -> Json {
    if input.is_object() {
        return input.clone();
    }
    match input.value() {
        Value::String(s) => match Json::parse(s) {
            Ok(v) if v.is_object() => v,
            _ => Json::empty_object(),
        },
        _ => Json::empty_object(),
    }
}

pub(crate) fn image_block(img: &Image) -> wire::ContentBlock {
    let source = match &img.source {
        ImageSource::Base64 { media_type, data } => base64_source(media_type, data),
        ImageSource::Url { url, media_type } => match parse_data_url(url) {
            Some((m, d)) => base64_source(m, d),
            None => wire::ImageSource {
                kind: "url".into(),
                media_type: None,
                data: None,
                url: Some(url.clone()),
                extra: Map::new(),
            },
        }
        .with_fallback_media(media_type.as_deref()),
    };
    wire::ContentBlock::Image(wire::ImageBlock {
        source,
        cache_control: img.cache_control.clone(),
        extra: Map::new(),
    })
}

impl wire::ImageSource {
    fn with_fallback_media(mut self, media_type: Option<&str>) -> Self {
        if self.kind == "base64" && self.media_type.as_deref().is_none_or(str::is_empty) {
            self.media_type = media_type.map(str::to_owned);
        }
        self
    }
}

fn base64_source(media_type: &str, data: &str) -> wire::ImageSource {
    wire::ImageSource {
        kind: "base64".into(),
        media_type: Some(media_type.to_owned()),
        data: Some(data.to_owned()),
        url: None,
        extra: Map::new(),
    }
}

/// `data:<media>;base64,<data>` -> (media, data).
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media = meta.strip_suffix(";base64")?;
    Some((media, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn anthropic(value: Value) -> Block {
        Block::Unknown {
            origin: Dialect::Anthropic,
            value,
        }
    }

    #[test]
    fn documents_are_read_inline_and_named_by_reference() {
        let pdf = anthropic(json!({"type": "document", "title": "a.pdf",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}));
        assert_eq!(
            document_content(&pdf),
            Some(DocumentContent::File {
                media_type: "application/pdf",
                data: "JVBE",
                title: Some("a.pdf")
            })
        );
        let text = anthropic(json!({"type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "hi"}}));
        let doc = document_content(&text).unwrap();
        assert_eq!(doc.label(), "[document]");
        let url = anthropic(json!({"type": "document", "source": {"type": "url", "url": "u"}}));
        let doc = document_content(&url).unwrap();
        assert_eq!(doc.label(), "[document at u]");
        assert!(doc.as_text().unwrap().contains("not included"));
        let content = anthropic(json!({"type": "document", "title": "t", "source": {
            "type": "content", "content": [{"type": "text", "text": "a"},
            {"type": "image", "source": {}}, {"type": "text", "text": "b"}]}}));
        assert_eq!(
            document_content(&content)
                .and_then(|d| d.as_text())
                .as_deref(),
            Some("[document `t`]\na\nb")
        );
        // A base64 source without its media type cannot go inline: named instead.
        let bare =
            anthropic(json!({"type": "document", "source": {"type": "base64", "data": "x"}}));
        assert!(matches!(
            document_content(&bare),
            Some(DocumentContent::Reference { .. })
        ));
        let other = anthropic(json!({"type": "server_tool_use", "source": {}}));
        assert_eq!(document_content(&other), None);
        // Only an Anthropic client's blocks.
        let gemini = Block::Unknown {
            origin: Dialect::Gemini,
            value: json!({"type": "document", "source": {"type": "text", "data": "x"}}),
        };
        assert_eq!(document_content(&gemini), None);
    }
}
