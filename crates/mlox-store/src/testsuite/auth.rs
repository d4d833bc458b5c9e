//! The basic-auth app's store: users, grants and access tokens.

use std::sync::Arc;

use mlox_core::ErrorCode;

/// Users, grants and access tokens of the basic-auth app.
pub async fn auth_store<S: mlox_core::auth::AuthStore>(store: Arc<S>) {
    // Names unique per run: a PostgreSQL test database is shared by runs.
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (alice, bob) = (format!("alice-{tag}"), format!("bob-{tag}"));
    let a = store.create_user(&alice, "hash-a", false).await.unwrap();
    assert_eq!((a.username.as_str(), a.is_admin), (alice.as_str(), false));
    let err = store.create_user(&alice, "x", true).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_ALREADY_EXISTS);
    let b = store.create_user(&bob, "hash-b", true).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(store.find_user(&alice).await.unwrap(), Some(a.clone()));
    assert_eq!(store.find_user_by_id(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.find_user("nobody-here").await.unwrap(), None);
    assert!(store.count_users().await.unwrap() >= 2);
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert!(names.contains(&alice) && names.contains(&bob));

    store.update_password(&alice, "hash-a2").await.unwrap();
    store.update_admin(&alice, true).await.unwrap();
    let a2 = store.find_user(&alice).await.unwrap().unwrap();
    assert_eq!((a2.password_hash.as_str(), a2.is_admin), ("hash-a2", true));
    let err = store.update_password("nobody-here", "h").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

    store
        .insert_grant(a.id, "experiment", "7", "EDIT")
        .await
        .unwrap();
    let err = store
        .insert_grant(a.id, "experiment", "7", "READ")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_ALREADY_EXISTS);
    store
        .insert_grant(a.id, "registered_model", "m", "DENY")
        .await
        .unwrap();
    store
        .insert_grant(b.id, "registered_model", "m", "MANAGE")
        .await
        .unwrap();
    assert_eq!(
        store.get_grant(a.id, "experiment", "7").await.unwrap(),
        Some("EDIT".into())
    );
    assert_eq!(
        store.get_grant(a.id, "experiment", "8").await.unwrap(),
        None
    );
    assert_eq!(store.list_grants(a.id).await.unwrap().len(), 2);
    store
        .rename_resource_grants("registered_model", "m", "m2")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_grant(b.id, "registered_model", "m2")
            .await
            .unwrap(),
        Some("MANAGE".into())
    );
    store
        .delete_resource_grants("registered_model", "m2")
        .await
        .unwrap();
    assert_eq!(store.list_grants(b.id).await.unwrap(), vec![]);
    assert!(store.delete_grant(a.id, "experiment", "7").await.unwrap());
    assert!(!store.delete_grant(a.id, "experiment", "7").await.unwrap());

    let hash = format!("token-hash-{tag}");
    let t = store.create_token(a.id, "ci", &hash, 42).await.unwrap();
    assert_eq!((t.name.as_str(), t.created_at), ("ci", 42));
    assert_eq!(
        store.find_token_user(&hash).await.unwrap().map(|u| u.id),
        Some(a.id)
    );
    assert_eq!(store.list_tokens(a.id).await.unwrap(), vec![t.clone()]);
    assert!(!store.delete_token(b.id, t.id).await.unwrap(), "not Bob's");
    store
        .insert_grant(a.id, "experiment", "9", "READ")
        .await
        .unwrap();
    // Deleting a user takes their grants and tokens along.
    store.delete_user(&alice).await.unwrap();
    assert_eq!(store.find_user(&alice).await.unwrap(), None);
    assert_eq!(store.find_token_user(&hash).await.unwrap(), None);
    assert_eq!(store.list_grants(a.id).await.unwrap(), vec![]);
    let err = store.delete_user(&alice).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}
