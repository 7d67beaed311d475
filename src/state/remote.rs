//! Remote state: the state object in S3, the lock as an item in a DynamoDB table (conditional
//! put, so two applies cannot both hold it), and the audit trail as one S3 object per record.
//! Location: `s3://BUCKET/KEY?lock_table=TABLE`.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;

use super::audit::AuditRecord;
use super::lock::LockInfo;
use super::StateError;
use crate::providers::timeout;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    pub lock_table: String,
}

impl S3Location {
    pub fn parse(text: &str) -> Result<Option<Self>, StateError> {
        let Some(rest) = text.strip_prefix("s3://") else { return Ok(None) };
        let invalid = |reason: &str| StateError::Corrupt { path: text.to_string(), reason: reason.to_string() };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, key) = path.split_once('/').ok_or_else(|| invalid("write s3://BUCKET/KEY?lock_table=TABLE"))?;
        let lock_table = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("lock_table="))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("remote state needs a DynamoDB lock table: add ?lock_table=TABLE"))?;
        if bucket.is_empty() || key.is_empty() {
            return Err(invalid("write s3://BUCKET/KEY?lock_table=TABLE"));
        }
        Ok(Some(S3Location { bucket: bucket.into(), key: key.into(), lock_table: lock_table.into() }))
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn lock_id(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }

    fn audit_prefix(&self) -> String {
        format!("{}.audit/", self.key)
    }

    fn journal_prefix(&self) -> String {
        format!("{}.journal/", self.key)
    }
}

pub struct S3Store {
    pub location: S3Location,
    /// The limit per attempt, also for reading an object's body (outside the SDK's timeouts).
    limit: std::time::Duration,
    runtime: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

fn failed(location: &S3Location, action: &str, error: impl std::fmt::Display) -> StateError {
    StateError::Remote { location: location.describe(), action: action.to_string(), reason: error.to_string() }
}

/// The service's error code, else the error's own text.
fn code<E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Display>(e: &E) -> String {
    e.code().map(str::to_string).unwrap_or_else(|| e.to_string())
}

impl S3Store {
    pub fn connect(location: S3Location) -> Result<Self, StateError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| failed(&location, "start", e))?;
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".into());
        // The same limits as the AWS provider's calls: a silent S3 or DynamoDB fails the command
        // instead of hanging it (`providers::timeout`).
        let limit = timeout::request().map_err(|reason| failed(&location, "configure", reason))?;
        let shared = runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region))
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
                .timeout_config(timeout::aws(limit))
                .load(),
        );
        // Emulators and custom endpoints serve buckets by path, not by host name.
        let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(path_style).build(),
        );
        let dynamodb = aws_sdk_dynamodb::Client::new(&shared);
        Ok(S3Store { location, limit, runtime, s3, dynamodb })
    }

    /// The state JSON, or None when there is none yet.
    pub fn get(&self) -> Result<Option<String>, StateError> {
        let l = &self.location;
        match self.runtime.block_on(self.s3.get_object().bucket(&l.bucket).key(&l.key).send()) {
            Ok(out) => {
                let bytes = self.body(out.body)?;
                Ok(Some(String::from_utf8_lossy(&bytes).to_string()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(failed(l, "s3:GetObject", e.as_service_error().map(code).unwrap_or_else(|| e.to_string()))),
        }
    }

    /// An object's body, read within the limit: the SDK's timeouts end when the headers came.
    fn body(&self, body: ByteStream) -> Result<Vec<u8>, StateError> {
        let l = &self.location;
        // The timer is made inside the runtime (it needs its clock).
        match self.runtime.block_on(async { tokio::time::timeout(self.limit, body.collect()).await }) {
            Ok(Ok(bytes)) => Ok(bytes.into_bytes().to_vec()),
            Ok(Err(e)) => Err(failed(l, "s3:GetObject", e)),
            Err(_) => Err(failed(
                l,
                "s3:GetObject",
                format!("the object's body did not arrive within {}", timeout::shown(self.limit)),
            )),
        }
    }

    pub fn put(&self, text: String) -> Result<(), StateError> {
        let l = &self.location;
        self.runtime
            .block_on(
                self.s3
                    .put_object()
                    .bucket(&l.bucket)
                    .key(&l.key)
                    .content_type("application/json")
                    .body(ByteStream::from(text.into_bytes()))
                    .send(),
            )
            .map_err(|e| failed(l, "s3:PutObject", e.as_service_error().map(code).unwrap_or_else(|| e.to_string())))?;
        Ok(())
    }

    /// Takes the lock with a conditional put; fails at once naming the holder.
    pub fn lock(&self, info: &LockInfo) -> Result<(), StateError> {
        let l = &self.location;
        let body = serde_json::to_string(info).expect("lock info serializes");
        let put = self.runtime.block_on(
            self.dynamodb
                .put_item()
                .table_name(&l.lock_table)
                .item("LockID", AttributeValue::S(l.lock_id()))
                .item("Info", AttributeValue::S(body))
                .condition_expression("attribute_not_exists(LockID)")
                .send(),
        );
        match put {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                let holder =
                    self.holder()?.map(|h| h.describe()).unwrap_or_else(|| "by an unreadable lock item".into());
                Err(StateError::Locked { path: l.describe(), holder })
            }
            Err(e) => {
                Err(failed(l, "dynamodb:PutItem", e.as_service_error().map(code).unwrap_or_else(|| e.to_string())))
            }
        }
    }

    pub fn holder(&self) -> Result<Option<LockInfo>, StateError> {
        let l = &self.location;
        let got = self
            .runtime
            .block_on(
                self.dynamodb.get_item().table_name(&l.lock_table).key("LockID", AttributeValue::S(l.lock_id())).send(),
            )
            .map_err(|e| {
                failed(l, "dynamodb:GetItem", e.as_service_error().map(code).unwrap_or_else(|| e.to_string()))
            })?;
        Ok(got
            .item()
            .and_then(|item| item.get("Info"))
            .and_then(|v| v.as_s().ok())
            .and_then(|s| serde_json::from_str(s).ok()))
    }

    /// Releases the lock if `id` holds it.
    pub fn unlock(&self, id: &str) -> Result<(), StateError> {
        let l = &self.location;
        match self.holder()? {
            Some(info) if info.id == id => {
                self.runtime
                    .block_on(
                        self.dynamodb
                            .delete_item()
                            .table_name(&l.lock_table)
                            .key("LockID", AttributeValue::S(l.lock_id()))
                            .send(),
                    )
                    .map_err(|e| {
                        failed(
                            l,
                            "dynamodb:DeleteItem",
                            e.as_service_error().map(code).unwrap_or_else(|| e.to_string()),
                        )
                    })?;
                Ok(())
            }
            Some(info) => Err(StateError::WrongLock { path: l.describe(), id: id.into(), holder: info.describe() }),
            None => Err(StateError::NotLocked { path: l.describe() }),
        }
    }

    pub fn append_audit(&self, record: &AuditRecord) -> Result<(), StateError> {
        let l = &self.location;
        let text = serde_json::to_string(record).expect("audit records serialize");
        // Time-ordered names, made unique by the record's digest.
        let key = format!(
            "{}{}-{}.json",
            l.audit_prefix(),
            record.time,
            &crate::digest::digest(&serde_json::from_str(&text).expect("just serialized"))["sha256:".len()..][..12]
        );
        self.put_object(key, text)
    }

    pub fn read_audit(&self) -> Result<Vec<AuditRecord>, StateError> {
        let mut records = Vec::new();
        for (key, text) in self.read_prefix(&self.location.audit_prefix())? {
            records.push(
                serde_json::from_str(&text).map_err(|e| StateError::Corrupt { path: key, reason: e.to_string() })?,
            );
        }
        Ok(records)
    }

    /// Stores one journal line of an apply (see `state::journal`): an object of its own, named
    /// so that key order is journal order.
    pub fn append_journal(&self, serial: u64, sequence: u64, line: String) -> Result<(), StateError> {
        self.put_object(format!("{}{serial:020}-{sequence:08}.json", self.location.journal_prefix()), line)
    }

    /// The journal's lines, in order.
    pub fn read_journal(&self) -> Result<Vec<String>, StateError> {
        Ok(self.read_prefix(&self.location.journal_prefix())?.into_iter().map(|(_, text)| text).collect())
    }

    /// Applies the journal's lines that extend `state` (see `state::journal::replay`).
    pub fn replay_journal(&self, state: &mut crate::state::State) -> Result<usize, StateError> {
        let text: String = self.read_journal()?.concat();
        crate::state::journal::replay_lines(&text, &self.location.journal_prefix(), state)
    }

    /// Deletes the journal once the state object holds all of it.
    pub fn clear_journal(&self) -> Result<(), StateError> {
        let l = &self.location;
        for key in self.list_prefix(&l.journal_prefix())? {
            self.runtime.block_on(self.s3.delete_object().bucket(&l.bucket).key(&key).send()).map_err(|e| {
                failed(l, "s3:DeleteObject", e.as_service_error().map(code).unwrap_or_else(|| e.to_string()))
            })?;
        }
        Ok(())
    }

    fn put_object(&self, key: String, text: String) -> Result<(), StateError> {
        let l = &self.location;
        self.runtime
            .block_on(self.s3.put_object().bucket(&l.bucket).key(key).body(ByteStream::from(text.into_bytes())).send())
            .map_err(|e| failed(l, "s3:PutObject", e.as_service_error().map(code).unwrap_or_else(|| e.to_string())))?;
        Ok(())
    }

    /// The keys under `prefix`, sorted.
    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let l = &self.location;
        let pages: Vec<_> = self
            .runtime
            .block_on(
                self.s3.list_objects_v2().bucket(&l.bucket).prefix(prefix).into_paginator().send().collect::<Vec<_>>(),
            )
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| {
                failed(l, "s3:ListObjectsV2", e.as_service_error().map(code).unwrap_or_else(|| e.to_string()))
            })?;
        let mut keys: Vec<String> =
            pages.iter().flat_map(|p| p.contents()).filter_map(|o| o.key().map(str::to_string)).collect();
        keys.sort();
        Ok(keys)
    }

    /// Every object under `prefix` as (key, text), in key order.
    fn read_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StateError> {
        let l = &self.location;
        let mut objects = Vec::new();
        for key in self.list_prefix(prefix)? {
            let out = self.runtime.block_on(self.s3.get_object().bucket(&l.bucket).key(&key).send()).map_err(|e| {
                failed(l, "s3:GetObject", e.as_service_error().map(code).unwrap_or_else(|| e.to_string()))
            })?;
            let bytes = self.body(out.body)?;
            let text = String::from_utf8(bytes)
                .map_err(|e| StateError::Corrupt { path: key.clone(), reason: e.to_string() })?;
            objects.push((key, text));
        }
        Ok(objects)
    }
}
