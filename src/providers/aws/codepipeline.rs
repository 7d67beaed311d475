//! CodePipelines: the rendered `pipeline` structure ↔ the SDK's `PipelineDeclaration`, both
//! ways. Read with one ListPipelines, then GetPipeline and ListTagsForResource per candidate;
//! changed in place with UpdatePipeline (which keeps the execution history) and tag calls.

use aws_sdk_codepipeline::types as sdk;
use aws_smithy_types::error::operation::BuildError;

use super::read::{candidates, claimed, insert, owned_by, tags_from, wanted_if_any};
use super::write::{invalid, tag_changes};
use super::{diagnose, AwsProvider};
use crate::kinds::AwsKind;
use crate::providers::{LiveSet, ProviderError};
use crate::render::resource::{
    ActionDeclaration, ActionTypeId, ArtifactName, ArtifactStore, GitConfiguration, GitIncludes, GitPushFilter,
    Pipeline, PipelineDeclaration, PipelineTrigger, StageDeclaration, Tags,
};
use crate::render::{Address, AwsResource, DesiredSet};
use crate::state::State;

const KIND: AwsKind = AwsKind::Codepipeline;

fn arn(provider: &AwsProvider, name: &str) -> String {
    provider.arns().codepipeline(name)
}

pub fn read(
    provider: &mut AwsProvider,
    desired: &DesiredSet,
    state: &State,
    live: &mut LiveSet,
) -> Result<(), ProviderError> {
    let Some(wanted) = wanted_if_any(desired, state, KIND) else { return Ok(()) };
    let catalog = provider.target.catalog.clone();
    let listed: Vec<String> = provider
        .runtime
        .block_on(provider.codepipeline.list_pipelines().into_paginator().items().send().collect::<Vec<_>>())
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| diagnose(e, "CodePipelines", "codepipeline:ListPipelines", provider.endpoint()))?
        .into_iter()
        .filter_map(|summary| summary.name().map(str::to_string))
        .collect();
    let asked = candidates(listed, &wanted, state, KIND, &format!("{catalog}-"));
    let (client, endpoint, owner) = (&provider.codepipeline, provider.endpoint(), catalog.as_str());
    let arns = provider.arns();
    let answers = super::concurrent::in_order(&provider.runtime, asked, |name| {
        let arn = arns.codepipeline(&name);
        async move {
            let address = Address::global(KIND, name.as_str());
            let tags = client
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| diagnose(e, &address.to_string(), "codepipeline:ListTagsForResource", endpoint))?;
            let tags = tags_from(tags.tags().iter().map(|t| (t.key(), t.value())));
            if !owned_by(&tags, owner) {
                return Ok((name, tags, None));
            }
            let got = client
                .get_pipeline()
                .name(&name)
                .send()
                .await
                .map_err(|e| diagnose(e, &address.to_string(), "codepipeline:GetPipeline", endpoint))?;
            Ok((name, tags, Some(got)))
        }
    })?;
    for (name, tags, got) in answers {
        let address = Address::global(KIND, name.as_str());
        if !claimed(live, &tags, &catalog, wanted.contains_key(&name), &address, "a CodePipeline") {
            continue;
        }
        let Some(declaration) = got.as_ref().and_then(|got| got.pipeline()) else { continue };
        insert(live, AwsResource::Codepipeline(Pipeline { pipeline: from_sdk(declaration), tags }));
    }
    Ok(())
}

/// The live declaration in the renderer's shape (without the version AWS counts up).
fn from_sdk(p: &sdk::PipelineDeclaration) -> PipelineDeclaration {
    let names = |items: &mut dyn Iterator<Item = &str>| -> Vec<ArtifactName> {
        items.map(|name| ArtifactName { name: name.to_string() }).collect()
    };
    PipelineDeclaration {
        name: p.name().to_string(),
        role_arn: p.role_arn().to_string(),
        artifact_store: ArtifactStore {
            store_type: p.artifact_store().map(|s| s.r#type().as_str().to_string()).unwrap_or_default(),
            location: p.artifact_store().map(|s| s.location().to_string()).unwrap_or_default(),
        },
        pipeline_type: p.pipeline_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
        execution_mode: p.execution_mode().map(|m| m.as_str().to_string()).unwrap_or_default(),
        stages: p
            .stages()
            .iter()
            .map(|stage| StageDeclaration {
                name: stage.name().to_string(),
                actions: stage
                    .actions()
                    .iter()
                    .map(|action| ActionDeclaration {
                        name: action.name().to_string(),
                        action_type_id: action
                            .action_type_id()
                            .map(|t| ActionTypeId {
                                category: t.category().as_str().to_string(),
                                owner: t.owner().as_str().to_string(),
                                provider: t.provider().to_string(),
                                version: t.version().to_string(),
                            })
                            .unwrap_or_else(|| ActionTypeId {
                                category: String::new(),
                                owner: String::new(),
                                provider: String::new(),
                                version: String::new(),
                            }),
                        run_order: action.run_order().unwrap_or(1) as u32,
                        configuration: action
                            .configuration()
                            .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            .unwrap_or_default(),
                        input_artifacts: names(&mut action.input_artifacts().iter().map(|a| a.name())),
                        output_artifacts: names(&mut action.output_artifacts().iter().map(|a| a.name())),
                        namespace: action.namespace().map(str::to_string),
                    })
                    .collect(),
            })
            .collect(),
        triggers: p
            .triggers()
            .iter()
            .map(|trigger| PipelineTrigger {
                provider_type: trigger.provider_type().as_str().to_string(),
                git_configuration: GitConfiguration {
                    source_action_name: trigger
                        .git_configuration()
                        .map(|g| g.source_action_name().to_string())
                        .unwrap_or_default(),
                    push: trigger
                        .git_configuration()
                        .map(|g| g.push())
                        .unwrap_or_default()
                        .iter()
                        .map(|push| GitPushFilter {
                            branches: GitIncludes {
                                includes: push.branches().map(|b| b.includes().to_vec()).unwrap_or_default(),
                                excludes: push.branches().map(|b| b.excludes().to_vec()).unwrap_or_default(),
                            },
                            file_paths: push.file_paths().map(|f| GitIncludes {
                                includes: f.includes().to_vec(),
                                excludes: f.excludes().to_vec(),
                            }),
                        })
                        .collect(),
                },
            })
            .collect(),
    }
}

/// The rendered declaration as the SDK's; the builders check every required field.
fn to_sdk(p: &PipelineDeclaration) -> Result<sdk::PipelineDeclaration, BuildError> {
    let mut stages = Vec::with_capacity(p.stages.len());
    for stage in &p.stages {
        let mut actions = Vec::with_capacity(stage.actions.len());
        for action in &stage.actions {
            let type_id = sdk::ActionTypeId::builder()
                .category(sdk::ActionCategory::from(action.action_type_id.category.as_str()))
                .owner(sdk::ActionOwner::from(action.action_type_id.owner.as_str()))
                .provider(&action.action_type_id.provider)
                .version(&action.action_type_id.version)
                .build()?;
            let inputs = action
                .input_artifacts
                .iter()
                .map(|a| sdk::InputArtifact::builder().name(&a.name).build())
                .collect::<Result<Vec<_>, _>>()?;
            let outputs = action
                .output_artifacts
                .iter()
                .map(|a| sdk::OutputArtifact::builder().name(&a.name).build())
                .collect::<Result<Vec<_>, _>>()?;
            actions.push(
                sdk::ActionDeclaration::builder()
                    .name(&action.name)
                    .action_type_id(type_id)
                    .run_order(action.run_order as i32)
                    .set_configuration(Some(action.configuration.clone().into_iter().collect()))
                    .set_input_artifacts(Some(inputs))
                    .set_output_artifacts(Some(outputs))
                    .set_namespace(action.namespace.clone())
                    .build()?,
            );
        }
        stages.push(sdk::StageDeclaration::builder().name(&stage.name).set_actions(Some(actions)).build()?);
    }
    let mut triggers = Vec::with_capacity(p.triggers.len());
    for trigger in &p.triggers {
        let pushes = trigger
            .git_configuration
            .push
            .iter()
            .map(|push| {
                sdk::GitPushFilter::builder()
                    .branches(
                        sdk::GitBranchFilterCriteria::builder()
                            .set_includes(non_empty(&push.branches.includes))
                            .set_excludes(non_empty(&push.branches.excludes))
                            .build(),
                    )
                    .set_file_paths(push.file_paths.as_ref().map(|f| {
                        sdk::GitFilePathFilterCriteria::builder()
                            .set_includes(non_empty(&f.includes))
                            .set_excludes(non_empty(&f.excludes))
                            .build()
                    }))
                    .build()
            })
            .collect();
        triggers.push(
            sdk::PipelineTriggerDeclaration::builder()
                .provider_type(sdk::PipelineTriggerProviderType::from(trigger.provider_type.as_str()))
                .git_configuration(
                    sdk::GitConfiguration::builder()
                        .source_action_name(&trigger.git_configuration.source_action_name)
                        .set_push(Some(pushes))
                        .build()?,
                )
                .build()?,
        );
    }
    sdk::PipelineDeclaration::builder()
        .name(&p.name)
        .role_arn(&p.role_arn)
        .artifact_store(
            sdk::ArtifactStore::builder()
                .r#type(sdk::ArtifactStoreType::from(p.artifact_store.store_type.as_str()))
                .location(&p.artifact_store.location)
                .build()?,
        )
        .pipeline_type(sdk::PipelineType::from(p.pipeline_type.as_str()))
        .execution_mode(sdk::ExecutionMode::from(p.execution_mode.as_str()))
        .set_stages(Some(stages))
        .set_triggers((!triggers.is_empty()).then_some(triggers))
        .build()
}

fn sdk_tags(tags: &Tags) -> Vec<sdk::Tag> {
    tags.iter().filter_map(|(k, v)| sdk::Tag::builder().key(k).value(v).build().ok()).collect()
}

pub fn create(provider: &mut AwsProvider, address: &Address, pipeline: &Pipeline) -> Result<(), ProviderError> {
    let declaration = to_sdk(&pipeline.pipeline).map_err(|e| invalid(address, &e.to_string()))?;
    call!(
        provider,
        address,
        "codepipeline:CreatePipeline",
        provider.codepipeline.create_pipeline().pipeline(declaration).set_tags(Some(sdk_tags(&pipeline.tags)))
    )?;
    Ok(())
}

pub fn update(
    provider: &mut AwsProvider,
    address: &Address,
    old: &Pipeline,
    new: &Pipeline,
) -> Result<(), ProviderError> {
    if old.pipeline != new.pipeline {
        let declaration = to_sdk(&new.pipeline).map_err(|e| invalid(address, &e.to_string()))?;
        call!(
            provider,
            address,
            "codepipeline:UpdatePipeline",
            provider.codepipeline.update_pipeline().pipeline(declaration)
        )?;
    }
    let arn = arn(provider, &new.pipeline.name);
    retag!(provider, address, &old.tags, &new.tags,
        "codepipeline:TagResource" => |set| provider.codepipeline.tag_resource().resource_arn(&arn).set_tags(Some(sdk_tags(&set))),
        "codepipeline:UntagResource" => |keys| provider.codepipeline.untag_resource().resource_arn(&arn).set_tag_keys(Some(keys)));
    Ok(())
}

pub fn delete(provider: &mut AwsProvider, address: &Address, pipeline: &Pipeline) -> Result<(), ProviderError> {
    call!(
        provider,
        address,
        "codepipeline:DeletePipeline",
        provider.codepipeline.delete_pipeline().name(&pipeline.pipeline.name)
    )?;
    Ok(())
}

pub fn import(provider: &mut AwsProvider, address: &Address, ownership: &Tags) -> Result<(), ProviderError> {
    let arn = arn(provider, address.name());
    call!(
        provider,
        address,
        "codepipeline:TagResource",
        provider.codepipeline.tag_resource().resource_arn(arn).set_tags(Some(sdk_tags(ownership)))
    )?;
    Ok(())
}

/// The API takes a filter list with at least one pattern, or none at all.
fn non_empty(patterns: &[String]) -> Option<Vec<String>> {
    (!patterns.is_empty()).then(|| patterns.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rendering → SDK → back is lossless for every pipeline of the example, so a plan after an
    /// apply compares like with like.
    #[test]
    fn declarations_round_trip_through_the_sdk_types() {
        let model =
            crate::catalog::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/shop"))).unwrap();
        let desired = crate::render::render(&model).unwrap();
        let mut seen = 0;
        for resource in desired.resources.values() {
            if let crate::render::Resource::Aws(AwsResource::Codepipeline(pipeline)) = resource {
                let sdk = to_sdk(&pipeline.pipeline).unwrap();
                assert_eq!(from_sdk(&sdk), pipeline.pipeline);
                seen += 1;
            }
        }
        assert!(seen > 0, "examples/shop renders pipelines");
    }
}
