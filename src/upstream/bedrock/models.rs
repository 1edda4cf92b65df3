//! Bedrock's model catalogue replies and model ARNs, parsed (no HTTP here).
//!
//! `GET /foundation-models` (ListFoundationModels) and `GET /inference-profiles`
//! (ListInferenceProfiles, paginated with `nextToken`) on the control plane
//! `bedrock.{region}.amazonaws.com`. Most Claude models can only be called through a
//! cross-Region profile (`us.`/`eu.`/`apac.`/`global.` ids), so the callable list is the
//! on-demand text models plus the active profiles. Ids are passed through as AWS names
//! them: no hard-coded map to rot (reference §1.12.13).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::protocol::codec::CodecError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundationModels {
    #[serde(default)]
    pub model_summaries: Vec<FoundationModel>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundationModel {
    pub model_id: String,
    #[serde(default)]
    pub output_modalities: Vec<String>,
    #[serde(default)]
    pub inference_types_supported: Vec<String>,
    #[serde(default)]
    pub model_lifecycle: Option<Lifecycle>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Lifecycle {
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceProfiles {
    #[serde(default)]
    pub inference_profile_summaries: Vec<InferenceProfile>,
    #[serde(default)]
    pub next_token: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceProfile {
    pub inference_profile_id: String,
    #[serde(default)]
    pub inference_profile_arn: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// `SYSTEM_DEFINED` (cross-Region) or `APPLICATION`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, CodecError> {
    serde_json::from_slice(body).map_err(|e| CodecError::from_json(&e, what))
}

/// The ids of text models callable on demand (not legacy-only, not provisioned-only).
pub fn foundation_model_ids(body: &[u8]) -> Result<Vec<String>, CodecError> {
    let list: FoundationModels = parse(body, "ListFoundationModels reply")?;
    Ok(list
        .model_summaries
        .into_iter()
        .filter(|m| m.output_modalities.iter().any(|o| o == "TEXT"))
        .filter(|m| m.inference_types_supported.iter().any(|t| t == "ON_DEMAND"))
        .filter(|m| {
            m.model_lifecycle
                .as_ref()
                .is_none_or(|l| l.status != "LEGACY")
        })
        .map(|m| m.model_id)
        .collect())
}

/// The callable ids of the active inference profiles of one page (the profile id for
/// cross-Region profiles, the ARN for application profiles, whose bare id is not callable
/// alone), and the token of the next page.
pub fn inference_profile_ids(body: &[u8]) -> Result<(Vec<String>, Option<String>), CodecError> {
    let page: InferenceProfiles = parse(body, "ListInferenceProfiles reply")?;
    let ids = page
        .inference_profile_summaries
        .into_iter()
        .filter(|p| p.status.as_deref().is_none_or(|s| s == "ACTIVE"))
        .map(|p| match (p.kind.as_deref(), p.inference_profile_arn) {
            (Some("APPLICATION"), Some(arn)) => arn,
            _ => p.inference_profile_id,
        })
        .collect();
    Ok((ids, page.next_token.filter(|t| !t.is_empty())))
}

/// The parts of a Bedrock ARN, `arn:PARTITION:bedrock:REGION:ACCOUNT:TYPE/ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    /// Empty for foundation models.
    pub account: &'a str,
    /// `foundation-model`, `inference-profile`, `application-inference-profile`,
    /// `provisioned-model`, `custom-model-deployment`, ...
    pub resource_type: &'a str,
    pub resource_id: &'a str,
}

impl<'a> BedrockArn<'a> {
    pub fn parse(s: &'a str) -> Option<Self> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        if parts.next()? != "bedrock" {
            return None;
        }
        let region = parts.next()?;
        let account = parts.next()?;
        let (resource_type, resource_id) = parts.next()?.split_once('/')?;
        if partition.is_empty()
            || region.is_empty()
            || resource_type.is_empty()
            || resource_id.is_empty()
        {
            return None;
        }
        Some(BedrockArn {
            partition,
            region,
            account,
            resource_type,
            resource_id,
        })
    }
}

/// The region a request for `model_id` must go to: the ARN's when the id is an ARN (an
/// application inference profile lives in one region), else the upstream's.
pub fn region_for<'a>(model_id: &'a str, upstream_region: &'a str) -> &'a str {
    BedrockArn::parse(model_id).map_or(upstream_region, |a| a.region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn foundation_models_on_demand_text_only() {
        let body = json!({"modelSummaries": [
            {"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
             "modelId": "anthropic.claude-3-haiku-20240307-v1:0", "outputModalities": ["TEXT"],
             "inferenceTypesSupported": ["ON_DEMAND"], "modelLifecycle": {"status": "ACTIVE"}},
            {"modelId": "anthropic.claude-sonnet-4-5-20250929-v1:0", "outputModalities": ["TEXT"],
             "inferenceTypesSupported": ["INFERENCE_PROFILE"]},
            {"modelId": "amazon.titan-embed-text-v2:0", "outputModalities": ["EMBEDDING"],
             "inferenceTypesSupported": ["ON_DEMAND"]},
            {"modelId": "anthropic.claude-v2", "outputModalities": ["TEXT"],
             "inferenceTypesSupported": ["ON_DEMAND"], "modelLifecycle": {"status": "LEGACY"}}
        ]});
        assert_eq!(
            foundation_model_ids(body.to_string().as_bytes()).unwrap(),
            vec!["anthropic.claude-3-haiku-20240307-v1:0"]
        );
        assert!(foundation_model_ids(b"[").is_err());
    }

    #[test]
    fn inference_profiles_with_pagination() {
        let body = json!({"inferenceProfileSummaries": [
            {"inferenceProfileId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "status": "ACTIVE",
             "type": "SYSTEM_DEFINED", "models": [{"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"}]},
            {"inferenceProfileId": "global.anthropic.claude-opus-4-1-v1:0", "status": "ACTIVE", "type": "SYSTEM_DEFINED"},
            {"inferenceProfileId": "a1b2c3d4", "type": "APPLICATION", "status": "ACTIVE",
             "inferenceProfileArn": "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4"},
            {"inferenceProfileId": "apac.old", "status": "INACTIVE"}
        ], "nextToken": "page2"});
        let (ids, next) = inference_profile_ids(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            ids,
            vec![
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "global.anthropic.claude-opus-4-1-v1:0",
                "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4"
            ]
        );
        assert_eq!(next.as_deref(), Some("page2"));
        let (ids, next) = inference_profile_ids(b"{\"inferenceProfileSummaries\": []}").unwrap();
        assert!(ids.is_empty() && next.is_none());
    }

    #[test]
    fn arns_and_their_region() {
        let arn = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4";
        assert_eq!(
            BedrockArn::parse(arn),
            Some(BedrockArn {
                partition: "aws",
                region: "eu-west-1",
                account: "123456789012",
                resource_type: "application-inference-profile",
                resource_id: "a1b2c3d4",
            })
        );
        assert_eq!(region_for(arn, "us-east-1"), "eu-west-1");
        assert_eq!(
            region_for("us.anthropic.claude-3-haiku-20240307-v1:0", "us-east-1"),
            "us-east-1"
        );
        let fm = BedrockArn::parse("arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0").unwrap();
        assert_eq!(
            (fm.account, fm.resource_id),
            ("", "anthropic.claude-3-haiku-20240307-v1:0")
        );
        for bad in [
            "arn:aws:s3:::bucket/x",
            "arn:aws:bedrock:us-east-1:1:nothing",
            "anthropic.x",
            "arn:aws:bedrock::1:a/b",
        ] {
            assert_eq!(BedrockArn::parse(bad), None, "{bad}");
        }
    }
}
