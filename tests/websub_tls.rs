//! WebSub pings to `https://` hubs: a real TLS hub on loopback with a throwaway CA made here
//! (rcgen), the real server trusting it through `--websub-ca-file` (or not), a real write.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{metric_at, ChildServer, Pings, TestServer};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

/// A throwaway CA and a hub certificate for 127.0.0.1 that it signed.
struct TestPki {
    ca_pem: String,
    hub_cert: CertificateDer<'static>,
    hub_key: Vec<u8>,
}

impl TestPki {
    fn new(ca_name: &str) -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA");
        let mut hub = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("hub params");
        hub.distinguished_name.push(DnType::CommonName, "hub.test");
        hub.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let hub_key = KeyPair::generate().expect("hub key");
        let hub_cert = hub.signed_by(&hub_key, &ca).expect("hub cert");
        TestPki {
            ca_pem: ca.pem(),
            hub_cert: hub_cert.der().clone(),
            hub_key: hub_key.serialize_der(),
        }
    }

    /// Writes the CA certificate as PEM to `dir/name`.
    fn write_ca(&self, dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.ca_pem).expect("write CA file");
        path
    }
}

/// An https hub stub on 127.0.0.1 presenting the certificate of a [`TestPki`].
struct TlsHub {
    /// `https://127.0.0.1:PORT/`
    url: String,
    /// Publish pings received over completed TLS connections.
    pings: Pings,
    /// TCP connections accepted, handshake completed or not: how often the notifier tried.
    connections: Arc<AtomicUsize>,
}

impl TlsHub {
    /// A hub that keeps connections open between requests (as hyper's server does by default).
    async fn start(pki: &TestPki) -> Self {
        Self::start_with(pki, true).await
    }

    /// A hub that keeps connections open, or answers each request with `Connection: close`.
    async fn start_with(pki: &TestPki, keep_alive: bool) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![pki.hub_cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.hub_key.clone())),
            )
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind hub");
        let url = format!("https://{}/", listener.local_addr().expect("addr"));
        let pings = Pings::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let (record, count) = (Arc::clone(&pings), Arc::clone(&connections));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (acceptor, record) = (acceptor.clone(), Arc::clone(&record));
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
                    if let Ok(Ok(tls)) = handshake.await {
                        common::serve_hub_connection(tls, record, keep_alive).await;
                    }
                });
            }
        });
        TlsHub {
            url,
            pings,
            connections,
        }
    }
}

/// The feeds a write of one RU-NIZ article changes, as absolute URLs on `base`: what the hub must
/// be told about.
fn changed_topics(base: &str) -> HashSet<String> {
    ["", "?region=RU-NIZ"]
        .iter()
        .flat_map(|q| ["rss", "atom", "json"].map(|f| format!("{base}/feed.{f}{q}")))
        .collect()
}

async fn publish(client: &reqwest::Client, base: &str, token: &str, id: &str) {
    let article = json!({
        "external_id": id, "title": format!("Новость {id}"), "published_at": "2024-05-17T09:00:00+03:00",
        "regions": ["RU-NIZ"], "summary": "lead", "content_html": "<p>body</p>"
    });
    let res = client
        .post(format!("{base}/api/articles"))
        .bearer_auth(token)
        .json(&article)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
}

/// An in-process server pinging `hub_url` and trusting `ca_file`, with a publisher's token.
async fn server_pinging(hub_url: &str, ca_file: std::path::PathBuf) -> (TestServer, String) {
    let hub_url = hub_url.to_string();
    let server = TestServer::start_with(move |s| {
        s.websub_hub = Some(hub_url.clone());
        s.websub_ca_file = Some(ca_file.clone());
    })
    .await;
    let token = server.add_publisher("newsroom", "");
    (server, token)
}

#[tokio::test]
async fn https_hub_trusted_through_the_ca_file_flag_receives_publish_pings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::new("lenta test CA");
    let ca_file = pki.write_ca(dir.path(), "ca.pem");
    let hub = TlsHub::start(&pki).await;
    let data = dir.path().join("data");
    let added = Command::new(env!("CARGO_BIN_EXE_lenta"))
        .args(["publisher", "add", "--data-dir"])
        .arg(&data)
        .arg("newsroom")
        .output()
        .expect("lenta publisher add");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let token = String::from_utf8(added.stdout).expect("utf-8").trim().to_string();
    let client = reqwest::Client::new();
    let ca_flag = ca_file.to_str().expect("utf-8 path");
    let server = ChildServer::start(
        &data,
        &["--websub-hub", &hub.url, "--websub-ca-file", ca_flag],
        &client,
    )
    .await;

    publish(&client, &server.base, &token, "tls1").await;

    let expected = changed_topics(&server.base);
    let deadline = Instant::now() + Duration::from_secs(20);
    while hub.pings.lock().expect("lock").len() < expected.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pings = hub.pings.lock().expect("lock").clone();
    assert!(
        pings.iter().all(|(mode, _)| mode == "publish"),
        "hub.mode=publish: {pings:?}"
    );
    let topics: HashSet<String> = pings.into_iter().map(|(_, url)| url).collect();
    assert_eq!(topics, expected, "hub.url names every changed feed over https");
    assert_eq!(
        metric_at(&client, &server.base, "lenta_websub_notifications_total").await,
        expected.len() as u64
    );
    assert_eq!(
        metric_at(&client, &server.base, "lenta_websub_failures_total").await,
        0
    );
    assert_eq!(
        hub.connections.load(Ordering::SeqCst),
        1,
        "the pings of one write share one connection, so one TLS handshake"
    );
}

#[tokio::test]
async fn https_hub_with_an_untrusted_certificate_gets_no_ping_and_is_counted_as_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hub_pki = TestPki::new("the hub's CA");
    // The server trusts another CA: a CA file adds trust, it does not switch verification off.
    let other_ca = TestPki::new("some other CA").write_ca(dir.path(), "other.pem");
    let hub = TlsHub::start(&hub_pki).await;
    let (server, token) = server_pinging(&hub.url, other_ca).await;

    publish(&server.client, &server.base, &token, "untrusted1").await;

    let topics = changed_topics(&server.base).len() as u64;
    let failures = server
        .await_metric(
            "lenta_websub_failures_total",
            |v| v >= topics,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(failures, topics, "every topic's ping counted as failed");
    let notified = server.metric("lenta_websub_notifications_total");
    assert_eq!(notified.await, 0);
    assert!(hub.pings.lock().expect("lock").is_empty(), "no ping got through");
    // One attempt per topic: a refused certificate is not retried (it would only delay the count).
    assert_eq!(hub.connections.load(Ordering::SeqCst) as u64, topics);

    // The server keeps serving reads and writes.
    let (status, rss) = server.get_text("/feed.rss?region=RU-NIZ").await;
    assert_eq!(status, 200);
    assert!(rss.contains("Новость untrusted1"), "{rss}");
    publish(&server.client, &server.base, &token, "untrusted2").await;
}

#[tokio::test]
async fn https_hub_that_closes_each_connection_still_gets_every_ping_without_failures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::new("lenta test CA");
    let hub = TlsHub::start_with(&pki, false).await;
    let (server, token) = server_pinging(&hub.url, pki.write_ca(dir.path(), "ca.pem")).await;

    publish(&server.client, &server.base, &token, "close1").await;

    let expected = changed_topics(&server.base);
    let n = expected.len() as u64;
    let delivered = server
        .await_metric(
            "lenta_websub_notifications_total",
            |v| v >= n,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(delivered, n);
    let pings = hub.pings.lock().expect("lock").clone();
    let topics: HashSet<String> = pings.iter().map(|(_, u)| u.clone()).collect();
    assert_eq!(topics, expected);
    assert_eq!(pings.len(), expected.len(), "one ping per feed");
    // Reusing the batch's connection is an optimisation only: a hub that closes each one still
    // gets every ping, each over a connection of its own, and none is given up on.
    let failures = server.metric("lenta_websub_failures_total");
    assert_eq!(failures.await, 0);
    assert_eq!(hub.connections.load(Ordering::SeqCst), expected.len());
}

/// Runs `lenta serve` with `flags` on a free port and returns its standard error, asserting that it
/// refused to start (exited unsuccessfully within 60 s rather than serving).
fn refused_to_start(dir: &Path, flags: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lenta"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .args(flags)
        .env("LENTA_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lenta serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("try_wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().expect("try_wait").is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("lenta serve {flags:?} started instead of refusing");
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "lenta serve {flags:?} exited 0");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unusable_hub_settings_are_refused_at_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = refused_to_start(dir.path(), &["--websub-hub", "ftp://127.0.0.1/hub"]);
    assert!(
        err.contains("ftp://127.0.0.1/hub") && err.contains("only http:// and https://"),
        "{err}"
    );

    let not_pem = dir.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "just some text\n").expect("write");
    let hub = ["--websub-hub", "https://127.0.0.1:9/hub", "--websub-ca-file"];
    let err = refused_to_start(
        dir.path(),
        &[&hub[..], &[not_pem.to_str().expect("utf-8")]].concat(),
    );
    assert!(
        err.contains("WebSub CA file") && err.contains("no PEM `CERTIFICATE` block"),
        "{err}"
    );

    let missing = dir.path().join("missing.pem");
    let err = refused_to_start(
        dir.path(),
        &[&hub[..], &[missing.to_str().expect("utf-8")]].concat(),
    );
    assert!(
        err.contains("WebSub CA file") && err.contains("missing.pem"),
        "{err}"
    );

    let err = refused_to_start(
        dir.path(),
        &["--websub-ca-file", not_pem.to_str().expect("utf-8")],
    );
    assert!(err.contains("--websub-hub"), "a CA file without a hub: {err}");
}
