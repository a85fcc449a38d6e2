//! Human-readable output of `plan` and `apply`: one line per resource, then what changes.

use std::fmt::Write;

use serde_json::Value;

use crate::aws::CallLog;
use crate::protocol::StateReturn;

/// The longest a changed value is shown before it is cut.
const MAX_VALUE: usize = 160;

pub fn human(returns: &[StateReturn], calls: &CallLog) -> String {
    let mut out = String::new();
    let (mut changed, mut pending, mut failed, mut unchanged) = (0, 0, 0, 0);
    for r in returns {
        let id = r.id.as_deref().unwrap_or(&r.name);
        let tag = match (r.result, r.has_changes()) {
            (Some(false), _) => {
                failed += 1;
                "FAILED "
            }
            (None, _) => {
                pending += 1;
                "pending"
            }
            (Some(true), true) => {
                changed += 1;
                "changed"
            }
            (Some(true), false) => {
                unchanged += 1;
                "ok     "
            }
        };
        let _ = writeln!(out, "{tag} {id}: {}", r.comment);
        for (field, old, new) in fields(&r.changes) {
            let _ = writeln!(out, "          {field}: {} -> {}", short(&old), short(&new));
        }
    }
    let _ = writeln!(
        out,
        "{} resource{}: {changed} changed, {pending} pending, {unchanged} unchanged, {failed} failed. AWS calls: {} reads, {} writes.",
        returns.len(),
        if returns.len() == 1 { "" } else { "s" },
        calls.reads(),
        calls.writes().len()
    );
    out
}

/// `(field, old, new)` for each field in a Salt `changes` value.
fn fields(changes: &Value) -> Vec<(String, Value, Value)> {
    let old = changes.get("old").cloned().unwrap_or(Value::Null);
    let new = changes.get("new").cloned().unwrap_or(Value::Null);
    let mut names: Vec<String> = Vec::new();
    for side in [&old, &new] {
        if let Value::Object(m) = side {
            names.extend(m.keys().filter(|k| !names.contains(k)).cloned().collect::<Vec<_>>());
        }
    }
    names
        .into_iter()
        .map(|n| {
            let o = old.get(&n).cloned().unwrap_or(Value::Null);
            let v = new.get(&n).cloned().unwrap_or(Value::Null);
            (n, o, v)
        })
        .collect()
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > MAX_VALUE {
        format!("{}…", s.chars().take(MAX_VALUE).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_each_resource_and_its_fields() {
        let mut r = StateReturn::new(
            "b",
            None,
            json!({"old": null, "new": {"region": "eu-west-2"}}),
            "S3 bucket b is set to be created.",
        );
        r.id = Some("s3.bucket b".into());
        let text = human(&[r, StateReturn::ok("u", "IAM user u is present.")], &CallLog::default());
        assert!(text.contains("pending s3.bucket b: S3 bucket b is set to be created."), "{text}");
        assert!(text.contains("region: - -> eu-west-2"), "{text}");
        assert!(text.contains("2 resources: 0 changed, 1 pending, 1 unchanged, 0 failed."), "{text}");
    }
}
