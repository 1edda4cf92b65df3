//! The loopback redirect target of the browser login: a tiny HTTP server on 127.0.0.1:<port>
//! that takes Google's redirect to `/oauth2callback?code=...&state=...`, checks the state, tells
//! the browser it may close the tab, and hands the code to the login. A pasted callback URL goes
//! through the same checks ([`classify_pasted`]).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub const CALLBACK_PATH: &str = "/oauth2callback";

/// What a redirect (or a pasted URL) carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    Code(String),
    /// `error=` from the authorization server.
    Error {
        error: String,
        description: Option<String>,
    },
    /// Not for this login (wrong state, no code): refused, the login keeps waiting.
    Refused(String),
}

/// Judges the query of a callback against the state this login sent.
pub fn classify<'a>(
    pairs: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    state: &str,
) -> Callback {
    let (mut code, mut got_state, mut error, mut desc) = (None, None, None, None);
    for (k, v) in pairs {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => desc = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(error) = error {
        // An error redirect without our state could be forged by any local page; refuse it.
        if got_state.as_deref() == Some(state) {
            return Callback::Error {
                error,
                description: desc,
            };
        }
    }
    if got_state.as_deref() != Some(state) {
        return Callback::Refused(
            "the state parameter does not match this login (an old or foreign link?)".into(),
        );
    }
    match code.filter(|c| !c.is_empty()) {
        Some(c) => Callback::Code(c),
        None => Callback::Refused("the callback carries no authorization code".into()),
    }
}

/// A pasted line: the whole callback URL from the browser's address bar.
pub fn classify_pasted(line: &str, state: &str) -> Callback {
    match url::Url::parse(line.trim()) {
        Ok(u) => classify(u.query_pairs(), state),
        Err(_) => Callback::Refused(
            "that is not a URL; paste the whole address of the page the browser was sent to".into(),
        ),
    }
}

/// The running callback server; stops when dropped.
pub struct CallbackServer {
    addr: SocketAddr,
    rx: mpsc::Receiver<Callback>,
    task: tokio::task::JoinHandle<()>,
}

impl CallbackServer {
    /// Binds 127.0.0.1 on a free port and serves callbacks checked against `state`.
    pub async fn start(state: String) -> std::io::Result<CallbackServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(8);
        let task = tokio::spawn(accept_loop(listener, state, tx));
        Ok(CallbackServer { addr, rx, task })
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.addr.port())
    }

    /// The next callback that reached the server (refused ones included, so the login can say
    /// so on the terminal too).
    pub async fn next(&mut self) -> Option<Callback> {
        self.rx.recv().await
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: String, tx: mpsc::Sender<Callback>) {
    // Connections live in this set, so aborting the accept task closes them too.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (state, tx) = (state.clone(), tx.clone());
                conns.spawn(async move {
                    let svc = service_fn(move |req| {
                        let (state, tx) = (state.clone(), tx.clone());
                        async move { Ok::<_, Infallible>(handle(req, &state, &tx).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn handle<B>(
    req: Request<B>,
    state: &str,
    tx: &mpsc::Sender<Callback>,
) -> Response<Full<Bytes>> {
    if req.uri().path() != CALLBACK_PATH {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            "This is not the OAuth callback.",
        );
    }
    let query = req.uri().query().unwrap_or("");
    let cb = classify(url::form_urlencoded::parse(query.as_bytes()), state);
    let resp = match &cb {
        Callback::Code(_) => page(
            StatusCode::OK,
            "Login complete",
            "llm-gateway received the authorization. You can close this tab and return to the terminal.",
        ),
        Callback::Error { error, .. } => page(
            StatusCode::OK,
            "Login failed",
            &format!(
                "The provider answered `{}`. See the terminal for details; you can close this tab.",
                escape(error)
            ),
        ),
        Callback::Refused(why) => page(
            StatusCode::BAD_REQUEST,
            "Not accepted",
            &format!(
                "{}. The login in the terminal is still waiting for the right redirect.",
                escape(why)
            ),
        ),
    };
    let _ = tx.send(cb).await;
    resp
}

fn page(status: StatusCode, title: &str, text: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>llm-gateway: {title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p></body></html>"
    );
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_urls() {
        let ok = classify_pasted("http://127.0.0.1:1/oauth2callback?code=abc&state=s1", "s1");
        assert_eq!(ok, Callback::Code("abc".into()));
        let wrong = classify_pasted("http://127.0.0.1:1/oauth2callback?code=abc&state=s2", "s1");
        assert!(matches!(wrong, Callback::Refused(_)));
        let err = classify_pasted(
            "http://x/?error=access_denied&error_description=no&state=s1",
            "s1",
        );
        assert_eq!(
            err,
            Callback::Error {
                error: "access_denied".into(),
                description: Some("no".into())
            }
        );
        assert!(matches!(classify_pasted("abc", "s1"), Callback::Refused(_)));
    }
}
