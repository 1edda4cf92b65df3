//! `*` globs, the one pattern syntax of `[aliases]`, `[[rules]] match` and a key's `models`.

/// Whether `text` matches `pattern`, where `*` stands for any run of characters (including none)
/// and every other character stands for itself.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    // Where the last `*` was and how much text it has swallowed: on a mismatch, let it take one
    // more byte. Linear enough for model names, and no recursion.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// Whether `pattern` has a wildcard at all.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains('*')
}

/// How specific a glob is: its count of literal characters. More specific globs are tried first,
/// so `claude-*haiku*` wins over `claude-*` whatever order the table was written in.
pub fn specificity(pattern: &str) -> usize {
    pattern.chars().filter(|&c| c != '*').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_star() {
        assert!(matches("gpt-4o", "gpt-4o"));
        assert!(!matches("gpt-4o", "gpt-4o-mini"));
        assert!(matches("gpt-4*", "gpt-4o-mini"));
        assert!(matches("gpt-4*", "gpt-4"));
        assert!(matches("*", ""));
        assert!(matches("*", "anything"));
        assert!(matches("claude-*haiku*", "claude-3-5-haiku-20241022"));
        assert!(!matches("claude-*haiku*", "claude-sonnet-4"));
        assert!(matches("*-mini", "gpt-4o-mini"));
        assert!(!matches("*-mini", "gpt-4o-mini-x"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(matches("a*b*c", "abbbc"));
        assert!(!matches("a*b*c", "acb"));
        assert!(matches("**", "x"));
        assert!(!matches("", "x"));
        assert!(matches("", ""));
    }

    #[test]
    fn backtracks_over_repeats() {
        assert!(matches("*aab", "aaaab"));
        assert!(matches("*a*a*b", "xaxaxb"));
        assert!(!matches("*a*a*b", "xaxb"));
    }

    #[test]
    fn non_ascii_is_literal() {
        assert!(matches("modèle-*", "modèle-1"));
        assert!(!matches("modèle-*", "modele-1"));
    }

    #[test]
    fn specificity_counts_literals() {
        assert!(specificity("claude-*haiku*") > specificity("claude-*"));
        assert_eq!(specificity("*"), 0);
    }
}
