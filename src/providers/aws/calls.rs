//! Counts AWS API calls by `service:Operation` with an SDK interceptor, for `--stats` and for
//! tests that hold reads to batches.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::providers::CallStats;

#[derive(Debug, Default)]
pub struct CallCounter {
    calls: Mutex<BTreeMap<String, u64>>,
}

impl CallCounter {
    pub fn interceptor(self: &Arc<Self>) -> SharedInterceptor {
        SharedInterceptor::new(Counting(Arc::clone(self)))
    }

    pub fn stats(&self) -> CallStats {
        CallStats { calls: self.calls.lock().expect("counter lock").clone() }
    }
}

#[derive(Debug)]
struct Counting(Arc<CallCounter>);

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "glidepath-call-counter"
    }

    /// Runs once per operation (retries are attempts of the same call), after the operation's
    /// configuration, which carries its name, has been applied.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Service names as the SDK declares them, lower-cased and without spaces (`CloudWatch
        // Logs` → `cloudwatchlogs`), so each call stays one word in `--stats`.
        let name = match cfg.load::<Metadata>() {
            Some(meta) => {
                let service: String =
                    meta.service().chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_lowercase()).collect();
                format!("{service}:{}", meta.name())
            }
            None => "unknown".to_string(),
        };
        *self.0.calls.lock().expect("counter lock").entry(name).or_default() += 1;
        Ok(())
    }
}
