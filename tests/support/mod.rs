//! Helpers shared by integration tests. Each test binary uses a subset of them.
#![allow(dead_code)]

pub mod cluster;
pub mod crd_schema;
pub mod moto;
pub mod roundtrip;
