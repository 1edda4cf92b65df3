//! The server's side of an AWS Bedrock upstream: resolving its credential for one call (the
//! stored Bedrock API key, the record's `--profile`, the environment and `~/.aws` files, a
//! `credential_process`), and the one clear error when none can be had. Signing itself is the
//! kind's (`upstream::kinds::bedrock`).

use super::credential::Cred;
use super::error::{ErrorKind, GatewayError};
use super::state::Snapshot;
use crate::store::records::UpstreamRecord;
use crate::upstream::bedrock::credentials::{CredentialChain, Env};

/// The credential a call to `up` uses now. Read at use time: a profile file changed on disk
/// (or a `credential_process` with fresh output) is what the next call sees.
/// `env`: the process's, or the one a test fixed (`State::set_aws_env`).
pub(crate) async fn credential(
    env: &Env,
    snap: &Snapshot,
    up: &UpstreamRecord,
) -> Result<Cred, GatewayError> {
    let chain = CredentialChain::new(snap.secrets.get(&up.name).cloned(), up.profile.clone());
    chain.resolve(env).await.map(Cred::Aws).map_err(|e| {
        GatewayError::new(
            ErrorKind::Authentication,
            format!("upstream `{}`: {e}", up.name),
        )
        .with_code("aws_credentials_missing")
    })
}
