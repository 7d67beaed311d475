//! `Address`: the stable name of one resource, the join key between desired, live, plan and state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Owner segment of cluster objects that belong to an environment rather than one service.
pub const SHARED_OWNER: &str = "_shared";

/// `aws/iam_role/shop-payment-service-ci` or `prod/payment-service/k8s/Rollout/payment-service`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    Aws { kind: String, name: String },
    Kube { env: String, owner: String, kind: String, name: String },
}

impl Address {
    pub fn aws(kind: &str, name: impl Into<String>) -> Self {
        Address::Aws { kind: kind.to_string(), name: name.into() }
    }

    pub fn kube(env: &str, owner: &str, kind: &str, name: impl Into<String>) -> Self {
        Address::Kube { env: env.to_string(), owner: owner.to_string(), kind: kind.to_string(), name: name.into() }
    }

    /// The environment a cluster object lives in; AWS resources serve every environment.
    pub fn env(&self) -> Option<&str> {
        match self {
            Address::Aws { .. } => None,
            Address::Kube { env, .. } => Some(env),
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Address::Aws { kind, .. } | Address::Kube { kind, .. } => kind,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Address::Aws { name, .. } | Address::Kube { name, .. } => name,
        }
    }

    pub fn is_aws(&self) -> bool {
        matches!(self, Address::Aws { .. })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Aws { kind, name } => write!(f, "aws/{kind}/{name}"),
            Address::Kube { env, owner, kind, name } => write!(f, "{env}/{owner}/k8s/{kind}/{name}"),
        }
    }
}

impl FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = text.strip_prefix("aws/") {
            let (kind, name) = rest.split_once('/').ok_or_else(|| format!("bad AWS address `{text}`"))?;
            return Ok(Address::aws(kind, name));
        }
        let parts: Vec<&str> = text.splitn(5, '/').collect();
        match parts.as_slice() {
            [env, owner, "k8s", kind, name] => Ok(Address::kube(env, owner, kind, *name)),
            _ => Err(format!("bad address `{text}`: expected aws/KIND/NAME or ENV/OWNER/k8s/KIND/NAME")),
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
            "prod/payment-service/k8s/Rollout/payment-service",
        ] {
            let address: Address = text.parse().unwrap();
            assert_eq!(address.to_string(), text);
        }
        assert!("prod/x/Rollout/y".parse::<Address>().is_err());
    }
}
