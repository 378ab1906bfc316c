//! Connections per client address: one address may hold at most `--max-connections-per-ip`.
//!
//! Without it a single client could take every slot of `--max-connections` (slow bodies,
//! idle keep-alive) and lock everyone else out. A connection over the limit is answered with a
//! canned `503` written straight on the socket, before hyper or a connection slot is involved,
//! and closed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::StatusCode;
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

use super::response::Problem;

/// Seconds an over-limit client is told to wait (`Retry-After`).
const RETRY_AFTER_SECS: u64 = 5;

/// How long the refusal may take to write, and to drain what the client sent meanwhile (so the
/// close is a FIN the client can read the answer before, not a reset that discards it).
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Most request bytes read and dropped while refusing.
const REFUSAL_DRAIN_BYTES: usize = 64 << 10;

/// Open connections per client address.
pub struct PeerLimit {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
    refusal: Arc<[u8]>,
}

/// One counted connection of an address; dropping it frees the place.
pub struct PeerSlot {
    limit: Arc<PeerLimit>,
    ip: IpAddr,
}

impl PeerLimit {
    /// A limit of `max` connections per address (at least one).
    pub fn new(max: usize) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(PeerLimit {
            max,
            open: Mutex::new(HashMap::new()),
            refusal: refusal(max).into(),
        })
    }

    /// Counts a new connection from `ip`, or `None` when the address already has the maximum.
    /// IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
    pub fn claim(self: &Arc<Self>, ip: IpAddr) -> Option<PeerSlot> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            limit: Arc::clone(self),
            ip,
        })
    }

    /// Answers an over-limit connection with the canned 503 and closes it, all within
    /// [`REFUSAL_TIMEOUT`]; errors are the client's business and are ignored.
    pub async fn refuse(&self, mut stream: TcpStream) {
        let refusal = Arc::clone(&self.refusal);
        let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async move {
            let mut rest: &[u8] = &refusal;
            while !rest.is_empty() {
                stream.writable().await?;
                match stream.try_write(rest) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_shutdown(cx)).await?;
            let mut sink = [0u8; 4096];
            let mut drained = 0;
            while drained < REFUSAL_DRAIN_BYTES {
                stream.readable().await?;
                match stream.try_read(&mut sink) {
                    Ok(0) => break,
                    Ok(n) => drained += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            Ok::<(), std::io::Error>(())
        })
        .await;
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.limit.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The whole HTTP/1.1 answer to an over-limit connection: a 503 problem with `Retry-After`
/// (RFC 9110 §10.2.3) and `Connection: close`.
fn refusal(max: usize) -> Vec<u8> {
    let problem = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too-many-connections",
        "Too many connections",
        format!(
            "this address already has {max} connections open, the most allowed per client; \
             reuse or close one, or retry in {RETRY_AFTER_SECS} s"
        ),
    );
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: application/problem+json\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\n\
         connection: close\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_at_most_max_slots_and_gets_them_back() {
        let limit = PeerLimit::new(2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let first = limit.claim(a).expect("first");
        let _second = limit.claim(a).expect("second");
        assert!(limit.claim(a).is_none(), "third from the same address");
        assert!(limit.claim(b).is_some(), "another address is not affected");
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert!(limit.claim(mapped).is_none(), "v4-mapped counts as v4");
        drop(first);
        assert!(limit.claim(a).is_some(), "a closed connection frees its place");
    }

    #[test]
    fn refusal_is_a_complete_problem_response() {
        let text = String::from_utf8(refusal(64)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains("retry-after: 5") && head.contains("connection: close"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["status"], 503);
        assert!(v["detail"].as_str().unwrap().contains("64 connections"));
    }
}
