//! A test bed for the AWS half: a moto server of its own and a copy of examples/shop to edit,
//! with glidepath run against them and SDK clients to look at what AWS holds.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use super::moto::Moto;

pub struct Bed {
    pub moto: Moto,
    pub work: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
}

impl Bed {
    pub fn new() -> Bed {
        Bed::on(Moto::start())
    }

    pub fn on(moto: Moto) -> Bed {
        let work = tempfile::tempdir().unwrap();
        copy_dir(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/shop")), &work.path().join("catalog"));
        Bed { moto, work, runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap() }
    }

    pub fn catalog(&self) -> PathBuf {
        self.work.path().join("catalog")
    }

    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.catalog().join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} does not contain {from:?}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    pub fn run_at(&self, endpoint: &str, args: &[&str]) -> Output {
        self.command_at(endpoint, args).output().unwrap()
    }

    /// glidepath with `args`, against `endpoint`, in the bed's directory (not started yet).
    pub fn command_at(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_glidepath"));
        command.args(args).current_dir(self.work.path());
        for var in
            ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_REGION", "AWS_DEFAULT_REGION"]
        {
            command.env_remove(var);
        }
        command
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("NO_COLOR", "1");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_at(&self.moto.url(), args)
    }

    pub fn glidepath(&self, command: &str, extra: &[&str]) -> Output {
        let catalog = self.catalog();
        let mut args = vec![command, "-c", catalog.to_str().unwrap(), "--only", "aws"];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    pub fn plan_json(&self) -> Value {
        let out = self.glidepath("plan", &["--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn apply(&self, extra: &[&str]) -> Output {
        let mut args = vec!["--auto-approve"];
        args.extend_from_slice(extra);
        let out = self.glidepath("apply", &args);
        assert_eq!(out.status.code(), Some(0), "apply failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
        out
    }

    pub fn assert_no_changes(&self) {
        let out = self.glidepath("plan", &["--detailed-exitcode"]);
        assert_eq!(out.status.code(), Some(0), "expected no changes:\n{}{}", text(&out.stdout), text(&out.stderr));
        assert!(text(&out.stdout).contains("No changes."));
    }

    pub async fn config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .endpoint_url(self.moto.url())
            .credentials_provider(aws_sdk_iam::config::Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.runtime.block_on(self.config()))
    }

    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.runtime.block_on(self.config()))
    }

    pub fn codepipeline(&self) -> aws_sdk_codepipeline::Client {
        aws_sdk_codepipeline::Client::new(&self.runtime.block_on(self.config()))
    }

    pub fn codebuild(&self) -> aws_sdk_codebuild::Client {
        aws_sdk_codebuild::Client::new(&self.runtime.block_on(self.config()))
    }

    pub fn events(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.runtime.block_on(self.config()))
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.runtime.block_on(self.config()))
    }

    pub fn trust_policy(&self, role: &str) -> Value {
        let got = self.runtime.block_on(self.iam().get_role().role_name(role).send()).unwrap();
        let encoded = got.role().unwrap().assume_role_policy_document().unwrap().to_string();
        glidepath::providers::aws::policy_document(&encoded)
    }

    /// A role's inline policy as IAM holds it (IAM returns it URL-encoded).
    pub fn inline_policy(&self, role: &str, policy: &str) -> Value {
        let got =
            self.runtime.block_on(self.iam().get_role_policy().role_name(role).policy_name(policy).send()).unwrap();
        glidepath::providers::aws::policy_document(got.policy_document())
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

pub fn changes(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap().to_string(), c["address"].as_str().unwrap().to_string()))
        .collect()
}
