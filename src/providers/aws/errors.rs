//! SDK errors → one-line diagnoses that name the resource, the action and what to do.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::providers::{ErrorKind, ProviderError};

const NO_CREDENTIALS: &str =
    "no AWS credentials found in the standard chain: set AWS_PROFILE (or run `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

pub fn diagnose<E>(
    error: SdkError<E, HttpResponse>,
    target: &str,
    action: &str,
    endpoint: Option<&str>,
) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let where_to = endpoint.map(|e| format!("the AWS endpoint {e}")).unwrap_or_else(|| "AWS".to_string());
    let (kind, reason) = match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let raw = service.raw();
            // The code is in the body, or (JSON protocols) in the X-Amzn-ErrorType header; a
            // 403 without either is still a refusal.
            let header_code =
                raw.headers().get("x-amzn-errortype").map(|v| v.split(':').next().unwrap_or(v).to_string());
            let code = match (err.code(), header_code.as_deref(), raw.status().as_u16()) {
                (Some(code), _, _) => code.to_string(),
                (None, Some(code), _) => code.to_string(),
                (None, None, 403) => "AccessDenied".to_string(),
                (None, None, status) => {
                    return ProviderError::new(
                        ErrorKind::Failed,
                        target,
                        action,
                        format!(
                            "{where_to} answered HTTP {status} without an AWS error code: {}",
                            source_chain(&error)
                        ),
                    )
                }
            };
            let code = code.as_str();
            let message = err.message().unwrap_or("").trim().to_string();
            let plain = || if message.is_empty() { code.to_string() } else { format!("{code}: {message}") };
            match code {
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError" => {
                    let detail = if message.is_empty() { String::new() } else { format!(" ({message})") };
                    (ErrorKind::Denied, format!("access denied: the credentials may not call {action}{detail}"))
                }
                "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => (
                    ErrorKind::Denied,
                    "the AWS credentials have expired: refresh them (e.g. `aws sso login`) and run again".to_string(),
                ),
                "InvalidClientTokenId"
                | "UnrecognizedClientException"
                | "SignatureDoesNotMatch"
                | "InvalidAccessKeyId" => (
                    ErrorKind::Denied,
                    format!("AWS rejected the credentials ({code}): check AWS_PROFILE / AWS_ACCESS_KEY_ID"),
                ),
                "Throttling" | "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" => (
                    ErrorKind::Throttled,
                    format!("throttled by AWS even after retrying with backoff ({message}); run again later"),
                ),
                _ => (kind_of_code(code, raw.status().as_u16()), plain()),
            }
        }
        SdkError::DispatchFailure(failure) => {
            let chain = source_chain(&error);
            // The SDK reports a missing credential source only in its error chain's text.
            if chain.contains("no credentials") || chain.contains("credential provider") {
                (ErrorKind::Denied, NO_CREDENTIALS.to_string())
            } else if failure.is_timeout() {
                (ErrorKind::Unreachable, silent(&where_to))
            } else if failure.is_io() {
                (ErrorKind::Unreachable, format!("cannot reach {where_to} (connection failed)"))
            } else {
                (ErrorKind::Failed, format!("could not send the request to {where_to}: {chain}"))
            }
        }
        SdkError::TimeoutError(_) => (ErrorKind::Unreachable, silent(&where_to)),
        SdkError::ConstructionFailure(_) => {
            let chain = source_chain(&error);
            if chain.contains("credential") || chain.contains("identity") {
                (ErrorKind::Denied, NO_CREDENTIALS.to_string())
            } else {
                (ErrorKind::Failed, format!("could not build the request: {chain}"))
            }
        }
        // An emulator answers operations it does not implement with a bare HTTP 500 page.
        SdkError::ResponseError(response) if response.raw().status().is_server_error() => (
            ErrorKind::Unimplemented,
            format!(
                "{where_to} answered HTTP {} without an AWS error response (does it implement {action}?)",
                response.raw().status().as_u16()
            ),
        ),
        SdkError::ResponseError(_) => (
            ErrorKind::Failed,
            format!("{where_to} sent a response that is not valid for this API: {}", source_chain(&error)),
        ),
        _ => (ErrorKind::Failed, source_chain(&error)),
    };
    ProviderError::new(kind, target, action, reason)
}

/// A call that timed out: which endpoint did not answer, within what, and how to wait longer.
fn silent(where_to: &str) -> String {
    use crate::providers::timeout;
    let limit = timeout::request().unwrap_or(timeout::DEFAULT);
    format!(
        "{where_to} did not answer in time ({} per attempt, {} per call; {} sets the limit per attempt)",
        timeout::shown(limit),
        timeout::shown(limit * timeout::ATTEMPTS),
        timeout::VARIABLE
    )
}

/// The kind of an AWS error code the diagnoses above do not word themselves: by the codes'
/// naming conventions across services (`NoSuchEntity`, `RepositoryNotFoundException`,
/// `EntityAlreadyExists`, `BucketNotEmpty`, …, and `OperationAborted`: another change to the
/// resource is under way), else by the HTTP status.
fn kind_of_code(code: &str, status: u16) -> ErrorKind {
    let code = code.trim_end_matches("Exception").trim_end_matches("Fault");
    if code.starts_with("NoSuch") || code.ends_with("NotFound") {
        ErrorKind::NotFound
    } else if code.ends_with("AlreadyExists")
        || code.ends_with("NotEmpty")
        || code.ends_with("Conflict")
        || code.ends_with("InUse")
        || code == "OperationAborted"
    {
        ErrorKind::Conflict
    } else if code == "NotImplemented" || code == "InvalidAction" || code == "UnknownOperation" {
        ErrorKind::Unimplemented
    } else if status == 404 {
        ErrorKind::NotFound
    } else if status == 409 {
        ErrorKind::Conflict
    } else if (400..500).contains(&status) {
        ErrorKind::Rejected
    } else {
        ErrorKind::Failed
    }
}

/// The error and its causes on one line.
fn source_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(cause) = current {
        let text = cause.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        current = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_error_codes_map_to_kinds() {
        for (code, status, kind) in [
            ("NoSuchEntity", 404, ErrorKind::NotFound),
            ("RepositoryNotFoundException", 400, ErrorKind::NotFound),
            ("RepositoryNotEmptyException", 400, ErrorKind::Conflict),
            ("BucketNotEmpty", 409, ErrorKind::Conflict),
            ("EntityAlreadyExists", 409, ErrorKind::Conflict),
            ("ResourceInUseException", 400, ErrorKind::Conflict),
            // CloudWatch Logs
            ("ResourceNotFoundException", 400, ErrorKind::NotFound),
            ("ResourceAlreadyExistsException", 400, ErrorKind::Conflict),
            ("OperationAbortedException", 400, ErrorKind::Conflict),
            ("InvalidParameterException", 400, ErrorKind::Rejected),
            ("LimitExceededException", 400, ErrorKind::Rejected),
            ("ServiceUnavailableException", 503, ErrorKind::Failed),
            ("ValidationError", 400, ErrorKind::Rejected),
            ("InternalFailure", 500, ErrorKind::Failed),
        ] {
            assert_eq!(kind_of_code(code, status), kind, "{code}");
        }
    }
}
