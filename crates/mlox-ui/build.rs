//! Builds the web UI (`ui/`, npm) when `ui/dist` is missing or older than its sources,
//! then generates `assets.rs`: one `include_bytes!` per built file.
//!
//! `MLOX_UI_SKIP=1` builds without the UI (a placeholder page is served);
//! `MLOX_UI_DIST=<dir>` embeds an already built folder instead of running npm.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const SOURCES: &[&str] = &[
    "src",
    "index.html",
    "build.mjs",
    "package.json",
    "package-lock.json",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let ui = manifest.join("../../ui");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("assets.rs");
    println!("cargo:rerun-if-env-changed=MLOX_UI_SKIP");
    println!("cargo:rerun-if-env-changed=MLOX_UI_DIST");
    for s in SOURCES {
        println!("cargo:rerun-if-changed={}", ui.join(s).display());
    }

    if std::env::var_os("MLOX_UI_SKIP").is_some_and(|v| v != "0" && !v.is_empty()) {
        std::fs::write(&out, "static ASSETS: &[Asset] = &[];\n").unwrap();
        return;
    }
    let dist = match std::env::var_os("MLOX_UI_DIST") {
        Some(d) => PathBuf::from(d),
        None => {
            let dist = ui.join("dist");
            if is_stale(&ui, &dist) {
                build_ui(&ui);
            }
            dist
        }
    };
    println!("cargo:rerun-if-changed={}", dist.join(".stamp").display());

    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    if !files.iter().any(|f| f == "index.html") {
        panic!(
            "{} has no index.html: the UI build did not produce it",
            dist.display()
        );
    }
    let mut code = String::from("static ASSETS: &[Asset] = &[\n");
    for f in &files {
        if f.ends_with(".gz") || f.ends_with(".br") {
            continue;
        }
        let abs = dist.join(f);
        let variant = |ext: &str| {
            let p = dist.join(format!("{f}.{ext}"));
            if p.exists() {
                format!("Some(include_bytes!({:?}))", p.canonicalize().unwrap())
            } else {
                "None".to_string()
            }
        };
        writeln!(
            code,
            "    Asset {{ path: {f:?}, body: include_bytes!({:?}), gzip: {}, brotli: {} }},",
            abs.canonicalize().unwrap(),
            variant("gz"),
            variant("br"),
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(&out, code).unwrap();
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push(rel);
        }
    }
}

fn newest(p: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(p).ok()?;
    let mut t = meta.modified().ok()?;
    if meta.is_dir() {
        for e in std::fs::read_dir(p).ok()?.flatten() {
            if let Some(c) = newest(&e.path()) {
                t = t.max(c);
            }
        }
    }
    Some(t)
}

fn is_stale(ui: &Path, dist: &Path) -> bool {
    let Some(built) = std::fs::metadata(dist.join(".stamp"))
        .and_then(|m| m.modified())
        .ok()
    else {
        return true;
    };
    SOURCES
        .iter()
        .filter_map(|s| newest(&ui.join(s)))
        .any(|t| t > built)
}

fn npm(ui: &Path, args: &[&str]) {
    let status = Command::new("npm").args(args).current_dir(ui).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`npm {}` in {} failed ({s}); fix the UI build, or set MLOX_UI_SKIP=1 to build mlox without its web UI",
            args.join(" "),
            ui.display()
        ),
        Err(e) => panic!(
            "building mlox's web UI needs Node.js (>= 18) and npm on PATH, which were not found ({e}). \
             Install Node.js, or set MLOX_UI_SKIP=1 to build mlox without its web UI"
        ),
    }
}

fn build_ui(ui: &Path) {
    let installed = ui.join("node_modules/.package-lock.json");
    let lock_newer = match (newest(&ui.join("package-lock.json")), newest(&installed)) {
        (Some(lock), Some(inst)) => lock > inst,
        _ => true,
    };
    if lock_newer {
        npm(ui, &["ci", "--no-audit", "--no-fund"]);
    }
    npm(ui, &["run", "build"]);
}
