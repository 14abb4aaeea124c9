//! Helpers of the process-level tests of `funkd serve`: a small trained
//! model, the real binary started on a free loopback port, and a plain
//! HTTP/1.1 client over `TcpStream` (so that tests can also misbehave:
//! stall, flood, hang up).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use funkd::gen::{generate, GenConfig};
use serde_json::Value;

/// A rating file and a checkpoint directory trained on it.
pub struct Trained {
    pub tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub dir: PathBuf,
}

/// A sparse 1..5-star set (300 users × 60 items, 10% test) and a rank-6
/// model trained on it for `epochs` epochs.
pub fn trained(epochs: u32) -> Trained {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data.funk");
    let config = GenConfig {
        users: 300,
        items: 60,
        ratings: 6000,
        scale: 1.0,
        rank: 4,
        noise: 0.5,
        test_fraction: 0.1,
        seed: 5,
        dense: None,
        grid: None,
    };
    generate(&config, &data).unwrap();
    let dir = tmp.path().join("run");
    train(&data, &dir, epochs, &[]);
    Trained { tmp, data, dir }
}

/// `funkd train` of `data` into `dir` up to `epochs` epochs, to the end.
pub fn train(data: &Path, dir: &Path, epochs: u32, extra: &[&str]) {
    let out = funkd(train_args(data, dir, epochs, extra))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "train failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The arguments of a quiet rank-6 `train` run.
pub fn train_args(data: &Path, dir: &Path, epochs: u32, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "train",
        "--data",
        data.to_str().unwrap(),
        "--checkpoint-dir",
        dir.to_str().unwrap(),
        "--factors",
        "6",
        "--epochs",
        &epochs.to_string(),
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// `funkd` with arguments, stdout and stderr captured.
pub fn funkd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_funkd"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// A running `funkd serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `funkd serve --dir DIR --listen 127.0.0.1:0 EXTRA…` and waits
    /// for the address it prints.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut args = vec![
            "serve".to_string(),
            "--dir".into(),
            dir.display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = funkd(args).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("funkd: listening on http://") {
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not start: {}", log.lock().unwrap());
            }
        };
        Server { child, addr, log }
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// GET `path`: status and parsed JSON body.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = request(self.addr, "GET", path, None).expect("GET");
        (status, json(&body))
    }

    /// POST `body` to `path`: status and parsed JSON body.
    pub fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let (status, body) = request(self.addr, "POST", path, Some(body.as_bytes())).expect("POST");
        (status, json(&body))
    }

    /// GET `path`, expecting 200.
    pub fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// One HTTP/1.1 request on a new connection (`Connection: close`): the
/// status and the body as text.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(body) = body {
        stream.write_all(body)?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// Status and body of a whole HTTP/1.1 response (length-delimited or
/// chunked).
pub fn parse_response(raw: &[u8]) -> std::io::Result<(u16, String)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        loop {
            let (size, after) = rest.split_once("\r\n").ok_or_else(|| bad("chunk"))?;
            let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("chunk size"))?;
            if size == 0 {
                break;
            }
            out.push_str(&after[..size]);
            rest = &after[size + 2..];
        }
        out
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// Polls `cond` every 20 ms until it holds; panics after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
