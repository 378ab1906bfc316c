//! True dates (issue 10, section 3): an entry's Atom `updated`, JSON Feed `date_modified`, the
//! article page's `article:modified_time` and JSON-LD `dateModified` are when the publisher last
//! changed the content (`modified_at`), never when lenta stored it. Over HTTP against the real
//! server and a real store.

mod common;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, SubsecRound, Utc};
use common::TestServer;
use serde_json::{json, Value};

const CT_JSON: &str = "application/json";

/// One article of publisher `p` in RU-NIZ, published 2024-05-17 09:00 Moscow time.
fn article(external_id: &str) -> Value {
    json!({
        "external_id": external_id, "title": format!("Статья {external_id}"),
        "published_at": "2024-05-17T09:00:00+03:00", "regions": ["RU-NIZ"], "views": 1,
    })
}

fn with(mut v: Value, field: &str, value: Value) -> Value {
    v[field] = value;
    v
}

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

struct Publisher {
    server: TestServer,
    token: String,
}

impl Publisher {
    async fn start() -> Self {
        let server = TestServer::start().await;
        let token = server.add_publisher("p", "");
        Publisher { server, token }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .server
            .client
            .request(method, self.server.url(path))
            .bearer_auth(&self.token)
            .header("content-type", CT_JSON)
            .body(body.to_string())
            .send()
            .await
            .expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.expect("JSON answer"))
    }

    async fn post(&self, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, "/api/articles", body).await
    }

    /// POSTs and returns the stored article, asserting 201 or 200.
    async fn store(&self, body: &Value) -> Value {
        let (status, answer) = self.post(body).await;
        assert!(status == 201 || status == 200, "{status}: {answer}");
        answer
    }

    async fn api(&self, id: &Value) -> Value {
        let (status, body) = self.server.get_text(&format!("/api/articles/{id}")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// What every reader-facing place says the article was last modified, as written there:
    /// Atom `updated`, JSON Feed `date_modified`, the page's `article:modified_time` and JSON-LD
    /// `dateModified`.
    async fn shown_modified(&self, stored: &Value) -> [String; 4] {
        let feed_id = stored["feed_id"].as_str().expect("feed_id");
        [
            atom_updated(&self.server, "/regions/RU-NIZ/feed.atom?limit=500")
                .await
                .remove(feed_id)
                .expect("entry in the Atom feed"),
            json_feed_modified(&self.server, feed_id).await,
            page_dates(&self.server, &stored["id"]).await.0,
            page_dates(&self.server, &stored["id"]).await.1,
        ]
    }
}

/// Atom entry id → its `updated`, as written.
async fn atom_updated(server: &TestServer, path: &str) -> HashMap<String, String> {
    let (status, body) = server.get_text(path).await;
    assert_eq!(status, 200, "{body}");
    let doc = common::strict_xml(&body);
    doc.descendants()
        .filter(|n| n.has_tag_name("entry"))
        .map(|entry| {
            let child = |name: &str| {
                entry
                    .children()
                    .find(|c| c.has_tag_name(name))
                    .and_then(|c| c.text())
                    .unwrap_or_else(|| panic!("entry without {name}"))
                    .to_string()
            };
            (child("id"), child("updated"))
        })
        .collect()
}

async fn json_feed_modified(server: &TestServer, feed_id: &str) -> String {
    let feed: Value = server
        .get("/regions/RU-NIZ/feed.json?limit=500")
        .await
        .json()
        .await
        .expect("JSON Feed");
    let items = feed["items"].as_array().expect("items");
    let item = items.iter().find(|i| i["id"] == feed_id).expect("item");
    item["date_modified"].as_str().expect("date_modified").to_string()
}

/// The article page's `article:modified_time`, JSON-LD `dateModified` and visible text.
async fn page_dates(server: &TestServer, id: &Value) -> (String, String, String) {
    let (status, body) = server.get_text(&format!("/articles/{id}")).await;
    assert_eq!(status, 200, "{body}");
    let doc = scraper::Html::parse_document(&body);
    let one = |css: &str| {
        let sel = scraper::Selector::parse(css).expect("selector");
        doc.select(&sel).next().unwrap_or_else(|| panic!("no {css}"))
    };
    let og = one("meta[property='article:modified_time']")
        .attr("content")
        .expect("content")
        .to_string();
    let ld: Value = serde_json::from_str(
        &one("script[type='application/ld+json']")
            .text()
            .collect::<String>(),
    )
    .expect("JSON-LD");
    let meta: String = one("article p.meta").text().collect();
    (
        og,
        ld["dateModified"].as_str().expect("dateModified").to_string(),
        meta,
    )
}

/// Every place a reader looks shows `want` as the same instant, in the article's own offset.
fn assert_all_show(shown: &[String; 4], want: DateTime<FixedOffset>, case: &str) {
    for (place, s) in [
        "Atom updated",
        "JSON Feed date_modified",
        "article:modified_time",
        "dateModified",
    ]
    .iter()
    .zip(shown)
    {
        let got = at(s);
        assert_eq!(got, want, "{case}: {place} {s}");
        assert_eq!(
            got.offset(),
            want.offset(),
            "{case}: {place} {s} in the article's offset"
        );
    }
}

#[tokio::test]
async fn readers_see_when_the_publisher_changed_the_article_not_when_lenta_stored_it() {
    let p = Publisher::start().await;
    // Without modified_at: modified when published.
    let plain = p.store(&article("plain")).await;
    assert_eq!(plain["modified_at"], "2024-05-17T09:00:00+03:00", "{plain}");
    assert_all_show(
        &p.shown_modified(&plain).await,
        at("2024-05-17T09:00:00+03:00"),
        "default",
    );
    assert!(!page_dates(&p.server, &plain["id"]).await.2.contains("обновлено"));

    // With modified_at: that instant, in the offset the publisher gave.
    let edited = p
        .store(&with(
            article("edited"),
            "modified_at",
            json!("2024-05-17T08:40:30Z"),
        ))
        .await;
    assert_eq!(edited["modified_at"], "2024-05-17T08:40:30Z", "{edited}");
    assert_all_show(
        &p.shown_modified(&edited).await,
        at("2024-05-17T08:40:30Z"),
        "given",
    );
    // The page says so in the portal's style and time zone (Moscow: 11:40).
    let visible = page_dates(&p.server, &edited["id"]).await.2;
    assert!(
        visible.contains("09:00 17.05.2024 · обновлено 11:40 17.05.2024"),
        "{visible}"
    );

    // The storage time is still the API's own: updated_at is today, modified_at is not.
    let stored =
        DateTime::parse_from_rfc3339(plain["updated_at"].as_str().expect("updated_at")).expect("date");
    assert!(Utc::now() - stored.to_utc() < chrono::TimeDelta::minutes(5));
}

#[tokio::test]
async fn only_a_content_change_moves_modified_at_and_a_resend_moves_nothing() {
    let p = Publisher::start().await;
    let first = p.store(&article("a")).await;
    let id = first["id"].clone();
    let feed = "/regions/RU-NIZ/feed.atom";
    let (_, feed_etag, _) = p.server.get_tagged(feed).await;
    let (_, api_etag, api_body) = p.server.get_tagged(&format!("/api/articles/{id}")).await;

    // An unchanged re-send: 200, and not a byte or validator moves.
    let (status, again) = p.post(&article("a")).await;
    assert_eq!(status, 200);
    assert_eq!(again, first);
    assert_eq!(p.server.get_tagged(feed).await.1, feed_etag, "feed validator");
    let (_, etag, body) = p.server.get_tagged(&format!("/api/articles/{id}")).await;
    assert_eq!((etag, body), (api_etag, api_body), "article validator and body");

    // A new view count is not an edit: modified_at stays.
    let viewed = p.store(&with(article("a"), "views", json!(500))).await;
    assert_eq!(viewed["views"], 500);
    assert_eq!(viewed["modified_at"], first["modified_at"]);
    assert_ne!(viewed["updated_at"], first["updated_at"]);

    // A content change without modified_at: the time of the change, to the second, in the
    // article's own offset.
    let before = Utc::now().trunc_subsecs(0);
    let retitled = p.store(&with(article("a"), "title", json!("Исправлено"))).await;
    let after = Utc::now();
    let changed = at(retitled["modified_at"].as_str().expect("modified_at"));
    assert!(
        changed.to_utc() >= before && changed.to_utc() <= after,
        "{changed} not in [{before}, {after}]"
    );
    assert_eq!(changed.offset().local_minus_utc(), 3 * 3600, "{changed}");
    assert_eq!(changed.timestamp_subsec_nanos(), 0, "{changed}");
    assert_all_show(&p.shown_modified(&retitled).await, changed, "edited now");

    // Re-sending the new version keeps the time of that change.
    let resent = p.store(&with(article("a"), "title", json!("Исправлено"))).await;
    assert_eq!(resent["modified_at"], retitled["modified_at"]);

    // A replace with modified_at takes the publisher's time (the feed validators move).
    let (_, etag_before, _) = p.server.get_tagged(feed).await;
    let put = with(
        with(article("a"), "title", json!("Ещё раз")),
        "modified_at",
        json!("2024-05-18T10:00:00+03:00"),
    );
    let (status, replaced) = p
        .send(reqwest::Method::PUT, &format!("/api/articles/{id}"), &put)
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["modified_at"], "2024-05-18T10:00:00+03:00");
    assert_ne!(p.server.get_tagged(feed).await.1, etag_before);
    assert_all_show(
        &p.shown_modified(&replaced).await,
        at("2024-05-18T10:00:00+03:00"),
        "put",
    );
}

#[tokio::test]
async fn a_modified_at_before_publication_or_in_the_future_is_refused_and_changes_nothing() {
    let p = Publisher::start().await;
    let stored = p.store(&article("r")).await;
    let path = format!("/api/articles/{}", stored["id"]);
    let (_, etag, body) = p.server.get_tagged(&path).await;
    let too_late = (Utc::now() + chrono::TimeDelta::minutes(6)).to_rfc3339();
    for (bad, says) in [
        ("2024-05-17T08:59:59+03:00", "not be before published_at"),
        (too_late.as_str(), "at most 5 min ahead of the server's clock"),
        ("1899-12-31T00:00:00Z", "1900-01-02T00:00:00Z"),
        ("2024-05-18T23:59:60Z", ":60"),
        ("17.05.2024 10:00", "RFC 3339"),
    ] {
        let (status, problem) = p.post(&with(article("r"), "modified_at", json!(bad))).await;
        assert_eq!(status, 422, "{bad}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "modified_at", "{bad}: {problem}");
        assert_eq!(
            problem["errors"].as_array().map(Vec::len),
            Some(1),
            "{bad}: {problem}"
        );
        let reason = problem["errors"][0]["reason"].as_str().expect("reason");
        assert!(reason.contains(says), "{bad}: {reason}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("modified_at")),
            "{problem}"
        );
        assert_eq!(
            p.server.get_tagged(&path).await,
            (200, etag.clone(), body.clone()),
            "{bad}"
        );
    }
    // A publisher's clock a little fast is within the allowance.
    let skewed = (Utc::now() + chrono::TimeDelta::minutes(2)).trunc_subsecs(0);
    let ok = p
        .store(&with(article("r"), "modified_at", json!(skewed.to_rfc3339())))
        .await;
    assert_eq!(at(ok["modified_at"].as_str().expect("modified_at")), skewed);
    // In a batch, the bad line alone is refused.
    let lines = [
        with(article("b1"), "modified_at", json!("2024-05-17T10:00:00+03:00")),
        with(article("b2"), "modified_at", json!("2024-05-16T10:00:00+03:00")),
    ];
    let ndjson: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let res = p
        .server
        .client
        .post(p.server.url("/api/articles/batch"))
        .bearer_auth(&p.token)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .expect("batch");
    let summary: Value = res.json().await.expect("JSON");
    assert_eq!(
        (summary["created"].clone(), summary["rejected"].clone()),
        (json!(1), json!(1)),
        "{summary}"
    );
    assert_eq!(
        summary["results"][1]["errors"][0]["field"], "modified_at",
        "{summary}"
    );
}

#[tokio::test]
async fn a_bulk_import_dates_each_entry_by_its_own_last_change() {
    let server = TestServer::start().await;
    let corpus = common::corpus(1500, 10);
    let report = server.import(&corpus);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    // What the corpus says each article's last change was.
    let mut want: HashMap<String, DateTime<FixedOffset>> = HashMap::new();
    for line in corpus.lines() {
        let v: Value = serde_json::from_str(line).expect("line");
        let t = v.get("modified_at").unwrap_or(&v["published_at"]);
        want.insert(
            v["external_id"].as_str().expect("id").into(),
            at(t.as_str().expect("date")),
        );
    }
    let list: Value = server
        .get("/api/articles?limit=500")
        .await
        .json()
        .await
        .expect("JSON");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 500);
    let feed = atom_updated(&server, "/feed.atom?limit=500").await;
    let mut by_instant: BTreeMap<DateTime<Utc>, Vec<&str>> = BTreeMap::new();
    let mut edited = 0;
    for item in items {
        let feed_id = item["feed_id"].as_str().expect("feed_id");
        let expected = want[item["external_id"].as_str().expect("external_id")];
        let updated = at(&feed[feed_id]);
        assert_eq!(updated, expected, "{item}");
        assert_eq!(updated.offset(), expected.offset(), "{item}");
        edited += usize::from(updated > at(item["published_at"].as_str().expect("published_at")));
        by_instant.entry(updated.to_utc()).or_default().push(feed_id);
    }
    // No longer one import second for all (the W3C validator's DuplicateUpdated): entries share
    // an `updated` only as rarely as two articles of the corpus share a minute.
    let shared: usize = by_instant
        .values()
        .filter(|ids| ids.len() > 1)
        .map(Vec::len)
        .sum();
    assert!(shared <= 5, "{shared} of 500 entries share an updated instant");
    // Realistic: most never edited, some edited later.
    assert!((50..150).contains(&edited), "{edited} of 500 edited");
}

#[tokio::test]
async fn articles_stored_before_modified_at_existed_read_as_before() {
    let p = Publisher::start().await;
    let created = p.store(&article("old")).await;
    let id = created["id"].as_u64().expect("id");
    // Rewrite the stored record as an earlier lenta wrote it: without modified_at, and without
    // the region copies (space `f`, and their mark in the counters space `c`), which opening the
    // store makes again from the record. The key layout is written out here (space `a`,
    // big-endian id), as tests/storage_layout.rs does.
    let server = p
        .server
        .restart_after(|dir| {
            let db = sled::open(dir).expect("open sled");
            let data = db.open_tree("data").expect("data tree");
            let mut key = vec![b'a'];
            key.extend_from_slice(&id.to_be_bytes());
            let mut record: Value =
                serde_json::from_slice(&data.get(&key).expect("read").expect("article")).expect("JSON");
            assert!(record
                .as_object_mut()
                .expect("object")
                .remove("modified_at")
                .is_some());
            data.insert(key, serde_json::to_vec(&record).expect("encode"))
                .expect("write");
            for copy in data.scan_prefix([b'f']).keys() {
                data.remove(copy.expect("read")).expect("remove");
            }
            data.remove(b"cregion_articles").expect("remove");
            db.flush().expect("flush");
        })
        .await;
    let p = Publisher {
        server,
        token: p.token,
    };
    let legacy = p.api(&created["id"]).await;
    assert!(legacy.get("modified_at").is_none(), "{legacy}");
    let stored_at = at(legacy["updated_at"].as_str().expect("updated_at"));
    // As before: the feeds print the storage time to the second, the page in full.
    let [atom, json_feed, og, ld] = p.shown_modified(&legacy).await;
    for (place, shown, want) in [
        ("Atom updated", atom, stored_at.trunc_subsecs(0)),
        ("JSON Feed date_modified", json_feed, stored_at.trunc_subsecs(0)),
        ("article:modified_time", og, stored_at),
        ("dateModified", ld, stored_at),
    ] {
        assert_eq!(at(&shown), want, "legacy {place}: {shown}");
    }
    // An unchanged re-send still changes nothing.
    let path = format!("/api/articles/{id}");
    let (_, etag, _) = p.server.get_tagged(&path).await;
    let (status, again) = p.post(&article("old")).await;
    assert_eq!((status, again.get("modified_at")), (200, None), "{again}");
    assert_eq!(p.server.get_tagged(&path).await.1, etag);
    // An edit gives it a modified_at of its own.
    let edited = p.store(&with(article("old"), "summary", json!("Лид"))).await;
    let modified = at(edited["modified_at"].as_str().expect("modified_at"));
    assert!(
        modified.to_utc() >= stored_at.to_utc().trunc_subsecs(0),
        "{edited}"
    );
    assert_eq!(modified.offset().local_minus_utc(), 3 * 3600, "{edited}");
}
