//! The index schema and the text analyzer shared by indexing and querying.
//!
//! Russian is inflected: «мост», «моста», «мостом» must find each other, so every token is
//! reduced to its Snowball stem. The portal's text mixes Cyrillic and Latin words (names of
//! companies, «Volga», «IT»), and a Russian stemmer leaves Latin words alone while an English one
//! mangles Cyrillic, so [`SCRIPT_STEMMER`] picks the stemmer per token by its script. `ё` is
//! written as `е` in most news text, so both spell one token. Stop words (the Snowball lists for
//! Russian and English) are dropped: they are in every article and would only make a query slow.
//!
//! The same [`analyzer`] runs on the articles and on the reader's words, so a query term is a
//! stem exactly when the index holds that stem.

use std::borrow::Cow;
use std::mem;

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{
    Language, RemoveLongFilter, StopWordFilter, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// Name under which [`analyzer`] is registered with the index.
pub const ANALYZER: &str = "lenta_ru_en";

/// Longest token kept, in bytes: longer runs are not words (ids, base64, garbage).
const MAX_TOKEN_BYTES: usize = 64;

/// The fields of the search index.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// Article id: the key for updates and deletions, and the feed order's tie-break.
    pub id: Field,
    /// Published instant, microseconds: the feed order and the exact date bounds.
    pub published: Field,
    /// Published day (UTC days since the epoch), as indexed terms: a time window over a few
    /// terms, so that a common word's newest matches are found without visiting all of them
    /// (see [`super::SearchIndex::search`]).
    pub day: Field,
    /// Region codes, as stored (exact match).
    pub region: Field,
    /// Categories lower-cased, as the `category` filter compares them (exact match).
    pub category: Field,
    /// Headline (analyzed).
    pub title: Field,
    /// Lead (analyzed).
    pub lead: Field,
    /// Body as plain text (analyzed).
    pub body: Field,
    /// Categories as words (analyzed), so that «спорт» finds articles filed under «Спорт».
    pub categories: Field,
}

impl Fields {
    /// The analyzed fields a word is looked for in.
    pub fn text(&self) -> [Field; 4] {
        [self.title, self.lead, self.body, self.categories]
    }
}

/// The index schema and its fields.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_u64_field("id", INDEXED | FAST | STORED),
        published: b.add_i64_field("published", FAST),
        day: b.add_i64_field("day", INDEXED),
        region: b.add_text_field("region", STRING),
        category: b.add_text_field("category", STRING),
        title: b.add_text_field("title", text.clone()),
        lead: b.add_text_field("lead", text.clone()),
        body: b.add_text_field("body", text.clone()),
        categories: b.add_text_field("categories", text),
    };
    (b.build(), fields)
}

/// The analyzer of article text and query words: words, lower case, `ё` = `е`, no stop words,
/// stemmed by script.
pub fn analyzer() -> TextAnalyzer {
    let stop_words = [Language::Russian, Language::English]
        .into_iter()
        .filter_map(StopWordFilter::new);
    let mut builder = TextAnalyzer::builder(WordTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LOWER_CASE)
        .filter(YO_TO_YE)
        .dynamic();
    for filter in stop_words {
        builder = builder.filter_dynamic(filter);
    }
    builder.filter_dynamic(SCRIPT_STEMMER).build()
}

/// The analyzed tokens of `text` with their positions: what the index holds for it.
pub fn tokens(text: &str) -> Vec<(usize, String)> {
    thread_local! {
        // Built once per thread: the stop-word sets are not rebuilt for every query word.
        static ANALYZER: std::cell::RefCell<TextAnalyzer> = std::cell::RefCell::new(analyzer());
    }
    ANALYZER.with(|analyzer| {
        let mut analyzer = analyzer.borrow_mut();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push((token.position, token.text.clone()));
        }
        out
    })
}

/// The words of a text: runs of alphanumeric characters, exactly as tantivy's
/// `SimpleTokenizer` splits them, but deciding ASCII and the Russian alphabet without the Unicode
/// tables: `char::is_alphanumeric` on Cyrillic was the largest single cost of indexing a write.
#[derive(Clone, Default)]
pub struct WordTokenizer {
    token: Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        self.token.reset();
        WordStream {
            text,
            chars: text.char_indices(),
            token: &mut self.token,
        }
    }
}

/// The stream of a [`WordTokenizer`].
pub struct WordStream<'a> {
    text: &'a str,
    chars: std::str::CharIndices<'a>,
    token: &'a mut Token,
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        self.token.position = self.token.position.wrapping_add(1);
        while let Some((from, c)) = self.chars.next() {
            if is_word_char(c) {
                let to = self
                    .chars
                    .find(|(_, c)| !is_word_char(*c))
                    .map_or(self.text.len(), |(at, _)| at);
                self.token.offset_from = from;
                self.token.offset_to = to;
                self.token.text.push_str(&self.text[from..to]);
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// `char::is_alphanumeric`, answered without the Unicode tables for ASCII and `А`–`я`, `Ё`, `ё`.
fn is_word_char(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' | 'А'..='я' | 'Ё' | 'ё' => true,
        _ if c.is_ascii() => false,
        _ => c.is_alphanumeric(),
    }
}

/// A token filter that replaces a token's text by its function's answer, when it has one: the
/// one shape of lenta's three filters below.
#[derive(Clone, Copy)]
pub struct TokenMap(fn(&str) -> Option<String>);

impl TokenFilter for TokenMap {
    type Tokenizer<T: Tokenizer> = MapFilter<T, fn(&str) -> Option<String>>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> Self::Tokenizer<T> {
        MapFilter {
            inner: tokenizer,
            map: self.0,
        }
    }
}

/// Lower-cases tokens as tantivy's `LowerCaser` does (each character by `char::to_lowercase`),
/// leaving a token that is lower case already untouched (most are) without the Unicode tables
/// for ASCII and the Russian alphabet.
pub const LOWER_CASE: TokenMap = TokenMap(lower_case);

fn lower_case(text: &str) -> Option<String> {
    let changes = |c: char| match c {
        'a'..='z' | '0'..='9' | 'а'..='я' | 'ё' => false,
        'A'..='Z' | 'А'..='Я' | 'Ё' => true,
        _ => {
            let mut lower = c.to_lowercase();
            lower.next() != Some(c) || lower.next().is_some()
        }
    };
    text.chars()
        .any(changes)
        .then(|| text.chars().flat_map(char::to_lowercase).collect())
}

/// Writes `ё` as `е` (and `Ё` as `Е`; tokens are lower-cased first anyway).
pub const YO_TO_YE: TokenMap = TokenMap(yo_to_ye);

fn yo_to_ye(text: &str) -> Option<String> {
    text.contains(['ё', 'Ё'])
        .then(|| text.replace('ё', "е").replace('Ё', "Е"))
}

/// Stems a token with the Russian Snowball stemmer when it has a Cyrillic letter, with the
/// English one when it has a Latin letter, and leaves it alone otherwise (numbers).
pub const SCRIPT_STEMMER: TokenMap = TokenMap(stem);

/// Most words a thread keeps the stems of (see [`stem`]); the cache is emptied when full.
const STEM_CACHE_WORDS: usize = 100_000;

/// The stem of `text` (None when it is its own stem), remembered per thread: a news corpus
/// repeats a limited vocabulary, and a Snowball stem costs several times a hash lookup, so
/// indexing a batch spends most of its analysis time here without the cache.
fn stem(text: &str) -> Option<String> {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, Option<String>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(known) = cache.get(text) {
            return known.clone();
        }
        if cache.len() >= STEM_CACHE_WORDS {
            cache.clear();
        }
        let stemmed = stem_uncached(text);
        cache.insert(text.to_string(), stemmed.clone());
        stemmed
    })
}

fn stem_uncached(text: &str) -> Option<String> {
    thread_local! {
        static RUSSIAN: frostem::Stemmer = frostem::Stemmer::new(frostem::Algorithm::Russian);
        static ENGLISH: frostem::Stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
    }
    let stemmed = |s: &'static std::thread::LocalKey<frostem::Stemmer>| {
        s.with(|s| match s.stem(text) {
            Cow::Owned(o) => Some(o),
            Cow::Borrowed(b) if b.len() != text.len() => Some(b.to_string()),
            Cow::Borrowed(_) => None,
        })
    };
    if text.chars().any(|c| matches!(c, '\u{0400}'..='\u{04FF}')) {
        stemmed(&RUSSIAN)
    } else if text.chars().any(|c| c.is_ascii_alphabetic()) {
        stemmed(&ENGLISH)
    } else {
        None
    }
}

/// A token filter that replaces a token's text by `map`'s answer, when it has one.
#[derive(Clone)]
pub struct MapFilter<T, F> {
    inner: T,
    map: F,
}

impl<T: Tokenizer> Tokenizer for MapFilter<T, fn(&str) -> Option<String>> {
    type TokenStream<'a> = MapStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        MapStream {
            tail: self.inner.token_stream(text),
            map: self.map,
        }
    }
}

/// The stream of a [`MapFilter`].
pub struct MapStream<T> {
    tail: T,
    map: fn(&str) -> Option<String>,
}

impl<T: TokenStream> TokenStream for MapStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Some(mut mapped) = (self.map)(&token.text) {
            mem::swap(&mut token.text, &mut mapped);
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn word_forms_share_a_stem() {
        let forms = stems("мост моста мостом мосту Мосты");
        assert!(forms.iter().all(|f| f == &forms[0]), "{forms:?}");
        assert_eq!(stems("bridges"), stems("bridge"));
        assert_eq!(stems("ёлка"), stems("елка"));
    }

    #[test]
    fn words_and_lower_case_are_tantivys() {
        use tantivy::tokenizer::{LowerCaser, SimpleTokenizer};
        let text = "Мост через ВОЛГУ, Ёлки-палки! Volga's 2024г. ΣΊΣΥΦΟΣ İstanbul ǅemal \
                    ﬁne ß Straße ﾀﾞ №5 ½ x²y₃ ٣ a\u{0301}b ҂ ҃ Ꙁ ʼn 𝔄𝔅 日本語 ❤ é\u{200d}z";
        let run = |analyzer: &mut TextAnalyzer| {
            let mut stream = analyzer.token_stream(text);
            let mut out = Vec::new();
            while let Some(t) = stream.next() {
                out.push((t.position, t.offset_from, t.offset_to, t.text.clone()));
            }
            out
        };
        let mut ours = TextAnalyzer::builder(WordTokenizer::default())
            .filter(LOWER_CASE)
            .build();
        let mut theirs = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .build();
        let expected = run(&mut theirs);
        assert!(expected.len() > 20, "{expected:?}");
        assert_eq!(run(&mut ours), expected);
    }

    #[test]
    fn stop_words_leave_gaps_in_positions() {
        let t = tokens("мост в Кстово");
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(t[1].0, 2);
        assert!(tokens("и в на the and").is_empty());
    }
}
