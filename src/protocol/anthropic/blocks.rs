//! Content blocks between the Anthropic wire and the IR, shared by requests and replies:
//! client content in (with the signature carriers of `mod.rs` resolved), and content out
//! for Anthropic upstreams (only what the API accepts). The client-facing direction, which
//! mints carriers, is `response::blocks_to_client`.

use serde_json::{Map, Value};

use super::{GEMINI_CARRIER_PREFIX, wire};
use crate::protocol::ir::{
    Block, Dialect, Document, DocumentSource, Extras, Image, ImageSource, Json, Signature, Text,
};
use crate::protocol::responses::envelope::{self, Tagged};

/// Client content -> IR blocks, reading the Gemini signature carriers the way
/// `response::blocks_to_client` writes them (a `thinking` block whose signature is
/// `gw.gemini.<sig>`):
/// * a carrier right before a `tool_use` is that call's signature (its text, if any, stays as
///   an unsigned thought before the call);
/// * an empty carrier right after an unsigned text (and not before a call) is that text's;
/// * any other is a Gemini-signed thinking block.
///
/// A `gw.openai.` thinking block is an OpenAI reasoning item (`Signature{origin: Responses}`);
/// one under any other `gw.` tag is kept unsigned, so that no upstream is sent a signature it
/// cannot verify.
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
            && let Some(sig) = t.signature.as_deref()
            && !sig.starts_with(GEMINI_CARRIER_PREFIX)
        {
            match envelope::untag(sig) {
                Tagged::Untagged => {}
                Tagged::OpenAi(value) => {
                    out.push(Block::Thinking {
                        text: t.thinking.clone(),
                        signature: Some(Signature {
                            origin: Dialect::Responses,
                            value: value.to_owned(),
                        }),
                    });
                    continue;
                }
                Tagged::Unknown => {
                    out.push(Block::Thinking {
                        text: t.thinking.clone(),
                        signature: None,
                    });
                    continue;
                }
            }
        }
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

/// An Anthropic `document` block as an IR document. The fields the IR models are taken out;
/// the rest (`context`, `citations`, and a source the IR reads only as text or as a name) stay
/// in its Anthropic extras, so it encodes back as it came.
fn document_from_wire(value: Value) -> Block {
    let Value::Object(mut map) = value else {
        return Block::Unknown {
            origin: Dialect::Anthropic,
            value,
        };
    };
    map.remove("type");
    let title = match map.remove("title") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Null) | None => None,
        Some(other) => {
            map.insert("title".into(), other);
            None
        }
    };
    let cache_control = map.remove("cache_control");
    let source = match map.remove("source") {
        None => DocumentSource::Reference {
            location: "(no source)".into(),
        },
        Some(Value::Object(src)) => match plain_source(src) {
            Ok(source) => source,
            Err(src) => {
                let source = read_source(&src);
                map.insert("source".into(), Value::Object(src));
                source
            }
        },
        Some(other) => {
            map.insert("source".into(), other);
            DocumentSource::Reference {
                location: "an unreadable `?` source".into(),
            }
        }
    };
    Block::Document(Document {
        source,
        title,
        cache_control,
        extra: Extras::new(Dialect::Anthropic, map),
    })
}

/// A source [`document_source`] writes back exactly (base64 with its media type, or text/plain),
/// taken apart; any other is handed back whole.
fn plain_source(mut src: Map<String, Value>) -> Result<DocumentSource, Map<String, Value>> {
    let str_field =
        |src: &Map<String, Value>, k: &str| src.get(k).and_then(Value::as_str).is_some();
    let plain = src.len() == 3
        && str_field(&src, "data")
        && match src.get("type").and_then(Value::as_str) {
            Some("base64") => str_field(&src, "media_type"),
            Some("text") => src.get("media_type").and_then(Value::as_str) == Some(TEXT_PLAIN),
            _ => false,
        };
    if !plain {
        return Err(src);
    }
    let mut take = |k: &str| match src.remove(k) {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let (kind, data, media_type) = (take("type"), take("data"), take("media_type"));
    Ok(if kind == "base64" {
        DocumentSource::Base64 { media_type, data }
    } else {
        DocumentSource::Text { text: data }
    })
}

/// What another dialect can have of a source the IR does not take apart.
fn read_source(src: &Map<String, Value>) -> DocumentSource {
    let field = |name| src.get(name).and_then(Value::as_str);
    let kind = field("type");
    match (kind, field("data"), field("media_type")) {
        (Some("base64"), Some(data), Some(media_type)) => DocumentSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        },
        (Some("text"), Some(data), _) => DocumentSource::Text {
            text: data.to_owned(),
        },
        (Some("content"), ..) => DocumentSource::Text {
            text: content_source_text(src.get("content")),
        },
        (Some("url"), ..) => DocumentSource::Reference {
            location: field("url").unwrap_or("(no url)").to_owned(),
        },
        (Some("file"), ..) => DocumentSource::Reference {
            location: format!("Files API file `{}`", field("file_id").unwrap_or("?")),
        },
        _ => DocumentSource::Reference {
            location: format!("an unreadable `{}` source", kind.unwrap_or("?")),
        },
    }
}

const TEXT_PLAIN: &str = "text/plain";

/// An IR document as the Anthropic API takes it: its own block back as it came; another
/// dialect's PDF or text as a `document`, any other file or a reference as text.
fn document_to_upstream(doc: &Document) -> wire::ContentBlock {
    let own = doc.extra.for_dialect(Dialect::Anthropic);
    let source = match own.and_then(|m| m.get("source")) {
        Some(raw) => Some(raw.clone()),
        None => match document_source(doc, doc.extra.origin == Some(Dialect::Anthropic)) {
            Ok(source) => source,
            Err(text) => return text_block(&Text::from(text), doc.cache_control.clone()),
        },
    };
    let mut map = own.cloned().unwrap_or_default();
    map.insert("type".into(), Value::from("document"));
    if let Some(source) = source {
        map.insert("source".into(), source);
    }
    if let Some(t) = &doc.title {
        map.insert("title".into(), Value::from(t.as_str()));
    }
    if let Some(c) = &doc.cache_control {
        map.insert("cache_control".into(), c.clone());
    }
    wire::ContentBlock::Unknown(Value::Object(map))
}

/// The `source` of a document; `Ok(None)` for an Anthropic document that had none, `Err` with
/// the text to send instead when the API takes no such document.
fn document_source(doc: &Document, anthropic: bool) -> Result<Option<Value>, String> {
    let source = |kind: &str, media_type: &str, data: &str| serde_json::json!({"type": kind, "media_type": media_type, "data": data});
    match &doc.source {
        DocumentSource::Base64 { media_type, data }
            if anthropic || media_type == "application/pdf" =>
        {
            Ok(Some(source("base64", media_type, data)))
        }
        DocumentSource::Base64 { .. } => {
            Err(doc.not_included("Anthropic takes PDF and plain-text documents"))
        }
        DocumentSource::Text { text } => Ok(Some(source("text", TEXT_PLAIN, text))),
        DocumentSource::Reference { .. } if anthropic => Ok(None),
        DocumentSource::Reference { .. } => Err(doc.as_text().unwrap_or_default()),
    }
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
        wire::ContentBlock::Unknown(value)
            if value.get("type").and_then(Value::as_str) == Some("document") =>
        {
            document_from_wire(value)
        }
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
        Block::Document(doc) => document_to_upstream(doc),
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
                Block::Text { .. } | Block::Image(_) | Block::Document(_) | Block::Unknown { .. }
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

    fn read(value: Value) -> Document {
        match block_from_wire(wire::ContentBlock::Unknown(value)) {
            Block::Document(d) => d,
            other => panic!("not a document: {other:?}"),
        }
    }

    /// Written back for an Anthropic upstream.
    fn written(doc: Document) -> Value {
        serde_json::to_value(block_to_upstream(&Block::Document(doc)).unwrap()).unwrap()
    }

    #[test]
    fn documents_are_read_inline_and_named_by_reference() {
        let pdf = json!({"type": "document", "title": "a.pdf", "context": "c",
            "cache_control": {"type": "ephemeral"},
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}});
        let doc = read(pdf.clone());
        assert_eq!(
            doc.source,
            DocumentSource::Base64 {
                media_type: "application/pdf".into(),
                data: "JVBE".into()
            }
        );
        assert_eq!(doc.title.as_deref(), Some("a.pdf"));
        // Only the unmodelled `context` stays in the extras; the block reads back as it came.
        assert_eq!(doc.extra.fields.len(), 1);
        assert_eq!(written(doc), pdf);

        let text = json!({"type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "hi"}});
        let doc = read(text.clone());
        assert_eq!(doc.label(), "[document]");
        assert!(doc.extra.is_empty());
        assert_eq!(written(doc), text);

        let url = json!({"type": "document", "source": {"type": "url", "url": "u"}});
        let doc = read(url.clone());
        assert_eq!(doc.label(), "[document at u]");
        assert!(doc.as_text().unwrap().contains("not included"));
        assert_eq!(written(doc), url);

        let content = json!({"type": "document", "title": "t", "source": {
            "type": "content", "content": [{"type": "text", "text": "a"},
            {"type": "image", "source": {}}, {"type": "text", "text": "b"}]}});
        let doc = read(content.clone());
        assert_eq!(doc.as_text().as_deref(), Some("[document `t`]\na\nb"));
        assert_eq!(written(doc), content);

        // A base64 source without its media type cannot go inline: named instead.
        let bare = json!({"type": "document", "source": {"type": "base64", "data": "x"}});
        let doc = read(bare.clone());
        assert!(matches!(doc.source, DocumentSource::Reference { .. }));
        assert_eq!(written(doc), bare);
        let none = json!({"type": "document"});
        assert_eq!(written(read(none.clone())), none);

        let other = json!({"type": "server_tool_use", "source": {}});
        assert!(matches!(
            block_from_wire(wire::ContentBlock::Unknown(other)),
            Block::Unknown { .. }
        ));
    }

    #[test]
    fn other_dialects_documents_become_what_the_api_takes() {
        let doc = |source| Document {
            source,
            title: Some("r".into()),
            cache_control: None,
            extra: Extras::new(Dialect::OpenAi, Map::from_iter([("x".into(), json!(1))])),
        };
        let pdf = doc(DocumentSource::Base64 {
            media_type: "application/pdf".into(),
            data: "JVBE".into(),
        });
        assert_eq!(
            written(pdf),
            json!({"type": "document", "title": "r",
                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}})
        );
        let csv = doc(DocumentSource::Base64 {
            media_type: "text/csv".into(),
            data: "YQ==".into(),
        });
        assert_eq!(written(csv)["type"], "text");
        let url = doc(DocumentSource::Reference {
            location: "https://x/y.pdf".into(),
        });
        let v = written(url);
        assert_eq!(v["type"], "text");
        assert!(v["text"].as_str().unwrap().contains("https://x/y.pdf"));
    }
}
