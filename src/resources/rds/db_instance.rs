//! `rds.db_instance`: a PostgreSQL DB instance (runbook row 16): latest version, small class, public,
//! reachable through a security group of the Pillar instead of the VPC's `default`, no backups, no
//! encryption, no Performance Insights, no storage autoscaling. Its password is generated here and,
//! with the connection details, written to a secret file the way access keys are:
//!
//! - the password exists only in memory between its generation and the file; it is never printed,
//!   put in `changes` or comments, or passed on a command line;
//! - from "the instance does not exist" to "the file is written" the secret file's lock is held, so
//!   two runs never both create it;
//! - `CreateDBInstance` is not retried by the SDK: after an unknown outcome the instance is looked up,
//!   and one that appeared meanwhile was made with this run's password, which is then written;
//! - a lost file fails the state and says how to recover (`rotate: true` sets a new password with
//!   `ModifyDBInstance`, then writes it).
//!
//! Changes AWS can only make by replacing the instance (encryption, master user name, initial
//! database, a smaller disk, a downgrade) are refused with a sentence, never carried out.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::common_spec;
use crate::error::{aws_error, code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed};
use crate::resources::ec2::{default_vpc, group_id};
use crate::resources::iam::access_key::{self, outcome_unknown};
use crate::resources::rds::{compare_versions, generate_password, major, version_parts};
use crate::resources::ses::wait_for;
use crate::secrets::Target;
use crate::validate::{self, quote};

pub struct DbInstance;

/// How long to wait for `available` unless `wait` says otherwise.
const DEFAULT_WAIT: Duration = Duration::from_secs(30 * 60);
/// The diff field of the password (its value says only where it goes).
const PASSWORD: &str = "password";
/// The diff field of connection details to rewrite in the secret file.
const CONNECTION: &str = "connection";

// ---- spec ----------------------------------------------------------------------------------

/// A PostgreSQL DB instance. The Pillar key is the DB instance identifier, e.g. `analysis`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `present` (default) or `absent` (needs `skip_final_snapshot: true` or `final_snapshot`).
    #[serde(default)]
    pub ensure: Ensure,
    /// Region of the instance (default: the Pillar's `region`).
    #[serde(default)]
    pub region: Option<String>,
    /// The engine: `postgres` (the default and the only one supported).
    #[serde(default)]
    pub engine: Option<String>,
    /// `latest` (default): the newest version AWS offers for the class at creation; a newer one
    /// later is reported, never applied by itself. Or a version such as `17.4`: a newer minor
    /// version is applied, a new major one only with `allow_major_version_upgrade: true`.
    #[serde(default)]
    pub engine_version: Option<String>,
    /// Allow `engine_version` to name a newer major version than the instance runs.
    #[serde(default)]
    pub allow_major_version_upgrade: bool,
    /// The instance class (default `db.t3.micro`).
    #[serde(default)]
    pub class: Option<String>,
    /// Allocated storage in GiB (default 20 at creation). AWS cannot shrink it.
    #[serde(default)]
    pub storage_gb: Option<i32>,
    /// `gp2`, `gp3`, `io1`, `io2` or `standard`. Left out: AWS's default at creation, then unmanaged.
    #[serde(default)]
    pub storage_type: Option<String>,
    /// The storage autoscaling limit in GiB. Left out: storage autoscaling is off.
    #[serde(default)]
    pub max_storage_gb: Option<i32>,
    /// Reachable from outside the VPC (a public DNS name and address).
    #[serde(default)]
    pub public: Option<bool>,
    /// Exactly these security groups: names of `ec2.security_groups` of this Pillar (looked up in
    /// the instance's VPC) or `sg-` ids. The VPC's `default` group is not attached unless listed.
    #[serde(default)]
    pub security_groups: Option<Vec<String>>,
    /// `false` (no automated backups, retention 0), `true` (7 days) or a retention in days (1-35).
    #[serde(default)]
    pub backups: Option<Backups>,
    /// Encrypt storage. AWS cannot change it on an instance: a difference fails the state.
    #[serde(default)]
    pub encrypted: Option<bool>,
    /// Performance Insights on or off.
    #[serde(default)]
    pub performance_insights: Option<bool>,
    /// Deletion protection on or off.
    #[serde(default)]
    pub deletion_protection: Option<bool>,
    /// A standby in another availability zone.
    #[serde(default)]
    pub multi_az: Option<bool>,
    /// The master user (default `postgres`). Fixed at creation.
    #[serde(default)]
    pub master_username: Option<String>,
    /// The initial database (default `postgres`). Fixed at creation.
    #[serde(default)]
    pub db_name: Option<String>,
    /// Absolute path of the YAML Pillar file that receives `host`, `port`, `user`, `password`,
    /// `dbname` and `sslmode` (mode 0600). The host is added once AWS has given the instance one.
    #[serde(default)]
    pub secret_file: String,
    /// Nest the connection details under this top-level key of the file.
    #[serde(default)]
    pub pillar_key: Option<String>,
    /// The secret file's permission bits, as octal text (default `"0600"`); the owner always has
    /// read and write, others nothing. Enforced on every run.
    #[serde(default)]
    #[schemars(regex(pattern = r"^0?[0-7]{3}$"))]
    pub mode: Option<String>,
    /// The user that owns the secret file (name or numeric id); default: whoever runs ocp-aws.
    /// Enforced on every run.
    #[serde(default)]
    pub owner: Option<String>,
    /// The group that owns the secret file (name or numeric id), e.g. `salt` with `mode: "0640"`
    /// so that a Salt master running as `salt` can read it. Enforced on every run.
    #[serde(default)]
    pub group: Option<String>,
    /// When the file holds no password: set a new one with `ModifyDBInstance` and write it.
    /// Without it, that case fails and says so.
    #[serde(default)]
    pub rotate: bool,
    /// Let AWS generate the password and keep it in Secrets Manager, fixed at creation: the file
    /// then holds `password_secret_arn`, the secret's ARN, instead of a password.
    #[serde(default)]
    pub manage_master_user_password: bool,
    /// How long to wait for the instance to be `available` after creating or changing it, with
    /// progress on stderr (default `30m`).
    #[serde(default)]
    pub wait: Option<String>,
    /// With `ensure: absent`: delete without a final snapshot.
    #[serde(default)]
    pub skip_final_snapshot: bool,
    /// With `ensure: absent`: the name of the final snapshot taken before deleting.
    #[serde(default)]
    pub final_snapshot: Option<String>,
}
common_spec!(Spec);

/// Automated backups: off, on (7 days), or a retention in days.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Backups {
    /// `false`: none (retention 0); `true`: 7 days, the console's default.
    Enabled(bool),
    /// Days to keep automated backups, 1 to 35.
    Days(i64),
}

impl Backups {
    fn retention(self) -> i32 {
        match self {
            Backups::Enabled(false) => 0,
            Backups::Enabled(true) => 7,
            Backups::Days(d) => d.clamp(0, 35) as i32,
        }
    }
}

impl Spec {
    /// The secret file and its permissions, as these settings give them.
    pub fn target(&self) -> Target {
        Target::new(&self.secret_file, self.pillar_key.as_deref()).with_permissions(
            self.mode.as_deref(),
            self.owner.as_deref(),
            self.group.as_deref(),
        )
    }
    fn engine(&self) -> &str {
        self.engine.as_deref().unwrap_or("postgres")
    }
    fn version(&self) -> &str {
        self.engine_version.as_deref().unwrap_or("latest")
    }
    fn class(&self) -> &str {
        self.class.as_deref().unwrap_or("db.t3.micro")
    }
    fn user(&self) -> &str {
        self.master_username.as_deref().unwrap_or("postgres")
    }
    fn dbname(&self) -> &str {
        self.db_name.as_deref().unwrap_or("postgres")
    }
    fn limit(&self) -> Duration {
        self.wait.as_deref().and_then(|w| validate::duration(w).ok()).unwrap_or(DEFAULT_WAIT)
    }
}

/// Letters, digits and `sep`, starting with a letter: RDS's rule for identifiers and names.
fn rds_name(value: &str, max: usize, sep: char) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value.starts_with(|c: char| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == sep)
}

/// A DB instance identifier or snapshot name: also no trailing hyphen and no two in a row.
fn identifier(value: &str, max: usize) -> bool {
    rds_name(value, max, '-') && !value.ends_with('-') && !value.contains("--")
}

// ---- read ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observed {
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub class: String,
    pub storage_gb: i32,
    pub storage_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_storage_gb: Option<i32>,
    pub public: bool,
    /// Security group ids, sorted.
    pub security_groups: Vec<String>,
    pub backup_retention_days: i32,
    pub encrypted: bool,
    pub performance_insights: bool,
    pub deletion_protection: bool,
    pub multi_az: bool,
    /// The connection details, without the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dbname: Option<String>,
    pub sslmode: String,
    /// The Secrets Manager secret holding the password, when AWS manages it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_secret_arn: Option<String>,
    /// Modifications AWS has accepted and not yet made, by setting.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, Value>,
    /// The spec's security groups as ids (a name not found stays a name).
    #[serde(skip)]
    pub wanted_groups: Option<Vec<String>>,
    /// The newest version AWS offers for the class, when the spec says `latest`.
    #[serde(skip)]
    pub latest: Option<String>,
    /// What the secret file holds, without the password itself.
    #[serde(skip)]
    pub file: Option<FileSeen>,
    /// How the secret file's mode, owner and group differ from the settings.
    #[serde(skip)]
    pub secret_file_drift: Vec<crate::secrets::Drift>,
}

/// The secret file's section, as far as the diff needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileSeen {
    pub has_password: bool,
    pub secret_arn: Option<String>,
    pub host: Option<String>,
    pub port: Option<i64>,
    pub user: Option<String>,
    pub dbname: Option<String>,
}

fn file_seen(section: &Map<String, Value>) -> FileSeen {
    let text = |k: &str| section.get(k).and_then(Value::as_str).map(str::to_string);
    FileSeen {
        has_password: section.get("password").is_some_and(|p| p.as_str().is_some_and(|p| !p.is_empty())),
        secret_arn: text("password_secret_arn"),
        host: text("host"),
        port: section.get("port").and_then(Value::as_i64),
        user: text("user"),
        dbname: text("dbname"),
    }
}

/// What the secret file holds: the connection details and the password.
fn file_values(o: Option<&Observed>, spec: &Spec, password: &str) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(host) = o.and_then(|o| o.host.as_deref()) {
        m.insert("host".into(), json!(host));
    }
    m.insert("port".into(), json!(o.and_then(|o| o.port).unwrap_or(5432)));
    m.insert("user".into(), json!(spec.user()));
    // With a password AWS manages, where to find it; else the password itself.
    let key = if spec.manage_master_user_password { "password_secret_arn" } else { "password" };
    m.insert(key.into(), json!(password));
    m.insert("dbname".into(), json!(spec.dbname()));
    m.insert("sslmode".into(), json!("require"));
    m
}

/// Reads the instance; `None` when RDS has none of that identifier.
async fn describe(cx: &Cx<'_>, name: &str) -> Result<Option<Observed>, Error> {
    let out = cx
        .rds()
        .describe_db_instances()
        .db_instance_identifier(name)
        .send()
        .await
        .none_if("DescribeDBInstances", &[code::DB_INSTANCE_NOT_FOUND])?;
    let Some(db) = out.as_ref().and_then(|o| o.db_instances().first()) else { return Ok(None) };
    let mut groups: Vec<String> =
        db.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id().map(str::to_string)).collect();
    groups.sort();
    let mut pending = BTreeMap::new();
    if let Some(p) = db.pending_modified_values() {
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                pending.insert(k.to_string(), v);
            }
        };
        put("class", p.db_instance_class().map(|v| json!(v)));
        put("storage_gb", p.allocated_storage().map(|v| json!(v)));
        put("storage_type", p.storage_type().map(|v| json!(v)));
        put("engine_version", p.engine_version().map(|v| json!(v)));
        put("backup_retention_days", p.backup_retention_period().map(|v| json!(v)));
        put("multi_az", p.multi_az().map(|v| json!(v)));
        put("password", p.master_user_password().map(|_| json!("(new password)")));
    }
    Ok(Some(Observed {
        status: db.db_instance_status().unwrap_or("unknown").to_string(),
        engine: db.engine().unwrap_or_default().to_string(),
        engine_version: db.engine_version().unwrap_or_default().to_string(),
        class: db.db_instance_class().unwrap_or_default().to_string(),
        storage_gb: db.allocated_storage().unwrap_or_default(),
        storage_type: db.storage_type().unwrap_or_default().to_string(),
        max_storage_gb: db.max_allocated_storage(),
        public: db.publicly_accessible().unwrap_or(false),
        security_groups: groups,
        backup_retention_days: db.backup_retention_period().unwrap_or_default(),
        encrypted: db.storage_encrypted().unwrap_or(false),
        performance_insights: db.performance_insights_enabled().unwrap_or(false),
        deletion_protection: db.deletion_protection().unwrap_or(false),
        multi_az: db.multi_az().unwrap_or(false),
        host: db.endpoint().and_then(|e| e.address()).map(str::to_string),
        port: db.endpoint().and_then(|e| e.port()).or(db.db_instance_port().filter(|p| *p > 0)),
        user: db.master_username().unwrap_or_default().to_string(),
        dbname: db.db_name().map(str::to_string),
        sslmode: "require".into(),
        password_secret_arn: db.master_user_secret().and_then(|s| s.secret_arn()).map(str::to_string),
        pending,
        ..Observed::default()
    }))
}

/// The VPC of an instance: its subnet group's, else the region's default VPC (where an instance
/// without a subnet group goes).
async fn vpc_of(cx: &Cx<'_>, name: &str) -> Result<String, Error> {
    let out = cx
        .rds()
        .describe_db_instances()
        .db_instance_identifier(name)
        .send()
        .await
        .none_if("DescribeDBInstances", &[code::DB_INSTANCE_NOT_FOUND])?;
    let vpc = out
        .as_ref()
        .and_then(|o| o.db_instances().first())
        .and_then(|db| db.db_subnet_group())
        .and_then(|g| g.vpc_id())
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    match vpc {
        Some(v) => Ok(v),
        None => default_vpc(cx).await,
    }
}

/// The spec's security groups as ids, sorted; a name that is not found stays as it is.
async fn group_ids(cx: &Cx<'_>, name: &str, groups: &[String]) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    let mut vpc = None;
    for g in groups {
        if g.starts_with("sg-") {
            ids.push(g.clone());
            continue;
        }
        if vpc.is_none() {
            vpc = Some(vpc_of(cx, name).await?);
        }
        ids.push(group_id(cx, g, vpc.as_deref().unwrap_or_default()).await?.unwrap_or_else(|| g.clone()));
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The newest engine version AWS offers, and can run on `class`, in the region.
async fn latest_version(cx: &Cx<'_>, engine: &str, class: &str) -> Result<String, Error> {
    let versions: Vec<_> = cx
        .rds()
        .describe_db_engine_versions()
        .engine(engine)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .op("DescribeDBEngineVersions")?;
    let mut numbers: Vec<String> = versions
        .iter()
        .filter(|v| v.status().is_none_or(|s| s == "available"))
        .filter_map(|v| v.engine_version().filter(|v| version_parts(v).is_some()).map(str::to_string))
        .collect();
    numbers.sort_by(|a, b| compare_versions(b, a));
    numbers.dedup();
    // Newest first; usually the newest is orderable, so this is one more call.
    for v in numbers.iter().take(5) {
        let options = cx
            .rds()
            .describe_orderable_db_instance_options()
            .engine(engine)
            .engine_version(v)
            .db_instance_class(class)
            .max_records(20)
            .send()
            .await
            .op("DescribeOrderableDBInstanceOptions")?;
        if !options.orderable_db_instance_options().is_empty() {
            return Ok(v.clone());
        }
    }
    Err(Error::Refused(format!(
        "AWS offers no {engine} version for class {class} in {} (of the newest: {})",
        cx.region(),
        if numbers.is_empty() {
            "none listed".to_string()
        } else {
            numbers.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        }
    )))
}

// ---- diff ----------------------------------------------------------------------------------

/// What a diff promises before the password is written (test mode shows it as is).
fn pending_secret(file: &str) -> Value {
    json!({"secret": format!("to be written to {file}")})
}

/// The value a setting has once AWS has made its pending modification.
fn effective<T: serde::de::DeserializeOwned>(o: &Observed, field: &str, current: T) -> T {
    o.pending.get(field).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or(current)
}

fn engine_version_diff(spec: &Spec, o: &Observed, d: &mut Diff) {
    let have = effective(o, "engine_version", o.engine_version.clone());
    let want = spec.version();
    if want == "latest" {
        if let Some(latest) = o.latest.as_ref().filter(|l| compare_versions(l, &have).is_gt()) {
            d.notes.push(format!(
                "{} {latest} is available (this instance runs {have}); set engine_version: {latest} to upgrade.",
                o.engine
            ));
        }
        return;
    }
    match compare_versions(want, &have) {
        std::cmp::Ordering::Equal => {}
        std::cmp::Ordering::Less => d.conflicts.push(format!(
            "The instance runs {} {have}, newer than engine_version {want}, and AWS cannot downgrade an instance.",
            o.engine
        )),
        std::cmp::Ordering::Greater if major(want) != major(&have) && !spec.allow_major_version_upgrade => {
            d.conflicts.push(format!(
                "engine_version {want} is a major upgrade from {have}: set allow_major_version_upgrade: true to \
                 make it (test your database with it first)."
            ))
        }
        std::cmp::Ordering::Greater => d.set("engine_version", &have, want),
    }
}

fn file_diff(spec: &Spec, o: &Observed, d: &mut Diff) {
    let file = &spec.secret_file;
    if spec.manage_master_user_password {
        // The ARN is no secret and AWS shows it on every read: a missing or stale one is rewritten.
        let seen = o.file.as_ref();
        let stale = seen.and_then(|f| f.secret_arn.as_ref()) != o.password_secret_arn.as_ref()
            || (o.host.is_some() && seen.and_then(|f| f.host.as_ref()) != o.host.as_ref());
        if stale && o.password_secret_arn.is_some() {
            d.set(
                CONNECTION,
                json!({"host": seen.and_then(|f| f.host.clone()), "password_secret_arn": seen.and_then(|f| f.secret_arn.clone())}),
                json!({"host": o.host, "password_secret_arn": o.password_secret_arn}),
            );
        }
        access_key::diff_permissions(&o.secret_file_drift, d);
        return;
    }
    match &o.file {
        Some(f) if f.has_password => {
            let host_known = o.host.is_some();
            let stale = (host_known && f.host != o.host)
                || (o.port.is_some() && f.port != o.port.map(i64::from))
                || f.user.as_deref() != Some(o.user.as_str())
                || f.dbname.as_deref() != Some(spec.dbname());
            if stale {
                d.set(
                    CONNECTION,
                    json!({"host": f.host, "port": f.port, "user": f.user, "dbname": f.dbname}),
                    json!({"host": o.host, "port": o.port, "user": o.user, "dbname": spec.dbname()}),
                );
            }
        }
        _ if spec.rotate => d.set(PASSWORD, (), pending_secret(file)),
        _ => d.conflicts.push(format!(
            "RDS instance exists but {file} holds no password for it, and AWS cannot show a password again. Set \
             rotate: true to set a new password, write it to the file, and apply again."
        )),
    }
    access_key::diff_permissions(&o.secret_file_drift, d);
}

// ---- apply ---------------------------------------------------------------------------------

/// The writes a diff calls for besides the password and the file: the `ModifyDBInstance` settings.
const MODIFIED: &[&str] = &[
    "engine_version",
    "class",
    "storage_gb",
    "storage_type",
    "max_storage_gb",
    "public",
    "security_groups",
    "backups",
    "performance_insights",
    "deletion_protection",
    "multi_az",
];

impl Kind for DbInstance {
    const KIND: &'static str = "rds.db_instance";
    const NOUN: &'static str = "RDS instance";
    const REFERS_TO: &'static [&'static str] = &["ec2.security_group"];
    type Spec = Spec;
    type Observed = Observed;

    fn identity(name: &str, region: &str) -> String {
        // RDS keeps identifiers in lowercase.
        format!("rds.db_instance {} in {region}", name.to_ascii_lowercase())
    }

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        let mut bad = |field: &str, message: String| {
            let at = if field.is_empty() { path.to_string() } else { format!("{path}.{field}") };
            errors.push(Invalid::new(at, message));
        };
        if !identifier(name, 63) || name.chars().any(|c| c.is_ascii_uppercase()) {
            bad(
                "",
                format!(
                    "{} is not a DB instance identifier: 1 to 63 lowercase letters, digits and hyphens, starting with \
                     a letter, without a trailing hyphen or two in a row",
                    quote(name)
                ),
            );
        }
        if spec.engine() != "postgres" {
            bad("engine", format!("{} is not supported: use postgres", quote(spec.engine())));
        }
        let v = spec.version();
        if v != "latest" && (version_parts(v).is_none() || v.split('.').count() > 3) {
            bad("engine_version", format!("{} is not a version: use latest or a number such as 17.4", quote(v)));
        }
        let class = spec.class();
        if !class.starts_with("db.") || class.split('.').count() != 3 {
            bad("class", format!("{} is not an instance class, such as db.t3.micro", quote(class)));
        }
        if let Some(s) = spec.storage_gb {
            if !(20..=65536).contains(&s) {
                bad("storage_gb", format!("PostgreSQL on RDS takes 20 to 65536 GiB, not {s}"));
            }
        }
        if let Some(m) = spec.max_storage_gb {
            if m <= spec.storage_gb.unwrap_or(20) || m > 65536 {
                bad("max_storage_gb", format!("must be more than storage_gb and at most 65536, not {m}"));
            }
        }
        if let Some(t) = &spec.storage_type {
            if !["gp2", "gp3", "io1", "io2", "standard"].contains(&t.as_str()) {
                bad("storage_type", format!("{} is not a storage type: use gp2, gp3, io1, io2 or standard", quote(t)));
            }
        }
        if let Some(Backups::Days(d)) = spec.backups {
            if !(0..=35).contains(&d) {
                bad("backups", format!("AWS keeps automated backups 0 to 35 days, not {d}"));
            }
        }
        if spec.multi_az == Some(true) && spec.backups.is_some_and(|b| b.retention() == 0) {
            bad("backups", "a Multi-AZ instance needs automated backups; AWS refuses retention 0".into());
        }
        let user = spec.user();
        if !rds_name(user, 63, '_') || ["rdsadmin", "rds_superuser"].contains(&user.to_ascii_lowercase().as_str()) {
            bad(
                "master_username",
                format!(
                    "{} is not a usable user name: 1 to 63 letters, digits and _, starting with a letter",
                    quote(user)
                ),
            );
        }
        if !rds_name(spec.dbname(), 63, '_') {
            bad(
                "db_name",
                format!(
                    "{} is not a database name: 1 to 63 letters, digits and _, starting with a letter",
                    quote(spec.dbname())
                ),
            );
        }
        for (i, g) in spec.security_groups.iter().flatten().enumerate() {
            if g.is_empty() {
                bad(&format!("security_groups[{i}]"), "name a security group or give an sg- id".into());
            }
        }
        if let Some(w) = &spec.wait {
            if let Err(e) = validate::duration(w) {
                bad("wait", e);
            }
        }
        match spec.ensure {
            Ensure::Present => {
                if spec.secret_file.is_empty() {
                    bad("secret_file", "missing: where should the password and connection details go?".into());
                } else {
                    validate::secret_file(&spec.secret_file, &format!("{path}.secret_file"), errors);
                }
                if let Some(key) = &spec.pillar_key {
                    validate::pillar_key(key, &format!("{path}.pillar_key"), errors);
                }
                validate::permissions(spec.mode.as_deref(), spec.owner.as_deref(), spec.group.as_deref(), path, errors);
            }
            Ensure::Absent => match (&spec.final_snapshot, spec.skip_final_snapshot) {
                (None, false) => errors.push(Invalid::new(
                    format!("{path}.final_snapshot"),
                    "deleting an instance needs skip_final_snapshot: true or final_snapshot: NAME; AWS refuses \
                     neither",
                )),
                (Some(_), true) => errors.push(Invalid::new(
                    format!("{path}.final_snapshot"),
                    "give final_snapshot or skip_final_snapshot: true, not both",
                )),
                (Some(s), false) if !identifier(s, 255) => errors.push(Invalid::new(
                    format!("{path}.final_snapshot"),
                    format!("{} is not a snapshot name: letters, digits and hyphens, starting with a letter", quote(s)),
                )),
                _ => {}
            },
        }
    }

    fn refs(spec: &Spec) -> Vec<crate::kind::Ref> {
        spec.security_groups
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, g)| !g.starts_with("sg-"))
            .map(|(i, g)| crate::kind::Ref {
                kind: "ec2.security_group",
                name: g.clone(),
                field: format!("security_groups[{i}]"),
            })
            .collect()
    }

    fn secret_files(spec: &Spec) -> Vec<(String, Target)> {
        match spec.ensure {
            Ensure::Present => vec![("secret_file".to_string(), spec.target())],
            Ensure::Absent => Vec::new(),
        }
    }

    async fn read(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Option<Observed>, Error> {
        let with_file = spec.ensure == Ensure::Present && !spec.secret_file.is_empty();
        // Held until the instance is read, so that the file and the instance are seen as one.
        let _consistent = match with_file {
            true => spec.target().lock_shared(!cx.test()).await?,
            false => None,
        };
        let (file, mode) = match with_file {
            true => (spec.target().read()?, spec.target().drift()?),
            false => (None, Vec::new()),
        };
        let Some(mut o) = describe(cx, name).await? else { return Ok(None) };
        drop(_consistent);
        o.file = file.as_ref().map(file_seen);
        o.secret_file_drift = mode;
        if spec.ensure == Ensure::Present {
            if let Some(groups) = &spec.security_groups {
                o.wanted_groups = Some(group_ids(cx, name, groups).await?);
            }
            if spec.version() == "latest" {
                o.latest = latest_version(cx, spec.engine(), spec.class()).await.ok();
            }
        }
        Ok(Some(o))
    }

    fn diff(_name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let Some(o) = observed else {
            let mut d = Diff::creating();
            d.set("engine", (), spec.engine());
            d.set("engine_version", (), spec.version());
            d.set("class", (), spec.class());
            d.set("storage_gb", (), spec.storage_gb.unwrap_or(20));
            if let Some(t) = &spec.storage_type {
                d.set("storage_type", (), t);
            }
            d.set("max_storage_gb", (), spec.max_storage_gb);
            for (field, value) in [
                ("public", spec.public),
                ("encrypted", spec.encrypted),
                ("performance_insights", spec.performance_insights),
                ("deletion_protection", spec.deletion_protection),
                ("multi_az", spec.multi_az),
            ] {
                if let Some(v) = value {
                    d.set(field, (), v);
                }
            }
            if let Some(g) = &spec.security_groups {
                d.set("security_groups", (), g);
            }
            if let Some(b) = spec.backups {
                d.set("backups", (), b.retention());
            }
            d.set("user", (), spec.user());
            d.set("dbname", (), spec.dbname());
            d.set(PASSWORD, (), pending_secret(&spec.secret_file));
            return d;
        };
        let mut d = Diff::default();
        if o.status == "deleting" {
            d.conflicts.push("The RDS instance is being deleted; apply again once it is gone.".into());
            return d;
        }
        if o.engine != spec.engine() {
            d.conflicts.push(format!(
                "The instance runs {}, not {}, and AWS cannot change an instance's engine.",
                o.engine,
                spec.engine()
            ));
        }
        engine_version_diff(spec, o, &mut d);
        let class = effective(o, "class", o.class.clone());
        d.compare("class", spec.class.as_ref(), &class);
        let storage = effective(o, "storage_gb", o.storage_gb);
        match spec.storage_gb {
            Some(s) if s < storage => d.conflicts.push(format!(
                "The instance has {storage} GiB of storage, and AWS cannot shrink it to storage_gb {s}."
            )),
            Some(s) if s > storage => d.set("storage_gb", storage, s),
            _ => {}
        }
        d.compare("storage_type", spec.storage_type.as_ref(), &effective(o, "storage_type", o.storage_type.clone()));
        // Autoscaling is off when no limit is set or the limit is the allocated storage.
        let autoscaling = o.max_storage_gb.filter(|m| *m > storage);
        if autoscaling != spec.max_storage_gb {
            d.set("max_storage_gb", autoscaling, spec.max_storage_gb);
        }
        d.compare("public", spec.public.as_ref(), &o.public);
        if let Some(want) = &o.wanted_groups {
            if want != &o.security_groups {
                d.set("security_groups", &o.security_groups, want);
            }
        }
        let retention = effective(o, "backup_retention_days", o.backup_retention_days);
        d.compare("backups", spec.backups.map(|b| b.retention()).as_ref(), &retention);
        if spec.encrypted.is_some_and(|e| e != o.encrypted) {
            d.conflicts.push(format!(
                "The instance's storage is {}encrypted, and AWS can change that only by replacing the instance \
                 (snapshot, copy {}, restore); it is not done here.",
                if o.encrypted { "" } else { "not " },
                if o.encrypted { "unencrypted" } else { "encrypted" }
            ));
        }
        d.compare("performance_insights", spec.performance_insights.as_ref(), &o.performance_insights);
        d.compare("deletion_protection", spec.deletion_protection.as_ref(), &o.deletion_protection);
        d.compare("multi_az", spec.multi_az.as_ref(), &effective(o, "multi_az", o.multi_az));
        if o.user != spec.user() {
            d.conflicts.push(format!(
                "The instance's master user is {}, and AWS cannot rename it: set master_username: {}.",
                o.user, o.user
            ));
        }
        if o.dbname.as_deref().is_some_and(|n| n != spec.dbname()) {
            d.conflicts.push(format!(
                "The instance's initial database is {}, fixed at creation: set db_name: {}.",
                o.dbname.as_deref().unwrap_or_default(),
                o.dbname.as_deref().unwrap_or_default()
            ));
        }
        match (spec.manage_master_user_password, o.password_secret_arn.is_some()) {
            (true, false) => d.conflicts.push(
                "The instance's password is not managed by AWS; switching to manage_master_user_password is not \
                 done here (it would lose the password in the secret file): set it on the RDS console."
                    .into(),
            ),
            (false, true) => d.conflicts.push(
                "AWS manages the instance's password in Secrets Manager: set manage_master_user_password: true.".into(),
            ),
            _ => {}
        }
        if !o.pending.is_empty() {
            let list: Vec<String> = o.pending.iter().map(|(k, v)| format!("{k} {v}")).collect();
            d.notes.push(format!("AWS has yet to make these modifications: {}.", list.join(", ")));
        }
        if o.status != "available" {
            d.notes.push(format!("The instance is {}.", o.status));
        } else if let Some(host) = &o.host {
            d.notes.push(format!("Connect to {host} port {} as {}.", o.port.unwrap_or(5432), o.user));
        }
        if !spec.secret_file.is_empty() {
            file_diff(spec, o, &mut d);
        }
        d
    }

    async fn apply(
        cx: &Cx<'_>,
        name: &str,
        spec: &Spec,
        observed: Option<&Observed>,
        diff: &mut Diff,
    ) -> Result<(), Error> {
        let applied = match observed {
            None => create(cx, name, spec, diff).await,
            Some(o) => modify(cx, name, spec, o, diff).await,
        };
        if applied.is_err() {
            // Never say a secret was written when it was not.
            diff.fields.retain(|f| {
                f.field != PASSWORD
                    || f.new.get("secret").is_some_and(|s| s.as_str().is_some_and(|s| s.starts_with("written")))
            });
        }
        applied
    }

    async fn settle(cx: &Cx<'_>, name: &str, spec: &Spec, observed: &Observed) -> Result<Option<Observed>, Error> {
        // A stopped instance stays stopped until someone starts it: nothing to wait for (the
        // comment says it is stopped).
        if matches!(observed.status.as_str(), "available" | "stopped" | "stopping") {
            return Ok(None);
        }
        let settled = wait_available(cx, name, spec).await?;
        // An instance that had no host yet (an earlier run stopped waiting) has one now: the file
        // gets it, so the next run has nothing left to do.
        let mut file = observed.file.clone();
        if let Some(f) = file
            .as_mut()
            .filter(|f| (f.has_password || f.secret_arn.is_some()) && settled.host.is_some() && f.host != settled.host)
        {
            rewrite_connection(&spec.target(), &settled, spec).await?;
            f.host = settled.host.clone();
            f.port = settled.port.map(i64::from);
        }
        Ok(Some(Observed { file, secret_file_drift: observed.secret_file_drift.clone(), ..settled }))
    }

    async fn delete(cx: &Cx<'_>, name: &str, spec: &Spec, _observed: &Observed) -> Result<(), Error> {
        let mut call = cx.rds().delete_db_instance().db_instance_identifier(name).delete_automated_backups(true);
        call = match &spec.final_snapshot {
            Some(s) => call.final_db_snapshot_identifier(s).skip_final_snapshot(false),
            None => call.skip_final_snapshot(spec.skip_final_snapshot),
        };
        call.send().await.none_if("DeleteDBInstance", &[code::DB_INSTANCE_NOT_FOUND])?;
        // Deleting takes minutes; the security groups it uses cannot go before it is gone.
        wait_for(
            &format!("RDS instance {name} to be deleted"),
            spec.limit(),
            async || describe(cx, name).await,
            |o: &Option<Observed>| Ok(o.iter().map(|o| format!("status {}", o.status)).collect()),
        )
        .await?;
        Ok(())
    }

    // ---- export --------------------------------------------------------------------------------

    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        let instances: Vec<aws_sdk_rds::types::DbInstance> = cx
            .rds()
            .describe_db_instances()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .op("DescribeDBInstances")?;
        let mut listed = Listed::default();
        for db in &instances {
            let (Some(name), engine) = (db.db_instance_identifier(), db.engine().unwrap_or_default()) else { continue };
            match engine {
                "postgres" => listed.names.push(name.to_string()),
                _ => listed.skipped.push(format!(
                    "RDS instance {name} in {} runs {engine}: Pillar manages PostgreSQL instances only",
                    cx.region()
                )),
            }
        }
        listed.names.sort();
        Ok(listed)
    }

    /// Commented out: the entry needs a secret file holding the password, which AWS cannot show.
    fn export(name: &str, o: &Observed, secret_dir: &str) -> Exported {
        let mut e = Exported { commented: true, ..Exported::default() };
        e.set("engine", &o.engine);
        e.set("engine_version", &o.engine_version);
        e.set("class", &o.class);
        e.set("storage_gb", o.storage_gb);
        e.set("storage_type", &o.storage_type);
        if let Some(max) = o.max_storage_gb {
            e.set("max_storage_gb", max);
        }
        e.set("public", o.public);
        e.set("security_groups", &o.security_groups);
        match o.backup_retention_days {
            0 => e.set("backups", false),
            days => e.set("backups", days),
        }
        e.set("encrypted", o.encrypted);
        e.set("performance_insights", o.performance_insights);
        e.set("deletion_protection", o.deletion_protection);
        e.set("multi_az", o.multi_az);
        e.set("master_username", &o.user);
        if let Some(db) = &o.dbname {
            e.set("db_name", db);
        }
        let file = format!("{}/{name}_db.sls", secret_dir.trim_end_matches('/'));
        e.set("secret_file", &file);
        if o.password_secret_arn.is_some() {
            e.set("manage_master_user_password", true);
            e.comments.push("AWS keeps the password in Secrets Manager: uncomment, and the first apply".into());
            e.comments.push(format!("writes the connection details and the secret's ARN to {file}."));
        } else {
            e.comments.push("AWS cannot show the master password. Uncomment once the file holds it:".into());
            e.comments.push(format!("  ocp-aws adopt-password {name} --secret-file {file}   (the password on stdin)"));
            e.comments.push("or add rotate: true to set a new password.".into());
        }
        e
    }
}

/// Waits until the instance is `available`, with progress on stderr, bounded by the spec's `wait`.
async fn wait_available(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Observed, Error> {
    let limit = spec.limit();
    wait_for(
        &format!("RDS instance {name}"),
        limit,
        async || describe(cx, name).await?.ok_or_else(|| Error::Refused(format!("RDS instance {name} disappeared"))),
        |o: &Observed| match o.status.as_str() {
            "available" => Ok(Vec::new()),
            s @ ("failed" | "incompatible-parameters" | "incompatible-network" | "storage-full" | "deleting") => {
                Err(Error::Refused(format!("RDS instance {name} is {s}, which waiting will not change")))
            }
            s => Ok(vec![format!("status {s}")]),
        },
    )
    .await
}

/// Creates the instance with a new password, writes it to the secret file, waits for `available`,
/// then adds the host to the file.
async fn create(cx: &Cx<'_>, name: &str, spec: &Spec, diff: &mut Diff) -> Result<(), Error> {
    let target = spec.target();
    let version = match spec.version() {
        "latest" => latest_version(cx, spec.engine(), spec.class()).await?,
        v => v.to_string(),
    };
    let groups = match &spec.security_groups {
        Some(g) => {
            let vpc = default_vpc(cx).await?;
            let mut ids = Vec::new();
            for n in g {
                if n.starts_with("sg-") {
                    ids.push(n.clone());
                } else {
                    ids.push(group_id(cx, n, &vpc).await?.ok_or_else(|| {
                        Error::Refused(format!("security group {n} does not exist in the default VPC ({vpc})"))
                    })?);
                }
            }
            Some(ids)
        }
        None => None,
    };
    let lock = target.lock().await?;
    if describe(cx, name).await?.is_some() {
        let held = target.read()?.as_ref().map(file_seen).is_some_and(|f| f.has_password || f.secret_arn.is_some());
        if held {
            diff.notes
                .push(format!("RDS instance {name} was created, and its password written, by another run meanwhile."));
            diff.fields.clear();
            return Ok(());
        }
        return Err(Error::Refused(format!(
            "RDS instance {name} appeared while this run waited for the lock on {}; apply again",
            target.file
        )));
    }
    let managed = spec.manage_master_user_password;
    let password = if managed { None } else { Some(generate_password()?) };
    let created = cx
        .rds()
        .create_db_instance()
        .db_instance_identifier(name)
        .engine(spec.engine())
        .engine_version(&version)
        .db_instance_class(spec.class())
        .allocated_storage(spec.storage_gb.unwrap_or(20))
        .set_storage_type(spec.storage_type.clone())
        .set_max_allocated_storage(spec.max_storage_gb)
        .set_publicly_accessible(spec.public)
        .set_vpc_security_group_ids(groups)
        .set_backup_retention_period(spec.backups.map(|b| b.retention()))
        .set_storage_encrypted(spec.encrypted)
        .set_enable_performance_insights(spec.performance_insights)
        .set_deletion_protection(spec.deletion_protection)
        .set_multi_az(spec.multi_az)
        .master_username(spec.user())
        .set_master_user_password(password.clone())
        .set_manage_master_user_password(managed.then_some(true))
        .db_name(spec.dbname())
        .customize()
        // Not retried by the SDK: after a lost answer, a repeat is refused (the identifier is taken)
        // and says nothing about which password the instance got. The instance is looked up instead.
        .config_override(aws_sdk_rds::config::Builder::default().retry_config(RetryConfig::disabled()))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if outcome_unknown(&e) => {
            let cause = aws_error("CreateDBInstance", e);
            if describe(cx, name).await.ok().flatten().is_none() {
                return Err(Error::Refused(format!("{cause}; AWS created no instance, apply again")));
            }
            diff.notes.push(format!(
                "CreateDBInstance's answer was lost ({cause}), but the instance exists, made with this run's password."
            ));
        }
        Err(e) => return Err(aws_error("CreateDBInstance", e)),
    }
    let now = describe(cx, name).await.ok().flatten();
    let secret = match &password {
        Some(p) => p.clone(),
        None => now.as_ref().and_then(|o| o.password_secret_arn.clone()).unwrap_or_default(),
    };
    target.write(&lock, file_values(now.as_ref(), spec, &secret)).map_err(|e| {
        Error::Refused(format!(
            "RDS instance {name} was created, but its password could not be written: {e}. Fix the file, then apply \
             with rotate: true to set a new password"
        ))
    })?;
    drop(lock);
    mark_written(diff, &target.file);
    diff.notes.push(format!("Its password and connection details are in {}.", target.file));
    let ready = wait_available(cx, name, spec).await?;
    if ready.host.is_some() {
        rewrite_connection(&target, &ready, spec).await?;
    }
    Ok(())
}

/// Says in the diff that the password is in the file (only once it is).
fn mark_written(diff: &mut Diff, file: &str) {
    let written = json!({"secret": format!("written to {file}")});
    match diff.fields.iter_mut().find(|f| f.field == PASSWORD) {
        Some(f) => f.new = written,
        None => diff.set(PASSWORD, (), written),
    }
}

/// Rewrites the file's connection details with what AWS reports, keeping its password.
async fn rewrite_connection(target: &Target, o: &Observed, spec: &Spec) -> Result<(), Error> {
    let lock = target.lock().await?;
    let section = target.read()?.unwrap_or_default();
    let password = match spec.manage_master_user_password {
        true => o.password_secret_arn.as_deref(),
        false => section.get("password").and_then(Value::as_str),
    };
    let Some(password) = password else { return Ok(()) };
    let values = file_values(Some(o), spec, password);
    if values == section {
        return Ok(());
    }
    target.write(&lock, values)
}

/// `ModifyDBInstance` for the settings that differ, applied at once; then a new password, the
/// file's connection details and its mode, as the diff asks.
async fn modify(cx: &Cx<'_>, name: &str, spec: &Spec, o: &Observed, diff: &mut Diff) -> Result<(), Error> {
    if MODIFIED.iter().any(|f| diff.has(f)) {
        let mut call = cx.rds().modify_db_instance().db_instance_identifier(name).apply_immediately(true);
        if diff.has("engine_version") {
            call = call.engine_version(spec.version()).allow_major_version_upgrade(spec.allow_major_version_upgrade);
        }
        if diff.has("class") {
            call = call.db_instance_class(spec.class());
        }
        if diff.has("storage_gb") {
            call = call.set_allocated_storage(spec.storage_gb);
        }
        if diff.has("storage_type") {
            call = call.set_storage_type(spec.storage_type.clone());
        }
        if diff.has("max_storage_gb") {
            // AWS turns autoscaling off when the limit equals the allocated storage.
            call = call
                .max_allocated_storage(spec.max_storage_gb.unwrap_or(o.storage_gb.max(spec.storage_gb.unwrap_or(0))));
        }
        if diff.has("public") {
            call = call.set_publicly_accessible(spec.public);
        }
        if diff.has("security_groups") {
            call = call.set_vpc_security_group_ids(o.wanted_groups.clone());
        }
        if diff.has("backups") {
            call = call.set_backup_retention_period(spec.backups.map(|b| b.retention()));
        }
        if diff.has("performance_insights") {
            call = call.set_enable_performance_insights(spec.performance_insights);
        }
        if diff.has("deletion_protection") {
            call = call.set_deletion_protection(spec.deletion_protection);
        }
        if diff.has("multi_az") {
            call = call.set_multi_az(spec.multi_az);
        }
        call.send().await.op("ModifyDBInstance")?;
    }
    let target = spec.target();
    if diff.has(PASSWORD) {
        let lock = target.lock().await?;
        if target.read()?.as_ref().is_some_and(|s| file_seen(s).has_password) {
            diff.fields.retain(|f| f.field != PASSWORD);
            diff.notes.push(format!("A password was written to {} by another run meanwhile.", target.file));
        } else {
            let password = generate_password()?;
            // Setting a password twice sets the same password: SDK retries are safe here.
            cx.rds()
                .modify_db_instance()
                .db_instance_identifier(name)
                .master_user_password(&password)
                .apply_immediately(true)
                .send()
                .await
                .op("ModifyDBInstance")?;
            target.write(&lock, file_values(Some(o), spec, &password)).map_err(|e| {
                Error::Refused(format!(
                    "a new password was set, but it could not be written: {e}. Fix the file, then apply again \
                     with rotate: true"
                ))
            })?;
            mark_written(diff, &target.file);
        }
    } else if diff.has(CONNECTION) {
        rewrite_connection(&target, o, spec).await?;
    }
    access_key::repair_permissions(&target, diff).await
}

// ---- adopt ---------------------------------------------------------------------------------

/// Taking over a password set outside the tool (`ocp-aws adopt-password`): where to reach the
/// instance, and what its secret file must hold so that the next apply finds nothing to change.
/// No `Debug`: `values` holds the password.
pub struct Adoption {
    /// The endpoint, once AWS has given the instance one.
    pub host: Option<String>,
    pub port: u16,
    /// The master user AWS reports, which the file must name.
    pub user: String,
    /// The database to connect to: the instance's initial database, else `postgres`.
    pub dbname: String,
    pub values: Map<String, Value>,
}

/// Reads the instance and builds what its secret file holds with `password`, the way `apply` writes
/// it. An instance whose password AWS manages has nothing to adopt.
pub async fn adoption(cx: &Cx<'_>, name: &str, spec: &Spec, password: &str) -> Result<Adoption, Error> {
    if spec.manage_master_user_password {
        return Err(Error::Refused(format!(
            "RDS instance {name} is set to manage_master_user_password, so AWS keeps its password; there is none to \
             adopt"
        )));
    }
    let o = describe(cx, name)
        .await?
        .ok_or_else(|| Error::Refused(format!("RDS instance {name} does not exist in {}", cx.region())))?;
    if o.password_secret_arn.is_some() {
        return Err(Error::Refused(format!(
            "AWS manages the password of RDS instance {name} in Secrets Manager; there is none to adopt (set \
             manage_master_user_password: true instead)"
        )));
    }
    let mut values = file_values(Some(&o), spec, password);
    // The file names the user AWS has, which is what the next read compares it with.
    values.insert("user".into(), json!(o.user));
    Ok(Adoption {
        host: o.host.clone(),
        port: o.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(5432),
        user: o.user.clone(),
        dbname: o.dbname.clone().unwrap_or_else(|| "postgres".into()),
        values,
    })
}

/// Whether a secret file section already holds a password or a secret's ARN.
pub fn holds_password(section: &Map<String, Value>) -> bool {
    let seen = file_seen(section);
    seen.has_password || seen.secret_arn.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: Value) -> Spec {
        serde_json::from_value(value).unwrap()
    }
    fn runbook() -> Spec {
        spec(json!({"engine": "postgres", "engine_version": "latest", "class": "db.t3.micro", "public": true,
            "security_groups": ["postgresql-anywhere"], "backups": false, "encrypted": false,
            "performance_insights": false, "secret_file": "/srv/pillar/private/analysis_db.sls"}))
    }
    fn observed() -> Observed {
        Observed {
            status: "available".into(),
            engine: "postgres".into(),
            engine_version: "17.4".into(),
            class: "db.t3.micro".into(),
            storage_gb: 20,
            storage_type: "gp2".into(),
            public: true,
            security_groups: vec!["sg-1".into()],
            wanted_groups: Some(vec!["sg-1".into()]),
            host: Some("analysis.x.us-east-1.rds.amazonaws.com".into()),
            port: Some(5432),
            user: "postgres".into(),
            dbname: Some("postgres".into()),
            sslmode: "require".into(),
            file: Some(FileSeen {
                has_password: true,
                host: Some("analysis.x.us-east-1.rds.amazonaws.com".into()),
                port: Some(5432),
                user: Some("postgres".into()),
                dbname: Some("postgres".into()),
                secret_arn: None,
            }),
            ..Observed::default()
        }
    }

    #[test]
    fn in_sync_is_empty_and_says_where_to_connect() {
        let d = DbInstance::diff("analysis", &runbook(), Some(&observed()));
        assert!(d.is_empty() && d.conflicts.is_empty(), "{d:?}");
        assert!(d.notes.iter().any(|n| n.contains("analysis.x.us-east-1")), "{:?}", d.notes);
    }

    #[test]
    fn drift_is_a_change_and_replacement_only_is_a_conflict() {
        let mut o = observed();
        o.public = false;
        o.class = "db.t3.small".into();
        o.backup_retention_days = 7;
        o.security_groups = vec!["sg-default".into()];
        o.max_storage_gb = Some(1000);
        let d = DbInstance::diff("analysis", &runbook(), Some(&o));
        for f in ["public", "class", "backups", "security_groups", "max_storage_gb"] {
            assert!(d.has(f), "{f}: {d:?}");
        }
        o.encrypted = true;
        let d = DbInstance::diff("analysis", &runbook(), Some(&o));
        assert!(d.conflicts.iter().any(|c| c.contains("replacing the instance")), "{:?}", d.conflicts);
    }

    #[test]
    fn a_pending_modification_is_reported_not_sent_again() {
        let mut o = observed();
        o.class = "db.t3.small".into();
        o.pending.insert("class".into(), json!("db.t3.micro"));
        let d = DbInstance::diff("analysis", &runbook(), Some(&o));
        assert!(!d.has("class"), "{d:?}");
        assert!(d.notes.iter().any(|n| n.contains("yet to make")), "{:?}", d.notes);
    }

    #[test]
    fn versions_latest_is_reported_pinned_minor_applied_major_refused() {
        let mut o = observed();
        o.latest = Some("17.5".into());
        let d = DbInstance::diff("analysis", &runbook(), Some(&o));
        assert!(d.is_empty() && d.notes.iter().any(|n| n.contains("17.5 is available")), "{d:?}");
        let mut pinned = runbook();
        pinned.engine_version = Some("17.5".into());
        assert!(DbInstance::diff("analysis", &pinned, Some(&o)).has("engine_version"));
        pinned.engine_version = Some("18.1".into());
        assert_eq!(DbInstance::diff("analysis", &pinned, Some(&o)).conflicts.len(), 1);
        pinned.allow_major_version_upgrade = true;
        assert!(DbInstance::diff("analysis", &pinned, Some(&o)).has("engine_version"));
        pinned.engine_version = Some("16.2".into());
        assert!(DbInstance::diff("analysis", &pinned, Some(&o)).conflicts[0].contains("downgrade"));
    }

    #[test]
    fn a_lost_file_fails_unless_rotating_and_a_new_host_is_rewritten() {
        let mut o = observed();
        o.file = None;
        let d = DbInstance::diff("analysis", &runbook(), Some(&o));
        assert!(d.conflicts[0].contains("rotate: true"), "{:?}", d.conflicts);
        let mut rotate = runbook();
        rotate.rotate = true;
        let d = DbInstance::diff("analysis", &rotate, Some(&o));
        assert_eq!(
            d.changes()["new"][PASSWORD],
            json!({"secret": "to be written to /srv/pillar/private/analysis_db.sls"})
        );
        let mut o = observed();
        o.file.as_mut().unwrap().host = None;
        assert!(DbInstance::diff("analysis", &runbook(), Some(&o)).has(CONNECTION));
        o.host = None;
        assert!(!DbInstance::diff("analysis", &runbook(), Some(&o)).has(CONNECTION), "no host yet is not a change");
    }

    #[test]
    fn a_managed_password_leaves_its_arn_in_the_file_and_switching_is_refused() {
        let mut managed = runbook();
        managed.manage_master_user_password = true;
        let mut o = observed();
        o.password_secret_arn = Some("arn:aws:secretsmanager:us-east-1:1:secret:rds!db-1".into());
        o.file = None;
        let d = DbInstance::diff("analysis", &managed, Some(&o));
        assert!(d.conflicts.is_empty() && d.has(CONNECTION), "a lost file is rewritten, no rotate needed: {d:?}");
        let v = file_values(Some(&o), &managed, o.password_secret_arn.as_deref().unwrap());
        assert!(v.get("password").is_none() && v["password_secret_arn"].as_str().unwrap().starts_with("arn:"));
        let unmanaged = DbInstance::diff("analysis", &runbook(), Some(&o));
        assert!(
            unmanaged.conflicts.iter().any(|c| c.contains("set manage_master_user_password: true")),
            "{unmanaged:?}"
        );
        o.password_secret_arn = None;
        assert_eq!(DbInstance::diff("analysis", &managed, Some(&o)).conflicts.len(), 1);
    }

    #[test]
    fn file_values_hold_the_connection_details() {
        let v = file_values(Some(&observed()), &runbook(), "pw");
        assert_eq!(
            Value::Object(v),
            json!({"host": "analysis.x.us-east-1.rds.amazonaws.com", "port": 5432, "user": "postgres",
                   "password": "pw", "dbname": "postgres", "sslmode": "require"})
        );
    }

    #[test]
    fn checks_what_aws_would_refuse() {
        let mut errors = Vec::new();
        let s = spec(json!({"engine": "mysql", "engine_version": "x", "class": "t3.micro", "storage_gb": 5,
            "backups": 40, "master_username": "1st", "secret_file": "rel.sls"}));
        DbInstance::check("Bad--Name", &s, "p", &mut errors);
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "p",
                "p.engine",
                "p.engine_version",
                "p.class",
                "p.storage_gb",
                "p.backups",
                "p.master_username",
                "p.secret_file"
            ]
        );
        let mut errors = Vec::new();
        DbInstance::check("analysis", &spec(json!({"ensure": "absent"})), "p", &mut errors);
        assert_eq!(errors[0].path, "p.final_snapshot");
        let mut errors = Vec::new();
        DbInstance::check(
            "analysis",
            &spec(json!({"ensure": "absent", "skip_final_snapshot": true})),
            "p",
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
    }
}
