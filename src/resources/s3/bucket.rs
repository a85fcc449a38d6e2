//! `s3.bucket`: an S3 bucket in a chosen region, its lifecycle rules and its Block Public Access
//! settings (runbook: "Amazon S3", backup buckets with the `delete-after-30-days` rule).

use std::time::Duration;

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, Delete, ExpirationStatus,
    LifecycleExpiration, LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier,
    PublicAccessBlockConfiguration,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::retry_while;
use crate::common_spec;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Consistency, Cx, Diff, Ensure, Exported, Kind, Listed};
use crate::validate;

pub struct Bucket;

/// Regions where S3 takes markedly longer to show a lifecycle configuration steadily (the AWS
/// provider for Terraform added waits for them in its pull request 41764).
const SLOW_LIFECYCLE_REGIONS: &[&str] = &["eu-west-2", "me-central-1"];

// ---- spec ----------------------------------------------------------------------------------

/// An S3 bucket. The Pillar key is the bucket name.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub ensure: Ensure,
    /// Region of the bucket (default: the Pillar's `region`). A bucket's region cannot change.
    #[serde(default)]
    pub region: Option<String>,
    /// Lifecycle rules. When given, the bucket has exactly these rules (`[]` removes all);
    /// when left out, the bucket's rules are not managed.
    #[serde(default)]
    pub lifecycle: Option<Vec<LifecycleRule>>,
    /// Block all public access (all four S3 Block Public Access settings). Default true;
    /// false removes the bucket's Block Public Access configuration.
    #[serde(default = "yes")]
    pub block_public_access: bool,
    /// With `ensure: absent`: delete every object and object version first. Without it, a bucket
    /// that is not empty is not deleted.
    #[serde(default)]
    pub force: bool,
}

fn yes() -> bool {
    true
}
common_spec!(Spec);

/// One lifecycle rule. The runbook's backup rule is
/// `{id: delete-after-30-days, expire_days: 30, abort_incomplete_multipart_days: 7}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    /// Rule name, unique within the bucket, e.g. `delete-after-30-days`.
    pub id: String,
    /// Apply only to objects whose key starts with this prefix (default: the whole bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Whether the rule is in force (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Expire current object versions this many days after they were created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub expire_days: Option<u32>,
    /// Delete incomplete multipart uploads this many days after they were started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub abort_incomplete_multipart_days: Option<u32>,
    /// Permanently delete noncurrent object versions this many days after they became noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub noncurrent_expire_days: Option<u32>,
    /// Remove delete markers that have no versions left. AWS rejects this in the same rule as
    /// `expire_days`; put it in a rule of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired_object_delete_marker: bool,
}

// ---- read ----------------------------------------------------------------------------------

/// What AWS reports about a bucket, limited to what the spec manages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    pub region: String,
    /// `None` when the spec does not manage lifecycle rules (they were not read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<LifecycleRule>>,
    /// true: all four settings on; false: none; `None`: some but not all.
    pub block_public_access: Option<bool>,
}

impl Kind for Bucket {
    const KIND: &'static str = "s3.bucket";
    const NOUN: &'static str = "S3 bucket";
    /// Three minutes, the AWS provider for Terraform's wait for a lifecycle configuration; one read
    /// unless lifecycle rules were written (see `consistency`).
    const CONSISTENCY: Consistency = Consistency { budget: Duration::from_secs(180), matching_reads: 1 };
    type Spec = Spec;
    type Observed = Observed;

    /// S3 can answer with the old lifecycle configuration for a while after a new one was accepted,
    /// so written rules are trusted only after several reads in a row show them: three, as the AWS
    /// provider for Terraform waits, and ten in the regions where it found that not enough.
    fn consistency(region: &str, diff: &Diff) -> Consistency {
        let reads = match diff.has("lifecycle") {
            false => 1,
            true if SLOW_LIFECYCLE_REGIONS.contains(&region) => 10,
            true => 3,
        };
        Consistency { matching_reads: reads, ..Self::CONSISTENCY }
    }

    /// Bucket names are global, across regions and accounts.
    fn identity(name: &str, _region: &str) -> String {
        format!("S3 bucket {name}")
    }

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        validate::bucket_name(name, path, errors);
        let rules = spec.lifecycle.as_deref().unwrap_or_default();
        if rules.len() > 1000 {
            errors.push(Invalid::new(format!("{path}.lifecycle"), "AWS allows at most 1000 lifecycle rules"));
        }
        for (i, rule) in rules.iter().enumerate() {
            check_rule(rule, &format!("{path}.lifecycle[{i}]"), errors);
            if rules[..i].iter().any(|r| r.id == rule.id) {
                errors.push(Invalid::new(
                    format!("{path}.lifecycle[{i}].id"),
                    format!("{} is used by an earlier rule", validate::quote(&rule.id)),
                ));
            }
        }
    }

    fn manage_all(spec: &mut Spec) {
        spec.lifecycle.get_or_insert_with(Vec::new);
    }

    async fn read(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Option<Observed>, Error> {
        let s3 = cx.s3();
        let Some(region) = locate(cx, name).await? else { return Ok(None) };
        if spec.ensure == Ensure::Absent || region != cx.region() {
            return Ok(Some(Observed { region, lifecycle: None, block_public_access: None }));
        }
        let lifecycle = match &spec.lifecycle {
            None => None,
            Some(_) => Some(
                s3.get_bucket_lifecycle_configuration()
                    .bucket(name)
                    .send()
                    .await
                    .none_if("GetBucketLifecycleConfiguration", &[code::NO_SUCH_LIFECYCLE_CONFIGURATION])?
                    .map(|out| {
                        let mut rules: Vec<LifecycleRule> = out.rules().iter().map(rule_from_aws).collect();
                        rules.sort_by(|a, b| a.id.cmp(&b.id));
                        rules
                    })
                    .unwrap_or_default(),
            ),
        };
        let block = s3
            .get_public_access_block()
            .bucket(name)
            .send()
            .await
            .none_if("GetPublicAccessBlock", &[code::NO_SUCH_PUBLIC_ACCESS_BLOCK_CONFIGURATION])?;
        let flags = block.and_then(|b| b.public_access_block_configuration).map(|c| {
            [c.block_public_acls, c.ignore_public_acls, c.block_public_policy, c.restrict_public_buckets]
                .map(|f| f.unwrap_or(false))
        });
        let block_public_access = match flags {
            None => Some(false),
            Some(f) if f.iter().all(|&x| x) => Some(true),
            Some(f) if f.iter().all(|&x| !x) => Some(false),
            Some(_) => None,
        };
        Ok(Some(Observed { region, lifecycle, block_public_access }))
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let desired_lifecycle = spec.lifecycle.as_ref().map(|rules| sorted(rules.clone()));
        let Some(o) = observed else {
            let mut d = Diff::creating();
            d.set("region", (), &spec.region);
            if spec.block_public_access {
                d.set("block_public_access", (), true);
            }
            if let Some(rules) = desired_lifecycle.filter(|r| !r.is_empty()) {
                d.set("lifecycle", (), rules);
            }
            return d;
        };
        let mut d = Diff::default();
        if let Some(wanted) = &spec.region {
            if wanted != &o.region {
                d.conflicts.push(format!(
                    "S3 bucket {name} exists in {}, but Pillar asks for {wanted}; a bucket's region cannot change. \
                     Set region: {} in Pillar, or delete the bucket first.",
                    o.region, o.region
                ));
                return d;
            }
        }
        if o.block_public_access != Some(spec.block_public_access) {
            d.set("block_public_access", o.block_public_access, spec.block_public_access);
        }
        if let (Some(wanted), Some(have)) = (desired_lifecycle, &o.lifecycle) {
            if &wanted != have {
                d.set("lifecycle", have, wanted);
            }
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
        let s3 = cx.s3();
        // Right after CreateBucket, S3 may still answer NoSuchBucket to the bucket's other calls for
        // a while; for a bucket that was already there, NoSuchBucket means it is gone.
        let created = observed.is_none();
        let wait_for: &[&str] = if created { &[code::NO_SUCH_BUCKET] } else { &[] };
        if created {
            super::create_bucket(cx, name).await?;
        }
        if diff.has("block_public_access") {
            if spec.block_public_access {
                let all = PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build();
                retry_while(wait_for, || {
                    s3.put_public_access_block().bucket(name).public_access_block_configuration(all.clone()).send()
                })
                .await
                .op("PutPublicAccessBlock")?;
            } else {
                retry_while(wait_for, || s3.delete_public_access_block().bucket(name).send())
                    .await
                    .op("DeletePublicAccessBlock")?;
            }
        }
        if diff.has("lifecycle") {
            let rules = spec.lifecycle.as_deref().unwrap_or_default();
            if rules.is_empty() {
                retry_while(wait_for, || s3.delete_bucket_lifecycle().bucket(name).send())
                    .await
                    .op("DeleteBucketLifecycle")?;
            } else {
                let config = BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules.iter().map(rule_to_aws).collect::<Result<_, _>>()?))
                    .build()
                    .map_err(|e| Error::Internal(format!("building the lifecycle configuration: {e}")))?;
                retry_while(wait_for, || {
                    s3.put_bucket_lifecycle_configuration().bucket(name).lifecycle_configuration(config.clone()).send()
                })
                .await
                .op("PutBucketLifecycleConfiguration")?;
            }
        }
        Ok(())
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, name: &str, spec: &Spec, _observed: &Observed) -> Result<(), Error> {
        let s3 = cx.s3();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            // ListObjectVersions has no SDK paginator; it pages by key and version-id markers.
            let page = s3
                .list_object_versions()
                .bucket(name)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .max_keys(if spec.force { 1000 } else { 1 })
                .send()
                .await
                .op("ListObjectVersions")?;
            let objects: Vec<ObjectIdentifier> = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(page.delete_markers().iter().map(|m| (m.key(), m.version_id())))
                .filter_map(|(k, v)| {
                    ObjectIdentifier::builder().key(k?).set_version_id(v.map(str::to_string)).build().ok()
                })
                .collect();
            if objects.is_empty() {
                break;
            }
            if !spec.force {
                return Err(Error::Refused(format!(
                    "S3 bucket {name} is not empty; set force: true to delete its objects with it"
                )));
            }
            let batch = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| Error::Internal(format!("building the list of objects to delete: {e}")))?;
            let out = s3.delete_objects().bucket(name).delete(batch).send().await.op("DeleteObjects")?;
            if let Some(err) = out.errors().first() {
                return Err(Error::Refused(format!(
                    "could not delete object {} from S3 bucket {name}: {}",
                    err.key().unwrap_or("?"),
                    err.message().unwrap_or("no reason given")
                )));
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
        s3.delete_bucket().bucket(name).send().await.op("DeleteBucket")?;
        Ok(())
    }

    // ---- export --------------------------------------------------------------------------------

    /// ListBuckets names the buckets of every region: those of `cx`'s region are kept.
    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        let buckets: Vec<aws_sdk_s3::types::Bucket> =
            cx.s3().list_buckets().into_paginator().items().send().try_collect().await.op("ListBuckets")?;
        let mut names = Vec::new();
        for name in buckets.iter().filter_map(|b| b.name()) {
            if locate(cx, name).await?.as_deref() == Some(cx.region()) {
                names.push(name.to_string());
            }
        }
        Ok(Listed::of(names))
    }

    fn export(name: &str, o: &Observed, _secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        if let Some(rules) = o.lifecycle.as_ref().filter(|r| !r.is_empty()) {
            let mut errors = Vec::new();
            for rule in rules {
                check_rule(rule, "", &mut errors);
            }
            match errors.is_empty() {
                true => e.set("lifecycle", sorted(rules.clone())),
                // A rule of actions Pillar has no words for (transitions, a date) stays AWS's.
                false => e.notes.push(format!(
                    "S3 bucket {name} has lifecycle rules that Pillar cannot say (transitions or dates): \
                     lifecycle is left out, so they are not managed."
                )),
            }
        }
        match o.block_public_access {
            // true is the default.
            Some(true) => {}
            Some(false) => e.set("block_public_access", false),
            None => e.notes.push(format!(
                "S3 bucket {name} blocks some public access but not all, which Pillar cannot say: \
                 block_public_access is left out, so the first apply turns all four settings on."
            )),
        }
        e
    }
}

/// The region a bucket is in, or `None` when there is no such bucket. HeadBucket names the region
/// in `x-amz-bucket-region`, also when it redirects (301) because the bucket is in another region.
async fn locate(cx: &Cx<'_>, name: &str) -> Result<Option<String>, Error> {
    let s3 = cx.s3();
    let head = match s3.head_bucket().bucket(name).send().await {
        Ok(head) => head,
        Err(e) => {
            let raw = e.raw_response();
            let region = raw.and_then(|r| r.headers().get("x-amz-bucket-region")).map(str::to_string);
            return match (raw.map(|r| r.status().as_u16()), region) {
                (Some(404), _) => Ok(None),
                (Some(301), Some(region)) => Ok(Some(region)),
                (Some(403), _) => Err(Error::Refused(format!(
                    "S3 bucket {name} exists, but it belongs to another AWS account or these credentials may not \
                     read it (HeadBucket: 403 Forbidden)"
                ))),
                _ => Err(crate::error::aws_error("HeadBucket", e)),
            };
        }
    };
    if let Some(region) = head.bucket_region() {
        return Ok(Some(region.to_string()));
    }
    let location = s3.get_bucket_location().bucket(name).send().await.op("GetBucketLocation")?;
    Ok(Some(region_of(location.location_constraint())))
}

fn check_rule(rule: &LifecycleRule, path: &str, errors: &mut Vec<Invalid>) {
    if rule.id.is_empty() || rule.id.len() > 255 {
        errors.push(Invalid::new(format!("{path}.id"), "expected 1 to 255 characters"));
    }
    for (field, days) in [
        ("expire_days", rule.expire_days),
        ("abort_incomplete_multipart_days", rule.abort_incomplete_multipart_days),
        ("noncurrent_expire_days", rule.noncurrent_expire_days),
    ] {
        if let Some(days) = days {
            validate::days(days, &format!("{path}.{field}"), errors);
        }
    }
    if rule.expire_days.is_some() && rule.expired_object_delete_marker {
        errors.push(Invalid::new(
            format!("{path}.expired_object_delete_marker"),
            "cannot be combined with expire_days in one rule (AWS rejects it); put it in a separate rule",
        ));
    }
    if rule.expire_days.is_none()
        && rule.abort_incomplete_multipart_days.is_none()
        && rule.noncurrent_expire_days.is_none()
        && !rule.expired_object_delete_marker
    {
        errors.push(Invalid::new(
            path,
            "a rule needs an action: expire_days, abort_incomplete_multipart_days, noncurrent_expire_days or expired_object_delete_marker",
        ));
    }
}

fn sorted(mut rules: Vec<LifecycleRule>) -> Vec<LifecycleRule> {
    for r in &mut rules {
        if r.prefix.as_deref() == Some("") {
            r.prefix = None;
        }
    }
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    rules
}

/// S3 reports no location constraint for us-east-1, and `EU` for the oldest eu-west-1 buckets.
fn region_of(constraint: Option<&BucketLocationConstraint>) -> String {
    match constraint.map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(r) => r.to_string(),
    }
}

fn days(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn rule_to_aws(rule: &LifecycleRule) -> Result<aws_sdk_s3::types::LifecycleRule, Error> {
    let expiration = match (rule.expire_days, rule.expired_object_delete_marker) {
        (Some(n), _) => Some(LifecycleExpiration::builder().days(days(n)).build()),
        (None, true) => Some(LifecycleExpiration::builder().expired_object_delete_marker(true).build()),
        (None, false) => None,
    };
    aws_sdk_s3::types::LifecycleRule::builder()
        .id(&rule.id)
        .filter(LifecycleRuleFilter::builder().prefix(rule.prefix.clone().unwrap_or_default()).build())
        .status(if rule.enabled { ExpirationStatus::Enabled } else { ExpirationStatus::Disabled })
        .set_expiration(expiration)
        .set_abort_incomplete_multipart_upload(
            rule.abort_incomplete_multipart_days
                .map(|n| AbortIncompleteMultipartUpload::builder().days_after_initiation(days(n)).build()),
        )
        .set_noncurrent_version_expiration(
            rule.noncurrent_expire_days
                .map(|n| NoncurrentVersionExpiration::builder().noncurrent_days(days(n)).build()),
        )
        .build()
        .map_err(|e| Error::Internal(format!("building lifecycle rule {}: {e}", rule.id)))
}

fn rule_from_aws(rule: &aws_sdk_s3::types::LifecycleRule) -> LifecycleRule {
    #[allow(deprecated)]
    let prefix = rule.filter().and_then(|f| f.prefix()).or(rule.prefix()).filter(|p| !p.is_empty());
    let to_days = |d: Option<i32>| d.and_then(|n| u32::try_from(n).ok());
    LifecycleRule {
        id: rule.id().unwrap_or_default().to_string(),
        prefix: prefix.map(str::to_string),
        enabled: rule.status() == &ExpirationStatus::Enabled,
        expire_days: to_days(rule.expiration().and_then(|e| e.days())),
        abort_incomplete_multipart_days: to_days(
            rule.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()),
        ),
        noncurrent_expire_days: to_days(rule.noncurrent_version_expiration().and_then(|n| n.noncurrent_days())),
        expired_object_delete_marker: rule.expiration().and_then(|e| e.expired_object_delete_marker()).unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup_rule() -> LifecycleRule {
        LifecycleRule {
            id: "delete-after-30-days".into(),
            prefix: None,
            enabled: true,
            expire_days: Some(30),
            abort_incomplete_multipart_days: Some(7),
            noncurrent_expire_days: None,
            expired_object_delete_marker: false,
        }
    }

    fn errors(spec: &Spec) -> Vec<Invalid> {
        let mut e = Vec::new();
        Bucket::check("backup", spec, "b", &mut e);
        e
    }

    #[test]
    fn the_runbook_rule_is_valid_and_roundtrips_through_the_sdk_types() {
        let spec = Spec { lifecycle: Some(vec![backup_rule()]), block_public_access: true, ..Spec::default() };
        assert!(errors(&spec).is_empty());
        assert_eq!(rule_from_aws(&rule_to_aws(&backup_rule()).unwrap()), backup_rule());
    }

    #[test]
    fn delete_marker_cleanup_cannot_share_a_rule_with_expiry() {
        let mut rule = backup_rule();
        rule.expired_object_delete_marker = true;
        let e = errors(&Spec { lifecycle: Some(vec![rule]), ..Spec::default() });
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "b.lifecycle[0].expired_object_delete_marker");
        // A separate rule may carry it.
        let cleanup = LifecycleRule {
            id: "markers".into(),
            expire_days: None,
            abort_incomplete_multipart_days: None,
            expired_object_delete_marker: true,
            ..backup_rule()
        };
        assert!(errors(&Spec { lifecycle: Some(vec![backup_rule(), cleanup]), ..Spec::default() }).is_empty());
    }

    #[test]
    fn rules_need_an_action_a_unique_id_and_positive_days() {
        let empty = LifecycleRule { expire_days: None, abort_incomplete_multipart_days: None, ..backup_rule() };
        let zero = LifecycleRule { id: "zero".into(), expire_days: Some(0), ..backup_rule() };
        let e = errors(&Spec { lifecycle: Some(vec![empty, backup_rule(), zero]), ..Spec::default() });
        let paths: Vec<&str> = e.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["b.lifecycle[0]", "b.lifecycle[1].id", "b.lifecycle[2].expire_days"]);
    }

    fn observed() -> Observed {
        Observed { region: "eu-west-2".into(), lifecycle: Some(vec![backup_rule()]), block_public_access: Some(true) }
    }

    #[test]
    fn no_diff_when_in_sync_and_unmanaged_fields_are_ignored() {
        let spec = Spec {
            region: Some("eu-west-2".into()),
            lifecycle: Some(vec![backup_rule()]),
            block_public_access: true,
            ..Spec::default()
        };
        assert!(Bucket::diff("b", &spec, Some(&observed())).is_empty());
        let unmanaged = Spec { lifecycle: None, block_public_access: true, ..Spec::default() };
        let o = Observed { lifecycle: None, ..observed() };
        assert!(Bucket::diff("b", &unmanaged, Some(&o)).is_empty());
    }

    #[test]
    fn drift_is_a_field_change_and_region_a_conflict() {
        let mut spec = Spec {
            region: Some("eu-west-2".into()),
            lifecycle: Some(vec![]),
            block_public_access: true,
            ..Spec::default()
        };
        let d = Bucket::diff("b", &spec, Some(&observed()));
        assert!(d.has("lifecycle") && !d.has("block_public_access"));
        spec.region = Some("eu-west-1".into());
        let d = Bucket::diff("b", &spec, Some(&observed()));
        assert_eq!(d.conflicts.len(), 1);
        assert!(d.conflicts[0].contains("exists in eu-west-2"));
    }

    #[test]
    fn written_lifecycle_rules_need_a_run_of_matching_reads() {
        let mut lifecycle = Diff::default();
        lifecycle.set("lifecycle", (), vec![backup_rule()]);
        let mut block = Diff::default();
        block.set("block_public_access", false, true);
        assert_eq!(Bucket::consistency("eu-west-1", &block).matching_reads, 1);
        assert_eq!(Bucket::consistency("eu-west-1", &lifecycle).matching_reads, 3);
        assert_eq!(Bucket::consistency("eu-west-2", &lifecycle).matching_reads, 10);
        assert_eq!(Bucket::consistency("eu-west-2", &block), Bucket::CONSISTENCY);
    }

    #[test]
    fn regions_from_location_constraints() {
        assert_eq!(region_of(None), "us-east-1");
        assert_eq!(region_of(Some(&BucketLocationConstraint::from("EU"))), "eu-west-1");
        assert_eq!(region_of(Some(&BucketLocationConstraint::from("eu-west-2"))), "eu-west-2");
    }
}
