//! Webhooks and the events they subscribe to.

use std::collections::HashMap;

use mlox_core::entities::Page;
use mlox_core::registry::*;
use mlox_core::{page_token, MlflowError, Result};

use crate::db::{placeholders, Conn, DbError, Row, RowView};
use crate::tracking::now_ms;

use super::loading::text_args;

const WEBHOOK_COLUMNS: &str = "w.webhook_id, w.name, w.description, w.url, w.status, w.secret, w.creation_timestamp, w.last_updated_timestamp";

fn webhook_not_found(id: &str) -> MlflowError {
    MlflowError::not_found(format!("Webhook with ID {id} not found."))
}

/// Events come back ordered by entity and action names, as MLflow lists them.
fn webhooks_from_rows(c: &mut dyn Conn, rows: Vec<Row>) -> Result<Vec<Webhook>> {
    let mut hooks: Vec<Webhook> = rows
        .iter()
        .map(|r| {
            Ok(Webhook {
                webhook_id: r.text(0)?,
                name: r.text(1)?,
                description: r.opt_text(2)?,
                url: r.text(3)?,
                status: WebhookStatus::parse(&r.text(4)?).unwrap_or(WebhookStatus::Disabled),
                secret: r.opt_text(5)?,
                creation_timestamp: r.int(6)?,
                last_updated_timestamp: r.int(7)?,
                events: vec![],
            })
        })
        .collect::<Result<_, DbError>>()?;
    let index: HashMap<String, usize> = hooks
        .iter()
        .enumerate()
        .map(|(i, h)| (h.webhook_id.clone(), i))
        .collect();
    let ids: Vec<String> = hooks.iter().map(|h| h.webhook_id.clone()).collect();
    for chunk in ids.chunks(500) {
        for r in c.query(
            &format!(
                "SELECT webhook_id, entity, action FROM webhook_events WHERE webhook_id IN ({}) ORDER BY entity, action",
                placeholders(chunk.len())
            ),
            &text_args(chunk),
        )? {
            let event = WebhookEntity::parse(&r.text(1)?)
                .zip(WebhookAction::parse(&r.text(2)?))
                .map(|(entity, action)| WebhookEvent { entity, action });
            if let (Some(&i), Some(event)) = (index.get(&r.text(0)?), event) {
                hooks[i].events.push(event);
            }
        }
    }
    Ok(hooks)
}

fn insert_events(c: &mut dyn Conn, id: &str, events: &[WebhookEvent]) -> Result<()> {
    for e in events {
        c.execute(
            "INSERT INTO webhook_events (webhook_id, entity, action) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            &[id.into(), e.entity.as_str().into(), e.action.as_str().into()],
        )?;
    }
    Ok(())
}

pub(crate) fn get_webhook(c: &mut dyn Conn, id: &str) -> Result<Webhook> {
    let rows = c.query(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.webhook_id = ? AND w.deleted_timestamp IS NULL"),
        &[id.into()],
    )?;
    webhooks_from_rows(c, rows)?
        .pop()
        .ok_or_else(|| webhook_not_found(id))
}

pub(crate) fn create_webhook(c: &mut dyn Conn, w: NewWebhook) -> Result<Webhook> {
    validate_webhook_name(&w.name)?;
    validate_webhook_events(&w.events)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    c.execute(
        "INSERT INTO webhooks (webhook_id, name, description, url, status, secret, creation_timestamp, last_updated_timestamp, deleted_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        &[
            id.as_str().into(),
            w.name.into(),
            w.description.into(),
            w.url.into(),
            w.status.unwrap_or(WebhookStatus::Active).as_proto().into(),
            w.secret.into(),
            now.into(),
            now.into(),
        ],
    )?;
    insert_events(c, &id, &w.events)?;
    get_webhook(c, &id)
}

pub(crate) fn list_webhooks(
    c: &mut dyn Conn,
    max_results: Option<i64>,
    page_token: Option<String>,
) -> Result<Page<Webhook>> {
    let max_results = max_results.filter(|m| *m != 0).unwrap_or(100);
    if !(1..=1000).contains(&max_results) {
        return Err(MlflowError::invalid(
            "max_results must be between 1 and 1000.",
        ));
    }
    let offset = page_token::decode(page_token.as_deref())?;
    let rows = c.query(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.deleted_timestamp IS NULL ORDER BY w.creation_timestamp DESC, w.webhook_id LIMIT ? OFFSET ?"),
        &[(max_results + 1).into(), (offset as i64).into()],
    )?;
    let mut hooks = webhooks_from_rows(c, rows)?;
    let next = page_token::finish_page(&mut hooks, max_results, offset);
    Ok(Page {
        items: hooks,
        next_page_token: next,
    })
}

pub(crate) fn list_webhooks_by_event(
    c: &mut dyn Conn,
    event: WebhookEvent,
) -> Result<Vec<Webhook>> {
    let rows = c.query(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w JOIN webhook_events e ON e.webhook_id = w.webhook_id WHERE w.deleted_timestamp IS NULL AND e.entity = ? AND e.action = ? ORDER BY w.creation_timestamp DESC, w.webhook_id"),
        &[event.entity.as_str().into(), event.action.as_str().into()],
    )?;
    webhooks_from_rows(c, rows)
}

pub(crate) fn update_webhook(c: &mut dyn Conn, id: &str, u: WebhookUpdate) -> Result<Webhook> {
    get_webhook(c, id)?;
    if let Some(name) = &u.name {
        validate_webhook_name(name)?;
        c.execute(
            "UPDATE webhooks SET name = ? WHERE webhook_id = ?",
            &[name.as_str().into(), id.into()],
        )?;
    }
    if let Some(url) = &u.url {
        c.execute(
            "UPDATE webhooks SET url = ? WHERE webhook_id = ?",
            &[url.as_str().into(), id.into()],
        )?;
    }
    if let Some(events) = &u.events {
        validate_webhook_events(events)?;
        c.execute(
            "DELETE FROM webhook_events WHERE webhook_id = ?",
            &[id.into()],
        )?;
        insert_events(c, id, events)?;
    }
    if let Some(description) = &u.description {
        c.execute(
            "UPDATE webhooks SET description = ? WHERE webhook_id = ?",
            &[description.as_str().into(), id.into()],
        )?;
    }
    if let Some(secret) = &u.secret {
        c.execute(
            "UPDATE webhooks SET secret = ? WHERE webhook_id = ?",
            &[secret.as_str().into(), id.into()],
        )?;
    }
    if let Some(status) = u.status {
        c.execute(
            "UPDATE webhooks SET status = ? WHERE webhook_id = ?",
            &[status.as_proto().into(), id.into()],
        )?;
    }
    c.execute(
        "UPDATE webhooks SET last_updated_timestamp = ? WHERE webhook_id = ?",
        &[now_ms().into(), id.into()],
    )?;
    get_webhook(c, id)
}

pub(crate) fn delete_webhook(c: &mut dyn Conn, id: &str) -> Result<()> {
    get_webhook(c, id)?;
    let now = now_ms();
    c.execute(
        "UPDATE webhooks SET deleted_timestamp = ?, last_updated_timestamp = ? WHERE webhook_id = ?",
        &[now.into(), now.into(), id.into()],
    )?;
    Ok(())
}
