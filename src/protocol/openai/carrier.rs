//! Gemini 3 thought signatures for Chat clients, carried inside the tool-call id.
//!
//! Gemini 3 signs each function call (`thoughtSignature`) and refuses a replayed history whose
//! calls lost their signatures. Chat has no field for one, but every Chat client echoes a tool
//! call's `id` verbatim, in the assistant turn's `tool_calls` and in the tool message's
//! `tool_call_id`. So the id handed to a Chat client is `{id}.gw.gemini.{signature}` and a
//! replayed id is split again: Gemini gets its real signature back instead of the
//! skip-validation sentinel, and every other upstream gets the plain id. A body that holds the
//! mark is never forwarded as it is (`Codec::FOREIGN_SIGNATURE_MARK`): OpenAI refuses ids over 40
//! characters.

use crate::protocol::ir::{Dialect, Signature};

/// What separates the call id from the Gemini signature.
pub const GEMINI_ID_MARK: &str = ".gw.gemini.";

/// The id a Chat client gets for a call signed by `signature` (unchanged when it is not a
/// Gemini signature: other providers' signatures do not travel to Chat clients).
pub fn wrap(id: &str, signature: Option<&Signature>) -> String {
    match signature {
        Some(s) if s.origin == Dialect::Gemini && !s.value.is_empty() => {
            format!("{id}{GEMINI_ID_MARK}{}", s.value)
        }
        _ => id.to_owned(),
    }
}

/// The call id and the Gemini signature a Chat client's replayed id carries.
pub fn unwrap(id: String) -> (String, Option<Signature>) {
    match id.find(GEMINI_ID_MARK) {
        Some(at) if at + GEMINI_ID_MARK.len() < id.len() => {
            let value = id[at + GEMINI_ID_MARK.len()..].to_owned();
            let mut base = id;
            base.truncate(at);
            (
                base,
                Some(Signature {
                    origin: Dialect::Gemini,
                    value,
                }),
            )
        }
        _ => (id, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gemini_signature_round_trips_through_the_id() {
        let sig = Signature {
            origin: Dialect::Gemini,
            value: "CiQB+/sig==".into(),
        };
        let id = wrap("call_0", Some(&sig));
        assert_eq!(id, "call_0.gw.gemini.CiQB+/sig==");
        assert_eq!(unwrap(id), ("call_0".to_owned(), Some(sig)));
    }

    #[test]
    fn other_signatures_and_plain_ids_are_left_alone() {
        let anthropic = Signature {
            origin: Dialect::Anthropic,
            value: "EqQB".into(),
        };
        assert_eq!(wrap("toolu_1", Some(&anthropic)), "toolu_1");
        assert_eq!(wrap("call_1", None), "call_1");
        assert_eq!(unwrap("call_1".into()), ("call_1".to_owned(), None));
        // A mark with nothing after it is not a carrier.
        assert_eq!(
            unwrap("call_2.gw.gemini.".into()),
            ("call_2.gw.gemini.".to_owned(), None)
        );
    }
}
