//! Helpers shared by integration tests. Each test binary uses a subset of them.
#![allow(dead_code)]

pub mod aws_bed;
pub mod cluster;
pub mod crd_schema;
pub mod moto;
pub mod roundtrip;

/// The glidepath binary, without the AWS or cluster settings of the shell that runs the tests:
/// a test says which live systems glidepath sees.
pub fn glidepath_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_glidepath"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") || name == "KUBECONFIG" {
            command.env_remove(name);
        }
    }
    command
}
