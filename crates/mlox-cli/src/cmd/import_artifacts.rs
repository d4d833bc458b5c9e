//! `mlox import --copy-artifacts DEST`: copies the artifacts of the imported runs and
//! logged models to DEST and points the store at the copies.
//!
//! Locations are rewritten to MLflow's layout under DEST: an experiment to
//! `DEST/<experiment_id>`, a run to `DEST/<experiment_id>/<run_id>/artifacts`, a logged
//! model to `DEST/<experiment_id>/models/<model_id>/artifacts`. Proxied locations
//! (`mlflow-artifacts:/…`, relative to the destination of the MLflow server that wrote
//! them, given as `--artifacts-source`) keep their URIs: their files are copied to the
//! same relative path under DEST, which `mlox server --artifacts-destination DEST` then
//! serves. The sources are only read; the store is updated once every copy is complete.

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use mlox_artifacts::ArtifactRepo;
use mlox_store::artifact_locations::{artifact_locations, relocate, Location, Owner};
use mlox_store::StoreUri;

/// The bar's template (indicatif 0.18; pinned by a test, as the import's).
const BAR_TEMPLATE: &str = "{msg:>26} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})";

/// What to copy (from, to) and which locations change.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    copies: Vec<(String, String)>,
    moves: Vec<(Location, String)>,
}

fn join(base: &str, rel: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        rel.trim_start_matches('/')
    )
}

/// The path of a proxied URI below the server's artifact destination.
fn proxied_path(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    // mlflow-artifacts://host:port/path names a server; the path is what counts.
    let rest = rest
        .strip_prefix("//")
        .map_or(rest, |r| r.find('/').map_or("", |i| &r[i..]));
    Some(rest.trim_start_matches('/').to_string())
}

/// DEST as written into the store: a local folder as an absolute path (as MLflow writes
/// local artifact locations), any URI as given.
fn destination_base(dest: &str) -> anyhow::Result<String> {
    if dest.contains("://") {
        return Ok(dest.trim_end_matches('/').to_string());
    }
    let abs = std::path::absolute(dest)?;
    Ok(abs.to_string_lossy().trim_end_matches('/').to_string())
}

fn plan(locations: Vec<Location>, dest: &str, source_root: Option<&str>) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    for loc in locations {
        if loc.uri.is_empty() {
            continue;
        }
        let is_experiment = matches!(loc.owner, Owner::Experiment(_));
        if let Some(rel) = proxied_path(&loc.uri) {
            let Some(root) = source_root else {
                anyhow::bail!(
                    "{} is a proxied location (mlflow-artifacts:/): give the artifact destination of the MLflow server that wrote it with --artifacts-source",
                    loc.uri
                );
            };
            if !is_experiment {
                plan.copies.push((join(root, &rel), join(dest, &rel)));
            }
            continue;
        }
        let to = match &loc.owner {
            Owner::Experiment(id) => join(dest, &id.to_string()),
            Owner::Run {
                experiment_id,
                run_id,
            } => join(dest, &format!("{experiment_id}/{run_id}/artifacts")),
            Owner::LoggedModel {
                experiment_id,
                model_id,
            } => join(
                dest,
                &format!("{experiment_id}/models/{model_id}/artifacts"),
            ),
        };
        if !is_experiment {
            plan.copies.push((loc.uri.clone(), to.clone()));
        }
        plan.moves.push((loc, to));
    }
    Ok(plan)
}

/// A local source that does not exist has nothing to copy (opening it would create it).
fn missing_locally(uri: &str) -> bool {
    let path = if let Some(p) = uri.strip_prefix("file://") {
        p
    } else if uri.contains("://") {
        return false;
    } else {
        uri
    };
    !std::path::Path::new(path).exists()
}

/// One tree to copy: source, destination, and the files (path, size) found in the source.
type Copy = (ArtifactRepo, ArtifactRepo, Vec<(String, u64)>);

/// Every file under `rel` in `repo`, with its size.
async fn files(repo: &ArtifactRepo, rel: &str, out: &mut Vec<(String, u64)>) -> anyhow::Result<()> {
    let mut pending = vec![rel.to_string()];
    while let Some(dir) = pending.pop() {
        for f in repo.list(&dir).await?.unwrap_or_default() {
            let path = if dir.is_empty() {
                f.path.clone()
            } else {
                format!("{dir}/{}", f.path)
            };
            if f.is_dir {
                pending.push(path);
            } else {
                out.push((path, f.file_size.unwrap_or(0)));
            }
        }
    }
    Ok(())
}

/// Copies the artifacts of the experiments `experiments` (all of the store's with
/// `None`) in `target` to `dest`, then rewrites their locations. Returns (files, bytes)
/// copied.
pub(crate) async fn copy_artifacts(
    target: &StoreUri,
    experiments: Option<&[i64]>,
    dest: &str,
    source_root: Option<&str>,
    quiet: bool,
) -> anyhow::Result<(u64, u64)> {
    let locations = artifact_locations(target, experiments)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let dest = destination_base(dest)?;
    let plan = plan(locations, &dest, source_root)?;
    // First every file and its size, so that the bar counts bytes of the whole copy.
    let mut work: Vec<Copy> = Vec::new();
    let mut total = 0u64;
    for (from, to) in &plan.copies {
        if missing_locally(from) {
            continue;
        }
        let src = ArtifactRepo::from_uri(from)?;
        let mut list = Vec::new();
        files(&src, "", &mut list).await?;
        if list.is_empty() {
            continue;
        }
        total += list.iter().map(|(_, n)| n).sum::<u64>();
        work.push((src, ArtifactRepo::from_uri(to)?, list));
    }
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(BAR_TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("artifacts");
    let (mut n_files, mut n_bytes) = (0u64, 0u64);
    for (src, dst, list) in &work {
        for (rel, _) in list {
            let download = src.get(rel).await?;
            let counted = download.stream.inspect(|chunk| {
                if let Ok(bytes) = chunk {
                    bar.inc(bytes.len() as u64);
                }
            });
            n_bytes += dst.put_stream(rel, counted).await?;
            n_files += 1;
        }
    }
    bar.finish();
    relocate(target, plan.moves)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok((n_files, n_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(owner: Owner, uri: &str) -> Location {
        Location {
            owner,
            uri: uri.into(),
        }
    }

    #[test]
    fn bar_template_parses() {
        ProgressStyle::with_template(BAR_TEMPLATE).unwrap();
    }

    #[test]
    fn locations_follow_mlflow_layout_under_dest() {
        let run = Owner::Run {
            experiment_id: 7,
            run_id: "r1".into(),
        };
        let model = Owner::LoggedModel {
            experiment_id: 7,
            model_id: "m-1".into(),
        };
        let p = plan(
            vec![
                loc(Owner::Experiment(7), "/old/7"),
                loc(run.clone(), "/old/7/r1/artifacts"),
                loc(model.clone(), "s3://b/x/models/m-1/artifacts"),
                loc(Owner::Experiment(8), "mlflow-artifacts:/8"),
                loc(
                    Owner::Run {
                        experiment_id: 8,
                        run_id: "r2".into(),
                    },
                    "mlflow-artifacts://host:5000/8/r2/artifacts",
                ),
            ],
            "/new",
            Some("/srv/art"),
        )
        .unwrap();
        assert_eq!(
            p.copies,
            vec![
                ("/old/7/r1/artifacts".into(), "/new/7/r1/artifacts".into()),
                (
                    "s3://b/x/models/m-1/artifacts".into(),
                    "/new/7/models/m-1/artifacts".into()
                ),
                (
                    "/srv/art/8/r2/artifacts".into(),
                    "/new/8/r2/artifacts".into()
                ),
            ]
        );
        let moved: Vec<&str> = p.moves.iter().map(|(_, to)| to.as_str()).collect();
        assert_eq!(
            moved,
            [
                "/new/7",
                "/new/7/r1/artifacts",
                "/new/7/models/m-1/artifacts"
            ]
        );
    }

    #[test]
    fn proxied_locations_need_the_source_destination() {
        let err = plan(
            vec![loc(Owner::Experiment(1), "mlflow-artifacts:/1")],
            "/new",
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("--artifacts-source"));
    }
}
