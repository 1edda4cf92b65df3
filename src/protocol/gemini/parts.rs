//! Gemini parts <-> IR blocks, shared by requests (history), replies and streams.
//!
//! Signatures: `thoughtSignature` may sit on any part; it becomes `Signature{origin: Gemini}` on
//! the IR block made from that part. A *signature-only* part (no payload, empty or no text, not
//! marked `thought`) is attached to the thinking block just before it, else to the next block of
//! the same content, else to the last block that can carry one, else it becomes an empty
//! thinking block holding only the signature — it is never dropped. An empty `thought` part with
//! a signature is such a block already (it is how one is written).
//!
//! OpenAI's reasoning (a Responses upstream's `Signature{origin: Responses}`) reaches a Gemini
//! client as a `thoughtSignature` tagged `gw.openai.` (`responses::envelope::OPENAI_TAG`) on the
//! part the reasoning preceded: Gemini CLI keeps no thought parts in its history, but keeps a
//! call's signature and that of the first text part after its thoughts. A client's history
//! reads it back as the thinking block before that part ([`BlockList::for_client`]).

use serde_json::{Map, json};

use super::wire::{Blob, FileData, FunctionCall, Part};
use crate::protocol::ir::{
    Block, Dialect, Document, DocumentSource, Extras, Image, ImageSource, Json, Signature,
};
use crate::protocol::responses::envelope::{self, Tagged};

pub(super) fn gemini_signature(value: &str) -> Signature {
    Signature {
        origin: Dialect::Gemini,
        value: value.to_string(),
    }
}

/// The signature's value, only when Gemini minted it.
pub(super) fn own_signature(sig: &Option<Signature>) -> Option<String> {
    sig.as_ref()
        .filter(|s| s.origin == Dialect::Gemini)
        .map(|s| s.value.clone())
}

/// What one part means.
pub(super) enum PartKind {
    Block(Block),
    SignatureOnly(Signature),
    Call(FunctionCall, Option<Signature>),
    Response(super::wire::FunctionResponse),
    Skip,
}

pub(super) fn classify(part: &Part) -> PartKind {
    let signature = part.thought_signature.as_deref().map(gemini_signature);
    if let Some(call) = &part.function_call {
        return PartKind::Call((**call).clone(), signature);
    }
    if let Some(resp) = &part.function_response {
        return PartKind::Response((**resp).clone());
    }
    if let Some(blob) = &part.inline_data {
        if blob.mime_type.starts_with("image/") {
            return PartKind::Block(Block::Image(Image {
                source: ImageSource::Base64 {
                    media_type: blob.mime_type.clone(),
                    data: blob.data.clone(),
                },
                cache_control: None,
            }));
        }
        // A PDF is a document (what the other dialects call one); audio and video are not.
        if blob.mime_type == "application/pdf"
            && part.text.is_none()
            && part.thought_signature.is_none()
            && part.thought.is_none()
            && part.extra.is_empty()
        {
            return PartKind::Block(Block::Document(Document {
                source: DocumentSource::Base64 {
                    media_type: blob.mime_type.clone(),
                    data: blob.data.clone(),
                },
                title: None,
                cache_control: None,
                extra: Extras::new(Dialect::Gemini, blob.extra.clone()),
            }));
        }
        return unknown(part);
    }
    if let Some(file) = &part.file_data {
        let is_image = file
            .mime_type
            .as_deref()
            .is_none_or(|m| m.starts_with("image/"));
        if is_image {
            return PartKind::Block(Block::Image(Image {
                source: ImageSource::Url {
                    url: file.file_uri.clone(),
                    media_type: file.mime_type.clone(),
                },
                cache_control: None,
            }));
        }
        return unknown(part);
    }
    if !part.extra.is_empty() {
        return unknown(part);
    }
    let text = part.text.clone().unwrap_or_default();
    if text.is_empty() {
        return match signature {
            // A thought with nothing but a signature is a block of its own: how a thinking block
            // holding only a signature is written, so it must read back as one (not as a
            // signature for a neighbouring part).
            Some(sig) if part.thought == Some(true) => PartKind::Block(Block::Thinking {
                text: String::new(),
                signature: Some(sig),
            }),
            Some(sig) => PartKind::SignatureOnly(sig),
            None => PartKind::Skip,
        };
    }
    if part.thought == Some(true) {
        PartKind::Block(Block::Thinking {
            text: text.into_string(),
            signature,
        })
    } else {
        PartKind::Block(Block::Text {
            text,
            signature,
            cache_control: None,
        })
    }
}

/// [`classify`] for a part the caller owns: a plain text part hands over its text uncopied.
pub(super) fn classify_owned(mut part: Part) -> PartKind {
    let plain = part.function_call.is_none()
        && part.function_response.is_none()
        && part.inline_data.is_none()
        && part.file_data.is_none()
        && part.extra.is_empty();
    match part.text.take() {
        Some(text) if plain && !text.is_empty() => {
            let signature = part.thought_signature.as_deref().map(gemini_signature);
            PartKind::Block(if part.thought == Some(true) {
                Block::Thinking {
                    text: text.into_string(),
                    signature,
                }
            } else {
                Block::Text {
                    text,
                    signature,
                    cache_control: None,
                }
            })
        }
        text => {
            part.text = text;
            classify(&part)
        }
    }
}

fn unknown(part: &Part) -> PartKind {
    match serde_json::to_value(part) {
        Ok(value) => PartKind::Block(Block::Unknown {
            origin: Dialect::Gemini,
            value,
        }),
        Err(_) => PartKind::Skip,
    }
}

fn signature_slot(block: &mut Block) -> Option<&mut Option<Signature>> {
    match block {
        Block::Text { signature, .. }
        | Block::Thinking { signature, .. }
        | Block::ToolUse { signature, .. } => Some(signature),
        _ => None,
    }
}

/// Collects the blocks of one content, placing signature-only parts (see the module doc).
#[derive(Default)]
pub(super) struct BlockList {
    pub blocks: Vec<Block>,
    pending: Option<Signature>,
    /// A client's history: `gw.` tagged signatures are read (see [`BlockList::for_client`]).
    client: bool,
}

/// A signature a client's part carries under a gateway tag, taken off the part.
enum Carried {
    /// OpenAI's reasoning: a thinking block of its own, before the part.
    OpenAi(Signature),
    /// An unknown tag: dropped.
    Dropped,
}

fn take_tagged(slot: &mut Option<Signature>) -> Option<Carried> {
    let tagged = match slot.as_ref().map(|s| envelope::untag(&s.value)) {
        None | Some(Tagged::Untagged) => return None,
        Some(Tagged::OpenAi(v)) => Carried::OpenAi(Signature {
            origin: Dialect::Responses,
            value: v.to_owned(),
        }),
        Some(Tagged::Unknown) => Carried::Dropped,
    };
    *slot = None;
    Some(tagged)
}

impl BlockList {
    /// For a client's contents, whose `thoughtSignature`s may be the gateway's tags
    /// (`responses::envelope::OPENAI_TAG`, written by `response::reply_parts` and the stream
    /// encoder): an OpenAI reasoning signature on a call or a text is the reasoning that
    /// preceded it, so it signs the unsigned thought right before the part, else an empty
    /// thinking block of its own; on a thought it signs that thought. Other tags are dropped.
    /// (An upstream's parts are its own and are read as they are.)
    pub fn for_client() -> Self {
        BlockList {
            client: true,
            ..Self::default()
        }
    }

    pub fn push(&mut self, mut block: Block) {
        if self.client
            && let Some(slot) = signature_slot(&mut block)
            && let Some(Carried::OpenAi(sig)) = take_tagged(slot)
        {
            match &mut block {
                Block::Thinking { signature, .. } => *signature = Some(sig),
                _ => self.openai_reasoning(sig),
            }
        }
        self.push_block(block);
    }

    /// OpenAI's reasoning before the next block: on the unsigned thought just read, or alone.
    fn openai_reasoning(&mut self, sig: Signature) {
        if self.pending.is_none()
            && let Some(Block::Thinking {
                signature: slot @ None,
                ..
            }) = self.blocks.last_mut()
        {
            *slot = Some(sig);
            return;
        }
        self.push_block(Block::Thinking {
            text: String::new(),
            signature: Some(sig),
        });
    }

    fn push_block(&mut self, mut block: Block) {
        if let Some(sig) = self.pending.take() {
            match signature_slot(&mut block) {
                Some(slot) if slot.is_none() => *slot = Some(sig),
                _ => {
                    self.blocks.push(Block::Thinking {
                        text: String::new(),
                        signature: Some(sig),
                    });
                }
            }
        }
        self.blocks.push(block);
    }

    pub fn signature_only(&mut self, sig: Signature) {
        let mut slot = Some(sig);
        if self.client {
            match take_tagged(&mut slot) {
                Some(Carried::OpenAi(sig)) => return self.openai_reasoning(sig),
                Some(Carried::Dropped) => return,
                None => {}
            }
        }
        let Some(sig) = slot else { return };
        if let Some(Block::Thinking {
            signature: slot @ None,
            ..
        }) = self.blocks.last_mut()
        {
            *slot = Some(sig);
            return;
        }
        if let Some(previous) = self.pending.replace(sig) {
            self.blocks.push(Block::Thinking {
                text: String::new(),
                signature: Some(previous),
            });
        }
    }

    pub fn finish(mut self) -> Vec<Block> {
        if let Some(sig) = self.pending.take() {
            match self.blocks.last_mut().and_then(signature_slot) {
                Some(slot) if slot.is_none() => *slot = Some(sig),
                _ => self.blocks.push(Block::Thinking {
                    text: String::new(),
                    signature: Some(sig),
                }),
            }
        }
        self.blocks
    }
}

/// Call arguments as the object Gemini requires: an object as it is (kept as text), `null` as
/// `{}`, anything else under `value`.
pub(super) fn args_value(args: Json) -> Json {
    if args.is_object() {
        args
    } else if args.is_null() {
        Json::empty_object()
    } else if args.fits_one_level_deeper() {
        Json::from(json!({ "value": args.value() }))
    } else {
        // Nested to the limit: wrapped, it could not be read back; its text loses nothing.
        Json::from(json!({ "value": args.to_compact_string() }))
    }
}

/// [`args_value`] of a reply's arguments, which Gemini may omit.
pub(super) fn args_object(args: &Option<Json>) -> Json {
    match args {
        Some(a) => args_value(a.clone()),
        None => Json::empty_object(),
    }
}

/// An IR image as a Gemini part: base64 and `data:` URLs inline, other URLs as `fileData`.
pub(super) fn image_part(image: &Image) -> Part {
    match &image.source {
        ImageSource::Base64 { media_type, data } => Part {
            inline_data: Some(Box::new(Blob {
                mime_type: media_type.clone(),
                data: data.clone(),
                extra: Map::new(),
            })),
            ..Part::default()
        },
        ImageSource::Url { url, media_type } => {
            if let Some((mime, data)) = parse_data_url(url) {
                return Part {
                    inline_data: Some(Box::new(Blob {
                        mime_type: mime,
                        data,
                        extra: Map::new(),
                    })),
                    ..Part::default()
                };
            }
            Part {
                file_data: Some(Box::new(FileData {
                    mime_type: Some(media_type.clone().unwrap_or_else(|| guess_mime(url))),
                    file_uri: url.clone(),
                    extra: Map::new(),
                })),
                ..Part::default()
            }
        }
    }
}

fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime.to_string(), data.to_string()))
}

fn guess_mime(url: &str) -> String {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let mime = match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("heic") => "image/heic",
        _ => "image/jpeg",
    };
    mime.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz finding: arguments that are an array nested to the depth limit were wrapped under
    /// `value`, one level past it, and the client's next request holding them was refused.
    #[test]
    fn arguments_at_the_depth_limit_are_wrapped_as_text() {
        let deep = format!("{}1{}", "[".repeat(127), "]".repeat(127));
        let args: Json = serde_json::from_str(&deep).unwrap();
        let wrapped = args_value(args);
        assert_eq!(wrapped["value"], serde_json::Value::String(deep));
        let back: Json = serde_json::from_str(&serde_json::to_string(&wrapped).unwrap()).unwrap();
        assert!(back.is_object());

        let shallow: Json = serde_json::from_str("[[1]]").unwrap();
        assert_eq!(args_value(shallow)["value"][0][0], 1);
    }

    fn sig(v: &str) -> Signature {
        gemini_signature(v)
    }

    #[test]
    fn signature_only_parts_attach_to_thinking_then_next_then_last() {
        let mut list = BlockList::default();
        list.push(Block::Thinking {
            text: "t".into(),
            signature: None,
        });
        list.signature_only(sig("A"));
        list.signature_only(sig("B"));
        list.push(Block::Text {
            text: "x".into(),
            signature: None,
            cache_control: None,
        });
        list.signature_only(sig("C"));
        let blocks = list.finish();
        assert!(matches!(&blocks[0], Block::Thinking { signature: Some(s), .. } if s.value == "A"));
        assert!(matches!(&blocks[1], Block::Text { signature: Some(s), .. } if s.value == "B"));
        // The text already carries B, so C becomes its own carrier.
        assert!(
            matches!(&blocks[2], Block::Thinking { text, signature: Some(s) } if text.is_empty() && s.value == "C")
        );
    }

    #[test]
    fn images_and_data_urls() {
        let img = Image {
            source: ImageSource::Url {
                url: "data:image/png;base64,AAAA".into(),
                media_type: None,
            },
            cache_control: None,
        };
        let part = image_part(&img);
        assert_eq!(part.inline_data.unwrap().mime_type, "image/png");
        let img = Image {
            source: ImageSource::Url {
                url: "https://x/y.webp?z=1".into(),
                media_type: None,
            },
            cache_control: None,
        };
        let part = image_part(&img);
        assert_eq!(
            part.file_data.unwrap().mime_type.as_deref(),
            Some("image/webp")
        );
    }
}
