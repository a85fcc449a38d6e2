//! `ses.smtp_credentials`: SMTP credentials for SES, once per region (runbook row 8): an IAM user
//! allowed only `ses:SendRawEmail`, an access key, and the SMTP password derived from the key's
//! secret for each region, written to a secret file. The key's secret itself is not kept.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::common_spec;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed};
use crate::resources::iam::access_key::{self, KeyInfo};
use crate::resources::iam::user::{create_user, delete_user};
use crate::resources::iam::{document, inline_policies};
use crate::secrets::Target;
use crate::validate;

pub struct SmtpCredentials;

/// The inline policy's name (the one the SES console gives it).
const POLICY: &str = "AmazonSesSendingAccess";
/// SES's SMTP submission port with STARTTLS.
pub const SMTP_PORT: u16 = 587;

// ---- spec ----------------------------------------------------------------------------------

/// SMTP credentials for SES. The Pillar key is the IAM user's name, e.g. `ses-smtp-user`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"required": ["secret_file"]},
    {"required": ["ensure"], "properties": {"ensure": {"const": "absent"}}}
]))]
pub struct Spec {
    /// `present` (default) or `absent` (deletes the IAM user and its keys).
    #[serde(default)]
    pub ensure: Ensure,
    /// Region of the resource, and the SMTP region when `regions` is left out.
    #[serde(default)]
    pub region: Option<String>,
    /// SES regions to derive an SMTP password for (default: `region`). Adding a region later needs
    /// `rotate: true`, since the key's secret is not kept.
    #[serde(default)]
    pub regions: Option<Vec<String>>,
    /// Absolute path of the YAML Pillar file that receives, per region, `smtp_host`, `smtp_port`,
    /// `smtp_username` and `smtp_password` (mode 0600).
    #[serde(default)]
    pub secret_file: String,
    /// Nest the regions under this top-level key of the file.
    #[serde(default)]
    pub pillar_key: Option<String>,
    /// When the file holds no key AWS knows, or lacks a region: create a new key, write the file,
    /// then delete the old key. Without it, those cases fail and say so.
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
common_spec!(Spec);

impl Spec {
    /// The secret file and its permissions, as these settings give them.
    pub fn target(&self) -> Target {
        Target::new(&self.secret_file, self.pillar_key.as_deref()).with_permissions(
            self.mode.as_deref(),
            self.owner.as_deref(),
            self.group.as_deref(),
        )
    }
    /// The SES regions the secret file holds a password for.
    pub fn smtp_regions(&self) -> Vec<String> {
        let mut r = self
            .regions
            .clone()
            .unwrap_or_else(|| vec![self.region.clone().unwrap_or_else(|| crate::aws::DEFAULT_REGION.into())]);
        r.sort();
        r.dedup();
        r
    }
}

/// The policy: send raw email, nothing else.
fn send_only() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]})
}

/// The SES SMTP password for a secret access key in a region: AWS's published "version 4"
/// derivation (an HMAC-SHA256 chain over a fixed date, the region, `ses`, `aws4_request` and
/// `SendRawEmail`, prefixed with the version byte 0x04, in base64).
pub fn smtp_password(secret_access_key: &str, region: &str) -> String {
    fn sign(key: &[u8], message: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
    let mut signature = sign(format!("AWS4{secret_access_key}").as_bytes(), "11111111");
    for part in [region, "ses", "aws4_request", "SendRawEmail"] {
        signature = sign(&signature, part);
    }
    let mut bytes = vec![0x04];
    bytes.extend(signature);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The SMTP endpoint of a region.
pub fn smtp_host(region: &str) -> String {
    format!("email-smtp.{region}.amazonaws.com")
}

/// What the secret file holds: for each region, host, port, user name and password.
pub fn file_values(regions: &[String], key_id: &str, secret: &str) -> Map<String, Value> {
    regions
        .iter()
        .map(|r| {
            let entry = json!({
                "smtp_host": smtp_host(r),
                "smtp_port": SMTP_PORT,
                "smtp_username": key_id,
                "smtp_password": smtp_password(secret, r),
            });
            (r.clone(), entry)
        })
        .collect()
}

// ---- read ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    pub user: String,
    /// The inline policy's document, if the user has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    /// The user's other inline policies: an SMTP user may send mail and nothing more.
    pub other_policies: Vec<String>,
    pub access_keys: Vec<KeyInfo>,
    /// The key id (SMTP user name) the secret file holds, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_file_key: Option<String>,
    /// Regions the secret file has a password for.
    pub secret_file_regions: Vec<String>,
    /// How the secret file's mode, owner and group differ from the settings.
    #[serde(skip)]
    pub secret_file_drift: Vec<crate::secrets::Drift>,
}

/// The key id (SMTP user name) in the secret file's section: every region's entry holds the same.
pub fn key_in(section: &Map<String, Value>) -> Option<String> {
    section.values().find_map(|entry| entry.get("smtp_username")?.as_str().map(str::to_string))
}

impl Kind for SmtpCredentials {
    const KIND: &'static str = "ses.smtp_credentials";
    const NOUN: &'static str = "SES SMTP user";
    /// It is an IAM user: IAM shows a change everywhere within about two minutes.
    const CONSISTENCY: crate::kind::Consistency =
        crate::kind::Consistency { budget: crate::aws::PROPAGATION, matching_reads: 1 };
    type Spec = Spec;
    type Observed = Observed;

    fn identity(name: &str, _region: &str) -> String {
        crate::resources::iam::identity("user", name)
    }

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        validate::iam_name(name, 64, path, errors);
        for (i, r) in spec.regions.iter().flatten().enumerate() {
            validate::region(r, &format!("{path}.regions[{i}]"), errors);
        }
        if spec.regions.as_ref().is_some_and(Vec::is_empty) {
            errors.push(Invalid::new(format!("{path}.regions"), "name at least one region"));
        }
        if spec.ensure == Ensure::Present {
            if spec.secret_file.is_empty() {
                errors
                    .push(Invalid::new(format!("{path}.secret_file"), "missing: where should the SMTP passwords go?"));
            } else {
                validate::secret_file(&spec.secret_file, &format!("{path}.secret_file"), errors);
            }
            validate::permissions(spec.mode.as_deref(), spec.owner.as_deref(), spec.group.as_deref(), path, errors);
            if let Some(key) = &spec.pillar_key {
                validate::pillar_key(key, &format!("{path}.pillar_key"), errors);
            }
        }
    }

    fn secret_files(spec: &Spec) -> Vec<(String, Target)> {
        vec![("secret_file".to_string(), spec.target())]
    }

    async fn read(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Option<Observed>, Error> {
        let iam = cx.iam();
        // The secret file first: one the tool must not write (or may not read) is refused before
        // anything is created.
        // Held until the keys are listed, so that the file and the keys are seen as one.
        let _consistent = match spec.ensure {
            Ensure::Present if !spec.secret_file.is_empty() => spec.target().lock_shared(!cx.test()).await?,
            Ensure::Present => None,
            Ensure::Absent => None,
        };
        // Describing needs no file: without one, only what AWS has is read.
        let (file, mode) = match spec.ensure {
            Ensure::Present if !spec.secret_file.is_empty() => (spec.target().read()?, spec.target().drift()?),
            _ => (None, Vec::new()),
        };
        let mut o = Observed {
            user: name.to_string(),
            policy: None,
            other_policies: Vec::new(),
            access_keys: Vec::new(),
            secret_file_key: None,
            secret_file_regions: Vec::new(),
            secret_file_drift: mode,
        };
        if spec.ensure == Ensure::Absent {
            let found = iam.get_user().user_name(name).send().await.none_if("GetUser", &[code::NO_SUCH_ENTITY])?;
            return Ok(found.map(|_| o));
        }
        // Both listings answer NoSuchEntity for a user that does not exist, so they need no GetUser
        // first; they go out at once. The policy's document is read only when the user has it.
        let (Some(inline), Some(keys)) = futures::try_join!(inline_policies(cx, name), access_key::list_of(cx, name))?
        else {
            return Ok(None);
        };
        if inline.iter().any(|p| p == POLICY) {
            let policy = iam
                .get_user_policy()
                .user_name(name)
                .policy_name(POLICY)
                .send()
                .await
                .none_if("GetUserPolicy", &[code::NO_SUCH_ENTITY])?;
            o.policy = policy.map(|p| document::from_iam(p.policy_document())).transpose().map_err(Error::Refused)?;
        }
        o.other_policies = inline.into_iter().filter(|p| p != POLICY).collect();
        o.other_policies.sort();
        o.access_keys = keys;
        if let Some(file) = file {
            o.secret_file_key = key_in(&file);
            for (region, entry) in &file {
                let user = entry.get("smtp_username").and_then(Value::as_str);
                if user.is_some()
                    && user == o.secret_file_key.as_deref()
                    && entry.get("smtp_password").is_some_and(Value::is_string)
                {
                    o.secret_file_regions.push(region.clone());
                }
            }
        }
        Ok(Some(o))
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let regions = spec.smtp_regions();
        let written = json!({"secret": format!("to be written to {}", spec.secret_file), "regions": regions});
        let Some(o) = observed else {
            let mut d = Diff::creating();
            d.set("policy", (), send_only());
            d.set("smtp_credentials", (), written);
            return d;
        };
        let mut d = Diff::default();
        match &o.policy {
            Some(p) if document::same(p, &send_only()) => {}
            other => d.set("policy", other, send_only()),
        }
        if !o.other_policies.is_empty() {
            let mut have = o.other_policies.clone();
            if o.policy.is_some() {
                have.push(POLICY.to_string());
                have.sort();
            }
            d.set("inline_policies", have, [POLICY]);
        }
        access_key::diff(
            "smtp_credentials",
            name,
            &spec.secret_file,
            spec.rotate,
            &o.access_keys,
            o.secret_file_key.as_deref(),
            &mut d,
        );
        let in_sync = !d.has("smtp_credentials") && d.conflicts.is_empty();
        let missing: Vec<&String> = regions.iter().filter(|r| !o.secret_file_regions.contains(r)).collect();
        if in_sync && !missing.is_empty() {
            let list = missing.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
            if spec.rotate {
                d.set("smtp_credentials", json!({"regions": o.secret_file_regions}), written);
            } else {
                d.conflicts.push(format!(
                    "{} has no SMTP password for {list}; deriving one needs the key's secret, which is not kept. \
                     Set rotate: true to create a new key with passwords for every region.",
                    spec.secret_file
                ));
            }
        }
        access_key::diff_permissions(&o.secret_file_drift, &mut d);
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
        let applied = apply_credentials(cx, name, spec, observed, diff).await;
        if applied.is_err() {
            access_key::forget_unwritten(diff, "smtp_credentials");
        }
        applied
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, name: &str, _spec: &Spec, _observed: &Observed) -> Result<(), Error> {
        delete_user(cx, name).await
    }

    // ---- export --------------------------------------------------------------------------------

    const GLOBAL: bool = true;

    /// The IAM users that hold the SMTP send policy.
    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        users(cx, true).await
    }

    /// Commented out: the entry needs a secret file, which only the key's secret can fill.
    fn export(name: &str, o: &Observed, secret_dir: &str) -> Exported {
        let mut e = Exported { commented: true, ..Exported::default() };
        let file = format!("{}/{name}_smtp.sls", secret_dir.trim_end_matches('/'));
        e.set("secret_file", &file);
        let keys: Vec<&str> = o.access_keys.iter().map(|k| k.id.as_str()).collect();
        match keys.is_empty() {
            true => e
                .comments
                .push("no access key yet: uncomment, and the first apply makes one and writes the file.".into()),
            false => {
                e.comments.push(format!(
                    "access key {}: AWS cannot show its secret, from which the SMTP password derives.",
                    keys.join(", ")
                ));
                e.comments.push(format!("Uncomment once {file} holds the password (ocp-aws smtp-password),"));
                e.comments.push("or add rotate: true to replace the key.".into());
            }
        }
        e
    }
}

/// Whether the IAM user `name` is an SMTP user: it has the inline send policy this kind gives it.
pub async fn is_smtp_user(cx: &Cx<'_>, name: &str) -> Result<bool, Error> {
    Ok(inline_policies(cx, name).await?.unwrap_or_default().iter().any(|p| p == POLICY))
}

/// How many users' inline policies `users` lists at once: an account's users are read with some
/// concurrency, yet in bursts small beside IAM's request rate.
const USERS_AT_ONCE: usize = 8;

/// The account's IAM users that are SMTP users (`smtp` true) or that are not: `ses.smtp_credentials`
/// and `iam.user` list them apart.
pub async fn users(cx: &Cx<'_>, smtp: bool) -> Result<Listed, Error> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    let users: Vec<aws_sdk_iam::types::User> =
        cx.iam().list_users().into_paginator().items().send().try_collect().await.op("ListUsers")?;
    let names: Vec<String> = stream::iter(users.iter().map(|u| u.user_name()))
        .map(|name| async move { Ok::<_, Error>((name, is_smtp_user(cx, name).await?)) })
        .buffered(USERS_AT_ONCE)
        .try_filter_map(|(name, is)| async move { Ok((is == smtp).then(|| name.to_string())) })
        .try_collect()
        .await?;
    Ok(Listed::of(names))
}

/// The writes of `apply`, in order: the user, its policy, its key, its file's mode.
async fn apply_credentials(
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
    if diff.has("policy") {
        crate::aws::retry_while(&[code::NO_SUCH_ENTITY], || {
            iam.put_user_policy().user_name(name).policy_name(POLICY).policy_document(send_only().to_string()).send()
        })
        .await
        .op("PutUserPolicy")?;
    }
    if diff.has("inline_policies") {
        for other in observed.map(|o| o.other_policies.as_slice()).unwrap_or_default() {
            iam.delete_user_policy()
                .user_name(name)
                .policy_name(other)
                .send()
                .await
                .none_if("DeleteUserPolicy", &[code::NO_SUCH_ENTITY])?;
        }
    }
    let seen = access_key::Seen {
        keys: observed.map(|o| o.access_keys.as_slice()).unwrap_or_default(),
        in_file: observed.and_then(|o| o.secret_file_key.as_deref()),
    };
    let regions = spec.smtp_regions();
    access_key::ensure(cx, name, &spec.target(), seen, key_in, "smtp_credentials", diff, |id, secret| {
        file_values(&regions, id, secret)
    })
    .await?;
    access_key::repair_permissions(&spec.target(), diff).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_holds_host_port_user_and_a_password_per_region() {
        let m = file_values(&["eu-west-2".into(), "us-east-1".into()], "AKIAEXAMPLE", "secret");
        assert_eq!(m["eu-west-2"]["smtp_host"], "email-smtp.eu-west-2.amazonaws.com");
        assert_eq!(m["eu-west-2"]["smtp_port"], 587);
        assert_eq!(m["us-east-1"]["smtp_username"], "AKIAEXAMPLE");
        assert_ne!(m["eu-west-2"]["smtp_password"], m["us-east-1"]["smtp_password"]);
    }

    #[test]
    fn password_shape() {
        let p = smtp_password("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1");
        let bytes = base64::engine::general_purpose::STANDARD.decode(&p).unwrap();
        assert_eq!((bytes.len(), bytes[0]), (33, 0x04));
    }

    fn observed(regions: &[&str]) -> Observed {
        Observed {
            user: "u".into(),
            policy: Some(send_only()),
            other_policies: Vec::new(),
            access_keys: vec![KeyInfo { id: "AK1".into(), active: true }],
            secret_file_key: Some("AK1".into()),
            secret_file_regions: regions.iter().map(|r| r.to_string()).collect(),
            secret_file_drift: Vec::new(),
        }
    }

    #[test]
    fn exactly_the_send_only_policy() {
        let spec = Spec { secret_file: "/f".into(), ..Spec::default() };
        let mut o = observed(&["us-east-1"]);
        assert!(SmtpCredentials::diff("u", &spec, Some(&o)).is_empty());
        o.other_policies = vec!["admin".into()];
        let d = SmtpCredentials::diff("u", &spec, Some(&o));
        assert_eq!(d.fields.len(), 1, "{:?}", d.fields);
        assert_eq!(
            (d.fields[0].old.clone(), d.fields[0].new.clone()),
            (json!(["AmazonSesSendingAccess", "admin"]), json!([POLICY]))
        );
        o.other_policies.clear();
        o.policy = Some(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:*", "Resource": "*"}]}),
        );
        assert!(SmtpCredentials::diff("u", &spec, Some(&o)).has("policy"));
    }

    #[test]
    fn a_new_region_needs_rotate() {
        let mut spec = Spec {
            secret_file: "/f".into(),
            regions: Some(vec!["eu-west-2".into(), "us-east-1".into()]),
            ..Spec::default()
        };
        assert!(SmtpCredentials::diff("u", &spec, Some(&observed(&["eu-west-2", "us-east-1"]))).is_empty());
        let d = SmtpCredentials::diff("u", &spec, Some(&observed(&["eu-west-2"])));
        assert!(d.conflicts[0].contains("no SMTP password for us-east-1"), "{:?}", d.conflicts);
        spec.rotate = true;
        assert!(SmtpCredentials::diff("u", &spec, Some(&observed(&["eu-west-2"]))).has("smtp_credentials"));
    }
}
