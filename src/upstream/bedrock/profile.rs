//! The AWS shared config files (`~/.aws/credentials`, `~/.aws/config`) read into profiles.
//!
//! A small parser rather than a generic INI crate, because the AWS format has its own rules
//! (as the AWS SDKs' profile parsers read it): `[name]` sections in `credentials` but
//! `[profile name]` (and `[default]`) in `config`, other section kinds (`[sso-session x]`,
//! `[services x]`) that are not profiles, `#` and `;` comments (inline only after
//! whitespace), case-insensitive keys, and indented lines that continue a property or hold
//! sub-properties (none of which a credential needs). Values from `credentials` win over
//! `config` for the same profile.

use std::collections::HashMap;

/// Profile name -> its properties (keys lower-case).
pub type Profiles = HashMap<String, HashMap<String, String>>;

/// Which file the text came from: the section syntax differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Credentials,
    Config,
}

/// Adds the profiles of one file to `into` (later files override earlier ones key by key).
pub fn parse_into(text: &str, kind: FileKind, into: &mut Profiles) {
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            // A continuation or sub-property of the previous property.
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((name, _)) = rest.split_once(']') else {
                current = None;
                continue;
            };
            current = profile_name(name.trim(), kind);
            if let Some(p) = &current {
                into.entry(p.clone()).or_default();
            }
            continue;
        }
        let (Some(profile), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            continue;
        }
        if let Some(props) = into.get_mut(profile) {
            props.insert(key, strip_comment(value.trim()).to_owned());
        }
    }
}

/// The profile a section header names, or `None` for a section that is not a profile.
fn profile_name(section: &str, kind: FileKind) -> Option<String> {
    match kind {
        FileKind::Credentials => (!section.is_empty()).then(|| section.to_owned()),
        FileKind::Config => {
            if section == "default" {
                return Some("default".to_owned());
            }
            let name = section.strip_prefix("profile")?;
            // `[profile x]` (any whitespace after `profile`), not `[profilex]`.
            if !name.starts_with([' ', '\t']) {
                return None;
            }
            let name = name.trim();
            (!name.is_empty()).then(|| name.to_owned())
        }
    }
}

/// A value without an inline comment (` #...` or ` ;...`).
fn strip_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if (*b == b'#' || *b == b';') && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return value[..i].trim_end();
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_comments_and_precedence() {
        let config = "\
# a comment
[default]
region = us-east-1 ; inline
aws_access_key_id = CONFIGKEY

[profile dev]
credential_process = /bin/echo '{\"a\":1}' # run me
s3 =
  max_concurrent_requests = 10
Region=eu-west-1

[profiledev2]
x = 1
[sso-session corp]
sso_start_url = https://example.awsapps.com/start
[profile   spaced  ]
aws_secret_access_key = a#b
";
        let credentials = "\
[default]
aws_access_key_id = AKIDEXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
[profile dev]
odd = 1
";
        let mut p = Profiles::new();
        parse_into(config, FileKind::Config, &mut p);
        parse_into(credentials, FileKind::Credentials, &mut p);
        assert_eq!(p["default"]["aws_access_key_id"], "AKIDEXAMPLE");
        assert_eq!(p["default"]["region"], "us-east-1");
        assert_eq!(p["dev"]["credential_process"], "/bin/echo '{\"a\":1}'");
        assert_eq!(p["dev"]["region"], "eu-west-1");
        assert!(!p["dev"].contains_key("max_concurrent_requests"));
        assert_eq!(p["spaced"]["aws_secret_access_key"], "a#b");
        // `[profile dev]` in the credentials file is a profile literally named so.
        assert_eq!(p["profile dev"]["odd"], "1");
        assert!(!p.contains_key("profiledev2") && !p.contains_key("corp"));
    }
}
