//! Every AWS ARN glidepath writes into a policy, compares in a check or calls an API with, built
//! in one place so a partition, region or account mistake is fixed once.

use crate::catalog::Model;

/// ARNs in one account and (default) region.
#[derive(Debug, Clone, Copy)]
pub struct Arns<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

impl<'a> Arns<'a> {
    pub fn new(region: &'a str, account: &'a str) -> Self {
        Arns { region, account }
    }

    /// The catalog's account and region.
    pub fn of(model: &'a Model) -> Self {
        Arns::new(&model.platform.region, &model.platform.aws_account_id)
    }

    /// `arn:aws:iam::ACCOUNT`, the prefix of the account's IAM ARNs.
    pub fn iam(&self) -> String {
        format!("arn:aws:iam::{}", self.account)
    }

    /// The account itself as a principal.
    pub fn root(&self) -> String {
        format!("{}:root", self.iam())
    }

    /// A role under `path` (which starts and ends with `/`).
    pub fn role(&self, path: &str, name: &str) -> String {
        format!("{}:role{path}{name}", self.iam())
    }

    /// An IAM OpenID Connect provider, by its host (`token.actions.githubusercontent.com`).
    pub fn oidc_provider(&self, host: &str) -> String {
        format!("{}:oidc-provider/{host}", self.iam())
    }

    pub fn sns_topic(&self, name: &str) -> String {
        format!("arn:aws:sns:{}:{}:{name}", self.region, self.account)
    }

    pub fn ecr_repository(&self, name: &str) -> String {
        format!("arn:aws:ecr:{}:{}:repository/{name}", self.region, self.account)
    }

    /// An EKS cluster, which may live in another region than the catalog's.
    pub fn eks_cluster(&self, region: &str, name: &str) -> String {
        format!("arn:aws:eks:{region}:{}:cluster/{name}", self.account)
    }

    pub fn codebuild_project(&self, name: &str) -> String {
        format!("arn:aws:codebuild:{}:{}:project/{name}", self.region, self.account)
    }

    pub fn codepipeline(&self, name: &str) -> String {
        format!("arn:aws:codepipeline:{}:{}:{name}", self.region, self.account)
    }

    pub fn codecommit_repository(&self, name: &str) -> String {
        format!("arn:aws:codecommit:{}:{}:{name}", self.region, self.account)
    }

    /// Every version of the Secrets Manager secret `name`: its ARN ends in `-` and six random
    /// characters Secrets Manager appends, matched by exactly six `?` (never `*`, which would also
    /// match `NAME-other-secret`).
    pub fn secretsmanager_secret(&self, name: &str) -> String {
        format!("arn:aws:secretsmanager:{}:{}:secret:{name}-??????", self.region, self.account)
    }

    /// A CloudWatch Logs log group.
    pub fn log_group(&self, name: &str) -> String {
        format!("arn:aws:logs:{}:{}:log-group:{name}", self.region, self.account)
    }

    /// The prefix of every session of an assumed role (`sts` ARNs name the role without its path).
    pub fn assumed_role_sessions(&self, role: &str) -> String {
        format!("arn:aws:sts::{}:assumed-role/{role}/", self.account)
    }

    /// An EventBridge rule on the default bus.
    pub fn events_rule(&self, name: &str) -> String {
        format!("arn:aws:events:{}:{}:rule/{name}", self.region, self.account)
    }
}

/// An S3 bucket (bucket ARNs name no region or account).
pub fn s3_bucket(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// Every object of an S3 bucket.
pub fn s3_objects(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}/*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_follow_each_services_format() {
        let arns = Arns::new("eu-west-1", "123456789012");
        assert_eq!(arns.root(), "arn:aws:iam::123456789012:root");
        assert_eq!(
            arns.role("/glidepath/shop/", "shop-cart-ci"),
            "arn:aws:iam::123456789012:role/glidepath/shop/shop-cart-ci"
        );
        assert_eq!(
            arns.oidc_provider("token.actions.githubusercontent.com"),
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        );
        assert_eq!(arns.sns_topic("shop-alerts"), "arn:aws:sns:eu-west-1:123456789012:shop-alerts");
        assert_eq!(arns.ecr_repository("shop/cart"), "arn:aws:ecr:eu-west-1:123456789012:repository/shop/cart");
        assert_eq!(arns.eks_cluster("us-east-1", "prod"), "arn:aws:eks:us-east-1:123456789012:cluster/prod");
        assert_eq!(arns.codebuild_project("p"), "arn:aws:codebuild:eu-west-1:123456789012:project/p");
        assert_eq!(arns.codepipeline("p"), "arn:aws:codepipeline:eu-west-1:123456789012:p");
        assert_eq!(arns.codecommit_repository("r"), "arn:aws:codecommit:eu-west-1:123456789012:r");
        assert_eq!(arns.events_rule("r"), "arn:aws:events:eu-west-1:123456789012:rule/r");
        assert_eq!(
            arns.log_group("/aws/codebuild/p"),
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codebuild/p"
        );
        assert_eq!(arns.assumed_role_sessions("r"), "arn:aws:sts::123456789012:assumed-role/r/");
        assert_eq!(s3_bucket("b"), "arn:aws:s3:::b");
        assert_eq!(s3_objects("b"), "arn:aws:s3:::b/*");
    }
}
