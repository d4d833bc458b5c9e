//! The artifact locations of experiments, runs and logged models, read and rewritten in
//! one transaction (`mlox import --copy-artifacts`, which copies the artifacts and then
//! points the store at the copies).

use mlox_core::Result;

use crate::db::{DbError, RowView, SqlValue};
use crate::{SqlStore, StoreOptions, StoreUri};

/// What an artifact location belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    Experiment(i64),
    Run {
        experiment_id: i64,
        run_id: String,
    },
    LoggedModel {
        experiment_id: i64,
        model_id: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub owner: Owner,
    pub uri: String,
}

/// The locations of the experiments `experiments` (all of them with `None`), their runs
/// and logged models, each experiment before its runs and models.
pub async fn artifact_locations(
    target: &StoreUri,
    experiments: Option<&[i64]>,
) -> Result<Vec<Location>> {
    let store = SqlStore::open(target, StoreOptions::default()).await?;
    let ids = experiments.map(<[i64]>::to_vec);
    store
        .db
        .read(move |c| {
            let ids = match ids {
                Some(ids) => ids,
                None => c
                    .query("SELECT experiment_id FROM experiments ORDER BY experiment_id", &[])?
                    .iter()
                    .map(|r| r.int(0))
                    .collect::<Result<_, DbError>>()?,
            };
            let mut out = Vec::new();
            for id in ids {
                let sql_id = SqlValue::Int(id);
                for r in c.query(
                    "SELECT artifact_location FROM experiments WHERE experiment_id = ?",
                    std::slice::from_ref(&sql_id),
                )? {
                    out.push(Location {
                        owner: Owner::Experiment(id),
                        uri: r.opt_text(0)?.unwrap_or_default(),
                    });
                }
                for r in c.query(
                    "SELECT run_uuid, artifact_uri FROM runs WHERE experiment_id = ? ORDER BY run_uuid",
                    std::slice::from_ref(&sql_id),
                )? {
                    out.push(Location {
                        owner: Owner::Run {
                            experiment_id: id,
                            run_id: r.text(0)?,
                        },
                        uri: r.opt_text(1)?.unwrap_or_default(),
                    });
                }
                for r in c.query(
                    "SELECT model_id, artifact_location FROM logged_models WHERE experiment_id = ? ORDER BY model_id",
                    std::slice::from_ref(&sql_id),
                )? {
                    out.push(Location {
                        owner: Owner::LoggedModel {
                            experiment_id: id,
                            model_id: r.text(0)?,
                        },
                        uri: r.opt_text(1)?.unwrap_or_default(),
                    });
                }
            }
            Ok(out)
        })
        .await
}

/// Points each location's owner at its new URI, in one transaction. Model versions whose
/// source or storage location lies under a moved run or logged model follow it.
pub async fn relocate(target: &StoreUri, moves: Vec<(Location, String)>) -> Result<()> {
    let store = SqlStore::open(target, StoreOptions::default()).await?;
    store
        .db
        .write(move |c| {
            for (loc, to) in &moves {
                match &loc.owner {
                    Owner::Experiment(id) => c.execute(
                        "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                        &[to.into(), SqlValue::Int(*id)],
                    )?,
                    Owner::Run { run_id, .. } => c.execute(
                        "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?",
                        &[to.into(), run_id.into()],
                    )?,
                    Owner::LoggedModel { model_id, .. } => c.execute(
                        "UPDATE logged_models SET artifact_location = ? WHERE model_id = ?",
                        &[to.into(), model_id.into()],
                    )?,
                };
            }
            let versions = c.query(
                "SELECT name, version, source, storage_location FROM model_versions",
                &[],
            )?;
            for v in versions {
                let (source, storage) = (v.opt_text(2)?, v.opt_text(3)?);
                let moved = |uri: &Option<String>| -> Option<String> {
                    let uri = uri.as_deref()?;
                    moves.iter().find_map(|(loc, to)| {
                        if matches!(loc.owner, Owner::Experiment(_)) || loc.uri.is_empty() {
                            return None;
                        }
                        let rest = uri.strip_prefix(loc.uri.as_str())?;
                        (rest.is_empty() || rest.starts_with('/')).then(|| format!("{to}{rest}"))
                    })
                };
                let (new_source, new_storage) = (moved(&source), moved(&storage));
                if new_source.is_some() || new_storage.is_some() {
                    c.execute(
                        "UPDATE model_versions SET source = ?, storage_location = ? WHERE name = ? AND version = ?",
                        &[
                            new_source.or(source).into(),
                            new_storage.or(storage).into(),
                            v.text(0)?.into(),
                            SqlValue::Int(v.int(1)?),
                        ],
                    )?;
                }
            }
            Ok(())
        })
        .await
}
