//! SDK errors → one-line diagnoses that name the resource, the action and what to do.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::providers::ProviderError;

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
    let reason = match &error {
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
                    return ProviderError {
                        target: target.to_string(),
                        action: action.to_string(),
                        reason: format!(
                            "{where_to} answered HTTP {status} without an AWS error code: {}",
                            source_chain(&error)
                        ),
                    }
                }
            };
            let code = code.as_str();
            let message = err.message().unwrap_or("").trim().to_string();
            match code {
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError" => {
                    let detail = if message.is_empty() { String::new() } else { format!(" ({message})") };
                    format!("access denied: the credentials may not call {action}{detail}")
                }
                "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
                    "the AWS credentials have expired: refresh them (e.g. `aws sso login`) and run again".to_string()
                }
                "InvalidClientTokenId"
                | "UnrecognizedClientException"
                | "SignatureDoesNotMatch"
                | "InvalidAccessKeyId" => {
                    format!("AWS rejected the credentials ({code}): check AWS_PROFILE / AWS_ACCESS_KEY_ID")
                }
                "Throttling" | "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" => {
                    format!("throttled by AWS even after retrying with backoff ({message}); run again later")
                }
                _ if message.is_empty() => code.to_string(),
                _ => format!("{code}: {message}"),
            }
        }
        SdkError::DispatchFailure(failure) => {
            let chain = source_chain(&error);
            if chain.contains("no credentials") || chain.contains("credential provider") {
                NO_CREDENTIALS.to_string()
            } else if failure.is_timeout() {
                format!("{where_to} did not answer in time")
            } else if failure.is_io() {
                format!("cannot reach {where_to} (connection failed)")
            } else {
                format!("could not send the request to {where_to}: {chain}")
            }
        }
        SdkError::TimeoutError(_) => format!("{where_to} did not answer in time"),
        SdkError::ConstructionFailure(_) => {
            let chain = source_chain(&error);
            if chain.contains("credential") || chain.contains("identity") {
                NO_CREDENTIALS.to_string()
            } else {
                format!("could not build the request: {chain}")
            }
        }
        // An emulator answers operations it does not implement with a bare HTTP 500 page.
        SdkError::ResponseError(response) if response.raw().status().is_server_error() => format!(
            "{where_to} answered HTTP {} without an AWS error response (does it implement {action}?)",
            response.raw().status().as_u16()
        ),
        SdkError::ResponseError(_) => {
            format!("{where_to} sent a response that is not valid for this API: {}", source_chain(&error))
        }
        _ => source_chain(&error),
    };
    ProviderError { target: target.to_string(), action: action.to_string(), reason }
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
