//! The reader's search words (`q=`), parsed by lenta itself.
//!
//! The syntax is the one a search box promises and no more: words (every one must match, in any
//! grammatical form), `"phrases"` (these words in this order) and `-word` or `-"phrase"` (must not
//! match). tantivy's own query language is never given the reader's text: its operators (`AND`,
//! `title:`, `*`, `~`, `^`, ranges) would let a URL run queries the feed does not promise, some of
//! them slow. Here every such character separates words, so `title:foo AND bar*` is the plain
//! words «title», «foo», «bar» («and» is a stop word).
//!
//! An unbalanced quote makes the rest of the text a phrase: in a search box a quote left open at
//! the end is the common slip, and the reader meant the words after it as a phrase; a 400 would
//! only make them find the stray character.
//!
//! A `q` left with nothing to find (only stop words, punctuation, or only exclusions) is a 400
//! that says so rather than an empty feed: a reader subscribing to it would otherwise get a feed
//! that stays empty forever without learning why.
//!
//! Parsed terms have one canonical text ([`SearchTerms::canonical`]): lower case, `ё` as `е`,
//! single spaces, words and phrases sorted (their order does not change what matches) while the
//! words inside a phrase keep theirs. Equivalent queries are then one cache entry and one ETag.

use std::fmt::Write as _;

use super::analyzer;

/// Longest `q`, in bytes.
pub const MAX_QUERY_BYTES: usize = 256;
/// Most words in `q`, counting the words of phrases and exclusions.
pub const MAX_TERMS: usize = 16;

/// Parsed search words. Every list is normalized (lower case, `ё` → `е`), sorted and without
/// duplicates; stop words, which match nothing, are left out of the word lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SearchTerms {
    /// Words every match contains, in some form.
    pub all: Vec<String>,
    /// Phrases every match contains (two or more words, in order).
    pub phrases: Vec<Vec<String>>,
    /// Words no match contains, in any form.
    pub none: Vec<String>,
    /// Phrases no match contains.
    pub none_phrases: Vec<Vec<String>>,
}

/// Why `q` was refused; the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    /// `q` is empty or only spaces.
    #[error("is empty; give one or more words to find, e.g. q=мост or q=\"новый мост\" -ремонт")]
    Empty,
    /// `q` is longer than [`MAX_QUERY_BYTES`].
    #[error("is {0} bytes long; at most {MAX_QUERY_BYTES} bytes are allowed")]
    TooLong(usize),
    /// `q` has more than [`MAX_TERMS`] words.
    #[error("has {0} or more words; at most {MAX_TERMS} words (in words, phrases and exclusions together) are allowed")]
    TooManyTerms(usize),
    /// Nothing but stop words or punctuation is left to look for.
    #[error("has nothing to search for: only stop words (such as «и», «в», «the») or punctuation; give a word that the articles should contain")]
    NothingToFind,
    /// Only exclusions: there is nothing for them to exclude from.
    #[error("only excludes (-word); give at least one word to find as well, e.g. q=мост -ремонт")]
    OnlyExclusions,
}

/// One parsed part of `q`, before normalization into lists.
struct Clause {
    negated: bool,
    phrase: bool,
    words: Vec<String>,
}

impl SearchTerms {
    /// Parses the reader's text.
    pub fn parse(raw: &str) -> Result<Self, TermsError> {
        if raw.len() > MAX_QUERY_BYTES {
            return Err(TermsError::TooLong(raw.len()));
        }
        if raw.trim().is_empty() {
            return Err(TermsError::Empty);
        }
        let clauses = clauses(raw)?;
        let mut terms = SearchTerms::default();
        let mut excluded_any = false;
        for clause in clauses {
            excluded_any |= clause.negated;
            terms.add(clause);
        }
        for list in [&mut terms.all, &mut terms.none] {
            list.sort();
            list.dedup();
        }
        for list in [&mut terms.phrases, &mut terms.none_phrases] {
            list.sort();
            list.dedup();
        }
        if terms.all.is_empty() && terms.phrases.is_empty() {
            return Err(
                if excluded_any && !(terms.none.is_empty() && terms.none_phrases.is_empty()) {
                    TermsError::OnlyExclusions
                } else {
                    TermsError::NothingToFind
                },
            );
        }
        Ok(terms)
    }

    /// Files a clause in its list, unless it is only stop words (which match nothing).
    fn add(&mut self, clause: Clause) {
        if analyzer::tokens(&clause.words.join(" ")).is_empty() {
            return;
        }
        match (clause.phrase && clause.words.len() > 1, clause.negated) {
            (true, false) => self.phrases.push(clause.words),
            (true, true) => self.none_phrases.push(clause.words),
            (false, negated) => {
                let list = if negated { &mut self.none } else { &mut self.all };
                list.extend(
                    clause
                        .words
                        .into_iter()
                        .filter(|w| !analyzer::tokens(w).is_empty()),
                );
            }
        }
    }

    /// The canonical text: words, then `"phrases"`, then `-words` and `-"phrases"`, each group
    /// sorted, single spaces.
    pub fn canonical(&self) -> String {
        let mut parts: Vec<String> = self.all.clone();
        parts.extend(self.phrases.iter().map(|p| format!("\"{}\"", p.join(" "))));
        parts.extend(self.none.iter().map(|w| format!("-{w}")));
        parts.extend(self.none_phrases.iter().map(|p| format!("-\"{}\"", p.join(" "))));
        let mut out = String::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{part}");
        }
        out
    }
}

/// Splits `raw` into clauses: `"…"` is a phrase (to the end of the text when the quote is not
/// closed), `-` before a word or phrase negates it, and anything else that is not a letter or
/// digit separates words.
fn clauses(raw: &str) -> Result<Vec<Clause>, TermsError> {
    let mut out = Vec::new();
    let mut count = 0usize;
    let mut rest = raw;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let negated = rest.starts_with('-');
        if negated {
            rest = &rest[1..];
        }
        let (text, phrase, after) = if let Some(inner) = rest.strip_prefix('"') {
            match inner.find('"') {
                Some(end) => (&inner[..end], true, &inner[end + 1..]),
                None => (inner, true, ""),
            }
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            (&rest[..end], false, &rest[end..])
        };
        rest = after;
        let words = words(text);
        count += words.len();
        if count > MAX_TERMS {
            return Err(TermsError::TooManyTerms(count));
        }
        if !words.is_empty() {
            out.push(Clause {
                negated,
                phrase,
                words,
            });
        }
    }
    Ok(out)
}

/// The words of `text`: runs of letters and digits, lower-cased, `ё` written `е`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('ё', "е"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_spellings_have_one_canonical_text() {
        let a = SearchTerms::parse("  Мост   КСТОВО \"Новый мост\" -ремонт").unwrap();
        let b = SearchTerms::parse("-Ремонт кстово \"новый   МОСТ\" мост мост").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.canonical(), "кстово мост \"новый мост\" -ремонт");
        assert_eq!(SearchTerms::parse(&a.canonical()).unwrap(), a);
        assert_eq!(SearchTerms::parse("ёлка").unwrap().all, ["елка"]);
    }

    #[test]
    fn other_engines_operators_are_plain_words() {
        let t = SearchTerms::parse("title:foo AND bar* ~baz^2").unwrap();
        assert_eq!(t.all, ["2", "bar", "baz", "foo", "title"]);
        assert!(t.none.is_empty());
    }

    #[test]
    fn an_unbalanced_quote_makes_the_rest_a_phrase() {
        let t = SearchTerms::parse("кстово \"новый мост").unwrap();
        assert_eq!(t.all, ["кстово"]);
        assert_eq!(t.phrases, [vec!["новый".to_string(), "мост".to_string()]]);
    }

    #[test]
    fn limits_and_empty_queries_are_refused() {
        assert_eq!(SearchTerms::parse(" "), Err(TermsError::Empty));
        assert_eq!(
            SearchTerms::parse(&"a".repeat(300)),
            Err(TermsError::TooLong(300))
        );
        let many = (0..17).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(SearchTerms::parse(&many), Err(TermsError::TooManyTerms(17)));
        assert_eq!(SearchTerms::parse("и в на"), Err(TermsError::NothingToFind));
        assert_eq!(SearchTerms::parse("\"\" - -- :"), Err(TermsError::NothingToFind));
        assert_eq!(SearchTerms::parse("-мост"), Err(TermsError::OnlyExclusions));
    }
}
