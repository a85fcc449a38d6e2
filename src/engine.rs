//! The present/absent driver every resource kind goes through:
//! read → diff (pure) → test mode? report : write → read back → report.
//!
//! Invariants kept here, once, for every kind:
//! - test mode never calls a kind's `apply` or `delete`, so it makes no write call;
//! - a diff that is empty makes no write call, so a second apply is read-only;
//! - every write is followed by a read back, and the state fails if the read back still differs;
//! - a resource whose dependency failed is skipped, the way Salt skips a failed requisite.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::sync::{Mutex, MutexGuard, OnceCell};

use crate::aws::{CallLog, Clients, Connection};
use crate::error::{AwsResult, Error, Invalid};
use crate::pillar::{Ensure, Node};
use crate::protocol::StateReturn;
use crate::secrets;

/// One kind of AWS resource. Each implementation lives in its own file under `resources/`,
/// with its parts in this order: spec, read, diff, apply, delete.
#[allow(async_fn_in_trait)]
pub trait Kind {
    /// The kind's id in requests and reports, e.g. `s3.bucket`.
    const KIND: &'static str;
    /// Where the kind sits in the `ocp_aws` Pillar, e.g. `s3.buckets`.
    const PILLAR: &'static str;
    /// The words comments use for it, e.g. `S3 bucket`.
    const NOUN: &'static str;
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
    /// Secret files the resource writes, with the field that names each (relative to the resource).
    fn secret_files(_spec: &Self::Spec) -> Vec<(String, secrets::Target)> {
        Vec::new()
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
        impl $crate::engine::Common for $spec {
            fn ensure(&self) -> $crate::pillar::Ensure {
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
    fn field_names(&self) -> String {
        self.fields.iter().map(|f| f.field).collect::<Vec<_>>().join(", ")
    }
    /// Salt's `changes`: `{}` when nothing differs, else `old`/`new` with only the differing fields.
    fn changes(&self) -> Value {
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
    fn done(&self, after: &Diff) -> Diff {
        let mut done = self.clone();
        if after.create {
            return Diff::default();
        }
        done.fields.retain(|f| !after.has(f.field));
        done
    }
}

/// Holds everything the resources of one run share: clients, the test flag, the call log.
pub struct Engine {
    clients: Clients,
    test: bool,
    log: CallLog,
    account: OnceCell<String>,
    secrets: Mutex<()>,
    concurrency: usize,
}

/// How many resources one process converges at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

impl Engine {
    /// Loads the SDK configuration and makes sure credentials can be found, so that a missing
    /// credential is one clear error rather than one per resource.
    pub async fn new(conn: &Connection, test: bool) -> Result<Self, Error> {
        let log = CallLog::default();
        let clients = Clients::new(conn, log.clone()).await?;
        clients.check_credentials().await?;
        Ok(Engine {
            clients,
            test,
            log,
            account: OnceCell::new(),
            secrets: Mutex::new(()),
            concurrency: DEFAULT_CONCURRENCY,
        })
    }

    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The AWS operations this engine has started so far.
    pub fn calls(&self) -> &CallLog {
        &self.log
    }

    pub fn cx<'a>(&'a self, region: &'a str) -> Cx<'a> {
        Cx { engine: self, region }
    }

    /// Converges one resource.
    pub async fn converge_one(&self, node: &Node) -> StateReturn {
        node.spec.converge(&self.cx(&node.region), &node.name, node.ensure).await
    }

    /// Converges all nodes: independent ones concurrently (at most `concurrency` at a time),
    /// each only after the nodes it depends on. Returns one state return per node, in node order.
    pub async fn converge_all(&self, nodes: &[Node]) -> Vec<StateReturn> {
        let mut results: Vec<Option<StateReturn>> = vec![None; nodes.len()];
        let mut waiting: Vec<usize> = nodes.iter().map(|n| n.deps.len()).collect();
        let mut dependants: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            for &d in &n.deps {
                dependants.entry(d).or_default().push(i);
            }
        }
        let mut ready: Vec<usize> = (0..nodes.len()).filter(|&i| waiting[i] == 0).rev().collect();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < self.concurrency {
                let Some(i) = ready.pop() else { break };
                let failed: Vec<String> = nodes[i]
                    .deps
                    .iter()
                    .filter(|&&d| results[d].as_ref().is_some_and(|r| r.result == Some(false)))
                    .map(|&d| nodes[d].id())
                    .collect();
                if failed.is_empty() {
                    running.push(async move { (i, self.converge_one(&nodes[i]).await) });
                } else {
                    let comment = format!("One or more requisite failed: {}.", failed.join(", "));
                    self.finish(
                        nodes,
                        i,
                        StateReturn::failed(&nodes[i].name, comment),
                        &mut results,
                        &mut waiting,
                        &dependants,
                        &mut ready,
                    );
                }
            }
            match running.next().await {
                Some((i, ret)) => self.finish(nodes, i, ret, &mut results, &mut waiting, &dependants, &mut ready),
                None if ready.is_empty() => break,
                None => {}
            }
        }
        results.into_iter().map(|r| r.expect("every node finishes")).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        nodes: &[Node],
        i: usize,
        mut ret: StateReturn,
        results: &mut [Option<StateReturn>],
        waiting: &mut [usize],
        dependants: &BTreeMap<usize, Vec<usize>>,
        ready: &mut Vec<usize>,
    ) {
        ret.id = Some(nodes[i].id());
        results[i] = Some(ret);
        for &j in dependants.get(&i).into_iter().flatten() {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                // Keep node order among ready nodes: `ready` pops from the end.
                let at = ready.partition_point(|&r| r > j);
                ready.insert(at, j);
            }
        }
    }
}

/// What a kind sees of the engine while it works on one resource in one region.
pub struct Cx<'a> {
    engine: &'a Engine,
    region: &'a str,
}

impl Cx<'_> {
    pub fn region(&self) -> &str {
        self.region
    }
    pub fn test(&self) -> bool {
        self.engine.test
    }
    pub fn s3(&self) -> aws_sdk_s3::Client {
        self.engine.clients.region(self.region).s3.clone()
    }
    pub fn iam(&self) -> aws_sdk_iam::Client {
        self.engine.clients.region(self.region).iam.clone()
    }
    pub fn sesv2(&self) -> aws_sdk_sesv2::Client {
        self.engine.clients.region(self.region).sesv2.clone()
    }
    /// The account id of the caller, asked of STS once per process.
    pub async fn account_id(&self) -> Result<String, Error> {
        let sts = self.engine.clients.region(self.region).sts.clone();
        self.engine
            .account
            .get_or_try_init(|| async move {
                let me = sts.get_caller_identity().send().await.op("GetCallerIdentity")?;
                me.account
                    .ok_or_else(|| Error::Refused("STS did not say which account the credentials belong to".into()))
            })
            .await
            .cloned()
    }
    /// Serialises writes to secret files within the process (several resources may share a file).
    pub async fn secret_lock(&self) -> MutexGuard<'_, ()> {
        self.engine.secrets.lock().await
    }
}

/// How often and how long a read back is repeated while AWS catches up (IAM, SES are eventually consistent).
const READ_BACK_DELAYS: [Duration; 4] =
    [Duration::from_millis(0), Duration::from_millis(500), Duration::from_secs(2), Duration::from_secs(5)];

/// Brings one resource to `ensure`.
pub async fn converge<K: Kind>(cx: &Cx<'_>, name: &str, spec: &K::Spec, ensure: Ensure) -> StateReturn {
    match ensure {
        Ensure::Present => present::<K>(cx, name, spec).await,
        Ensure::Absent => absent::<K>(cx, name, spec).await,
    }
}

/// Reads a resource for the `describe` execution function.
pub async fn describe<K: Kind>(cx: &Cx<'_>, name: &str, spec: &K::Spec) -> Result<Value, Error>
where
    K::Spec: Clone,
{
    let mut spec = spec.clone();
    K::manage_all(&mut spec);
    let observed = K::read(cx, name, &spec).await?;
    Ok(serde_json::to_value(observed).unwrap_or(Value::Null))
}

/// An error as the end of a sentence: without its own final period, which the caller adds.
fn reason(e: &Error) -> String {
    e.to_string().trim_end_matches('.').to_string()
}

fn sentence(parts: impl IntoIterator<Item = String>) -> String {
    parts.into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

async fn present<K: Kind>(cx: &Cx<'_>, name: &str, spec: &K::Spec) -> StateReturn {
    let label = format!("{} {}", K::NOUN, name);
    let observed = match K::read(cx, name, spec).await {
        Ok(o) => o,
        Err(e) => return StateReturn::failed(name, format!("Failed to read {label}: {}.", reason(&e))),
    };
    let mut diff = K::diff(name, spec, observed.as_ref());
    let notes = diff.notes.join(" ");
    if !diff.conflicts.is_empty() {
        return StateReturn::failed(name, sentence([diff.conflicts.join(" "), notes]));
    }
    if diff.is_empty() {
        return match settle::<K>(cx, name, spec, observed.as_ref(), &notes).await {
            Ok(notes) => StateReturn::ok(name, sentence([format!("{label} is present."), notes])),
            Err(e) => StateReturn::failed(name, sentence([format!("{label} is present, but {}.", reason(&e)), notes])),
        };
    }
    let verb = if diff.create { "created" } else { "updated" };
    let what = if diff.create { String::new() } else { format!(" ({})", diff.field_names()) };
    if cx.test() {
        let comment = sentence([format!("{label} is set to be {verb}{what}."), notes]);
        return StateReturn::new(name, None, diff.changes(), comment);
    }
    let applied = K::apply(cx, name, spec, observed.as_ref(), &mut diff).await;
    let notes = diff.notes.join(" ");
    let after = read_back::<K>(cx, name, spec, applied.is_ok()).await;
    match (applied, after) {
        (Ok(()), Ok((after, observed))) if after.is_empty() => {
            let notes = after.notes.join(" ");
            match settle::<K>(cx, name, spec, observed.as_ref(), &notes).await {
                Ok(notes) => StateReturn::new(
                    name,
                    Some(true),
                    diff.changes(),
                    sentence([format!("{label} {verb}{what}."), notes]),
                ),
                Err(e) => StateReturn::failed_with(
                    name,
                    diff.changes(),
                    sentence([format!("{label} {verb}{what}, but {}.", reason(&e)), notes]),
                ),
            }
        }
        (Ok(()), Ok((after, _))) => {
            let done = diff.done(&after);
            let comment = format!(
                "{label} was written, but AWS still reports a difference in: {}.",
                if after.create { "existence".to_string() } else { after.field_names() }
            );
            StateReturn::failed_with(name, done.changes(), sentence([comment, notes]))
        }
        (Err(e), Ok((after, _))) => {
            let done = diff.done(&after);
            let failed = if diff.create && after.create { "create" } else { "update" };
            StateReturn::failed_with(
                name,
                done.changes(),
                sentence([format!("Failed to {failed} {label}: {}.", reason(&e)), notes]),
            )
        }
        (Ok(()), Err(e)) => StateReturn::failed_with(
            name,
            diff.changes(),
            sentence([format!("{label} {verb}{what}, but reading it back failed: {}.", reason(&e)), notes]),
        ),
        (Err(e), Err(_)) => {
            StateReturn::failed(name, sentence([format!("Failed to change {label}: {}.", reason(&e)), notes]))
        }
    }
}

/// Runs the kind's `settle` (never in test mode) and returns the notes to report: those of what it
/// read last if it waited, else `notes`.
async fn settle<K: Kind>(
    cx: &Cx<'_>,
    name: &str,
    spec: &K::Spec,
    observed: Option<&K::Observed>,
    notes: &str,
) -> Result<String, Error> {
    let Some(o) = observed.filter(|_| !cx.test()) else { return Ok(notes.to_string()) };
    Ok(match K::settle(cx, name, spec, o).await? {
        Some(settled) => K::diff(name, spec, Some(&settled)).notes.join(" "),
        None => notes.to_string(),
    })
}

/// Reads the resource again and diffs it. After a successful write, a difference is retried with
/// short delays, since AWS may take a moment to show what it accepted.
async fn read_back<K: Kind>(
    cx: &Cx<'_>,
    name: &str,
    spec: &K::Spec,
    wrote: bool,
) -> Result<(Diff, Option<K::Observed>), Error> {
    let attempts = if wrote { READ_BACK_DELAYS.len() } else { 1 };
    let mut last = (Diff::default(), None);
    for delay in READ_BACK_DELAYS.iter().take(attempts) {
        tokio::time::sleep(*delay).await;
        let observed = K::read(cx, name, spec).await?;
        let diff = K::diff(name, spec, observed.as_ref());
        let settled = diff.is_empty() && diff.conflicts.is_empty();
        last = (diff, observed);
        if settled {
            break;
        }
    }
    Ok(last)
}

async fn absent<K: Kind>(cx: &Cx<'_>, name: &str, spec: &K::Spec) -> StateReturn {
    let label = format!("{} {}", K::NOUN, name);
    let observed = match K::read(cx, name, spec).await {
        Ok(Some(o)) => o,
        Ok(None) => return StateReturn::ok(name, format!("{label} is absent.")),
        Err(e) => return StateReturn::failed(name, format!("Failed to read {label}: {}.", reason(&e))),
    };
    let changes = json!({"old": serde_json::to_value(&observed).unwrap_or(Value::Null), "new": null});
    if cx.test() {
        return StateReturn::new(name, None, changes, format!("{label} is set to be deleted."));
    }
    if let Err(e) = K::delete(cx, name, spec, &observed).await {
        return StateReturn::failed(name, format!("Failed to delete {label}: {}.", reason(&e)));
    }
    for delay in READ_BACK_DELAYS {
        tokio::time::sleep(delay).await;
        match K::read(cx, name, spec).await {
            Ok(None) => return StateReturn::new(name, Some(true), changes, format!("{label} deleted.")),
            Ok(Some(_)) => continue,
            Err(e) => {
                return StateReturn::failed_with(
                    name,
                    changes,
                    format!("{label} deleted, but reading it back failed: {}.", reason(&e)),
                )
            }
        }
    }
    StateReturn::failed_with(name, changes, format!("{label} was deleted, but AWS still reports it."))
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
}
