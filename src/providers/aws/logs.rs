//! CloudWatch Logs groups (the CodeBuild projects' `/aws/codebuild/PLATFORM-SERVICE`): read with
//! one DescribeLogGroups listing of the catalog's prefix and a ListTagsForResource per group;
//! created with CreateLogGroup (with its tags) and PutRetentionPolicy, changed in place with
//! PutRetentionPolicy / DeleteRetentionPolicy and TagResource / UntagResource, deleted with
//! DeleteLogGroup (the events go with it, so only with `--allow-delete`, like every delete).
//!
//! The tagging calls are the ARN-based TagResource / UntagResource / ListTagsForResource, not the
//! deprecated TagLogGroup family; moto 5.2.5 implements both, and every call used here.

use std::collections::HashMap;

use super::read::{claimed, insert, tags_from, wanted_if_any};
use super::write::tag_changes;
use super::{diagnose, AwsProvider};
use crate::kinds::AwsKind;
use crate::providers::{LiveSet, ProviderError};
use crate::render::resource::{LogGroup, Tags};
use crate::render::{Address, AwsResource, DesiredSet, Resource};
use crate::state::State;

const KIND: AwsKind = AwsKind::LogGroup;
/// Where CodeBuild projects log by default, and where glidepath names their groups.
const CODEBUILD_PREFIX: &str = "/aws/codebuild/";

/// The group's ARN as the tagging calls take it (without DescribeLogGroups' trailing `:*`).
fn arn(provider: &AwsProvider, name: &str) -> String {
    provider.arns().log_group(name)
}

pub fn read(
    provider: &mut AwsProvider,
    desired: &DesiredSet,
    state: &State,
    live: &mut LiveSet,
) -> Result<(), ProviderError> {
    let Some(wanted) = wanted_if_any(desired, state, KIND) else { return Ok(()) };
    let catalog = provider.target.catalog.clone();
    // Every group glidepath names is a pipeline's (`PLATFORM-SERVICE`), so one listing of the
    // catalog's prefix finds them, and no other team's build logs are asked about.
    let prefix = format!("{CODEBUILD_PREFIX}{catalog}-");
    let groups: Vec<_> = provider
        .runtime
        .block_on(
            provider
                .logs
                .describe_log_groups()
                .log_group_name_prefix(&prefix)
                .into_paginator()
                .items()
                .send()
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| diagnose(e, "CloudWatch Logs groups", "logs:DescribeLogGroups", provider.endpoint()))?;
    for group in groups {
        let Some(name) = group.log_group_name().map(str::to_string) else { continue };
        let address = Address::global(KIND, name.as_str());
        let listed = call!(
            provider,
            address,
            "logs:ListTagsForResource",
            provider.logs.list_tags_for_resource().resource_arn(arn(provider, &name))
        )?;
        let tags = tags_from(listed.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())));
        // CodeBuild creates the group, untagged, on the first build of a project glidepath
        // applied before it managed groups: that one is glidepath's to adopt. The plan tags it
        // and sets its retention in place instead of stopping on a conflict.
        let adopted = tags.is_empty() && made_by_our_project(desired, state, &name);
        if adopted {
            live.notes.insert(
                address.clone(),
                "created by CodeBuild for a project glidepath manages: adopted (tags and retention set in place)"
                    .into(),
            );
        } else if !claimed(live, &tags, &catalog, wanted.contains_key(&name), &address, "a CloudWatch Logs group") {
            continue;
        }
        let retention_in_days = group.retention_in_days().and_then(|d| u32::try_from(d).ok());
        insert(live, AwsResource::LogGroup(LogGroup { name, retention_in_days, tags }));
    }
    Ok(())
}

/// Whether `group` is where a CodeBuild project that glidepath applied (one in the state) logs.
fn made_by_our_project(desired: &DesiredSet, state: &State, group: &str) -> bool {
    desired.resources.iter().any(|(address, resource)| {
        matches!(resource, Resource::Aws(AwsResource::CodebuildProject(p)) if p.log_group == group)
            && state.resources.contains_key(address)
    })
}

fn sdk_tags(tags: &Tags) -> HashMap<String, String> {
    tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Sets the retention, or removes it (events never expire) when there is none.
fn put_retention(provider: &mut AwsProvider, address: &Address, group: &LogGroup) -> Result<(), ProviderError> {
    match group.retention_in_days {
        Some(days) => {
            call!(
                provider,
                address,
                "logs:PutRetentionPolicy",
                provider.logs.put_retention_policy().log_group_name(&group.name).retention_in_days(days as i32)
            )?;
        }
        None => {
            call!(
                provider,
                address,
                "logs:DeleteRetentionPolicy",
                provider.logs.delete_retention_policy().log_group_name(&group.name)
            )?;
        }
    }
    Ok(())
}

pub fn create(provider: &mut AwsProvider, address: &Address, group: &LogGroup) -> Result<(), ProviderError> {
    call!(
        provider,
        address,
        "logs:CreateLogGroup",
        provider.logs.create_log_group().log_group_name(&group.name).set_tags(Some(sdk_tags(&group.tags)))
    )?;
    // A new group never expires its events until it is given a retention.
    if group.retention_in_days.is_some() {
        put_retention(provider, address, group)?;
    }
    Ok(())
}

pub fn update(
    provider: &mut AwsProvider,
    address: &Address,
    old: &LogGroup,
    new: &LogGroup,
) -> Result<(), ProviderError> {
    if old.retention_in_days != new.retention_in_days {
        put_retention(provider, address, new)?;
    }
    let arn = arn(provider, &new.name);
    retag!(provider, address, &old.tags, &new.tags,
        "logs:TagResource" => |set| provider.logs.tag_resource().resource_arn(&arn).set_tags(Some(sdk_tags(&set))),
        "logs:UntagResource" => |keys| provider.logs.untag_resource().resource_arn(&arn).set_tag_keys(Some(keys)));
    Ok(())
}

pub fn delete(provider: &mut AwsProvider, address: &Address, group: &LogGroup) -> Result<(), ProviderError> {
    call!(provider, address, "logs:DeleteLogGroup", provider.logs.delete_log_group().log_group_name(&group.name))?;
    Ok(())
}

/// Adds the ownership tags to the group's own (TagResource adds, it does not replace).
pub fn import(provider: &mut AwsProvider, address: &Address, ownership: &Tags) -> Result<(), ProviderError> {
    let arn = arn(provider, address.name());
    call!(
        provider,
        address,
        "logs:TagResource",
        provider.logs.tag_resource().resource_arn(arn).set_tags(Some(sdk_tags(ownership)))
    )?;
    Ok(())
}
