//! Behaviour around the translation: pings, timeouts, garbage, token counts, model lists,
//! Gemini paths.
