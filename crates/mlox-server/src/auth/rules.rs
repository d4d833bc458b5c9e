//! Which permission each route needs, as MLflow's basic-auth app decides it
//! (`mlflow/server/auth/__init__.py`: `BEFORE_REQUEST_HANDLERS`, the logged-model, webhook
//! and artifact-proxy validators, the after-request filters).

use axum::http::Method;

/// What a permission must allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Read,
    Update,
    Delete,
}

/// Where the resource a route acts on is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// An experiment by the request parameter `experiment_id`.
    ExperimentParam,
    /// An experiment by the request parameter `experiment_name`.
    ExperimentNameParam,
    /// An experiment named in the path.
    Experiment(String),
    /// A run by `run_id` (or the deprecated `run_uuid`).
    RunParam,
    /// Every run of the `run_ids` list.
    RunIdsParam,
    /// A logged model named in the path.
    LoggedModel(String),
    /// A registered model (or prompt) by the request parameter `name`.
    ModelNameParam,
    /// Every experiment of the `experiment_ids` list (none: refused).
    ExperimentIdsParam,
    /// The experiment named by the `X-Mlflow-Experiment-Id` header (OTLP export).
    ExperimentHeader,
    /// The experiment a `StartTraceV3` body puts its trace in
    /// (`trace.trace_info.trace_location.mlflow_experiment.experiment_id`).
    StartTraceExperiment,
    /// The experiments of a trace search's `locations` (none: refused).
    TraceLocations,
    /// A trace named in the path: through its experiment.
    Trace(String),
    /// A trace by the request parameter of this name (`trace_id`, `request_id`).
    TraceParam(&'static str),
    /// Every trace of the `trace_ids` list, through their experiments (none: refused).
    TraceIdsParam,
    /// Linking traces to a run: UPDATE on the run and READ on every trace.
    LinkTracesToRun,
    /// An evaluation dataset named in the path: through every experiment it is linked to
    /// (none, or an unknown dataset: refused).
    Dataset(String),
    /// Linking a dataset to more experiments: UPDATE on the dataset's experiments and on
    /// every experiment of the `experiment_ids` list.
    DatasetAddExperiments(String),
}

/// What the authorization layer does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    /// No login needed (`/health`, server-info).
    Public,
    /// Any authenticated user.
    Authenticated,
    /// Administrators only.
    Admin,
    /// Administrators, or the user named by the `username` parameter.
    SelfOrAdmin,
    /// Administrators, or users with MANAGE on the resource named by `resource_type` and
    /// `resource_id`.
    ManageResource,
    /// A permission on one resource.
    Check(Target, Action),
    /// Creating an experiment: any user; the creator then gets MANAGE on it.
    CreateExperiment,
    /// Creating a registered model or prompt: any user; the creator then gets MANAGE.
    CreateRegisteredModel,
    /// A run search: the experiments the user may not read are left out of the request.
    SearchRuns,
    /// A search whose answer is filtered to what the user may read.
    Filter(Filter),
    /// No rule: refused for non-administrators (MLflow's fail-closed default).
    Unknown,
}

/// Searches answered with only the readable items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    Experiments,
    RegisteredModels,
    ModelVersions,
    LoggedModels,
}

/// The rule for a request. `path` is the whole request path.
pub(crate) fn classify(method: &Method, path: &str) -> Rule {
    // As MLflow's `is_unprotected_route`: `/version` needs a login too.
    if matches!(path, "/health" | "/favicon.ico") || path.ends_with("/mlflow/server-info") {
        return Rule::Public;
    }
    // Prometheus metrics: MLflow's exporter route has no validator, and its fail-closed
    // default (`MLFLOW_BASIC_AUTH_FAIL_CLOSED`) leaves it to administrators.
    if path == "/metrics" {
        return Rule::Admin;
    }
    // OTLP export into the experiment of the `X-Mlflow-Experiment-Id` header.
    if path == "/v1/traces" || path.starts_with("/v1/traces/") {
        return if method == Method::POST {
            Rule::Check(Target::ExperimentHeader, Action::Update)
        } else {
            Rule::Unknown
        };
    }
    for prefix in [
        "/api/2.0/mlflow-artifacts/",
        "/ajax-api/2.0/mlflow-artifacts/",
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return artifact_rule(method, rest);
        }
    }
    if let Some(rest) = ["/api/2.0/mlox/", "/ajax-api/2.0/mlox/"]
        .iter()
        .find_map(|p| path.strip_prefix(p))
    {
        return match (method.as_str(), rest) {
            (_, r) if r.starts_with("tokens/") => Rule::Authenticated,
            // Counting an experiment's runs reads it: READ on every experiment named.
            ("GET" | "POST", "experiments/run-counts") => {
                Rule::Check(Target::ExperimentIdsParam, Action::Read)
            }
            _ => Rule::Unknown,
        };
    }
    let found = [
        ("/api/2.0/mlflow/", "2.0"),
        ("/ajax-api/2.0/mlflow/", "2.0"),
        ("/api/3.0/mlflow/", "3.0"),
        ("/ajax-api/3.0/mlflow/", "3.0"),
    ]
    .iter()
    .find_map(|(p, v)| path.strip_prefix(p).map(|s| (s, *v)));
    let Some((suffix, version)) = found else {
        // The web UI and anything else outside the API: a login is all it needs. (An
        // unknown API version is an unknown route.)
        if path.starts_with("/api/") || path.starts_with("/ajax-api/") {
            return Rule::Unknown;
        }
        return Rule::Authenticated;
    };
    api_rule(method, suffix, version)
}

fn api_rule(method: &Method, suffix: &str, version: &str) -> Rule {
    use Action::*;
    use Target::*;
    let m = method.as_str();
    let check = |t, a| Rule::Check(t, a);
    match (m, suffix) {
        // Users and permissions.
        ("POST", "users/create") => Rule::Admin,
        ("GET", "users/get") => Rule::SelfOrAdmin,
        ("GET", "users/list" | "users/current" | "users/current/permissions") => {
            Rule::Authenticated
        }
        ("PATCH", "users/update-password") => Rule::SelfOrAdmin,
        ("PATCH", "users/update-admin") | ("DELETE", "users/delete") => Rule::Admin,
        ("GET", "users/permissions/list") => Rule::SelfOrAdmin,
        ("POST", "users/permissions/grant" | "users/permissions/revoke") => Rule::ManageResource,
        ("GET", "users/permissions/get") => Rule::ManageResource,

        // Experiments.
        ("POST", "experiments/create") => Rule::CreateExperiment,
        ("GET", "experiments/get") => check(ExperimentParam, Read),
        ("GET", "experiments/get-by-name") => check(ExperimentNameParam, Read),
        ("GET" | "POST", "experiments/search") => Rule::Filter(Filter::Experiments),
        ("POST", "experiments/delete" | "experiments/restore") => check(ExperimentParam, Delete),
        (
            "POST",
            "experiments/update"
            | "experiments/set-experiment-tag"
            | "experiments/delete-experiment-tag",
        ) => check(ExperimentParam, Update),

        // Runs.
        ("POST", "runs/create") => check(ExperimentParam, Update),
        ("GET", "runs/get" | "metrics/get-history" | "artifacts/list") => check(RunParam, Read),
        ("GET", "metrics/get-history-bulk-interval") => check(RunIdsParam, Read),
        ("POST", "runs/delete" | "runs/restore") => check(RunParam, Delete),
        (
            "POST",
            "runs/update" | "runs/log-metric" | "runs/log-parameter" | "runs/set-tag"
            | "runs/delete-tag" | "runs/log-batch" | "runs/log-inputs" | "runs/outputs"
            | "runs/log-model",
        ) => check(RunParam, Update),
        ("GET" | "POST", "runs/search") => Rule::SearchRuns,

        // Logged models.
        ("POST", "logged-models") => check(ExperimentParam, Update),
        ("POST", "logged-models/search") => Rule::Filter(Filter::LoggedModels),

        // Registered models, versions, aliases.
        ("POST", "registered-models/create") => Rule::CreateRegisteredModel,
        ("GET", "registered-models/search") => Rule::Filter(Filter::RegisteredModels),
        ("GET", "model-versions/search") => Rule::Filter(Filter::ModelVersions),
        (
            "GET",
            "registered-models/get"
            | "registered-models/alias"
            | "model-versions/get"
            | "model-versions/get-download-uri",
        )
        | ("GET" | "POST", "registered-models/get-latest-versions") => check(ModelNameParam, Read),
        ("POST", "registered-models/rename" | "registered-models/set-tag")
        | ("PATCH", "registered-models/update" | "model-versions/update")
        | ("DELETE", "registered-models/delete-tag")
        | (
            "POST",
            "model-versions/create" | "model-versions/transition-stage" | "model-versions/set-tag",
        )
        | ("POST", "registered-models/alias") => check(ModelNameParam, Update),
        (
            "DELETE",
            "registered-models/delete"
            | "model-versions/delete"
            | "model-versions/delete-tag"
            | "registered-models/alias",
        ) => check(ModelNameParam, Delete),

        // Webhooks are for administrators.
        (_, s) if s == "webhooks" || s.starts_with("webhooks/") => Rule::Admin,

        // Traces, through their experiment.
        ("POST", "traces") => match version {
            // StartTraceV3 names the experiment inside the trace; v2's StartTrace as a field.
            "3.0" => check(StartTraceExperiment, Update),
            _ => check(ExperimentParam, Update),
        },
        ("GET", "traces") => check(ExperimentIdsParam, Read),
        ("GET", "traces/get") => check(TraceParam("trace_id"), Read),
        ("GET" | "POST", "traces/batchGet" | "traces/batchGetInfos") => check(TraceIdsParam, Read),
        ("POST", "traces/search") => check(TraceLocations, Read),
        ("POST", "traces/calculate-filter-correlation" | "traces/metrics") => {
            check(ExperimentIdsParam, Read)
        }
        ("POST", "traces/delete-traces") => check(ExperimentParam, Delete),
        ("POST", "traces/link-to-run") => check(LinkTracesToRun, Update),
        ("POST", "traces/link-prompts") => check(TraceParam("trace_id"), Update),

        // Scorers belong to an experiment.
        ("POST", "scorers/register") => check(ExperimentParam, Update),
        ("GET", "scorers/get" | "scorers/versions" | "scorers/list" | "scorers/online-configs") => {
            check(ExperimentParam, Read)
        }
        ("DELETE", "scorers/delete") | ("PUT", "scorers/online-config") => {
            check(ExperimentParam, Update)
        }

        // Evaluation datasets: create and search are scoped to experiments the user may
        // write (create) or read (search); the per-dataset routes go through the dataset's
        // experiments.
        ("POST", "datasets/create") => check(ExperimentIdsParam, Update),
        ("GET" | "POST", "datasets/search") => check(ExperimentIdsParam, Read),

        (_, s) => {
            if let Some(rest) = s.strip_prefix("datasets/") {
                dataset_rule(m, rest)
            } else if let Some(rest) = s.strip_prefix("logged-models/") {
                logged_model_rule(m, rest)
            } else if let Some(rest) = s.strip_prefix("traces/") {
                trace_rule(m, rest)
            } else {
                Rule::Unknown
            }
        }
    }
}

/// `/traces/{id}[/info|/tags|/assessments[/{assessment id}]]`.
fn trace_rule(method: &str, rest: &str) -> Rule {
    let mut parts = rest.splitn(2, '/');
    let id = parts.next().unwrap_or("").to_string();
    if id.is_empty() {
        return Rule::Unknown;
    }
    let action = match (method, parts.next()) {
        ("GET", None | Some("info")) => Action::Read,
        // v2's EndTrace.
        ("PATCH", None) => Action::Update,
        ("PATCH" | "POST" | "DELETE", Some("tags")) => Action::Update,
        ("POST", Some("assessments")) => Action::Update,
        (m, Some(a))
            if a.starts_with("assessments/") && !a["assessments/".len()..].contains('/') =>
        {
            match m {
                "GET" => Action::Read,
                // MLflow: deleting an assessment needs what updating it does.
                "PATCH" | "DELETE" => Action::Update,
                _ => return Rule::Unknown,
            }
        }
        _ => return Rule::Unknown,
    };
    Rule::Check(Target::Trace(id), action)
}

/// `/datasets/{id}[/tags[/{key}]|/records|/experiment-ids|/add-experiments|/remove-experiments]`,
/// as MLflow's `DATASET_BEFORE_REQUEST_HANDLERS`: reading needs READ, deleting the dataset
/// DELETE, any other change UPDATE, on every experiment the dataset is linked to; any other
/// path under `/datasets/` is refused (MLflow fails closed there too).
fn dataset_rule(method: &str, rest: &str) -> Rule {
    use Action::*;
    let (id, sub) = rest.split_once('/').unwrap_or((rest, ""));
    if id.is_empty() {
        return Rule::Unknown;
    }
    let action = match (method, sub) {
        ("GET", "" | "records" | "experiment-ids") => Read,
        ("DELETE", "") => Delete,
        ("PATCH", "tags") | ("POST" | "DELETE", "records") | ("POST", "remove-experiments") => {
            Update
        }
        ("DELETE", t) if t.strip_prefix("tags/").is_some_and(|k| !k.is_empty()) => Update,
        ("POST", "add-experiments") => {
            return Rule::Check(Target::DatasetAddExperiments(id.to_string()), Update)
        }
        _ => return Rule::Unknown,
    };
    Rule::Check(Target::Dataset(id.to_string()), action)
}

/// `/logged-models/{id}[/tags[/{key}]|/params]`.
fn logged_model_rule(method: &str, rest: &str) -> Rule {
    let mut parts = rest.splitn(2, '/');
    let id = parts.next().unwrap_or("").to_string();
    if id.is_empty() {
        return Rule::Unknown;
    }
    let action = match (method, parts.next()) {
        ("GET", None) => Action::Read,
        ("PATCH", None) | ("PATCH", Some("tags")) | ("POST", Some("params")) => Action::Update,
        ("DELETE", None) => Action::Delete,
        ("DELETE", Some(t)) if t.starts_with("tags/") => Action::Delete,
        ("GET", Some(a)) if a.starts_with("artifacts") => Action::Read,
        _ => return Rule::Unknown,
    };
    Rule::Check(Target::LoggedModel(id), action)
}

/// The proxied artifact routes: the experiment is the path's first segment
/// (`<experiment id>/<run id>/artifacts/…`).
fn artifact_rule(method: &Method, rest: &str) -> Rule {
    let (kind, path) = rest.split_once('/').unwrap_or((rest, ""));
    let action = match (kind, method.as_str()) {
        ("artifacts", "GET") => Action::Read,
        ("artifacts", "PUT") => Action::Update,
        ("artifacts", "DELETE") => Action::Delete,
        ("mpu", "POST") => {
            // mpu/{create|complete|abort}/<path>
            let path = path.split_once('/').map_or("", |(_, p)| p);
            return experiment_of_path(path).map_or(Rule::Admin, |e| {
                Rule::Check(Target::Experiment(e), Action::Update)
            });
        }
        // Parts are sent to an upload id that only an authorized create hands out.
        ("mpu", "PUT") if path.starts_with("part/") => return Rule::Authenticated,
        _ => return Rule::Unknown,
    };
    match experiment_of_path(path) {
        Some(e) => Rule::Check(Target::Experiment(e), action),
        // A listing names its folder in `path=`: checked by the layer.
        None if kind == "artifacts" && method == Method::GET => {
            Rule::Check(Target::Experiment(String::new()), Action::Read)
        }
        None => Rule::Admin,
    }
}

/// The experiment id leading an artifact path (digits, as MLflow's proxy paths have).
pub(crate) fn experiment_of_path(path: &str) -> Option<String> {
    let first = path.trim_start_matches('/').split('/').next()?;
    (!first.is_empty() && first.bytes().all(|b| b.is_ascii_digit())).then(|| first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(classify(&get, "/health"), Rule::Public);
        assert_eq!(classify(&get, "/api/3.0/mlflow/server-info"), Rule::Public);
        assert_eq!(classify(&get, "/"), Rule::Authenticated);
        assert_eq!(classify(&get, "/experiments/1"), Rule::Authenticated);
        assert_eq!(
            classify(&get, "/ajax-api/2.0/mlflow/experiments/get"),
            Rule::Check(Target::ExperimentParam, Action::Read)
        );
        assert_eq!(
            classify(&post, "/api/2.0/mlflow/runs/log-metric"),
            Rule::Check(Target::RunParam, Action::Update)
        );
        assert_eq!(
            classify(&Method::DELETE, "/api/2.0/mlflow/registered-models/delete"),
            Rule::Check(Target::ModelNameParam, Action::Delete)
        );
        assert_eq!(
            classify(
                &Method::PUT,
                "/api/2.0/mlflow-artifacts/artifacts/3/abc/artifacts/x.txt"
            ),
            Rule::Check(Target::Experiment("3".into()), Action::Update)
        );
        assert_eq!(
            classify(&Method::PATCH, "/api/2.0/mlflow/logged-models/m-1/tags"),
            Rule::Check(Target::LoggedModel("m-1".into()), Action::Update)
        );
        assert_eq!(classify(&post, "/api/2.0/mlflow/webhooks"), Rule::Admin);
        assert_eq!(classify(&post, "/api/2.0/mlflow/no-such"), Rule::Unknown);
        assert_eq!(
            classify(&post, "/api/3.0/mlflow/users/permissions/grant"),
            Rule::ManageResource
        );
    }

    #[test]
    fn newer_routes() {
        let (get, post, patch, delete) = (Method::GET, Method::POST, Method::PATCH, Method::DELETE);
        let check = |t, a| Rule::Check(t, a);
        use Action::*;
        assert_eq!(classify(&get, "/metrics"), Rule::Admin);
        assert_eq!(classify(&get, "/version"), Rule::Authenticated);
        assert_eq!(
            classify(&post, "/v1/traces"),
            check(Target::ExperimentHeader, Update)
        );
        assert_eq!(classify(&get, "/v1/traces"), Rule::Unknown);
        assert_eq!(
            classify(&post, "/api/3.0/mlflow/traces"),
            check(Target::StartTraceExperiment, Update)
        );
        assert_eq!(
            classify(&post, "/api/2.0/mlflow/traces"),
            check(Target::ExperimentParam, Update)
        );
        assert_eq!(
            classify(&post, "/ajax-api/3.0/mlflow/traces/search"),
            check(Target::TraceLocations, Read)
        );
        assert_eq!(
            classify(&get, "/api/3.0/mlflow/traces/get"),
            check(Target::TraceParam("trace_id"), Read)
        );
        assert_eq!(
            classify(&get, "/api/3.0/mlflow/traces/batchGet"),
            check(Target::TraceIdsParam, Read)
        );
        assert_eq!(
            classify(&get, "/api/3.0/mlflow/traces/tr-1"),
            check(Target::Trace("tr-1".into()), Read)
        );
        assert_eq!(
            classify(&patch, "/api/3.0/mlflow/traces/tr-1/tags"),
            check(Target::Trace("tr-1".into()), Update)
        );
        assert_eq!(
            classify(&delete, "/api/3.0/mlflow/traces/tr-1/assessments/a-1"),
            check(Target::Trace("tr-1".into()), Update)
        );
        assert_eq!(
            classify(&get, "/api/3.0/mlflow/traces/tr-1/assessments/a-1"),
            check(Target::Trace("tr-1".into()), Read)
        );
        assert_eq!(
            classify(&get, "/api/3.0/mlflow/traces/tr-1/no/such"),
            Rule::Unknown
        );
        assert_eq!(
            classify(&post, "/api/2.0/mlflow/traces/delete-traces"),
            check(Target::ExperimentParam, Delete)
        );
        assert_eq!(
            classify(&post, "/api/2.0/mlflow/traces/link-to-run"),
            check(Target::LinkTracesToRun, Update)
        );
        assert_eq!(
            classify(&post, "/api/3.0/mlflow/datasets/create"),
            check(Target::ExperimentIdsParam, Update)
        );
        let dataset = |a| check(Target::Dataset("d-1".into()), a);
        assert_eq!(
            classify(&get, "/api/3.0/mlflow/datasets/d-1"),
            dataset(Read)
        );
        assert_eq!(
            classify(&delete, "/api/3.0/mlflow/datasets/d-1"),
            dataset(Delete)
        );
        assert_eq!(
            classify(&get, "/api/3.0/mlflow/datasets/d-1/records"),
            dataset(Read)
        );
        assert_eq!(
            classify(&post, "/api/3.0/mlflow/datasets/d-1/records"),
            dataset(Update)
        );
        assert_eq!(
            classify(&delete, "/api/3.0/mlflow/datasets/d-1/tags/k"),
            dataset(Update)
        );
        assert_eq!(
            classify(&patch, "/api/3.0/mlflow/datasets/d-1/tags"),
            dataset(Update)
        );
        assert_eq!(
            classify(&post, "/api/3.0/mlflow/datasets/d-1/add-experiments"),
            check(Target::DatasetAddExperiments("d-1".into()), Update)
        );
        assert_eq!(
            classify(&get, "/api/3.0/mlflow/datasets/d-1/no-such"),
            Rule::Unknown
        );
        assert_eq!(
            classify(&post, "/api/3.0/mlflow/scorers/register"),
            check(Target::ExperimentParam, Update)
        );
        assert_eq!(classify(&get, "/api/9.9/mlflow/x"), Rule::Unknown);
        assert_eq!(
            classify(&get, "/ajax-api/2.0/mlox/experiments/run-counts"),
            check(Target::ExperimentIdsParam, Read)
        );
        assert_eq!(
            classify(&delete, "/ajax-api/2.0/mlox/experiments/run-counts"),
            Rule::Unknown
        );
        assert_eq!(classify(&get, "/ajax-api/2.0/mlox/no-such"), Rule::Unknown);
    }
}
