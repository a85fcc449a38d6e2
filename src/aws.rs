//! AWS clients: one `SdkConfig` per process, one set of service clients per region, built lazily,
//! each carrying the [`CallLog`] interceptor that counts the operations the tool performs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Deserialize;

use crate::error::{Error, Invalid};
use crate::secrets::Secret;

/// The region used when neither the resource, the Pillar nor the connection names one.
pub const DEFAULT_REGION: &str = "us-east-1";

const NO_CREDENTIALS: &str = "No AWS credentials were found: give keyid and key (Salt), a profile, \
     the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables, or an instance role";

/// How to reach AWS. Every field is optional; unset fields fall back to the SDK's default chain
/// (environment, shared config, instance metadata).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// Default region for resources that name none.
    #[serde(default)]
    pub region: Option<String>,
    /// A named profile of the AWS shared config and credentials files.
    #[serde(default)]
    pub profile: Option<String>,
    /// Access key id (Salt's `keyid`).
    #[serde(default)]
    pub keyid: Option<String>,
    /// Secret access key (Salt's `key`).
    #[serde(default)]
    pub key: Option<Secret>,
    /// Endpoint override, e.g. a local test server.
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

impl Connection {
    /// Problems a request's connection settings have, with paths under `path`, found before any
    /// AWS call: an endpoint that is not an http(s) URL, a region that is not a region code, a key
    /// id without its secret (or the reverse).
    pub fn check(&self, path: &str) -> Vec<Invalid> {
        let mut errors = Vec::new();
        if let Some(url) = &self.endpoint_url {
            if !endpoint_url_ok(url) {
                errors.push(Invalid::new(
                    format!("{path}.endpoint_url"),
                    format!("{} is not an http:// or https:// URL with a host", crate::validate::quote(url)),
                ));
            }
        }
        if let Some(region) = &self.region {
            crate::validate::region(region, &format!("{path}.region"), &mut errors);
        }
        if self.keyid.is_some() != self.key.is_some() {
            errors.push(Invalid::new(path, "keyid and key go together: give both or neither"));
        }
        errors
    }
}

/// `http://host[:port][/path]` or `https://...`, nothing else.
fn endpoint_url_ok(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (h, Some(p)),
        _ => (authority, None),
    };
    let host_ok = !host.is_empty()
        && (host.starts_with('[') && host.ends_with(']')
            || host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    host_ok && port_ok && !url.chars().any(char::is_whitespace)
}

/// Records every AWS operation the tool starts (once per operation, not per retry).
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<Call>>>);

/// One AWS operation, e.g. `IAM` / `GetUser`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
}

impl Call {
    /// Reads are the operations that cannot change anything.
    pub fn is_read(&self) -> bool {
        ["Get", "List", "Head", "Describe"].iter().any(|p| self.operation.starts_with(p))
    }
}

impl CallLog {
    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().expect("call log").clone()
    }
    pub fn reads(&self) -> usize {
        self.calls().iter().filter(|c| c.is_read()).count()
    }
    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(|c| !c.is_read()).collect()
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    // Once per operation, after the operation's metadata is in the config bag (client
    // interceptors' `read_before_execution` runs before it is).
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            let call = Call { service: meta.service().to_string(), operation: meta.name().to_string() };
            self.0.lock().expect("call log").push(call);
        }
        Ok(())
    }
}

/// The service clients of one region.
#[derive(Debug, Clone)]
pub struct RegionClients {
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub sesv2: aws_sdk_sesv2::Client,
    pub sts: aws_sdk_sts::Client,
}

/// Shared SDK configuration plus the per-region clients built from it on first use.
#[derive(Debug)]
pub struct Clients {
    base: SdkConfig,
    path_style: bool,
    log: CallLog,
    regions: Mutex<HashMap<String, Arc<RegionClients>>>,
}

impl Clients {
    /// Loads the SDK configuration once. Credentials given in the connection win over the
    /// default chain; a key id without a secret (or the reverse) is an invalid request.
    pub async fn new(conn: &Connection, log: CallLog) -> Result<Self, Error> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(conn.region.clone().unwrap_or_else(|| DEFAULT_REGION.to_string())))
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .operation_timeout(Duration::from_secs(300))
                    .build(),
            );
        if let Some(profile) = &conn.profile {
            loader = loader.profile_name(profile);
        }
        match (&conn.keyid, &conn.key, &conn.profile) {
            (Some(id), Some(key), _) => {
                loader = loader.credentials_provider(Credentials::new(id, key.expose(), None, None, "request"));
            }
            // A profile named on purpose wins over credentials in the environment, which the
            // default chain would try first.
            (None, None, Some(profile)) => {
                loader = loader.credentials_provider(
                    aws_config::profile::ProfileFileCredentialsProvider::builder().profile_name(profile).build(),
                );
            }
            (None, None, None) => {}
            _ => {
                return Err(Error::Invalid(vec![Invalid::new(
                    "connection",
                    "keyid and key go together: give both or neither",
                )]))
            }
        }
        if let Some(url) = &conn.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let base = loader.load().await;
        Ok(Clients {
            // Endpoint overrides (a test server, AWS_ENDPOINT_URL) rarely resolve bucket subdomains.
            path_style: base.endpoint_url().is_some(),
            base,
            log,
            regions: Mutex::new(HashMap::new()),
        })
    }

    /// Fails with a sentence saying where credentials may come from when none can be found.
    pub async fn check_credentials(&self) -> Result<(), Error> {
        use aws_credential_types::provider::ProvideCredentials;
        let Some(provider) = self.base.credentials_provider() else {
            return Err(Error::Refused(NO_CREDENTIALS.to_string()));
        };
        provider.provide_credentials().await.map(drop).map_err(|e| {
            // A one-line cause (a profile that does not exist, say) helps; the chain's list of attempts does not.
            let cause = crate::error::causes(&e);
            match cause.contains('\n') || cause.contains("no credentials found in chain") {
                true => Error::Refused(NO_CREDENTIALS.to_string()),
                false => Error::Refused(format!("{NO_CREDENTIALS} ({cause})")),
            }
        })
    }

    /// The clients for `region`, built on first use.
    pub fn region(&self, region: &str) -> Arc<RegionClients> {
        let mut regions = self.regions.lock().expect("client cache");
        regions
            .entry(region.to_string())
            .or_insert_with(|| {
                let cfg = self.base.to_builder().region(Region::new(region.to_string())).build();
                let log = self.log.clone();
                Arc::new(RegionClients {
                    s3: aws_sdk_s3::Client::from_conf(
                        aws_sdk_s3::config::Builder::from(&cfg)
                            .force_path_style(self.path_style)
                            .interceptor(log.clone())
                            .build(),
                    ),
                    iam: aws_sdk_iam::Client::from_conf(
                        aws_sdk_iam::config::Builder::from(&cfg).interceptor(log.clone()).build(),
                    ),
                    // SES throttles at about one request a second: adaptive retries also slow the
                    // client down once throttled, instead of only backing off each call.
                    sesv2: aws_sdk_sesv2::Client::from_conf(
                        aws_sdk_sesv2::config::Builder::from(&cfg)
                            .retry_config(RetryConfig::adaptive().with_max_attempts(5))
                            .interceptor(log.clone())
                            .build(),
                    ),
                    sts: aws_sdk_sts::Client::from_conf(
                        aws_sdk_sts::config::Builder::from(&cfg).interceptor(log).build(),
                    ),
                })
            })
            .clone()
    }
}

/// The AWS partition a region belongs to, for building ARNs.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Retries an AWS call while it fails with one of `codes`, with bounded exponential backoff
/// (about 15 s in all). IAM is eventually consistent: a user created a moment ago can still be
/// `NoSuchEntity` to the next call.
pub async fn retry_while<T, E, R, F, Fut>(
    codes: &[&str],
    mut call: F,
) -> Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>>,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    let mut delay = Duration::from_millis(500);
    for _ in 0..5 {
        match call().await {
            Err(e) if e.code().is_some_and(|c| codes.contains(&c)) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
    call().await
}
