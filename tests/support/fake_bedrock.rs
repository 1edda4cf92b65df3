//! AWS Bedrock on loopback: `POST /model/{id}/converse` answers a whole Converse reply,
//! `/converse-stream` the binary event stream (frames made by the gateway's own
//! `eventstream::encode_event`, so the CRCs are real), a model id containing `throttle` a 429
//! `ThrottlingException` with `x-amzn-ErrorType`, and a model id containing `boom` a stream that
//! throws an exception frame after its first text. Every request's path and headers are kept
//! for the test to check (the credential, the URL form).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use llm_gateway::config::ProviderKind;
use llm_gateway::store::records::UpstreamRecord;
use llm_gateway::upstream::bedrock::eventstream::{encode_event, encode_exception};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: serde_json::Value,
}

pub struct FakeBedrock {
    pub addr: std::net::SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBedrock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeBedrock {
    pub async fn start() -> FakeBedrock {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = Arc::clone(&seen);
        let (addr, task) = super::serve(move |req: http::Request<hyper::body::Incoming>| {
            let log = Arc::clone(&log);
            async move {
                let path = req.uri().path().to_string();
                let headers = req.headers().clone();
                let bytes = req.into_body().collect().await.unwrap().to_bytes();
                let body = serde_json::from_slice(&bytes).unwrap_or_default();
                log.lock().unwrap().push(Seen {
                    path: path.clone(),
                    headers,
                    body,
                });
                reply(&path)
            }
        })
        .await;
        FakeBedrock { addr, seen, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }
}

/// A `bedrock` upstream at the fake serving `models` (its key, `sk-fake-NAME` in
/// [`super::view`], is a Bedrock API key: bearer auth).
pub fn upstream(name: &str, fake: &FakeBedrock, models: &[&str]) -> UpstreamRecord {
    UpstreamRecord {
        provider: ProviderKind::Bedrock,
        region: Some("us-west-2".into()),
        ..super::upstream(name, &fake.url(), models, 100)
    }
}

pub fn reply(path: &str) -> http::Response<Full<Bytes>> {
    let resp = |status: u16, ct: &str, body: Vec<u8>| {
        http::Response::builder()
            .status(status)
            .header("content-type", ct)
            .header("x-amzn-requestid", "req-fake-1")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    if path.contains("throttle") {
        let mut r = resp(
            429,
            "application/json",
            br#"{"message":"Too many requests, please wait before trying again."}"#.to_vec(),
        );
        r.headers_mut().insert(
            "x-amzn-errortype",
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
                .parse()
                .unwrap(),
        );
        return r;
    }
    if path.ends_with("/converse-stream") {
        let mut b = Vec::new();
        b.extend(encode_event("messageStart", br#"{"role":"assistant"}"#));
        b.extend(encode_event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"Hello from"}}"#,
        ));
        if path.contains("boom") {
            b.extend(encode_exception(
                "modelStreamErrorException",
                br#"{"message":"the model stream broke"}"#,
            ));
            return resp(200, "application/vnd.amazon.eventstream", b);
        }
        b.extend(encode_event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":" Bedrock"}}"#,
        ));
        b.extend(encode_event(
            "contentBlockStop",
            br#"{"contentBlockIndex":0}"#,
        ));
        b.extend(encode_event("messageStop", br#"{"stopReason":"end_turn"}"#));
        b.extend(encode_event(
            "metadata",
            br#"{"usage":{"inputTokens":7,"outputTokens":4,"totalTokens":11},"metrics":{"latencyMs":5}}"#,
        ));
        return resp(200, "application/vnd.amazon.eventstream", b);
    }
    resp(
        200,
        "application/json",
        br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hello from Bedrock"}]}},"stopReason":"end_turn","usage":{"inputTokens":7,"outputTokens":4,"totalTokens":11},"metrics":{"latencyMs":5}}"#.to_vec(),
    )
}
