//! IAM kinds, and the policy-document handling they share.
pub mod access_key;
pub mod document;
pub mod group;
pub mod policy;
pub mod user;

use crate::error::{code, AwsResult, Error};
use crate::kind::Cx;

/// IAM compares user, group and policy names without case: `U1` and `u1` are one user. An SMTP
/// user is an IAM user too.
pub fn identity(what: &str, name: &str) -> String {
    format!("IAM {what} {}", name.to_lowercase())
}

/// The ARN of a customer-managed policy named in Pillar, or the ARN given as is.
pub async fn policy_arn(cx: &Cx<'_>, name_or_arn: &str) -> Result<String, Error> {
    if name_or_arn.starts_with("arn:") {
        return Ok(name_or_arn.to_string());
    }
    let partition = crate::aws::partition(cx.region());
    Ok(format!("arn:{partition}:iam::{}:policy/{name_or_arn}", cx.account_id().await?))
}

/// A policy reference is either an ARN (used as is) or the name of a policy in Pillar.
pub fn policy_refs(policies: &[String], field: &str) -> Vec<crate::kind::Ref> {
    policies
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.starts_with("arn:"))
        .map(|(i, p)| crate::kind::Ref { kind: "iam.policy", name: p.clone(), field: format!("{field}[{i}]") })
        .collect()
}

/// A policy reference that starts with `arn:` must be a whole policy ARN: AWS would refuse it
/// at the first attachment, after other work was done.
pub fn check_policy_arns(policies: &[String], path: &str, errors: &mut Vec<crate::error::Invalid>) {
    for (i, p) in policies.iter().enumerate().filter(|(_, p)| p.starts_with("arn:")) {
        crate::validate::policy_arn(p, &format!("{path}.policies[{i}]"), errors);
    }
}

/// How a policy reference is compared: a policy of this account at path `/` by its name, any
/// other (AWS-managed, another account's, one with a path) by its ARN. Pure, so diffs need no account id.
pub fn policy_key(name_or_arn: &str) -> String {
    let parts: Vec<&str> = name_or_arn.splitn(6, ':').collect();
    if let [_arn, _partition, "iam", "", account, resource] = parts.as_slice() {
        if account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) {
            if let Some(name) = resource.strip_prefix("policy/").filter(|n| !n.contains('/')) {
                return name.to_string();
            }
        }
    }
    name_or_arn.to_string()
}

/// The sorted, de-duplicated comparison keys of a list of policy references.
pub fn policy_keys<'a>(refs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    sorted(refs.into_iter().map(policy_key))
}

pub fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

/// What to add to and remove from `have` to get `want`.
pub fn add_remove(want: &[String], have: &[String]) -> (Vec<String>, Vec<String>) {
    let add = want.iter().filter(|w| !have.contains(w)).cloned().collect();
    let remove = have.iter().filter(|h| !want.contains(h)).cloned().collect();
    (add, remove)
}

/// Attaches and detaches managed policies so that exactly `want` (comparison keys) is attached.
pub async fn sync_policies<A, D>(
    cx: &Cx<'_>,
    want: &[String],
    have: &[String],
    mut attach: A,
    mut detach: D,
) -> Result<(), Error>
where
    A: AsyncFnMut(String) -> Result<(), Error>,
    D: AsyncFnMut(String) -> Result<(), Error>,
{
    let (add, remove) = add_remove(want, have);
    for p in add {
        attach(policy_arn(cx, &p).await?).await?;
    }
    for p in remove {
        detach(policy_arn(cx, &p).await?).await?;
    }
    Ok(())
}

/// The names of an IAM user's inline policies; `None` when the user does not exist. The listing
/// answers NoSuchEntity itself, so it needs no `GetUser` first.
pub async fn inline_policies(cx: &Cx<'_>, user: &str) -> Result<Option<Vec<String>>, Error> {
    cx.iam()
        .list_user_policies()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .none_if("ListUserPolicies", &[code::NO_SUCH_ENTITY])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_keys_compare_names_and_arns() {
        assert_eq!(policy_key("arn:aws:iam::123456789012:policy/backup"), "backup");
        assert_eq!(policy_key("backup"), "backup");
        assert_eq!(policy_key("arn:aws:iam::aws:policy/ReadOnlyAccess"), "arn:aws:iam::aws:policy/ReadOnlyAccess");
        assert_eq!(policy_key("arn:aws:iam::123456789012:policy/team/x"), "arn:aws:iam::123456789012:policy/team/x");
    }

    #[test]
    fn add_and_remove() {
        let (a, r) = add_remove(&["x".into(), "y".into()], &["y".into(), "z".into()]);
        assert_eq!((a, r), (vec!["x".to_string()], vec!["z".to_string()]));
    }
}
