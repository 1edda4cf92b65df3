//! Gateway API keys: `lgw_` + 40 random alphanumerics. Only the hex SHA-256 and a short display
//! prefix are stored (`ApiKeyRecord`); the key is shown once, at `apikey add`. The server's
//! auth hashes what a client presents and compares in constant time.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

pub const KEY_PREFIX: &str = "lgw_";
const RANDOM_CHARS: usize = 40;
/// `lgw_` plus 8 characters: enough to tell keys apart in a list, far too few to guess the rest.
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// A new key: `(key, display prefix, hex SHA-256)`.
pub fn generate() -> (Secret, String, String) {
    // ThreadRng is a CSPRNG seeded from the OS.
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(RANDOM_CHARS)
        .map(char::from)
        .collect();
    let key = format!("{KEY_PREFIX}{random}");
    let prefix = key.chars().take(DISPLAY_PREFIX_LEN).collect();
    let hash = hash_key(&key);
    (Secret::new(key), prefix, hash)
}

/// Hex (lower-case) SHA-256 of a key.
pub fn hash_key(key: &str) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Whether `presented` hashes to `hash_hex`, compared in constant time.
pub fn verify(presented: &str, hash_hex: &str) -> bool {
    let computed = hash_key(presented);
    let stored = hash_hex.to_ascii_lowercase();
    // Lengths are public (always 64 for a well-formed hash); contents are compared evenly.
    computed.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// Whether `s` looks like a stored hash (64 hex digits).
pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_format() {
        let (key, prefix, hash) = generate();
        let k = key.expose();
        assert!(k.starts_with("lgw_"));
        assert_eq!(k.len(), 44);
        assert!(k[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(prefix, &k[..12]);
        assert!(is_hash(&hash));
        assert_eq!(hash, hash_key(k));
        assert_ne!(generate().0, key);
    }

    #[test]
    fn verify_accepts_only_the_key() {
        let (key, _, hash) = generate();
        assert!(verify(key.expose(), &hash));
        assert!(verify(key.expose(), &hash.to_ascii_uppercase()));
        assert!(!verify("lgw_fake", &hash));
        assert!(!verify(key.expose(), ""));
        assert!(!verify(key.expose(), &hash[..63]));
        assert!(!verify("", &hash));
    }

    #[test]
    fn known_vector() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
