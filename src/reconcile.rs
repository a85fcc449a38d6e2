//! The present/absent driver every resource kind goes through:
//! read → diff (pure) → test mode? report : write → read back → report.
//!
//! Invariants kept here, once, for every kind:
//! - test mode never calls a kind's `apply` or `delete`, so it makes no write call;
//! - a diff that is empty makes no write call, so a second apply is read-only;
//! - every write is followed by a read back, and the state fails if the read back still differs;
//! - after a write, the kind's run of matching reads (`Kind::consistency`) must be seen before the
//!   write is trusted, within its budget; the no-op path reads once, as before.

use std::time::Duration;

use serde_json::{json, Value};

use crate::aws::Deadline;
use crate::error::Error;
use crate::kind::{Common, Consistency, Cx, Diff, Ensure, Exported, Kind};
use crate::protocol::StateReturn;

/// Counts reads in a row that match; a read that differs starts the count again, so that a read
/// back that shows the new value and then the old one ("flip back") is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    needed: u32,
    seen: u32,
}

impl Run {
    fn new(needed: u32) -> Self {
        Run { needed: needed.max(1), seen: 0 }
    }
    /// Records one read; true once `needed` reads in a row have matched.
    fn record(&mut self, matched: bool) -> bool {
        self.seen = if matched { self.seen.saturating_add(1) } else { 0 };
        self.complete()
    }
    fn complete(&self) -> bool {
        self.seen >= self.needed
    }
    /// Why a run that ended on a matching read is not trusted yet, as the end of a sentence.
    fn unsteady(&self, budget: Duration) -> String {
        format!(
            "AWS did not show it steadily within {}: {} of the {} reads in a row needed agreed",
            seconds(budget),
            self.seen,
            self.needed
        )
    }
}

/// The budget as people read it, after the scale tests may apply.
fn seconds(budget: Duration) -> String {
    let secs = budget.mul_f64(crate::aws::consistency_scale()).as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.2} s")
    }
}

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

/// Reads a resource with every setting managed and turns it into its Pillar entry, for `export`.
/// `None` when it is gone by now.
pub async fn export<K: Kind>(cx: &Cx<'_>, name: &str, secret_dir: &str) -> Result<Option<Exported>, Error>
where
    K::Spec: Default,
{
    let mut spec = K::Spec::default();
    spec.set_region(cx.region());
    K::manage_all(&mut spec);
    Ok(K::read(cx, name, &spec).await?.map(|observed| K::export(name, &observed, secret_dir)))
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
    let noted_before = diff.notes.clone();
    let applied = K::apply(cx, name, spec, observed.as_ref(), &mut diff).await;
    let notes = diff.notes.join(" ");
    // What the writes themselves found out (another run did the work first, say).
    let found_by_apply: Vec<String> = diff.notes.iter().filter(|n| !noted_before.contains(n)).cloned().collect();
    // Nothing left that this run changed: another run did it.
    let (verb, what) = match diff.is_empty() {
        true => ("is", String::from(" present")),
        false => (verb, what),
    };
    // After a failed write, one read shows what was done; there is nothing to wait for.
    let consistency = match applied {
        Ok(()) => K::consistency(cx.region(), &diff),
        Err(_) => Consistency { budget: Duration::ZERO, matching_reads: 1 },
    };
    let after = read_back::<K>(cx, name, spec, consistency).await;
    match (applied, after) {
        // The last read matched, but too few in a row to trust it.
        (Ok(()), Ok((after, _, run))) if after.is_empty() && run.seen > 0 && !run.complete() => {
            StateReturn::failed_with(
                name,
                diff.changes(),
                sentence([format!("{label} was written, but {}.", run.unsteady(consistency.budget)), notes]),
            )
        }
        (Ok(()), Ok((after, observed, _))) if after.is_empty() => {
            let mut notes = after.notes.clone();
            notes.extend(found_by_apply.into_iter().filter(|n| !after.notes.contains(n)));
            let notes = notes.join(" ");
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
        (Ok(()), Ok((after, _, _))) => {
            let done = diff.done(&after);
            let comment = format!(
                "{label} was written, but AWS still reports a difference in: {}.",
                if after.create { "existence".to_string() } else { after.field_names() }
            );
            StateReturn::failed_with(name, done.changes(), sentence([comment, notes]))
        }
        (Err(e), Ok((after, _, _))) => {
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

/// Reads the resource again and diffs it until `consistency.matching_reads` reads in a row match
/// or its budget is spent, with jittered pauses between reads; returns the last read and the run.
async fn read_back<K: Kind>(
    cx: &Cx<'_>,
    name: &str,
    spec: &K::Spec,
    consistency: Consistency,
) -> Result<(Diff, Option<K::Observed>, Run), Error> {
    let mut deadline = Deadline::after(consistency.budget);
    let mut run = Run::new(consistency.matching_reads);
    loop {
        let observed = K::read(cx, name, spec).await?;
        let diff = K::diff(name, spec, observed.as_ref());
        let matched = diff.is_empty() && diff.conflicts.is_empty();
        if run.record(matched) || !deadline.wait().await {
            return Ok((diff, observed, run));
        }
    }
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
    // Gone must be seen as steadily as a write: an eventually consistent read may still show it.
    let consistency = K::CONSISTENCY;
    let mut deadline = Deadline::after(consistency.budget);
    let mut run = Run::new(consistency.matching_reads);
    loop {
        let gone = match K::read(cx, name, spec).await {
            Ok(observed) => observed.is_none(),
            Err(e) => {
                return StateReturn::failed_with(
                    name,
                    changes,
                    format!("{label} deleted, but reading it back failed: {}.", reason(&e)),
                )
            }
        };
        if run.record(gone) {
            return StateReturn::new(name, Some(true), changes, format!("{label} deleted."));
        }
        if !deadline.wait().await {
            break;
        }
    }
    let comment = match run.seen {
        0 => format!("{label} was deleted, but AWS still reports it."),
        _ => format!("{label} was deleted, but {}.", run.unsteady(consistency.budget)),
    };
    StateReturn::failed_with(name, changes, comment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_needs_that_many_matching_reads_in_a_row() {
        let mut run = Run::new(3);
        assert!(!run.record(true));
        assert!(!run.record(true));
        assert!(run.record(true));
        assert!(run.complete());
    }

    #[test]
    fn a_read_that_differs_starts_the_run_again() {
        let mut run = Run::new(3);
        let reads = [true, true, false, true, true];
        assert!(reads.iter().all(|&m| !run.record(m)), "a flip back must not count towards the run");
        assert_eq!(run.seen, 2);
        assert!(run.record(true));
    }

    #[test]
    fn one_read_is_enough_when_one_is_asked_and_zero_means_one() {
        assert!(Run::new(1).record(true));
        assert!(!Run::new(1).record(false));
        assert!(!Run::new(0).complete(), "a run is never complete before any read");
        assert!(Run::new(0).record(true));
    }

    #[test]
    fn an_unsteady_run_says_how_far_it_got() {
        let mut run = Run::new(10);
        run.record(true);
        run.record(true);
        let text = run.unsteady(Duration::from_secs(180));
        assert!(text.ends_with("2 of the 10 reads in a row needed agreed"), "{text}");
    }

    #[test]
    fn budgets_read_as_whole_seconds_or_hundredths_below_one() {
        // Whatever scale the environment sets, the text shows the scaled budget.
        let scale = crate::aws::consistency_scale();
        assert_eq!(seconds(Duration::from_secs_f64(180.0 / scale)), "180 s");
        assert_eq!(seconds(Duration::from_secs_f64(1.0 / scale)), "1 s");
        assert_eq!(seconds(Duration::from_secs_f64(0.5 / scale)), "0.50 s");
        let text = Run::new(3).unsteady(Duration::from_secs_f64(60.0 / scale));
        assert_eq!(text, "AWS did not show it steadily within 60 s: 0 of the 3 reads in a row needed agreed");
    }

    #[test]
    fn sentences_skip_empty_parts_and_reasons_lose_their_period() {
        assert_eq!(
            sentence(["S3 bucket b created.".to_string(), String::new(), "Note.".to_string()]),
            "S3 bucket b created. Note."
        );
        assert_eq!(sentence([String::new()]), "");
        assert_eq!(reason(&Error::Refused("AWS said no.".into())), "AWS said no");
        assert_eq!(reason(&Error::Refused("AWS said no".into())), "AWS said no");
    }
}
