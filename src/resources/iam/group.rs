//! `iam.group`: an IAM group and the managed policies attached to it (runbook: a backup policy
//! attached through a group instead of directly to the user).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common_spec;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed, Ref};
use crate::resources::iam::{policy_keys, policy_refs, sync_policies};
use crate::validate;

pub struct Group;

// ---- spec ----------------------------------------------------------------------------------

/// An IAM group. The Pillar key is the group name.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `present` (default) or `absent`. Deleting a group removes its members and policies first.
    #[serde(default)]
    pub ensure: Ensure,
    /// Region used to reach IAM (IAM itself is global).
    #[serde(default)]
    pub region: Option<String>,
    /// Managed policies attached to the group: names of `iam.policies`, or ARNs (e.g. AWS-managed
    /// policies). When given, exactly these are attached; when left out, attachments are not managed.
    #[serde(default)]
    pub policies: Option<Vec<String>>,
}
common_spec!(Spec);

// ---- read ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    /// Attached policies as comparison keys (see `policy_key`); `None` when not managed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
}

impl Kind for Group {
    const KIND: &'static str = "iam.group";
    const NOUN: &'static str = "IAM group";
    /// IAM shows a change everywhere within about two minutes.
    const CONSISTENCY: crate::kind::Consistency =
        crate::kind::Consistency { budget: crate::aws::PROPAGATION, matching_reads: 1 };
    const REFERS_TO: &'static [&'static str] = &["iam.policy"];
    type Spec = Spec;
    type Observed = Observed;

    fn identity(name: &str, _region: &str) -> String {
        crate::resources::iam::identity("group", name)
    }

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        validate::iam_name(name, 128, path, errors);
        crate::resources::iam::check_policy_arns(spec.policies.as_deref().unwrap_or_default(), path, errors);
    }

    fn refs(spec: &Spec) -> Vec<Ref> {
        policy_refs(spec.policies.as_deref().unwrap_or_default(), "policies")
    }

    fn manage_all(spec: &mut Spec) {
        spec.policies.get_or_insert_with(Vec::new);
    }

    async fn read(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Option<Observed>, Error> {
        if let (Some(_), Ensure::Present) = (&spec.policies, spec.ensure) {
            // The listing answers NoSuchEntity for a group that does not exist: no GetGroup needed.
            let attached = attached(cx, name).await?;
            return Ok(attached.map(|a| Observed { policies: Some(policy_keys(a.iter().map(String::as_str))) }));
        }
        let iam = cx.iam();
        let found =
            iam.get_group().group_name(name).max_items(1).send().await.none_if("GetGroup", &[code::NO_SUCH_ENTITY])?;
        Ok(found.map(|_| Observed { policies: None }))
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(_name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let want = spec.policies.as_ref().map(|p| policy_keys(p.iter().map(String::as_str)));
        match observed {
            None => {
                let mut d = Diff::creating();
                if let Some(w) = want.filter(|w| !w.is_empty()) {
                    d.set("policies", (), w);
                }
                d
            }
            Some(o) => {
                let mut d = Diff::default();
                if let Some(have) = &o.policies {
                    d.compare("policies", want.as_ref(), have);
                }
                d
            }
        }
    }

    // ---- apply ---------------------------------------------------------------------------------

    async fn apply(
        cx: &Cx<'_>,
        name: &str,
        spec: &Spec,
        observed: Option<&Observed>,
        _diff: &mut Diff,
    ) -> Result<(), Error> {
        let iam = cx.iam();
        if observed.is_none() {
            // A group of this name that exists now (a repeat after a lost answer, another run) is the one wanted.
            iam.create_group().group_name(name).send().await.none_if("CreateGroup", &[code::ENTITY_ALREADY_EXISTS])?;
        }
        if let Some(want) = &spec.policies {
            let want = policy_keys(want.iter().map(String::as_str));
            let have = observed.and_then(|o| o.policies.clone()).unwrap_or_default();
            sync_policies(
                cx,
                &want,
                &have,
                async |arn| {
                    crate::aws::retry_while(&[code::NO_SUCH_ENTITY], || {
                        iam.attach_group_policy().group_name(name).policy_arn(&arn).send()
                    })
                    .await
                    .op("AttachGroupPolicy")
                    .map(drop)
                },
                async |arn| {
                    iam.detach_group_policy()
                        .group_name(name)
                        .policy_arn(arn)
                        .send()
                        .await
                        .op("DetachGroupPolicy")
                        .map(drop)
                },
            )
            .await?;
        }
        Ok(())
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, name: &str, _spec: &Spec, _observed: &Observed) -> Result<(), Error> {
        let iam = cx.iam();
        let members: Vec<_> =
            iam.get_group().group_name(name).into_paginator().send().try_collect().await.op("GetGroup")?;
        for user in members.iter().flat_map(|p| p.users()) {
            iam.remove_user_from_group()
                .group_name(name)
                .user_name(user.user_name())
                .send()
                .await
                .none_if("RemoveUserFromGroup", &[code::NO_SUCH_ENTITY])?;
        }
        for arn in attached(cx, name).await?.unwrap_or_default() {
            iam.detach_group_policy()
                .group_name(name)
                .policy_arn(arn)
                .send()
                .await
                .none_if("DetachGroupPolicy", &[code::NO_SUCH_ENTITY])?;
        }
        let inline: Vec<String> = iam
            .list_group_policies()
            .group_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .op("ListGroupPolicies")?;
        for p in inline {
            iam.delete_group_policy()
                .group_name(name)
                .policy_name(p)
                .send()
                .await
                .none_if("DeleteGroupPolicy", &[code::NO_SUCH_ENTITY])?;
        }
        iam.delete_group().group_name(name).send().await.op("DeleteGroup")?;
        Ok(())
    }

    // ---- export --------------------------------------------------------------------------------

    const GLOBAL: bool = true;

    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        let groups: Vec<aws_sdk_iam::types::Group> =
            cx.iam().list_groups().into_paginator().items().send().try_collect().await.op("ListGroups")?;
        Ok(Listed::of(groups.iter().map(|g| g.group_name().to_string()).collect()))
    }

    fn export(_name: &str, o: &Observed, _secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        if let Some(p) = o.policies.as_ref().filter(|p| !p.is_empty()) {
            e.set("policies", p);
        }
        e
    }
}

/// The ARNs of the managed policies attached to the group; `None` when there is no such group.
async fn attached(cx: &Cx<'_>, name: &str) -> Result<Option<Vec<String>>, Error> {
    let items: Option<Vec<_>> = cx
        .iam()
        .list_attached_group_policies()
        .group_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .none_if("ListAttachedGroupPolicies", &[code::NO_SUCH_ENTITY])?;
    Ok(items.map(|items| items.iter().filter_map(|p| p.policy_arn()).map(str::to_string).collect()))
}
