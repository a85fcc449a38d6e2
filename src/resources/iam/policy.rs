//! `iam.policy`: a customer-managed IAM policy, given as the runbook's `bucket_access` shorthand or
//! as a full document. A changed document becomes a new default version.

use aws_sdk_iam::types::PolicyVersion;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::retry_while;
use crate::common_spec;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed, Ref};
use crate::resources::iam::{document, policy_arn};
use crate::validate;

pub struct Policy;

/// IAM keeps at most this many versions of a managed policy.
const MAX_VERSIONS: usize = 5;

// ---- spec ----------------------------------------------------------------------------------

/// A customer-managed IAM policy. The Pillar key is the policy name. Give exactly one of
/// `bucket_access` and `document`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "not" = {"required": ["bucket_access", "document"]},
    "anyOf" = [
        {"required": ["bucket_access"]},
        {"required": ["document"]},
        {"required": ["ensure"], "properties": {"ensure": {"const": "absent"}}}
    ]
))]
pub struct Spec {
    /// `present` (default) or `absent`. Deleting a policy detaches it from every user, group and role first.
    #[serde(default)]
    pub ensure: Ensure,
    /// Region used to reach IAM (IAM itself is global; the region decides the partition of ARNs).
    #[serde(default)]
    pub region: Option<String>,
    /// The runbook's backup policy for the named bucket of `s3.buckets`: `s3:ListBucket` on the
    /// bucket and `s3:PutObject`, `s3:GetObject`, `s3:DeleteObject` on its objects.
    #[serde(default)]
    pub bucket_access: Option<String>,
    /// A full policy document, as a mapping or a JSON string.
    #[serde(default)]
    #[schemars(with = "DocumentSchema")]
    pub document: Option<Value>,
}
common_spec!(Spec);

/// A policy document: a mapping with `Version` and `Statement`, or the same as a JSON string.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum DocumentSchema {
    Mapping(serde_json::Map<String, Value>),
    Json(String),
}

impl Spec {
    /// The document Pillar asks for. `check` has made sure it can be built.
    fn desired(&self) -> Value {
        let region = self.region.as_deref().unwrap_or(crate::aws::DEFAULT_REGION);
        match (&self.bucket_access, &self.document) {
            (Some(bucket), _) => document::bucket_access(crate::aws::partition(region), bucket),
            (None, Some(doc)) => document::from_pillar(doc).unwrap_or(Value::Null),
            (None, None) => Value::Null,
        }
    }
}

// ---- read ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    pub arn: String,
    pub default_version: String,
    pub document: Value,
}

impl Kind for Policy {
    const KIND: &'static str = "iam.policy";
    const NOUN: &'static str = "IAM policy";
    /// IAM shows a change everywhere within about two minutes.
    const CONSISTENCY: crate::kind::Consistency =
        crate::kind::Consistency { budget: crate::aws::PROPAGATION, matching_reads: 1 };
    const REFERS_TO: &'static [&'static str] = &["s3.bucket"];
    type Spec = Spec;
    type Observed = Observed;

    fn identity(name: &str, _region: &str) -> String {
        crate::resources::iam::identity("policy", name)
    }

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        validate::iam_name(name, 128, path, errors);
        match (&spec.bucket_access, &spec.document) {
            (Some(_), Some(_)) => errors.push(Invalid::new(path, "give bucket_access or document, not both")),
            (None, None) if spec.ensure == Ensure::Present => {
                errors.push(Invalid::new(path, "give bucket_access (a bucket name) or document (a policy document)"))
            }
            (None, Some(doc)) => {
                if let Err(e) = document::from_pillar(doc) {
                    errors.push(Invalid::new(format!("{path}.document"), e));
                }
            }
            _ => {}
        }
    }

    fn refs(spec: &Spec) -> Vec<Ref> {
        spec.bucket_access
            .iter()
            .map(|b| Ref { kind: "s3.bucket", name: b.clone(), field: "bucket_access".into() })
            .collect()
    }

    async fn read(cx: &Cx<'_>, name: &str, _spec: &Spec) -> Result<Option<Observed>, Error> {
        let iam = cx.iam();
        let arn = policy_arn(cx, name).await?;
        let Some(found) =
            iam.get_policy().policy_arn(&arn).send().await.none_if("GetPolicy", &[code::NO_SUCH_ENTITY])?
        else {
            return Ok(None);
        };
        let default_version = found.policy().and_then(|p| p.default_version_id()).unwrap_or("v1").to_string();
        let version = iam
            .get_policy_version()
            .policy_arn(&arn)
            .version_id(&default_version)
            .send()
            .await
            .op("GetPolicyVersion")?;
        let text = version.policy_version().and_then(|v| v.document()).unwrap_or("{}");
        let document = document::from_iam(text).map_err(Error::Refused)?;
        Ok(Some(Observed { arn, default_version, document }))
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(_name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let desired = spec.desired();
        match observed {
            None => {
                let mut d = Diff::creating();
                d.set("document", (), desired);
                d
            }
            Some(o) => {
                let mut d = Diff::default();
                if !document::same(&o.document, &desired) {
                    d.set("document", &o.document, desired);
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
        let text = spec.desired().to_string();
        let Some(o) = observed else {
            // A repeat after a lost answer finds the policy it made; the read back compares its document.
            iam.create_policy()
                .policy_name(name)
                .policy_document(text)
                .send()
                .await
                .none_if("CreatePolicy", &[code::ENTITY_ALREADY_EXISTS])?;
            return Ok(());
        };
        let versions = list_versions(cx, &o.arn).await?;
        if versions.len() >= MAX_VERSIONS {
            // Make room: the oldest version that is not the default goes.
            let oldest = versions
                .iter()
                .filter(|v| !v.is_default_version)
                .min_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())));
            if let Some(v) = oldest.and_then(|v| v.version_id()) {
                iam.delete_policy_version().policy_arn(&o.arn).version_id(v).send().await.op("DeletePolicyVersion")?;
            }
        }
        // No SDK retries: a repeat after a lost answer makes a second version (and can meet the limit
        // of five); the read back shows whether the first went through. Throttling is AWS refusing,
        // so asking again is safe.
        retry_while(&[code::THROTTLING], || {
            iam.create_policy_version()
                .policy_arn(&o.arn)
                .policy_document(text.clone())
                .set_as_default(true)
                .customize()
                .config_override(
                    aws_sdk_iam::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled()),
                )
                .send()
        })
        .await
        .op("CreatePolicyVersion")?;
        Ok(())
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, _name: &str, _spec: &Spec, o: &Observed) -> Result<(), Error> {
        let iam = cx.iam();
        let pages: Vec<_> = iam
            .list_entities_for_policy()
            .policy_arn(&o.arn)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .op("ListEntitiesForPolicy")?;
        for page in &pages {
            for u in page.policy_users().iter().filter_map(|u| u.user_name()) {
                iam.detach_user_policy()
                    .user_name(u)
                    .policy_arn(&o.arn)
                    .send()
                    .await
                    .none_if("DetachUserPolicy", &[code::NO_SUCH_ENTITY])?;
            }
            for g in page.policy_groups().iter().filter_map(|g| g.group_name()) {
                iam.detach_group_policy()
                    .group_name(g)
                    .policy_arn(&o.arn)
                    .send()
                    .await
                    .none_if("DetachGroupPolicy", &[code::NO_SUCH_ENTITY])?;
            }
            for r in page.policy_roles().iter().filter_map(|r| r.role_name()) {
                iam.detach_role_policy()
                    .role_name(r)
                    .policy_arn(&o.arn)
                    .send()
                    .await
                    .none_if("DetachRolePolicy", &[code::NO_SUCH_ENTITY])?;
            }
        }
        for v in list_versions(cx, &o.arn).await?.iter().filter(|v| !v.is_default_version) {
            if let Some(id) = v.version_id() {
                iam.delete_policy_version().policy_arn(&o.arn).version_id(id).send().await.op("DeletePolicyVersion")?;
            }
        }
        iam.delete_policy().policy_arn(&o.arn).send().await.op("DeletePolicy")?;
        Ok(())
    }

    // ---- export --------------------------------------------------------------------------------

    const GLOBAL: bool = true;

    /// The account's own policies (AWS-managed ones are AWS's; users and groups name them by ARN).
    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        let policies: Vec<aws_sdk_iam::types::Policy> = cx
            .iam()
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .op("ListPolicies")?;
        let mut listed = Listed::default();
        for p in &policies {
            let (Some(name), path) = (p.policy_name(), p.path().unwrap_or("/")) else { continue };
            match path {
                "/" => listed.names.push(name.to_string()),
                // Pillar names a policy by its name, at path `/`; users and groups name this one by ARN.
                _ => listed.skipped.push(format!(
                    "IAM policy {name} has the path {path}: Pillar manages policies at path / only; users and \
                     groups name it by its ARN"
                )),
            }
        }
        listed.names.sort();
        Ok(listed)
    }

    fn export(_name: &str, o: &Observed, _secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        let partition = o.arn.split(':').nth(1).unwrap_or("aws");
        match shorthand_bucket(&o.document, partition) {
            Some(bucket) => e.set("bucket_access", bucket),
            None => e.set("document", &o.document),
        }
        e
    }
}

/// The bucket whose `bucket_access` shorthand means what `doc` says, if there is one.
fn shorthand_bucket(doc: &Value, partition: &str) -> Option<String> {
    let prefix = format!("arn:{partition}:s3:::");
    let normal = document::normalize(doc);
    let statements = normal.get("Statement")?.as_array()?;
    statements
        .iter()
        .filter_map(|s| s.get("Resource")?.as_array())
        .flatten()
        .filter_map(|r| r.as_str()?.strip_prefix(&prefix))
        .filter(|b| !b.is_empty() && !b.contains('/'))
        .find(|b| document::same(doc, &document::bucket_access(partition, b)))
        .map(str::to_string)
}

async fn list_versions(cx: &Cx<'_>, arn: &str) -> Result<Vec<PolicyVersion>, Error> {
    cx.iam()
        .list_policy_versions()
        .policy_arn(arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .op("ListPolicyVersions")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(spec: &Spec) -> Vec<Invalid> {
        let mut e = Vec::new();
        Policy::check("p", spec, "p", &mut e);
        e
    }

    #[test]
    fn exactly_one_source() {
        assert_eq!(errors(&Spec::default()).len(), 1);
        let both =
            Spec { bucket_access: Some("b".into()), document: Some(json!({"Statement": []})), ..Spec::default() };
        assert_eq!(errors(&both).len(), 1);
        assert!(errors(&Spec { bucket_access: Some("b".into()), ..Spec::default() }).is_empty());
        let absent = Spec { ensure: Ensure::Absent, ..Spec::default() };
        assert!(errors(&absent).is_empty());
    }

    #[test]
    fn same_document_in_another_shape_is_no_change() {
        let spec = Spec { bucket_access: Some("b".into()), region: Some("eu-west-2".into()), ..Spec::default() };
        let mut doc = spec.desired();
        doc["Statement"][0]["Action"] = json!(["s3:ListBucket"]);
        let observed = Observed { arn: "arn".into(), default_version: "v1".into(), document: doc };
        assert!(Policy::diff("p", &spec, Some(&observed)).is_empty());
        let other = Spec { bucket_access: Some("c".into()), ..spec };
        assert!(Policy::diff("p", &other, Some(&observed)).has("document"));
    }

    #[test]
    fn export_says_the_shorthand_when_the_document_means_it() {
        let spec = Spec { bucket_access: Some("b".into()), ..Spec::default() };
        let mut doc = spec.desired();
        doc["Statement"].as_array_mut().unwrap().reverse();
        let arn = "arn:aws:iam::123456789012:policy/p".to_string();
        let observed = Observed { arn: arn.clone(), default_version: "v2".into(), document: doc.clone() };
        assert_eq!(
            Policy::export("p", &observed, "/d").value,
            json!({"bucket_access": "b"}).as_object().unwrap().clone()
        );
        doc["Statement"][0]["Action"] = json!("s3:*");
        let other = Observed { arn, default_version: "v1".into(), document: doc.clone() };
        assert_eq!(Policy::export("p", &other, "/d").value["document"], doc);
    }
}
