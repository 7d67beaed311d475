//! The CodePipeline artifact bucket: read with one ListBuckets and a GetBucketTagging per
//! candidate; created in the catalog's region with its tags, tagged again with PutBucketTagging
//! (S3 replaces the whole tag set), deleted only when empty.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Tag, Tagging};

use super::read::{candidates, claimed, insert, tags_from, wanted_if_any};
use super::write::invalid;
use super::{diagnose, AwsProvider};
use crate::kinds::AwsKind;
use crate::providers::{ErrorKind, LiveSet, ProviderError};
use crate::render::resource::{S3Bucket, Tags};
use crate::render::{Address, AwsResource, DesiredSet};
use crate::state::State;

const KIND: AwsKind = AwsKind::S3Bucket;

pub fn read(
    provider: &mut AwsProvider,
    desired: &DesiredSet,
    state: &State,
    live: &mut LiveSet,
) -> Result<(), ProviderError> {
    let Some(wanted) = wanted_if_any(desired, state, KIND) else { return Ok(()) };
    let catalog = provider.target.catalog.clone();
    let listed = provider
        .runtime
        .block_on(provider.s3.list_buckets().send())
        .map_err(|e| diagnose(e, "S3 buckets", "s3:ListBuckets", provider.endpoint()))?;
    let names: Vec<String> = listed.buckets().iter().filter_map(|b| b.name().map(str::to_string)).collect();
    for name in candidates(names, &wanted, state, KIND, &format!("{catalog}-artifacts-")) {
        let address = Address::global(KIND, name.as_str());
        let tags = bucket_tags(provider, &address, &name)?;
        // One an apply of this catalog announced and did not finish creating is its own, tags or
        // not: the plan completes it (`apply::execute`, `State::creating`).
        let half_created = state.creating.contains(&address);
        if !half_created && !claimed(live, &tags, &catalog, wanted.contains_key(&name), &address, "an S3 bucket") {
            continue;
        }
        insert(live, AwsResource::S3Bucket(S3Bucket { name, tags }));
    }
    Ok(())
}

/// The bucket's tags; a bucket without any answers NoSuchTagSet.
fn bucket_tags(provider: &mut AwsProvider, address: &Address, name: &str) -> Result<Tags, ProviderError> {
    match provider.runtime.block_on(provider.s3.get_bucket_tagging().bucket(name).send()) {
        Ok(out) => Ok(tags_from(out.tag_set().iter().map(|t| (t.key(), t.value())))),
        Err(e)
            if e.as_service_error().and_then(|s| aws_smithy_types::error::metadata::ProvideErrorMetadata::code(s))
                == Some("NoSuchTagSet") =>
        {
            Ok(Tags::new())
        }
        Err(e) => Err(diagnose(e, &address.to_string(), "s3:GetBucketTagging", provider.endpoint())),
    }
}

fn sdk_tags(address: &Address, tags: &Tags) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(address, &e.to_string()))
}

fn put_tags(provider: &mut AwsProvider, address: &Address, name: &str, tags: &Tags) -> Result<(), ProviderError> {
    let set = sdk_tags(address, tags)?;
    let tagging = Tagging::builder().set_tag_set(Some(set)).build().map_err(|e| invalid(address, &e.to_string()))?;
    call!(provider, address, "s3:PutBucketTagging", provider.s3.put_bucket_tagging().bucket(name).tagging(tagging))?;
    Ok(())
}

/// CreateBucket with the tags (AWS applies them with the bucket; it needs `s3:TagResource`), then
/// PutBucketTagging, because emulators (moto 5.2.5) and older S3-compatible servers ignore tags
/// given at creation. A crash between the two is covered by the intent the executor recorded
/// before CreateBucket (`creates_in_steps`).
pub fn create(provider: &mut AwsProvider, address: &Address, bucket: &S3Bucket) -> Result<(), ProviderError> {
    // us-east-1 is the one region that takes no location constraint.
    let constraint = (provider.target.region != "us-east-1")
        .then(|| BucketLocationConstraint::from(provider.target.region.as_str()));
    let configuration = CreateBucketConfiguration::builder()
        .set_location_constraint(constraint)
        .set_tags(Some(sdk_tags(address, &bucket.tags)?))
        .build();
    call!(
        provider,
        address,
        "s3:CreateBucket",
        provider.s3.create_bucket().bucket(&bucket.name).create_bucket_configuration(configuration)
    )?;
    put_tags(provider, address, &bucket.name, &bucket.tags).map_err(|mut e| {
        // The bucket is made and ours: this is no name clash (which would withdraw the intent).
        if e.kind == ErrorKind::Conflict {
            e.kind = ErrorKind::Failed;
        }
        e.reason.push_str(" (the bucket was created; the next apply tags it)");
        e
    })
}

pub fn update(
    provider: &mut AwsProvider,
    address: &Address,
    old: &S3Bucket,
    new: &S3Bucket,
) -> Result<(), ProviderError> {
    if old.tags != new.tags {
        put_tags(provider, address, &new.name, &new.tags)?;
    }
    Ok(())
}

/// Without emptying it first: pipeline artifacts are the record of past runs.
pub fn delete(provider: &mut AwsProvider, address: &Address, bucket: &S3Bucket) -> Result<(), ProviderError> {
    call!(provider, address, "s3:DeleteBucket", provider.s3.delete_bucket().bucket(&bucket.name)).map_err(
        |mut e| {
            if e.kind == ErrorKind::Conflict {
                e.reason =
                    "the bucket still holds pipeline artifacts; glidepath never deletes them: empty it first".into();
            }
            e
        },
    )?;
    Ok(())
}

pub fn import(provider: &mut AwsProvider, address: &Address, ownership: &Tags) -> Result<(), ProviderError> {
    let name = address.name().to_string();
    let mut tags = bucket_tags(provider, address, &name)?;
    tags.extend(ownership.clone());
    put_tags(provider, address, &name, &tags)
}
