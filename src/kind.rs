//! The contract between the driver and each resource kind: the `Kind` trait, the settings every
//! kind shares (`Ensure`, `Common`), what a diff is, references between resources, and `Cx`, what a
//! kind sees while it works. This module sits below `resources/`, `reconcile`, `pillar` and `engine`,
//! and imports none of them.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::OnceCell;

use crate::aws::Clients;
use crate::error::{AwsResult, Error, Invalid};
use crate::secrets;

/// Whether a resource should exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ensure {
    /// The resource exists and matches its settings (the default).
    #[default]
    Present,
    /// The resource does not exist; it is deleted if found.
    Absent,
}

/// One kind of AWS resource. Each implementation lives in its own file under `resources/`,
/// with its parts in this order: spec, read, diff, apply, delete.
#[allow(async_fn_in_trait)]
pub trait Kind {
    /// The kind's id in requests and reports, e.g. `s3.bucket`.
    const KIND: &'static str;
    /// The words comments use for it, e.g. `S3 bucket`.
    const NOUN: &'static str;
    /// The kinds its resources may reference (`refs`). Deleting runs the other way: a resource is
    /// deleted before the resources of these kinds.
    const REFERS_TO: &'static [&'static str] = &[];
    /// How long AWS may take to show this kind's writes, and how many reads in a row must show them.
    const CONSISTENCY: Consistency = Consistency::DEFAULT;
    /// The Pillar settings of one resource.
    type Spec: Common;
    /// What AWS reports about one resource, as far as the tool manages it.
    type Observed: Serialize;

    /// Checks AWS would make, made before any AWS call. `path` is the resource's Pillar path.
    fn check(_name: &str, _spec: &Self::Spec, _path: &str, _errors: &mut Vec<Invalid>) {}
    /// Other resources this one names, which must exist in Pillar and be handled first.
    fn refs(_spec: &Self::Spec) -> Vec<Ref> {
        Vec::new()
    }
    /// Resources this one uses when the Pillar has them, for ordering only: unlike `refs`, one that
    /// is not in Pillar is no error (the resource then makes do without it).
    fn uses(_spec: &Self::Spec) -> Vec<Ref> {
        Vec::new()
    }
    /// Told that `from`, a present resource of the same Pillar, refers to this one. A kind whose AWS
    /// settings depend on who refers to it (an SNS topic's policy lets the SES senders that use it
    /// publish) records it in its spec and in its Pillar `params`, so that the resource run alone (a
    /// Salt state) knows it too. An error is a sentence about the reference.
    fn referenced_by(_spec: &mut Self::Spec, _params: &mut Value, _from: &Referrer) -> Result<(), String> {
        Ok(())
    }
    /// The AWS object a resource named `name` in `region` is, so that one object managed by two Pillar
    /// entries (of one kind or of two) is refused. Kinds whose objects share a namespace, or whose
    /// names AWS compares without case, say so here.
    fn identity(name: &str, region: &str) -> String {
        format!("{} {name} in {region}", Self::KIND)
    }
    /// Secret files the resource writes, with the field that names each (relative to the resource).
    fn secret_files(_spec: &Self::Spec) -> Vec<(String, secrets::Target)> {
        Vec::new()
    }
    /// What to wait for after writing `diff` in `region`. Kinds whose writes settle differently
    /// depending on what was written, or where, say so here; the others use [`Kind::CONSISTENCY`].
    fn consistency(_region: &str, _diff: &Diff) -> Consistency {
        Self::CONSISTENCY
    }
    /// Marks every optional setting as managed, so that `read` reports all of it (for `describe`).
    fn manage_all(_spec: &mut Self::Spec) {}
    /// Reads the resource. Not found is `Ok(None)`, never an error.
    async fn read(cx: &Cx<'_>, name: &str, spec: &Self::Spec) -> Result<Option<Self::Observed>, Error>;
    /// What must change to reach `spec` from `observed`. Pure; only fields the spec sets count.
    fn diff(name: &str, spec: &Self::Spec, observed: Option<&Self::Observed>) -> Diff;
    /// Makes the changes `diff` lists (creating the resource when `observed` is `None`).
    async fn apply(
        cx: &Cx<'_>,
        name: &str,
        spec: &Self::Spec,
        observed: Option<&Self::Observed>,
        diff: &mut Diff,
    ) -> Result<(), Error>;
    /// Waits, when the spec asks for it, until AWS has finished with the resource (a verification,
    /// say), with progress on stderr and a bounded timeout. Returns what it read last, if it waited.
    /// Never called in test mode.
    async fn settle(
        _cx: &Cx<'_>,
        _name: &str,
        _spec: &Self::Spec,
        _observed: &Self::Observed,
    ) -> Result<Option<Self::Observed>, Error> {
        Ok(None)
    }
    /// Deletes the resource.
    async fn delete(cx: &Cx<'_>, name: &str, spec: &Self::Spec, observed: &Self::Observed) -> Result<(), Error>;

    // ---- export ----

    /// IAM's kinds are global: `export` lists them once, not once per region.
    const GLOBAL: bool = false;
    /// The resources of this kind that exist in `cx`'s region (every page of every listing), and
    /// those the tool does not manage, each with why.
    async fn list(cx: &Cx<'_>) -> Result<Listed, Error>;
    /// The Pillar entry for what `read` returned with every setting managed (`manage_all`). Pure.
    /// `secret_dir` is where placeholders put the secret files AWS cannot fill.
    fn export(name: &str, observed: &Self::Observed, secret_dir: &str) -> Exported;
}

/// What a kind's `list` found in one region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listed {
    /// The names of the resources to export.
    pub names: Vec<String>,
    /// Resources left out, each as a sentence saying what and why.
    pub skipped: Vec<String>,
}

impl Listed {
    /// Sorted names, as a listing's pages arrive in no promised order.
    pub fn of(mut names: Vec<String>) -> Self {
        names.sort();
        names.dedup();
        Listed { names, skipped: Vec::new() }
    }
}

/// One resource as `export` writes it into Pillar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exported {
    /// The resource's settings, in Pillar's vocabulary.
    pub value: Map<String, Value>,
    /// Write the entry commented out: it can be used only once someone fills in what AWS cannot
    /// show (a password file), as `comments` say.
    pub commented: bool,
    /// Comment lines written with the entry: placeholders, and what to fill in.
    pub comments: Vec<String>,
    /// Sentences for stderr: settings left out because Pillar cannot say them.
    pub notes: Vec<String>,
    /// The id other resources' settings name it by (a security group's `sg-...`), which export
    /// replaces with its Pillar name in the entries of its region.
    pub id: Option<String>,
}

impl Exported {
    /// Sets `field` to `value`.
    pub fn set(&mut self, field: &str, value: impl Serialize) {
        self.value.insert(field.to_string(), serde_json::to_value(value).unwrap_or(Value::Null));
    }
}

/// How long AWS may take to show a write everywhere, and how many reads in a row must show it before
/// the tool trusts it. Real AWS is eventually consistent: one read that matches may come from a
/// replica that has the change, and the next from one that has not (a "flip back").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consistency {
    /// How long to keep reading back after a write (and after a delete) before the state fails.
    /// Shortened in tests by `OCP_AWS_CONSISTENCY_SCALE` (see `aws::consistency_scale`).
    pub budget: Duration,
    /// Reads in a row that must all match the spec; a read that differs starts the count again.
    pub matching_reads: u32,
}

impl Consistency {
    /// A minute, and one matching read: for services that show a write soon after accepting it.
    pub const DEFAULT: Consistency = Consistency { budget: Duration::from_secs(60), matching_reads: 1 };
}

/// The settings every kind has.
pub trait Common {
    fn ensure(&self) -> Ensure;
    fn region(&self) -> Option<&str>;
    /// Fills in the region resolved from the Pillar or connection default.
    fn set_region(&mut self, region: &str);
}

/// Implements [`Common`] for a spec with `ensure` and `region` fields.
#[macro_export]
macro_rules! common_spec {
    ($spec:ty) => {
        impl $crate::kind::Common for $spec {
            fn ensure(&self) -> $crate::kind::Ensure {
                self.ensure
            }
            fn region(&self) -> Option<&str> {
                self.region.as_deref()
            }
            fn set_region(&mut self, region: &str) {
                self.region.get_or_insert_with(|| region.to_string());
            }
        }
    };
}

/// A reference from one resource to another, by kind and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub kind: &'static str,
    pub name: String,
    /// The referring field, relative to the resource, e.g. `policies[0]`.
    pub field: String,
}

/// The resource a reference comes from, as [`Kind::referenced_by`] is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub kind: &'static str,
    pub name: String,
    pub region: String,
}

/// One managed field that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Value,
    pub new: Value,
}

/// The outcome of a kind's pure diff.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// The resource does not exist and will be created.
    pub create: bool,
    /// Managed fields that differ (for a creation: the fields that will be set).
    pub fields: Vec<FieldChange>,
    /// Differences the tool must not resolve by itself; any of them fails the state.
    pub conflicts: Vec<String>,
    /// Sentences worth telling the user, whatever the outcome.
    pub notes: Vec<String>,
}

impl Diff {
    pub fn creating() -> Self {
        Diff { create: true, ..Diff::default() }
    }
    /// Records a field change.
    pub fn set(&mut self, field: &'static str, old: impl Serialize, new: impl Serialize) {
        let old = serde_json::to_value(old).unwrap_or(Value::Null);
        let new = serde_json::to_value(new).unwrap_or(Value::Null);
        self.fields.push(FieldChange { field, old, new });
    }
    /// Records a change of `field` when the desired value is given and differs from the observed one.
    pub fn compare<T: PartialEq + Serialize>(&mut self, field: &'static str, desired: Option<&T>, observed: &T) {
        if let Some(d) = desired {
            if d != observed {
                self.set(field, observed, d);
            }
        }
    }
    pub fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f.field == field)
    }
    pub fn is_empty(&self) -> bool {
        !self.create && self.fields.is_empty()
    }
    pub(crate) fn field_names(&self) -> String {
        self.fields.iter().map(|f| f.field).collect::<Vec<_>>().join(", ")
    }
    /// Salt's `changes`: `{}` when nothing differs, else `old`/`new` with only the differing fields.
    pub(crate) fn changes(&self) -> Value {
        if self.is_empty() {
            return json!({});
        }
        let new: Map<String, Value> = self.fields.iter().map(|f| (f.field.to_string(), f.new.clone())).collect();
        if self.create {
            return json!({"old": null, "new": new});
        }
        let old: Map<String, Value> = self.fields.iter().map(|f| (f.field.to_string(), f.old.clone())).collect();
        json!({"old": old, "new": new})
    }
    /// The part of `self` that is no longer pending in `after` (a diff taken after writing).
    pub(crate) fn done(&self, after: &Diff) -> Diff {
        let mut done = self.clone();
        if after.create {
            return Diff::default();
        }
        done.fields.retain(|f| !after.has(f.field));
        done
    }
}

/// What every resource of one run shares: the clients, the test flag and the caller's account id
/// (asked once). Secret files need no lock here: each has its own file lock, which tasks of one
/// process respect as other processes do (`secrets::Target::lock`).
pub struct Shared {
    clients: Clients,
    test: bool,
    account: OnceCell<String>,
    nameservers: Vec<std::net::SocketAddr>,
}

impl Shared {
    pub fn new(clients: Clients, test: bool) -> Self {
        Shared { clients, test, account: OnceCell::new(), nameservers: Vec::new() }
    }
    /// The nameservers the run's DNS lookups ask (none: the system's resolver).
    pub fn set_nameservers(&mut self, nameservers: Vec<std::net::SocketAddr>) {
        self.nameservers = nameservers;
    }
    /// What a kind sees while it works on one resource in `region`.
    pub fn cx<'a>(&'a self, region: &'a str) -> Cx<'a> {
        Cx { shared: self, region }
    }
}

/// What a kind sees of the run while it works on one resource in one region.
pub struct Cx<'a> {
    shared: &'a Shared,
    region: &'a str,
}

impl Cx<'_> {
    pub fn region(&self) -> &str {
        self.region
    }
    pub fn test(&self) -> bool {
        self.shared.test
    }
    /// The nameservers DNS lookups ask; empty for the system's resolver.
    pub fn nameservers(&self) -> &[std::net::SocketAddr] {
        &self.shared.nameservers
    }
    pub fn s3(&self) -> aws_sdk_s3::Client {
        self.shared.clients.region(self.region).s3.clone()
    }
    pub fn iam(&self) -> aws_sdk_iam::Client {
        self.shared.clients.region(self.region).iam.clone()
    }
    pub fn sesv2(&self) -> aws_sdk_sesv2::Client {
        self.shared.clients.region(self.region).sesv2.clone()
    }
    /// SES v1, for what SES v2 has no call for (identity notification settings).
    pub fn ses(&self) -> aws_sdk_ses::Client {
        self.shared.clients.region(self.region).ses.clone()
    }
    pub fn sns(&self) -> aws_sdk_sns::Client {
        self.shared.clients.region(self.region).sns.clone()
    }
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        self.shared.clients.region(self.region).ec2.clone()
    }
    pub fn rds(&self) -> aws_sdk_rds::Client {
        self.shared.clients.region(self.region).rds.clone()
    }
    /// The account id of the caller, asked of STS once per process.
    pub async fn account_id(&self) -> Result<String, Error> {
        let sts = self.shared.clients.region(self.region).sts.clone();
        self.shared
            .account
            .get_or_try_init(|| async move {
                let me = sts.get_caller_identity().send().await.op("GetCallerIdentity")?;
                me.account
                    .ok_or_else(|| Error::Refused("STS did not say which account the credentials belong to".into()))
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_hold_only_differing_fields() {
        let mut d = Diff::default();
        d.compare("a", Some(&1), &1);
        d.compare("b", Some(&2), &1);
        d.compare::<i32>("c", None, &1);
        assert_eq!(d.changes(), json!({"old": {"b": 1}, "new": {"b": 2}}));
    }

    #[test]
    fn empty_diff_means_no_changes() {
        assert_eq!(Diff::default().changes(), json!({}));
        assert!(Diff::default().is_empty());
        assert!(!Diff::creating().is_empty());
    }

    #[test]
    fn done_is_what_is_no_longer_pending() {
        let mut before = Diff::default();
        before.set("a", 1, 2);
        before.set("b", 1, 2);
        let mut after = Diff::default();
        after.set("b", 1, 2);
        assert_eq!(before.done(&after).changes(), json!({"old": {"a": 1}, "new": {"a": 2}}));
        assert!(before.done(&Diff::creating()).is_empty());
    }

    #[test]
    fn a_creation_has_no_old_values_and_names_its_fields_in_order() {
        let mut d = Diff::creating();
        d.set("region", (), "eu-west-2");
        d.set("lifecycle", (), [1]);
        assert_eq!(d.changes(), json!({"old": null, "new": {"region": "eu-west-2", "lifecycle": [1]}}));
        assert_eq!(d.field_names(), "region, lifecycle");
        assert!(d.has("lifecycle") && !d.has("policies"));
        assert!(!Diff::default().has("region"));
        assert_eq!(Diff::default().field_names(), "");
    }

    #[test]
    fn a_diff_with_fields_is_not_empty_even_when_not_creating() {
        let mut d = Diff::default();
        d.set("a", 1, 2);
        assert!(!d.is_empty());
        let mut notes_only = Diff::default();
        notes_only.notes.push("Sending: enabled.".into());
        assert!(notes_only.is_empty(), "notes are not changes");
    }
}
