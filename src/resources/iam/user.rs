//! `iam.user`: an IAM user with programmatic access: managed policies attached directly, group
//! memberships, and one access key whose id and secret go to a secret file (runbook: the backup user
//! whose keys end up in the service's Pillar).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::retry_while;
use crate::common_spec;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed, Ref};
use crate::resources::iam::access_key::{self, KeyInfo};
use crate::resources::iam::{add_remove, inline_policies, policy_keys, policy_refs, sorted, sync_policies};
use crate::resources::ses::smtp_credentials;
use crate::secrets::{self, Target};
use crate::validate;

pub struct User;

// ---- spec ----------------------------------------------------------------------------------

/// An IAM user. The Pillar key is the user name.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `present` (default) or `absent`. Deleting a user deletes its access keys, detaches its
    /// policies and removes it from its groups first; the secret file is left for you to remove.
    #[serde(default)]
    pub ensure: Ensure,
    /// Region used to reach IAM (IAM itself is global).
    #[serde(default)]
    pub region: Option<String>,
    /// Managed policies attached directly: names of `iam.policies`, or ARNs. When given, exactly
    /// these are attached; when left out, attachments are not managed.
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    /// Groups of `iam.groups` the user belongs to. When given, exactly these; when left out, not managed.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// Programmatic access: an access key whose id and secret are written to a secret file.
    #[serde(default)]
    pub access_key: Option<AccessKey>,
    /// List the user's access keys even without `access_key` (set by `manage_all`, for describe
    /// and export). Not a Pillar setting.
    #[serde(skip)]
    #[schemars(skip)]
    pub list_keys: bool,
}
common_spec!(Spec);

/// Where the access key goes. The secret exists only when the key is created, so the file is
/// written once; AWS keys are never created on every run.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    /// Absolute path of the YAML Pillar file that receives `aws_access_key_id` and
    /// `aws_secret_access_key` (mode 0600), e.g. `/srv/pillar/private/redmine_backup_aws.sls`.
    pub secret_file: String,
    /// Nest the two keys under this top-level key of the file, e.g. `backup`.
    #[serde(default)]
    pub pillar_key: Option<String>,
    /// When the secret file has no key that AWS knows (it was lost, or never written), create a new
    /// key, write it, then delete the user's other keys. Without it, that case fails and says so.
    /// A key in sync with its file is never rotated; remove the file to rotate it.
    #[serde(default)]
    pub rotate: bool,
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
}

impl AccessKey {
    /// The secret file and its permissions, as these settings give them.
    pub fn target(&self) -> Target {
        Target::new(&self.secret_file, self.pillar_key.as_deref()).with_permissions(
            self.mode.as_deref(),
            self.owner.as_deref(),
            self.group.as_deref(),
        )
    }
}

// ---- read ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// The user's access key ids (read only when `access_key` is managed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_keys: Option<Vec<KeyInfo>>,
    /// The access key id the secret file holds, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_file_key: Option<String>,
    /// How the secret file's mode, owner and group differ from the settings.
    #[serde(skip)]
    pub secret_file_drift: Vec<secrets::Drift>,
}

/// The access key id in a user's secret file section.
pub fn key_in(section: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    section.get("aws_access_key_id")?.as_str().map(str::to_string)
}

/// What a user's secret file section holds for an access key.
pub fn key_values(id: &str, secret: &str) -> serde_json::Map<String, serde_json::Value> {
    secrets::mapping([("aws_access_key_id", id), ("aws_secret_access_key", secret)])
}

impl Kind for User {
    const KIND: &'static str = "iam.user";
    const NOUN: &'static str = "IAM user";
    /// IAM shows a change everywhere within about two minutes.
    const CONSISTENCY: crate::kind::Consistency =
        crate::kind::Consistency { budget: crate::aws::PROPAGATION, matching_reads: 1 };
    const REFERS_TO: &'static [&'static str] = &["iam.policy", "iam.group"];
    type Spec = Spec;
    type Observed = Observed;

    fn identity(name: &str, _region: &str) -> String {
        crate::resources::iam::identity("user", name)
    }

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        validate::iam_name(name, 64, path, errors);
        if let Some(k) = &spec.access_key {
            validate::secret_file(&k.secret_file, &format!("{path}.access_key.secret_file"), errors);
            validate::permissions(
                k.mode.as_deref(),
                k.owner.as_deref(),
                k.group.as_deref(),
                &format!("{path}.access_key"),
                errors,
            );
            if let Some(key) = &k.pillar_key {
                validate::pillar_key(key, &format!("{path}.access_key.pillar_key"), errors);
            }
        }
        crate::resources::iam::check_policy_arns(spec.policies.as_deref().unwrap_or_default(), path, errors);
    }

    fn refs(spec: &Spec) -> Vec<Ref> {
        let mut refs = policy_refs(spec.policies.as_deref().unwrap_or_default(), "policies");
        refs.extend(spec.groups.iter().flatten().enumerate().map(|(i, g)| Ref {
            kind: "iam.group",
            name: g.clone(),
            field: format!("groups[{i}]"),
        }));
        refs
    }

    fn secret_files(spec: &Spec) -> Vec<(String, Target)> {
        spec.access_key.iter().map(|k| ("access_key.secret_file".to_string(), k.target())).collect()
    }

    fn manage_all(spec: &mut Spec) {
        spec.policies.get_or_insert_with(Vec::new);
        spec.groups.get_or_insert_with(Vec::new);
        spec.list_keys = true;
    }

    async fn read(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Option<Observed>, Error> {
        let iam = cx.iam();
        // The secret file first: one the tool must not write (or may not read) is refused before
        // anything is created.
        let (file, _consistent) = match (&spec.access_key, spec.ensure) {
            (Some(k), Ensure::Present) => {
                // Held until the keys are listed, so that the file and the keys are seen as one.
                let lock = k.target().lock_shared(!cx.test()).await?;
                (Some((k.target().read()?.as_ref().and_then(key_in), k.target().drift()?)), lock)
            }
            _ => (None, None),
        };
        let mut o = Observed {
            policies: None,
            groups: None,
            access_keys: None,
            secret_file_key: None,
            secret_file_drift: Vec::new(),
        };
        let present = spec.ensure == Ensure::Present;
        let (policies, groups, keys) =
            (spec.policies.is_some(), spec.groups.is_some(), file.is_some() || spec.list_keys);
        if !present || !(policies || groups || keys) {
            // Nothing to list: whether the user exists is the whole question.
            let found = iam.get_user().user_name(name).send().await.none_if("GetUser", &[code::NO_SUCH_ENTITY])?;
            return Ok(found.map(|_| o));
        }
        // The listings answer NoSuchEntity for a user that does not exist, so they need no GetUser
        // first; they go out at once.
        let (policies, groups, keys) = futures::try_join!(
            listed(policies, attached_policies(cx, name)),
            listed(groups, groups_of(cx, name)),
            listed(keys, access_key::list_of(cx, name)),
        )?;
        if matches!(policies, Some(None)) || matches!(groups, Some(None)) || matches!(keys, Some(None)) {
            return Ok(None);
        }
        o.policies = policies.flatten().map(|p| policy_keys(p.iter().map(String::as_str)));
        o.groups = groups.flatten().map(sorted);
        o.access_keys = keys.flatten();
        if let Some((key, mode)) = file {
            (o.secret_file_key, o.secret_file_drift) = (key, mode);
        }
        Ok(Some(o))
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let want_policies = spec.policies.as_ref().map(|p| policy_keys(p.iter().map(String::as_str)));
        let want_groups = spec.groups.as_ref().map(|g| sorted(g.iter().cloned()));
        let Some(o) = observed else {
            let mut d = Diff::creating();
            if let Some(p) = want_policies.filter(|p| !p.is_empty()) {
                d.set("policies", (), p);
            }
            if let Some(g) = want_groups.filter(|g| !g.is_empty()) {
                d.set("groups", (), g);
            }
            if let Some(k) = &spec.access_key {
                d.set("access_key", (), access_key::pending(&k.secret_file));
            }
            return d;
        };
        let mut d = Diff::default();
        if let Some(have) = &o.policies {
            d.compare("policies", want_policies.as_ref(), have);
        }
        if let Some(have) = &o.groups {
            d.compare("groups", want_groups.as_ref(), have);
        }
        if let (Some(k), Some(keys)) = (&spec.access_key, &o.access_keys) {
            access_key::diff("access_key", name, &k.secret_file, k.rotate, keys, o.secret_file_key.as_deref(), &mut d);
            access_key::diff_permissions(&o.secret_file_drift, &mut d);
        }
        d
    }

    // ---- apply ---------------------------------------------------------------------------------

    async fn apply(
        cx: &Cx<'_>,
        name: &str,
        spec: &Spec,
        observed: Option<&Observed>,
        diff: &mut Diff,
    ) -> Result<(), Error> {
        let applied = apply_user(cx, name, spec, observed, diff).await;
        if applied.is_err() {
            access_key::forget_unwritten(diff, "access_key");
        }
        applied
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, name: &str, _spec: &Spec, _observed: &Observed) -> Result<(), Error> {
        delete_user(cx, name).await
    }

    // ---- export --------------------------------------------------------------------------------

    const GLOBAL: bool = true;

    /// Every user but SMTP users, which are `ses.smtp_credentials`.
    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        smtp_credentials::users(cx, false).await
    }

    fn export(name: &str, o: &Observed, secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        if let Some(p) = o.policies.as_ref().filter(|p| !p.is_empty()) {
            e.set("policies", p);
        }
        if let Some(g) = o.groups.as_ref().filter(|g| !g.is_empty()) {
            e.set("groups", g);
        }
        let keys: Vec<&str> = o.access_keys.iter().flatten().map(|k| k.id.as_str()).collect();
        if !keys.is_empty() {
            // The secret cannot be read back: the key is managed once its file holds it.
            let file = format!("{}/{name}_aws.sls", secret_dir.trim_end_matches('/'));
            e.comments.push(format!("access key {}: AWS cannot show its secret. To manage it, run", keys.join(", ")));
            e.comments.push(format!("  ocp-aws adopt-key {name} --secret-file {file}   (the secret on stdin)"));
            e.comments.push(format!("then add: access_key: {{secret_file: {file}}}"));
        }
        e
    }
}

/// The writes of `apply`, in order: the user, its groups and policies, its key, its file's mode.
async fn apply_user(
    cx: &Cx<'_>,
    name: &str,
    spec: &Spec,
    observed: Option<&Observed>,
    diff: &mut Diff,
) -> Result<(), Error> {
    let iam = cx.iam();
    if observed.is_none() {
        create_user(cx, name).await?;
    }
    if let Some(want) = &spec.groups {
        let have = observed.and_then(|o| o.groups.clone()).unwrap_or_default();
        let (add, remove) = add_remove(&sorted(want.iter().cloned()), &have);
        for g in add {
            retry_while(&[code::NO_SUCH_ENTITY], || iam.add_user_to_group().user_name(name).group_name(&g).send())
                .await
                .op("AddUserToGroup")?;
        }
        for g in remove {
            iam.remove_user_from_group().user_name(name).group_name(g).send().await.op("RemoveUserFromGroup")?;
        }
    }
    if let Some(want) = &spec.policies {
        let want = policy_keys(want.iter().map(String::as_str));
        let have = observed.and_then(|o| o.policies.clone()).unwrap_or_default();
        sync_policies(
            cx,
            &want,
            &have,
            async |arn| {
                retry_while(&[code::NO_SUCH_ENTITY], || {
                    iam.attach_user_policy().user_name(name).policy_arn(&arn).send()
                })
                .await
                .op("AttachUserPolicy")
                .map(drop)
            },
            async |arn| {
                iam.detach_user_policy().user_name(name).policy_arn(arn).send().await.op("DetachUserPolicy").map(drop)
            },
        )
        .await?;
    }
    if let Some(k) = &spec.access_key {
        let seen = access_key::Seen {
            keys: observed.and_then(|o| o.access_keys.as_deref()).unwrap_or_default(),
            in_file: observed.and_then(|o| o.secret_file_key.as_deref()),
        };
        access_key::ensure(cx, name, &k.target(), seen, key_in, "access_key", diff, key_values).await?;
        access_key::repair_permissions(&k.target(), diff).await?;
    }
    Ok(())
}

/// Creates an IAM user. A user that exists afterwards is what was asked for, whoever made it: the
/// SDK's retry of a create whose answer was lost meets `EntityAlreadyExists`, and a create whose
/// outcome is unknown is checked with `GetUser`.
pub async fn create_user(cx: &Cx<'_>, name: &str) -> Result<(), Error> {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    let iam = cx.iam();
    match iam.create_user().user_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(code::ENTITY_ALREADY_EXISTS) => Ok(()),
        Err(e) if access_key::outcome_unknown(&e) => {
            match iam.get_user().user_name(name).send().await.none_if("GetUser", &[code::NO_SUCH_ENTITY]) {
                Ok(Some(_)) => Ok(()),
                _ => Err(crate::error::aws_error("CreateUser", e)),
            }
        }
        Err(e) => Err(crate::error::aws_error("CreateUser", e)),
    }
}

/// The ARNs of the managed policies attached to the user; `None` when there is no such user.
async fn attached_policies(cx: &Cx<'_>, name: &str) -> Result<Option<Vec<String>>, Error> {
    let items: Option<Vec<_>> = cx
        .iam()
        .list_attached_user_policies()
        .user_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .none_if("ListAttachedUserPolicies", &[code::NO_SUCH_ENTITY])?;
    Ok(items.map(|items| items.iter().filter_map(|p| p.policy_arn()).map(str::to_string).collect()))
}

/// The names of the groups the user belongs to; `None` when there is no such user.
async fn groups_of(cx: &Cx<'_>, name: &str) -> Result<Option<Vec<String>>, Error> {
    let items: Option<Vec<_>> = cx
        .iam()
        .list_groups_for_user()
        .user_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .none_if("ListGroupsForUser", &[code::NO_SUCH_ENTITY])?;
    Ok(items.map(|items| items.iter().map(|g| g.group_name().to_string()).collect()))
}

/// Runs `listing` when `wanted`; `Some(None)` means the listing found no such user.
async fn listed<T, F>(wanted: bool, listing: F) -> Result<Option<Option<T>>, Error>
where
    F: std::future::Future<Output = Result<Option<T>, Error>>,
{
    match wanted {
        true => listing.await.map(Some),
        false => Ok(None),
    }
}

/// Deletes a user and what blocks its deletion: access keys, attached and inline policies,
/// group memberships, a console password.
pub async fn delete_user(cx: &Cx<'_>, name: &str) -> Result<(), Error> {
    let iam = cx.iam();
    access_key::delete_all(cx, name).await?;
    for arn in attached_policies(cx, name).await?.unwrap_or_default() {
        iam.detach_user_policy()
            .user_name(name)
            .policy_arn(arn)
            .send()
            .await
            .none_if("DetachUserPolicy", &[code::NO_SUCH_ENTITY])?;
    }
    for group in groups_of(cx, name).await?.unwrap_or_default() {
        iam.remove_user_from_group()
            .user_name(name)
            .group_name(group)
            .send()
            .await
            .none_if("RemoveUserFromGroup", &[code::NO_SUCH_ENTITY])?;
    }
    let inline = inline_policies(cx, name).await?.unwrap_or_default();
    for p in inline {
        iam.delete_user_policy()
            .user_name(name)
            .policy_name(p)
            .send()
            .await
            .none_if("DeleteUserPolicy", &[code::NO_SUCH_ENTITY])?;
    }
    iam.delete_login_profile().user_name(name).send().await.none_if("DeleteLoginProfile", &[code::NO_SUCH_ENTITY])?;
    iam.delete_user().user_name(name).send().await.op("DeleteUser")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(rotate: bool) -> AccessKey {
        AccessKey {
            secret_file: "/srv/pillar/private/k.sls".into(),
            pillar_key: Some("backup".into()),
            rotate,
            mode: None,
            owner: None,
            group: None,
        }
    }

    #[test]
    fn creating_a_user_shows_where_the_secret_goes_never_the_secret() {
        let spec = Spec { access_key: Some(key(false)), policies: Some(vec!["p".into()]), ..Spec::default() };
        let d = User::diff("u", &spec, None);
        let f = d.fields.iter().find(|f| f.field == "access_key").unwrap();
        assert_eq!(f.new, json!({"secret": "to be written to /srv/pillar/private/k.sls"}));
    }
}
