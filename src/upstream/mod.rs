//! One client per provider kind. Base URLs, auth injection and provider quirks live here, never
//! in the codecs.

/// One-off calls the CLI makes: model discovery for `upstream add` and `upstream test`.
pub mod probe {
    use std::time::Duration;

    use crate::config::Config;
    use crate::secret::Secret;
    use crate::store::records::UpstreamRecord;

    #[derive(Debug, thiserror::Error)]
    pub enum ProbeError {
        #[error("cannot reach {url}: {message}")]
        Connect { url: String, message: String },
        /// The upstream answered with an error; `message` is its own wording.
        #[error("upstream answered {status}: {message}")]
        Status { status: u16, message: String },
        #[error("{0}")]
        Other(String),
    }

    /// The upstream's model ids (`GET {base}/models` for OpenAI-compatible kinds).
    pub async fn list_models(
        config: &Config,
        upstream: &UpstreamRecord,
        secret: Option<&Secret>,
    ) -> Result<Vec<String>, ProbeError> {
        let _ = (config, upstream, secret);
        Err(ProbeError::Other("not implemented yet".into()))
    }

    /// Sends a tiny real request (one short completion) and returns the latency.
    pub async fn test(
        config: &Config,
        upstream: &UpstreamRecord,
        secret: Option<&Secret>,
        model: Option<&str>,
    ) -> Result<Duration, ProbeError> {
        let _ = (config, upstream, secret, model);
        Err(ProbeError::Other("not implemented yet".into()))
    }
}
