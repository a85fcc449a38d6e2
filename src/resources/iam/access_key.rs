//! Access keys whose secret goes to a secret file: shared by `iam.user` (`access_key`) and
//! `ses.smtp_credentials`. The secret exists only in `CreateAccessKey`'s answer, so a key is created
//! only when the file holds no key AWS knows, written at once, and deleted again if writing fails.

use aws_sdk_iam::types::StatusType;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::aws::retry_while;
use crate::error::{AwsResult, Error};
use crate::kind::{Cx, Diff};
use crate::secrets::Target;

/// IAM allows two access keys per user.
const MAX_KEYS: usize = 2;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyInfo {
    pub id: String,
    pub active: bool,
}

/// The user's access keys.
pub async fn list(cx: &Cx<'_>, user: &str) -> Result<Vec<KeyInfo>, Error> {
    let items: Vec<_> = cx
        .iam()
        .list_access_keys()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .op("ListAccessKeys")?;
    Ok(items
        .iter()
        .filter_map(|k| {
            Some(KeyInfo { id: k.access_key_id()?.to_string(), active: k.status() == Some(&StatusType::Active) })
        })
        .collect())
}

/// Records in `d` what to do about the key (field `field`), from the keys AWS has and the key id the
/// secret file holds: nothing when they agree; a new key when AWS has none; with `rotate`, a new key
/// replacing the others; otherwise a conflict that says how to recover.
pub fn diff(
    field: &'static str,
    user: &str,
    file: &str,
    rotate: bool,
    keys: &[KeyInfo],
    in_file: Option<&str>,
    d: &mut Diff,
) {
    let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    let written = json!({"secret": format!("written to {file}")});
    match in_file {
        Some(id) if ids.contains(&id) => {
            if keys.iter().any(|k| k.id == id && !k.active) {
                d.notes.push(format!("Access key {id} in {file} is inactive."));
            }
        }
        _ if ids.is_empty() => {
            if let Some(stale) = in_file {
                d.notes.push(format!("{file} named access key {stale}, which AWS no longer has."));
            }
            d.set(field, (), written);
        }
        _ if rotate && ids.len() < MAX_KEYS => d.set(field, json!({"ids": ids}), written),
        _ if rotate => d.conflicts.push(format!(
            "IAM user {user} already has {MAX_KEYS} access keys ({}), the most AWS allows, so a new one cannot be \
             created before an old one is gone; delete one of them, then apply again.",
            ids.join(", ")
        )),
        _ => d.conflicts.push(format!(
            "IAM user {user} has access key {} but {file} holds no key for it, and AWS cannot show an existing key's \
             secret again. Set rotate: true to create a new key, write it to the file and delete the old one.",
            ids.join(" and ")
        )),
    }
}

/// Creates a key, writes what `values` makes of (id, secret) to `target`, then deletes `old` keys.
/// If the file cannot be written, the new key is deleted again, so no credential exists that nobody
/// holds. Updates the diff's `field` with the new key id. Returns the new key id.
pub async fn replace<F>(
    cx: &Cx<'_>,
    user: &str,
    target: &Target,
    old: &[KeyInfo],
    field: &'static str,
    diff: &mut Diff,
    values: F,
) -> Result<String, Error>
where
    F: FnOnce(&str, &str) -> Map<String, Value>,
{
    let iam = cx.iam();
    let created = retry_while(&["NoSuchEntity"], || iam.create_access_key().user_name(user).send())
        .await
        .op("CreateAccessKey")?;
    let key =
        created.access_key().ok_or_else(|| Error::Refused("IAM created an access key but did not return it".into()))?;
    let id = key.access_key_id().to_string();
    let written = {
        let _lock = cx.secret_lock().await;
        target.write(values(&id, key.secret_access_key()))
    };
    if let Err(e) = written {
        let rollback = iam.delete_access_key().user_name(user).access_key_id(&id).send().await;
        let undone = if rollback.is_ok() {
            "the new key was deleted again"
        } else {
            "deleting the new key failed too; delete it by hand"
        };
        return Err(Error::Refused(format!("{e}; {undone} ({id})")));
    }
    for k in old {
        iam.delete_access_key()
            .user_name(user)
            .access_key_id(&k.id)
            .send()
            .await
            .none_if("DeleteAccessKey", &["NoSuchEntity"])?;
    }
    if let Some(f) = diff.fields.iter_mut().find(|f| f.field == field) {
        f.new = json!({"id": id, "secret": format!("written to {}", target.file)});
    }
    Ok(id)
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
            .none_if("DeleteAccessKey", &["NoSuchEntity"])?;
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
    fn no_key_anywhere_creates_one() {
        assert!(run(false, &[], None).has("access_key"));
        let stale = run(false, &[], Some("OLD"));
        assert!(stale.has("access_key") && stale.notes[0].contains("OLD"));
    }

    #[test]
    fn lost_file_fails_unless_rotating() {
        let d = run(false, &["AK1"], None);
        assert!(d.conflicts[0].contains("rotate: true"), "{:?}", d.conflicts);
        assert!(run(true, &["AK1"], None).has("access_key"));
        assert_eq!(run(true, &["AK1", "AK2"], None).conflicts.len(), 1);
    }
}
