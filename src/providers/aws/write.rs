//! Carrying out one planned change with the AWS APIs that update in place where they exist
//! (UpdateAssumeRolePolicy, PutRolePolicy, PutLifecyclePolicy, PutImageTagMutability,
//! SetTopicAttributes, tag/untag …); a replacement is a delete followed by a create.

use std::collections::BTreeSet;

use aws_sdk_ecr::types::{EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability};

use super::read::{CATALOG_TAG, OWNER_TAG, OWNER_VALUE};
use super::{diagnose, AwsProvider};
use crate::kinds::{AwsKind, Kind};
use crate::plan::{Action, Change};
use crate::providers::{ErrorKind, ProviderError};
use crate::render::resource::{EcrRepository, IamRole, OidcProvider, SnsTopic, Tags};
use crate::render::{Address, AwsResource};

fn typed(body: &Option<serde_json::Value>, address: &Address) -> Result<AwsResource, ProviderError> {
    let body = body.as_ref().ok_or_else(|| invalid(address, "the plan has no body for this change"))?;
    AwsResource::from_body(body).map_err(|reason| invalid(address, &reason))
}

pub(super) fn invalid(address: &Address, reason: &str) -> ProviderError {
    ProviderError::new(ErrorKind::Rejected, &address.to_string(), "apply", reason)
}

pub fn apply(provider: &mut AwsProvider, change: &Change) -> Result<(), ProviderError> {
    let address = &change.address;
    match change.action {
        Action::NoOp => Ok(()),
        Action::Create => create(provider, address, &typed(&change.after, address)?),
        Action::Delete => delete(provider, address, &typed(&change.before, address)?),
        Action::Replace => {
            delete(provider, address, &typed(&change.before, address)?)?;
            create(provider, address, &typed(&change.after, address)?)
        }
        Action::Update => update(provider, address, &typed(&change.before, address)?, &typed(&change.after, address)?),
    }
}

/// Whether `change` creates a resource whose ownership tags may come in a later call than the
/// create: an S3 bucket (CreateBucket carries them, but emulators and older S3-compatible
/// servers drop them, so PutBucketTagging follows). Every other kind is created with its tags in
/// one call (CreateRole, CreateRepository, CreateTopic, CreateLogGroup, CreateProject,
/// CreatePipeline, PutRule, CreateOpenIDConnectProvider): a crash before its follow-up calls
/// (policies, lifecycle, retention, targets) leaves a resource the next plan knows as its own
/// and completes.
pub fn creates_in_steps(change: &Change) -> bool {
    matches!(change.action, Action::Create | Action::Replace) && change.address.kind == Kind::Aws(AwsKind::S3Bucket)
}

fn create(provider: &mut AwsProvider, address: &Address, resource: &AwsResource) -> Result<(), ProviderError> {
    match resource {
        AwsResource::OidcProvider(p) => {
            call!(
                provider,
                address,
                "iam:CreateOpenIDConnectProvider",
                provider
                    .iam
                    .create_open_id_connect_provider()
                    .url(&p.url)
                    .set_client_id_list(Some(p.client_ids.clone()))
                    .set_thumbprint_list(Some(p.thumbprints.clone()))
                    .set_tags(Some(iam_tags(&p.tags)))
            )?;
        }
        AwsResource::IamRole(role) => {
            call!(
                provider,
                address,
                "iam:CreateRole",
                provider
                    .iam
                    .create_role()
                    .role_name(&role.name)
                    .path(&role.path)
                    .description(&role.description)
                    .max_session_duration(role.max_session_duration as i32)
                    .assume_role_policy_document(role.trust_policy.to_string())
                    .set_tags(Some(iam_tags(&role.tags)))
            )?;
            for (name, document) in &role.inline_policies {
                call!(
                    provider,
                    address,
                    "iam:PutRolePolicy",
                    provider
                        .iam
                        .put_role_policy()
                        .role_name(&role.name)
                        .policy_name(name)
                        .policy_document(document.to_string())
                )?;
            }
            for arn in &role.managed_policy_arns {
                call!(
                    provider,
                    address,
                    "iam:AttachRolePolicy",
                    provider.iam.attach_role_policy().role_name(&role.name).policy_arn(arn)
                )?;
            }
        }
        AwsResource::EcrRepository(repo) => {
            call!(
                provider,
                address,
                "ecr:CreateRepository",
                provider
                    .ecr
                    .create_repository()
                    .repository_name(&repo.name)
                    .image_tag_mutability(ImageTagMutability::from(repo.image_tag_mutability.as_str()))
                    .image_scanning_configuration(
                        ImageScanningConfiguration::builder().scan_on_push(repo.scan_on_push).build()
                    )
                    .encryption_configuration(encryption(repo, address)?)
                    .set_tags(Some(ecr_tags(&repo.tags)))
            )?;
            put_lifecycle(provider, address, repo)?;
        }
        AwsResource::SnsTopic(topic) => {
            call!(
                provider,
                address,
                "sns:CreateTopic",
                provider
                    .sns
                    .create_topic()
                    .name(&topic.name)
                    .attributes("DisplayName", &topic.display_name)
                    .attributes("Policy", topic.policy.to_string())
                    .set_tags(Some(sns_tags(&topic.tags)))
            )?;
        }
        AwsResource::S3Bucket(bucket) => super::bucket::create(provider, address, bucket)?,
        AwsResource::LogGroup(group) => super::logs::create(provider, address, group)?,
        AwsResource::CodebuildProject(project) => super::codebuild::create(provider, address, project)?,
        AwsResource::Codepipeline(pipeline) => super::codepipeline::create(provider, address, pipeline)?,
        AwsResource::EventsRule(rule) => super::events::create(provider, address, rule)?,
        AwsResource::SnsSubscription(sub) => {
            let topic_arn = topic_arn(provider, &sub.topic);
            call!(
                provider,
                address,
                "sns:Subscribe",
                provider
                    .sns
                    .subscribe()
                    .topic_arn(topic_arn)
                    .protocol(&sub.protocol)
                    .endpoint(&sub.endpoint)
                    .return_subscription_arn(true)
            )?;
        }
    }
    Ok(())
}

fn update(
    provider: &mut AwsProvider,
    address: &Address,
    before: &AwsResource,
    after: &AwsResource,
) -> Result<(), ProviderError> {
    // Dispatch on the desired resource alone (exhaustive); the live one must be of its kind.
    let mismatch = || invalid(address, "the live and desired resources are of different kinds");
    macro_rules! live_as {
        ($variant:ident) => {
            match before {
                AwsResource::$variant(old) => old,
                _ => return Err(mismatch()),
            }
        };
    }
    match after {
        AwsResource::OidcProvider(new) => update_oidc(provider, address, live_as!(OidcProvider), new),
        AwsResource::IamRole(new) => update_role(provider, address, live_as!(IamRole), new),
        AwsResource::EcrRepository(new) => update_repository(provider, address, live_as!(EcrRepository), new),
        AwsResource::SnsTopic(new) => update_topic(provider, address, live_as!(SnsTopic), new),
        // A subscription is all identity: any change is a replacement, planned as such.
        AwsResource::SnsSubscription(_) => {
            let _ = live_as!(SnsSubscription);
            Ok(())
        }
        AwsResource::S3Bucket(new) => super::bucket::update(provider, address, live_as!(S3Bucket), new),
        AwsResource::LogGroup(new) => super::logs::update(provider, address, live_as!(LogGroup), new),
        AwsResource::CodebuildProject(new) => {
            let _ = live_as!(CodebuildProject);
            super::codebuild::update(provider, address, new)
        }
        AwsResource::Codepipeline(new) => super::codepipeline::update(provider, address, live_as!(Codepipeline), new),
        AwsResource::EventsRule(new) => super::events::update(provider, address, live_as!(EventsRule), new),
    }
}

fn update_oidc(
    provider: &mut AwsProvider,
    address: &Address,
    old: &OidcProvider,
    new: &OidcProvider,
) -> Result<(), ProviderError> {
    let arn = provider.arns().oidc_provider(new.url.trim_start_matches("https://"));
    if old.thumbprints != new.thumbprints {
        call!(
            provider,
            address,
            "iam:UpdateOpenIDConnectProviderThumbprint",
            provider
                .iam
                .update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(&arn)
                .set_thumbprint_list(Some(new.thumbprints.clone()))
        )?;
    }
    for id in new.client_ids.iter().filter(|id| !old.client_ids.contains(id)) {
        call!(
            provider,
            address,
            "iam:AddClientIDToOpenIDConnectProvider",
            provider.iam.add_client_id_to_open_id_connect_provider().open_id_connect_provider_arn(&arn).client_id(id)
        )?;
    }
    for id in old.client_ids.iter().filter(|id| !new.client_ids.contains(id)) {
        call!(
            provider,
            address,
            "iam:RemoveClientIDFromOpenIDConnectProvider",
            provider
                .iam
                .remove_client_id_from_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .client_id(id)
        )?;
    }
    retag!(provider, address, &old.tags, &new.tags,
        "iam:TagOpenIDConnectProvider" => |set| provider.iam.tag_open_id_connect_provider().open_id_connect_provider_arn(&arn).set_tags(Some(iam_tags(&set))),
        "iam:UntagOpenIDConnectProvider" => |keys| provider.iam.untag_open_id_connect_provider().open_id_connect_provider_arn(&arn).set_tag_keys(Some(keys)));
    Ok(())
}

fn update_role(
    provider: &mut AwsProvider,
    address: &Address,
    old: &IamRole,
    new: &IamRole,
) -> Result<(), ProviderError> {
    let name = &new.name;
    if old.trust_policy != new.trust_policy {
        call!(
            provider,
            address,
            "iam:UpdateAssumeRolePolicy",
            provider.iam.update_assume_role_policy().role_name(name).policy_document(new.trust_policy.to_string())
        )?;
    }
    if old.description != new.description || old.max_session_duration != new.max_session_duration {
        call!(
            provider,
            address,
            "iam:UpdateRole",
            provider
                .iam
                .update_role()
                .role_name(name)
                .description(&new.description)
                .max_session_duration(new.max_session_duration as i32)
        )?;
    }
    for (policy, document) in &new.inline_policies {
        if old.inline_policies.get(policy) != Some(document) {
            call!(
                provider,
                address,
                "iam:PutRolePolicy",
                provider
                    .iam
                    .put_role_policy()
                    .role_name(name)
                    .policy_name(policy)
                    .policy_document(document.to_string())
            )?;
        }
    }
    for policy in old.inline_policies.keys().filter(|p| !new.inline_policies.contains_key(*p)) {
        call!(
            provider,
            address,
            "iam:DeleteRolePolicy",
            provider.iam.delete_role_policy().role_name(name).policy_name(policy)
        )?;
    }
    for arn in new.managed_policy_arns.iter().filter(|a| !old.managed_policy_arns.contains(a)) {
        call!(
            provider,
            address,
            "iam:AttachRolePolicy",
            provider.iam.attach_role_policy().role_name(name).policy_arn(arn)
        )?;
    }
    for arn in old.managed_policy_arns.iter().filter(|a| !new.managed_policy_arns.contains(a)) {
        call!(
            provider,
            address,
            "iam:DetachRolePolicy",
            provider.iam.detach_role_policy().role_name(name).policy_arn(arn)
        )?;
    }
    retag!(provider, address, &old.tags, &new.tags,
        "iam:TagRole" => |set| provider.iam.tag_role().role_name(name).set_tags(Some(iam_tags(&set))),
        "iam:UntagRole" => |keys| provider.iam.untag_role().role_name(name).set_tag_keys(Some(keys)));
    Ok(())
}

fn update_repository(
    provider: &mut AwsProvider,
    address: &Address,
    old: &EcrRepository,
    new: &EcrRepository,
) -> Result<(), ProviderError> {
    let name = &new.name;
    if old.image_tag_mutability != new.image_tag_mutability {
        call!(
            provider,
            address,
            "ecr:PutImageTagMutability",
            provider
                .ecr
                .put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(ImageTagMutability::from(new.image_tag_mutability.as_str()))
        )?;
    }
    if old.scan_on_push != new.scan_on_push {
        call!(
            provider,
            address,
            "ecr:PutImageScanningConfiguration",
            provider.ecr.put_image_scanning_configuration().repository_name(name).image_scanning_configuration(
                ImageScanningConfiguration::builder().scan_on_push(new.scan_on_push).build()
            )
        )?;
    }
    if old.lifecycle_policy != new.lifecycle_policy {
        put_lifecycle(provider, address, new)?;
    }
    let arn = repository_arn(provider, name);
    retag!(provider, address, &old.tags, &new.tags,
        "ecr:TagResource" => |set| provider.ecr.tag_resource().resource_arn(&arn).set_tags(Some(ecr_tags(&set))),
        "ecr:UntagResource" => |keys| provider.ecr.untag_resource().resource_arn(&arn).set_tag_keys(Some(keys)));
    Ok(())
}

fn update_topic(
    provider: &mut AwsProvider,
    address: &Address,
    old: &SnsTopic,
    new: &SnsTopic,
) -> Result<(), ProviderError> {
    let arn = topic_arn(provider, &new.name);
    for (attribute, old_value, new_value) in [
        ("DisplayName", old.display_name.clone(), new.display_name.clone()),
        ("Policy", old.policy.to_string(), new.policy.to_string()),
    ] {
        if old_value != new_value {
            call!(
                provider,
                address,
                "sns:SetTopicAttributes",
                provider
                    .sns
                    .set_topic_attributes()
                    .topic_arn(&arn)
                    .attribute_name(attribute)
                    .attribute_value(new_value)
            )?;
        }
    }
    retag!(provider, address, &old.tags, &new.tags,
        "sns:TagResource" => |set| provider.sns.tag_resource().resource_arn(&arn).set_tags(Some(sns_tags(&set))),
        "sns:UntagResource" => |keys| provider.sns.untag_resource().resource_arn(&arn).set_tag_keys(Some(keys)));
    Ok(())
}

fn delete(provider: &mut AwsProvider, address: &Address, resource: &AwsResource) -> Result<(), ProviderError> {
    match resource {
        // Shared by every catalog in the account; reads never offer it for deletion.
        AwsResource::OidcProvider(_) => {
            Err(invalid(address, "the GitHub OIDC provider is shared and is never deleted by glidepath"))
        }
        AwsResource::IamRole(role) => {
            for policy in role.inline_policies.keys() {
                call!(
                    provider,
                    address,
                    "iam:DeleteRolePolicy",
                    provider.iam.delete_role_policy().role_name(&role.name).policy_name(policy)
                )?;
            }
            for arn in &role.managed_policy_arns {
                call!(
                    provider,
                    address,
                    "iam:DetachRolePolicy",
                    provider.iam.detach_role_policy().role_name(&role.name).policy_arn(arn)
                )?;
            }
            call!(provider, address, "iam:DeleteRole", provider.iam.delete_role().role_name(&role.name))?;
            Ok(())
        }
        AwsResource::EcrRepository(repo) => {
            // Without force: a repository that still holds images is not deleted, and the error says so.
            call!(provider, address, "ecr:DeleteRepository", provider.ecr.delete_repository().repository_name(&repo.name)).map_err(|mut e| {
                if e.kind == ErrorKind::Conflict {
                    e.reason = "the repository still holds images; glidepath never deletes images: remove them first (or keep the service)".into();
                }
                e
            })?;
            Ok(())
        }
        AwsResource::SnsTopic(topic) => {
            let arn = topic_arn(provider, &topic.name);
            call!(provider, address, "sns:DeleteTopic", provider.sns.delete_topic().topic_arn(arn))?;
            Ok(())
        }
        AwsResource::S3Bucket(bucket) => super::bucket::delete(provider, address, bucket),
        AwsResource::LogGroup(group) => super::logs::delete(provider, address, group),
        AwsResource::CodebuildProject(project) => super::codebuild::delete(provider, address, project),
        AwsResource::Codepipeline(pipeline) => super::codepipeline::delete(provider, address, pipeline),
        AwsResource::EventsRule(rule) => super::events::delete(provider, address, rule),
        AwsResource::SnsSubscription(sub) => {
            let arn = topic_arn(provider, &sub.topic);
            let listed = call!(
                provider,
                address,
                "sns:ListSubscriptionsByTopic",
                provider.sns.list_subscriptions_by_topic().topic_arn(arn)
            )?;
            let found = listed
                .subscriptions()
                .iter()
                .find(|s| s.protocol() == Some(sub.protocol.as_str()) && s.endpoint() == Some(sub.endpoint.as_str()))
                .and_then(|s| s.subscription_arn())
                .map(str::to_string);
            match found {
                // An unconfirmed subscription has no ARN yet; SNS drops it after three days.
                Some(arn) if arn.starts_with("arn:") => {
                    call!(provider, address, "sns:Unsubscribe", provider.sns.unsubscribe().subscription_arn(arn))?;
                    Ok(())
                }
                _ => Ok(()),
            }
        }
    }
}

/// Marks an existing resource as owned by this catalog (adds the ownership tags), nothing else.
pub fn import(provider: &mut AwsProvider, address: &Address) -> Result<(), ProviderError> {
    let Kind::Aws(kind) = address.kind else {
        return Err(invalid(address, "not an AWS resource"));
    };
    let mut tags = Tags::new();
    tags.insert(OWNER_TAG.into(), OWNER_VALUE.into());
    // The OIDC provider is shared by every catalog of the account.
    if kind != AwsKind::OidcProvider {
        tags.insert(CATALOG_TAG.into(), provider.target.catalog.clone());
    }
    let name = address.name().to_string();
    match kind {
        AwsKind::OidcProvider => {
            let arn = provider.arns().oidc_provider(&name);
            call!(
                provider,
                address,
                "iam:TagOpenIDConnectProvider",
                provider
                    .iam
                    .tag_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .set_tags(Some(iam_tags(&tags)))
            )?;
        }
        AwsKind::IamRole => {
            call!(
                provider,
                address,
                "iam:TagRole",
                provider.iam.tag_role().role_name(&name).set_tags(Some(iam_tags(&tags)))
            )?;
        }
        AwsKind::EcrRepository => {
            let arn = repository_arn(provider, &name);
            call!(
                provider,
                address,
                "ecr:TagResource",
                provider.ecr.tag_resource().resource_arn(arn).set_tags(Some(ecr_tags(&tags)))
            )?;
        }
        AwsKind::SnsTopic => {
            let arn = topic_arn(provider, &name);
            call!(
                provider,
                address,
                "sns:TagResource",
                provider.sns.tag_resource().resource_arn(arn).set_tags(Some(sns_tags(&tags)))
            )?;
        }
        AwsKind::S3Bucket => super::bucket::import(provider, address, &tags)?,
        AwsKind::LogGroup => super::logs::import(provider, address, &tags)?,
        AwsKind::CodebuildProject => super::codebuild::import(provider, address, &tags)?,
        AwsKind::Codepipeline => super::codepipeline::import(provider, address, &tags)?,
        AwsKind::EventsRule => super::events::import(provider, address, &tags)?,
        AwsKind::SnsSubscription => {
            return Err(invalid(
                address,
                "a subscription cannot be imported (it belongs to its topic; import the topic)",
            ))
        }
    }
    Ok(())
}

fn put_lifecycle(provider: &mut AwsProvider, address: &Address, repo: &EcrRepository) -> Result<(), ProviderError> {
    if repo.lifecycle_policy.is_null() {
        call!(
            provider,
            address,
            "ecr:DeleteLifecyclePolicy",
            provider.ecr.delete_lifecycle_policy().repository_name(&repo.name)
        )?;
    } else {
        call!(
            provider,
            address,
            "ecr:PutLifecyclePolicy",
            provider
                .ecr
                .put_lifecycle_policy()
                .repository_name(&repo.name)
                .lifecycle_policy_text(repo.lifecycle_policy.to_string())
        )?;
    }
    Ok(())
}

fn encryption(repo: &EcrRepository, address: &Address) -> Result<EncryptionConfiguration, ProviderError> {
    EncryptionConfiguration::builder()
        .encryption_type(EncryptionType::from(repo.encryption.as_str()))
        .build()
        .map_err(|e| invalid(address, &e.to_string()))
}

fn repository_arn(provider: &AwsProvider, name: &str) -> String {
    provider.arns().ecr_repository(name)
}

fn topic_arn(provider: &AwsProvider, name: &str) -> String {
    provider.arns().sns_topic(name)
}

/// Tags to set (new or changed) and keys to remove.
pub(super) fn tag_changes(old: &Tags, new: &Tags) -> (Tags, Vec<String>) {
    let set: Tags = new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let new_keys: BTreeSet<&String> = new.keys().collect();
    let unset = old.keys().filter(|k| !new_keys.contains(k)).cloned().collect();
    (set, unset)
}

fn iam_tags(tags: &Tags) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter().filter_map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().ok()).collect()
}

fn ecr_tags(tags: &Tags) -> Vec<aws_sdk_ecr::types::Tag> {
    tags.iter().filter_map(|(k, v)| aws_sdk_ecr::types::Tag::builder().key(k).value(v).build().ok()).collect()
}

fn sns_tags(tags: &Tags) -> Vec<aws_sdk_sns::types::Tag> {
    tags.iter().filter_map(|(k, v)| aws_sdk_sns::types::Tag::builder().key(k).value(v).build().ok()).collect()
}
