//! Case-insensitive comparison the way event-ruler does it.
//!
//! event-ruler does not fold the event value: each UTF-16 unit of the pattern accepts
//! exactly its lower-case or its upper-case form (which may be several characters, as
//! `ß` → `SS`). Characters outside the BMP are surrogate pairs in Java and so only match
//! themselves.

/// A pattern string compiled for case-insensitive matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IgnoreCase {
    alternatives: Vec<(String, String)>,
}

impl IgnoreCase {
    pub(crate) fn new(pattern: &str) -> Self {
        let alternatives = pattern
            .chars()
            .map(|c| {
                if u32::from(c) > 0xFFFF {
                    (c.to_string(), c.to_string())
                } else {
                    (c.to_lowercase().collect(), c.to_uppercase().collect())
                }
            })
            .collect();
        Self { alternatives }
    }

    /// Byte offsets of `value` reachable after matching the whole pattern from `start`.
    fn ends_from(&self, value: &str, start: usize) -> Vec<usize> {
        let mut positions = vec![start];
        for (lower, upper) in &self.alternatives {
            let mut next = Vec::with_capacity(positions.len());
            for &pos in &positions {
                for alt in [lower, upper] {
                    if value[pos..].starts_with(alt.as_str()) && !next.contains(&(pos + alt.len()))
                    {
                        next.push(pos + alt.len());
                    }
                }
            }
            if next.is_empty() {
                return next;
            }
            positions = next;
        }
        positions
    }

    pub(crate) fn equals(&self, value: &str) -> bool {
        self.ends_from(value, 0).contains(&value.len())
    }

    pub(crate) fn is_prefix_of(&self, value: &str) -> bool {
        !self.ends_from(value, 0).is_empty()
    }

    pub(crate) fn is_suffix_of(&self, value: &str) -> bool {
        value
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(value.len()))
            .any(|start| self.ends_from(value, start).contains(&value.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_pattern_characters() {
        let p = IgnoreCase::new("Straße");
        assert!(p.equals("STRASSE"));
        assert!(!p.equals("strasse"));
        assert!(p.equals("straße"));
        assert!(!p.equals("strase"));
        assert!(IgnoreCase::new("ab").is_prefix_of("ABc"));
        assert!(IgnoreCase::new("bc").is_suffix_of("aBC"));
        assert!(!IgnoreCase::new("bc").is_suffix_of("aBCd"));
        assert!(IgnoreCase::new("").is_suffix_of("x"));
    }
}
