//! Resident memory of this process, from `/proc/self/status`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn status_kib(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resident set size now, in bytes (`VmRSS`).
pub fn now() -> u64 {
    status_kib("VmRSS:") * 1024
}

/// The highest resident set size so far, in bytes (`VmHWM`).
pub fn peak() -> u64 {
    status_kib("VmHWM:") * 1024
}

/// Samples [`now`] every `every` on a thread until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(Duration, u64)>>>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    pub fn start(every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (stop.clone(), samples.clone());
        let t0 = Instant::now();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                v.lock().unwrap().push((t0.elapsed(), now()));
                std::thread::sleep(every);
            }
        });
        Sampler {
            stop,
            samples,
            thread: Some(thread),
        }
    }

    /// Stop and return the samples (time since start, bytes).
    pub fn finish(mut self) -> Vec<(Duration, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.samples.lock().unwrap())
    }
}
