//! The readable gist of an upstream body that is not JSON (a proxy's HTML error page, a
//! plain-text message), short enough to quote in an error a client shows its user: tags,
//! scripts and styles dropped, the common entities decoded, whitespace collapsed, control
//! characters removed, cut at [`MAX_QUOTE_CHARS`].

/// The most characters quoted from a body (an ellipsis marks a cut).
pub const MAX_QUOTE_CHARS: usize = 200;
/// The most bytes of a body looked at: an error page's message is near its start.
const MAX_SCAN_BYTES: usize = 64 * 1024;

/// The text of `body` as one short line; empty when it holds no text.
pub fn gist(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_SCAN_BYTES)]);
    let mut out = String::new();
    let mut chars = 0;
    // A space is written only before the next word, so the result is trimmed at both ends.
    let mut space = false;
    for word in visible_text(&text).split(|c: char| c.is_whitespace() || c.is_control()) {
        let word = word.trim_matches(char::is_control);
        if word.is_empty() {
            continue;
        }
        if space {
            if chars + 1 >= MAX_QUOTE_CHARS {
                out.push('…');
                return out;
            }
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars >= MAX_QUOTE_CHARS {
                out.push('…');
                return out;
            }
            out.push(c);
            chars += 1;
        }
        space = true;
    }
    out
}

/// `text` without markup: what a browser would show, roughly. Text that has no `<` is
/// returned as it is.
fn visible_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        push_decoded(&mut out, &rest[..open]);
        let tag = &rest[open..];
        let lower_name: String = tag[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        // Comments, scripts and styles hold no text a user should read: skip to their end.
        let skip_to = match lower_name.as_str() {
            _ if tag.starts_with("<!--") => Some("-->"),
            "script" => Some("</script"),
            "style" => Some("</style"),
            _ => None,
        };
        let after_tag = match skip_to.and_then(|end| find_ascii_ci(tag, end)) {
            Some(end) => &tag[end..],
            None if skip_to.is_some() => "",
            None => tag,
        };
        rest = match after_tag.find('>') {
            Some(close) => &after_tag[close + 1..],
            None => "",
        };
        // Tags separate words (`<td>a</td><td>b</td>`).
        out.push(' ');
    }
    push_decoded(&mut out, rest);
    out
}

/// Appends `text` with the entities an error page commonly holds decoded.
fn push_decoded(out: &mut String, text: &str) {
    const ENTITIES: [(&str, &str); 7] = [
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&apos;", "'"),
        ("&nbsp;", " "),
    ];
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match ENTITIES.iter().find(|(name, _)| tail.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &tail[name.len()..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
}

/// The byte offset of `needle` (ASCII) in `haystack`, ignoring ASCII case.
fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.windows(n.len()).position(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_nginx_page_becomes_its_words() {
        let page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n";
        assert_eq!(gist(page), "502 Bad Gateway 502 Bad Gateway nginx/1.25.3");
    }

    #[test]
    fn scripts_styles_and_entities() {
        let page = b"<!DOCTYPE html><html><head><style>body { color: red }</style>\
            <SCRIPT type=\"x\">var a = 1 < 2;</SCRIPT><!-- a > b --></head><body>Error&nbsp;1016 &amp; \
            &lt;origin&gt; &copy;</body></html>";
        assert_eq!(gist(page), "Error 1016 & <origin> &copy;");
    }

    #[test]
    fn plain_text_is_trimmed_and_bounded() {
        assert_eq!(
            gist(b"  upstream connect error\n\tor reset  \n"),
            "upstream connect error or reset"
        );
        assert_eq!(gist(b""), "");
        assert_eq!(gist(b"<html></html>"), "");
        let long = "word ".repeat(500);
        let g = gist(long.as_bytes());
        assert!(g.chars().count() <= MAX_QUOTE_CHARS + 1, "{g}");
        assert!(g.ends_with("word…"), "{g}");
        let g = gist("é".repeat(1000).as_bytes());
        assert_eq!(g.chars().count(), MAX_QUOTE_CHARS + 1);
        // Invalid UTF-8 and control characters do not survive.
        assert_eq!(gist(b"bad \xff\x00byte\x1b[31m"), "bad \u{fffd} byte [31m");
    }

    #[test]
    fn an_unclosed_tag_or_script_ends_the_text() {
        assert_eq!(gist(b"Service down <a href=\"x"), "Service down");
        assert_eq!(gist(b"Oops<script>never closed"), "Oops");
    }
}
