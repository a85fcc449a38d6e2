//! AWS clients: one `SdkConfig` per process, one set of service clients per region, built lazily,
//! each carrying the [`CallLog`] interceptor that counts the operations the tool performs and a
//! notice on stderr while a call is slow. Timeouts and attempts come from the [`Connection`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// How long each attempt of an AWS call may take before it is abandoned, unless the connection says.
pub const DEFAULT_TIMEOUT_SECS: u64 = 20;
/// How many attempts an AWS call gets (retries of throttling, server errors, timeouts), unless the
/// connection says. Throttling is what needs them: SES throttles at about a request a second, and a
/// run over a few hundred IAM resources meets IAM's request rate (BENCHMARKS.md, "concurrency").
pub const DEFAULT_ATTEMPTS: u32 = 5;
/// How long to wait for a connection to AWS.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// After this long a call says on stderr that it is still waiting, and again every `SLOW_REPEAT`.
const SLOW_NOTICE: Duration = Duration::from_secs(5);
const SLOW_REPEAT: Duration = Duration::from_secs(10);
/// Bounds that keep a typo from making a run wait for hours or hammer AWS.
const MAX_TIMEOUT_SECS: u64 = 3600;
const MAX_ATTEMPTS: u32 = 10;

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
    /// Seconds each attempt of an AWS call may take (default 20).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Attempts per AWS call, the first included (default 5: throttling needs them).
    #[serde(default)]
    pub attempts: Option<u32>,
}

impl Connection {
    /// The per-attempt timeout and the attempts of general and of SES calls; settings `check`
    /// refuses are an invalid request.
    fn limits(&self) -> Result<(Duration, u32), Error> {
        let errors = self.check("connection");
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        Ok((
            Duration::from_secs(self.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS)),
            self.attempts.unwrap_or(DEFAULT_ATTEMPTS),
        ))
    }
}

/// Says on stderr which AWS call a run is waiting for when one is slow, so that a silent endpoint
/// is not a silent hang. The notice stops when the operation ends.
#[derive(Debug, Clone)]
struct SlowCallNotice {
    timeout: Duration,
    attempts: u32,
}

/// The running notice of one operation; dropped (and stopped) with the operation's config bag.
#[derive(Debug)]
struct Watch(tokio::task::AbortHandle);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl aws_smithy_types::config_bag::Storable for Watch {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Intercept for SlowCallNotice {
    fn name(&self) -> &'static str {
        "SlowCallNotice"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some(meta), Ok(runtime)) = (cfg.load::<Metadata>(), tokio::runtime::Handle::try_current()) else {
            return Ok(());
        };
        let what = format!("{} {}", meta.service(), meta.name());
        let (timeout, attempts) = (self.timeout.as_secs(), self.attempts);
        let task = runtime.spawn(async move {
            let mut waited = SLOW_NOTICE;
            tokio::time::sleep(SLOW_NOTICE).await;
            loop {
                eprintln!(
                    "ocp-aws: still waiting for AWS to answer {what} after {} s (up to {timeout} s per attempt, \
                     {attempts} attempts)",
                    waited.as_secs()
                );
                tokio::time::sleep(SLOW_REPEAT).await;
                waited += SLOW_REPEAT;
            }
        });
        cfg.interceptor_state().store_put(Watch(task.abort_handle()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(watch) = cfg.load::<Watch>() {
            watch.0.abort();
        }
        Ok(())
    }
}

impl Connection {
    /// Problems a request's connection settings have, with paths under `path`, found before any
    /// AWS call: an endpoint that is not an http(s) URL, a region that is not a region code, a key
    /// id without its secret (or the reverse), a timeout or a number of attempts out of range.
    pub fn check(&self, path: &str) -> Vec<Invalid> {
        let mut errors = Vec::new();
        if let Some(t) = self.timeout.filter(|t| !(1..=MAX_TIMEOUT_SECS).contains(t)) {
            errors.push(Invalid::new(
                format!("{path}.timeout"),
                format!("{t} is not between 1 and {MAX_TIMEOUT_SECS} seconds"),
            ));
        }
        if let Some(a) = self.attempts.filter(|a| !(1..=MAX_ATTEMPTS).contains(a)) {
            errors.push(Invalid::new(format!("{path}.attempts"), format!("{a} is not between 1 and {MAX_ATTEMPTS}")));
        }
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
    /// SES v1: identity notification topics, headers and feedback forwarding have no v2 calls.
    pub ses: aws_sdk_ses::Client,
    pub sns: aws_sdk_sns::Client,
    /// EC2, for security groups and the default VPC.
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
    pub sts: aws_sdk_sts::Client,
}

/// Shared SDK configuration plus the per-region clients built from it on first use.
#[derive(Debug)]
pub struct Clients {
    base: SdkConfig,
    path_style: bool,
    log: CallLog,
    notice: SlowCallNotice,
    attempts: u32,
    regions: Mutex<HashMap<String, Arc<RegionClients>>>,
}

impl Clients {
    /// Loads the SDK configuration once. Credentials given in the connection win over the
    /// default chain; a key id without a secret (or the reverse) is an invalid request.
    pub async fn new(conn: &Connection, log: CallLog) -> Result<Self, Error> {
        let (timeout, attempts) = conn.limits()?;
        // The whole operation: every attempt, plus room for the backoff between them.
        let operation = timeout * attempts + Duration::from_secs(30);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(conn.region.clone().unwrap_or_else(|| DEFAULT_REGION.to_string())))
            .retry_config(RetryConfig::standard().with_max_attempts(attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(timeout)
                    .operation_timeout(operation)
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
        let endpoint = conn.endpoint_url.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        loader = loader.http_client(http_client(endpoint.as_deref()));
        let base = loader.load().await;
        Ok(Clients {
            // Endpoint overrides (a test server, AWS_ENDPOINT_URL) rarely resolve bucket subdomains.
            path_style: base.endpoint_url().is_some(),
            base,
            log,
            notice: SlowCallNotice { timeout, attempts },
            attempts,
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
                let (log, notice) = (self.log.clone(), self.notice.clone());
                // Every client records its operations and says when one is slow; the tokens after
                // the crate's name are a service's own settings, calls on its config builder.
                let retries = RetryConfig::adaptive().with_max_attempts(self.attempts);
                // Throttled requests are retried without the SDK's retry quota (500 tokens, 5 a
                // throttled retry: a run over a few hundred resources would use it up and fail the
                // rest at once), and adaptive retries slow the client down once throttled.
                macro_rules! client {
                    ($sdk:ident $(, $($settings:tt)+)?) => {
                        $sdk::Client::from_conf(
                            $sdk::config::Builder::from(&cfg)
                                .retry_config(retries.clone())
                                .retry_partition(
                                    $sdk::config::retry::RetryPartition::custom(stringify!($sdk))
                                        .token_bucket($sdk::config::retry::TokenBucket::unlimited())
                                        .build(),
                                )
                                $($($settings)+)?
                                .interceptor(log.clone())
                                .interceptor(notice.clone())
                                .build(),
                        )
                    };
                }
                Arc::new(RegionClients {
                    s3: client!(aws_sdk_s3, .force_path_style(self.path_style)),
                    iam: client!(aws_sdk_iam),
                    sesv2: client!(aws_sdk_sesv2),
                    ses: client!(aws_sdk_ses),
                    sns: client!(aws_sdk_sns),
                    ec2: client!(aws_sdk_ec2),
                    rds: client!(aws_sdk_rds),
                    sts: client!(aws_sdk_sts),
                })
            })
            .clone()
    }
}

/// One HTTP client for every service client of the process, so that TLS is set up once. A plain
/// `http://` endpoint (a local test server) gets a client without TLS, which loads no CA store.
/// Otherwise it is the SDK's default: rustls with aws-lc, and the proxy named in the environment.
fn http_client(endpoint: Option<&str>) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{tls, Builder, ConnectorBuilder};
    if endpoint.is_some_and(|url| url.starts_with("http://")) {
        return Builder::new().build_http();
    }
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
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

/// How long a change may take to show everywhere in IAM, and in S3 right after `CreateBucket`: two
/// minutes, the propagation timeout the AWS provider for Terraform uses for both.
pub const PROPAGATION: Duration = Duration::from_secs(120);

/// The environment variable that shortens every consistency budget and pause by a factor in (0, 1].
/// Tests set it, since the local test server shows every change at once; production leaves it unset.
pub const CONSISTENCY_SCALE_VAR: &str = "OCP_AWS_CONSISTENCY_SCALE";

/// The first pause between two attempts; each pause doubles the step, up to [`MAX_PAUSE`] (before
/// jitter and scale). Ten seconds is the longest poll interval the AWS provider for Terraform uses.
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// The factor [`CONSISTENCY_SCALE_VAR`] gives, read once per process: a number in (0, 1], else 1.
pub fn consistency_scale() -> f64 {
    static SCALE: OnceLock<f64> = OnceLock::new();
    *SCALE.get_or_init(|| parse_scale(std::env::var(CONSISTENCY_SCALE_VAR).ok().as_deref()))
}

fn parse_scale(value: Option<&str>) -> f64 {
    value.and_then(|v| v.trim().parse::<f64>().ok()).filter(|x| x.is_finite() && *x > 0.0 && *x <= 1.0).unwrap_or(1.0)
}

/// Pauses between attempts until a deadline: exponential, with "equal jitter" (each pause lies between
/// half its step and the whole step, so that resources converged together do not call in lockstep),
/// and never past the deadline.
#[derive(Debug, Clone)]
pub struct Deadline {
    end: Instant,
    step: Duration,
    max: Duration,
}

impl Deadline {
    /// A deadline `budget` from now, budget and pauses shortened by [`consistency_scale`].
    pub fn after(budget: Duration) -> Self {
        Deadline::scaled(budget, consistency_scale(), Instant::now())
    }

    fn scaled(budget: Duration, scale: f64, now: Instant) -> Self {
        // Scaling by 1 keeps the production values exact (`mul_f64` goes through floating point).
        let scaled = |d: Duration| if scale < 1.0 { d.mul_f64(scale) } else { d };
        Deadline { end: now + scaled(budget), step: scaled(FIRST_PAUSE), max: scaled(MAX_PAUSE) }
    }

    /// Sleeps until the next attempt is due. False, at once, when the deadline has passed.
    pub async fn wait(&mut self) -> bool {
        match self.pause_at(Instant::now(), random()) {
            Some(pause) => {
                tokio::time::sleep(pause).await;
                true
            }
            None => false,
        }
    }

    /// The pause before the next attempt at `now`, or `None` when the deadline has passed.
    fn pause_at(&mut self, now: Instant, random: u64) -> Option<Duration> {
        let left = self.end.checked_duration_since(now).filter(|d| !d.is_zero())?;
        let pause = jitter(self.step, random).min(left);
        self.step = (self.step * 2).min(self.max);
        Some(pause)
    }
}

/// A duration between half of `step` (`random` 0) and all of it (`random` `u64::MAX`).
fn jitter(step: Duration, random: u64) -> Duration {
    let half = step / 2;
    let spread = (step - half).as_nanos();
    let extra = spread.checked_mul(u128::from(random)).map_or(spread, |x| x / u128::from(u64::MAX));
    half + Duration::from_nanos(u64::try_from(extra).unwrap_or(u64::MAX))
}

/// A number that differs from call to call, for jitter only: the standard library seeds each
/// `RandomState` from the operating system's random source, which spares a dependency.
fn random() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(Instant::now())
}

/// Retries an AWS call while it fails with one of `codes`, with jittered exponential pauses, for up
/// to [`PROPAGATION`]; then returns the last error. IAM is eventually consistent (a user created a
/// moment ago can still be `NoSuchEntity` to the next call), and so is S3 right after `CreateBucket`
/// (`NoSuchBucket`).
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
    let mut deadline = Deadline::after(PROPAGATION);
    loop {
        match call().await {
            Err(e) if e.code().is_some_and(|c| codes.contains(&c)) => {
                if !deadline.wait().await {
                    return Err(e);
                }
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_is_a_factor_in_zero_to_one_else_one() {
        assert_eq!(parse_scale(Some("0.01")), 0.01);
        assert_eq!(parse_scale(Some(" 1 ")), 1.0);
        for bad in [None, Some(""), Some("0"), Some("-1"), Some("2"), Some("NaN"), Some("inf"), Some("fast")] {
            assert_eq!(parse_scale(bad), 1.0, "{bad:?}");
        }
    }

    #[test]
    fn jitter_stays_between_half_the_step_and_the_step() {
        let step = Duration::from_millis(800);
        for random in [0, 1, 7, 400_000_000, u64::MAX / 3, u64::MAX - 1, u64::MAX] {
            let d = jitter(step, random);
            assert!(d >= step / 2 && d <= step, "{random}: {d:?}");
        }
        assert_eq!(jitter(step, 0), step / 2);
        assert!(jitter(step, u64::MAX / 2).abs_diff(Duration::from_millis(600)) < Duration::from_micros(1));
        assert_eq!(jitter(step, u64::MAX), step);
        let huge = jitter(Duration::MAX, u64::MAX);
        assert!(huge >= Duration::MAX / 2, "no overflow for any step");
        assert_eq!(jitter(Duration::ZERO, 12345), Duration::ZERO);
    }

    #[test]
    fn pauses_double_up_to_the_cap_and_never_pass_the_deadline() {
        let start = Instant::now();
        let mut d = Deadline::scaled(Duration::from_secs(120), 1.0, start);
        let mut now = start;
        let mut steps = Vec::new();
        // The largest random number gives the whole step, so the steps themselves show.
        while let Some(pause) = d.pause_at(now, u64::MAX) {
            assert!(pause <= MAX_PAUSE, "{pause:?}");
            steps.push(pause);
            now += pause;
        }
        assert_eq!(&steps[..5], [500, 1000, 2000, 4000, 8000].map(Duration::from_millis));
        assert!(steps[5..steps.len() - 1].iter().all(|p| *p == MAX_PAUSE), "{steps:?}");
        assert_eq!(now, start + Duration::from_secs(120), "the last pause ends at the deadline, not after it");
        assert_eq!(d.pause_at(now, 0), None);
        assert_eq!(d.pause_at(now + Duration::from_secs(1), 0), None);
    }

    #[test]
    fn a_scale_shortens_the_budget_and_every_pause() {
        let start = Instant::now();
        let mut d = Deadline::scaled(Duration::from_secs(120), 0.01, start);
        assert!((d.end - start).abs_diff(Duration::from_millis(1200)) < Duration::from_micros(1));
        let mut now = start;
        let mut pauses = 0;
        while let Some(pause) = d.pause_at(now, u64::MAX) {
            assert!(pause <= Duration::from_millis(100), "{pause:?}");
            now += pause;
            pauses += 1;
        }
        assert_eq!(now, d.end);
        assert!(pauses > 10, "{pauses}");
    }

    #[test]
    fn a_spent_budget_allows_no_pause() {
        let start = Instant::now();
        assert_eq!(Deadline::scaled(Duration::ZERO, 1.0, start).pause_at(start, 0), None);
    }
}
