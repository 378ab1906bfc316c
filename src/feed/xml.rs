//! Keeping text well-formed in XML whatever is stored.
//!
//! Ingest refuses characters XML 1.0 cannot carry, but data can predate that rule or arrive by
//! another path, and neither the rss nor the atom_syndication writer filters them: one stray
//! U+000B would make the whole document unparseable for every reader. So the renderers pass all
//! text through [`xml_safe`].

use std::borrow::Cow;

use crate::model::{is_xml_char, is_xml_text};

/// `s` without the characters XML 1.0 cannot carry (borrowed when there are none).
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    if is_xml_text(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|c| is_xml_char(*c)).collect())
    }
}

/// [`xml_safe`] into an owned string.
pub fn owned(s: &str) -> String {
    xml_safe(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_only_what_xml_cannot_carry() {
        assert_eq!(xml_safe("a\u{b}b\u{0}c\u{1f}d\te\u{fffe}"), "abcd\te");
        assert!(matches!(xml_safe("ёлка 📰"), Cow::Borrowed(_)));
    }
}
