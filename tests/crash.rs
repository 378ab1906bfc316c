//! Crash safety: an acknowledged write survives `kill -9`, and the indexes still agree.
//!
//! The real binary runs as a child process on a data directory; several tasks stream writes at
//! it (single POSTs and small NDJSON batches, each with its own external ids) and record every
//! article the server answered 2xx for. At a random moment the process gets SIGKILL. Then
//! `lenta check` must pass on the directory, and after a restart every acknowledged article must
//! be there, intact. Several rounds on the same directory, each killed at another moment, so
//! recovery is also tested on a store that has been recovered before. After each restart every
//! acknowledged article is also found by keyword search (a word form of its body): the search
//! index, committed with each batch but not flushed with it, caught up with sled.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::ChildServer as Server;
use rand::Rng;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_lenta");
const ROUNDS: usize = 4;
const WRITERS: usize = 6;

fn lenta(args: &[&str], data: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run lenta")
}

/// `lenta check` on the directory must find nothing wrong.
fn check(data: &Path, when: &str) {
    let out = lenta(&["check"], data);
    assert!(
        out.status.success(),
        "lenta check failed {when}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn article(external_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "title": format!("Crash {external_id}"),
        "content_html": format!("<p>Body of {external_id}: про мосты.</p>"),
        "published_at": "2024-05-17T09:00:00+03:00",
        "regions": [if external_id.len().is_multiple_of(2) { "RU-NIZ" } else { "RU-MOW" }],
        "categories": ["Тест"],
    })
}

/// Every article the server lists, by external id (title as stored), paging with `next`;
/// `filter` is more of the query string (`&q=…`).
async fn listed(server: &Server, client: &reqwest::Client, filter: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut url = Some(format!("{}/api/articles?limit=500{filter}", server.base));
    while let Some(next) = url {
        let res = client.get(&next).send().await.expect("GET /api/articles");
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.expect("list JSON");
        for item in page["items"].as_array().expect("items") {
            let ext = item["external_id"].as_str().expect("external_id").to_string();
            let title = item["title"].as_str().expect("title").to_string();
            assert!(out.insert(ext.clone(), title).is_none(), "{ext} listed twice");
        }
        url = page["next"].as_str().map(str::to_string);
    }
    out
}

/// The article count `/healthz` reports.
async fn article_count(server: &Server, client: &reqwest::Client) -> u64 {
    let health: Value = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("JSON");
    health["articles"].as_u64().expect("articles")
}

/// One writer task: single POSTs until stopped; returns the acknowledged external ids.
async fn single_writer(
    client: reqwest::Client,
    base: String,
    token: String,
    prefix: String,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let mut acked = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let ext = format!("{prefix}-{n}");
        n += 1;
        let sent = client
            .post(format!("{base}/api/articles"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(article(&ext).to_string())
            .send()
            .await;
        match sent {
            Ok(res) if res.status().is_success() => {
                // Acknowledged only once the whole answer arrived.
                if res.bytes().await.is_ok() {
                    acked.push(ext);
                }
            }
            Ok(res) => panic!("{ext}: unexpected {}", res.status()),
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await, // killed: wait for the stop
        }
    }
    acked
}

/// A writer task sending NDJSON batches of 20; a line is acknowledged by its 201 in a 200 answer.
async fn batch_writer(
    client: reqwest::Client,
    base: String,
    token: String,
    prefix: String,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let mut acked = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let exts: Vec<String> = (0..20).map(|i| format!("{prefix}-{n}-{i}")).collect();
        n += 1;
        let body: String = exts.iter().map(|e| format!("{}\n", article(e))).collect();
        let sent = client
            .post(format!("{base}/api/articles/batch"))
            .bearer_auth(&token)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await;
        let Ok(res) = sent else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        assert_eq!(res.status(), 200);
        let Ok(summary) = res.json::<Value>().await else {
            continue;
        };
        for result in summary["results"].as_array().expect("results") {
            assert_eq!(result["status"], 201, "{result}");
            let line = result["line"].as_u64().expect("line") as usize;
            acked.push(exts[line - 1].clone());
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let out = lenta(&["publisher", "add", "crash"], &data);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).expect("token").trim().to_string();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut rng = rand::rng();

    for round in 0..=ROUNDS {
        let server = Server::start(&data, &[], &client).await;
        // Everything acknowledged in earlier rounds is there, intact, and counted.
        let present = listed(&server, &client, "").await;
        let missing: Vec<&String> = acked.iter().filter(|e| !present.contains_key(*e)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged articles lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        for (ext, title) in &present {
            assert_eq!(title, &format!("Crash {ext}"), "article {ext} is damaged");
        }
        // «мост» finds «мосты» in every article's body: search shows exactly what the store has.
        let searched = listed(&server, &client, "&q=%D0%BC%D0%BE%D1%81%D1%82").await;
        let unsearchable: Vec<&String> = acked.iter().filter(|e| !searched.contains_key(*e)).collect();
        assert!(
            unsearchable.is_empty(),
            "round {round}: {} acknowledged articles not found by search, e.g. {:?}",
            unsearchable.len(),
            &unsearchable[..unsearchable.len().min(5)]
        );
        assert_eq!(searched, present, "round {round}: search and the store disagree");
        assert_eq!(
            article_count(&server, &client).await,
            present.len() as u64,
            "round {round}: count disagrees with the listing"
        );
        if round == ROUNDS {
            server.kill();
            break;
        }

        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let args = (
                client.clone(),
                server.base.clone(),
                token.clone(),
                format!("r{round}w{w}"),
                Arc::clone(&stop),
            );
            tasks.push(tokio::spawn(single_writer(
                args.0, args.1, args.2, args.3, args.4,
            )));
        }
        let args = (
            client.clone(),
            server.base.clone(),
            token.clone(),
            format!("r{round}b"),
            Arc::clone(&stop),
        );
        tasks.push(tokio::spawn(batch_writer(args.0, args.1, args.2, args.3, args.4)));
        // The random moment counts from the first committed write: a server that rebuilds its
        // search index on start, or a loaded machine, must not turn the round into "killed
        // before anything was written".
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while article_count(&server, &client).await <= present.len() as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: no write committed in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let moment = Duration::from_millis(rng.random_range(100..=600));
        tokio::time::sleep(moment).await;
        server.kill();
        stop.store(true, Ordering::Relaxed);
        let before = acked.len();
        for task in tasks {
            acked.extend(task.await.expect("writer task"));
        }
        eprintln!(
            "round {round}: killed after {moment:?}; {} writes acknowledged",
            acked.len() - before
        );
        assert!(
            acked.len() > before,
            "round {round}: nothing was acknowledged before the kill"
        );
        check(&data, &format!("after the kill of round {round}"));
    }
    check(&data, "at the end");
}
