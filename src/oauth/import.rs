//! Reading the credential files Gemini CLI (`~/.gemini/oauth_creds.json`) and Qwen Code
//! (`~/.qwen/oauth_creds.json`) write, so a user already logged in there need not log in again.
//! Both hold `access_token`, `refresh_token`, `token_type` and `expiry_date` in milliseconds;
//! Qwen adds `resource_url`. Errors never quote the file's content.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::OAuthError;
use super::tokens::TokenSet;
use crate::config::ProviderKind;
use crate::secret::Secret;

/// What an import found in a credential file.
#[derive(Debug, Clone)]
pub struct ImportedCreds {
    pub tokens: TokenSet,
    /// Qwen: the API host the tokens are for.
    pub resource_url: Option<String>,
}

/// `$HOME/.gemini/oauth_creds.json`, or `$QWEN_HOME/oauth_creds.json` / `$HOME/.qwen/...`.
pub fn default_path(kind: ProviderKind) -> Option<PathBuf> {
    let home = || directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf());
    match kind {
        ProviderKind::GeminiCli => home().map(|h| h.join(".gemini").join("oauth_creds.json")),
        ProviderKind::Qwen => std::env::var_os("QWEN_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".qwen")))
            .map(|d| d.join("oauth_creds.json")),
        _ => None,
    }
}

pub fn read_creds(kind: ProviderKind, path: &Path) -> Result<ImportedCreds, OAuthError> {
    let fail = |message: String| OAuthError::Import {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    parse_creds(kind, &v).map_err(fail)
}

fn string_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Validates the fields (as qwen-code's `validateCredentials` does) without echoing values.
pub fn parse_creds(kind: ProviderKind, v: &Value) -> Result<ImportedCreds, String> {
    if !v.is_object() {
        return Err("expected a JSON object".into());
    }
    let access = string_field(v, "access_token").ok_or("no `access_token` string")?;
    let refresh = string_field(v, "refresh_token").ok_or(
        "no `refresh_token` string (the file cannot be refreshed; log in with `llm-gateway oauth login` instead)",
    )?;
    let expiry_ms = match v.get("expiry_date") {
        Some(Value::Number(n)) => n.as_f64(),
        None | Some(Value::Null) => None,
        Some(_) => return Err("`expiry_date` is not a number".into()),
    };
    if kind == ProviderKind::Qwen {
        if expiry_ms.is_none() {
            return Err("no numeric `expiry_date`".into());
        }
        if string_field(v, "token_type").is_none() {
            return Err("no `token_type` string".into());
        }
    }
    let tokens = TokenSet {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(refresh)),
        // Milliseconds in the file; the store keeps seconds.
        expiry: expiry_ms
            .filter(|ms| *ms > 0.0)
            .map(|ms| (ms / 1000.0) as u64),
        token_type: string_field(v, "token_type").unwrap_or_else(|| "Bearer".into()),
        scope: string_field(v, "scope"),
    };
    Ok(ImportedCreds {
        tokens,
        resource_url: if kind == ProviderKind::Qwen {
            string_field(v, "resource_url")
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gemini_file() {
        let v = json!({"access_token":"ya29.fake","refresh_token":"1//fake","scope":"s",
            "token_type":"Bearer","id_token":"x.y.z","expiry_date": 1_900_000_000_123u64});
        let c = parse_creds(ProviderKind::GeminiCli, &v).unwrap();
        assert_eq!(c.tokens.expiry, Some(1_900_000_000));
        assert_eq!(c.tokens.scope.as_deref(), Some("s"));
        assert!(c.resource_url.is_none());
    }

    #[test]
    fn qwen_file_is_validated() {
        let v = json!({"access_token":"a","refresh_token":"r","token_type":"Bearer",
            "expiry_date": 1_900_000_000_000u64, "resource_url":"portal.qwen.ai"});
        let c = parse_creds(ProviderKind::Qwen, &v).unwrap();
        assert_eq!(c.resource_url.as_deref(), Some("portal.qwen.ai"));
        let bad = json!({"access_token":"secret-abc","refresh_token":"r","token_type":"Bearer",
            "expiry_date":"soon"});
        let e = parse_creds(ProviderKind::Qwen, &bad).unwrap_err();
        assert!(!e.contains("secret-abc"));
        assert!(parse_creds(ProviderKind::Qwen, &json!({"access_token":"a"})).is_err());
    }
}
