use std::path::Path;

use super::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn sigv4(r: &Resolved) -> &Credentials {
    match &r.auth {
        Auth::SigV4(c) => c,
        Auth::Bearer(_) => panic!("expected SigV4 from {}", r.source),
    }
}

fn rfc3339(t: SystemTime) -> String {
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}

/// A `credential_process` script that counts its runs in `<dir>/runs` and expires at `exp`.
fn process_script(dir: &Path, name: &str, exp: Option<SystemTime>) -> String {
    let script = dir.join(name);
    let runs = dir.join(format!("{name}.runs"));
    let exp = exp.map_or(String::new(), |t| {
        format!(r#", "Expiration": "{}""#, rfc3339(t))
    });
    write(
        &script,
        &format!(
            "#!/bin/sh\necho run >> '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"ASIAFAKE\", \
             \"SecretAccessKey\": \"fake-secret\", \"SessionToken\": \"fake-token\"{exp}}}'\n",
            runs.display()
        ),
    );
    format!("sh '{}'", script.display())
}

fn runs(dir: &Path, name: &str) -> usize {
    std::fs::read_to_string(dir.join(format!("{name}.runs")))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[tokio::test]
async fn order_api_key_then_bearer_env_then_env_keys_then_profile() {
    let home = tempfile::tempdir().unwrap();
    write(
        &home.path().join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n",
    );
    let all = [
        (ENV_BEARER_TOKEN, "bedrock-api-key-fake"),
        (ENV_ACCESS_KEY_ID, "AKIDENV"),
        (ENV_SECRET_ACCESS_KEY, "envsecret"),
        (ENV_SESSION_TOKEN, "envtoken"),
    ];
    let chain = CredentialChain::new(Some(Secret::new("stored-key")), None);
    let r = chain
        .resolve(&Env::fixed(all, home.path().into()))
        .await
        .unwrap();
    assert!(matches!(&r.auth, Auth::Bearer(k) if k.expose() == "stored-key"));

    let chain = CredentialChain::new(None, None);
    let r = chain
        .resolve(&Env::fixed(all, home.path().into()))
        .await
        .unwrap();
    assert!(matches!(&r.auth, Auth::Bearer(k) if k.expose() == "bedrock-api-key-fake"));
    assert_eq!(r.source, ENV_BEARER_TOKEN);

    let r = chain
        .resolve(&Env::fixed(all[1..].iter().copied(), home.path().into()))
        .await
        .unwrap();
    let c = sigv4(&r);
    assert_eq!(
        (c.access_key_id(), c.session_token()),
        ("AKIDENV", Some("envtoken"))
    );

    let r = chain
        .resolve(&Env::fixed([], home.path().into()))
        .await
        .unwrap();
    assert_eq!(sigv4(&r).access_key_id(), "AKIDPROFILE");
    assert!(r.source.contains("profile `default`"), "{}", r.source);
}

#[tokio::test]
async fn named_profile_is_the_only_source_and_files_can_move() {
    let home = tempfile::tempdir().unwrap();
    let elsewhere = home.path().join("elsewhere");
    write(
        &elsewhere.join("config"),
        "[profile work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = w\naws_session_token = t\n",
    );
    let env = Env::fixed(
        [
            (ENV_CONFIG_FILE, elsewhere.join("config").to_str().unwrap()),
            (ENV_ACCESS_KEY_ID, "AKIDENV"),
            (ENV_SECRET_ACCESS_KEY, "envsecret"),
        ],
        home.path().into(),
    );
    let r = CredentialChain::new(None, Some("work".into()))
        .resolve(&env)
        .await
        .unwrap();
    assert_eq!(sigv4(&r).access_key_id(), "AKIDWORK");
    assert_eq!(sigv4(&r).session_token(), Some("t"));
    // --profile names a missing profile: an error, not the environment's keys.
    let err = CredentialChain::new(None, Some("nope".into()))
        .resolve(&env)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("profile `nope`") && msg.contains("--profile"),
        "{msg}"
    );
    // AWS_PROFILE picks the profile of the default chain.
    let env = Env::fixed(
        [
            (ENV_CONFIG_FILE, elsewhere.join("config").to_str().unwrap()),
            (ENV_PROFILE, "work"),
        ],
        home.path().into(),
    );
    let r = CredentialChain::new(None, None)
        .resolve(&env)
        .await
        .unwrap();
    assert_eq!(sigv4(&r).access_key_id(), "AKIDWORK");
}

#[tokio::test]
async fn nothing_found_is_one_message_naming_every_source() {
    let home = tempfile::tempdir().unwrap();
    let err = CredentialChain::new(None, None)
        .resolve(&Env::fixed([], home.path().into()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    for part in [
        ENV_BEARER_TOKEN,
        ENV_ACCESS_KEY_ID,
        "profile `default`",
        ".aws/credentials",
        "aws configure",
        "--api-key-stdin",
    ] {
        assert!(msg.contains(part), "{part} missing from: {msg}");
    }
    let err = CredentialChain::new(None, None)
        .resolve(&Env::fixed(
            [(ENV_ACCESS_KEY_ID, "AKID")],
            home.path().into(),
        ))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("AWS_SECRET_ACCESS_KEY is not"),
        "{err}"
    );
    write(
        &home.path().join(".aws/config"),
        "[profile sso]\nsso_session = corp\n",
    );
    let err = CredentialChain::new(None, Some("sso".into()))
        .resolve(&Env::fixed([], home.path().into()))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("aws configure export-credentials --profile sso"),
        "{err}"
    );
    assert!(
        rejected_message(
            "profile `x`",
            "The security token included in the request is invalid."
        )
        .contains("profile `x`")
    );
}

#[cfg(unix)]
#[tokio::test]
async fn credential_process_output_is_cached_until_shortly_before_expiration() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let long = process_script(
        dir,
        "long",
        Some(SystemTime::now() + Duration::from_secs(3600)),
    );
    let short = process_script(
        dir,
        "short",
        Some(SystemTime::now() + Duration::from_secs(60)),
    );
    let never = process_script(dir, "never", None);
    write(
        &dir.join(".aws/config"),
        &format!(
            "[profile long]\ncredential_process = {long}\n[profile short]\ncredential_process = {short}\n\
             [profile never]\ncredential_process = {never}\n[profile bad]\ncredential_process = sh -c 'echo nope >&2; exit 3'\n"
        ),
    );
    let env = Env::fixed([], dir.into());
    for name in ["long", "short", "never"] {
        let chain = CredentialChain::new(None, Some(name.into()));
        for _ in 0..2 {
            let r = chain.resolve(&env).await.unwrap();
            let c = sigv4(&r);
            assert_eq!(
                (c.access_key_id(), c.session_token()),
                ("ASIAFAKE", Some("fake-token"))
            );
            assert!(r.source.contains("credential_process"));
        }
    }
    // The server makes a chain per call: the output is shared across chains.
    let again = CredentialChain::new(None, Some("long".into()));
    again.resolve(&env).await.unwrap();
    assert_eq!(runs(dir, "long"), 1);
    // Within 5 minutes of its expiry: run again on every use.
    assert_eq!(runs(dir, "short"), 2);
    assert_eq!(runs(dir, "never"), 1);
    let err = CredentialChain::new(None, Some("bad".into()))
        .resolve(&env)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("credential_process failed") && msg.contains("nope"),
        "{msg}"
    );
}
