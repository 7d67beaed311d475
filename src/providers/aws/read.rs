//! Reading live AWS state into the same body shapes the renderer produces, in as few calls as
//! the APIs allow: IAM roles in one paginated account-details call plus one ListRoles, ECR and
//! SNS by listing once and then asking only about candidate resources.

use std::collections::{BTreeMap, BTreeSet};

use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::{diagnose, AwsProvider};
use crate::kinds::{AwsKind, Kind};
use crate::providers::{Conflict, ErrorKind, LiveSet, ProviderError};
use crate::render::resource::{EcrRepository, IamRole, OidcProvider, SnsSubscription, SnsTopic, Tags};
use crate::render::{Address, AwsResource, DesiredSet, Resource};
use crate::state::State;

pub const OWNER_TAG: &str = "managed-by";
pub const OWNER_VALUE: &str = "glidepath";
pub const CATALOG_TAG: &str = "glidepath:catalog";

/// Whether tags mark a resource as this catalog's.
pub fn owned_by(tags: &Tags, catalog: &str) -> bool {
    tags.get(OWNER_TAG).map(String::as_str) == Some(OWNER_VALUE)
        && tags.get(CATALOG_TAG).map(String::as_str) == Some(catalog)
}

/// Whether a resource found under a name this catalog may use is its own. One that is not, under
/// a name the catalog wants, is a conflict for the plan (importing or renaming resolves it).
pub(super) fn claimed(
    live: &mut LiveSet,
    tags: &Tags,
    catalog: &str,
    wanted: bool,
    address: &Address,
    what: &str,
) -> bool {
    if owned_by(tags, catalog) {
        return true;
    }
    if wanted {
        live.conflicts.push(Conflict {
            address: address.clone(),
            reason: format!("{what} with this name exists and is not owned by this catalog"),
        });
    }
    false
}

fn placeholder(eks_name: &str) -> String {
    format!("${{eks:{eks_name}:oidc_issuer}}")
}

/// Replaces `${eks:CLUSTER:oidc_issuer}` in IRSA trust policies with the cluster's issuer,
/// read once per cluster with eks:DescribeCluster.
pub fn resolve_oidc_issuers(provider: &mut AwsProvider, desired: &mut DesiredSet) -> Result<(), ProviderError> {
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for resource in desired.resources.values() {
        if let Resource::Aws(AwsResource::IamRole(role)) = resource {
            collect_placeholders(&role.trust_policy.to_string(), &mut wanted);
        }
    }
    let mut issuers = BTreeMap::new();
    for cluster in wanted {
        let out = provider.runtime.block_on(provider.eks.describe_cluster().name(&cluster).send()).map_err(|e| {
            let mut err = diagnose(e, &format!("EKS cluster {cluster}"), "eks:DescribeCluster", provider.endpoint());
            err.reason
                .push_str(" (needed for the IRSA roles' trust; or pin `oidc_issuer` in the catalog's cluster block)");
            err
        })?;
        let issuer =
            out.cluster().and_then(|c| c.identity()).and_then(|i| i.oidc()).and_then(|o| o.issuer()).ok_or_else(
                || {
                    ProviderError::new(
                        ErrorKind::Failed,
                        &format!("EKS cluster {cluster}"),
                        "eks:DescribeCluster",
                        "the cluster has no OIDC issuer; enable IRSA (an IAM OIDC provider) for it",
                    )
                },
            )?;
        issuers.insert(placeholder(&cluster), issuer.trim_start_matches("https://").to_string());
    }
    if issuers.is_empty() {
        return Ok(());
    }
    for resource in desired.resources.values_mut() {
        if let Resource::Aws(AwsResource::IamRole(role)) = resource {
            let mut text = role.trust_policy.to_string();
            for (from, to) in &issuers {
                text = text.replace(from, to);
            }
            role.trust_policy = serde_json::from_str(&text).expect("substituting a host keeps JSON valid");
        }
    }
    Ok(())
}

fn collect_placeholders(text: &str, out: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(start) = rest.find("${eks:") {
        let after = &rest[start + 6..];
        if let Some(end) = after.find(":oidc_issuer}") {
            out.insert(after[..end].to_string());
            rest = &after[end..];
        } else {
            break;
        }
    }
}

/// Desired AWS resources of one kind, by name.
pub(super) fn desired_of(desired: &DesiredSet, kind: AwsKind) -> BTreeMap<String, &AwsResource> {
    desired
        .resources
        .values()
        .filter_map(|r| match r {
            Resource::Aws(aws) if aws.kind() == kind => Some((aws.name(), aws)),
            _ => None,
        })
        .collect()
}

/// The desired resources of a kind that is read only when needed: None when the catalog neither
/// wants nor has recorded any, so a catalog without them (pipelines, say) costs no calls.
pub(super) fn wanted_if_any<'a>(
    desired: &'a DesiredSet,
    state: &State,
    kind: AwsKind,
) -> Option<BTreeMap<String, &'a AwsResource>> {
    let wanted = desired_of(desired, kind);
    (!wanted.is_empty() || !recorded(state, kind).is_empty()).then_some(wanted)
}

/// Listed names this catalog may own and so must read: wanted, named with its prefix, or
/// recorded in the state file. Everything else belongs to someone else and is not asked about.
pub(super) fn candidates(
    listed: Vec<String>,
    wanted: &BTreeMap<String, &AwsResource>,
    state: &State,
    kind: AwsKind,
    prefix: &str,
) -> Vec<String> {
    let remembered = recorded(state, kind);
    listed
        .into_iter()
        .filter(|name| wanted.contains_key(name) || name.starts_with(prefix) || remembered.contains(name))
        .collect()
}

/// Names of one kind the state file says this catalog owned, or was creating.
pub(super) fn recorded(state: &State, kind: AwsKind) -> BTreeSet<String> {
    state
        .resources
        .keys()
        .chain(&state.creating)
        .filter(|a| a.kind == Kind::Aws(kind))
        .map(|a| a.name().to_string())
        .collect()
}

pub fn read(provider: &mut AwsProvider, desired: &DesiredSet, state: &State) -> Result<LiveSet, ProviderError> {
    let mut live = LiveSet::default();
    read_oidc_provider(provider, desired, &mut live)?;
    read_roles(provider, desired, &mut live)?;
    read_repositories(provider, desired, state, &mut live)?;
    read_topics(provider, desired, state, &mut live)?;
    super::bucket::read(provider, desired, state, &mut live)?;
    super::logs::read(provider, desired, state, &mut live)?;
    super::codebuild::read(provider, desired, state, &mut live)?;
    super::codepipeline::read(provider, desired, state, &mut live)?;
    super::events::read(provider, desired, state, &mut live)?;
    Ok(live)
}

pub(super) fn insert(live: &mut LiveSet, resource: AwsResource) {
    let body = serde_json::to_value(&resource).expect("AWS resources serialize");
    live.bodies.insert(resource.address(), body);
}

pub(super) fn tags_from<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Tags {
    pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// IAM returns policy documents URL-encoded; compare them as parsed JSON.
pub fn policy_document(encoded: &str) -> Value {
    let decoded = percent_decode_str(encoded).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded.to_string()))
}

/// The GitHub OIDC provider is shared by every catalog in the account: glidepath creates it when
/// missing and keeps it owned by `managed-by=glidepath`, but never deletes it.
fn read_oidc_provider(
    provider: &mut AwsProvider,
    desired: &DesiredSet,
    live: &mut LiveSet,
) -> Result<(), ProviderError> {
    let wanted = desired_of(desired, AwsKind::OidcProvider);
    let Some(AwsResource::OidcProvider(want)) = wanted.values().next().copied() else { return Ok(()) };
    let host = want.url.trim_start_matches("https://");
    let list = provider
        .runtime
        .block_on(provider.iam.list_open_id_connect_providers().send())
        .map_err(|e| diagnose(e, "IAM OIDC providers", "iam:ListOpenIDConnectProviders", provider.endpoint()))?;
    let Some(arn) = list
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .find(|arn| arn.ends_with(&format!("oidc-provider/{host}")))
        .map(str::to_string)
    else {
        return Ok(());
    };
    let address = Address::global(AwsKind::OidcProvider, host);
    let got = provider
        .runtime
        .block_on(provider.iam.get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send())
        .map_err(|e| diagnose(e, &address.to_string(), "iam:GetOpenIDConnectProvider", provider.endpoint()))?;
    let tags = tags_from(got.tags().iter().map(|t| (t.key(), t.value())));
    if tags.get(OWNER_TAG).map(String::as_str) != Some(OWNER_VALUE) {
        live.conflicts.push(Conflict {
            address,
            reason: "an OIDC provider for this host exists without the managed-by=glidepath tag".into(),
        });
        return Ok(());
    }
    let mut client_ids: Vec<String> = got.client_id_list().to_vec();
    client_ids.sort();
    let mut thumbprints: Vec<String> = got.thumbprint_list().to_vec();
    thumbprints.sort();
    let url =
        got.url().map(|u| format!("https://{}", u.trim_start_matches("https://"))).unwrap_or_else(|| want.url.clone());
    insert(live, AwsResource::OidcProvider(OidcProvider { url, client_ids, thumbprints, tags }));
    Ok(())
}

fn read_roles(provider: &mut AwsProvider, desired: &DesiredSet, live: &mut LiveSet) -> Result<(), ProviderError> {
    let wanted = desired_of(desired, AwsKind::IamRole);
    let catalog = provider.target.catalog.clone();
    let path = provider.target.iam_path.clone();
    // One paginated call returns every role with its trust, inline and attached policies and tags.
    let pages: Vec<_> = provider
        .runtime
        .block_on(
            provider
                .iam
                .get_account_authorization_details()
                .filter(aws_sdk_iam::types::EntityType::Role)
                .max_items(1000)
                .into_paginator()
                .send()
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| diagnose(e, "IAM roles", "iam:GetAccountAuthorizationDetails", provider.endpoint()))?;
    // Description and session length are only in ListRoles; one call for the catalog's path.
    let listed: Vec<_> = provider
        .runtime
        .block_on(provider.iam.list_roles().path_prefix(&path).into_paginator().items().send().collect::<Vec<_>>())
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| diagnose(e, "IAM roles", "iam:ListRoles", provider.endpoint()))?;
    let described: BTreeMap<&str, (Option<&str>, Option<i32>)> =
        listed.iter().map(|r| (r.role_name(), (r.description(), r.max_session_duration()))).collect();

    for page in &pages {
        for detail in page.role_detail_list() {
            let Some(name) = detail.role_name() else { continue };
            let tags = tags_from(detail.tags().iter().map(|t| (t.key(), t.value())));
            let owned = owned_by(&tags, &catalog);
            if !owned {
                if wanted.contains_key(name) {
                    live.conflicts.push(Conflict {
                        address: Address::global(AwsKind::IamRole, name),
                        reason: "an IAM role with this name exists and is not owned by this catalog (no managed-by=glidepath / glidepath:catalog tags)".into(),
                    });
                }
                continue;
            }
            let (description, max_session) = described.get(name).copied().unwrap_or((None, None));
            let mut inline_policies = BTreeMap::new();
            for policy in detail.role_policy_list() {
                if let (Some(policy_name), Some(document)) = (policy.policy_name(), policy.policy_document()) {
                    inline_policies.insert(policy_name.to_string(), policy_document(document));
                }
            }
            let mut managed_policy_arns: Vec<String> =
                detail.attached_managed_policies().iter().filter_map(|p| p.policy_arn()).map(str::to_string).collect();
            managed_policy_arns.sort();
            insert(
                live,
                AwsResource::IamRole(IamRole {
                    name: name.to_string(),
                    path: detail.path().unwrap_or("/").to_string(),
                    description: description.unwrap_or_default().to_string(),
                    max_session_duration: max_session.unwrap_or(3600) as u32,
                    trust_policy: detail.assume_role_policy_document().map(policy_document).unwrap_or(Value::Null),
                    inline_policies,
                    managed_policy_arns,
                    tags,
                }),
            );
        }
    }
    Ok(())
}

fn read_repositories(
    provider: &mut AwsProvider,
    desired: &DesiredSet,
    state: &State,
    live: &mut LiveSet,
) -> Result<(), ProviderError> {
    let wanted = desired_of(desired, AwsKind::EcrRepository);
    let catalog = provider.target.catalog.clone();
    let remembered = recorded(state, AwsKind::EcrRepository);
    // Listing all repositories is one call per thousand; DescribeRepositories with names fails
    // whole when one is missing, so names cannot be used to batch.
    let repositories: Vec<_> = provider
        .runtime
        .block_on(
            provider.ecr.describe_repositories().max_results(1000).into_paginator().items().send().collect::<Vec<_>>(),
        )
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| diagnose(e, "ECR repositories", "ecr:DescribeRepositories", provider.endpoint()))?;
    let prefix = format!("{catalog}/");
    // Only ask about repositories this catalog may own: wanted, named like its own, or recorded.
    let asked: Vec<_> = repositories
        .iter()
        .filter_map(|repo| Some((repo, repo.repository_name()?, repo.repository_arn()?)))
        .filter(|(_, name, _)| wanted.contains_key(*name) || name.starts_with(&prefix) || remembered.contains(*name))
        .collect();
    let (ecr, endpoint, owner) = (&provider.ecr, provider.endpoint(), catalog.as_str());
    let answers = super::concurrent::in_order(&provider.runtime, asked, |(repo, name, arn)| async move {
        let address = Address::global(AwsKind::EcrRepository, name);
        let tags = ecr
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| diagnose(e, &address.to_string(), "ecr:ListTagsForResource", endpoint))?;
        let tags = tags_from(tags.tags().iter().map(|t| (t.key(), t.value())));
        // Someone else's repository: its policy is none of our business (and costs a call).
        if !owned_by(&tags, owner) {
            return Ok((repo, name, address, tags, Value::Null));
        }
        let lifecycle = match ecr.get_lifecycle_policy().repository_name(name).send().await {
            Ok(out) => out.lifecycle_policy_text().map(policy_document).unwrap_or(Value::Null),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_lifecycle_policy_not_found_exception()) => Value::Null,
            Err(e) => return Err(diagnose(e, &address.to_string(), "ecr:GetLifecyclePolicy", endpoint)),
        };
        Ok((repo, name, address, tags, lifecycle))
    })?;
    for (repo, name, address, tags, lifecycle) in answers {
        if !claimed(live, &tags, &catalog, wanted.contains_key(name), &address, "an ECR repository") {
            continue;
        }
        insert(
            live,
            AwsResource::EcrRepository(EcrRepository {
                name: name.to_string(),
                image_tag_mutability: repo.image_tag_mutability().map(|m| m.as_str().to_string()).unwrap_or_default(),
                scan_on_push: repo.image_scanning_configuration().is_some_and(|c| c.scan_on_push()),
                encryption: repo
                    .encryption_configuration()
                    .map(|c| c.encryption_type().as_str().to_string())
                    .unwrap_or_else(|| "AES256".into()),
                lifecycle_policy: lifecycle,
                tags,
            }),
        );
    }
    Ok(())
}

fn read_topics(
    provider: &mut AwsProvider,
    desired: &DesiredSet,
    state: &State,
    live: &mut LiveSet,
) -> Result<(), ProviderError> {
    let wanted = desired_of(desired, AwsKind::SnsTopic);
    let catalog = provider.target.catalog.clone();
    let remembered = recorded(state, AwsKind::SnsTopic);
    let topics: Vec<_> = provider
        .runtime
        .block_on(provider.sns.list_topics().into_paginator().send().collect::<Vec<_>>())
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| diagnose(e, "SNS topics", "sns:ListTopics", provider.endpoint()))?;
    let prefix = format!("{catalog}-");
    let asked: Vec<(&str, &str)> = topics
        .iter()
        .flat_map(|page| page.topics())
        .filter_map(|t| t.topic_arn())
        .map(|arn| (arn, arn.rsplit(':').next().unwrap_or(arn)))
        .filter(|(_, name)| wanted.contains_key(*name) || name.starts_with(&prefix) || remembered.contains(*name))
        .collect();
    let (sns, endpoint, owner) = (&provider.sns, provider.endpoint(), catalog.as_str());
    let answers = super::concurrent::in_order(&provider.runtime, asked, |(arn, name)| async move {
        let address = Address::global(AwsKind::SnsTopic, name);
        let tags = sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| diagnose(e, &address.to_string(), "sns:ListTagsForResource", endpoint))?;
        let tags = tags_from(tags.tags().iter().map(|t| (t.key(), t.value())));
        if !owned_by(&tags, owner) {
            return Ok((arn, name, address, tags, None));
        }
        let attributes = sns
            .get_topic_attributes()
            .topic_arn(arn)
            .send()
            .await
            .map_err(|e| diagnose(e, &address.to_string(), "sns:GetTopicAttributes", endpoint))?;
        Ok((arn, name, address, tags, Some(attributes)))
    })?;
    let mut owned_arns: BTreeMap<String, String> = BTreeMap::new();
    for (arn, name, address, tags, attributes) in answers {
        if !claimed(live, &tags, &catalog, wanted.contains_key(name), &address, "an SNS topic") {
            continue;
        }
        let attributes = attributes.expect("read for every topic this catalog owns");
        let attribute = |key: &str| attributes.attributes().and_then(|a| a.get(key)).cloned().unwrap_or_default();
        let display_name = attribute("DisplayName");
        let policy = serde_json::from_str(&attribute("Policy")).unwrap_or(Value::Null);
        owned_arns.insert(arn.to_string(), name.to_string());
        insert(live, AwsResource::SnsTopic(SnsTopic { name: name.to_string(), display_name, policy, tags }));
    }
    if owned_arns.is_empty() {
        return Ok(());
    }
    // Subscriptions belong to their topic: one listing covers them all.
    let subscriptions: Vec<_> = provider
        .runtime
        .block_on(provider.sns.list_subscriptions().into_paginator().send().collect::<Vec<_>>())
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| diagnose(e, "SNS subscriptions", "sns:ListSubscriptions", provider.endpoint()))?;
    for subscription in subscriptions.iter().flat_map(|page| page.subscriptions()) {
        let Some(topic) = subscription.topic_arn().and_then(|arn| owned_arns.get(arn)) else { continue };
        let (Some(protocol), Some(endpoint)) = (subscription.protocol(), subscription.endpoint()) else { continue };
        insert(
            live,
            AwsResource::SnsSubscription(SnsSubscription {
                topic: topic.clone(),
                protocol: protocol.to_string(),
                endpoint: endpoint.to_string(),
            }),
        );
    }
    Ok(())
}
