//! Deterministic synthetic news corpus for `lenta gen`.
//!
//! The demo store (`serve --demo`), the benchmarks (100,000 and 1,000,000
//! articles) and many tests need realistic-looking Russian regional news
//! without shipping a real archive. This module writes such a corpus as NDJSON,
//! one publisher-facing article input object per line, so that the same
//! `articles` and `seed` always give byte-identical output on any machine:
//! the only source of randomness is a [`ChaCha8Rng`] seeded from the seed,
//! integer ranges are sampled as `u32` (portable between 32- and 64-bit
//! targets), and the clock is never read.
//!
//! Article `i` depends only on the seed and on the articles before it, so a
//! shorter corpus is always a prefix of a longer one with the same seed.
//!
//! Modification times (`modified_at`) are drawn from a second stream of the
//! same seed ([`EDIT_STREAM`]), so adding them left every other field of every
//! article as it was: most articles are never edited (no `modified_at`, so
//! the server takes `published_at`), some are corrected minutes later, a few
//! updated hours later, as a newsroom does.
//!
//! Speed matters for the million-article benchmark corpus: every line is
//! built in buffers that are reused from one article to the next, serialized
//! once into a reusable byte buffer and handed to the writer with a single
//! `write_all`, so an unbuffered writer costs one call per line.

use std::fmt::Write as _;
use std::io;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One region as the generator needs it.
///
/// Borrowed from the caller's region directory so that the generator does not
/// depend on how regions are loaded; `code` goes into the `regions` field and
/// `name_ru` (nominative, e.g. «Нижегородская область») into the Russian text,
/// declined into the prepositional and genitive cases where the templates need it.
#[derive(Clone, Copy, Debug)]
pub struct GenRegion<'a> {
    /// Region code written into the article's `regions` array, e.g. `RU-NIZ`.
    pub code: &'a str,
    /// Russian name in the nominative case, e.g. «Нижегородская область».
    pub name_ru: &'a str,
}

/// What to generate.
///
/// Kept as a struct (rather than two loose arguments) so that the CLI can map
/// its flags one-to-one and later options do not break callers.
#[derive(Clone, Copy, Debug)]
pub struct GenOptions {
    /// Total number of lines to write, the fixture article included.
    pub articles: usize,
    /// Seed of the random stream; the same seed gives the same corpus.
    pub seed: u64,
}

/// The fixture file shipped with lenta; its `seed_like_article` opens every portal corpus.
const FIXTURES: &str = include_str!("../data/fixtures.json");

/// Writes a corpus over every region of `dir`, opening with the shipped fixture article: exactly
/// what `lenta gen` prints, and what `serve --demo`, the tests and the benchmarks load.
pub fn write_portal_corpus<W: io::Write>(
    opts: &GenOptions,
    dir: &crate::regions::RegionDirectory,
    out: &mut W,
) -> io::Result<()> {
    let fixtures: serde_json::Value =
        serde_json::from_str(FIXTURES).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let fixture_line = fixtures["seed_like_article"].to_string();
    let regions: Vec<GenRegion> = dir
        .iter()
        .map(|r| GenRegion {
            code: r.code.as_str(),
            name_ru: &r.name_ru,
        })
        .collect();
    write_corpus(opts, &regions, &fixture_line, out)
}

/// The dated fields of a corpus line that [`anchor_corpus`] shifts.
const DATED_FIELDS: [&str; 2] = ["published_at", "modified_at"];

/// Shifts every date of an NDJSON corpus by one amount, so that the latest of them (published or
/// modified) is `latest`; everything else, each date's own UTC offset and the spacing between
/// articles included, stays as it was.
///
/// Why: `serve --demo` loads a corpus whose dates end when the generator's range does, weeks or
/// years before the day it is loaded, so every document whose window is relative to the request
/// (`/sitemap-news.xml`, `/yandex.rss`, `/dzen.rss`) would be empty in the demo. The demo anchors
/// the corpus to the time it loads it; `lenta gen` itself never reads the clock and stays
/// deterministic. The latest *modification* is anchored, not only the latest publication,
/// because an edit dated ahead of the server's clock is refused on import.
///
/// Errors: `InvalidData` for a line that is not a JSON object or a date that is not RFC 3339.
pub fn anchor_corpus(corpus: &[u8], latest: DateTime<chrono::Utc>) -> io::Result<Vec<u8>> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut lines = Vec::new();
    let mut newest: Option<DateTime<FixedOffset>> = None;
    for line in corpus.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| invalid(e.to_string()))?;
        if !value.is_object() {
            return Err(invalid("a corpus line is not a JSON object".to_string()));
        }
        for date in dates(&value) {
            let date = date.map_err(invalid)?;
            newest = Some(newest.map_or(date, |n| n.max(date)));
        }
        lines.push(value);
    }
    let shift = newest.map_or(chrono::TimeDelta::zero(), |n| latest.fixed_offset() - n);
    let mut out = Vec::with_capacity(corpus.len());
    for mut value in lines {
        for field in DATED_FIELDS {
            let Some(text) = value.get(field).and_then(|v| v.as_str()) else {
                continue;
            };
            let date = DateTime::parse_from_rfc3339(text).map_err(|e| invalid(format!("{field}: {e}")))?;
            value[field] = (date + shift).to_rfc3339_opts(SecondsFormat::Secs, true).into();
        }
        serde_json::to_writer(&mut out, &value)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// The dates of one corpus line.
fn dates(value: &serde_json::Value) -> impl Iterator<Item = Result<DateTime<FixedOffset>, String>> + '_ {
    DATED_FIELDS.into_iter().filter_map(move |field| {
        let text = value.get(field)?.as_str()?;
        Some(DateTime::parse_from_rfc3339(text).map_err(|e| format!("{field} {text:?}: {e}")))
    })
}

/// Writes `opts.articles` NDJSON lines to `out`.
///
/// The first line is always the fixture article given in `fixture_line`
/// (already a JSON object text; written compacted on one line via a
/// [`serde_json::Value`] round trip) when `articles >= 1`, so that tests and
/// the demo can rely on one known article being present. The remaining lines
/// are synthetic articles with `external_id` `gen-{seed}-{index}`, where
/// `index` is the 0-based line number.
///
/// Errors: `InvalidInput` if `fixture_line` is not a JSON object, or if
/// synthetic articles are requested but `regions` is empty; any error of
/// `out` is returned as is. Nothing is flushed: the caller owns the writer
/// (typically a `BufWriter` around stdout) and decides when to flush.
pub fn write_corpus<W: io::Write>(
    opts: &GenOptions,
    regions: &[GenRegion],
    fixture_line: &str,
    out: &mut W,
) -> io::Result<()> {
    if opts.articles == 0 {
        return Ok(());
    }
    let fixture: serde_json::Value = serde_json::from_str(fixture_line).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fixture article is not valid JSON: {e}"),
        )
    })?;
    if !fixture.is_object() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "fixture article must be a JSON object",
        ));
    }
    let mut line = serde_json::to_vec(&fixture)?;
    line.push(b'\n');
    out.write_all(&line)?;
    if opts.articles == 1 {
        return Ok(());
    }
    if regions.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot generate articles without regions",
        ));
    }

    let forms: Vec<RegionForms> = regions.iter().map(RegionForms::new).collect();
    let offsets = Offsets::new()?;
    let mut generator = Generator {
        rng: ChaCha8Rng::seed_from_u64(opts.seed),
        edits: edit_stream(opts.seed),
        seed: opts.seed,
        forms,
        offsets,
        bufs: Buffers::default(),
    };
    for index in 1..opts.articles {
        generator.article(index, &mut line)?;
        out.write_all(&line)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Output record
// ---------------------------------------------------------------------------

/// The publisher-facing article input, exactly the fields the server accepts
/// (it rejects unknown fields, and `link` is left for the server to default).
#[derive(Serialize)]
struct Article<'a> {
    external_id: &'a str,
    title: &'a str,
    summary: &'a str,
    content_html: &'a str,
    published_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified_at: Option<&'a str>,
    regions: &'a [&'a str],
    categories: &'a [&'static str],
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    sources: &'a [&'static Source],
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<Image<'a>>,
    views: u32,
}

/// A cited source; `url` only where the agency has a well-known site.
#[derive(Serialize)]
struct Source {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'static str>,
}

/// An enclosure-style image reference.
#[derive(Serialize)]
struct Image<'a> {
    url: &'a str,
    #[serde(rename = "type")]
    mime: &'static str,
    length: u32,
}

static SOURCES: [Source; 5] = [
    Source {
        name: "Время Н",
        url: None,
    },
    Source {
        name: "РИА",
        url: None,
    },
    Source {
        name: "ТАСС",
        url: Some("https://tass.ru"),
    },
    Source {
        name: "Интерфакс",
        url: Some("https://www.interfax.ru"),
    },
    Source {
        name: "Пресс-служба правительства",
        url: None,
    },
];

const CAT_POWER: usize = 0;
const CAT_SOCIETY: usize = 1;
const CAT_ECONOMY: usize = 2;
const CAT_INCIDENTS: usize = 3;
const CAT_SPORT: usize = 4;
const CAT_CULTURE: usize = 5;
const CAT_EDUCATION: usize = 6;
const CAT_HEALTH: usize = 7;
const CAT_TRANSPORT: usize = 8;
const CAT_ECOLOGY: usize = 9;

/// The fixed category list the portal uses; indices are the `CAT_*` constants.
static CATEGORIES: [&str; 10] = [
    "Власть",
    "Общество",
    "Экономика",
    "Происшествия",
    "Спорт",
    "Культура",
    "Образование",
    "Здоровье",
    "Транспорт",
    "Экология",
];

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

/// 2022-01-01T00:00:00+03:00 as a Unix timestamp.
const RANGE_START: i64 = 1_640_984_400;
/// 2026-10-31T23:59:59+03:00 as a Unix timestamp.
const RANGE_END: i64 = 1_793_480_399;
/// Number of whole minutes that start inside the range.
const RANGE_MINUTES: u32 = ((RANGE_END - RANGE_START) / 60 + 1) as u32;

/// The ChaCha stream of a seed that decides modification times; stream 0 decides everything else.
const EDIT_STREAM: u64 = 1;

fn edit_stream(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(EDIT_STREAM);
    rng
}

/// Seconds after publication at which an article was last edited, if it was: 80% never, 15%
/// a correction 1–59 minutes later, 5% an update 1–12 hours later (seconds random in both).
fn edit_delay(rng: &mut ChaCha8Rng) -> Option<i64> {
    let roll = rng.random_range(0..100u32);
    let seconds = i64::from(rng.random_range(0..60u32));
    match roll {
        0..80 => None,
        80..95 => Some(i64::from(rng.random_range(1..60u32)) * 60 + seconds),
        _ => Some(i64::from(rng.random_range(1..=12u32)) * 3600 + seconds),
    }
}

/// UTC offsets (seconds east) used for `published_at`, Moscow first; 0 is
/// written as `Z`.
const OFFSET_SECS: [i32; 6] = [3 * 3600, 2 * 3600, 5 * 3600, 7 * 3600, 10 * 3600, 0];
/// Weights out of 100 for [`OFFSET_SECS`]: mostly Moscow time.
const OFFSET_WEIGHTS: [u32; 6] = [72, 5, 8, 5, 4, 6];

/// The fixed offsets, built once so that the per-article path has no
/// fallible construction.
struct Offsets([FixedOffset; 6]);

impl Offsets {
    fn new() -> io::Result<Self> {
        let mut list = [FixedOffset::east_opt(0).ok_or_else(bad_offset)?; 6];
        for (slot, secs) in list.iter_mut().zip(OFFSET_SECS) {
            *slot = FixedOffset::east_opt(secs).ok_or_else(bad_offset)?;
        }
        Ok(Offsets(list))
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> FixedOffset {
        let mut roll = rng.random_range(0..100u32);
        for (offset, weight) in self.0.iter().zip(OFFSET_WEIGHTS) {
            if roll < weight {
                return *offset;
            }
            roll -= weight;
        }
        self.0[0]
    }
}

fn bad_offset() -> io::Error {
    io::Error::other("invalid UTC offset constant")
}

// ---------------------------------------------------------------------------
// Russian declension of region names
// ---------------------------------------------------------------------------

/// The grammatical cases the templates need.
#[derive(Clone, Copy)]
enum Case {
    /// «в Нижегородской области».
    Prepositional,
    /// «жители Нижегородской области».
    Genitive,
}

/// A region with its name pre-declined once, so that titles read
/// «В Нижегородской области открылась…» rather than a nominative pasted in.
struct RegionForms<'a> {
    code: &'a str,
    nom: String,
    prep: String,
    genitive: String,
}

impl<'a> RegionForms<'a> {
    fn new(region: &GenRegion<'a>) -> Self {
        // Titles must stay free of control characters whatever the region file holds.
        let nom: String = region
            .name_ru
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let nom = nom.trim().to_string();
        let nom = if nom.is_empty() {
            region.code.chars().filter(|c| !c.is_control()).collect()
        } else {
            nom
        };
        let prep = decline_name(&nom, Case::Prepositional).unwrap_or_else(|| format!("регионе «{nom}»"));
        let genitive = decline_name(&nom, Case::Genitive).unwrap_or_else(|| format!("региона «{nom}»"));
        RegionForms {
            code: region.code,
            nom,
            prep,
            genitive,
        }
    }
}

/// Declines a Russian region name («Кемеровская область — Кузбасс»,
/// «Республика Саха (Якутия)», «Москва», «Чукотский автономный округ»).
///
/// The head before « — » or « (» and an apposition after « — » are declined
/// («Кемеровской области — Кузбассе»); a parenthesis is kept as is, and for
/// «Республика X» only the first word is declined, as is customary. Returns `None` when a word does not look like Russian
/// text that these simple rules cover, so the caller can fall back to a
/// construction that needs no declension.
fn decline_name(name: &str, case: Case) -> Option<String> {
    let cut = [" — ", " ("]
        .iter()
        .filter_map(|sep| name.find(sep))
        .min()
        .unwrap_or(name.len());
    let (head, tail) = name.split_at(cut);
    let mut out = String::with_capacity(name.len() + 8);
    if let Some(rest) = head.strip_prefix("Республика ") {
        // «Республика Северная Осетия — Алания»: the rest stays in the nominative.
        out.push_str(decline_word("Республика", case)?.as_str());
        out.push(' ');
        out.push_str(rest);
        out.push_str(tail);
        return Some(out);
    }
    decline_words(head, case, &mut out)?;
    if let Some(apposition) = tail.strip_prefix(" — ") {
        // «Кемеровской области — Кузбассе», «автономном округе — Югре».
        out.push_str(" — ");
        decline_words(apposition, case, &mut out)?;
        return Some(out);
    }
    out.push_str(tail);
    Some(out)
}

/// Declines the space-separated words of `phrase` into `out`.
fn decline_words(phrase: &str, case: Case, out: &mut String) -> Option<()> {
    for (i, word) in phrase.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&decline_word(word, case)?);
    }
    Some(())
}

/// Declines one word of a region name by its ending (adjective or noun).
fn decline_word(word: &str, case: Case) -> Option<String> {
    const CONSONANTS: &str = "бвгджзклмнпрстфхцчшщ";
    const INDECLINABLE: &str = "оеиуыэю";
    const HUSHING_VELAR: &str = "гкхжчшщ";
    let prep = matches!(case, Case::Prepositional);
    let swap = |suffix_len: usize, ending: &str| {
        let stem_end = word.len() - suffix_len;
        let mut s = String::with_capacity(word.len() + 4);
        s.push_str(&word[..stem_end]);
        s.push_str(ending);
        s
    };
    let last = word.chars().next_back()?;
    let last_len = last.len_utf8();
    let before = word[..word.len() - last_len].chars().next_back();
    let two = |a: char, b: char| before == Some(a) && last == b;
    let pair_len = last_len + before.map_or(0, char::len_utf8);
    let res = if two('а', 'я') {
        swap(pair_len, "ой")
    } else if two('я', 'я') {
        swap(pair_len, "ей")
    } else if two('и', 'й') || two('ы', 'й') || two('о', 'й') {
        swap(pair_len, if prep { "ом" } else { "ого" })
    } else if two('и', 'я') {
        swap(pair_len, "ии")
    } else if last == 'ь' {
        swap(last_len, "и")
    } else if last == 'а' {
        let velar = before.is_some_and(|c| HUSHING_VELAR.contains(c));
        swap(
            last_len,
            if prep {
                "е"
            } else if velar {
                "и"
            } else {
                "ы"
            },
        )
    } else if last == 'я' {
        swap(last_len, if prep { "е" } else { "и" })
    } else if last == 'й' {
        swap(last_len, if prep { "е" } else { "я" })
    } else if CONSONANTS.contains(last) {
        let mut s = String::with_capacity(word.len() + 2);
        s.push_str(word);
        s.push(if prep { 'е' } else { 'а' });
        s
    } else if INDECLINABLE.contains(last) {
        word.to_string()
    } else {
        return None;
    };
    Some(res)
}

// ---------------------------------------------------------------------------
// Word lists
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Gender {
    M,
    F,
    N,
}

/// Things that open: (nominative phrase, gender for verb agreement, category).
/// `{k}` is a multiple of ten, which always takes the genitive plural.
static OBJECTS: [(&str, Gender, usize); 26] = [
    ("новый центр поддержки семей", Gender::M, CAT_SOCIETY),
    ("детский сад на {k} мест", Gender::M, CAT_EDUCATION),
    ("спортивный комплекс", Gender::M, CAT_SPORT),
    ("ледовый дворец", Gender::M, CAT_SPORT),
    ("пешеходный мост", Gender::M, CAT_TRANSPORT),
    ("детский технопарк «Кванториум»", Gender::M, CAT_EDUCATION),
    ("индустриальный парк", Gender::M, CAT_ECONOMY),
    ("онкологический диспансер", Gender::M, CAT_HEALTH),
    ("сквер у набережной", Gender::M, CAT_ECOLOGY),
    ("многофункциональный центр", Gender::M, CAT_POWER),
    ("мусоросортировочный комплекс", Gender::M, CAT_ECOLOGY),
    ("краеведческий музей", Gender::M, CAT_CULTURE),
    ("автовокзал", Gender::M, CAT_TRANSPORT),
    ("современная поликлиника", Gender::F, CAT_HEALTH),
    ("школа на {k} учеников", Gender::F, CAT_EDUCATION),
    ("модельная библиотека", Gender::F, CAT_CULTURE),
    ("ледовая арена", Gender::F, CAT_SPORT),
    ("станция скорой помощи", Gender::F, CAT_HEALTH),
    ("экологическая тропа", Gender::F, CAT_ECOLOGY),
    ("новая трамвайная линия", Gender::F, CAT_TRANSPORT),
    ("IT-академия для подростков", Gender::F, CAT_EDUCATION),
    ("ярмарка местных фермеров", Gender::F, CAT_ECONOMY),
    ("молодёжное пространство", Gender::N, CAT_SOCIETY),
    ("отделение реабилитации", Gender::N, CAT_HEALTH),
    ("новое трамвайное депо", Gender::N, CAT_TRANSPORT),
    ("креативное пространство «Точка»", Gender::N, CAT_CULTURE),
];

/// Verbs agreeing with [`OBJECTS`]: masculine, feminine, neuter.
static OPEN_VERBS: [[&str; 3]; 7] = [
    ["открылся", "открылась", "открылось"],
    ["заработал", "заработала", "заработало"],
    ["появился", "появилась", "появилось"],
    ["начал работу", "начала работу", "начало работу"],
    ["откроется", "откроется", "откроется"],
    ["появится", "появится", "появится"],
    [
        "после ремонта открылся",
        "после ремонта открылась",
        "после ремонта открылось",
    ],
];

static OPEN_TAILS: [&str; 12] = [
    "",
    "",
    " в районном центре",
    " в новом микрорайоне",
    " для жителей отдалённых сёл",
    " на месте заброшенного завода",
    " по национальному проекту",
    " при поддержке местного бизнеса",
    " раньше срока",
    " после долгого перерыва",
    " на средства инвестора",
    " в {y} году",
];

/// Plural subjects followed by the region in the genitive.
static SUBJECTS: [(&str, usize); 12] = [
    ("Власти", CAT_POWER),
    ("Депутаты", CAT_POWER),
    ("Жители", CAT_SOCIETY),
    ("Аграрии", CAT_ECONOMY),
    ("Предприниматели", CAT_ECONOMY),
    ("Врачи", CAT_HEALTH),
    ("Школьники", CAT_EDUCATION),
    ("Волонтёры", CAT_SOCIETY),
    ("Спасатели", CAT_INCIDENTS),
    ("Экологи", CAT_ECOLOGY),
    ("Студенты", CAT_EDUCATION),
    ("Перевозчики", CAT_TRANSPORT),
];

static SUBJECT_VERBS: [&str; 6] = [
    "обсудили",
    "оценили",
    "поддержали",
    "обсуждают",
    "раскритиковали",
    "предложили изменить",
];

/// Where the subjects spoke up; multiplies the variety of those titles.
static SUBJECT_TAILS: [&str; 8] = [
    "",
    "",
    " на публичных слушаниях",
    " на встрече с губернатором",
    " в соцсетях",
    " на заседании общественной палаты",
    " на круглом столе",
    " после жалоб жителей",
];

/// Accusative topics for [`SUBJECT_VERBS`].
static TOPICS_ACC: [&str; 16] = [
    "новые правила парковки",
    "программу капремонта",
    "развитие общественного транспорта",
    "проект бюджета на {y} год",
    "итоги летнего сезона",
    "план благоустройства набережной",
    "меры поддержки многодетных семей",
    "работу управляющих компаний",
    "тарифы на вывоз мусора",
    "строительство новой объездной дороги",
    "подготовку к отопительному сезону",
    "график движения пригородных поездов",
    "расписание школьных автобусов",
    "правила выдачи земельных участков",
    "проект нового парка",
    "стратегию развития туризма",
];

/// Facts with numbers; they read both after «В {region}» and after «{Region}:».
static FACTS: [(&str, usize); 14] = [
    ("число туристов выросло на {p}%", CAT_ECONOMY),
    ("зарплаты врачей выросли на {p}%", CAT_HEALTH),
    ("инвестиции в экономику увеличились на {p}%", CAT_ECONOMY),
    ("на ремонт дорог направят {m} млн рублей", CAT_TRANSPORT),
    ("на дорогах установят {k} новых камер", CAT_TRANSPORT),
    ("высадили {k} тысяч деревьев", CAT_ECOLOGY),
    ("урожай зерна составил {k} тысяч тонн", CAT_ECONOMY),
    ("газ подвели ещё к {k} домам", CAT_ECONOMY),
    ("в школах открыли {k} новых классов", CAT_EDUCATION),
    ("рождаемость выросла на {p}%", CAT_SOCIETY),
    ("на поддержку фермеров выделят {m} млн рублей", CAT_ECONOMY),
    ("капремонт прошёл в {k} многоквартирных домах", CAT_SOCIETY),
    ("на линии вышли {k} новых автобусов", CAT_TRANSPORT),
    ("выбросы в атмосферу снизились на {p}%", CAT_ECOLOGY),
];

static INCIDENTS: [&str; 18] = [
    "из-за сильного ветра без света остались {k} домов",
    "столкнулись грузовик и рейсовый автобус",
    "на трассе задержали нетрезвого водителя",
    "спасатели сняли рыбаков с оторвавшейся льдины",
    "потушили крупный пожар на складе",
    "ввели режим ЧС из-за паводка",
    "из-за метели закрыли участок федеральной трассы",
    "полицейские раскрыли серию краж из дач",
    "нашли пропавшего в лесу грибника",
    "эвакуировали {k} человек из-за сообщения о пожаре",
    "из-за аварии на теплотрассе без отопления остались {k} домов",
    "лесной пожар охватил {k} гектаров",
    "паводок подтопил {k} приусадебных участков",
    "мошенники похитили у пенсионеров {m} млн рублей",
    "за сутки произошло {k} ДТП",
    "из-за гололёда отменили {k} рейсов автобусов",
    "сотрудники ГИБДД проверили {k} автобусов",
    "спасатели провели рейд на {k} водоёмах",
];

/// Events; `{o}` is an ordinal number, its ending already agreeing.
static EVENTS: [(&str, usize); 14] = [
    ("{o}-й фестиваль уличной еды", CAT_CULTURE),
    ("{o}-й форум молодых предпринимателей", CAT_ECONOMY),
    ("региональный этап чемпионата по самбо", CAT_SPORT),
    ("{o}-я выставка народных промыслов", CAT_CULTURE),
    ("{o}-й лыжный марафон", CAT_SPORT),
    ("акция «Ночь музеев»", CAT_CULTURE),
    ("ярмарка вакансий для выпускников", CAT_ECONOMY),
    ("{o}-й турнир по мини-футболу среди школ", CAT_SPORT),
    ("{o}-й конкурс молодых исполнителей", CAT_CULTURE),
    ("день открытых дверей в колледжах", CAT_EDUCATION),
    ("экологический субботник", CAT_ECOLOGY),
    ("донорская акция", CAT_HEALTH),
    ("{o}-я спартакиада ветеранов", CAT_SPORT),
    ("{o}-я научная конференция студентов", CAT_EDUCATION),
];

static WHEN: [&str; 10] = [
    "",
    " в выходные",
    " в мае",
    " летом",
    " осенью",
    " в сентябре",
    " в декабре",
    " в {y} году",
    " в ноябре",
    " в новом формате",
];

/// When an incident happened; multiplies the variety of incident titles.
static INCIDENT_WHEN: [&str; 12] = [
    "",
    " в понедельник",
    " во вторник",
    " в среду",
    " в четверг",
    " в пятницу",
    " в субботу",
    " в воскресенье",
    " ночью",
    " утром",
    " вечером",
    " накануне",
];

static QUOTES: [&str; 16] = [
    "Ремонт школ завершим к сентябрю",
    "Качество дорог остаётся главным приоритетом",
    "Каждое обращение жителей будет рассмотрено",
    "Нам нужны новые рабочие места в сёлах",
    "Поддержка семей с детьми будет расширена",
    "Отопительный сезон начнётся вовремя",
    "Туристический поток можно удвоить",
    "Скорая помощь должна приезжать за 20 минут",
    "Мы не будем повышать тарифы выше инфляции",
    "Новые школы должны строиться вместе с жильём",
    "Каждый район получит современную поликлинику",
    "Молодые специалисты должны оставаться в регионе",
    "Дороги к сёлам отремонтируем в первую очередь",
    "Бизнесу нужно меньше проверок и больше поддержки",
    "Очереди в детские сады мы ликвидировали",
    "Экология — не менее важна, чем экономика",
];

static QUOTE_WHO: [&str; 8] = [
    "Губернатор",
    "Глава правительства",
    "Министр здравоохранения",
    "Министр образования",
    "Министр транспорта",
    "Министр экономики",
    "Министр сельского хозяйства",
    "Министр культуры",
];

/// Prepositional topics for «рассказали о …».
/// Prepositional topics (with their preposition) for «рассказали …».
static TOPICS_PREP: [(&str, usize); 16] = [
    ("о планах на {y} год", CAT_POWER),
    ("о ходе газификации", CAT_ECONOMY),
    ("о новых мерах поддержки семей", CAT_SOCIETY),
    ("о ремонте {k} школ", CAT_EDUCATION),
    ("о борьбе с борщевиком", CAT_ECOLOGY),
    ("об обновлении автобусного парка", CAT_TRANSPORT),
    ("о подготовке к паводку", CAT_INCIDENTS),
    ("о нехватке врачей в сёлах", CAT_HEALTH),
    ("об итогах туристического сезона", CAT_ECONOMY),
    ("о строительстве {k} км дорог", CAT_TRANSPORT),
    ("о выплатах молодым специалистам", CAT_SOCIETY),
    ("о планах по ремонту {k} дворов", CAT_SOCIETY),
    ("о {k} новых спортивных площадках", CAT_SPORT),
    ("о подготовке к отопительному сезону", CAT_POWER),
    ("о закупке {k} новых автобусов", CAT_TRANSPORT),
    ("о развитии сельского туризма", CAT_ECONOMY),
];

/// Where officials spoke; multiplies the variety of «рассказали …» titles.
static TOLD_WHERE: [&str; 6] = [
    "",
    " на брифинге",
    " на пресс-конференции",
    " в прямом эфире",
    " журналистам",
    " на совещании",
];

/// Tails for percentage facts.
static PCT_TAILS: [&str; 6] = [
    "",
    " за год",
    " в {y} году",
    " за полгода",
    " по итогам {y} года",
    " с начала года",
];

/// One-sentence leads for `summary`; plain text.
static SUMMARY_SENTENCES: [&str; 14] = [
    "Об этом сообщили в пресс-службе правительства {G}.",
    "Решение приняли после обсуждения с жителями, рассказали в администрации.",
    "На реализацию проекта направят {m} млн рублей из регионального и федерального бюджетов.",
    "По данным ведомства, изменения затронут более {k} жителей {G}.",
    "Работы планируют завершить до конца {y} года.",
    "В региональном министерстве уточнили, что это только первый этап программы.",
    "Показатель вырос на {p}% по сравнению с прошлым годом.",
    "Подробности рассказали на еженедельном совещании в правительстве {G}.",
    "Жители уже оценили перемены, следует из опроса в социальных сетях.",
    "Аналогичные проекты в {P} реализуют с {y} года.",
    "Проект поддержали в федеральном центре.",
    "Эксперты называют это одним из самых заметных событий года.",
    "Всего в {P} планируют открыть ещё {k} подобных объектов.",
    "Ситуация находится на контроле профильного министерства.",
];

/// Sentences for `content_html`; plain text, escaped when written
/// (two of them deliberately contain `&` and `<` to exercise escaping).
static BODY_SENTENCES: [&str; 24] = [
    "Как рассказали в правительстве {G}, работы начались ещё весной.",
    "Общая стоимость проекта составила {m} млн рублей.",
    "Участниками программы стали более {k} жителей {G}.",
    "По словам специалистов, спрос на услугу вырос на {p}% за год.",
    "В администрации отметили, что график работ соблюдается.",
    "Подрядчик обязан завершить работы до конца {y} года.",
    "Жители давно просили решить этот вопрос.",
    "Часть средств выделена из федерального бюджета.",
    "В {P} это уже второй подобный проект за последние три года.",
    "Проект реализуют по программе «Наука & бизнес».",
    "Воздух считается чистым, пока индекс его качества < 50.",
    "На объекте трудятся около {k} специалистов.",
    "Власти {G} обещают держать ситуацию на контроле.",
    "Эксперты оценивают эффект от изменений как положительный.",
    "Ранее похожую схему опробовали в соседних регионах.",
    "Для пенсионеров и многодетных семей предусмотрены льготы.",
    "Записаться можно на портале госуслуг или по телефону горячей линии.",
    "Следующий этап запланирован на {y} год.",
    "В прошлом году показатель был ниже на {p}%.",
    "Организаторы ожидают более {k} гостей.",
    "Работы ведутся круглосуточно, в две смены.",
    "Как уточнили в министерстве, жалоб от жителей не поступало.",
    "Информация о ходе работ публикуется на сайте ведомства.",
    "Дополнительно в {P} закупят {k} единиц техники.",
];

static STRONG_LEADS: [&str; 6] = [
    "Главное:",
    "Важно.",
    "Цифра дня:",
    "Что изменится.",
    "Справка.",
    "Напомним.",
];

static LIST_ITEMS: [&str; 10] = [
    "ремонт кровли и фасада",
    "замена окон и дверей",
    "новая система отопления",
    "благоустройство прилегающей территории",
    "доступная среда для маломобильных граждан",
    "освещение и видеонаблюдение",
    "закупка оборудования на {m} млн рублей",
    "{k} новых парковочных мест",
    "детская площадка и зона отдыха",
    "пункт выдачи справок & документов",
];

static LINK_SECTIONS: [(&str, &str); 6] = [
    ("society", "материале о социальных программах"),
    ("economy", "обзоре экономики региона"),
    ("transport", "нашем материале о транспорте"),
    ("culture", "афише на выходные"),
    ("health", "разделе о здравоохранении"),
    ("incidents", "хронике происшествий"),
];

static FIRST_NAMES_M: [&str; 16] = [
    "Александр",
    "Дмитрий",
    "Максим",
    "Сергей",
    "Андрей",
    "Алексей",
    "Артём",
    "Илья",
    "Кирилл",
    "Михаил",
    "Никита",
    "Егор",
    "Иван",
    "Павел",
    "Роман",
    "Владимир",
];

static FIRST_NAMES_F: [&str; 16] = [
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Ирина",
    "Екатерина",
    "Светлана",
    "Юлия",
    "Дарья",
    "Анастасия",
    "Ксения",
    "Полина",
    "Виктория",
    "Алина",
];

/// Masculine surnames; all end in -ов/-ев/-ёв/-ин, so the feminine adds «а».
static SURNAMES: [&str; 32] = [
    "Смирнов",
    "Иванов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Королёв",
    "Ильин",
    "Сорокин",
    "Медведев",
];

/// Used only if a region name is so long that no template fits 140 chars.
const FALLBACK_TITLE: &str = "Главные новости региона за неделю";
const TITLE_MIN_CHARS: usize = 20;
const TITLE_MAX_CHARS: usize = 140;

// ---------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------

/// Per-article text buffers, cleared and reused so that a million articles
/// do not mean millions of fresh string allocations.
#[derive(Default)]
struct Buffers {
    external_id: String,
    title: String,
    summary: String,
    content: String,
    author: String,
    image_url: String,
}

struct Generator<'a> {
    rng: ChaCha8Rng,
    /// The [`EDIT_STREAM`] of the seed: when articles were last edited.
    edits: ChaCha8Rng,
    seed: u64,
    forms: Vec<RegionForms<'a>>,
    offsets: Offsets,
    bufs: Buffers,
}

/// Uniform pick from a non-empty static list, sampled as `u32` for
/// portability of the stream between targets.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len() as u32) as usize]
}

/// Text substitution context for templates.
struct Ctx<'r> {
    region: &'r RegionForms<'r>,
}

/// Expands `{P}` (region, prepositional), `{G}` (genitive), `{N}`
/// (nominative), `{k}` (a multiple of ten, so nouns after it are always
/// genitive plural), `{p}` (a percentage), `{m}` (millions), `{o}` (an
/// ordinal's number, the template carries the ending) and `{y}` (a year)
/// in `template` and appends the result to `out`, HTML-escaping if asked.
fn expand(template: &str, ctx: &Ctx, rng: &mut ChaCha8Rng, out: &mut String, html: bool) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        push_text(out, &rest[..open], html);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            push_text(out, &rest[open..], html);
            return;
        };
        match &after[..close] {
            "P" => push_text(out, &ctx.region.prep, html),
            "G" => push_text(out, &ctx.region.genitive, html),
            "N" => push_text(out, &ctx.region.nom, html),
            "k" => {
                let _ = write!(out, "{}", rng.random_range(1..100u32) * 10);
            }
            "p" => {
                let _ = write!(out, "{}", rng.random_range(2..48u32));
            }
            "m" => {
                let _ = write!(out, "{}", rng.random_range(3..950u32));
            }
            "o" => {
                let _ = write!(out, "{}", rng.random_range(2..31u32));
            }
            "y" => {
                let _ = write!(out, "{}", rng.random_range(2022..2028u32));
            }
            other => {
                out.push('{');
                push_text(out, other, html);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    push_text(out, rest, html);
}

/// Appends `text`, escaping `&`, `<` and `>` when it goes into HTML.
fn push_text(out: &mut String, text: &str, html: bool) {
    if !html {
        out.push_str(text);
        return;
    }
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        out.push_str(rep);
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// Appends `text` with its first letter upper-cased (for sentence starts).
fn push_capitalized(out: &mut String, text: &str) {
    let mut chars = text.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.push_str(chars.as_str());
    }
}

impl Generator<'_> {
    /// Builds article `index` and serializes it, newline-terminated, into `line`.
    fn article(&mut self, index: usize, line: &mut Vec<u8>) -> io::Result<()> {
        let rng = &mut self.rng;
        let bufs = &mut self.bufs;
        let n = self.forms.len() as u32;

        // Regions: one (85%) or two distinct (15%).
        let first = rng.random_range(0..n);
        let mut region_codes: [&str; 2] = [self.forms[first as usize].code, ""];
        let mut region_count = 1;
        if n > 1 && rng.random_ratio(15, 100) {
            let mut second = rng.random_range(0..n - 1);
            if second >= first {
                second += 1;
            }
            region_codes[1] = self.forms[second as usize].code;
            region_count = 2;
        }
        let ctx = Ctx {
            region: &self.forms[first as usize],
        };

        bufs.external_id.clear();
        let _ = write!(bufs.external_id, "gen-{}-{}", self.seed, index);

        let primary = write_title(&ctx, rng, &mut bufs.title);

        bufs.summary.clear();
        let lead = rng.random_range(0..SUMMARY_SENTENCES.len() as u32) as usize;
        expand(SUMMARY_SENTENCES[lead], &ctx, rng, &mut bufs.summary, false);
        if rng.random_ratio(1, 2) {
            let mut next = rng.random_range(0..SUMMARY_SENTENCES.len() as u32 - 1) as usize;
            if next >= lead {
                next += 1;
            }
            bufs.summary.push(' ');
            expand(SUMMARY_SENTENCES[next], &ctx, rng, &mut bufs.summary, false);
        }

        write_content(&ctx, rng, &mut bufs.content);

        let minute = rng.random_range(0..RANGE_MINUTES);
        let offset = self.offsets.pick(rng);
        let published = DateTime::from_timestamp(RANGE_START + i64::from(minute) * 60, 0)
            .ok_or_else(|| io::Error::other("generated timestamp out of range"))?
            .with_timezone(&offset);
        let published_at = published.to_rfc3339_opts(SecondsFormat::Secs, true);
        let modified_at = edit_delay(&mut self.edits).map(|delay| {
            (published + chrono::TimeDelta::seconds(delay)).to_rfc3339_opts(SecondsFormat::Secs, true)
        });

        let mut categories: [&str; 2] = [CATEGORIES[primary], ""];
        let mut category_count = 1;
        if rng.random_ratio(35, 100) {
            let mut second = rng.random_range(0..CATEGORIES.len() as u32 - 1) as usize;
            if second >= primary {
                second += 1;
            }
            categories[1] = CATEGORIES[second];
            category_count = 2;
        }

        let author = if rng.random_ratio(1, 2) {
            bufs.author.clear();
            let surname = pick(rng, &SURNAMES);
            if rng.random_ratio(1, 2) {
                bufs.author.push_str(pick(rng, &FIRST_NAMES_F));
                bufs.author.push(' ');
                bufs.author.push_str(surname);
                bufs.author.push('а');
            } else {
                bufs.author.push_str(pick(rng, &FIRST_NAMES_M));
                bufs.author.push(' ');
                bufs.author.push_str(surname);
            }
            Some(bufs.author.as_str())
        } else {
            None
        };

        let s1 = rng.random_range(0..SOURCES.len() as u32) as usize;
        let mut sources: [&'static Source; 2] = [&SOURCES[s1], &SOURCES[s1]];
        let mut source_count = 1;
        if rng.random_ratio(30, 100) {
            let mut s2 = rng.random_range(0..SOURCES.len() as u32 - 1) as usize;
            if s2 >= s1 {
                s2 += 1;
            }
            sources[1] = &SOURCES[s2];
            source_count = 2;
        }

        let image = if rng.random_ratio(40, 100) {
            bufs.image_url.clear();
            let _ = write!(bufs.image_url, "https://news.example.ru/images/{index}.jpg");
            Some(Image {
                url: &bufs.image_url,
                mime: "image/jpeg",
                length: rng.random_range(20_000..400_000u32),
            })
        } else {
            None
        };

        // Skewed towards small numbers, as real view counts are.
        let views = rng.random_range(0..50_000u32).min(rng.random_range(0..50_000u32));

        let article = Article {
            external_id: &bufs.external_id,
            title: &bufs.title,
            summary: &bufs.summary,
            content_html: &bufs.content,
            published_at: &published_at,
            modified_at: modified_at.as_deref(),
            regions: &region_codes[..region_count],
            categories: &categories[..category_count],
            author,
            sources: &sources[..source_count],
            image,
            views,
        };
        line.clear();
        serde_json::to_writer(&mut *line, &article)?;
        line.push(b'\n');
        Ok(())
    }
}

/// Writes a headline into `out` (cleared first) and returns its category.
///
/// Tries random templates until one fits 20..=140 characters; only an absurdly
/// long region name can exhaust the attempts, then [`FALLBACK_TITLE`] is used.
fn write_title(ctx: &Ctx, rng: &mut ChaCha8Rng, out: &mut String) -> usize {
    for _ in 0..8 {
        out.clear();
        let category = title_attempt(ctx, rng, out);
        let len = out.chars().count();
        if (TITLE_MIN_CHARS..=TITLE_MAX_CHARS).contains(&len) {
            return category;
        }
    }
    out.clear();
    out.push_str(FALLBACK_TITLE);
    CAT_SOCIETY
}

fn title_attempt(ctx: &Ctx, rng: &mut ChaCha8Rng, out: &mut String) -> usize {
    let region = ctx.region;
    match rng.random_range(0..9u32) {
        0 | 1 => {
            let (object, gender, category) = pick(rng, &OBJECTS);
            let verb = pick(rng, &OPEN_VERBS)[gender as usize];
            if rng.random_ratio(1, 3) {
                // «Новая поликлиника открылась в Омской области»
                expand(object, ctx, rng, out, false);
                capitalize_in_place(out);
                out.push(' ');
                out.push_str(verb);
                out.push_str(" в ");
                out.push_str(&region.prep);
            } else {
                out.push_str("В ");
                out.push_str(&region.prep);
                out.push(' ');
                out.push_str(verb);
                out.push(' ');
                expand(object, ctx, rng, out, false);
            }
            expand(pick(rng, &OPEN_TAILS), ctx, rng, out, false);
            category
        }
        2 | 3 => {
            let (subject, category) = pick(rng, &SUBJECTS);
            out.push_str(subject);
            out.push(' ');
            out.push_str(&region.genitive);
            out.push(' ');
            out.push_str(pick(rng, &SUBJECT_VERBS));
            out.push(' ');
            expand(pick(rng, &TOPICS_ACC), ctx, rng, out, false);
            out.push_str(pick(rng, &SUBJECT_TAILS));
            category
        }
        4 | 5 => {
            let (fact, category) = pick(rng, &FACTS);
            if rng.random_ratio(1, 2) {
                out.push_str(&region.nom);
                out.push_str(": ");
            } else {
                out.push_str("В ");
                out.push_str(&region.prep);
                out.push(' ');
            }
            expand(fact, ctx, rng, out, false);
            if fact.ends_with('%') {
                expand(pick(rng, &PCT_TAILS), ctx, rng, out, false);
            }
            category
        }
        6 => {
            out.push_str("В ");
            out.push_str(&region.prep);
            out.push_str(pick(rng, &INCIDENT_WHEN));
            out.push(' ');
            expand(pick(rng, &INCIDENTS), ctx, rng, out, false);
            CAT_INCIDENTS
        }
        7 => {
            let (event, category) = pick(rng, &EVENTS);
            if rng.random_ratio(1, 2) {
                // «В Омской области пройдёт лыжный марафон»
                out.push_str("В ");
                out.push_str(&region.prep);
                out.push_str(" пройдёт ");
                expand(event, ctx, rng, out, false);
            } else {
                // «Лыжный марафон пройдёт в Омской области»
                expand(event, ctx, rng, out, false);
                capitalize_in_place(out);
                out.push_str(" пройдёт в ");
                out.push_str(&region.prep);
            }
            expand(pick(rng, &WHEN), ctx, rng, out, false);
            category
        }
        _ => {
            if rng.random_ratio(1, 2) {
                let who = pick(rng, &QUOTE_WHO);
                let quote = pick(rng, &QUOTES);
                if rng.random_ratio(1, 2) {
                    // «Губернатор Омской области: «…»»
                    out.push_str(who);
                    out.push(' ');
                    out.push_str(&region.genitive);
                    out.push_str(": «");
                    out.push_str(quote);
                    out.push('»');
                } else {
                    // «…», — губернатор Омской области
                    out.push('«');
                    out.push_str(quote);
                    out.push_str("», — ");
                    push_lowercased_first(out, who);
                    out.push(' ');
                    out.push_str(&region.genitive);
                }
                CAT_POWER
            } else {
                let (topic, category) = pick(rng, &TOPICS_PREP);
                out.push_str("В правительстве ");
                out.push_str(&region.genitive);
                out.push_str(" рассказали");
                out.push_str(pick(rng, &TOLD_WHERE));
                out.push(' ');
                expand(topic, ctx, rng, out, false);
                category
            }
        }
    }
}

/// Appends `text` with its first letter lower-cased (a title word moved
/// after a quote).
fn push_lowercased_first(out: &mut String, text: &str) {
    let mut chars = text.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_lowercase());
        out.push_str(chars.as_str());
    }
}

/// Upper-cases the first letter of `s` (objects are listed in lower case).
fn capitalize_in_place(s: &mut String) {
    let Some(first) = s.chars().next() else {
        return;
    };
    if first.is_uppercase() {
        return;
    }
    let rest_start = first.len_utf8();
    let mut fixed = String::with_capacity(s.len() + 2);
    push_capitalized(&mut fixed, &s[..rest_start]);
    fixed.push_str(&s[rest_start..]);
    *s = fixed;
}

/// Writes 2–5 `<p>` paragraphs (cleared first), sometimes with `<strong>`,
/// a link to the portal, and a `<ul>` list between paragraphs.
fn write_content(ctx: &Ctx, rng: &mut ChaCha8Rng, out: &mut String) {
    out.clear();
    let paragraphs = rng.random_range(2..6u32);
    let list_after = if rng.random_ratio(1, 5) {
        Some(rng.random_range(0..paragraphs))
    } else {
        None
    };
    let link_in = if rng.random_ratio(1, 3) {
        Some(rng.random_range(0..paragraphs))
    } else {
        None
    };
    // At most 5 * 3 = 15 of the 24 sentences are used, so re-drawing a
    // sentence already used always terminates quickly.
    let mut used: u32 = 0;
    for p in 0..paragraphs {
        out.push_str("<p>");
        if rng.random_ratio(1, 8) {
            out.push_str("<strong>");
            push_text(out, pick(rng, &STRONG_LEADS), true);
            out.push_str("</strong> ");
        }
        let sentences = rng.random_range(1..4u32);
        for s in 0..sentences {
            if s > 0 {
                out.push(' ');
            }
            let sentence = loop {
                let i = rng.random_range(0..BODY_SENTENCES.len() as u32);
                if used & (1 << i) == 0 {
                    used |= 1 << i;
                    break BODY_SENTENCES[i as usize];
                }
            };
            expand(sentence, ctx, rng, out, true);
        }
        if link_in == Some(p) {
            let (section, anchor) = pick(rng, &LINK_SECTIONS);
            let _ = write!(
                out,
                " Подробнее — в <a href=\"https://news.example.ru/{section}/{}\">",
                rng.random_range(1000..1_000_000u32)
            );
            push_text(out, anchor, true);
            out.push_str("</a>.");
        }
        out.push_str("</p>");
        if list_after == Some(p) {
            out.push_str("<ul>");
            let items = rng.random_range(2..5u32);
            for _ in 0..items {
                out.push_str("<li>");
                expand(pick(rng, &LIST_ITEMS), ctx, rng, out, true);
                out.push_str("</li>");
            }
            out.push_str("</ul>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// The 83 regions of the project's `data/regions-ru.tsv` plus the country
    /// entry the region directory adds: 84 (code, name) pairs.
    const REGIONS_TSV: &str = "\
RU-AD\tРеспублика Адыгея
RU-AL\tРеспублика Алтай
RU-BA\tРеспублика Башкортостан
RU-BU\tРеспублика Бурятия
RU-CE\tЧеченская Республика
RU-CU\tЧувашская Республика
RU-DA\tРеспублика Дагестан
RU-IN\tРеспублика Ингушетия
RU-KB\tКабардино-Балкарская Республика
RU-KL\tРеспублика Калмыкия
RU-KC\tКарачаево-Черкесская Республика
RU-KR\tРеспублика Карелия
RU-KK\tРеспублика Хакасия
RU-KO\tРеспублика Коми
RU-ME\tРеспублика Марий Эл
RU-MO\tРеспублика Мордовия
RU-SA\tРеспублика Саха (Якутия)
RU-SE\tРеспублика Северная Осетия — Алания
RU-TA\tРеспублика Татарстан
RU-TY\tРеспублика Тыва
RU-UD\tУдмуртская Республика
RU-ALT\tАлтайский край
RU-KAM\tКамчатский край
RU-KHA\tХабаровский край
RU-KDA\tКраснодарский край
RU-KYA\tКрасноярский край
RU-PER\tПермский край
RU-PRI\tПриморский край
RU-STA\tСтавропольский край
RU-ZAB\tЗабайкальский край
RU-AMU\tАмурская область
RU-ARK\tАрхангельская область
RU-AST\tАстраханская область
RU-BEL\tБелгородская область
RU-BRY\tБрянская область
RU-CHE\tЧелябинская область
RU-IRK\tИркутская область
RU-IVA\tИвановская область
RU-KGD\tКалининградская область
RU-KLU\tКалужская область
RU-KEM\tКемеровская область — Кузбасс
RU-KIR\tКировская область
RU-KOS\tКостромская область
RU-KGN\tКурганская область
RU-KRS\tКурская область
RU-LEN\tЛенинградская область
RU-LIP\tЛипецкая область
RU-MAG\tМагаданская область
RU-MOS\tМосковская область
RU-MUR\tМурманская область
RU-NIZ\tНижегородская область
RU-NGR\tНовгородская область
RU-NVS\tНовосибирская область
RU-OMS\tОмская область
RU-ORE\tОренбургская область
RU-ORL\tОрловская область
RU-PNZ\tПензенская область
RU-PSK\tПсковская область
RU-ROS\tРостовская область
RU-RYA\tРязанская область
RU-SAK\tСахалинская область
RU-SAM\tСамарская область
RU-SAR\tСаратовская область
RU-SMO\tСмоленская область
RU-SVE\tСвердловская область
RU-TAM\tТамбовская область
RU-TOM\tТомская область
RU-TUL\tТульская область
RU-TVE\tТверская область
RU-TYU\tТюменская область
RU-ULY\tУльяновская область
RU-VLA\tВладимирская область
RU-VGG\tВолгоградская область
RU-VLG\tВологодская область
RU-VOR\tВоронежская область
RU-YAR\tЯрославская область
RU-MOW\tМосква
RU-SPE\tСанкт-Петербург
RU-YEV\tЕврейская автономная область
RU-CHU\tЧукотский автономный округ
RU-KHM\tХанты-Мансийский автономный округ — Югра
RU-NEN\tНенецкий автономный округ
RU-YAN\tЯмало-Ненецкий автономный округ
RU\tРоссия";

    const FIXTURE: &str = r#"{
        "external_id": "kupno-strategic-session-2023-07-20",
        "title": "Заместители глав более 60 регионов собрались на стратегическую сессию в Нижегородской области",
        "summary": "Сессия по клиентоцентричности началась на площадке КУПНО.",
        "content_html": "<p>Участники &amp; гости</p>",
        "published_at": "2023-07-20T17:26:00+03:00",
        "regions": ["RU-NIZ"],
        "categories": ["Власть", "Общество"],
        "sources": [{"name": "Время Н"}, {"name": "РИА"}],
        "views": 123,
        "link": "https://news.example.ru/articles/kupno-strategic-session-2023-07-20"
    }"#;

    fn regions() -> Vec<GenRegion<'static>> {
        REGIONS_TSV
            .lines()
            .map(|l| {
                let (code, name_ru) = l.split_once('\t').unwrap();
                GenRegion { code, name_ru }
            })
            .collect()
    }

    fn corpus(articles: usize, seed: u64) -> String {
        let mut out = Vec::new();
        write_corpus(&GenOptions { articles, seed }, &regions(), FIXTURE, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = corpus(2000, 42);
        let b = corpus(2000, 42);
        assert_eq!(a, b);
        let c = corpus(2000, 43);
        assert_ne!(a, c);
        // A shorter corpus is a prefix of a longer one with the same seed.
        assert!(a.starts_with(&corpus(500, 42)));
    }

    #[test]
    fn line_count_and_empty() {
        assert_eq!(corpus(0, 1), "");
        assert_eq!(corpus(1, 1).lines().count(), 1);
        assert_eq!(corpus(137, 1).lines().count(), 137);
    }

    #[test]
    fn first_line_is_compacted_fixture() {
        let text = corpus(10, 7);
        let first = text.lines().next().unwrap();
        let want: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        let got: serde_json::Value = serde_json::from_str(first).unwrap();
        assert_eq!(got, want);
        assert_eq!(first, serde_json::to_string(&want).unwrap());
    }

    #[test]
    fn anchoring_moves_every_date_by_one_amount_to_the_given_latest() {
        let text = corpus(300, 3);
        let latest = DateTime::parse_from_rfc3339("2030-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let anchored = String::from_utf8(anchor_corpus(text.as_bytes(), latest).unwrap()).unwrap();
        assert_eq!(anchored.lines().count(), 300);
        let mut newest = None;
        let mut shifts = std::collections::BTreeSet::new();
        for (before, after) in text.lines().zip(anchored.lines()) {
            let (b, a): (serde_json::Value, serde_json::Value) = (
                serde_json::from_str(before).unwrap(),
                serde_json::from_str(after).unwrap(),
            );
            assert_eq!(b["external_id"], a["external_id"]);
            assert_eq!(b["title"], a["title"]);
            for field in DATED_FIELDS {
                let (Some(b), Some(a)) = (b[field].as_str(), a[field].as_str()) else {
                    assert_eq!(b[field], a[field], "{field} present in both or neither");
                    continue;
                };
                let (b, a) = (
                    DateTime::parse_from_rfc3339(b).unwrap(),
                    DateTime::parse_from_rfc3339(a).unwrap(),
                );
                assert_eq!(b.offset(), a.offset(), "each date keeps its own offset");
                shifts.insert(a - b);
                newest = newest.max(Some(a));
            }
        }
        assert_eq!(shifts.len(), 1, "one shift for every date: {shifts:?}");
        assert_eq!(newest.unwrap(), latest);
        assert_eq!(
            anchor_corpus(b"[1]\n", latest).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(anchor_corpus(b"", latest).unwrap(), b"");
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut out = Vec::new();
        let opts = GenOptions { articles: 3, seed: 1 };
        let err = write_corpus(&opts, &regions(), "not json", &mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = write_corpus(&opts, &regions(), "[1]", &mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = write_corpus(&opts, &[], FIXTURE, &mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn lines_have_exactly_the_article_fields() {
        let required = [
            "external_id",
            "title",
            "summary",
            "content_html",
            "published_at",
            "regions",
            "categories",
            "sources",
            "views",
        ];
        let allowed: HashSet<&str> = required
            .iter()
            .copied()
            .chain(["author", "image", "modified_at"])
            .collect();
        let codes: HashSet<&str> = regions().iter().map(|r| r.code).collect();
        let source_names: HashSet<&str> = SOURCES.iter().map(|s| s.name).collect();
        let text = corpus(5000, 2024);
        let mut ids = HashSet::new();
        let (mut with_author, mut with_image, mut two_regions) = (0, 0, 0);
        for line in text.lines().skip(1) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let obj = v.as_object().unwrap();
            for key in required {
                assert!(obj.contains_key(key), "missing {key}: {line}");
            }
            for key in obj.keys() {
                assert!(allowed.contains(key.as_str()), "extra {key}: {line}");
            }
            assert!(ids.insert(obj["external_id"].as_str().unwrap().to_string()));
            let summary = obj["summary"].as_str().unwrap();
            assert!(!summary.is_empty() && !summary.chars().any(char::is_control));
            let html = obj["content_html"].as_str().unwrap();
            let paragraphs = html.matches("<p>").count();
            assert!((2..=5).contains(&paragraphs), "{html}");
            assert_eq!(paragraphs, html.matches("</p>").count());
            assert!(!html.contains("& "), "unescaped ampersand: {html}");
            assert!(!html.contains(" < "), "unescaped less-than: {html}");
            let regs: Vec<&str> = obj["regions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            assert!(regs.len() == 1 || (regs.len() == 2 && regs[0] != regs[1]));
            assert!(regs.iter().all(|r| codes.contains(r)));
            two_regions += usize::from(regs.len() == 2);
            let cats = obj["categories"].as_array().unwrap();
            assert!((1..=2).contains(&cats.len()));
            assert!(cats.iter().all(|c| CATEGORIES.contains(&c.as_str().unwrap())));
            if cats.len() == 2 {
                assert_ne!(cats[0], cats[1]);
            }
            let sources = obj["sources"].as_array().unwrap();
            assert!((1..=2).contains(&sources.len()));
            for s in sources {
                assert!(source_names.contains(s["name"].as_str().unwrap()));
            }
            if let Some(author) = obj.get("author") {
                assert_eq!(author.as_str().unwrap().split(' ').count(), 2);
                with_author += 1;
            }
            if let Some(image) = obj.get("image") {
                assert!(image["url"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://news.example.ru/images/"));
                assert_eq!(image["type"], "image/jpeg");
                let len = image["length"].as_u64().unwrap();
                assert!((20_000..400_000).contains(&len));
                with_image += 1;
            }
            assert!(obj["views"].as_u64().unwrap() < 50_000);
        }
        assert!((2200..2800).contains(&with_author), "{with_author}");
        assert!((1700..2300).contains(&with_image), "{with_image}");
        assert!((550..950).contains(&two_regions), "{two_regions}");
    }

    #[test]
    fn dates_in_range_with_offsets() {
        let start = DateTime::parse_from_rfc3339("2022-01-01T00:00:00+03:00").unwrap();
        let end = DateTime::parse_from_rfc3339("2026-10-31T23:59:59+03:00").unwrap();
        assert_eq!(start.timestamp(), RANGE_START);
        assert_eq!(end.timestamp(), RANGE_END);
        let text = corpus(5000, 9);
        let mut offsets: HashMap<String, usize> = HashMap::new();
        let (mut min, mut max) = (end, start);
        for line in text.lines().skip(1) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let s = v["published_at"].as_str().unwrap();
            let t = DateTime::parse_from_rfc3339(s).unwrap();
            assert!(t >= start && t <= end, "{s}");
            assert_eq!(t.timestamp() % 60, 0, "minute precision: {s}");
            assert!(s.ends_with('Z') || s[s.len() - 6..].starts_with('+'), "{s}");
            let suffix = if s.ends_with('Z') { "Z" } else { &s[s.len() - 6..] };
            *offsets.entry(suffix.to_string()).or_default() += 1;
            min = min.min(t);
            max = max.max(t);
        }
        assert!(offsets["+03:00"] > 3000, "{offsets:?}");
        for o in ["+02:00", "+05:00", "+07:00", "+10:00", "Z"] {
            assert!(offsets.get(o).copied().unwrap_or(0) > 50, "{o}: {offsets:?}");
        }
        // Spread over the whole range, not bunched.
        assert!(min < DateTime::parse_from_rfc3339("2022-02-01T00:00:00+03:00").unwrap());
        assert!(max > DateTime::parse_from_rfc3339("2026-10-01T00:00:00+03:00").unwrap());
    }

    #[test]
    fn some_articles_were_edited_minutes_or_hours_later() {
        let text = corpus(5000, 11);
        let (mut minutes, mut hours) = (0, 0);
        for line in text.lines().skip(1) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let Some(m) = v.get("modified_at") else { continue };
            let p = v["published_at"].as_str().unwrap();
            let m = m.as_str().unwrap();
            let (p, m) = (
                DateTime::parse_from_rfc3339(p).unwrap(),
                DateTime::parse_from_rfc3339(m).unwrap(),
            );
            let delay = m - p;
            assert!(
                delay.num_seconds() >= 60 && delay.num_seconds() < 13 * 3600,
                "{p} {m}"
            );
            assert_eq!(p.offset(), m.offset(), "the article's own offset: {p} {m}");
            if delay.num_hours() == 0 {
                minutes += 1;
            } else {
                hours += 1;
            }
        }
        assert!((600..900).contains(&minutes), "{minutes}");
        assert!((170..330).contains(&hours), "{hours}");
    }

    #[test]
    fn edit_times_do_not_disturb_the_other_fields() {
        // Modification times come from their own stream: with another edit stream, every
        // other field of every article is the same.
        let regs = regions();
        let generate = |edit_seed: u64| {
            let mut g = Generator {
                rng: ChaCha8Rng::seed_from_u64(42),
                edits: edit_stream(edit_seed),
                seed: 42,
                forms: regs.iter().map(RegionForms::new).collect(),
                offsets: Offsets::new().unwrap(),
                bufs: Buffers::default(),
            };
            let mut lines = Vec::new();
            let mut line = Vec::new();
            for index in 1..200 {
                g.article(index, &mut line).unwrap();
                let mut v: serde_json::Value = serde_json::from_slice(&line).unwrap();
                let edited = v.as_object_mut().unwrap().remove("modified_at").is_some();
                lines.push((v, edited));
            }
            lines
        };
        let (a, b) = (generate(42), generate(7));
        let fields = |l: &[(serde_json::Value, bool)]| l.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>();
        assert_eq!(fields(&a), fields(&b));
        assert_ne!(a, b, "the edit streams differ");
        let c = corpus(200, 42);
        let from_corpus: Vec<serde_json::Value> = c
            .lines()
            .skip(1)
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("modified_at");
                v
            })
            .collect();
        assert_eq!(from_corpus, fields(&a));
    }

    #[test]
    fn every_region_gets_dozens() {
        let regs = regions();
        assert_eq!(regs.len(), 84);
        let text = corpus(5000, 1);
        let mut counts: HashMap<String, usize> = HashMap::new();
        for line in text.lines().skip(1) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            for r in v["regions"].as_array().unwrap() {
                *counts.entry(r.as_str().unwrap().to_string()).or_default() += 1;
            }
        }
        for r in &regs {
            let c = counts.get(r.code).copied().unwrap_or(0);
            assert!(c >= 24, "{} has only {c} articles", r.code);
        }
    }

    #[test]
    fn titles_fit_and_rarely_repeat() {
        let text = corpus(20_000, 5);
        let mut titles = HashSet::new();
        for line in text.lines().skip(1) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let title = v["title"].as_str().unwrap();
            let len = title.chars().count();
            assert!((20..=140).contains(&len), "{len}: {title}");
            assert!(!title.chars().any(char::is_control), "{title}");
            assert!(!title.contains("  ") && !title.contains('{'), "{title}");
            titles.insert(title.to_string());
        }
        let unique = titles.len() as f64 / 19_999.0;
        assert!(unique > 0.9, "only {unique:.3} of titles are unique");
    }

    #[test]
    fn region_names_are_declined() {
        let cases = [
            (
                "Нижегородская область",
                "Нижегородской области",
                "Нижегородской области",
            ),
            ("Москва", "Москве", "Москвы"),
            ("Санкт-Петербург", "Санкт-Петербурге", "Санкт-Петербурга"),
            ("Алтайский край", "Алтайском крае", "Алтайского края"),
            (
                "Республика Саха (Якутия)",
                "Республике Саха (Якутия)",
                "Республики Саха (Якутия)",
            ),
            (
                "Чеченская Республика",
                "Чеченской Республике",
                "Чеченской Республики",
            ),
            (
                "Кемеровская область — Кузбасс",
                "Кемеровской области — Кузбассе",
                "Кемеровской области — Кузбасса",
            ),
            (
                "Чукотский автономный округ",
                "Чукотском автономном округе",
                "Чукотского автономного округа",
            ),
            (
                "Еврейская автономная область",
                "Еврейской автономной области",
                "Еврейской автономной области",
            ),
            ("Россия", "России", "России"),
            (
                "Ханты-Мансийский автономный округ — Югра",
                "Ханты-Мансийском автономном округе — Югре",
                "Ханты-Мансийского автономного округа — Югры",
            ),
            (
                "Республика Северная Осетия — Алания",
                "Республике Северная Осетия — Алания",
                "Республики Северная Осетия — Алания",
            ),
        ];
        for (nom, prep, genitive) in cases {
            assert_eq!(decline_name(nom, Case::Prepositional).as_deref(), Some(prep));
            assert_eq!(decline_name(nom, Case::Genitive).as_deref(), Some(genitive));
        }
        // Names the rules do not cover fall back to a phrase needing no declension.
        let odd = RegionForms::new(&GenRegion {
            code: "XX",
            name_ru: "Region\u{7}42",
        });
        assert_eq!(odd.prep, "регионе «Region 42»");
        assert_eq!(odd.genitive, "региона «Region 42»");
    }

    #[test]
    fn sentence_lists_suit_the_used_mask() {
        // `write_content` tracks used body sentences in a u32 and needs more
        // sentences than the 15 one article can take.
        assert!((16..=32).contains(&BODY_SENTENCES.len()));
    }

    #[test]
    fn html_escaping() {
        let mut s = String::new();
        push_text(&mut s, "a & b < c > d", true);
        assert_eq!(s, "a &amp; b &lt; c &gt; d");
        let text = corpus(3000, 3);
        assert!(text.contains("Наука &amp; бизнес"));
        assert!(text.contains("&lt; 50"));
    }

    #[test]
    fn single_region_directory_works() {
        let mut out = Vec::new();
        let regs = [GenRegion {
            code: "RU-MOW",
            name_ru: "Москва",
        }];
        write_corpus(
            &GenOptions {
                articles: 200,
                seed: 0,
            },
            &regs,
            FIXTURE,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text
            .lines()
            .skip(1)
            .all(|l| l.contains(r#""regions":["RU-MOW"]"#)));
    }
}
