//! Every translation-rule code the source cites in a comment (`(C26)`, `D17a`, `rules D4-D17`)
//! has a heading in `docs/translation-rules.md`, so a reader can look it up.
//!
//! Only comment text is scanned (`//`, `///`, `//!`, and a trailing `//` outside a string), and
//! a code must stand alone: a section letter (A-E, G), a number without a leading zero, an
//! optional lowercase suffix and `.N` part, not glued to a word, an escape (`%C3`), a path
//! (`::`) or backticks. So identifiers, hex and test strings do not count. A range `X4-X17`
//! cites every number in it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DOC: &str = "docs/translation-rules.md";
const SCANNED: &[&str] = &["src", "tests", "benches"];

#[test]
fn every_cited_rule_code_has_a_heading() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join(DOC)).unwrap_or_else(|e| {
        panic!("{DOC} is missing ({e}): the rule codes cited in comments resolve there")
    });
    let headings = headings(&doc);

    let mut files = Vec::new();
    for dir in SCANNED {
        rust_files(&root.join(dir), &mut files);
    }
    // This file's own examples are not citations.
    files.retain(|f| !f.ends_with("tests/translate/rule_codes.rs"));
    assert!(files.len() > 50, "found only {} source files", files.len());

    let mut cited: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file.strip_prefix(root).unwrap().display().to_string();
        for (n, line) in text.lines().enumerate() {
            if let Some(comment) = comment_text(line) {
                for code in codes_in(comment) {
                    cited
                        .entry(code)
                        .or_default()
                        .push(format!("{rel}:{}", n + 1));
                }
            }
        }
    }
    // The scan itself works: the source does cite rules.
    assert!(
        cited.len() > 30,
        "only {} codes cited: {cited:?}",
        cited.len()
    );

    let missing: Vec<String> = cited
        .iter()
        .filter(|(code, _)| !headings.contains(code.as_str()))
        .map(|(code, at)| format!("{code} (cited at {})", at.join(", ")))
        .collect();
    assert!(
        missing.is_empty(),
        "rule codes cited in comments without a `### CODE` heading in {DOC}:\n{}",
        missing.join("\n")
    );
}

#[test]
fn citation_forms_are_found() {
    let found = |s: &str| codes_in(s);
    assert_eq!(found("the agent loop stops, A5.6) and"), ["A5.6"]);
    assert_eq!(found("carrier (design D17a)"), ["D17a"]);
    assert_eq!(found("Signatures (D16/D17): only"), ["D16", "D17"]);
    assert_eq!(found("(C18, C19, C26)"), ["C18", "C19", "C26"]);
    assert_eq!(
        found("(C17, C20-C24):"),
        ["C17", "C20", "C21", "C22", "C23", "C24"]
    );
    assert_eq!(found("rules B1-B3 of"), ["B1", "B2", "B3"]);
    assert_eq!(found("C24 / E10: nothing"), ["C24", "E10"]);
}

#[test]
fn identifiers_hex_and_strings_are_not_codes() {
    for s in [
        "%C3%A9 is é",
        "0xA9 and 0xC3",
        "E2E tests, B2B, A4paper",
        "`C3` in backticks and Dialect::A1",
        "C0 controls and F1 keys",
        "sig(Dialect::Gemini, \"G1\")",
        "x.A5 and A5_x and A5b2",
    ] {
        assert_eq!(codes_in(s), Vec::<String>::new(), "{s}");
    }
    assert_eq!(comment_text(r#"let s = "http://a.b/C26";"#), None);
    assert_eq!(comment_text(r#"f("//"); // see (C26)"#), Some(" see (C26)"));
    assert_eq!(comment_text("    //! doc (B13)"), Some("! doc (B13)"));
    assert_eq!(comment_text(r#"b'"' => x, // (C3)"#), Some(" (C3)"));
}

/// The first word of every `### ` heading.
fn headings(doc: &str) -> BTreeSet<&str> {
    doc.lines()
        .filter_map(|l| l.strip_prefix("### "))
        .filter_map(|h| h.split_whitespace().next())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The comment part of a line: after the first `//` that is not inside a string literal.
fn comment_text(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            // The char literal '"' opens no string.
            b'\'' if !in_str && bytes.get(i + 1..i + 3) == Some(&b"\"'"[..]) => i += 2,
            b'"' => in_str = !in_str,
            b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return line.get(i + 2..),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The rule codes in a piece of comment text, ranges expanded, in order.
fn codes_in(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let Some((code, end)) = code_at(&chars, i) else {
            i += 1;
            continue;
        };
        // `X4-X17`: every number between, when both ends are plain numbers.
        if chars.get(end) == Some(&'-')
            && let Some((last, after)) = code_at(&chars, end + 1)
            && let (Some(a), Some(b)) = (plain_number(&code), plain_number(&last))
            && code.chars().next() == last.chars().next()
            && a < b
        {
            let letter = code.chars().next().unwrap_or('A');
            out.extend((a..=b).map(|n| format!("{letter}{n}")));
            i = after;
            continue;
        }
        out.push(code);
        i = end;
    }
    out
}

/// A code starting at `i`, and the index after it.
fn code_at(chars: &[char], i: usize) -> Option<(String, usize)> {
    let letter = *chars.get(i)?;
    // Section F of the checklist is a list of complaints, not rules.
    if !matches!(letter, 'A'..='E' | 'G') {
        return None;
    }
    if i > 0 {
        let prev = chars[i - 1];
        if prev.is_alphanumeric() || matches!(prev, '_' | '%' | '`' | ':' | '.' | '$' | '#' | '"') {
            return None;
        }
    }
    let mut j = i + 1;
    let digits = chars[j..].iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=2).contains(&digits) || chars[j] == '0' {
        return None;
    }
    j += digits;
    // A lowercase suffix (D17a) only when nothing alphanumeric follows it.
    if let Some(c) = chars.get(j)
        && c.is_ascii_lowercase()
        && !chars
            .get(j + 1)
            .is_some_and(|n| n.is_alphanumeric() || *n == '_')
    {
        j += 1;
    }
    // A sub-number (A5.6), but not a sentence's full stop.
    if chars.get(j) == Some(&'.') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
        j += 1;
        j += chars[j..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    if chars
        .get(j)
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '`' | '"'))
    {
        return None;
    }
    Some((chars[i..j].iter().collect(), j))
}

/// `17` for `D17`; `None` for `D17a` or `A5.6`.
fn plain_number(code: &str) -> Option<u32> {
    code.get(1..)?.parse().ok()
}
