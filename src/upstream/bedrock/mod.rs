//! AWS Bedrock's building blocks, for the `bedrock` upstream kind: the binary event-stream
//! framing ([`eventstream`]), SigV4 and bearer signing ([`sign`]), the credential chain
//! ([`credentials`]) and the model-list replies and ARNs ([`models`]). The Converse JSON codec
//! is `protocol::converse`; the kind that wires these into the HTTP pipeline lives with the
//! other kinds.

pub mod credentials;
pub mod eventstream;
pub mod profile;
pub mod sign;
