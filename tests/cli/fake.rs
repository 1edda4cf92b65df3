//! A one-response fake HTTP upstream on 127.0.0.1:0: every request gets the same status and JSON
//! body. Enough for model discovery and `upstream test`; the richer hyper fakes live in support.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

pub struct Fake {
    pub base_url: String,
}

impl Fake {
    /// Serves `status` with `body` (JSON) until the test process exits.
    pub fn start(status: u16, body: &'static str) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body_in = vec![0u8; length];
                    let _ = reader.read_exact(&mut body_in);
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes());
                });
            }
        });
        Fake {
            base_url: format!("http://127.0.0.1:{port}/v1"),
        }
    }
}

pub const MODELS: &str = r#"{"object":"list","data":[{"id":"fake-model-a","object":"model","owned_by":"test"},{"id":"fake-model-b","object":"model","owned_by":"test"}]}"#;

pub const UNAUTHORIZED: &str = r#"{"error":{"message":"Incorrect API key provided: sk-fake","type":"invalid_request_error","code":"invalid_api_key"}}"#;

pub const CHAT: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"fake-model-a","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
