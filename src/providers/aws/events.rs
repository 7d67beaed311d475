//! EventBridge rules (default bus) with their targets: read with one ListRules for the catalog's
//! name prefix, then ListTagsForResource and ListTargetsByRule per rule; PutRule creates and
//! updates, PutTargets/RemoveTargets keep the targets (with the role a target is invoked as),
//! DeleteRule removes an emptied rule.

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use serde_json::Value;

use super::read::{claimed, insert, owned_by, tags_from, wanted_if_any};
use super::write::{invalid, tag_changes};
use super::{diagnose, AwsProvider};
use crate::kinds::AwsKind;
use crate::providers::{LiveSet, ProviderError};
use crate::render::resource::{EventsRule, EventsTarget, Tags};
use crate::render::{Address, AwsResource, DesiredSet};
use crate::state::State;

const KIND: AwsKind = AwsKind::EventsRule;

fn arn(provider: &AwsProvider, name: &str) -> String {
    provider.arns().events_rule(name)
}

pub fn read(
    provider: &mut AwsProvider,
    desired: &DesiredSet,
    state: &State,
    live: &mut LiveSet,
) -> Result<(), ProviderError> {
    let Some(wanted) = wanted_if_any(desired, state, KIND) else { return Ok(()) };
    let catalog = provider.target.catalog.clone();
    // Every rule glidepath names starts with the catalog's prefix, so one listing finds them.
    let prefix = format!("{catalog}-");
    let mut rules = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = call!(
            provider,
            Address::global(KIND, format!("{prefix}*")),
            "events:ListRules",
            provider.events.list_rules().name_prefix(&prefix).set_next_token(next.clone())
        )?;
        rules.extend(page.rules().iter().cloned());
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    let (client, endpoint, owner) = (&provider.events, provider.endpoint(), catalog.as_str());
    let arns = provider.arns();
    let asked: Vec<_> = rules.into_iter().filter_map(|rule| Some((rule.name()?.to_string(), rule))).collect();
    let answers = super::concurrent::in_order(&provider.runtime, asked, |(name, rule)| {
        let arn = arns.events_rule(&name);
        async move {
            let address = Address::global(KIND, name.as_str());
            let listed_tags = client
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| diagnose(e, &address.to_string(), "events:ListTagsForResource", endpoint))?;
            let tags = tags_from(listed_tags.tags().iter().map(|t| (t.key(), t.value())));
            if !owned_by(&tags, owner) {
                return Ok((name, rule, tags, None));
            }
            let targets = client
                .list_targets_by_rule()
                .rule(&name)
                .send()
                .await
                .map_err(|e| diagnose(e, &address.to_string(), "events:ListTargetsByRule", endpoint))?;
            Ok((name, rule, tags, Some(targets)))
        }
    })?;
    for (name, rule, tags, targets) in answers {
        let address = Address::global(KIND, name.as_str());
        if !claimed(live, &tags, &catalog, wanted.contains_key(&name), &address, "an EventBridge rule") {
            continue;
        }
        let targets: BTreeMap<String, EventsTarget> = targets
            .expect("read for every rule this catalog owns")
            .targets()
            .iter()
            .map(|t| {
                let target = EventsTarget { arn: t.arn().to_string(), role_arn: t.role_arn().map(str::to_string) };
                (t.id().to_string(), target)
            })
            .collect();
        insert(
            live,
            AwsResource::EventsRule(EventsRule {
                name,
                description: rule.description().unwrap_or_default().to_string(),
                event_pattern: rule.event_pattern().and_then(|p| serde_json::from_str(p).ok()).unwrap_or(Value::Null),
                state: rule.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                targets,
                tags,
            }),
        );
    }
    Ok(())
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

fn put_rule(provider: &mut AwsProvider, address: &Address, rule: &EventsRule, tags: bool) -> Result<(), ProviderError> {
    call!(
        provider,
        address,
        "events:PutRule",
        provider
            .events
            .put_rule()
            .name(&rule.name)
            .description(&rule.description)
            .event_pattern(rule.event_pattern.to_string())
            .state(RuleState::from(rule.state.as_str()))
            // PutRule applies tags only when it creates the rule; updates use TagResource.
            .set_tags(tags.then(|| sdk_tags(&rule.tags)))
    )?;
    Ok(())
}

/// Sets the targets that are new, point elsewhere now or are invoked as another role. A target
/// put without a role loses the one it had, as PutTargets replaces the whole target.
fn put_targets(
    provider: &mut AwsProvider,
    address: &Address,
    rule: &EventsRule,
    old: &BTreeMap<String, EventsTarget>,
) -> Result<(), ProviderError> {
    let changed = rule
        .targets
        .iter()
        .filter(|(id, target)| old.get(*id) != Some(*target))
        .map(|(id, target)| Target::builder().id(id).arn(&target.arn).set_role_arn(target.role_arn.clone()).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(address, &e.to_string()))?;
    if !changed.is_empty() {
        call!(
            provider,
            address,
            "events:PutTargets",
            provider.events.put_targets().rule(&rule.name).set_targets(Some(changed))
        )?;
    }
    Ok(())
}

fn remove_targets(
    provider: &mut AwsProvider,
    address: &Address,
    rule: &str,
    ids: Vec<String>,
) -> Result<(), ProviderError> {
    if !ids.is_empty() {
        call!(
            provider,
            address,
            "events:RemoveTargets",
            provider.events.remove_targets().rule(rule).set_ids(Some(ids))
        )?;
    }
    Ok(())
}

pub fn create(provider: &mut AwsProvider, address: &Address, rule: &EventsRule) -> Result<(), ProviderError> {
    put_rule(provider, address, rule, true)?;
    put_targets(provider, address, rule, &BTreeMap::new())
}

pub fn update(
    provider: &mut AwsProvider,
    address: &Address,
    old: &EventsRule,
    new: &EventsRule,
) -> Result<(), ProviderError> {
    if (&old.description, &old.event_pattern, &old.state) != (&new.description, &new.event_pattern, &new.state) {
        put_rule(provider, address, new, false)?;
    }
    put_targets(provider, address, new, &old.targets)?;
    let dropped = old.targets.keys().filter(|id| !new.targets.contains_key(*id)).cloned().collect();
    remove_targets(provider, address, &new.name, dropped)?;
    let arn = arn(provider, &new.name);
    retag!(provider, address, &old.tags, &new.tags,
        "events:TagResource" => |set| provider.events.tag_resource().resource_arn(&arn).set_tags(Some(sdk_tags(&set))),
        "events:UntagResource" => |keys| provider.events.untag_resource().resource_arn(&arn).set_tag_keys(Some(keys)));
    Ok(())
}

/// A rule with targets cannot be deleted: remove them first.
pub fn delete(provider: &mut AwsProvider, address: &Address, rule: &EventsRule) -> Result<(), ProviderError> {
    remove_targets(provider, address, &rule.name, rule.targets.keys().cloned().collect())?;
    call!(provider, address, "events:DeleteRule", provider.events.delete_rule().name(&rule.name))?;
    Ok(())
}

pub fn import(provider: &mut AwsProvider, address: &Address, ownership: &Tags) -> Result<(), ProviderError> {
    let arn = arn(provider, address.name());
    call!(
        provider,
        address,
        "events:TagResource",
        provider.events.tag_resource().resource_arn(arn).set_tags(Some(sdk_tags(ownership)))
    )?;
    Ok(())
}
