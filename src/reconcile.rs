//! The present/absent driver every resource kind goes through:
//! read → diff (pure) → test mode? report : write → read back → report.
//!
//! Invariants kept here, once, for every kind:
//! - test mode never calls a kind's `apply` or `delete`, so it makes no write call;
//! - a diff that is empty makes no write call, so a second apply is read-only;
//! - every write is followed by a read back, and the state fails if the read back still differs.

use std::time::Duration;

use serde_json::{json, Value};

use crate::error::Error;
use crate::kind::{Cx, Diff, Ensure, Kind};
use crate::protocol::StateReturn;

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
