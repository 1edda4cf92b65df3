//! `gateway.log` of a detached server: plain text (no terminal colour codes).

use super::live::{Running, get};
use crate::support::TestHome;

fn log_text(home: &TestHome) -> String {
    String::from_utf8(std::fs::read(home.path().join("gateway.log")).unwrap()).unwrap()
}

#[test]
fn detached_log_has_no_colour_codes() {
    let h = TestHome::new();
    // As started from a terminal whose user did not ask for NO_COLOR.
    let server = Running::start_with(&h, |cmd| {
        cmd.env_remove("NO_COLOR");
    });
    assert_eq!(get(&server.url("/health"), None).0, 200);
    assert_eq!(get(&server.url("/v1/models"), None).0, 401);
    drop(server);
    let text = log_text(&h);
    assert!(
        text.contains("request"),
        "no access line in the log:\n{text}"
    );
    assert!(
        !text.contains("\x1b["),
        "colour codes in the log:\n{text:?}"
    );
}
