//! A real browser on another origin streams a chat completion with `fetch` (CORS): headless
//! Chromium (Debian's `chromium`; `scripts/e2e-deps.sh` installs it when run as root) loads a
//! page served on one loopback port, whose script calls the gateway on another port with a
//! bearer key (so the browser sends a preflight first), reads the event stream and the exposed
//! `server-timing` header, and posts what it read back to the page's server.
//!
//! Skipped, with a notice, when no Chromium is installed (`LLM_GATEWAY_CHROMIUM` names another
//! binary).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::sync::Notify;

use crate::support::fake_openai::{FakeOpenAi, Reply};
use crate::support::{Gateway, KEY, test_config, upstream, view};

const EVENTS: [&str; 4] = [
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello \"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"browser\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
];

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("LLM_GATEWAY_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipping the browser CORS test: no Chromium at {} (apt-get install chromium, or \
             set LLM_GATEWAY_CHROMIUM)",
            path.display()
        );
        None
    }
}

/// The page: streams a completion from `gateway` and posts `status|server-timing|text` home.
fn page(gateway: &str) -> String {
    format!(
        r#"<!doctype html><html><body><script>
(async () => {{
  let out;
  try {{
    const r = await fetch("{gateway}/v1/chat/completions", {{
      method: "POST",
      headers: {{ "authorization": "Bearer {KEY}", "content-type": "application/json",
                 "x-stainless-os": "Linux" }},
      body: JSON.stringify({{ model: "m", stream: true,
                             messages: [{{ role: "user", content: "hi" }}] }}),
    }});
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let text = "";
    for (;;) {{
      const {{ done, value }} = await reader.read();
      if (done) break;
      for (const line of dec.decode(value, {{ stream: true }}).split("\n")) {{
        if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
        const delta = JSON.parse(line.slice(6)).choices[0].delta;
        if (delta.content) text += delta.content;
      }}
    }}
    out = r.status + "|" + (r.headers.get("server-timing") || "") + "|" + text;
  }} catch (e) {{
    out = "error|" + e;
  }}
  await fetch("/result", {{ method: "POST", body: out }});
}})();
</script></body></html>"#
    )
}

#[tokio::test]
async fn a_page_on_another_origin_streams_a_completion_in_headless_chromium() {
    let Some(chromium) = chromium() else { return };
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::sse(&EVENTS));
    let result: Arc<Mutex<Option<String>>> = Arc::default();
    let got = Arc::new(Notify::new());
    // The page's own server: another port is another origin.
    let gateway_url = Arc::new(Mutex::new(String::new()));
    let (page_addr, page_task) = crate::support::serve({
        let (result, got, gateway_url) = (result.clone(), got.clone(), gateway_url.clone());
        move |req: http::Request<hyper::body::Incoming>| {
            let (result, got, gateway_url) = (result.clone(), got.clone(), gateway_url.clone());
            async move {
                if req.uri().path() == "/result" {
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    *result.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
                    got.notify_one();
                    return http::Response::new(Full::new(Bytes::new()));
                }
                let html = page(&gateway_url.lock().unwrap());
                let mut r = http::Response::new(Full::new(Bytes::from(html)));
                r.headers_mut()
                    .insert("content-type", "text/html".parse().unwrap());
                r
            }
        }
    })
    .await;
    let origin = format!("http://127.0.0.1:{}", page_addr.port());
    let mut config = test_config();
    config.server.cors_origins = vec![origin.clone()];
    let gw = Gateway::start(
        config,
        view(vec![upstream("oai", &fake.base_url(), &["m"], 1)]),
    )
    .await;
    *gateway_url.lock().unwrap() = format!("http://127.0.0.1:{}", gw.addr.port());

    let profile = tempfile::tempdir().unwrap();
    let mut browser = tokio::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("{origin}/"))
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(60), got.notified()).await;
    let _ = browser.kill().await;
    page_task.abort();
    assert!(waited.is_ok(), "the page reported nothing within 60 s");
    let out = result.lock().unwrap().clone().unwrap();
    let parts: Vec<&str> = out.splitn(3, '|').collect();
    assert_eq!(parts[0], "200", "{out}");
    assert!(
        parts[1].starts_with("gw;dur="),
        "server-timing not readable: {out}"
    );
    assert_eq!(parts[2], "Hello browser", "{out}");
    gw.stop().await;
}
