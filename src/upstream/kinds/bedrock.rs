//! `bedrock`: AWS Bedrock's Converse / ConverseStream. Its wire is not a client dialect
//! (`protocol::converse`, encoded by `adapter::bedrock`), its hosts are per region
//! (`bedrock-runtime.{region}.amazonaws.com`, the region from the model id's ARN or the record),
//! its streamed replies are AWS event-stream frames, and each call is signed with SigV4 over
//! the finished URL and body, or carries a Bedrock API key as a bearer token. The credential
//! itself is resolved by the server (`upstream::bedrock::credentials`, async: files, a
//! `credential_process`) and arrives here as [`Credential::Aws`].

use http::HeaderMap;

use super::{AddRules, Framing, KeyRule, Kind, RegionRule};
use crate::config::ProviderKind;
use crate::config::endpoints::{self, Endpoint};
use crate::protocol::ir::Dialect;
use crate::store::records::UpstreamRecord;
use crate::upstream::UpstreamError;
use crate::upstream::adapter::{
    AdapterError, Call, Credential, Target, UpstreamCall, secret_header,
};
use crate::upstream::bedrock::credentials::Auth;
use crate::upstream::bedrock::{models, sign};

/// The region when the record has none (the CLI requires `--region`; records written by hand
/// may lack it).
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug)]
pub struct Bedrock;

/// Whether `r` has an AWS region's form (`us-east-1`): lowercase letters, digits and dashes.
fn is_region(r: &str) -> bool {
    !r.is_empty()
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The record's region.
pub fn record_region(record: &UpstreamRecord) -> &str {
    record
        .region
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REGION)
}

/// The region a call for `model` goes to: an ARN's own, else the record's.
pub fn region<'a>(record: &'a UpstreamRecord, model: &'a str) -> &'a str {
    models::region_for(model, record_region(record))
}

/// `endpoint` of Bedrock (API or CONTROL) for `region`: the record's URL (API only), else the
/// override or the default with `{region}` filled in.
pub fn base_for(
    t_config: &crate::config::Config,
    record: &UpstreamRecord,
    endpoint: Endpoint,
    region: &str,
) -> Result<String, AdapterError> {
    let from_record = match endpoint {
        Endpoint::Api => record.base_url.clone().filter(|u| !u.trim().is_empty()),
        _ => None,
    };
    let base = match from_record {
        Some(u) => u,
        None => endpoints::resolve(t_config, ProviderKind::Bedrock, endpoint).ok_or_else(|| {
            UpstreamError::NoBaseUrl {
                name: record.name.clone(),
                kind: ProviderKind::Bedrock,
            }
        })?,
    };
    Ok(base
        .trim()
        .trim_end_matches('/')
        .replace("{region}", region))
}

impl Kind for Bedrock {
    fn provider(&self) -> ProviderKind {
        ProviderKind::Bedrock
    }

    /// Never relayed and never decoded as a dialect ([`Kind::converse`] answers): the nearest
    /// client dialect, for what only needs a name (probes' client side).
    fn dialect(&self, _record: &UpstreamRecord) -> Dialect {
        Dialect::Anthropic
    }

    fn relays_same_dialect(&self) -> bool {
        false
    }

    fn converse(&self) -> bool {
        true
    }

    fn aws_credentials(&self) -> bool {
        true
    }

    fn api_base(&self, t: &Target<'_>) -> Result<String, AdapterError> {
        base_for(t.config, t.record, Endpoint::Api, region(t.record, t.model))
    }

    fn call_url(&self, t: &Target<'_>, call: Call) -> Result<String, AdapterError> {
        let stream = matches!(call, Call::Generate { stream: true, .. });
        Ok(format!(
            "{}{}",
            self.api_base(t)?,
            sign::converse_path(t.model, stream)
        ))
    }

    /// Nothing here: the credential goes on in [`Self::sign`], once the body is final.
    fn authorize(&self, _h: &mut HeaderMap, _cred: &Credential<'_>) -> Result<(), AdapterError> {
        Ok(())
    }

    fn default_output_cap(&self) -> Option<u32> {
        None
    }

    fn models_url(&self, _base: &str) -> Result<String, String> {
        Err(
            "Bedrock lists its models on its control endpoint, with AWS credentials \
             (`upstream::bedrock::probe`)"
                .into(),
        )
    }

    fn framing(&self) -> Framing {
        Framing::EventStream
    }

    /// An AWS region is required; `--profile` names the AWS profile read at use time, and
    /// only a Bedrock API key is stored (AWS credentials are found when a call is made).
    fn add_rules(&self) -> AddRules {
        AddRules {
            region: RegionRule::Required {
                valid: is_region,
                invalid: "is not an AWS region (e.g. us-east-1)",
                missing: "the AWS region, e.g. us-east-1",
            },
            profile: true,
            key: KeyRule::Optional,
            ..AddRules::DEFAULT
        }
    }

    fn sign(&self, call: &mut UpstreamCall, t: &Target<'_>) -> Result<(), AdapterError> {
        let Credential::Aws(resolved) = t.credential else {
            return Err(AdapterError::NoCredential(t.record.name.clone()));
        };
        match &resolved.auth {
            Auth::Bearer(key) => {
                secret_header(
                    &mut call.headers,
                    "authorization",
                    &format!("Bearer {}", key.expose()),
                )?;
            }
            Auth::SigV4(creds) => {
                let host = sign::host_of(&call.url).ok_or(AdapterError::Header("host"))?;
                let content_type = call
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_owned();
                let signed = [
                    ("host", host.as_str()),
                    ("content-type", content_type.as_str()),
                ];
                let headers = sign::sigv4_headers(
                    &sign::Signable {
                        method: "POST",
                        url: &call.url,
                        headers: &signed,
                        body: &call.body,
                    },
                    creds,
                    region(t.record, t.model),
                    sign::SERVICE,
                    std::time::SystemTime::now(),
                )
                .map_err(|e| {
                    AdapterError::Codec(crate::protocol::codec::CodecError::Invalid(e.to_string()))
                })?;
                for (name, value) in headers {
                    secret_header(&mut call.headers, name, &value)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn region_goes_into_the_default_host_and_overrides_replace_the_origin() {
        let rec = UpstreamRecord {
            region: Some("eu-west-1".into()),
            ..UpstreamRecord::sample("b", ProviderKind::Bedrock)
        };
        let c = Config::default();
        let base = base_for(&c, &rec, Endpoint::Api, record_region(&rec)).unwrap();
        assert_eq!(base, "https://bedrock-runtime.eu-west-1.amazonaws.com");
        let ctl = base_for(&c, &rec, Endpoint::Control, "us-west-2").unwrap();
        assert_eq!(ctl, "https://bedrock.us-west-2.amazonaws.com");
        let with_url = UpstreamRecord {
            base_url: Some("http://127.0.0.1:9/".into()),
            ..rec.clone()
        };
        assert_eq!(
            base_for(&c, &with_url, Endpoint::Api, "eu-west-1").unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(region(&rec, "anthropic.claude-3-haiku"), "eu-west-1");
        assert_eq!(
            region(
                &rec,
                "arn:aws:bedrock:ap-south-1:123456789012:inference-profile/apac.x"
            ),
            "ap-south-1"
        );
    }

    #[test]
    fn an_arn_model_goes_to_the_arns_regional_host() {
        let rec = UpstreamRecord {
            region: Some("us-west-2".into()),
            ..UpstreamRecord::sample("b", ProviderKind::Bedrock)
        };
        let c = Config::default();
        let arn = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/p1";
        let h = HeaderMap::new();
        let t = Target {
            config: &c,
            record: &rec,
            model: arn,
            credential: Credential::None,
            client_dialect: Dialect::Anthropic,
            client_headers: &h,
        };
        let url = Bedrock
            .call_url(
                &t,
                Call::Generate {
                    stream: true,
                    alt_sse: false,
                },
            )
            .unwrap();
        assert_eq!(
            url,
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Aapplication-inference-profile%2Fp1/converse-stream"
        );
    }
}
