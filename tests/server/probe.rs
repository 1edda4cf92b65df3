//! `upstream::probe`: model discovery and the one-token test call, against the fake.

use llm_gateway::secret::Secret;
use llm_gateway::upstream::probe::{self, ProbeError};

use crate::support::fake_openai::{FakeOpenAi, Reply, dead_base_url};
use crate::support::{test_config, upstream};

#[tokio::test]
async fn list_models_reads_data_ids() {
    let fake = FakeOpenAi::start().await;
    fake.push(Reply::json(
        200,
        r#"{"object":"list","data":[{"id":"b","object":"model"},{"id":"a","object":"model"}]}"#,
    ));
    let rec = upstream("oai", &fake.base_url(), &[], 100);
    let key = Secret::new("sk-fake-probe");
    let ids = probe::list_models(&test_config(), &rec, Some(&key))
        .await
        .unwrap();
    assert_eq!(ids, vec!["a".to_string(), "b".to_string()]);
    let req = &fake.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(req.headers["authorization"], "Bearer sk-fake-probe");

    fake.push(Reply::json(
        401,
        r#"{"error":{"message":"Incorrect API key provided"}}"#,
    ));
    match probe::list_models(&test_config(), &rec, Some(&key)).await {
        Err(ProbeError::Status { status, message }) => {
            assert_eq!(status, 401);
            assert_eq!(message, "Incorrect API key provided");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn test_sends_a_one_token_completion() {
    let fake = FakeOpenAi::start().await;
    let rec = upstream("oai", &fake.base_url(), &["first", "second"], 100);
    probe::test(&test_config(), &rec, None, None).await.unwrap();
    let body = fake.requests()[0].json();
    assert_eq!(fake.requests()[0].path, "/v1/chat/completions");
    assert_eq!(body["model"], "first");
    assert_eq!(body["max_tokens"], 1);
    probe::test(&test_config(), &rec, None, Some("second"))
        .await
        .unwrap();
    assert_eq!(fake.requests()[1].json()["model"], "second");

    let dead = upstream("dead", &dead_base_url().await, &["m"], 100);
    assert!(matches!(
        probe::test(&test_config(), &dead, None, None).await,
        Err(ProbeError::Connect { .. })
    ));
}
