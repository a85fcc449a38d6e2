//! The typed `ocp_aws` Pillar: its model (serde + schemars, so the JSON Schema comes from here),
//! validation with Pillar paths, reference resolution, and the order of work.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

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
    let mut errors = Vec::new();
    let parsed = entries(&value, &mut errors);
    let region = match &parsed.region {
        Some(r) => {
            validate::region(r, &format!("{ROOT}.region"), &mut errors);
            r.clone()
        }
        None => default_region.unwrap_or(DEFAULT_REGION).to_string(),
    };
    let nodes: Vec<Node> = parsed
        .entries
        .into_iter()
        .map(|(kind, name, mut spec)| {
            // A single entry (SES account settings) is named after its region.
            let name = if kind.singleton() { spec.region().unwrap_or(&region).to_string() } else { name };
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
    let nodes = resolve(nodes, &parsed.unreadable, &mut errors);
    check_secret_files(&nodes, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(order(nodes))
}

/// The nameservers a Pillar value names (`nameservers`), for a value `plan` accepted.
pub fn nameservers(value: &Value) -> Vec<SocketAddr> {
    let list = value.get("nameservers").and_then(Value::as_array).cloned().unwrap_or_default();
    list.iter().filter_map(Value::as_str).filter_map(|ns| validate::nameserver(ns).ok()).collect()
}

/// The resources of a Pillar value, read entry by entry so that one bad entry does not hide the
/// errors of another: every unknown key and every entry that does not parse is reported.
struct Entries {
    region: Option<String>,
    /// (kind, name, settings), kinds in declared order and names sorted, as `Pillar` holds them.
    entries: Vec<(KindId, String, AnySpec)>,
    /// Entries that are in Pillar but did not parse: references to them are not reported again.
    unreadable: BTreeSet<(KindId, String)>,
}

fn entries(value: &Value, errors: &mut Vec<Invalid>) -> Entries {
    let mut out = Entries { region: None, entries: Vec::new(), unreadable: BTreeSet::new() };
    let Value::Object(top) = value else {
        errors.push(Invalid::new(ROOT, format!("expected a mapping, not {}", what(value))));
        return out;
    };
    let services: Vec<&str> = KindId::ALL.iter().map(|k| k.service()).fold(Vec::new(), |mut v, s| {
        if !v.contains(&s) {
            v.push(s);
        }
        v
    });
    for (key, section) in top {
        let path = format!("{ROOT}.{key}");
        if key == "region" {
            match deserialize::<Option<String>>(section.clone(), &path) {
                Ok(r) => out.region = r,
                Err(e) => errors.extend(invalid_of(e)),
            }
            continue;
        }
        if key == "nameservers" {
            match deserialize::<Vec<String>>(section.clone(), &path) {
                Ok(list) => {
                    for (i, ns) in list.iter().enumerate() {
                        if let Err(e) = validate::nameserver(ns) {
                            errors.push(Invalid::new(format!("{path}[{i}]"), e));
                        }
                    }
                }
                Err(e) => errors.extend(invalid_of(e)),
            }
            continue;
        }
        if !services.contains(&key.as_str()) {
            let known: Vec<String> = ["region", "nameservers"]
                .into_iter()
                .chain(services.iter().copied())
                .map(|k| format!("`{k}`"))
                .collect();
            errors.push(Invalid::new(
                path,
                format!("unknown field {}, expected one of {}", validate::quote(key), known.join(", ")),
            ));
            continue;
        }
        let Value::Object(fields) = section else {
            errors.push(Invalid::new(path, format!("expected a mapping, not {}", what(section))));
            continue;
        };
        let kinds: Vec<KindId> = KindId::ALL.iter().copied().filter(|k| k.service() == key).collect();
        for (field, list) in fields {
            let path = format!("{path}.{field}");
            let Some(kind) = kinds.iter().copied().find(|k| k.field() == field) else {
                let known: Vec<String> = kinds.iter().map(|k| format!("`{}`", k.field())).collect();
                errors.push(Invalid::new(
                    path,
                    format!("unknown field {}, expected one of {}", validate::quote(field), known.join(", ")),
                ));
                continue;
            };
            if kind.singleton() {
                if !list.is_null() {
                    match AnySpec::parse(kind, list.clone(), &path) {
                        Ok(spec) => out.entries.push((kind, String::new(), spec)),
                        Err(e) => errors.extend(invalid_of(e)),
                    }
                }
                continue;
            }
            let Value::Object(by_name) = list else {
                errors.push(Invalid::new(path, format!("expected a mapping by name, not {}", what(list))));
                continue;
            };
            for (name, settings) in by_name {
                match AnySpec::parse(kind, settings.clone(), &kind.path(name)) {
                    Ok(spec) => out.entries.push((kind, name.clone(), spec)),
                    Err(e) => {
                        errors.extend(invalid_of(e));
                        out.unreadable.insert((kind, name.clone()));
                    }
                }
            }
        }
    }
    out.entries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    out
}

/// The errors an `Error::Invalid` holds (any other error as one without a path).
fn invalid_of(e: Error) -> Vec<Invalid> {
    match e {
        Error::Invalid(all) => all,
        other => vec![Invalid::new("", other.to_string())],
    }
}

/// A value's type in YAML words, for "expected ..., not ..." messages.
fn what(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
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
    one(kind, name, params, absent, default_region, true)
}

/// Parses one resource's settings for `describe`, which reads what AWS has: the kind's own checks,
/// which ask for settings only applying needs (a policy's document, a secret file), are skipped.
pub fn for_describe(kind: KindId, name: &str, params: &Value, default_region: Option<&str>) -> Result<Node, Error> {
    one(kind, name, params, false, default_region, false)
}

fn one(
    kind: KindId,
    name: &str,
    params: &Value,
    absent: bool,
    default_region: Option<&str>,
    check: bool,
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
    if check {
        spec.check(name, &path, &mut errors);
    }
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
fn resolve(mut nodes: Vec<Node>, unreadable: &BTreeSet<(KindId, String)>, errors: &mut Vec<Invalid>) -> Vec<Node> {
    let index: HashMap<(String, String), usize> =
        nodes.iter().enumerate().map(|(i, n)| ((n.kind.id().to_string(), n.name.clone()), i)).collect();
    let mut edges = Vec::new();
    let mut told = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        // Ordering only: a resource used when Pillar has it goes first.
        for r in node.spec.uses() {
            if let Some(&j) = index.get(&(r.kind.to_string(), r.name.clone())) {
                if node.ensure == Ensure::Present && nodes[j].ensure == Ensure::Present {
                    edges.push((i, j));
                }
            }
        }
        for r in node.spec.refs() {
            let path = format!("{}.{}", node.path(), r.field);
            let Some(&j) = index.get(&(r.kind.to_string(), r.name.clone())) else {
                let kind = KindId::from_id(r.kind).expect("refs name known kinds");
                if unreadable.contains(&(kind, r.name.clone())) {
                    continue; // that entry's own errors are reported; "not in Pillar" would mislead
                }
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

/// The nodes whose ids are in `ids`, in the same order, with dependencies on the others dropped
/// (the caller runs those itself). An id that is not in the plan is an invalid request.
pub fn only(nodes: Vec<Node>, ids: &[String]) -> Result<Vec<Node>, Error> {
    let known: HashMap<String, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id(), i)).collect();
    let unknown: Vec<Invalid> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !known.contains_key(*id))
        .map(|(i, id)| {
            Invalid::new(
                format!("request.only[{i}]"),
                format!("{} is not a resource of the Pillar", validate::quote(id)),
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Invalid(unknown));
    }
    let keep: Vec<bool> = nodes.iter().map(|n| ids.contains(&n.id())).collect();
    let mut new_index = vec![None; nodes.len()];
    for (new, old) in (0..nodes.len()).filter(|&i| keep[i]).enumerate() {
        new_index[old] = Some(new);
    }
    Ok(nodes
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(mut n, _)| {
            n.deps = n.deps.iter().filter_map(|&d| new_index[d]).collect();
            n
        })
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describe_needs_no_apply_only_setting_but_checks_what_it_is_given() {
        let db = KindId::RdsDbInstance;
        assert_eq!(for_describe(db, "analysis", &json!({}), Some("eu-west-2")).unwrap().region, "eu-west-2");
        assert_eq!(for_describe(db, "analysis", &json!({"region": "eu-west-1"}), None).unwrap().region, "eu-west-1");
        assert!(for_describe(db, "analysis", &json!({"public": true}), None).is_ok(), "a setting given is parsed");
        for bad in [json!({"region": 5}), json!({"region": "nowhere-9"}), json!({"public": "yes"})] {
            assert!(for_describe(db, "analysis", &bad, None).is_err(), "{bad}");
        }
    }

    fn errors_of(pillar: Value) -> Vec<String> {
        match plan(&pillar, None) {
            Err(Error::Invalid(all)) => all.iter().map(|e| e.path.clone()).collect(),
            other => panic!("expected errors, got {other:?}"),
        }
    }

    #[test]
    fn every_bad_entry_and_unknown_key_is_reported() {
        let pillar = json!({
            "s3": {"buckets": {
                "b-one": {"lifecycle": [{"id": "x", "expire_days": "thirty"}]},
                "b-two": {"regoin": "eu-west-2"},
                "b-three": {"lifecycle": [{"id": "y", "expire_days": 0}]},
            }},
            "iam": {"policies": {"p": {"bucket_access": "b-one"}}, "userz": {}},
            "sns2": {},
        });
        let mut paths = errors_of(pillar);
        paths.sort();
        assert_eq!(
            paths,
            [
                "ocp_aws.iam.userz",
                "ocp_aws.s3.buckets.b-one.lifecycle[0].expire_days",
                "ocp_aws.s3.buckets.b-three.lifecycle[0].expire_days",
                "ocp_aws.s3.buckets.b-two.regoin",
                "ocp_aws.sns2",
            ]
        );
    }

    #[test]
    fn entries_keep_the_declared_order_whatever_the_mapping_order() {
        let pillar = json!({"iam": {"users": {"u": {}}, "policies": {"p2": {"bucket_access": "bkt"}, "p1": {"bucket_access": "bkt"}}},
                            "s3": {"buckets": {"bkt": {}}}});
        let ids: Vec<String> = plan(&pillar, None).unwrap().iter().map(Node::id).collect();
        assert_eq!(ids, ["s3.bucket bkt", "iam.policy p1", "iam.policy p2", "iam.user u"]);
    }

    #[test]
    fn describe_needs_no_settings_that_only_applying_needs() {
        let empty = json!({});
        assert!(single(KindId::IamPolicy, "p", &empty, false, None).is_err());
        assert!(for_describe(KindId::IamPolicy, "p", &empty, None).is_ok());
        assert!(single(KindId::SesSmtpCredentials, "u", &empty, false, None).is_err());
        assert!(for_describe(KindId::SesSmtpCredentials, "u", &empty, None).is_ok());
        assert!(for_describe(KindId::IamPolicy, "p", &json!({"nope": 1}), None).is_err());
    }
}

/// The order of work, references and the checks across entries.
#[cfg(test)]
mod plan_tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn ids(nodes: &[Node]) -> Vec<String> {
        nodes.iter().map(Node::id).collect()
    }

    /// The problems `plan` finds, as `path: message` lines.
    fn refused(value: Value) -> Vec<String> {
        match plan(&value, None) {
            Err(Error::Invalid(errors)) => errors.iter().map(ToString::to_string).collect(),
            other => panic!("expected the Pillar to be refused, got {other:?}"),
        }
    }

    fn user(file: &str, key: Option<&str>) -> Value {
        json!({"access_key": {"secret_file": file, "pillar_key": key}})
    }

    fn users(entries: Value) -> Value {
        json!({"iam": {"users": entries}})
    }

    #[test]
    fn resources_come_after_what_they_reference_and_kinds_keep_their_order() {
        let pillar = json!({
            "iam": {
                "users": {"u1": {"policies": ["p1"], "groups": ["g1"]}, "u0": {}},
                "groups": {"g1": {"policies": ["p1"]}},
                "policies": {"p1": {"bucket_access": "bkt-1"}},
            },
            "s3": {"buckets": {"bkt-1": {}}},
        });
        let nodes = plan(&pillar, None).unwrap();
        assert_eq!(ids(&nodes), ["s3.bucket bkt-1", "iam.policy p1", "iam.group g1", "iam.user u0", "iam.user u1"]);
        let deps = |i: usize| nodes[i].deps.iter().map(|&d| nodes[d].id()).collect::<Vec<_>>();
        assert_eq!(deps(2), ["iam.policy p1"]);
        assert_eq!(deps(4), ["iam.policy p1", "iam.group g1"]);
        assert!(deps(3).is_empty());
        assert_eq!(nodes[4].path(), "ocp_aws.iam.users.u1");
        assert_eq!(nodes[4].params, json!({"policies": ["p1"], "groups": ["g1"]}));
    }

    #[test]
    fn absent_resources_are_deleted_before_what_they_may_reference() {
        // The user no longer names the policy, yet it goes first: its attachment may still exist.
        let pillar = json!({"iam": {
            "users": {"u1": {"ensure": "absent"}},
            "policies": {"p1": {"ensure": "absent"}},
            "groups": {"g1": {"ensure": "absent", "policies": ["p1"]}},
        }});
        let nodes = plan(&pillar, None).unwrap();
        assert_eq!(ids(&nodes), ["iam.user u1", "iam.group g1", "iam.policy p1"]);
        assert!(nodes.iter().all(|n| n.ensure == Ensure::Absent));
        // A present resource keeps its place: only absent ones are reordered.
        let pillar = json!({
            "iam": {"users": {"u1": {"ensure": "absent"}}, "policies": {"p1": {"bucket_access": "bkt-1"}}},
            "s3": {"buckets": {"bkt-1": {}}},
        });
        assert_eq!(ids(&plan(&pillar, None).unwrap()), ["s3.bucket bkt-1", "iam.policy p1", "iam.user u1"]);
    }

    #[test]
    fn a_reference_must_name_a_present_resource() {
        let errors = refused(users(json!({"u1": {"policies": ["nope"]}})));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("ocp_aws.iam.users.u1.policies[0]: names iam.policy"), "{errors:?}");
        assert!(errors[0].ends_with("which is not in ocp_aws.iam.policies"), "{errors:?}");
        let pillar = json!({"iam": {"users": {"u1": {"policies": ["p1"]}}, "policies": {"p1": {"ensure": "absent"}}}});
        let errors = refused(pillar);
        assert!(errors[0].ends_with("which has `ensure: absent`"), "{errors:?}");
        // Absent and referring to a present resource: nothing to check, nothing to wait for.
        let pillar = json!({
            "iam": {"users": {"u1": {"ensure": "absent", "policies": ["p1"]}}, "policies": {"p1": {"bucket_access": "bkt-1"}}},
            "s3": {"buckets": {"bkt-1": {}}},
        });
        let nodes = plan(&pillar, None).unwrap();
        let user = nodes.iter().find(|n| n.kind == KindId::IamUser).unwrap();
        assert!(user.deps.is_empty(), "{nodes:?}");
    }

    #[test]
    fn regions_come_from_the_resource_the_pillar_or_the_default() {
        let pillar = json!({"s3": {"buckets": {"bkt-1": {}, "bkt-2": {"region": "eu-west-2"}}}});
        let regions = |nodes: Vec<Node>| nodes.into_iter().map(|n| n.region).collect::<Vec<_>>();
        assert_eq!(regions(plan(&pillar, Some("eu-west-1")).unwrap()), ["eu-west-1", "eu-west-2"]);
        assert_eq!(regions(plan(&pillar, None).unwrap()), [DEFAULT_REGION, "eu-west-2"]);
        let mut with_region = pillar.clone();
        with_region["region"] = json!("us-west-2");
        assert_eq!(regions(plan(&with_region, Some("eu-west-1")).unwrap()), ["us-west-2", "eu-west-2"]);
        with_region["region"] = json!("mars-north-1");
        assert_eq!(refused(with_region)[0].split(':').next(), Some("ocp_aws.region"));
        assert!(plan(&Value::Null, None).unwrap().is_empty());
    }

    #[test]
    fn one_secret_file_section_has_one_writer() {
        // Distinct keys of one file, or distinct files: accepted.
        let ok = users(json!({"a": user("/srv/s.sls", Some("a")), "b": user("/srv/s.sls", Some("b"))}));
        assert_eq!(plan(&ok, None).unwrap().len(), 2);
        let ok = users(json!({"a": user("/srv/a.sls", Some("k")), "b": user("/srv/b.sls", Some("k"))}));
        assert_eq!(plan(&ok, None).unwrap().len(), 2);
        let ok = users(json!({"a": user("/srv/a.sls", None), "b": user("/srv/b.sls", None)}));
        assert_eq!(plan(&ok, None).unwrap().len(), 2);
        // An absent resource writes nothing.
        let mut gone = user("/srv/s.sls", None);
        gone["ensure"] = json!("absent");
        assert_eq!(plan(&users(json!({"a": user("/srv/s.sls", None), "b": gone})), None).unwrap().len(), 2);

        // The same section, spelled differently.
        let errors = refused(users(json!({"a": user("/srv/s.sls", Some("k")), "b": user("/srv//./s.sls", Some("k"))})));
        assert_eq!(errors, ["ocp_aws.iam.users.b.access_key.secret_file: /srv//./s.sls is already written under `k` by ocp_aws.iam.users.a.access_key.secret_file"]);
        let errors = refused(users(json!({"a": user("/srv/s.sls", None), "b": user("/srv/s.sls", None)})));
        assert_eq!(errors, ["ocp_aws.iam.users.b.access_key.secret_file: /srv/s.sls is already written by ocp_aws.iam.users.a.access_key.secret_file"]);
        // A whole file and a section of it, in either order.
        for (a, b) in [(None, Some("k")), (Some("k"), None)] {
            let errors = refused(users(json!({"a": user("/srv/s.sls", a), "b": user("/srv/s.sls", b)})));
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(
                errors[0].contains("is shared with ocp_aws.iam.users.a.access_key.secret_file: give both a pillar_key"),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn one_aws_object_has_one_entry() {
        let errors = refused(users(json!({"u1": {}, "U1": {}})));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("ocp_aws.iam.users.u1: is the same AWS object as ocp_aws.iam.users.U1"),
            "{errors:?}"
        );
        let ok = json!({"s3": {"buckets": {"bkt-1": {}, "bkt-2": {}}}});
        assert_eq!(plan(&ok, None).unwrap().len(), 2);
    }

    #[test]
    fn errors_name_the_path_of_the_value() {
        let e = deserialize::<Vec<u32>>(json!([1, "x"]), "top").unwrap_err().to_string();
        assert!(e.starts_with("top[1]:"), "{e}");
        let e = deserialize::<BTreeMap<String, u32>>(json!({"k": "x"}), "top").unwrap_err().to_string();
        assert!(e.starts_with("top.k:"), "{e}");
        let e = deserialize::<u32>(json!("x"), "top").unwrap_err().to_string();
        assert!(e.starts_with("top:"), "{e}");
        let e = from_document("other: 1\n").unwrap_err().to_string();
        assert!(e.contains("no top-level `ocp_aws` key"), "{e}");
        assert!(from_document("- 1\n").unwrap_err().to_string().contains("expected a mapping"));
        assert_eq!(from_document("ocp_aws:\n  region: eu-west-2\n").unwrap(), json!({"region": "eu-west-2"}));
    }

    #[test]
    fn one_resource_for_a_state() {
        let node = single(KindId::S3Bucket, "bkt-1", &json!({}), false, Some("eu-west-1")).unwrap();
        assert_eq!(
            (node.id(), node.region.as_str(), node.ensure),
            ("s3.bucket bkt-1".into(), "eu-west-1", Ensure::Present)
        );
        let node = single(KindId::S3Bucket, "bkt-1", &json!({"region": "eu-west-2"}), true, None).unwrap();
        assert_eq!((node.region.as_str(), node.ensure), ("eu-west-2", Ensure::Absent));
        assert_eq!(single(KindId::S3Bucket, "bkt-1", &Value::Null, false, None).unwrap().region, DEFAULT_REGION);
        let e = single(KindId::S3Bucket, "bkt-1", &json!({}), false, Some("nowhere")).unwrap_err().to_string();
        assert!(e.contains("connection.region"), "{e}");
        let e = single(KindId::S3Bucket, "bkt-1", &json!({"region": "nowhere"}), false, None).unwrap_err().to_string();
        assert!(e.contains("ocp_aws.s3.buckets.bkt-1.region"), "{e}");
        // The SES account settings are one entry per region, named after it.
        let node = single(KindId::SesAccount, "eu-west-2", &json!({}), false, Some("us-east-1")).unwrap();
        assert_eq!(node.region, "eu-west-2");
        assert!(single(KindId::SesAccount, "nowhere", &json!({}), false, None).is_err());
    }

    #[test]
    fn a_used_bucket_orders_the_work_when_in_pillar_and_is_no_error_when_not() {
        let with = json!({
            "nameservers": ["127.0.0.1:5353", "::1"],
            "ses": {"email_addresses": {"a@example.org": {"verify_via_s3": {"bucket": "inbox-1"}}}},
            "s3": {"buckets": {"inbox-1": {}}},
        });
        let nodes = plan(&with, None).unwrap();
        assert_eq!(ids(&nodes), ["s3.bucket inbox-1", "ses.email_identity a@example.org"]);
        assert_eq!(nodes[1].deps, [0]);
        let ns: Vec<String> = nameservers(&with).iter().map(ToString::to_string).collect();
        assert_eq!(ns, ["127.0.0.1:5353", "[::1]:53"]);
        let without = json!({"ses": {"email_addresses": {"a@example.org": {"verify_via_s3": {}}}}});
        assert!(plan(&without, None).unwrap()[0].deps.is_empty());
        assert!(nameservers(&without).is_empty());
    }
}
