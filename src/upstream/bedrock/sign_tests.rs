use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;

/// The suite cases whose canonical path is the same under double encoding (Bedrock's mode);
/// `double-url-encode` has no signature and checks the reference canonicaliser below.
const KAT_CASES: &[&str] = &[
    "get-vanilla",
    "post-vanilla",
    "get-vanilla-with-session-token",
    "get-vanilla-query-order-key-case",
    "post-header-key-sort",
];

fn suite(case: &str, file: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/aws/sigv4/{case}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

/// `2015-08-30T12:36:00Z` as a `SystemTime`.
fn time_of(rfc3339: &str) -> SystemTime {
    let dt = aws_smithy_types::DateTime::from_str(
        rfc3339,
        aws_smithy_types::date_time::Format::DateTime,
    )
    .unwrap();
    SystemTime::try_from(dt).unwrap()
}

/// `request.txt`: request line, `Name:value` headers, blank line, body.
fn parse_request(text: &str) -> (String, String, Vec<(String, String)>, String) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let mut first = lines.next().unwrap().split(' ');
    let method = first.next().unwrap().to_owned();
    let path = first.next().unwrap().to_owned();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    (method, path, headers, body.to_owned())
}

#[test]
fn aws_signing_suite_known_answers() {
    for case in KAT_CASES {
        let ctx: Value = serde_json::from_str(&suite(case, "context.json")).unwrap();
        let c = &ctx["credentials"];
        let creds = Credentials::new(
            c["access_key_id"].as_str().unwrap(),
            c["secret_access_key"].as_str().unwrap(),
            c["token"].as_str().map(str::to_owned),
            None,
            "test",
        );
        let (method, path, headers, body) = parse_request(&suite(case, "request.txt"));
        let host = &headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .unwrap()
            .1;
        let url = format!("https://{host}{path}");
        let hs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let out = sigv4_headers(
            &Signable {
                method: &method,
                url: &url,
                headers: &hs,
                body: body.as_bytes(),
            },
            &creds,
            ctx["region"].as_str().unwrap(),
            ctx["service"].as_str().unwrap(),
            time_of(ctx["timestamp"].as_str().unwrap()),
        )
        .unwrap();
        let auth = &out.iter().find(|(n, _)| *n == "authorization").unwrap().1;
        let expected_sig = suite(case, "header-signature.txt");
        assert!(
            auth.ends_with(&format!("Signature={}", expected_sig.trim())),
            "{case}: {auth}"
        );
        let signed = suite(case, "header-signed-request.txt");
        assert!(signed.contains(&format!("Authorization:{auth}")), "{case}");
        let token = out.iter().find(|(n, _)| *n == "x-amz-security-token");
        assert_eq!(token.map(|t| t.1.as_str()), c["token"].as_str(), "{case}");
    }
}

// ---- an independent SigV4 (sha2 only), to check what aws-sigv4 signs for Bedrock ----

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Each path segment escaped again (`%` -> `%25`), as SigV4 does for non-S3 services.
fn double_encode(path: &str) -> String {
    path.split('/')
        .map(|seg| path_segment(seg).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

fn reference_signature(
    canonical_request: &str,
    secret: &str,
    date: &str,
    stamp: &str,
    region: &str,
) -> String {
    let scope = format!("{date}/{region}/{SERVICE}/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, SERVICE.as_bytes());
    let k = hmac(&k, b"aws4_request");
    hex(&hmac(&k, sts.as_bytes()))
}

#[test]
fn reference_canonical_path_matches_the_suite() {
    let creq = suite("double-url-encode", "header-canonical-request.txt");
    let (_, path, ..) = parse_request(&suite("double-url-encode", "request.txt"));
    assert_eq!(creq.lines().nth(1).unwrap(), double_encode(&path));
}

#[test]
fn bedrock_model_ids_are_double_encoded_and_session_tokens_signed() {
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        secret,
        Some("FAKE-SESSION".into()),
        None,
        "test",
    );
    let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
    for model in [
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123",
    ] {
        let path = converse_path(model, true);
        assert!(
            !path[7..].trim_end_matches("/converse-stream").contains('/'),
            "{path}"
        );
        let url = format!("https://bedrock-runtime.us-west-2.amazonaws.com{path}");
        let body = br#"{"messages":[]}"#;
        let host = host_of(&url).unwrap();
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/json"),
        ];
        let out = sigv4_headers(
            &Signable {
                method: "POST",
                url: &url,
                headers: &headers,
                body,
            },
            &creds,
            "us-west-2",
            SERVICE,
            time,
        )
        .unwrap();
        let get = |n: &str| {
            out.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("x-amz-date"), "20150830T123600Z");
        assert_eq!(get("x-amz-security-token"), "FAKE-SESSION");
        let creq = format!(
            "POST\n{}\n\ncontent-type:application/json\nhost:{host}\nx-amz-date:20150830T123600Z\n\
             x-amz-security-token:FAKE-SESSION\n\ncontent-type;host;x-amz-date;x-amz-security-token\n{}",
            double_encode(&path),
            hex(&Sha256::digest(body))
        );
        assert!(creq.contains("%253A"), "{creq}");
        let sig = reference_signature(&creq, secret, "20150830", "20150830T123600Z", "us-west-2");
        assert_eq!(
            get("authorization"),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/bedrock/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature={sig}"
            ),
            "{model}"
        );
    }
}

#[test]
fn paths_and_hosts() {
    assert_eq!(
        converse_path("anthropic.claude-3-haiku-20240307-v1:0", false),
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    );
    assert_eq!(
        host_of("http://127.0.0.1:8080/model"),
        Some("127.0.0.1:8080".into())
    );
    assert_eq!(
        host_of("https://bedrock-runtime.eu-west-1.amazonaws.com"),
        Some("bedrock-runtime.eu-west-1.amazonaws.com".into())
    );
    assert!(is_clock_skew(
        "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z"
    ));
}
