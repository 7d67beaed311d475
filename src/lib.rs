//! glidepath: a service catalog becomes a zero-downtime delivery setup on AWS EKS.
//!
//! Data flows one way: `catalog` (parse, validate) → `render` (desired resources) →
//! `plan` (diff against live or recorded state) → apply. Only `cli` formats output.

pub mod apply;
pub mod arn;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod digest;
pub mod fmt;
pub mod kinds;
pub mod parallel;
pub mod plan;
pub mod providers;
pub mod redact;
pub mod render;
pub mod rules;
pub mod state;
