//! Counts AWS API calls by `service:Operation` with an SDK interceptor, for `--stats` and for
//! tests that hold reads to batches; the same names arm the crash hook (`providers::fault`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
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
        *self.0.calls.lock().expect("counter lock").entry(call_name(cfg)).or_default() += 1;
        Ok(())
    }

    /// Runs once per operation, when it is over: a crash test may end the process right after a
    /// call that succeeded (`providers::fault`), before glidepath does anything with its answer.
    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.output_or_error().is_some_and(|answer| answer.is_ok()) {
            crate::providers::fault::after(&call_name(cfg));
        }
        Ok(())
    }
}

/// `service:Operation`, with service names as the SDK declares them, lower-cased and without
/// spaces (`CloudWatch Logs` → `cloudwatchlogs`), so each call stays one word in `--stats`.
fn call_name(cfg: &ConfigBag) -> String {
    match cfg.load::<Metadata>() {
        Some(meta) => {
            let service: String =
                meta.service().chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_lowercase()).collect();
            format!("{service}:{}", meta.name())
        }
        None => "unknown".to_string(),
    }
}
