//! Access keys whose secret goes to a secret file: shared by `iam.user` (`access_key`) and
//! `ses.smtp_credentials`. The secret exists only in `CreateAccessKey`'s answer, so a key is created
//! only when the file holds no key AWS knows, written at once, and deleted again if writing fails.
//!
//! Nothing orphaned, nothing lost:
//! - from listing the user's keys to writing the file, the secret file's lock is held, so two runs
//!   (two Salt states, two `apply`s) never both create a key;
//! - `CreateAccessKey` is never retried by the SDK: a repeat makes a second key. When its outcome is
//!   unknown (no answer, a lost answer, a server error), the keys are listed again and the one that
//!   appeared meanwhile, whose secret never arrived, is deleted;
//! - keys no secret file holds are named in every run's comment until they are gone.

use aws_config::retry::RetryConfig;
use aws_sdk_iam::types::StatusType;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::aws::retry_while;
use crate::error::{aws_error, code, AwsResult, Error};
use crate::kind::{Cx, Diff};
use crate::secrets::{self, Target};

/// IAM allows two access keys per user.
const MAX_KEYS: usize = 2;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyInfo {
    pub id: String,
    pub active: bool,
}

/// The user's access keys.
pub async fn list(cx: &Cx<'_>, user: &str) -> Result<Vec<KeyInfo>, Error> {
    Ok(list_of(cx, user).await?.unwrap_or_default())
}

/// The user's access keys, or `None` when there is no such user: the listing answers both, so a
/// read needs no `GetUser` first.
pub async fn list_of(cx: &Cx<'_>, user: &str) -> Result<Option<Vec<KeyInfo>>, Error> {
    let items: Option<Vec<_>> = cx
        .iam()
        .list_access_keys()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .none_if("ListAccessKeys", &[code::NO_SUCH_ENTITY])?;
    Ok(items.map(|items| {
        items
            .iter()
            .filter_map(|k| {
                Some(KeyInfo { id: k.access_key_id()?.to_string(), active: k.status() == Some(&StatusType::Active) })
            })
            .collect()
    }))
}

/// What to do about a user's key, from the keys AWS has and the key id the secret file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The file holds a key AWS has.
    InSync,
    /// Create a key, write it, then delete these keys.
    Create { replace: Vec<String> },
    /// A person must decide; the sentence says what to do.
    Refuse(String),
}

/// The pure decision: nothing when AWS and the file agree; a new key when AWS has none; with
/// `rotate`, a new key replacing the others; otherwise a refusal that says how to recover.
pub fn plan(user: &str, file: &str, rotate: bool, keys: &[KeyInfo], in_file: Option<&str>) -> Plan {
    let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    match in_file {
        Some(id) if ids.contains(&id) => Plan::InSync,
        _ if ids.is_empty() => Plan::Create { replace: Vec::new() },
        _ if rotate && ids.len() < MAX_KEYS => Plan::Create { replace: ids.iter().map(|i| i.to_string()).collect() },
        _ if rotate => Plan::Refuse(format!(
            "IAM user {user} already has {MAX_KEYS} access keys ({}), the most AWS allows, so a new one cannot be \
             created before an old one is gone; delete one of them, then apply again.",
            ids.join(", ")
        )),
        _ => Plan::Refuse(format!(
            "IAM user {user} has access key {} but {file} holds no key for it, and AWS cannot show an existing key's \
             secret again. Set rotate: true to create a new key, write it to the file and delete the old one.",
            ids.join(" and ")
        )),
    }
}

/// Sentences about keys worth telling on every run: an inactive key in the file, a key the file names
/// that AWS no longer has, and keys no file holds (so they are noticed until they are gone).
pub fn notes(user: &str, file: &str, keys: &[KeyInfo], in_file: Option<&str>) -> Vec<String> {
    let mut notes = Vec::new();
    match in_file {
        Some(id) if keys.iter().any(|k| k.id == id) => {
            if keys.iter().any(|k| k.id == id && !k.active) {
                notes.push(format!("Access key {id} in {file} is inactive."));
            }
            let others: Vec<&str> = keys.iter().filter(|k| k.id != id).map(|k| k.id.as_str()).collect();
            if !others.is_empty() {
                notes.push(format!(
                    "IAM user {user} also has access key {}, which no secret file holds; delete it unless something \
                     else uses it.",
                    others.join(" and ")
                ));
            }
        }
        Some(stale) => notes.push(format!("{file} named access key {stale}, which AWS no longer has.")),
        None => {}
    }
    notes
}

/// Records in `d` what to do about the key (field `field`), per [`plan`] and [`notes`].
pub fn diff(
    field: &'static str,
    user: &str,
    file: &str,
    rotate: bool,
    keys: &[KeyInfo],
    in_file: Option<&str>,
    d: &mut Diff,
) {
    d.notes.extend(notes(user, file, keys, in_file));
    let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    match plan(user, file, rotate, keys, in_file) {
        Plan::InSync => {}
        Plan::Create { replace } if replace.is_empty() => d.set(field, (), pending(file)),
        Plan::Create { .. } => d.set(field, json!({"ids": ids}), pending(file)),
        Plan::Refuse(why) => d.conflicts.push(why),
    }
}

/// What a diff promises before the key exists (test mode shows it as is).
pub fn pending(file: &str) -> Value {
    json!({"secret": format!("to be written to {file}")})
}

/// Records that the secret file's mode, owner or group must be put back.
pub fn diff_permissions(drift: &[secrets::Drift], d: &mut Diff) {
    for x in drift {
        d.set(x.field, &x.old, &x.new);
    }
}

/// Puts the secret file's mode, owner and group back, under its lock, when the diff asks for it.
pub async fn repair_permissions(target: &Target, diff: &Diff) -> Result<(), Error> {
    if [secrets::MODE_FIELD, secrets::OWNER_FIELD, secrets::GROUP_FIELD].iter().any(|f| diff.has(f)) {
        let lock = target.lock().await?;
        target.repair(&lock)?;
    }
    Ok(())
}

/// Drops the key field from a diff whose apply failed before the file was written, so that `changes`
/// never say a secret was written when it was not.
pub fn forget_unwritten(diff: &mut Diff, field: &str) {
    diff.fields.retain(|f| f.field != field || f.new.get("id").is_some());
}

/// The keys that appeared between two listings.
pub fn appeared(before: &[KeyInfo], after: &[KeyInfo]) -> Vec<String> {
    after.iter().filter(|k| !before.iter().any(|b| b.id == k.id)).map(|k| k.id.clone()).collect()
}

/// Whether a failed call may still have been carried out: no answer, a lost or unreadable answer,
/// or a server error. A client error (4xx) means AWS refused it.
pub fn outcome_unknown<E>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(e) => e.raw().status().is_server_error(),
        _ => false,
    }
}

/// What the kind asked for, the way it read it: the keys it listed and the key id the file held.
pub struct Seen<'a> {
    pub keys: &'a [KeyInfo],
    pub in_file: Option<&'a str>,
}

/// Makes the key change the diff's `field` asks for, under the secret file's lock: checks that
/// neither AWS's keys nor the file changed since `seen` (another run may have just written the key),
/// creates a key, writes what `values` makes of (id, secret) to `target`, then deletes the keys it
/// replaces. The field stays in the diff (with the new key id) only once the file is written, so a
/// failure never reports a secret as written. `key_in` finds the key id in the target's mapping.
#[allow(clippy::too_many_arguments)]
pub async fn ensure<F>(
    cx: &Cx<'_>,
    user: &str,
    target: &Target,
    seen: Seen<'_>,
    key_in: fn(&Map<String, Value>) -> Option<String>,
    field: &'static str,
    diff: &mut Diff,
    values: F,
) -> Result<(), Error>
where
    F: FnOnce(&str, &str) -> Map<String, Value>,
{
    let Some(at) = diff.fields.iter().position(|f| f.field == field) else { return Ok(()) };
    let mut change = diff.fields.remove(at);
    let lock = target.lock().await?;
    let keys = list(cx, user).await?;
    let in_file = target.read()?.as_ref().and_then(key_in);
    let same_keys = keys.len() == seen.keys.len() && appeared(seen.keys, &keys).is_empty();
    let in_sync = in_file.as_ref().is_some_and(|id| keys.iter().any(|k| &k.id == id));
    if in_sync && (!same_keys || in_file.as_deref() != seen.in_file) {
        let id = in_file.unwrap_or_default();
        diff.notes.push(format!("Access key {id} was written to {} by another run meanwhile.", target.file));
        return Ok(());
    }
    if !same_keys {
        return Err(Error::Refused(format!(
            "the access keys of IAM user {user} changed while this run waited for the lock on {}; apply again",
            target.file
        )));
    }
    let iam = cx.iam();
    // No SDK retries: a repeated CreateAccessKey makes a second key. NoSuchEntity (a user created a
    // moment ago) and Throttling are AWS refusing, so asking again is safe.
    let created = retry_while(&[code::NO_SUCH_ENTITY, code::THROTTLING], || {
        iam.create_access_key()
            .user_name(user)
            .customize()
            .config_override(aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled()))
            .send()
    })
    .await;
    let created = match created {
        Ok(c) => c,
        Err(e) if outcome_unknown(&e) => {
            let cause = aws_error("CreateAccessKey", e);
            return Err(Error::Refused(format!("{cause}; {}", undo_unknown(cx, user, &keys).await)));
        }
        Err(e) => return Err(aws_error("CreateAccessKey", e)),
    };
    let key =
        created.access_key().ok_or_else(|| Error::Refused("IAM created an access key but did not return it".into()))?;
    let id = key.access_key_id().to_string();
    if let Err(e) = target.write(&lock, values(&id, key.secret_access_key())) {
        let rollback = iam.delete_access_key().user_name(user).access_key_id(&id).send().await;
        let undone = if rollback.is_ok() {
            "the new key was deleted again"
        } else {
            "deleting the new key failed too; delete it by hand"
        };
        return Err(Error::Refused(format!("{e}; {undone} ({id})")));
    }
    drop(lock);
    let mut new = change.new.as_object().cloned().unwrap_or_default();
    new.insert("id".into(), json!(id));
    new.insert("secret".into(), json!(format!("written to {}", target.file)));
    change.new = Value::Object(new);
    diff.fields.insert(at, change);
    for old in keys.iter().filter(|k| k.id != id) {
        iam.delete_access_key()
            .user_name(user)
            .access_key_id(&old.id)
            .send()
            .await
            .none_if("DeleteAccessKey", &[code::NO_SUCH_ENTITY])?;
    }
    Ok(())
}

/// After a `CreateAccessKey` whose outcome is unknown: lists the keys again and deletes the one that
/// appeared, since its secret never arrived. Says what it found and did.
async fn undo_unknown(cx: &Cx<'_>, user: &str, before: &[KeyInfo]) -> String {
    let after = match list(cx, user).await {
        Ok(a) => a,
        Err(e) => {
            return format!(
                "listing the keys afterwards failed too ({e}): check IAM user {user}'s access keys and delete any \
                 that no secret file holds"
            )
        }
    };
    match appeared(before, &after).as_slice() {
        [] => "AWS created no key; apply again".to_string(),
        [id] => match cx.iam().delete_access_key().user_name(user).access_key_id(id).send().await {
            Ok(_) => format!(
                "AWS had created access key {id} all the same, whose secret never arrived, so it was deleted again; \
                 apply again"
            ),
            Err(e) => format!(
                "AWS had created access key {id} all the same, whose secret never arrived, and deleting it failed ({}): \
                 delete it by hand",
                aws_error("DeleteAccessKey", e)
            ),
        },
        many => format!(
            "access keys {} appeared meanwhile and cannot all be this run's; delete those no secret file holds",
            many.join(", ")
        ),
    }
}

/// Deletes all of the user's keys (before deleting the user).
pub async fn delete_all(cx: &Cx<'_>, user: &str) -> Result<(), Error> {
    for key in list(cx, user).await? {
        cx.iam()
            .delete_access_key()
            .user_name(user)
            .access_key_id(key.id)
            .send()
            .await
            .none_if("DeleteAccessKey", &[code::NO_SUCH_ENTITY])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ids: &[&str]) -> Vec<KeyInfo> {
        ids.iter().map(|i| KeyInfo { id: i.to_string(), active: true }).collect()
    }
    fn run(rotate: bool, aws: &[&str], file: Option<&str>) -> Diff {
        let mut d = Diff::default();
        diff("access_key", "u", "/k.sls", rotate, &keys(aws), file, &mut d);
        d
    }

    #[test]
    fn in_sync_key_is_left_alone_even_with_rotate() {
        assert!(run(false, &["AK1"], Some("AK1")).is_empty());
        assert!(run(true, &["AK1"], Some("AK1")).is_empty());
    }

    #[test]
    fn no_key_anywhere_creates_one_and_says_it_is_yet_to_be_written() {
        let d = run(false, &[], None);
        assert_eq!(d.fields[0].new, json!({"secret": "to be written to /k.sls"}));
        let stale = run(false, &[], Some("OLD"));
        assert!(stale.has("access_key") && stale.notes[0].contains("OLD"));
    }

    #[test]
    fn lost_file_fails_unless_rotating() {
        let d = run(false, &["AK1"], None);
        assert!(d.conflicts[0].contains("rotate: true") && d.conflicts[0].contains("AK1"), "{:?}", d.conflicts);
        assert_eq!(plan("u", "/k", true, &keys(&["AK1"]), None), Plan::Create { replace: vec!["AK1".into()] });
        assert_eq!(run(true, &["AK1", "AK2"], None).conflicts.len(), 1);
    }

    #[test]
    fn a_key_no_file_holds_is_named_on_every_run() {
        let d = run(false, &["AK1", "AK2"], Some("AK1"));
        assert!(d.is_empty() && d.conflicts.is_empty());
        assert_eq!(d.notes.len(), 1);
        assert!(d.notes[0].contains("AK2") && !d.notes[0].contains("AK1"), "{:?}", d.notes);
        assert!(run(true, &["AK1", "AK2"], Some("AK2")).notes[0].contains("AK1"));
    }

    #[test]
    fn what_appeared_between_two_listings() {
        assert_eq!(appeared(&keys(&["A"]), &keys(&["A", "B"])), ["B"]);
        assert!(appeared(&keys(&["A", "B"]), &keys(&["B"])).is_empty());
        assert_eq!(appeared(&[], &keys(&["C", "D"])), ["C", "D"]);
    }

    #[test]
    fn drifted_permissions_are_changes_to_put_back() {
        let mut d = Diff::default();
        diff_permissions(&[], &mut d);
        assert!(d.is_empty());
        let drift = |field, old: &str, new: &str| secrets::Drift { field, old: old.into(), new: new.into() };
        diff_permissions(
            &[drift(secrets::MODE_FIELD, "0644", "0600"), drift(secrets::GROUP_FIELD, "0", "salt")],
            &mut d,
        );
        assert_eq!(
            d.changes(),
            json!({"old": {"secret_file_mode": "0644", "secret_file_group": "0"},
                   "new": {"secret_file_mode": "0600", "secret_file_group": "salt"}})
        );
    }
}
