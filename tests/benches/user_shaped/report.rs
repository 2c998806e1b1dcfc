//! The table: medians over rounds, CPU per item, ratios to the baseline of
//! the same run, and the machine's load.

use std::fmt::Write;
use std::time::Duration;

use crate::process::Run;

/// Every run of one row.
#[derive(Default)]
pub struct Measured {
    pub runs: Vec<Run>,
    pub failures: Vec<String>,
}

/// One row to print.
pub struct Row<'a> {
    pub id: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub baseline: Option<&'static str>,
    pub measured: &'a Measured,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

impl Measured {
    fn median_rate(&self) -> f64 {
        median(self.runs.iter().map(Run::rate).collect())
    }

    fn median_cpu_us(&self, f: impl Fn(&Run) -> Duration) -> f64 {
        median(
            self.runs
                .iter()
                .map(|r| f(r).as_secs_f64() * 1e6 / r.items.max(1) as f64)
                .collect(),
        )
    }
}

/// `7.99 M` or `712 k`.
pub fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else {
        format!("{:.0} k", r / 1e3)
    }
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`).
pub fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(f64::NAN));
    [
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
    ]
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

/// A markdown table of `rows`, with `title` and the load averages sampled
/// before each round and at the end.
pub fn table(rows: &[Row<'_>], title: &str, loads: &[[f64; 3]]) -> String {
    let mut out = String::new();
    let one_min: Vec<f64> = loads.iter().map(|l| l[0]).collect();
    let lo = one_min.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = one_min.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let _ = writeln!(out, "\n{title}");
    let _ = writeln!(
        out,
        "{} cores; load average (1 min) {lo:.2}–{hi:.2} during the run\n",
        cores()
    );
    let _ = writeln!(
        out,
        "| | median | min–max | client CPU per item | ratio to baseline | ami-load CPU per item | missing | runs |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for row in rows {
        let m = row.measured;
        let rates: Vec<f64> = m.runs.iter().map(Run::rate).collect();
        let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let ratio = match row.baseline {
            None => "1 (baseline)".to_owned(),
            Some(b) => match rows.iter().find(|r| r.id == b) {
                Some(base) => format!("{:.3}", m.median_rate() / base.measured.median_rate()),
                None => "-".to_owned(),
            },
        };
        let missing: u64 = m.runs.iter().map(|r| r.missing).sum();
        let runs = if m.failures.is_empty() {
            m.runs.len().to_string()
        } else {
            format!("{} ({} failed)", m.runs.len(), m.failures.len())
        };
        let _ = writeln!(
            out,
            "| {} | {} {} | {}–{} | {:.3} µs | {ratio} | {:.3} µs | {missing} | {runs} |",
            row.label,
            rate(m.median_rate()),
            row.unit,
            rate(lo),
            rate(hi),
            m.median_cpu_us(|r| r.cpu),
            m.median_cpu_us(|r| r.server_cpu),
        );
    }
    out
}
