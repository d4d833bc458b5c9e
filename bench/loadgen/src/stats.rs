//! Latency summaries. Latencies are kept exactly (one u64 of microseconds per
//! operation) and sorted at the end: at the rates measured here that is at most a few
//! megabytes, and it gives exact percentiles without a histogram dependency.

use serde_json::{json, Value};

/// Percentile (nearest-rank) of an ascending slice.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(us: u64) -> f64 {
    round3(us as f64 / 1000.0)
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// {p50, p90, p99, max, mean, min} in milliseconds; sorts `lat` in place.
pub fn summary(lat: &mut [u64]) -> Value {
    lat.sort_unstable();
    let n = lat.len();
    let mean = if n == 0 {
        0.0
    } else {
        lat.iter().sum::<u64>() as f64 / n as f64 / 1000.0
    };
    json!({
        "n": n,
        "min": ms(lat.first().copied().unwrap_or(0)),
        "p50": ms(percentile(lat, 50.0)),
        "p90": ms(percentile(lat, 90.0)),
        "p99": ms(percentile(lat, 99.0)),
        "max": ms(lat.last().copied().unwrap_or(0)),
        "mean": round3(mean),
    })
}

/// Median of a list of durations in microseconds, in ms.
pub fn median_ms(v: &[u64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_unstable();
    if s.is_empty() {
        return 0.0;
    }
    let m = if s.len() % 2 == 1 {
        s[s.len() / 2] as f64
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) as f64 / 2.0
    };
    round3(m / 1000.0)
}

/// Collects up to a few error messages and counts all of them.
#[derive(Default)]
pub struct Errors {
    pub count: u64,
    pub samples: Vec<String>,
}

impl Errors {
    pub fn add(&mut self, e: &anyhow::Error) {
        self.count += 1;
        if self.samples.len() < 5 {
            let s = format!("{e:#}");
            if !self.samples.contains(&s) {
                self.samples.push(s);
            }
        }
    }

    pub fn add_msg(&mut self, s: String) {
        self.add(&anyhow::anyhow!(s));
    }

    pub fn merge(&mut self, other: Errors) {
        self.count += other.count;
        for s in other.samples {
            if self.samples.len() < 5 && !self.samples.contains(&s) {
                self.samples.push(s);
            }
        }
    }
}
