//! Registry changes, and the MLflow event and payload each becomes.

use mlox_core::registry::*;
use mlox_core::Result;

use super::payload::*;
use super::Webhooks;

/// A registry change that may trigger webhooks. Whether a model is a prompt (which
/// changes the event) is decided in the background, off the request path.
#[derive(Debug, Clone)]
pub enum RegistryEvent {
    RegisteredModelCreated {
        name: String,
        tags: Vec<mlox_core::entities::Tag>,
        description: String,
    },
    ModelVersionCreated {
        name: String,
        version: String,
        source: String,
        run_id: Option<String>,
        tags: Vec<mlox_core::entities::Tag>,
        description: Option<String>,
    },
    ModelVersionTagSet {
        name: String,
        version: String,
        key: String,
        value: String,
    },
    ModelVersionTagDeleted {
        name: String,
        version: String,
        key: String,
    },
    AliasCreated {
        name: String,
        alias: String,
        version: String,
    },
    AliasDeleted {
        name: String,
        alias: String,
    },
    /// Only prompts have registered-model tag events.
    RegisteredModelTagSet {
        name: String,
        key: String,
        value: String,
    },
    RegisteredModelTagDeleted {
        name: String,
        key: String,
    },
}

impl Webhooks {
    /// The MLflow event and payload for a registry change (`None`: nothing to send).
    pub(super) async fn resolve(
        &self,
        event: RegistryEvent,
    ) -> Result<Option<(WebhookEvent, Payload)>> {
        use WebhookAction as A;
        use WebhookEntity as E;
        let is_prompt = |name: &str| {
            let registry = self.inner.registry.clone();
            let name = name.to_string();
            async move {
                registry
                    .get_registered_model(&name)
                    .await
                    .map(|m| m.is_prompt())
            }
        };
        let tags_map = |tags: &[mlox_core::entities::Tag], skip: &[&str]| -> TagMap {
            tags.iter()
                .filter(|t| !skip.contains(&t.key.as_str()))
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect()
        };
        let pick = |prompt: bool, p: E, m: E| if prompt { p } else { m };
        Ok(Some(match event {
            RegistryEvent::RegisteredModelCreated {
                name,
                tags,
                description,
            } => {
                if is_prompt_tags(&tags) {
                    (
                        WebhookEvent {
                            entity: E::Prompt,
                            action: A::Created,
                        },
                        Payload::ModelCreated(ModelCreated {
                            tags: tags_map(&tags, &[IS_PROMPT_TAG_KEY, PROMPT_TYPE_TAG_KEY]),
                            name,
                            description,
                        }),
                    )
                } else {
                    (
                        WebhookEvent {
                            entity: E::RegisteredModel,
                            action: A::Created,
                        },
                        Payload::ModelCreated(ModelCreated {
                            tags: tags_map(&tags, &[]),
                            name,
                            description,
                        }),
                    )
                }
            }
            RegistryEvent::ModelVersionCreated {
                name,
                version,
                source,
                run_id,
                tags,
                description,
            } => {
                if is_prompt_tags(&tags) {
                    let template = tags
                        .iter()
                        .rev()
                        .find(|t| t.key == PROMPT_TEXT_TAG_KEY)
                        .map(|t| t.value.clone());
                    (
                        WebhookEvent {
                            entity: E::PromptVersion,
                            action: A::Created,
                        },
                        Payload::PromptVersionCreated(PromptVersionCreated {
                            tags: tags_map(
                                &tags,
                                &[PROMPT_TEXT_TAG_KEY, IS_PROMPT_TAG_KEY, PROMPT_TYPE_TAG_KEY],
                            ),
                            name,
                            version,
                            template,
                            description,
                        }),
                    )
                } else {
                    (
                        WebhookEvent {
                            entity: E::ModelVersion,
                            action: A::Created,
                        },
                        Payload::ModelVersionCreated(ModelVersionCreated {
                            tags: tags_map(&tags, &[]),
                            name,
                            version,
                            source,
                            run_id,
                            description,
                        }),
                    )
                }
            }
            RegistryEvent::ModelVersionTagSet {
                name,
                version,
                key,
                value,
            } => (
                WebhookEvent {
                    entity: pick(
                        is_prompt(&name).await?,
                        E::PromptVersionTag,
                        E::ModelVersionTag,
                    ),
                    action: A::Set,
                },
                Payload::VersionTagSet(VersionTagSet {
                    name,
                    version,
                    key,
                    value,
                }),
            ),
            RegistryEvent::ModelVersionTagDeleted { name, version, key } => (
                WebhookEvent {
                    entity: pick(
                        is_prompt(&name).await?,
                        E::PromptVersionTag,
                        E::ModelVersionTag,
                    ),
                    action: A::Deleted,
                },
                Payload::VersionTagDeleted(VersionTagDeleted { name, version, key }),
            ),
            RegistryEvent::AliasCreated {
                name,
                alias,
                version,
            } => (
                WebhookEvent {
                    entity: pick(
                        is_prompt(&name).await?,
                        E::PromptAlias,
                        E::ModelVersionAlias,
                    ),
                    action: A::Created,
                },
                Payload::AliasCreated(AliasCreated {
                    name,
                    alias,
                    version,
                }),
            ),
            RegistryEvent::AliasDeleted { name, alias } => (
                WebhookEvent {
                    entity: pick(
                        is_prompt(&name).await?,
                        E::PromptAlias,
                        E::ModelVersionAlias,
                    ),
                    action: A::Deleted,
                },
                Payload::AliasDeleted(AliasDeleted { name, alias }),
            ),
            RegistryEvent::RegisteredModelTagSet { name, key, value } => {
                if !is_prompt(&name).await? {
                    return Ok(None);
                }
                (
                    WebhookEvent {
                        entity: E::PromptTag,
                        action: A::Set,
                    },
                    Payload::TagSet(TagSet { name, key, value }),
                )
            }
            RegistryEvent::RegisteredModelTagDeleted { name, key } => {
                if !is_prompt(&name).await? {
                    return Ok(None);
                }
                (
                    WebhookEvent {
                        entity: E::PromptTag,
                        action: A::Deleted,
                    },
                    Payload::TagDeleted(TagDeleted { name, key }),
                )
            }
        }))
    }
}
