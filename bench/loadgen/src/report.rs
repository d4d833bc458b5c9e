//! Writes bench/RESULTS.md from the JSON files bench/run.sh collected:
//! DIR/meta.json and DIR/<target>/<figure>.json for target in mlflow, mlflow-pg,
//! mlox-sqlite, mlox-pg, null. mlox on SQLite is compared with MLflow on SQLite, mlox on
//! PostgreSQL with MLflow on PostgreSQL. Text after the KEEP marker in an existing RESULTS.md is kept.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::sys::{machine, read_json, write_file};

const KEEP: &str =
    "<!-- Notes below this line are written by hand and kept when the report is regenerated. -->";

#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

#[derive(Clone, Copy)]
enum Target {
    /// mlox must be at least this many times better than MLflow.
    Ratio(f64),
    /// Absolute ceiling, in the row's unit.
    AtMost(f64, &'static str),
}

struct Row {
    label: &'static str,
    file: &'static str,
    ptr: &'static str,
    unit: &'static str,
    better: Better,
    target: Option<Target>,
    /// The target on PostgreSQL, where it differs.
    pg_target: Option<Target>,
}

const fn row(
    label: &'static str,
    file: &'static str,
    ptr: &'static str,
    unit: &'static str,
    better: Better,
    target: Option<Target>,
) -> Row {
    Row {
        label,
        file,
        ptr,
        unit,
        better,
        target,
        pg_target: target,
    }
}

impl Row {
    const fn pg(mut self, target: Option<Target>) -> Row {
        self.pg_target = target;
        self
    }
}

use Better::{Higher, Lower};

const ROWS: &[Row] = &[
    row(
        "Time to first healthy /health after launch",
        "startup",
        "/healthy_ms",
        "ms",
        Lower,
        Some(Target::AtMost(200.0, "≤ 200 ms")),
    ),
    row(
        "Processes in the server's tree (idle)",
        "idle",
        "/procs_max",
        "",
        Lower,
        None,
    ),
    row(
        "Idle RSS of the process tree",
        "idle",
        "/rss_mib_last",
        "MiB",
        Lower,
        Some(Target::AtMost(20.0, "≤ 20 MiB")),
    ),
    row(
        "Peak RSS of the process tree during the scenarios",
        "peak",
        "/rss_mib_peak",
        "MiB",
        Lower,
        Some(Target::AtMost(150.0, "≤ 150 MiB")),
    ),
    row(
        "Peak PSS of the process tree (shared pages counted once)",
        "peak",
        "/pss_mib_peak",
        "MiB",
        Lower,
        None,
    ),
    row(
        "health, c8",
        "health-c8",
        "/ops_per_s",
        "req/s",
        Higher,
        None,
    ),
    row(
        "create-run, c1",
        "create-run-c1",
        "/ops_per_s",
        "runs/s",
        Higher,
        None,
    ),
    row(
        "create-run, c8",
        "create-run-c8",
        "/ops_per_s",
        "runs/s",
        Higher,
        Some(Target::Ratio(100.0)),
    )
    .pg(Some(Target::Ratio(50.0))),
    row(
        "log-metric, c1",
        "log-metric-c1",
        "/ops_per_s",
        "req/s",
        Higher,
        None,
    ),
    row(
        "log-metric, c8",
        "log-metric-c8",
        "/ops_per_s",
        "req/s",
        Higher,
        Some(Target::Ratio(100.0)),
    )
    .pg(Some(Target::Ratio(30.0))),
    row(
        "log-batch (1000 metrics/request), c1",
        "log-batch-c1",
        "/units_per_s",
        "metrics/s",
        Higher,
        Some(Target::Ratio(100.0)),
    )
    .pg(None),
    row(
        "log-batch (1000 metrics/request), c2",
        "log-batch-c2",
        "/units_per_s",
        "metrics/s",
        Higher,
        None,
    )
    .pg(Some(Target::Ratio(100.0))),
    row(
        "log-batch (1000 metrics/request), c8",
        "log-batch-c8",
        "/units_per_s",
        "metrics/s",
        Higher,
        Some(Target::Ratio(100.0)),
    )
    .pg(None),
    row(
        "seed {points} points of one metric (log-batch, 1000 per request, c4)",
        "seed-history",
        "/seed_s",
        "s",
        Lower,
        None,
    ),
    row(
        "get-history of {points} points, median",
        "seed-history",
        "/history_median_ms",
        "ms",
        Lower,
        Some(Target::AtMost(100.0, "≤ 100 ms")),
    ),
    row(
        "seeding runs over REST (runs/create + log-batch each), c8",
        "seed-search",
        "/runs_per_s",
        "runs/s",
        Higher,
        None,
    ),
    row(
        "search {runs} runs, filter + order_by, 100/page, median",
        "search",
        "/median_ms",
        "ms",
        Lower,
        Some(Target::AtMost(20.0, "≤ 20 ms")),
    ),
    row(
        "search {runs} runs, filter + order_by, p99",
        "search",
        "/latency_ms/p99",
        "ms",
        Lower,
        None,
    ),
    row(
        "paginate all {runs} runs, 1000/page, total",
        "paginate",
        "/median_ms",
        "ms",
        Lower,
        None,
    ),
];

const SERVERS: &[(&str, &str)] = &[
    ("mlflow", "MLflow (SQLite)"),
    ("mlox-sqlite", "mlox SQLite"),
    ("mlflow-pg", "MLflow (PostgreSQL)"),
    ("mlox-pg", "mlox PostgreSQL"),
];

struct Cell {
    value: Option<f64>,
    errors: u64,
    missing_reason: Option<String>,
}

fn cell(dir: &Path, target: &str, r: &Row) -> Cell {
    let tdir = dir.join(target);
    let skipped = std::fs::read_to_string(tdir.join("skipped"))
        .ok()
        .map(|s| s.trim().to_string());
    match read_json(&tdir.join(format!("{}.json", r.file))) {
        Some(v) => Cell {
            value: v.pointer(r.ptr).and_then(Value::as_f64),
            errors: v.get("errors").and_then(Value::as_u64).unwrap_or(0),
            missing_reason: None,
        },
        None => Cell {
            value: None,
            errors: 0,
            missing_reason: Some(skipped.unwrap_or_else(|| "not measured".into())),
        },
    }
}

/// Three significant digits at most, with thousands separators for big numbers.
pub fn num(x: f64) -> String {
    let a = x.abs();
    let s = if (x.fract() == 0.0 && a < 1e15) || a >= 100.0 {
        format!("{:.0}", x)
    } else if a >= 10.0 {
        format!("{:.1}", x)
    } else if a >= 1.0 {
        format!("{:.2}", x)
    } else {
        format!("{:.3}", x)
    };
    group(&s)
}

fn group(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map(|r| ("-", r)).unwrap_or(("", s));
    let (int, frac) = rest
        .split_once('.')
        .map(|(i, f)| (i, Some(f)))
        .unwrap_or((rest, None));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

fn fmt_cell(c: &Cell, unit: &str) -> String {
    match (c.value, &c.missing_reason) {
        (Some(v), _) => {
            let mut s = if unit.is_empty() {
                num(v)
            } else {
                format!("{} {unit}", num(v))
            };
            if c.errors > 0 {
                write!(s, " ⚠ {} errors", c.errors).unwrap();
            }
            s
        }
        (None, Some(r)) if r != "not measured" => "— (skipped)".into(),
        _ => "—".into(),
    }
}

/// How many times better `x` is than the MLflow figure `base`.
fn ratio(better: Better, base: Option<f64>, x: Option<f64>) -> Option<f64> {
    let (b, x) = (base?, x?);
    if b <= 0.0 || x <= 0.0 {
        return None;
    }
    Some(match better {
        Higher => x / b,
        Lower => b / x,
    })
}

fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 10.0 => format!("{}×", group(&format!("{r:.0}"))),
        Some(r) => format!("{r:.2}×"),
        None => "—".into(),
    }
}

fn verdict(t: &Target, c: &Cell, r: Option<f64>) -> &'static str {
    if c.value.is_none() {
        return "—";
    }
    if c.errors > 0 {
        return "❌ (errors)";
    }
    let ok = match t {
        Target::Ratio(min) => match r {
            Some(r) => r >= *min,
            None => return "—",
        },
        Target::AtMost(max, _) => c.value.is_some_and(|v| v <= *max),
    };
    if ok {
        "✅"
    } else {
        "❌"
    }
}

fn target_text(t: &Option<Target>) -> String {
    match t {
        None => String::new(),
        Some(Target::Ratio(m)) => format!("≥ {m:.0}× MLflow"),
        Some(Target::AtMost(_, s)) => s.to_string(),
    }
}

/// The target column: one text, or the SQLite and PostgreSQL ones when they differ.
fn targets_text(r: &Row) -> String {
    let (sq, pg) = (target_text(&r.target), target_text(&r.pg_target));
    match (sq.is_empty(), pg.is_empty()) {
        _ if sq == pg => sq,
        (false, true) => format!("{sq} (SQLite)"),
        (true, false) => format!("{pg} (PG)"),
        _ => format!("{sq} / {pg} (PG)"),
    }
}

pub fn write(dir: &Path, out: &Path, command: &str, date: &str) -> Result<()> {
    let meta = read_json(&dir.join("meta.json")).unwrap_or(Value::Null);
    let m = machine();
    let mut md = String::new();
    md.push_str("# Benchmark results: mlox vs MLflow\n\n");
    md.push_str("Generated by `bench/run.sh` (see [README.md](README.md) for what each figure means and how it is measured). Do not edit the tables by hand: rerun the command.\n\n");
    writeln!(md, "- Command: `{command}`").unwrap();
    if !date.is_empty() {
        writeln!(md, "- Date: {date}").unwrap();
    }
    writeln!(
        md,
        "- Machine: {} CPUs ({}), {} GiB RAM, Linux {}",
        m["nproc"],
        m["cpu"].as_str().unwrap_or("?"),
        m["mem_gib"],
        m["kernel"].as_str().unwrap_or("?")
    )
    .unwrap();
    if let Some(obj) = meta.as_object() {
        for (k, v) in obj {
            if k == "notes" || k == "params" {
                continue;
            }
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            writeln!(md, "- {k}: {v}").unwrap();
        }
    }
    md.push('\n');

    let pnum = |k: &str, d: u64| {
        group(
            &meta
                .pointer(&format!("/params/{k}"))
                .and_then(Value::as_u64)
                .unwrap_or(d)
                .to_string(),
        )
    };
    let (runs, points) = (pnum("runs", 10_000), pnum("points", 100_000));
    let label = |l: &str| l.replace("{runs}", &runs).replace("{points}", &points);

    // Main table.
    md.push_str("## Results\n\n");
    md.push_str("Ratios are \"times better than MLflow\" on the same engine: mlox SQLite ÷ MLflow SQLite and mlox PostgreSQL ÷ MLflow PostgreSQL for rates, the inverse for times and memory. `cN` = N concurrent closed-loop clients. Figures from runs with errors are flagged ⚠ and do not meet a target.\n\n");
    md.push_str("| Scenario | MLflow (SQLite) | mlox SQLite | ratio | MLflow (PostgreSQL) | mlox PostgreSQL | ratio (PG) | target | met: SQLite / PG |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---|---|\n");
    for r in ROWS {
        let base = cell(dir, "mlflow", r);
        let sq = cell(dir, "mlox-sqlite", r);
        let pg_base = cell(dir, "mlflow-pg", r);
        let pg = cell(dir, "mlox-pg", r);
        let clean = |c: &Cell| if c.errors == 0 { c.value } else { None };
        let rs = ratio(r.better, clean(&base), clean(&sq));
        let rp = ratio(r.better, clean(&pg_base), clean(&pg));
        let met_one = |t: &Option<Target>, c: &Cell, r: Option<f64>| match t {
            Some(t) => verdict(t, c, r),
            None => "",
        };
        let met = match (&r.target, &r.pg_target) {
            (None, None) => String::new(),
            _ => format!(
                "{} / {}",
                met_one(&r.target, &sq, rs),
                met_one(&r.pg_target, &pg, rp)
            ),
        };
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            label(r.label),
            fmt_cell(&base, r.unit),
            fmt_cell(&sq, r.unit),
            fmt_ratio(rs),
            fmt_cell(&pg_base, r.unit),
            fmt_cell(&pg, r.unit),
            fmt_ratio(rp),
            targets_text(r),
            met
        )
        .unwrap();
    }
    md.push('\n');

    // Latencies of the throughput scenarios.
    md.push_str("## Latency of the throughput scenarios (p50 / p99, ms)\n\n");
    md.push_str(
        "| Scenario | MLflow (SQLite) | mlox SQLite | MLflow (PostgreSQL) | mlox PostgreSQL |\n|---|---:|---:|---:|---:|\n",
    );
    for f in [
        "health-c8",
        "create-run-c1",
        "create-run-c8",
        "log-metric-c1",
        "log-metric-c8",
        "log-batch-c1",
        "log-batch-c2",
        "log-batch-c8",
    ] {
        let mut line = format!("| {f} |");
        for (t, _) in SERVERS {
            let v = read_json(&dir.join(t).join(format!("{f}.json")));
            let s = match v {
                Some(v) => format!(
                    " {} / {} ({} ops{}) |",
                    num(v
                        .pointer("/latency_ms/p50")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0)),
                    num(v
                        .pointer("/latency_ms/p99")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0)),
                    group(&v["ops"].as_u64().unwrap_or(0).to_string()),
                    match v["errors"].as_u64().unwrap_or(0) {
                        0 => String::new(),
                        e => format!(", ⚠ {e} errors"),
                    }
                ),
                None => " — |".into(),
            };
            line.push_str(&s);
        }
        md.push_str(&line);
        md.push('\n');
    }
    md.push('\n');

    // The load generator's ceiling.
    md.push_str("## The load generator's own ceiling\n\n");
    md.push_str("First, the same scenarios against `mlox-loadgen null-server`, a trivial keep-alive HTTP server that answers every request with a fixed 200 JSON body. It runs on the same 2 cores, so the load generator and the \"server\" share the CPU exactly as in the real runs. The ceiling is the highest rate the load generator sustained in this run for that request shape, against the null server or any real server. A server figure far below the ceiling is not limited by the load generator; a figure near it measures the pair.\n\n");
    md.push_str("| Scenario | null server (p50 / p99 ms) | ceiling (highest sustained, against) | fastest mlox figure | mlox ÷ ceiling |\n|---|---:|---:|---:|---:|\n");
    for (f, ptr, unit) in [
        ("health-c8", "/ops_per_s", "req/s"),
        ("create-run-c8", "/ops_per_s", "req/s"),
        ("log-metric-c8", "/ops_per_s", "req/s"),
        ("log-batch-c8", "/units_per_s", "metrics/s"),
    ] {
        let get = |t: &str| {
            read_json(&dir.join(t).join(format!("{f}.json")))
                .filter(|v| v["errors"].as_u64().unwrap_or(0) == 0)
        };
        let rate = |v: &Value| v.pointer(ptr).and_then(Value::as_f64);
        let null = get("null");
        let null_cell = match &null {
            Some(v) => format!(
                "{} {unit} ({} / {})",
                num(rate(v).unwrap_or(0.0)),
                num(v
                    .pointer("/latency_ms/p50")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)),
                num(v
                    .pointer("/latency_ms/p99")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0))
            ),
            None => "—".into(),
        };
        let mut ceil: Option<(f64, &str)> = None;
        for (t, name) in [
            ("null", "null server"),
            ("mlflow", "MLflow"),
            ("mlflow-pg", "MLflow (PostgreSQL)"),
            ("mlox-sqlite", "mlox SQLite"),
            ("mlox-pg", "mlox PostgreSQL"),
        ] {
            if let Some(x) = get(t).as_ref().and_then(rate) {
                if ceil.is_none_or(|(c, _)| x > c) {
                    ceil = Some((x, name));
                }
            }
        }
        let best = ["mlox-sqlite", "mlox-pg"]
            .iter()
            .filter_map(|t| get(t).as_ref().and_then(rate))
            .fold(None::<f64>, |a, x| Some(a.map_or(x, |a: f64| a.max(x))));
        let share = match (best, ceil) {
            (Some(b), Some((c, _))) if c > 0.0 => format!("{:.0}%", 100.0 * b / c),
            _ => "—".into(),
        };
        writeln!(
            md,
            "| {f} | {null_cell} | {} | {} | {share} |",
            ceil.map(|(c, n)| format!("{} {unit} ({n})", num(c)))
                .unwrap_or_else(|| "—".into()),
            best.map(|c| format!("{} {unit}", num(c)))
                .unwrap_or_else(|| "—".into()),
        )
        .unwrap();
    }
    md.push('\n');

    // Details worth seeing next to the table.
    md.push_str("## Details\n\n");
    for (t, name) in SERVERS {
        let tdir = dir.join(t);
        if let Ok(s) = std::fs::read_to_string(tdir.join("skipped")) {
            writeln!(md, "- {name}: skipped — {}", s.trim()).unwrap();
            continue;
        }
        let mut parts = Vec::new();
        if let Some(v) = read_json(&tdir.join("search.json")) {
            parts.push(format!(
                "search matched {} runs, first (cold) query {} ms",
                v["matches_total"],
                num(v["first_ms"].as_f64().unwrap_or(0.0))
            ));
        }
        if let Some(v) = read_json(&tdir.join("paginate.json")) {
            parts.push(format!(
                "pagination read {} runs in {} pages",
                v["runs"], v["pages"]
            ));
        }
        if let Some(v) = read_json(&tdir.join("seed-search.json")) {
            parts.push(format!(
                "seeding runs over REST: {} requests/s",
                num(v["requests_per_s"].as_f64().unwrap_or(0.0))
            ));
        }
        if let Some(v) = read_json(&tdir.join("seed-history.json")) {
            parts.push(format!(
                "get-history runs (ms): {}",
                v["history_ms_each"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .map(|x| num(x.as_f64().unwrap_or(0.0)))
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            ));
        }
        if let Some(v) = read_json(&tdir.join("idle.json")) {
            if let Some(names) = v["process_names"].as_array() {
                // "python ×14" rather than fourteen names.
                let mut counts: Vec<(&str, usize)> = Vec::new();
                for n in names.iter().filter_map(Value::as_str) {
                    match counts.iter_mut().find(|(k, _)| *k == n) {
                        Some((_, c)) => *c += 1,
                        None => counts.push((n, 1)),
                    }
                }
                let list: Vec<String> = counts
                    .iter()
                    .map(|(n, c)| {
                        if *c == 1 {
                            n.to_string()
                        } else {
                            format!("{n} ×{c}")
                        }
                    })
                    .collect();
                parts.push(format!("processes: {}", list.join(", ")));
            }
        }
        let mut errs = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&tdir) {
            let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            files.sort();
            for p in files {
                if let Some(v) = read_json(&p) {
                    let n = v["errors"].as_u64().unwrap_or(0);
                    if n > 0 {
                        let sample = v["error_samples"]
                            .as_array()
                            .and_then(|a| a.first())
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .chars()
                            .take(200)
                            .collect::<String>();
                        errs.push(format!(
                            "{}: {n} errors (e.g. `{}`)",
                            p.file_stem().and_then(|s| s.to_str()).unwrap_or("?"),
                            sample.replace('`', "'").replace('|', "\\|")
                        ));
                    }
                }
            }
        }
        if errs.is_empty() {
            parts.push("no errors".into());
        } else {
            parts.push(format!("ERRORS: {}", errs.join("; ")));
        }
        writeln!(md, "- {name}: {}.", parts.join("; ")).unwrap();
    }
    if let Some(notes) = meta.get("notes").and_then(Value::as_array) {
        for n in notes.iter().filter_map(Value::as_str) {
            writeln!(md, "- {n}").unwrap();
        }
    }
    md.push_str("\nRaw JSON of every figure: `bench/out/` (not committed).\n\n");

    // Keep the hand-written tail of an existing report.
    md.push_str(KEEP);
    md.push('\n');
    if let Ok(old) = std::fs::read_to_string(out) {
        if let Some(i) = old.find(KEEP) {
            let tail = &old[i + KEEP.len()..];
            md.push_str(tail.trim_start_matches('\n'));
        }
    }
    if !md.ends_with('\n') {
        md.push('\n');
    }
    write_file(out, &md)
}
