//! The typed `ocp_aws` Pillar: its model (serde + schemars, so the JSON Schema comes from here),
//! validation with Pillar paths, reference resolution, and the order of work.

use std::collections::{BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::aws::DEFAULT_REGION;
use crate::error::{Error, Invalid};
use crate::kind::{Ensure, Referrer};
use crate::resources::{AnySpec, KindId};
pub use crate::resources::{Pillar, ROOT};
use crate::strict::deserialize;
use crate::validate;

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
        self.kind.path(&self.name)
    }
}

/// Parses a YAML or JSON document and returns its `ocp_aws` value.
pub fn from_document(text: &str) -> Result<Value, Error> {
    let doc = crate::strict::from_document(text)?;
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
    let nodes: Vec<Node> = pillar
        .entries(&region)
        .into_iter()
        .map(|(kind, name, mut spec)| {
            let path = kind.path(&name);
            if let Some(r) = spec.region() {
                validate::region(r, &format!("{path}.region"), &mut errors);
            }
            spec.check(&name, &path, &mut errors);
            spec.default_region(&region);
            let region = spec.region().unwrap_or(&region).to_string();
            let params = value.pointer(&kind.pointer(&name)).cloned().unwrap_or(Value::Null);
            Node { kind, ensure: spec.ensure(), name, spec, region, deps: Vec::new(), params }
        })
        .collect();
    check_identities(&nodes, &mut errors);
    let nodes = resolve(nodes, &mut errors);
    check_secret_files(&nodes, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(order(nodes))
}

/// Parses one resource's settings for `op: state`, reporting errors at its Pillar path.
/// A single-entry kind (SES account settings) is named after its region.
pub fn single(
    kind: KindId,
    name: &str,
    params: &Value,
    absent: bool,
    default_region: Option<&str>,
) -> Result<Node, Error> {
    let path = kind.path(name);
    let mut params = if params.is_null() { Value::Object(Default::default()) } else { params.clone() };
    if absent {
        if let Value::Object(m) = &mut params {
            m.insert("ensure".into(), Value::String("absent".into()));
        }
    }
    let mut spec = AnySpec::parse(kind, params.clone(), &path)?;
    let mut errors = Vec::new();
    if let Some(r) = spec.region() {
        validate::region(r, &format!("{path}.region"), &mut errors);
    }
    spec.check(name, &path, &mut errors);
    if let Some(r) = default_region {
        validate::region(r, "connection.region", &mut errors);
    }
    if kind.singleton() && spec.region().is_none() {
        validate::region(name, &path, &mut errors);
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let fallback = if kind.singleton() { name } else { default_region.unwrap_or(DEFAULT_REGION) };
    spec.default_region(fallback);
    let region = spec.region().unwrap_or(DEFAULT_REGION).to_string();
    Ok(Node { kind, name: name.to_string(), ensure: spec.ensure(), spec, region, deps: Vec::new(), params })
}

/// One AWS object must not be managed by two entries: two spellings of one IAM name, or an IAM
/// user that is also SMTP credentials. Which entry would win would depend on timing.
fn check_identities(nodes: &[Node], errors: &mut Vec<Invalid>) {
    let mut seen: HashMap<String, &Node> = HashMap::new();
    for node in nodes {
        let key = node.spec.identity(&node.name, &node.region);
        match seen.get(&key) {
            Some(first) => errors.push(Invalid::new(
                node.path(),
                format!("is the same AWS object as {} ({key}); manage it in one place", first.path()),
            )),
            None => {
                seen.insert(key, node);
            }
        }
    }
}

/// Checks that every reference names a resource in Pillar and records it as a dependency.
/// A present resource depends on what it references; when both are absent, the order reverses
/// (a user is deleted before the policy attached to it).
fn resolve(mut nodes: Vec<Node>, errors: &mut Vec<Invalid>) -> Vec<Node> {
    let index: HashMap<(String, String), usize> =
        nodes.iter().enumerate().map(|(i, n)| ((n.kind.id().to_string(), n.name.clone()), i)).collect();
    let mut edges = Vec::new();
    let mut told = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for r in node.spec.refs() {
            let path = format!("{}.{}", node.path(), r.field);
            let Some(&j) = index.get(&(r.kind.to_string(), r.name.clone())) else {
                let kind = KindId::from_id(r.kind).expect("refs name known kinds");
                errors.push(Invalid::new(
                    path,
                    format!("names {} {}, which is not in {ROOT}.{}", r.kind, validate::quote(&r.name), kind.pillar()),
                ));
                continue;
            };
            match (node.ensure, nodes[j].ensure) {
                (Ensure::Present, Ensure::Present) => {
                    edges.push((i, j));
                    let from = Referrer { kind: node.kind.id(), name: node.name.clone(), region: node.region.clone() };
                    told.push((j, from, path));
                }
                (Ensure::Absent, Ensure::Absent) => edges.push((j, i)),
                (Ensure::Present, Ensure::Absent) => errors.push(Invalid::new(
                    path,
                    format!("names {} {}, which has `ensure: absent`", r.kind, validate::quote(&r.name)),
                )),
                (Ensure::Absent, Ensure::Present) => {}
            }
        }
    }
    // Deleting runs against references: a user goes before the groups and policies of kinds it may
    // reference, whether or not its absent entry still names them.
    for (i, a) in nodes.iter().enumerate().filter(|(_, n)| n.ensure == Ensure::Absent) {
        let refers_to = a.kind.refers_to();
        for (j, b) in nodes.iter().enumerate().filter(|(_, n)| n.ensure == Ensure::Absent) {
            if refers_to.contains(&b.kind.id()) {
                edges.push((j, i));
            }
        }
    }
    for (j, from, path) in told {
        let target = &mut nodes[j];
        if let Err(message) = target.spec.referenced_by(&mut target.params, &from) {
            errors.push(Invalid::new(path, message));
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
            // Two spellings of one file (`/a//./b`, `/a/b`) are one file.
            let file = validate::normalise_path(&target.file);
            let clash = seen.iter().find(|(other, _)| {
                validate::normalise_path(&other.file) == file
                    && (other.key == target.key || other.key.is_none() || target.key.is_none())
            });
            if let Some((other, first)) = clash {
                let message = if other.key == target.key {
                    let key =
                        target.key.as_deref().map(|k| format!(" under {}", validate::quote(k))).unwrap_or_default();
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
/// declared order (buckets, policies, groups, users) and names their sorted order (a Pillar mapping
/// has no order of its own once Salt has rendered it).
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
