//! The data directory's layout on disk: a store written by an earlier lenta, which kept each
//! kind of record in a sled tree of its own, opens in today's one-tree layout with nothing lost.

mod common;

use std::path::Path;

use common::{corpus, TestServer};

/// The key spaces of the `data` tree: one-byte key prefix, and the name of the sled tree that
/// held the same records (keys without the prefix) in the earlier layout. Written out here,
/// not taken from the crate, so that a change of the format on disk fails this test.
const SPACES: [(u8, &str); 5] = [
    (b'a', "articles"),
    (b't', "by_time"),
    (b'r', "by_region"),
    (b'x', "by_external"),
    (b'm', "region_meta"),
];

/// Key spaces added after the one-tree layout (the id counter with the mark of the region copies,
/// tombstones, view counts, the region copies): the earlier layout had nothing like them, so a
/// downgrade drops them, and opening the store makes the copies again.
const NEWER_SPACES: [u8; 4] = [b'c', b'd', b'v', b'f'];

/// Rewrites a data directory into the earlier layout, record for record.
fn downgrade(dir: &Path) {
    let db = sled::open(dir).expect("open sled");
    let data = db.open_tree("data").expect("data tree");
    let mut moved = 0;
    for entry in data.iter() {
        let (key, value) = entry.expect("read");
        let (prefix, rest) = key.split_first().expect("non-empty key");
        if NEWER_SPACES.contains(prefix) {
            continue;
        }
        let (_, name) = SPACES
            .iter()
            .find(|(p, _)| p == prefix)
            .unwrap_or_else(|| panic!("unknown key prefix {prefix}"));
        db.open_tree(name)
            .expect("old tree")
            .insert(rest, value)
            .expect("insert");
        moved += 1;
    }
    assert!(moved > 1_000, "the store to downgrade holds only {moved} records");
    drop(data);
    assert!(db.drop_tree("data").expect("drop"));
    db.flush().expect("flush");
}

/// Names of the sled trees in a data directory.
fn tree_names(dir: &Path) -> Vec<String> {
    let db = sled::open(dir).expect("open sled");
    db.tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect()
}

/// What a reader sees: status, validator and body of every URL.
async fn snapshot(server: &TestServer, urls: &[&str]) -> Vec<(u16, Option<String>, Vec<u8>)> {
    let mut out = Vec::new();
    for url in urls {
        out.push(server.get_tagged(url).await);
    }
    out
}

#[tokio::test]
async fn a_store_in_the_earlier_layout_opens_with_every_article_feed_and_validator_intact() {
    let server = TestServer::start().await;
    let report = server.import(&corpus(400, 11));
    assert_eq!(report.created, 400, "{:?}", report.rejected);
    let token = server.add_publisher("newsroom", "");
    let urls = [
        "/feed.atom",
        "/feed.rss?region=RU-MOW",
        "/feed.json?region=RU-NIZ,RU-SPE&limit=100",
        "/api/articles?limit=500",
        "/api/regions",
    ];
    let before = snapshot(&server, &urls).await;

    let server = server.restart_after(downgrade).await;
    let after = snapshot(&server, &urls).await;
    for ((url, b), a) in urls.iter().zip(&before).zip(&after) {
        // Status and validator in full; bodies by length, so that a failure stays readable.
        assert_eq!(
            (b.0, &b.1),
            (a.0, &a.1),
            "{url}: status or ETag changed with the layout"
        );
        assert!(
            b.2 == a.2,
            "{url}: body changed with the layout ({} → {} bytes)",
            b.2.len(),
            a.2.len()
        );
    }
    let app = server.app();
    assert_eq!(app.store.article_count(), 400);
    assert_eq!(
        app.store.check(&app.regions).expect("check"),
        Vec::<String>::new()
    );

    // Publishers were not part of the move and still authenticate; the moved store takes writes.
    let res = server
        .client
        .post(server.url("/api/articles"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "external_id": "after-move-1",
            "title": "Written after the move",
            "content_html": "<p>Still writable.</p>",
            "regions": ["RU-MOW"],
            "published_at": "2026-11-20T10:00:00+03:00"
        }))
        .send()
        .await
        .expect("POST");
    assert_eq!(
        res.status().as_u16(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    assert_eq!(server.app().store.article_count(), 401);
    // Without a stored counter, ids go on after the highest existing one: all 400 are kept.
    let created: serde_json::Value = res.json().await.expect("json");
    assert_eq!(created["id"], 401);

    // The earlier trees are gone: the move happens once.
    let server = server
        .restart_after(|dir| {
            let names = tree_names(dir);
            for (_, old) in SPACES {
                assert!(
                    !names.iter().any(|n| n == old),
                    "tree {old} left behind: {names:?}"
                );
            }
        })
        .await;
    assert_eq!(server.app().store.article_count(), 401);
}
