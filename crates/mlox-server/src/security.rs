//! Secure defaults, as MLflow 3.17's security middleware (`mlflow/server/fastapi_security.py`):
//! a Host-header check against DNS rebinding, CORS for localhost origins, refusal of
//! state-changing API requests from foreign origins, and `X-Content-Type-Options` /
//! `X-Frame-Options` on every answer of the application.
//!
//! The layers run in MLflow's order, outermost first: Host check (403 `text/plain`), CORS
//! (answers preflights itself; adds the grant headers to other answers), the cross-origin
//! block (403 `text/plain`), then the security headers on whatever the application (or the
//! authentication layer inside it) answers.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

pub const INVALID_HOST_MSG: &str = "Invalid Host header - possible DNS rebinding attack detected";
pub const CORS_BLOCKED_MSG: &str = "Cross-origin request blocked";

/// Paths exempt from the Host check (MLflow's `HEALTH_ENDPOINTS`).
const HEALTH_ENDPOINTS: [&str; 2] = ["/health", "/version"];
/// Paths under `/api/` that MLflow leaves out of the cross-origin block.
const TEST_ENDPOINTS: [&str; 2] = ["/test", "/api/test"];
/// MLflow embeds this page in notebooks, so it gets no `X-Frame-Options`.
const TRACE_RENDERER_ASSET_PATH: &str = "/static-files/lib/notebook-trace-renderer";
/// What MLflow's CORS grant allows (`allow_methods`).
const CORS_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS, PATCH";
/// Starlette's list for `allow_methods=["*"]` (wildcard origins).
const CORS_ALL_METHODS: &str = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";
const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, \
     Access-Control-Request-Headers, Access-Control-Request-Private-Network";

/// `--allowed-hosts`, `--cors-allowed-origins`, `--x-frame-options`,
/// `--disable-security-middleware`.
#[derive(Clone, Debug)]
pub struct SecurityConfig {
    /// `false` with `--disable-security-middleware`: no check, no header.
    pub enabled: bool,
    /// Host patterns (`fnmatch` when they contain `*`); `None` for MLflow's defaults.
    pub allowed_hosts: Option<Vec<String>>,
    /// Extra CORS origins besides localhost ones; `*` allows every origin, uncredentialed.
    pub cors_allowed_origins: Vec<String>,
    /// `SAMEORIGIN` (default), `DENY`, or `NONE` for no header.
    pub x_frame_options: String,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            enabled: true,
            allowed_hosts: None,
            cors_allowed_origins: Vec::new(),
            x_frame_options: "SAMEORIGIN".to_string(),
        }
    }
}

impl SecurityConfig {
    /// The configuration from the server's flags, read as MLflow reads them (comma-separated
    /// lists, items trimmed).
    pub fn from_flags(
        allowed_hosts: Option<&str>,
        cors_allowed_origins: Option<&str>,
        x_frame_options: Option<&str>,
        disable: bool,
    ) -> Self {
        let list = |s: &str| s.split(',').map(|i| i.trim().to_string()).collect();
        SecurityConfig {
            enabled: !disable,
            allowed_hosts: allowed_hosts.filter(|s| !s.is_empty()).map(list),
            cors_allowed_origins: cors_allowed_origins
                .filter(|s| !s.is_empty())
                .map(list)
                .unwrap_or_default(),
            x_frame_options: x_frame_options
                .filter(|s| !s.is_empty())
                .unwrap_or("SAMEORIGIN")
                .to_string(),
        }
    }

    /// Wraps `router` in the middleware (nothing when disabled).
    pub fn wrap(self, router: Router) -> Router {
        if !self.enabled {
            return router;
        }
        router.layer(axum::middleware::from_fn_with_state(
            Arc::new(Compiled::new(self)),
            middleware,
        ))
    }
}

/// An allowed-hosts or origins entry, split once at start-up: a name compared as it is, or
/// an `fnmatch` pattern kept as characters.
enum Pattern {
    Exact(String),
    Glob(Vec<char>),
}

impl Pattern {
    fn new(p: &str) -> Pattern {
        if p.contains('*') {
            Pattern::Glob(p.chars().collect())
        } else {
            Pattern::Exact(p.to_string())
        }
    }

    /// Whether `text` (given as characters too, for the globs) matches.
    fn matches(&self, text: &str, chars: &[char]) -> bool {
        match self {
            Pattern::Exact(e) => e == text,
            Pattern::Glob(p) => fnmatch_chars(p, chars),
        }
    }
}

/// Whether any of `patterns` matches `text` (its characters collected once, and only when
/// an exact name has not matched already).
fn any_matches(patterns: &[Pattern], text: &str) -> bool {
    if patterns
        .iter()
        .any(|p| matches!(p, Pattern::Exact(e) if e == text))
    {
        return true;
    }
    if !patterns.iter().any(|p| matches!(p, Pattern::Glob(_))) {
        return false;
    }
    let chars: Vec<char> = text.chars().collect();
    patterns.iter().any(|p| p.matches(text, &chars))
}

struct Compiled {
    /// `None`: every host is allowed (`*`).
    hosts: Option<Vec<Pattern>>,
    /// The CORS origins entries as patterns, for `blocks`.
    origin_patterns: Vec<Pattern>,
    /// Explicit CORS origins (exact match grants; `fnmatch` patterns only escape the block).
    origins: Vec<String>,
    wildcard_origins: bool,
    x_frame_options: Option<HeaderValue>,
}

impl Compiled {
    fn new(cfg: SecurityConfig) -> Self {
        let hosts = cfg.allowed_hosts.unwrap_or_else(default_allowed_hosts);
        let hosts = (!hosts.iter().any(|h| h == "*")).then_some(hosts);
        let wildcard_origins = cfg.cors_allowed_origins.iter().any(|o| o == "*");
        let xfo = cfg.x_frame_options.to_uppercase();
        Compiled {
            hosts: hosts.map(|h| h.iter().map(|p| Pattern::new(p)).collect()),
            origin_patterns: cfg
                .cors_allowed_origins
                .iter()
                .map(|p| Pattern::new(p))
                .collect(),
            origins: cfg.cors_allowed_origins,
            wildcard_origins,
            x_frame_options: (xfo != "NONE")
                .then(|| HeaderValue::from_str(&xfo).ok())
                .flatten(),
        }
    }

    fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(patterns) = &self.hosts else {
            return true;
        };
        let Some(host) = host.filter(|h| !h.is_empty()) else {
            return false;
        };
        any_matches(patterns, host)
    }

    /// Whether the CORS layer grants `origin` (Starlette: exact entry or the localhost regex).
    fn grants(&self, origin: &str) -> bool {
        self.wildcard_origins
            || self.origins.iter().any(|o| o == origin)
            || is_localhost_regex_origin(origin)
    }

    /// MLflow's `should_block_cors_request`.
    fn blocks(&self, origin: Option<&str>, method: &Method) -> bool {
        let Some(origin) = origin.filter(|o| !o.is_empty()) else {
            return false;
        };
        if self.wildcard_origins || !is_state_changing(method) || is_localhost_origin(origin) {
            return false;
        }
        !any_matches(&self.origin_patterns, origin)
    }
}

/// Localhost, loopback and private-network hosts, with any port (MLflow's defaults).
pub fn default_allowed_hosts() -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]", "0.0.0.0"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    hosts.extend(["localhost:*", "127.0.0.1:*", "[[]::1]:*", "0.0.0.0:*"].map(String::from));
    hosts.extend(["192.168.*", "10.*"].map(String::from));
    hosts.extend((16..32).map(|i| format!("172.{i}.*")));
    hosts.extend(["fc00:*", "fd00:*"].map(String::from));
    hosts
}

fn is_state_changing(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::DELETE | Method::PATCH
    )
}

fn is_health_endpoint(path: &str) -> bool {
    HEALTH_ENDPOINTS.contains(&path)
}

/// MLflow's `is_api_endpoint`: the REST and ajax prefixes (artifact routes included).
pub fn is_api_endpoint(path: &str) -> bool {
    (path.starts_with("/api/") || path.starts_with("/ajax-api/")) && !TEST_ENDPOINTS.contains(&path)
}

/// `http://localhost[:port]`, `http://127.0.0.1[:port]`, `http://[::1][:port]`: the origins
/// granted by default.
fn is_localhost_regex_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        if let Some(port) = rest.strip_prefix(host) {
            return port.is_empty()
                || port
                    .strip_prefix(':')
                    .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        }
    }
    false
}

/// Whether the origin's host name (any scheme or port) is a localhost one, as Python's
/// `urlparse(origin).hostname` sees it.
fn is_localhost_origin(origin: &str) -> bool {
    let Some((_, rest)) = origin.split_once("://") else {
        return false;
    };
    let netloc = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    matches!(
        host.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    )
}

/// Python's `fnmatch.fnmatchcase` (case-sensitive, as `fnmatch` on POSIX): `*`, `?`,
/// `[seq]` and `[!seq]`.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fnmatch_chars(&p, &t)
}

/// [`fnmatch`] on characters collected beforehand.
fn fnmatch_chars(p: &[char], t: &[char]) -> bool {
    // Iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class(p, pi, t[ti]) {
                Some((true, next)) => Some(next),
                Some((false, _)) => None,
                // An unclosed `[` is a literal.
                None => (t[ti] == '[').then_some(pi + 1),
            },
            Some(c) => (*c == t[ti]).then_some(pi + 1),
            None => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ti += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the class opening at `p[start] == '['`: `(matched, index after ])`,
/// or `None` when the class is not closed.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let first = i;
    let mut matched = false;
    while i < p.len() {
        if p[i] == ']' && i > first {
            return Some((matched != negate, i + 1));
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

fn text_response(status: StatusCode, content_type: &'static str, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Starlette's preflight answer.
fn preflight(cfg: &Compiled, origin: &str, headers: &HeaderMap) -> Response {
    let mut failures = Vec::new();
    let mut out = HeaderMap::new();
    out.insert(header::VARY, HeaderValue::from_static(PREFLIGHT_VARY));
    if cfg.wildcard_origins {
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_ALL_METHODS),
        );
        out.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_METHODS),
        );
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if cfg.grants(origin) {
            if let Ok(v) = HeaderValue::from_str(origin) {
                out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            }
        } else {
            failures.push("origin");
        }
        let method = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !CORS_METHODS.split(", ").any(|m| m == method) {
            failures.push("method");
        }
    }
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    if let Some(requested) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    let (status, body) = if failures.is_empty() {
        (StatusCode::OK, "OK".to_string())
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!("Disallowed CORS {}", failures.join(", ")),
        )
    };
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    (status, out, body).into_response()
}

/// The CORS headers Starlette adds to a non-preflight answer to a request with an `Origin`.
fn add_cors_headers(cfg: &Compiled, origin: &str, headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("*"),
    );
    if cfg.wildcard_origins {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        return;
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    if cfg.grants(origin) {
        if let Ok(v) = HeaderValue::from_str(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

async fn middleware(State(cfg): State<Arc<Compiled>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if !is_health_endpoint(&path) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        if !cfg.host_allowed(host) {
            tracing::warn!(
                host = host.unwrap_or(""),
                "rejected request with invalid Host header"
            );
            return text_response(StatusCode::FORBIDDEN, "text/plain", INVALID_HOST_MSG);
        }
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return add_security_headers(&cfg, &path, req.method().clone(), next.run(req).await);
    };
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(&cfg, &origin, req.headers());
    }
    let mut response = if is_api_endpoint(&path) && cfg.blocks(Some(&origin), req.method()) {
        tracing::warn!(origin, "blocked cross-origin request");
        text_response(StatusCode::FORBIDDEN, "text/plain", CORS_BLOCKED_MSG)
    } else {
        let method = req.method().clone();
        add_security_headers(&cfg, &path, method, next.run(req).await)
    };
    add_cors_headers(&cfg, &origin, response.headers_mut());
    response
}

fn add_security_headers(cfg: &Compiled, path: &str, method: Method, mut r: Response) -> Response {
    let headers = r.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(xfo) = &cfg.x_frame_options {
        if !path.starts_with(TRACE_RENDERER_ASSET_PATH) {
            headers.insert(header::X_FRAME_OPTIONS, xfo.clone());
        }
    }
    if method == Method::OPTIONS && r.status() == StatusCode::OK && is_api_endpoint(path) {
        *r.status_mut() = StatusCode::NO_CONTENT;
        *r.body_mut() = Body::empty();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_as_python() {
        assert!(fnmatch("192.168.*", "192.168.1.5:5000"));
        assert!(fnmatch("localhost:*", "localhost:5000"));
        assert!(!fnmatch("localhost:*", "localhost"));
        assert!(fnmatch("[[]::1]:*", "[::1]:5000"));
        assert!(!fnmatch("[[]::1]:*", "[::2]:5000"));
        assert!(fnmatch("app-*.internal.com", "app-1.internal.com"));
        assert!(!fnmatch("app-*.internal.com", "app-1.internal.org"));
        assert!(fnmatch("a?c", "abc"));
        assert!(fnmatch("[!x]b", "ab"));
        assert!(!fnmatch("[!x]b", "xb"));
        assert!(fnmatch("[a-c]*", "bz"));
        assert!(fnmatch("*", ""));
        assert!(!fnmatch("10.*", "110.0.0.1"));
    }

    #[test]
    fn default_hosts() {
        let cfg = Compiled::new(SecurityConfig::default());
        for ok in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:80",
            "0.0.0.0:5000",
            "10.1.2.3",
            "172.16.0.1:80",
            "172.31.9.9",
            "192.168.0.2:5000",
        ] {
            assert!(cfg.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "LOCALHOST:5000",
            "172.32.0.1",
            "172.15.0.1",
            "",
        ] {
            assert!(!cfg.host_allowed(Some(bad)), "{bad}");
        }
        assert!(!cfg.host_allowed(None));
        let all = Compiled::new(SecurityConfig::from_flags(Some("*"), None, None, false));
        assert!(all.host_allowed(Some("evil.example.com")));
    }

    #[test]
    fn origins() {
        let cfg = Compiled::new(SecurityConfig::from_flags(
            None,
            Some("https://app.example.com, https://*.corp.example"),
            None,
            false,
        ));
        assert!(cfg.grants("http://localhost:3000"));
        assert!(cfg.grants("http://[::1]:1"));
        assert!(!cfg.grants("https://localhost:3000"));
        assert!(cfg.grants("https://app.example.com"));
        assert!(!cfg.grants("https://x.corp.example"));
        assert!(!cfg.blocks(Some("https://x.corp.example"), &Method::POST));
        assert!(!cfg.blocks(Some("https://localhost:3000"), &Method::POST));
        assert!(cfg.blocks(Some("http://evil.com"), &Method::POST));
        assert!(cfg.blocks(Some("null"), &Method::DELETE));
        assert!(!cfg.blocks(Some("http://evil.com"), &Method::GET));
        assert!(!cfg.blocks(None, &Method::POST));
    }
}
