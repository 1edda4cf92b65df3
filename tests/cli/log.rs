//! `gateway.log` of a detached server: plain text (no terminal colour codes), rotated by size
//! (`[log] max_size`, `keep`) without losing or splitting a line.

use std::os::unix::fs::PermissionsExt;

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

#[test]
fn detached_log_is_rotated_by_size() {
    let h = TestHome::new();
    h.write_config("[log]\nmax_size = \"1KB\"\nkeep = 2\n");
    let server = Running::start(&h);
    let requests = 60;
    for i in 0..requests {
        let (status, _) = get(&server.url(&format!("/health?n={i}")), None);
        assert_eq!(status, 200);
    }
    let mut names: Vec<String> = std::fs::read_dir(h.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("gateway.log"))
        .collect();
    names.sort();
    assert_eq!(names, ["gateway.log", "gateway.log.1", "gateway.log.2"]);
    let mut lines = Vec::new();
    for name in ["gateway.log.2", "gateway.log.1", "gateway.log"] {
        let path = h.path().join(name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() <= 1000, "{name}: {} bytes", text.len());
        assert!(text.ends_with('\n'), "{name} ends mid-line: {text:?}");
        lines.extend(text.lines().map(str::to_owned));
    }
    // Whole lines only (the server's own stdout line aside), in time order across the files.
    let stamps: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with("listening on http://"))
        .map(|l| {
            assert!(l.contains(" INFO "), "not a whole log line: {l:?}");
            l.split(' ').next().unwrap()
        })
        .collect();
    assert!(stamps.len() >= 6, "{lines:?}");
    assert!(stamps.is_sorted(), "{lines:?}");
    let current = std::fs::read_to_string(h.path().join("gateway.log")).unwrap();
    assert!(
        current.lines().any(|l| l.contains("path=\"/health\"")),
        "{current}"
    );
    drop(server);
}
