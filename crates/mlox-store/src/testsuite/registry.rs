//! The model registry: registered models, versions, aliases and sources.

use std::sync::Arc;

use mlox_core::entities::*;
use mlox_core::ErrorCode;

use super::{new_logged_model, new_run, unique, ModelStores};

pub async fn registered_models<S: ModelStores>(store: Arc<S>) {
    use mlox_core::registry::*;
    let name = unique("rm");
    let rm = store
        .create_registered_model(
            name.clone(),
            vec![Tag::new("team", "a")],
            Some("desc".into()),
        )
        .await
        .unwrap();
    assert_eq!(rm.name, name);
    assert_eq!(rm.description.as_deref(), Some("desc"));
    assert_eq!(rm.tags, vec![Tag::new("team", "a")]);
    assert!(rm.latest_versions.is_empty());
    let dup = store
        .create_registered_model(name.clone(), vec![], None)
        .await
        .unwrap_err();
    assert_eq!(dup.code, ErrorCode::RESOURCE_ALREADY_EXISTS);
    assert_eq!(
        dup.message,
        format!("Registered Model (name={name}) already exists.")
    );
    for bad in ["a/b", "a:b", ""] {
        assert_eq!(
            store
                .create_registered_model(bad.into(), vec![], None)
                .await
                .unwrap_err()
                .code,
            ErrorCode::INVALID_PARAMETER_VALUE,
            "{bad}"
        );
    }
    let missing = store.get_registered_model("nope-nope").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert_eq!(
        missing.message,
        "Registered Model with name=nope-nope not found"
    );

    let updated = store
        .update_registered_model(&name, Some("new".into()))
        .await
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("new"));
    store
        .set_registered_model_tag(&name, Tag::new("team", "b"))
        .await
        .unwrap();
    store
        .set_registered_model_tag(&name, Tag::new("x", "1"))
        .await
        .unwrap();
    store.delete_registered_model_tag(&name, "x").await.unwrap();
    store.delete_registered_model_tag(&name, "x").await.unwrap();
    assert_eq!(
        store.get_registered_model(&name).await.unwrap().tags,
        vec![Tag::new("team", "b")]
    );

    // Rename carries versions, tags and aliases along.
    let exp = store
        .create_experiment(unique("rmx"), None, vec![])
        .await
        .unwrap();
    let run = new_run(store.as_ref(), &exp).await.info.run_id;
    store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("runs:/{run}/model"),
            run_id: Some(run.clone()),
            tags: vec![Tag::new("v", "1")],
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .set_registered_model_alias(&name, "champ", "1")
        .await
        .unwrap();
    let renamed = unique("rm-renamed");
    let rm = store
        .rename_registered_model(&name, renamed.clone())
        .await
        .unwrap();
    assert_eq!(rm.name, renamed);
    assert_eq!(rm.aliases, vec![("champ".to_string(), 1)]);
    assert_eq!(rm.latest_versions.len(), 1);
    assert_eq!(rm.latest_versions[0].name, renamed);
    let v = store.get_model_version(&renamed, "1").await.unwrap();
    assert_eq!(v.tags, vec![Tag::new("v", "1")]);
    assert_eq!(v.aliases, vec!["champ".to_string()]);
    assert_eq!(
        store.get_registered_model(&name).await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    let taken = unique("rm-taken");
    store
        .create_registered_model(taken.clone(), vec![], None)
        .await
        .unwrap();
    assert_eq!(
        store
            .rename_registered_model(&renamed, taken.clone())
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_ALREADY_EXISTS
    );

    // Search: the automatic prompt clause matches models without the tag.
    let prefix = unique("srch");
    for i in 0..5 {
        let tags = if i == 4 {
            vec![Tag::new(IS_PROMPT_TAG_KEY, "true")]
        } else {
            vec![Tag::new("i", i.to_string())]
        };
        store
            .create_registered_model(format!("{prefix}-{i}"), tags, None)
            .await
            .unwrap();
    }
    let names = |page: Page<RegisteredModel>| -> Vec<String> {
        page.items.into_iter().map(|m| m.name).collect()
    };
    let search =
        |filter: String, order_by: Vec<String>, max: Option<i64>, token: Option<String>| {
            RegistrySearchRequest {
                filter,
                order_by,
                max_results: max,
                page_token: token,
            }
        };
    let like = format!("name LIKE '{prefix}%' AND tag.`{IS_PROMPT_TAG_KEY}` != 'true'");
    let found = names(
        store
            .search_registered_models(search(like.clone(), vec![], None, None))
            .await
            .unwrap(),
    );
    assert_eq!(
        found,
        (0..4).map(|i| format!("{prefix}-{i}")).collect::<Vec<_>>()
    );
    let prompts = names(
        store
            .search_registered_models(search(
                format!("name LIKE '{prefix}%' AND tags.`{IS_PROMPT_TAG_KEY}` = 'true'"),
                vec![],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(prompts, vec![format!("{prefix}-4")]);
    let tagged = names(
        store
            .search_registered_models(search(
                format!("name ILIKE '{}%' AND tags.i = '2'", prefix.to_uppercase()),
                vec![],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(tagged, vec![format!("{prefix}-2")]);
    let listed = names(
        store
            .search_registered_models(search(
                format!("name IN ('{prefix}-1', '{prefix}-3')"),
                vec!["name DESC".into()],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(listed, vec![format!("{prefix}-3"), format!("{prefix}-1")]);
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_registered_models(search(like.clone(), vec![], Some(3), token))
            .await
            .unwrap();
        paged.extend(page.items.into_iter().map(|m| m.name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, found);
    let err = store
        .search_registered_models(search(String::new(), vec![], Some(1001), None))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);

    store.delete_registered_model(&renamed).await.unwrap();
    assert_eq!(
        store
            .get_model_version(&renamed, "1")
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert_eq!(
        store
            .delete_registered_model(&renamed)
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    // The name is free again, with versions starting over at 1.
    store
        .create_registered_model(renamed.clone(), vec![], None)
        .await
        .unwrap();
    let v = store
        .create_model_version(NewModelVersion {
            name: renamed.clone(),
            source: "s3://bucket/model".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v.version, 1);
}

pub async fn model_versions<S: ModelStores>(store: Arc<S>) {
    use mlox_core::logged_model::LoggedModelStatus;
    use mlox_core::registry::*;
    let exp = store
        .create_experiment(unique("mv"), None, vec![])
        .await
        .unwrap();
    let run = new_run(store.as_ref(), &exp).await;
    let run_id = run.info.run_id.clone();
    let lm = new_logged_model(store.as_ref(), &exp, "model", Some(&run_id)).await;
    store
        .finalize_logged_model(&lm.model_id, LoggedModelStatus::Ready)
        .await
        .unwrap();
    let name = unique("mv");
    store
        .create_registered_model(name.clone(), vec![], None)
        .await
        .unwrap();

    // 1: from a logged model; run id and storage location come from it.
    let v1 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("models:/{}", lm.model_id),
            model_id: Some(lm.model_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.current_stage, "None");
    assert_eq!(v1.status, "READY");
    assert_eq!(v1.run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(
        v1.source.as_deref(),
        Some(format!("models:/{}", lm.model_id).as_str())
    );
    assert_eq!(
        store
            .get_model_version_download_uri(&name, "1")
            .await
            .unwrap(),
        lm.artifact_uri
    );
    let lm_tags = store
        .get_logged_model(&lm.model_id, false)
        .await
        .unwrap()
        .tags;
    assert_eq!(
        lm_tags,
        vec![Tag::new(
            MODEL_VERSIONS_TAG_KEY,
            format!("[{{\"name\": \"{name}\", \"version\": 1}}]")
        )]
    );
    // 2: from the run.
    let v2 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("runs:/{run_id}/model"),
            run_id: Some(run_id.clone()),
            description: Some("second".into()),
            tags: vec![Tag::new("k", "v")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((v2.version, v2.description.as_deref()), (2, Some("second")));
    // 3: from the run's proxied artifacts.
    let v3 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("{}/model", run.info.artifact_uri),
            run_id: Some(run_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    // 4: an object store URI needs no run.
    let v4 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: "s3://bucket/path/model".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v4.run_id.as_deref(), Some(""));
    assert_eq!(
        store
            .get_model_version_download_uri(&name, "4")
            .await
            .unwrap(),
        "s3://bucket/path/model"
    );
    // 5: from another version: the source is pinned and lineage inherited.
    let v5 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("models:/{name}/1"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v5.run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(
        store
            .get_model_version_download_uri(&name, "5")
            .await
            .unwrap(),
        lm.artifact_uri
    );

    // Source checks.
    for (source, run, model) in [
        (format!("runs:/{run_id}/model"), None, None),
        ("runs:/other/model".to_string(), Some(run_id.clone()), None),
        (format!("models:/{}", lm.model_id), None, None),
        (
            "mlflow-artifacts:/1/other/artifacts/model".to_string(),
            Some(run_id.clone()),
            None,
        ),
        ("s3://bucket/a/../../b".to_string(), None, None),
        ("/tmp/model".to_string(), None, None),
        ("https://evil.example.com/model".to_string(), None, None),
        (
            format!("runs:/{run_id}/model"),
            None,
            Some(lm.model_id.clone()),
        ),
    ] {
        let err = store
            .create_model_version(NewModelVersion {
                name: name.clone(),
                source: source.clone(),
                run_id: run,
                model_id: model,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::INVALID_PARAMETER_VALUE,
            "{source}: {}",
            err.message
        );
        assert!(err.message.contains("source"), "{}", err.message);
    }
    let err = store
        .create_model_version(NewModelVersion {
            name: unique("no-such-model"),
            source: "s3://b/m".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

    // Get, update, errors.
    let got = store.get_model_version(&name, "2").await.unwrap();
    assert_eq!(got.tags, vec![Tag::new("k", "v")]);
    let err = store.get_model_version(&name, "99").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert_eq!(
        err.message,
        format!("Model Version (name={name}, version=99) not found")
    );
    let err = store.get_model_version(&name, "x").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    let upd = store
        .update_model_version(&name, "2", Some("changed".into()))
        .await
        .unwrap();
    assert_eq!(upd.description.as_deref(), Some("changed"));

    // Stages.
    let t = store
        .transition_model_version_stage(&name, "1", "production", false)
        .await
        .unwrap();
    assert_eq!(t.current_stage, "Production");
    // Timestamps are in milliseconds and release builds are faster than that: make this
    // transition strictly the latest update, as the default-order check below relies on it.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    store
        .transition_model_version_stage(&name, "2", "Production", true)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_model_version(&name, "1")
            .await
            .unwrap()
            .current_stage,
        "Archived"
    );
    let err = store
        .transition_model_version_stage(&name, "3", "None", true)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INTERNAL_ERROR);
    let err = store
        .transition_model_version_stage(&name, "3", "prod", false)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    let latest = store.get_latest_versions(&name, vec![]).await.unwrap();
    let mut summary: Vec<(String, i64)> = latest
        .iter()
        .map(|v| (v.current_stage.clone(), v.version))
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        vec![
            ("Archived".to_string(), 1),
            ("None".to_string(), 5),
            ("Production".to_string(), 2)
        ]
    );
    let prod = store
        .get_latest_versions(&name, vec!["PRODUCTION".into()])
        .await
        .unwrap();
    assert_eq!(prod.len(), 1);
    assert_eq!(prod[0].version, 2);

    // Aliases.
    store
        .set_registered_model_alias(&name, "champion", "2")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_model_version_by_alias(&name, "champion")
            .await
            .unwrap()
            .version,
        2
    );
    store
        .set_registered_model_alias(&name, "champion", "3")
        .await
        .unwrap();
    let by_alias = store
        .get_model_version_by_alias(&name, "champion")
        .await
        .unwrap();
    assert_eq!(
        (by_alias.version, by_alias.aliases.clone()),
        (3, vec!["champion".to_string()])
    );
    assert_eq!(
        store
            .get_model_version_by_alias(&name, "latest")
            .await
            .unwrap()
            .version,
        5
    );
    for bad in ["latest", "v1", "bad alias", ""] {
        assert_eq!(
            store
                .set_registered_model_alias(&name, bad, "1")
                .await
                .unwrap_err()
                .code,
            ErrorCode::INVALID_PARAMETER_VALUE,
            "{bad}"
        );
    }
    assert_eq!(
        store
            .set_registered_model_alias(&name, "ok", "42")
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    let err = store
        .get_model_version_by_alias(&name, "nope")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    assert_eq!(err.message, "Registered model alias nope not found.");
    assert_eq!(
        store.get_registered_model(&name).await.unwrap().aliases,
        vec![("champion".to_string(), 3)]
    );

    // Tags.
    store
        .set_model_version_tag(&name, "3", Tag::new("stage", "qa"))
        .await
        .unwrap();
    store
        .delete_model_version_tag(&name, "3", "stage")
        .await
        .unwrap();
    store
        .delete_model_version_tag(&name, "3", "stage")
        .await
        .unwrap();
    assert_eq!(
        store
            .set_model_version_tag(&name, "99", Tag::new("a", "b"))
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );

    // Search.
    let search = |filter: String, order: Vec<String>, max: Option<i64>, token: Option<String>| {
        RegistrySearchRequest {
            filter,
            order_by: order,
            max_results: max,
            page_token: token,
        }
    };
    let versions =
        |page: Page<ModelVersion>| -> Vec<i64> { page.items.iter().map(|v| v.version).collect() };
    let all = versions(
        store
            .search_model_versions(search(
                format!("name = '{name}'"),
                vec!["version_number ASC".into()],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(all, vec![1, 2, 3, 4, 5]);
    let by_run = versions(
        store
            .search_model_versions(search(
                format!("name = '{name}' AND run_id = '{run_id}' AND version_number > 1"),
                vec!["version_number DESC".into()],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(by_run, vec![5, 3, 2]);
    // Default order: most recently updated first (2 was updated and transitioned last).
    let recent = versions(
        store
            .search_model_versions(search(format!("name = '{name}'"), vec![], Some(1), None))
            .await
            .unwrap(),
    );
    assert_eq!(recent, vec![2]);
    let tagged = versions(
        store
            .search_model_versions(search(
                format!("name = '{name}' AND tags.k = 'v'"),
                vec![],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(tagged, vec![2]);
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_model_versions(search(
                format!("name = '{name}'"),
                vec!["version_number ASC".into()],
                Some(2),
                token,
            ))
            .await
            .unwrap();
        paged.extend(page.items.iter().map(|v| v.version));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, all);

    // Delete: the alias goes, the number is never reused.
    store.delete_model_version(&name, "3").await.unwrap();
    assert_eq!(
        store.get_model_version(&name, "3").await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert!(store
        .get_registered_model(&name)
        .await
        .unwrap()
        .aliases
        .is_empty());
    let v6 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: "s3://bucket/six".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v6.version, 6);
}
