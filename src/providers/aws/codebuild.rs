//! CodeBuild projects: read in one listing plus one BatchGetProjects per hundred candidates,
//! created with CreateProject, changed in place with UpdateProject (which also sets tags, as
//! CodeBuild has no separate tagging calls), deleted with DeleteProject.

use aws_sdk_codebuild::types::{
    ArtifactsType, CloudWatchLogsConfig, ComputeType, EnvironmentType, EnvironmentVariable, EnvironmentVariableType,
    ImagePullCredentialsType, LogsConfig, LogsConfigStatusType, Project, ProjectArtifacts, ProjectEnvironment,
    ProjectSource, SourceType, Tag,
};
use serde_json::Value;

use super::read::{candidates, claimed, insert, tags_from, wanted_if_any};
use super::write::invalid;
use super::{diagnose, AwsProvider};
use crate::kinds::AwsKind;
use crate::providers::{LiveSet, ProviderError};
use crate::render::resource::{CodebuildProject, Tags};
use crate::render::{Address, AwsResource, DesiredSet};
use crate::state::State;

const KIND: AwsKind = AwsKind::CodebuildProject;
/// BatchGetProjects takes at most this many names.
const BATCH: usize = 100;

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
        .block_on(provider.codebuild.list_projects().into_paginator().items().send().collect::<Vec<_>>())
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| diagnose(e, "CodeBuild projects", "codebuild:ListProjects", provider.endpoint()))?;
    let names = candidates(listed, &wanted, state, KIND, &format!("{catalog}-"));
    for batch in names.chunks(BATCH) {
        let got = provider
            .runtime
            .block_on(provider.codebuild.batch_get_projects().set_names(Some(batch.to_vec())).send())
            .map_err(|e| diagnose(e, "CodeBuild projects", "codebuild:BatchGetProjects", provider.endpoint()))?;
        for project in got.projects() {
            let Some(name) = project.name() else { continue };
            let tags = tags_from(project.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))));
            if !claimed(
                live,
                &tags,
                &catalog,
                wanted.contains_key(name),
                &Address::global(KIND, name),
                "a CodeBuild project",
            ) {
                continue;
            }
            insert(live, AwsResource::CodebuildProject(from_live(name, project, tags)));
        }
    }
    Ok(())
}

/// The live project in the renderer's shape; the buildspec is compared as a document.
fn from_live(name: &str, project: &Project, tags: Tags) -> CodebuildProject {
    let environment = project.environment();
    let logs = project.logs_config().and_then(|l| l.cloud_watch_logs());
    let buildspec = project
        .source()
        .and_then(|s| s.buildspec())
        .map(|text| serde_norway::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())))
        .unwrap_or(Value::Null);
    CodebuildProject {
        name: name.to_string(),
        description: project.description().unwrap_or_default().to_string(),
        service_role: project.service_role().unwrap_or_default().to_string(),
        image: environment.map(|e| e.image().to_string()).unwrap_or_default(),
        compute_type: environment.map(|e| e.compute_type().as_str().to_string()).unwrap_or_default(),
        privileged_mode: environment.and_then(|e| e.privileged_mode()).unwrap_or(false),
        environment_variables: environment
            .map(|e| e.environment_variables().iter().map(|v| (v.name().to_string(), v.value().to_string())).collect())
            .unwrap_or_default(),
        timeout_minutes: project.timeout_in_minutes().unwrap_or_default() as u32,
        log_group: logs.and_then(|l| l.group_name()).unwrap_or_default().to_string(),
        log_stream: logs.and_then(|l| l.stream_name()).unwrap_or_default().to_string(),
        buildspec,
        tags,
    }
}

/// The SDK shapes of a project's settings, shared by create and update.
struct Settings {
    source: ProjectSource,
    artifacts: ProjectArtifacts,
    environment: ProjectEnvironment,
    logs: LogsConfig,
}

fn settings(project: &CodebuildProject, address: &Address) -> Result<Settings, ProviderError> {
    let error = |e: aws_smithy_types::error::operation::BuildError| invalid(address, &e.to_string());
    let buildspec = serde_norway::to_string(&project.buildspec).map_err(|e| invalid(address, &e.to_string()))?;
    // CodePipeline supplies the source and takes the artifacts; AWS ignores `location` for this
    // type, but the emulator insists on one, so both name the project.
    let source = ProjectSource::builder()
        .r#type(SourceType::Codepipeline)
        .location(&project.name)
        .buildspec(buildspec)
        .build()
        .map_err(error)?;
    let artifacts = ProjectArtifacts::builder()
        .r#type(ArtifactsType::Codepipeline)
        .location(&project.name)
        .build()
        .map_err(error)?;
    let variables = project
        .environment_variables
        .iter()
        .map(|(name, value)| {
            EnvironmentVariable::builder().name(name).value(value).r#type(EnvironmentVariableType::Plaintext).build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(error)?;
    // CODEBUILD pull credentials: a private deploy image's repository policy trusts CodeBuild,
    // so the service role needs no ECR permissions beyond its own repository.
    let environment = ProjectEnvironment::builder()
        .r#type(EnvironmentType::LinuxContainer)
        .image(&project.image)
        .compute_type(ComputeType::from(project.compute_type.as_str()))
        .privileged_mode(project.privileged_mode)
        .image_pull_credentials_type(ImagePullCredentialsType::Codebuild)
        .set_environment_variables(Some(variables))
        .build()
        .map_err(error)?;
    let logs = LogsConfig::builder()
        .cloud_watch_logs(
            CloudWatchLogsConfig::builder()
                .status(LogsConfigStatusType::Enabled)
                .group_name(&project.log_group)
                .stream_name(&project.log_stream)
                .build()
                .map_err(error)?,
        )
        .build();
    Ok(Settings { source, artifacts, environment, logs })
}

fn tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub fn create(provider: &mut AwsProvider, address: &Address, project: &CodebuildProject) -> Result<(), ProviderError> {
    let Settings { source, artifacts, environment, logs } = settings(project, address)?;
    call!(
        provider,
        address,
        "codebuild:CreateProject",
        provider
            .codebuild
            .create_project()
            .name(&project.name)
            .description(&project.description)
            .service_role(&project.service_role)
            .source(source)
            .artifacts(artifacts)
            .environment(environment)
            .logs_config(logs)
            .timeout_in_minutes(project.timeout_minutes as i32)
            .set_tags(Some(tags(&project.tags)))
    )?;
    Ok(())
}

/// Every change, tags included, is one UpdateProject with the whole desired project: AWS
/// replaces each given setting and keeps the project's build history. (moto 5.2.5 does not
/// implement UpdateProject; tests/pipeline.rs shows what that means against the emulator.)
pub fn update(provider: &mut AwsProvider, address: &Address, project: &CodebuildProject) -> Result<(), ProviderError> {
    let Settings { source, artifacts, environment, logs } = settings(project, address)?;
    call!(
        provider,
        address,
        "codebuild:UpdateProject",
        provider
            .codebuild
            .update_project()
            .name(&project.name)
            .description(&project.description)
            .service_role(&project.service_role)
            .source(source)
            .artifacts(artifacts)
            .environment(environment)
            .logs_config(logs)
            .timeout_in_minutes(project.timeout_minutes as i32)
            .set_tags(Some(tags(&project.tags)))
    )?;
    Ok(())
}

pub fn delete(provider: &mut AwsProvider, address: &Address, project: &CodebuildProject) -> Result<(), ProviderError> {
    call!(provider, address, "codebuild:DeleteProject", provider.codebuild.delete_project().name(&project.name))?;
    Ok(())
}

/// Adds the ownership tags to the project's own (UpdateProject sets the whole tag list).
pub fn import(provider: &mut AwsProvider, address: &Address, ownership: &Tags) -> Result<(), ProviderError> {
    let name = address.name();
    let got =
        call!(provider, address, "codebuild:BatchGetProjects", provider.codebuild.batch_get_projects().names(name))?;
    let project = got
        .projects()
        .first()
        .ok_or_else(|| invalid(address, "there is no CodeBuild project of this name to import"))?;
    let mut merged = tags_from(project.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))));
    merged.extend(ownership.clone());
    call!(
        provider,
        address,
        "codebuild:UpdateProject",
        provider.codebuild.update_project().name(name).set_tags(Some(tags(&merged)))
    )?;
    Ok(())
}
