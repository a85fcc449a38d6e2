//! The typed `ocp_aws` Pillar: its model (serde + schemars, so the JSON Schema comes from here),
//! validation with Pillar paths, reference resolution, and the order of work.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::DEFAULT_REGION;
use crate::error::{Error, Invalid};
use crate::resources::{iam, s3, ses, AnySpec, KindId};
use crate::validate;

/// The root of Pillar every path starts from.
pub const ROOT: &str = "ocp_aws";

/// Whether a resource should exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ensure {
    /// The resource exists and matches its settings (the default).
    #[default]
    Present,
    /// The resource does not exist; it is deleted if found.
    Absent,
}

/// The `ocp_aws` Pillar value: AWS resources by service, kind and name.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pillar {
    /// Default AWS region of every resource that names none (default `us-east-1`).
    #[serde(default)]
    pub region: Option<String>,
    /// Amazon S3.
    #[serde(default)]
    pub s3: S3Section,
    /// AWS Identity and Access Management.
    #[serde(default)]
    pub iam: IamSection,
    /// Amazon Simple Email Service.
    #[serde(default)]
    pub ses: SesSection,
}

/// Amazon S3 resources.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    /// S3 buckets by bucket name.
    #[serde(default)]
    pub buckets: BTreeMap<String, s3::bucket::Spec>,
}

/// IAM resources.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamSection {
    /// Customer-managed IAM policies by policy name.
    #[serde(default)]
    pub policies: BTreeMap<String, iam::policy::Spec>,
    /// IAM groups by group name.
    #[serde(default)]
    pub groups: BTreeMap<String, iam::group::Spec>,
    /// IAM users by user name.
    #[serde(default)]
    pub users: BTreeMap<String, iam::user::Spec>,
}

/// Amazon SES resources.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SesSection {
    /// Sending domains by domain name.
    #[serde(default)]
    pub domains: BTreeMap<String, ses::domain_identity::Spec>,
    /// Email-address identities by address.
    #[serde(default)]
    pub email_addresses: BTreeMap<String, ses::email_identity::Spec>,
    /// SMTP credentials by IAM user name.
    #[serde(default)]
    pub smtp_credentials: BTreeMap<String, ses::smtp_credentials::Spec>,
    /// Account-level settings (suppression list, production access) of the account in one region.
    #[serde(default)]
    pub account: Option<ses::account::Spec>,
}

/// The whole file a user keeps: `ocp_aws` plus any other Pillar keys.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(
    title = "ocp-aws Pillar",
    description = "Salt Pillar for ocp-aws: the `ocp_aws` key holds the AWS resources to converge."
)]
pub struct PillarFile {
    /// AWS resources managed by ocp-aws.
    pub ocp_aws: Pillar,
}

/// One resource to converge, with everything resolved: kind, region, dependencies.
#[derive(Debug)]
pub struct Node {
    pub kind: KindId,
    pub name: String,
    pub spec: AnySpec,
    pub ensure: Ensure,
    pub region: String,
    /// Indices (into the node list) of the nodes that must be handled first.
    pub deps: Vec<usize>,
    /// The resource's Pillar value, as given.
    pub params: Value,
}

impl Node {
    /// `kind name`, e.g. `s3.bucket ocp-redmine-backup`: unique in a Pillar.
    pub fn id(&self) -> String {
        format!("{} {}", self.kind.id(), self.name)
    }
    /// The resource's Pillar path, e.g. `ocp_aws.s3.buckets.ocp-redmine-backup`.
    pub fn path(&self) -> String {
        resource_path(self.kind, &self.name)
    }
}

pub fn resource_path(kind: KindId, name: &str) -> String {
    match kind {
        // A single entry, not a mapping by name.
        KindId::SesAccount => format!("{ROOT}.{}", kind.pillar()),
        _ => format!("{ROOT}.{}.{name}", kind.pillar()),
    }
}

/// Parses a YAML or JSON document and returns its `ocp_aws` value.
pub fn from_document(text: &str) -> Result<Value, Error> {
    let doc: Value =
        serde_yaml::from_str(text).map_err(|e| Error::invalid("", format!("not valid YAML or JSON: {e}")))?;
    match doc {
        Value::Object(mut top) => {
            top.remove(ROOT).ok_or_else(|| Error::invalid("", format!("the document has no top-level `{ROOT}` key")))
        }
        _ => Err(Error::invalid("", format!("expected a mapping with a top-level `{ROOT}` key"))),
    }
}

/// Validates the `ocp_aws` Pillar value and returns its resources in the order of work.
/// `default_region` is used when neither the resource nor the Pillar names a region.
pub fn plan(value: &Value, default_region: Option<&str>) -> Result<Vec<Node>, Error> {
    let value = if value.is_null() { Value::Object(Default::default()) } else { value.clone() };
    let pillar: Pillar = deserialize(value.clone(), ROOT)?;
    let mut errors = Vec::new();
    let region = match &pillar.region {
        Some(r) => {
            validate::region(r, &format!("{ROOT}.region"), &mut errors);
            r.clone()
        }
        None => default_region.unwrap_or(DEFAULT_REGION).to_string(),
    };
    let mut nodes = Vec::new();
    let mut push = |kind: KindId, name: &String, spec: AnySpec| {
        let mut pointer = format!("/{}/{}", kind.pillar().replace('.', "/"), escape_pointer(name));
        if kind == KindId::SesAccount {
            pointer = "/ses/account".into();
        }
        nodes.push((kind, name.clone(), spec, value.pointer(&pointer).cloned().unwrap_or(Value::Null)));
    };
    for (n, s) in &pillar.s3.buckets {
        push(KindId::S3Bucket, n, AnySpec::S3Bucket(s.clone()));
    }
    for (n, s) in &pillar.iam.policies {
        push(KindId::IamPolicy, n, AnySpec::IamPolicy(s.clone()));
    }
    for (n, s) in &pillar.iam.groups {
        push(KindId::IamGroup, n, AnySpec::IamGroup(s.clone()));
    }
    for (n, s) in &pillar.iam.users {
        push(KindId::IamUser, n, AnySpec::IamUser(s.clone()));
    }
    for (n, s) in &pillar.ses.domains {
        push(KindId::SesDomainIdentity, n, AnySpec::SesDomainIdentity(s.clone()));
    }
    for (n, s) in &pillar.ses.email_addresses {
        push(KindId::SesEmailIdentity, n, AnySpec::SesEmailIdentity(s.clone()));
    }
    for (n, s) in &pillar.ses.smtp_credentials {
        push(KindId::SesSmtpCredentials, n, AnySpec::SesSmtpCredentials(s.clone()));
    }
    if let Some(s) = &pillar.ses.account {
        // Account settings are per region: the resource is named after its region.
        push(KindId::SesAccount, &s.region.clone().unwrap_or_else(|| region.clone()), AnySpec::SesAccount(s.clone()));
    }
    let nodes: Vec<Node> = nodes
        .into_iter()
        .map(|(kind, name, mut spec, params)| {
            spec.check(&name, &resource_path(kind, &name), &mut errors);
            spec.default_region(&region);
            let region = spec.region().unwrap_or(&region).to_string();
            Node { kind, ensure: spec.ensure(), name, spec, region, deps: Vec::new(), params }
        })
        .collect();
    let nodes = resolve(nodes, &mut errors);
    check_secret_files(&nodes, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(order(nodes))
}

/// Parses one resource's settings for `op: state`, reporting errors at its Pillar path.
pub fn single(
    kind: KindId,
    name: &str,
    params: &Value,
    absent: bool,
    default_region: Option<&str>,
) -> Result<Node, Error> {
    let path = resource_path(kind, name);
    let mut params = if params.is_null() { Value::Object(Default::default()) } else { params.clone() };
    if absent {
        if let Value::Object(m) = &mut params {
            m.insert("ensure".into(), Value::String("absent".into()));
        }
    }
    let mut spec = AnySpec::parse(kind, params.clone(), &path)?;
    let mut errors = Vec::new();
    spec.check(name, &path, &mut errors);
    if let Some(r) = default_region {
        validate::region(r, "connection.region", &mut errors);
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    // SES account settings are named after their region.
    let fallback = if kind == KindId::SesAccount { name } else { default_region.unwrap_or(DEFAULT_REGION) };
    if kind == KindId::SesAccount && spec.region().is_none() {
        validate::region(name, &path, &mut errors);
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
    }
    spec.default_region(fallback);
    let region = spec.region().unwrap_or(DEFAULT_REGION).to_string();
    Ok(Node { kind, name: name.to_string(), ensure: spec.ensure(), spec, region, deps: Vec::new(), params })
}

/// Deserialises with the path of the first error, prefixed by `prefix`.
pub fn deserialize<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match inner.as_str() {
            "." | "" => prefix.to_string(),
            p if p.starts_with('[') => format!("{prefix}{p}"),
            p => format!("{prefix}.{p}"),
        };
        Error::Invalid(vec![Invalid::new(path, validate::humane(&e.into_inner().to_string()))])
    })
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Checks that every reference names a resource in Pillar and records it as a dependency.
/// A present resource depends on what it references; when both are absent, the order reverses
/// (a user is deleted before the policy attached to it).
fn resolve(mut nodes: Vec<Node>, errors: &mut Vec<Invalid>) -> Vec<Node> {
    let index: HashMap<(String, String), usize> =
        nodes.iter().enumerate().map(|(i, n)| ((n.kind.id().to_string(), n.name.clone()), i)).collect();
    let mut edges = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for r in node.spec.refs() {
            let path = format!("{}.{}", node.path(), r.field);
            let Some(&j) = index.get(&(r.kind.to_string(), r.name.clone())) else {
                let kind = KindId::from_id(r.kind).expect("refs name known kinds");
                errors.push(Invalid::new(
                    path,
                    format!("names {} `{}`, which is not in {ROOT}.{}", r.kind, r.name, kind.pillar()),
                ));
                continue;
            };
            match (node.ensure, nodes[j].ensure) {
                (Ensure::Present, Ensure::Present) => edges.push((i, j)),
                (Ensure::Absent, Ensure::Absent) => edges.push((j, i)),
                (Ensure::Present, Ensure::Absent) => errors
                    .push(Invalid::new(path, format!("names {} `{}`, which has `ensure: absent`", r.kind, r.name))),
                (Ensure::Absent, Ensure::Present) => {}
            }
        }
    }
    // Deleting runs against the kinds' order: a user goes before the group and policy it may use,
    // whether or not its absent entry still names them.
    for (i, a) in nodes.iter().enumerate().filter(|(_, n)| n.ensure == Ensure::Absent) {
        for (j, _) in nodes.iter().enumerate().filter(|(_, n)| n.ensure == Ensure::Absent && n.kind > a.kind) {
            edges.push((i, j));
        }
    }
    for (from, to) in edges {
        if !nodes[from].deps.contains(&to) {
            nodes[from].deps.push(to);
        }
    }
    nodes
}

/// Two resources must not write the same key of the same secret file, and a resource that writes a
/// whole file (no `pillar_key`) must have it to itself.
fn check_secret_files(nodes: &[Node], errors: &mut Vec<Invalid>) {
    let mut seen: Vec<(crate::secrets::Target, String)> = Vec::new();
    for node in nodes.iter().filter(|n| n.ensure == Ensure::Present) {
        for (field, target) in node.spec.secret_files() {
            let path = format!("{}.{field}", node.path());
            let clash = seen.iter().find(|(other, _)| {
                other.file == target.file && (other.key == target.key || other.key.is_none() || target.key.is_none())
            });
            if let Some((other, first)) = clash {
                let message = if other.key == target.key {
                    let key = target.key.as_deref().map(|k| format!(" under `{k}`")).unwrap_or_default();
                    format!("{} is already written{key} by {first}", target.file)
                } else {
                    format!("{} is shared with {first}: give both a pillar_key, or each its own file", target.file)
                };
                errors.push(Invalid::new(path.clone(), message));
            }
            seen.push((target, path));
        }
    }
}

/// Orders nodes so that each comes after its dependencies; among ready nodes, kinds keep their
/// declared order (buckets, policies, groups, users) and names their Pillar order.
fn order(nodes: Vec<Node>) -> Vec<Node> {
    let n = nodes.len();
    let mut indegree: Vec<usize> = nodes.iter().map(|x| x.deps.len()).collect();
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in nodes.iter().enumerate() {
        for &d in &node.deps {
            dependants[d].push(i);
        }
    }
    let key = |i: usize| (nodes[i].kind, i);
    let mut ready: BTreeSet<(KindId, usize)> = (0..n).filter(|&i| indegree[i] == 0).map(key).collect();
    let mut sequence = Vec::with_capacity(n);
    while let Some((_, i)) = ready.pop_first() {
        sequence.push(i);
        for &j in &dependants[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.insert(key(j));
            }
        }
    }
    assert_eq!(sequence.len(), n, "references between kinds only point one way, so there is no cycle");
    let mut new_index = vec![0; n];
    for (pos, &old) in sequence.iter().enumerate() {
        new_index[old] = pos;
    }
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    sequence
        .iter()
        .map(|&old| {
            let mut node = slots[old].take().expect("each node once");
            node.deps = node.deps.iter().map(|&d| new_index[d]).collect();
            node
        })
        .collect()
}
