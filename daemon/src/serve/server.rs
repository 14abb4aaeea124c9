//! Connections: an accept loop over HTTP/1.1 (hyper) with a bound on the
//! connections served at once, a deadline for each request's headers, and
//! a graceful stop.
//!
//! - At the limit, a new connection gets a short `503` JSON answer and is
//!   closed at once, so a flood is refused quickly instead of queueing.
//! - A client that does not send a request's headers within the header
//!   timeout (idle keep-alive or stalled half-way) is disconnected.
//! - A client that goes away mid-response only ends its own connection.
//! - On stop, no new connections are accepted; those open finish their
//!   request in flight (up to a grace period) and close.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use super::metrics::Metrics;

/// How the accept loop bounds its clients.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Connections served at once; more are refused.
    pub max_connections: usize,
    /// Time allowed for a request's headers (also the keep-alive idle time).
    pub header_timeout: Duration,
    /// Time open connections get to finish when the service stops.
    pub grace: Duration,
}

const REFUSAL_BODY: &str = "{\"error\":\"too many connections: the service is at its limit\"}\n";

/// The whole answer to a connection over the limit.
fn refusal() -> Vec<u8> {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: application/json\r\n\
         connection: close\r\n\
         retry-after: 1\r\n\
         content-length: {}\r\n\
         \r\n\
         {REFUSAL_BODY}",
        REFUSAL_BODY.len()
    )
    .into_bytes()
}

/// Serves `router` on `listener` until `stop` turns true; a failure to
/// accept goes to `log`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    log: super::Log,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a little
                // rather than spin.
                log.warning(&format!("cannot accept a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                let router = router.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    serve_connection(stream, router, limits, stop).await;
                    drop(slot);
                });
            }
            Err(_) => {
                metrics.refused_connection();
                tokio::spawn(refuse(stream));
            }
        }
    }
    drop(listener);
    // Wait for the open connections to finish (each is told to stop after
    // its request in flight), up to the grace period.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.grace, slots.acquire_many(all)).await;
}

/// Resolves once `stop` turns true (never, if its sender is gone first).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(connection);
    tokio::select! {
        // Errors here are the client's doing (gone, too slow, malformed
        // request line): the connection ends, nothing else is affected.
        _ = connection.as_mut() => {}
        _ = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Answers a connection over the limit with a 503 and closes it, after a
/// short drain of what the client sent (so the close does not reset the
/// connection before the answer is read).
async fn refuse(mut stream: TcpStream) {
    let quick = Duration::from_millis(250);
    if tokio::time::timeout(quick, stream.write_all(&refusal()))
        .await
        .is_err()
    {
        return;
    }
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(quick, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_well_formed_http() {
        let bytes = refusal();
        let text = std::str::from_utf8(&bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(json["error"].as_str().unwrap().contains("too many"));
    }
}
