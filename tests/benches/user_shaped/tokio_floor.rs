//! The tokio floor: the least any tokio AMI client can do per call in the
//! two program shapes the tokio rows measure, beside them in the same run.
//!
//! A driver task owns the socket, as in any tokio client: callers hand it a
//! oneshot sender over an unbounded mpsc; it writes one pre-encoded `Ping`
//! per request (after letting callers woken together run once, so that
//! their requests share one write) and completes the
//! waiting callers in order, one per `\r\n\r\n` it reads. No parsing, no
//! ActionIDs, no correlation, no timeouts: what is left is tokio's own cost
//! of the shape (task spawns, wake-ups across threads, the socket's system
//! calls), which no library in that shape avoids.
//!
//! ```text
//! ping PORT N WINDOW             N calls, a task per call (semaphore)
//! ping-unordered PORT N WINDOW   N calls, one task, FuturesUnordered
//! ```
//!
//! Same command line and result line as the client programs.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::harness::{self, actions_line, watchdog};

const LIB: &str = "tokio-floor";
const LOGIN: &[u8] =
    b"Action: Login\r\nActionID: floor\r\nUsername: bench\r\nSecret: bench\r\n\r\n";
const PING: &[u8] = b"Action: Ping\r\nActionID: 00000000\r\n\r\n";

type Calls = mpsc::UnboundedSender<oneshot::Sender<()>>;

/// Run the mode named by `args` (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    let usage = "(ping PORT N WINDOW | ping-unordered PORT N WINDOW)";
    let (mode, port, n, window) = match harness::parse(args, usage) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    match mode.as_str() {
        "ping" => harness::finish(task_per_call(port, n, window)),
        "ping-unordered" => harness::finish(unordered(port, n, window)),
        _ => harness::unknown_mode(),
    }
}

/// Log in, then spawn the driver; returns its request sender.
async fn start(port: u16) -> Calls {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.write_all(LOGIN).await.expect("log in");
    let (tx, rx) = mpsc::unbounded_channel();
    // The login response and FullyBooted come before any answer.
    tokio::spawn(drive(s, rx, 2));
    tx
}

/// The driver: write a Ping per request, complete requests in order, one
/// per packet read after the first `skip`.
async fn drive(
    mut s: TcpStream,
    mut rx: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    mut skip: usize,
) {
    let finder = memmem::Finder::new(b"\r\n\r\n");
    let mut buf = vec![0u8; 64 << 10];
    let mut carry = 0;
    let mut waiting = VecDeque::new();
    let mut new = Vec::with_capacity(1024);
    let mut out = Vec::new();
    loop {
        tokio::select! {
            k = rx.recv_many(&mut new, 1024) => {
                if k == 0 {
                    return;
                }
                // Callers woken together send together: let them run
                // once, so that their requests share one write.
                tokio::task::yield_now().await;
                while let Ok(caller) = rx.try_recv() {
                    new.push(caller);
                }
                for caller in new.drain(..) {
                    waiting.push_back(caller);
                    out.extend_from_slice(PING);
                }
                if s.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
            r = s.read(&mut buf[carry..]) => {
                let Ok(m) = r else { return };
                if m == 0 {
                    return;
                }
                let end = carry + m;
                // Terminators ending in the new bytes (the carried three
                // cannot hold a whole one).
                let found = finder.find_iter(&buf[..end]).count();
                let keep = end.min(3);
                buf.copy_within(end - keep..end, 0);
                carry = keep;
                let answers = found - found.min(skip);
                skip -= found.min(skip);
                for caller in waiting.drain(..answers.min(waiting.len())) {
                    let _ = caller.send(());
                }
            }
        }
    }
}

#[tokio::main]
async fn task_per_call(port: u16, n: u64, window: u64) -> String {
    let calls = start(port).await;
    let ok = Arc::new(AtomicU64::new(0));
    watchdog(ok.clone());
    let in_flight = Arc::new(Semaphore::new(window as usize));
    let t0 = Instant::now();
    for _ in 0..n {
        let permit = in_flight.clone().acquire_owned().await.expect("open");
        let calls = calls.clone();
        let ok = ok.clone();
        tokio::spawn(async move {
            let (tx, rx) = oneshot::channel();
            if calls.send(tx).is_ok() && rx.await.is_ok() {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    let _all = in_flight.acquire_many(window as u32).await.expect("open");
    let secs = t0.elapsed().as_secs_f64();
    actions_line(
        LIB,
        ok.load(Ordering::Relaxed),
        n,
        secs,
        &format!("window {window} (a tokio task per call + semaphore; no protocol)"),
    )
}

#[tokio::main]
async fn unordered(port: u16, n: u64, window: u64) -> String {
    let calls = start(port).await;
    let progress = Arc::new(AtomicU64::new(0));
    watchdog(progress.clone());
    let t0 = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let (mut sent, mut done, mut ok) = (0u64, 0u64, 0u64);
    while done < n {
        while sent < n && (in_flight.len() as u64) < window {
            let (tx, rx) = oneshot::channel();
            let _ = calls.send(tx);
            in_flight.push(rx);
            sent += 1;
        }
        if let Some(r) = in_flight.next().await {
            done += 1;
            ok += u64::from(r.is_ok());
            progress.store(done, Ordering::Relaxed);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    actions_line(
        LIB,
        ok,
        n,
        secs,
        &format!("window {window} (one task, FuturesUnordered; no protocol)"),
    )
}
