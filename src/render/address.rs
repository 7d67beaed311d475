//! `Address`: the stable name of one resource, the join key between desired, live, plan and state.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::kinds::{Kind, ProviderId};

/// Owner segment of cluster objects that belong to an environment rather than one service.
pub const SHARED_OWNER: &str = "_shared";

/// Where in the catalog an environment-scoped resource belongs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    pub env: String,
    /// The service, or [`SHARED_OWNER`].
    pub owner: String,
}

/// `aws/iam_role/shop-payment-service-ci` (a resource that serves every environment) or
/// `prod/payment-service/k8s/Rollout/payment-service` (one that lives in an environment).
/// The kind names its provider (see [`Kind::spec`]), so the address needs no provider of its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// None for resources that serve every environment.
    pub scope: Option<Scope>,
    pub kind: Kind,
    pub name: String,
}

impl Address {
    /// A resource that serves every environment.
    pub fn global(kind: impl Into<Kind>, name: impl Into<String>) -> Self {
        Address { scope: None, kind: kind.into(), name: name.into() }
    }

    /// A resource of one environment, owned by a service (or shared).
    pub fn scoped(env: &str, owner: &str, kind: impl Into<Kind>, name: impl Into<String>) -> Self {
        Address {
            scope: Some(Scope { env: env.to_string(), owner: owner.to_string() }),
            kind: kind.into(),
            name: name.into(),
        }
    }

    /// The environment the resource lives in; None when it serves every environment.
    pub fn env(&self) -> Option<&str> {
        self.scope.as_ref().map(|s| s.env.as_str())
    }

    /// The service (or [`SHARED_OWNER`]) an environment's resource belongs to.
    pub fn owner(&self) -> Option<&str> {
        self.scope.as_ref().map(|s| s.owner.as_str())
    }

    /// The kind's name, as it appears in the address (`iam_role`, `Rollout`).
    pub fn kind(&self) -> &'static str {
        self.kind.name()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn provider(&self) -> ProviderId {
        self.kind.provider()
    }

    /// The order of addresses everywhere (plans, state files): every environment-wide resource
    /// first, then by environment, owner, kind and name.
    fn sort_key(&self) -> (bool, &str, &str, &str, &str, &str) {
        let (env, owner) = self.scope.as_ref().map(|s| (s.env.as_str(), s.owner.as_str())).unwrap_or(("", ""));
        (self.scope.is_some(), env, owner, self.provider().as_str(), self.kind.name(), &self.name)
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            None => write!(f, "{}/{}/{}", self.provider(), self.kind, self.name),
            Some(Scope { env, owner }) => write!(f, "{env}/{owner}/{}/{}/{}", self.provider(), self.kind, self.name),
        }
    }
}

impl FromStr for Address {
    type Err = String;

    /// `PROVIDER/KIND/NAME` when the first segment names a provider, else
    /// `ENV/OWNER/PROVIDER/KIND/NAME` (names may contain `/`: ECR repositories do).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let expected = || {
            let providers: Vec<&str> = ProviderId::known().iter().map(|p| p.as_str()).collect();
            format!(
                "bad address `{text}`: expected PROVIDER/KIND/NAME or ENV/OWNER/PROVIDER/KIND/NAME (providers: {})",
                providers.join(", ")
            )
        };
        // The kind must be registered and belong to the provider the address names.
        let kind_of = |provider: ProviderId, kind: &str| {
            Kind::parse(kind)
                .filter(|k| k.provider() == provider)
                .ok_or_else(|| format!("bad address `{text}`: `{kind}` is not a kind of provider {provider}"))
        };
        let (first, rest) = text.split_once('/').ok_or_else(expected)?;
        if let Some(provider) = ProviderId::parse(first) {
            let (kind, name) = rest.split_once('/').ok_or_else(expected)?;
            if name.is_empty() {
                return Err(expected());
            }
            return Ok(Address::global(kind_of(provider, kind)?, name));
        }
        let parts: Vec<&str> = text.splitn(5, '/').collect();
        match parts.as_slice() {
            [env, owner, provider, kind, name] if [env, owner, name].iter().all(|p| !p.is_empty()) => {
                let provider = ProviderId::parse(provider).ok_or_else(expected)?;
                Ok(Address::scoped(env, owner, kind_of(provider, kind)?, *name))
            }
            _ => Err(expected()),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_text() {
        for text in [
            "aws/iam_role/shop-payment-service-ci",
            "aws/ecr_repository/shop/payment-service",
            "aws/ecr_repository/a/b/c/d",
            "prod/payment-service/k8s/Rollout/payment-service",
        ] {
            let address: Address = text.parse().unwrap();
            assert_eq!(address.to_string(), text);
        }
        for bad in [
            "prod/x/Rollout/y",
            "prod/x/gcp/Bucket/y",
            "aws/iam_role",
            "aws//x",
            "aws/Rollout/x",
            "dev/a/k8s/iam_role/r",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }

    #[test]
    fn environment_wide_resources_sort_before_every_environment() {
        let mut addresses: Vec<Address> =
            ["dev/a/k8s/Service/a", "aws/sns_topic/t", "aws/iam_role/r"].iter().map(|t| t.parse().unwrap()).collect();
        addresses.sort();
        let texts: Vec<String> = addresses.iter().map(Address::to_string).collect();
        assert_eq!(texts, ["aws/iam_role/r", "aws/sns_topic/t", "dev/a/k8s/Service/a"]);
    }
}
