//! The library's error type. Every failure a user can meet is one of these, rendered as a sentence.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// One problem found in Pillar or in a request, with the path of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Where the value sits, e.g. `ocp_aws.s3.buckets.backup.lifecycle[0].expire_days`.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Invalid {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Pillar or the request is invalid; nothing was sent to AWS.
    #[error("{}", join_invalid(.0))]
    Invalid(Vec<Invalid>),
    /// AWS answered an operation with an error, or could not be reached.
    #[error("{operation}: {message}")]
    Aws {
        operation: &'static str,
        message: String,
        /// The SDK's error, kept for callers that look deeper than the sentence.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The desired state cannot be reached without a decision by a person
    /// (a region that cannot change, a non-empty bucket, a secret file that is gone).
    #[error("{0}")]
    Refused(String),
    /// A secret file could not be read or written.
    #[error("secret file {path}: {message}")]
    SecretFile { path: String, message: String },
    /// A wait ran out of time.
    #[error("{0}")]
    Timeout(String),
    /// The tool itself went wrong (a request it built was incomplete): a bug, not the user's input.
    #[error("internal error: {0}")]
    Internal(String),
}

fn join_invalid(all: &[Invalid]) -> String {
    all.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl Error {
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![Invalid::new(path, message)])
    }
}

/// The AWS error codes the tool acts on, by name, so that a misspelt code is a compile error.
pub mod code {
    /// IAM: the user, group, policy or key does not exist (yet: IAM is eventually consistent).
    pub const NO_SUCH_ENTITY: &str = "NoSuchEntity";
    /// IAM (and the other query APIs): too many requests; AWS refused this one without acting on it.
    pub const THROTTLING: &str = "Throttling";
    /// IAM: the name is taken.
    pub const ENTITY_ALREADY_EXISTS: &str = "EntityAlreadyExists";
    /// SES v2: the identity (or other object) does not exist.
    pub const NOT_FOUND: &str = "NotFoundException";
    /// S3: the bucket does not exist (yet, right after CreateBucket).
    pub const NO_SUCH_BUCKET: &str = "NoSuchBucket";
    /// S3: the bucket is already this account's (a repeated CreateBucket outside us-east-1).
    pub const BUCKET_ALREADY_OWNED_BY_YOU: &str = "BucketAlreadyOwnedByYou";
    /// SES v2: an identity or configuration set of that name exists.
    pub const ALREADY_EXISTS: &str = "AlreadyExistsException";
    /// S3: the bucket name belongs to another account.
    pub const BUCKET_ALREADY_EXISTS: &str = "BucketAlreadyExists";
    /// S3: the bucket has no lifecycle rules.
    pub const NO_SUCH_LIFECYCLE_CONFIGURATION: &str = "NoSuchLifecycleConfiguration";
    /// S3: the bucket has no Block Public Access configuration.
    pub const NO_SUCH_PUBLIC_ACCESS_BLOCK_CONFIGURATION: &str = "NoSuchPublicAccessBlockConfiguration";
    /// EC2: no security group has that id.
    pub const INVALID_GROUP_NOT_FOUND: &str = "InvalidGroup.NotFound";
    /// EC2: something (a network interface, a DB instance) still uses the security group.
    pub const DEPENDENCY_VIOLATION: &str = "DependencyViolation";
    /// EC2: the rule being added exists already.
    pub const INVALID_PERMISSION_DUPLICATE: &str = "InvalidPermission.Duplicate";
    /// RDS: no DB instance has that identifier.
    pub const DB_INSTANCE_NOT_FOUND: &str = "DBInstanceNotFound";
    /// RDS: a DB instance of that identifier exists.
    pub const DB_INSTANCE_ALREADY_EXISTS: &str = "DBInstanceAlreadyExists";
    /// Any service: the request was signed with another secret than the access key's.
    pub const SIGNATURE_DOES_NOT_MATCH: &str = "SignatureDoesNotMatch";
    /// Any service: AWS knows no active access key of that id.
    pub const INVALID_CLIENT_TOKEN_ID: &str = "InvalidClientTokenId";
}

/// Turns an SDK error into a sentence a person can act on: the AWS error code and message for
/// service errors; the HTTP status for answers that are not AWS errors (an HTML page from a proxy,
/// an empty 404); the cause chain (no credentials, unreachable endpoint, timeout) otherwise.
pub fn aws_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(msg)) => format!("{code}: {msg}"),
                (Some(code), None) => code.to_string(),
                _ => format!("AWS answered {} without an AWS error", http_answer(service.raw())),
            }
        }
        SdkError::TimeoutError(_) => "AWS did not answer in time".to_string(),
        SdkError::DispatchFailure(_) => format!("could not reach AWS: {}", causes(&err)),
        SdkError::ResponseError(r) => format!("AWS sent an answer that could not be read ({})", http_answer(r.raw())),
        _ => format!("the request could not be made: {}", causes(&err)),
    };
    Error::Aws { operation, message, source: Some(Box::new(err)) }
}

/// An HTTP answer in a few words: `HTTP 500 Internal Server Error (text/html)`.
fn http_answer(raw: &HttpResponse) -> String {
    let status = raw.status();
    let reason = http::StatusCode::from_u16(status.as_u16()).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let kind = match raw.headers().get("content-type") {
        Some(t) => format!(" ({})", t.split(';').next().unwrap_or(t).trim()),
        None if raw.body().bytes().is_some_and(<[u8]>::is_empty) => " with an empty body".to_string(),
        None => String::new(),
    };
    format!("HTTP {} {reason}{kind}", status.as_u16()).replace("  ", " ")
}

/// The messages of an error's causes, outermost first, each said once.
pub fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    if parts.is_empty() {
        DisplayErrorContext(err).to_string()
    } else {
        parts.join(": ")
    }
}

/// Shorthand for SDK results: name the operation, and map the "does not exist" codes to `None`.
pub trait AwsResult<T> {
    /// Any error becomes [`Error::Aws`] naming `operation`.
    fn op(self, operation: &'static str) -> Result<T, Error>;
    /// An error whose code is one of `codes` becomes `Ok(None)`: not-found is not an error.
    fn none_if(self, operation: &'static str, codes: &[&str]) -> Result<Option<T>, Error>;
}

impl<T, E> AwsResult<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn op(self, operation: &'static str) -> Result<T, Error> {
        self.map_err(|e| aws_error(operation, e))
    }

    fn none_if(self, operation: &'static str, codes: &[&str]) -> Result<Option<T>, Error> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.code().is_some_and(|c| codes.contains(&c)) => Ok(None),
            Err(e) => Err(aws_error(operation, e)),
        }
    }
}

/// The error code of an SDK error, if AWS sent one.
pub fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.code()
}
