//! `wildcard` patterns: `*` matches any run of characters; `\*` and `\\` are literal.

/// A parsed wildcard: literal pieces separated by one `*` each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Wildcard {
    pieces: Vec<String>,
}

impl Wildcard {
    /// Parses a wildcard, reporting positions the way event-ruler does (which counts the
    /// opening quote it adds to string values, hence the `+ 1`).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let bytes = text.as_bytes();
        let mut pieces = vec![String::new()];
        let mut current: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'*' => {
                    if bytes.get(i + 1) == Some(&b'*') {
                        return Err(format!("Consecutive wildcard characters at pos {}", i + 1));
                    }
                    close_piece(&mut pieces, &mut current);
                    pieces.push(String::new());
                }
                b'\\' => match bytes.get(i + 1) {
                    Some(next @ (b'*' | b'\\')) => {
                        current.push(*next);
                        i += 1;
                    }
                    _ => return Err(format!("Invalid escape character at pos {}", i + 1)),
                },
                other => current.push(other),
            }
            i += 1;
        }
        close_piece(&mut pieces, &mut current);
        Ok(Self { pieces })
    }

    /// The literal pieces between the stars, escapes resolved: `a*b\*` has `a` and `b*`.
    pub(crate) fn pieces(&self) -> &[String] {
        &self.pieces
    }

    /// Whether the whole of `value` matches.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return value.is_empty(),
        };
        let Some(mut remaining) = value.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return remaining.is_empty();
        };
        // Taking each middle piece at its earliest occurrence leaves the most room for the rest.
        for piece in middle {
            match remaining.find(piece.as_str()) {
                Some(pos) => remaining = &remaining[pos + piece.len()..],
                None => return false,
            }
        }
        remaining.ends_with(last.as_str())
    }
}

fn close_piece(pieces: &mut [String], current: &mut Vec<u8>) {
    // The bytes between stars come from a `&str` split at ASCII bytes, so they stay valid UTF-8.
    let text = String::from_utf8_lossy(current).into_owned();
    if let Some(last) = pieces.last_mut() {
        *last = text;
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wc(text: &str) -> Wildcard {
        Wildcard::parse(text).expect("valid wildcard")
    }

    #[test]
    fn stars_match_runs() {
        assert!(wc("*").matches(""));
        assert!(wc("a*c").matches("abbbc"));
        assert!(wc("a*c").matches("ac"));
        assert!(!wc("a*c").matches("acb"));
        assert!(wc("*ab*ab").matches("xabab"));
        assert!(!wc("abc").matches("abcd"));
        assert!(wc("a*b*c").matches("abc"));
        assert!(!wc("ab*ba").matches("aba"));
    }

    #[test]
    fn escapes() {
        assert!(wc(r"a\*b").matches("a*b"));
        assert!(!wc(r"a\*b").matches("axb"));
        assert!(wc(r"a\\b").matches(r"a\b"));
        assert!(Wildcard::parse(r"a\b").is_err());
        assert!(Wildcard::parse(r"ab\").is_err());
        assert_eq!(
            Wildcard::parse("**").err().as_deref(),
            Some("Consecutive wildcard characters at pos 1")
        );
    }
}
