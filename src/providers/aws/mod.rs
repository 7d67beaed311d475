//! The AWS provider: the official SDK clients (IAM, ECR, SNS, EKS, STS, S3, CodeBuild,
//! CodePipeline, EventBridge, CloudWatch Logs), configured from the
//! standard credential chain, with an optional endpoint override (an emulator in tests).

#[macro_use]
mod macros;
mod bucket;
mod calls;
mod codebuild;
mod codepipeline;
mod concurrent;
pub mod credentials;
mod errors;
mod events;
mod logs;
mod read;
mod write;

use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};

use super::{timeout, CallStats, ErrorKind, LiveSet, Provider, ProviderError};
use crate::catalog::Model;
use crate::kinds::ProviderId;
use crate::plan::Change;
use crate::plan::Permissions;
use crate::render::{Address, DesiredSet};
use crate::state::State;
use calls::CallCounter;

pub use errors::diagnose;
pub use read::policy_document;

/// Where AWS calls go and which account they must reach.
#[derive(Debug, Clone)]
pub struct Target {
    pub account_id: String,
    pub region: String,
    /// An endpoint override (an emulator), else AWS itself.
    pub endpoint: Option<String>,
    pub catalog: String,
    /// IAM path of the catalog's roles.
    pub iam_path: String,
    /// Who the credentials are (the caller's ARN), for the audit trail.
    pub caller: String,
}

pub struct AwsProvider {
    runtime: tokio::runtime::Runtime,
    target: Target,
    iam: aws_sdk_iam::Client,
    ecr: aws_sdk_ecr::Client,
    sns: aws_sdk_sns::Client,
    eks: aws_sdk_eks::Client,
    s3: aws_sdk_s3::Client,
    codebuild: aws_sdk_codebuild::Client,
    codepipeline: aws_sdk_codepipeline::Client,
    events: aws_sdk_eventbridge::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    counter: Arc<CallCounter>,
}

/// Whether AWS is configured for live reads: an endpoint override, or credentials wherever the
/// SDK's default chain finds them (see `credentials`). Without either, plans stay offline.
pub fn is_configured(model: &Model) -> bool {
    model.environments.iter().any(|e| e.aws_endpoint.is_some()) || credentials::source().is_some()
}

/// The endpoint override: `AWS_ENDPOINT_URL`, else the one the catalog's environments agree on.
pub fn endpoint(model: &Model) -> Result<Option<String>, String> {
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty()) {
        return Ok(Some(url));
    }
    let mut endpoints: Vec<&String> = model.environments.iter().filter_map(|e| e.aws_endpoint.as_ref()).collect();
    endpoints.sort();
    endpoints.dedup();
    match endpoints.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.to_string())),
        _ => Err("environments name different aws_endpoint values, but AWS resources serve every environment from one account; use one endpoint (or AWS_ENDPOINT_URL)".into()),
    }
}

impl AwsProvider {
    /// Builds the clients and checks that the credentials belong to the catalog's account.
    pub fn connect(model: &Model) -> Result<Self, ProviderError> {
        let endpoint =
            endpoint(model).map_err(|reason| ProviderError::new(ErrorKind::Failed, "aws", "configure", reason))?;
        let target = Target {
            account_id: model.platform.aws_account_id.clone(),
            region: model.platform.region.clone(),
            endpoint: endpoint.clone(),
            catalog: model.platform.name.clone(),
            iam_path: crate::catalog::names::iam_path(&model.platform),
            caller: String::new(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ProviderError::new(ErrorKind::Failed, "aws", "start", e.to_string()))?;
        let limit =
            timeout::request().map_err(|reason| ProviderError::new(ErrorKind::Failed, "aws", "configure", reason))?;
        let counter = Arc::new(CallCounter::default());
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(target.region.clone()))
            // Throttling and transient faults are retried with exponential backoff; adaptive mode
            // also slows the client's request rate after a throttle, since plans send up to
            // `concurrent::IN_FLIGHT` reads at once (it changes nothing until AWS throttles).
            // The timeouts bound every call, retries included (`providers::timeout`).
            .retry_config(RetryConfig::adaptive().with_max_attempts(5))
            .timeout_config(timeout::aws(limit));
        if let Some(url) = &endpoint {
            loader = loader.endpoint_url(url);
        }
        let shared = runtime.block_on(loader.load());
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&shared).interceptor(counter.interceptor()).build(),
        );
        let ecr = aws_sdk_ecr::Client::from_conf(
            aws_sdk_ecr::config::Builder::from(&shared).interceptor(counter.interceptor()).build(),
        );
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&shared).interceptor(counter.interceptor()).build(),
        );
        let eks = aws_sdk_eks::Client::from_conf(
            aws_sdk_eks::config::Builder::from(&shared).interceptor(counter.interceptor()).build(),
        );
        // Emulators and custom endpoints serve buckets by path, not by host name.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(endpoint.is_some())
                .interceptor(counter.interceptor())
                .build(),
        );
        let codebuild = aws_sdk_codebuild::Client::from_conf(
            aws_sdk_codebuild::config::Builder::from(&shared).interceptor(counter.interceptor()).build(),
        );
        let codepipeline = aws_sdk_codepipeline::Client::from_conf(
            aws_sdk_codepipeline::config::Builder::from(&shared).interceptor(counter.interceptor()).build(),
        );
        let events = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&shared).interceptor(counter.interceptor()).build(),
        );
        let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&shared).interceptor(counter.interceptor()).build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&shared).interceptor(counter.interceptor()).build(),
        );

        // Refuse to plan against the wrong account: the most expensive mistake there is.
        let identity = runtime
            .block_on(sts.get_caller_identity().send())
            .map_err(|e| diagnose(e, "aws credentials", "sts:GetCallerIdentity", endpoint.as_deref()))?;
        let account = identity.account().unwrap_or_default().to_string();
        let mut target = target;
        target.caller = identity.arn().unwrap_or_default().to_string();
        if account != target.account_id {
            return Err(ProviderError::new(
                ErrorKind::Denied,
                "aws credentials",
                "sts:GetCallerIdentity",
                format!(
                    "the credentials are for account {account}, but the catalog manages account {}; switch AWS_PROFILE or fix platform.aws_account_id",
                    target.account_id
                ),
            ));
        }
        Ok(AwsProvider { runtime, target, iam, ecr, sns, eks, s3, codebuild, codepipeline, events, logs, counter })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    fn arns(&self) -> crate::arn::Arns<'_> {
        crate::arn::Arns::new(&self.target.region, &self.target.account_id)
    }

    fn endpoint(&self) -> Option<&str> {
        self.target.endpoint.as_deref()
    }
}

impl Provider for AwsProvider {
    fn id(&self) -> ProviderId {
        ProviderId::AWS
    }

    fn manages(&self, address: &Address) -> bool {
        address.provider() == ProviderId::AWS
    }

    fn read(&mut self, desired: &mut DesiredSet, state: &State) -> Result<LiveSet, ProviderError> {
        read::resolve_oidc_issuers(self, desired)?;
        read::read(self, desired, state)
    }

    /// AWS has no field managers: the permissions matter only to the executor (deletes).
    fn apply(
        &mut self,
        change: &Change,
        _permissions: Permissions,
    ) -> Result<Option<serde_json::Value>, ProviderError> {
        write::apply(self, change).map(|()| None)
    }

    fn creates_in_steps(&self, change: &Change) -> bool {
        write::creates_in_steps(change)
    }

    fn import(&mut self, address: &Address) -> Result<(), ProviderError> {
        write::import(self, address)
    }

    fn stats(&self) -> CallStats {
        self.counter.stats()
    }
}
