//! What an operator needs around the API: the access log, Prometheus metrics, hosting
//! under a path prefix (`--static-prefix`) and serving until a graceful shutdown.
//!
//! [`app`] wraps [`crate::router`]; nothing here changes how a request is answered.

pub mod access_log;
pub mod metrics;

use std::future::{ready, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, MatchedPath, OriginalUri, Request};
use axum::http::{header, HeaderValue, Method};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

pub use access_log::{AccessLog, LogFormat};
pub use metrics::Metrics;

use crate::AppState;

/// Operational options of the server; the default adds nothing to the API router.
#[derive(Default, Clone)]
pub struct Ops {
    pub access_log: Option<Arc<AccessLog>>,
    /// Serve `/metrics` and record requests into this registry.
    pub metrics: Option<Arc<Metrics>>,
    /// Serve everything under this path (`/mlflow`: starts with `/`, no trailing `/`).
    pub static_prefix: Option<String>,
}

/// Checks a `--static-prefix` as `mlflow server` does.
pub fn validate_static_prefix(prefix: &str) -> Result<(), &'static str> {
    if !prefix.starts_with('/') {
        return Err("--static-prefix must begin with a '/'.");
    }
    if prefix.ends_with('/') {
        return Err("--static-prefix should not end with a '/'.");
    }
    if prefix.contains('{') || prefix.contains('}') {
        return Err("--static-prefix must not contain '{' or '}'.");
    }
    Ok(())
}

/// The user a request was authenticated as, for the access log. The log inserts an empty
/// slot into every request's extensions; an authentication layer inside fills it with
/// [`RequestUser::set`] (the slot is shared, so the log sees it after the response).
#[derive(Clone, Default)]
pub struct RequestUser(Arc<OnceLock<String>>);

impl RequestUser {
    pub fn set(&self, user: impl Into<String>) {
        let _ = self.0.set(user.into());
    }

    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// The prefix the UI is served under, read by `ui::fallback` to rewrite `index.html`.
#[derive(Clone)]
pub(crate) struct UiPrefix(pub Bytes);

/// The whole application: the API router, wrapped as `ops` asks.
pub fn app(state: AppState, guards: crate::Guards, ops: &Ops) -> Router {
    // The guards (security middleware, authentication) stand in front of every handler;
    // the access log and metrics see every request, refused ones too.
    let metrics_guards = guards.clone();
    let authenticated = guards.auth.is_some();
    let mut inner = crate::guarded_router(state, guards);
    if let Some(prefix) = &ops.static_prefix {
        inner = inner.layer(axum::Extension(UiPrefix(Bytes::from(prefixed_index(
            mlox_ui::index().body,
            prefix,
        )))));
    }
    if ops.access_log.is_some() || ops.metrics.is_some() {
        let track = Arc::new(Tracker {
            log: ops.access_log.clone(),
            metrics: ops.metrics.clone(),
            users: ops.access_log.is_some() && authenticated,
        });
        inner = inner.layer(TrackLayer(track));
    }
    let mut app = match &ops.static_prefix {
        // The whole router as one service under the prefix: `/mlflow`, `/mlflow/` and
        // everything below reach it with the prefix stripped.
        Some(prefix) => Router::new()
            .nest_service(prefix, inner)
            .fallback(crate::not_found),
        None => inner,
    };
    if let Some(m) = &ops.metrics {
        let m = m.clone();
        // At the root even with a prefix, as MLflow's exporter does, behind the same
        // guards as the rest (with basic-auth: administrators only, as MLflow).
        let metrics = Router::new().route(
            "/metrics",
            get(move || {
                ready((
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    )],
                    m.render(),
                ))
            }),
        );
        let metrics = match metrics_guards.auth {
            Some(auth) => auth.guard(metrics),
            None => metrics,
        };
        app = app.merge(metrics_guards.security.wrap(metrics));
    }
    app
}

/// Serves `app(state, ops)` on an already bound listener. Once `shutdown` resolves the
/// listener closes and in-flight requests finish; after `grace` the remaining
/// connections are dropped. Returns when every connection is closed or the grace ends.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    guards: crate::Guards,
    ops: &Ops,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, mut stopping) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener,
        app(state, guards, ops).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let grace_over = async move {
        let _ = stopping.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = server.into_future() => r,
        _ = grace_over => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "requests still running at the end of the shutdown grace period were dropped");
            Ok(())
        }
    }
}

/// The `index.html` of the UI served under `prefix`: the prefix announced to the app
/// (`window.__MLOX_STATIC_PREFIX__`) and root-relative URLs (`/assets/…`) moved under it.
fn prefixed_index(index: &[u8], prefix: &str) -> Vec<u8> {
    let html = String::from_utf8_lossy(index);
    let js_prefix = serde_json::to_string(prefix).unwrap_or_else(|_| "\"\"".into());
    // `<` cannot appear in a valid prefix's JSON that could close the script early.
    let script = format!(
        "<script>window.__MLOX_STATIC_PREFIX__={}</script>",
        js_prefix.replace('<', "\\u003c")
    );
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest: &str = &html;
    // Inject first thing in <head> (or at the top when there is none).
    match rest.find("<head>") {
        Some(i) => {
            out.push_str(&rest[..i + 6]);
            out.push_str(&script);
            rest = &rest[i + 6..];
        }
        None => out.push_str(&script),
    }
    let mut i = 0;
    while i < rest.len() {
        let tail = &rest[i..];
        let hit = ["src=\"/", "href=\"/"]
            .iter()
            .find(|a| tail.starts_with(**a) && !tail[a.len()..].starts_with('/'));
        match hit {
            Some(a) => {
                out.push_str(&a[..a.len() - 1]);
                out.push_str(prefix);
                out.push('/');
                i += a.len();
            }
            None => {
                let ch = tail.chars().next().map_or(1, char::len_utf8);
                out.push_str(&rest[i..i + ch]);
                i += ch;
            }
        }
    }
    out.into_bytes()
}

struct Tracker {
    log: Option<Arc<AccessLog>>,
    metrics: Option<Arc<Metrics>>,
    /// Whether requests can carry a user to log (an authentication layer is inside).
    users: bool,
}

impl Tracker {
    /// What is known of a request before it is answered; `req` may be changed on the way
    /// (a user slot for the log, a counted body for artifact uploads).
    fn start(self: &Arc<Self>, req: &mut Request) -> Pending {
        let start = Instant::now();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = method_name(req.method());
        let remote = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        // The path as the client sent it (with --static-prefix, the router strips it); a
        // `Uri` clone shares the request's bytes.
        let path = self.log.as_ref().map(|_| {
            req.extensions()
                .get::<OriginalUri>()
                .map_or_else(|| req.uri().clone(), |u| u.0.clone())
        });
        let user = self.users.then(RequestUser::default);
        if let Some(user) = &user {
            req.extensions_mut().insert(user.clone());
        }
        let is_artifacts = route
            .as_ref()
            .is_some_and(|r| r.as_str().contains("/mlflow-artifacts/"));
        if let Some(m) = &self.metrics {
            m.request_started();
            if is_artifacts {
                let body = std::mem::take(req.body_mut());
                *req.body_mut() = Body::new(Counted {
                    inner: body,
                    bytes: 0,
                    on_drop: Some(InDone(m.clone())),
                });
            }
        }
        Pending {
            tracker: self.clone(),
            start,
            route,
            method,
            remote,
            path,
            user,
            is_artifacts,
        }
    }
}

/// A request on its way through the router.
struct Pending {
    tracker: Arc<Tracker>,
    start: Instant,
    route: Option<MatchedPath>,
    method: &'static str,
    remote: Option<SocketAddr>,
    path: Option<axum::http::Uri>,
    user: Option<RequestUser>,
    is_artifacts: bool,
}

impl Pending {
    /// Records the request once its response is known: at once when the body's length
    /// is (every JSON answer), else when the body has been sent.
    fn finish(self, response: Response) -> Response {
        let is_artifacts = self.is_artifacts;
        let done = Done {
            status: response.status().as_u16(),
            request: self,
        };
        // Only streamed bodies (artifacts, files) are wrapped to count what they send.
        if !is_artifacts {
            if let Some(len) = response.body().size_hint().exact() {
                done.done(len);
                return response;
            }
        }
        response.map(|b| {
            Body::new(Counted {
                inner: b,
                bytes: 0,
                on_drop: Some(done),
            })
        })
    }
}

/// The access log and metrics around each route, as a plain tower layer: unlike
/// `axum::middleware::from_fn` it calls the route it wraps directly (no clone of the route
/// and its state, no boxed inner service or future per request).
#[derive(Clone)]
struct TrackLayer(Arc<Tracker>);

impl<S> tower::Layer<S> for TrackLayer {
    type Service = TrackService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackService {
            inner,
            tracker: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct TrackService<S> {
    inner: S,
    tracker: Arc<Tracker>,
}

impl<S> tower::Service<Request> for TrackService<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let pending = self.tracker.start(&mut req);
        TrackFuture {
            inner: self.inner.call(req),
            pending: Some(pending),
        }
    }
}

pin_project_lite::pin_project! {
    struct TrackFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, E> std::future::Future for TrackFuture<F>
where
    F: std::future::Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Ready(Ok(response)) => Poll::Ready(Ok(match this.pending.take() {
                Some(p) => p.finish(response),
                None => response,
            })),
            other => other,
        }
    }
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Called once with the number of bytes a body carried, when it is dropped (sent,
/// read, or abandoned).
trait OnDrop: Send + 'static {
    fn done(self, bytes: u64);
}

/// A request's record, completed when its response body has been sent.
struct Done {
    request: Pending,
    status: u16,
}

impl OnDrop for Done {
    fn done(self, bytes: u64) {
        let Done { request: r, status } = self;
        let elapsed = r.start.elapsed();
        let route = r
            .route
            .as_ref()
            .map_or(metrics::UNMATCHED_ROUTE, |r| r.as_str());
        if let Some(m) = &r.tracker.metrics {
            if r.is_artifacts && r.method == "GET" {
                m.artifact_bytes_out(bytes);
            }
            m.request_finished(route, r.method, status, elapsed);
        }
        if let Some(log) = &r.tracker.log {
            log.log(&access_log::Entry {
                remote: r.remote,
                method: r.method,
                path: r.path.as_ref().map_or("", |u| u.path()),
                route,
                status,
                elapsed,
                bytes,
                user: r.user.as_ref().and_then(RequestUser::get),
            });
        }
    }
}

/// Counts the bytes of a proxied artifact upload.
struct InDone(Arc<Metrics>);

impl OnDrop for InDone {
    fn done(self, bytes: u64) {
        self.0.artifact_bytes_in(bytes);
    }
}

/// A body that counts its data bytes and reports them when dropped.
struct Counted<D: OnDrop> {
    inner: Body,
    bytes: u64,
    on_drop: Option<D>,
}

impl<D: OnDrop> Drop for Counted<D> {
    fn drop(&mut self) {
        if let Some(d) = self.on_drop.take() {
            d.done(self.bytes);
        }
    }
}

impl<D: OnDrop + Unpin> HttpBody for Counted<D> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.bytes += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_moved_under_the_prefix() {
        let html = r#"<!doctype html><html><head><link rel="stylesheet" href="/assets/app-1.css"><link rel="icon" href="data:x"></head><body><script type="module" src="/assets/app-1.js"></script><a href="//cdn/x">é</a></body></html>"#.as_bytes();
        let out = String::from_utf8(prefixed_index(html, "/mlflow")).unwrap();
        assert!(out.contains(
            r#"<head><script>window.__MLOX_STATIC_PREFIX__="/mlflow"</script><link rel="stylesheet" href="/mlflow/assets/app-1.css">"#
        ), "{out}");
        assert!(out.contains(r#"src="/mlflow/assets/app-1.js""#), "{out}");
        assert!(out.contains(r#"href="data:x""#));
        assert!(out.contains(r#"href="//cdn/x">é"#), "{out}");
    }

    #[test]
    fn prefixes_are_checked_as_mlflow_does() {
        assert!(validate_static_prefix("/mlflow").is_ok());
        assert!(validate_static_prefix("/a/b").is_ok());
        assert!(validate_static_prefix("mlflow").is_err());
        assert!(validate_static_prefix("/mlflow/").is_err());
        assert!(validate_static_prefix("/{x}").is_err());
    }
}
