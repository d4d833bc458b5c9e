//! mlox-ui: the web UI's built files (`ui/dist`), embedded in the binary.
//!
//! `build.rs` builds `ui/` with npm when its output is missing or older than its
//! sources, precompressed copies included. This crate knows nothing about HTTP:
//! `mlox-server` serves the files (see its `ui` module).

/// One built file of the UI.
#[derive(Debug)]
pub struct Asset {
    /// Path relative to the UI root, without a leading slash (`index.html`, `assets/app-1a2b.js`).
    pub path: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzip-compressed, when compression pays.
    pub gzip: Option<&'static [u8]>,
    /// The same bytes brotli-compressed, when compression pays.
    pub brotli: Option<&'static [u8]>,
}

impl Asset {
    /// Whether the file name carries a content hash, so it can be cached forever.
    pub fn is_immutable(&self) -> bool {
        self.path.starts_with("assets/")
    }
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The built file at `path` (relative, no leading slash).
pub fn get(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The app's entry page, served for every deep link.
pub fn index() -> &'static Asset {
    get("index.html").unwrap_or(&PLACEHOLDER)
}

/// Whether the UI was built into this binary (false with `MLOX_UI_SKIP=1`).
pub fn is_built() -> bool {
    get("index.html").is_some()
}

static PLACEHOLDER: Asset = Asset {
    path: "index.html",
    body: b"<!doctype html><meta charset=utf-8><title>mlox</title><p>This mlox binary was built without its web UI (MLOX_UI_SKIP). The REST API is under /api/2.0/mlflow/.</p>",
    gzip: None,
    brotli: None,
};

#[cfg(test)]
mod tests {
    #[test]
    fn index_is_always_available() {
        assert!(super::index().body.starts_with(b"<!doctype html>"));
    }

    #[test]
    fn built_assets_have_hashed_names() {
        for a in super::ASSETS {
            assert!(!a.path.starts_with('/'), "{}", a.path);
            if a.path.ends_with(".js") {
                assert!(a.is_immutable(), "{} should live under assets/", a.path);
            }
        }
    }
}
