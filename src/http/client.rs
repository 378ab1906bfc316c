//! The client at the other end of a connection: whether it is still there, and whether it still
//! reads.
//!
//! A cache-missing request may wait for a render worker ([`super::pool`]), behind up to
//! `--render-queue` others. A client that gives up meanwhile (a crawler's timeout, a reader who
//! closed the tab, a load tool that stopped) used to leave its request in the queue, to be
//! rendered for nobody: when 1,024 connections of distinct queries on the 1M bench store went
//! away, the server went on rendering for 2 s, about 1,000 pages that every client still there
//! waited behind. Under overload that is how throughput collapses: the longer the queue, the more
//! clients time out, and the more of the queue is dead work.
//!
//! hyper serves these connections with half-close support (a client that shuts down its sending
//! side after its request still gets the answer), so it does not read the socket while a request
//! is being served, and cannot tell that the client left. This module can: the socket is shared
//! between hyper's I/O ([`ClientIo`]) and a [`Client`] handle that every request of the
//! connection carries ([`Client::serve`] makes it the request's task-local), and [`gone`] peeks
//! at it. The end of the stream is all a server sees of a client that closed, and also all it
//! sees of one that only shut down its sending side, so both count as gone: the pool answers
//! such a waiting request at once with `503` and `Retry-After` instead of rendering it (see the
//! README, "Limits"). A request already rendering is finished and answered either way.
//!
//! Owning the I/O also bounds the other way a client can stop: by no longer reading. A write
//! that finds the socket full arms a timer of `--send-timeout`, and any progress disarms it;
//! when it fires the write fails and hyper closes the connection. Without it a client that
//! asked for large pages and read nothing held its connection slot, and the answer queued for
//! it, for as long as it liked.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

tokio::task_local! {
    /// The client of the request being served on this task.
    static CLIENT: Client;
}

/// A handle on a connection's socket that can tell whether its client has gone.
#[derive(Clone)]
pub struct Client(Arc<TcpStream>);

/// A connection's socket as hyper's I/O, shared with its [`Client`]; its writes give up on a
/// client that stops reading (see [`ClientIo::poll_send`]).
pub struct ClientIo {
    stream: Arc<TcpStream>,
    send_timeout: Duration,
    /// Armed while a write waits for the socket to take bytes.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Client {
    /// Splits an accepted socket into the I/O hyper serves, whose writes give up after
    /// `send_timeout` without progress, and the handle its requests carry.
    pub fn of(stream: TcpStream, send_timeout: Duration) -> (Client, ClientIo) {
        let stream = Arc::new(stream);
        let io = ClientIo {
            stream: Arc::clone(&stream),
            send_timeout,
            stalled: None,
        };
        (Client(stream), io)
    }

    /// Runs `request` (the answer to one request of this connection) with this client as the
    /// one [`gone`] watches.
    pub fn serve<F: Future>(self, request: F) -> impl Future<Output = F::Output> {
        CLIENT.scope(self, request)
    }

    /// Resolves once the client's side of the connection has ended (end of stream, or an error
    /// such as a reset). Stays pending if the client sent more bytes (a pipelined request): it is
    /// still there.
    async fn gone(&self) {
        let mut byte = [0u8; 1];
        match self.0.peek(&mut byte).await {
            Ok(0) | Err(_) => {}
            Ok(_) => std::future::pending().await,
        }
    }
}

/// Resolves once the client of the request being served on this task has gone (see
/// [`Client::gone`]); never, outside a request (a background job, a unit test).
pub async fn gone() {
    match CLIENT.try_with(Client::clone) {
        Ok(client) => client.gone().await,
        Err(_) => std::future::pending().await,
    }
}

impl AsyncRead for ClientIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let stream = &self.stream;
        loop {
            ready!(stream.poll_read_ready(cx))?;
            let wanted = buf.remaining();
            let drained = Cell::new(false);
            // A read shorter than asked emptied the socket. Like tokio's own `TcpStream`, clear
            // the readiness now instead of by the next read failing with EWOULDBLOCK, which is
            // one more syscall per request on a keep-alive connection (7% of the cached path).
            // `try_io` clears it only on `WouldBlock`, and with the readiness event seen before
            // the read: one that arrived since survives.
            let read = stream.try_io(Interest::READABLE, || {
                let n = stream.try_read_buf(buf)?;
                if n > 0 && n < wanted {
                    drained.set(true);
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            });
            match read {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && drained.get() => {
                    return Poll::Ready(Ok(()))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl ClientIo {
    /// Writes with `write` once the socket takes bytes. Fails with `TimedOut` once the client
    /// has taken none for `send_timeout`: the timer starts when a write finds the socket full
    /// and any progress disarms it (nginx's `send_timeout`, between two successive writes).
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        write: impl Fn(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.stream.poll_write_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    let timeout = self.send_timeout;
                    let stalled = self
                        .stalled
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                    ready!(stalled.as_mut().poll(cx));
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client read none of the answer for {timeout:?}"),
                    )));
                }
            }
            match write(&self.stream) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => {
                    self.stalled = None;
                    return Poll::Ready(done);
                }
            }
        }
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_send(cx, |stream| stream.try_write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_send(cx, |stream| stream.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A TCP socket has no user-space buffer to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.stream).shutdown(Shutdown::Write))
    }
}
