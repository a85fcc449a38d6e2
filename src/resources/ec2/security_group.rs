//! `ec2.security_group`: a VPC security group and exactly the ingress rules the Pillar lists (runbook
//! row 16: `postgresql-anywhere`, TCP 5432 from any IPv4 and IPv6 address, used by the RDS instance
//! instead of the VPC's `default` group). Egress is left alone unless listed. AWS cannot change a
//! group's description, so a different one is a conflict, never a silent replacement.

use std::collections::BTreeMap;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, Tag, UserIdGroupPair};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common_spec;
use crate::error::{code, AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed};
use crate::resources::ec2::{default_vpc, filter, group_id};
use crate::validate::quote;

pub struct SecurityGroup;

/// The description AWS keeps when the Pillar gives none (it requires one).
const DEFAULT_DESCRIPTION: &str = "Managed by ocp-aws";

// ---- spec ----------------------------------------------------------------------------------

/// A VPC security group. The Pillar key is the group name, e.g. `postgresql-anywhere`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub ensure: Ensure,
    /// Region of the group (default: the Pillar's `region`).
    #[serde(default)]
    pub region: Option<String>,
    /// The VPC (`vpc-...`). Left out: the region's default VPC.
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// The group's description (default `Managed by ocp-aws`). AWS cannot change it: a group with
    /// another description fails the state; delete and recreate it by hand if it must change.
    #[serde(default)]
    pub description: Option<String>,
    /// Exactly the inbound rules the group has; others are revoked. Left out: not managed.
    #[serde(default)]
    pub ingress: Option<Vec<RuleSpec>>,
    /// Exactly the outbound rules the group has; others are revoked. Left out: not managed (a new
    /// group allows all outbound traffic).
    #[serde(default)]
    pub egress: Option<Vec<RuleSpec>>,
    /// Tags the group has (others are left alone).
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
}
common_spec!(Spec);

/// One rule: a protocol, a port or port range, and the address ranges it allows.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// `tcp`, `udp`, `icmp`, `icmpv6`, a protocol number, or `-1`/`all` for all traffic.
    pub protocol: String,
    /// A port (`5432`) or range (`"8000-8099"`). Left out: every port (for `icmp`: every type).
    #[serde(default)]
    pub port: Option<Port>,
    /// IPv4 and IPv6 ranges in CIDR notation, e.g. `[0.0.0.0/0, "::/0"]`.
    pub cidr: Vec<String>,
    /// The rule's description, shown in the console. Left out: not managed.
    #[serde(default)]
    pub description: Option<String>,
}

/// A port or a port range.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Port {
    /// One port, or -1 for all.
    Number(i64),
    /// `FROM-TO`, or one port as text.
    Range(String),
}

/// One rule as AWS stores it: one protocol, port range and source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Rule {
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    /// An IPv4 or IPv6 CIDR, a security group id (`sg-`) or a prefix list id (`pl-`).
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Rule {
    fn key(&self) -> (&str, i32, i32, &str) {
        (&self.protocol, self.from, self.to, &self.source)
    }
    /// How comments and `changes` show it, e.g. `tcp 5432 from ::/0`.
    fn text(&self) -> String {
        let ports = match (self.protocol.as_str(), self.from, self.to) {
            ("-1", _, _) => "all".to_string(),
            (_, -1, -1) => "all".to_string(),
            (_, 0, 65535) => "all ports".to_string(),
            (_, f, t) if f == t => f.to_string(),
            (_, f, t) => format!("{f}-{t}"),
        };
        let proto =
            if self.protocol == "-1" { "all traffic".to_string() } else { format!("{} {ports}", self.protocol) };
        match &self.description {
            Some(d) => format!("{proto} from {} ({d})", self.source),
            None => format!("{proto} from {}", self.source),
        }
    }
}

/// The protocol as AWS reports it, from a Pillar value.
fn protocol(value: &str) -> Option<String> {
    Some(
        match value.trim().to_ascii_lowercase().as_str() {
            "-1" | "all" => "-1",
            "tcp" | "6" => "tcp",
            "udp" | "17" => "udp",
            "icmp" | "1" => "icmp",
            "icmpv6" | "58" => "icmpv6",
            n => return n.parse::<u8>().ok().map(|n| n.to_string()),
        }
        .to_string(),
    )
}

/// The (from, to) AWS stores for a rule, or a sentence saying what is wrong.
fn ports(proto: &str, port: Option<&Port>) -> Result<(i32, i32), String> {
    let all = match proto {
        "-1" => return Ok((-1, -1)),
        "tcp" | "udp" => (0, 65535),
        _ => (-1, -1),
    };
    let (from, to) = match port {
        None => return Ok(all),
        Some(Port::Number(-1)) => return Ok(all),
        Some(Port::Number(n)) => (*n, *n),
        Some(Port::Range(text)) => {
            let parse =
                |s: &str| s.trim().parse::<i64>().map_err(|_| format!("{} is not a port or range", quote(text)));
            match text.split_once('-') {
                Some((a, b)) if !a.trim().is_empty() => (parse(a)?, parse(b)?),
                _ => {
                    let n = parse(text)?;
                    (n, n)
                }
            }
        }
    };
    let max = if matches!(proto, "tcp" | "udp") { 65535 } else { 255 };
    if from < 0 || to > max || from > to {
        return Err(format!("ports must lie in 0-{max}, the first no greater than the last"));
    }
    Ok((from as i32, to as i32))
}

/// Whether `cidr` is an IPv4 or IPv6 range in CIDR notation.
fn valid_cidr(cidr: &str) -> bool {
    let Some((addr, bits)) = cidr.split_once('/') else { return false };
    let Ok(bits) = bits.parse::<u8>() else { return false };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

/// The rules a list of rule specs stands for (one per source), sorted; invalid entries are skipped
/// (`check` reports them).
pub fn rules(specs: &[RuleSpec]) -> Vec<Rule> {
    let mut out: Vec<Rule> = specs
        .iter()
        .filter_map(|r| {
            let proto = protocol(&r.protocol)?;
            let (from, to) = ports(&proto, r.port.as_ref()).ok()?;
            Some(r.cidr.iter().map(move |c| Rule {
                protocol: proto.clone(),
                from,
                to,
                source: c.trim().to_string(),
                description: r.description.clone(),
            }))
        })
        .flatten()
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.key() == b.key());
    out
}

fn check_rules(specs: &[RuleSpec], path: &str, errors: &mut Vec<Invalid>) {
    for (i, r) in specs.iter().enumerate() {
        let at = format!("{path}[{i}]");
        match protocol(&r.protocol) {
            None => errors.push(Invalid::new(
                format!("{at}.protocol"),
                format!("{} is not a protocol: use tcp, udp, icmp, icmpv6, a number, or all", quote(&r.protocol)),
            )),
            Some(p) => {
                if let Err(e) = ports(&p, r.port.as_ref()) {
                    errors.push(Invalid::new(format!("{at}.port"), e));
                }
            }
        }
        if r.cidr.is_empty() {
            errors.push(Invalid::new(format!("{at}.cidr"), "name at least one address range, e.g. 0.0.0.0/0"));
        }
        for (j, c) in r.cidr.iter().enumerate() {
            if !valid_cidr(c.trim()) {
                errors.push(Invalid::new(
                    format!("{at}.cidr[{j}]"),
                    format!("{} is not an IPv4 or IPv6 range in CIDR notation, e.g. 0.0.0.0/0 or ::/0", quote(c)),
                ));
            }
        }
        if let Some(d) = &r.description {
            if d.len() > 255 {
                errors.push(Invalid::new(format!("{at}.description"), "at most 255 characters"));
            }
        }
    }
}

// ---- read ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    pub id: String,
    pub vpc_id: String,
    pub description: String,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    pub tags: BTreeMap<String, String>,
}

/// The rules of AWS's permissions, one per source.
fn observed_rules(perms: &[IpPermission]) -> Vec<Rule> {
    let mut out = Vec::new();
    for p in perms {
        let proto = protocol(p.ip_protocol().unwrap_or("-1")).unwrap_or_else(|| "-1".into());
        let (from, to) = match proto.as_str() {
            "-1" => (-1, -1),
            _ => (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1)),
        };
        let mut add = |source: Option<&str>, description: Option<&str>| {
            if let Some(source) = source {
                out.push(Rule {
                    protocol: proto.clone(),
                    from,
                    to,
                    source: source.to_string(),
                    description: description.filter(|d| !d.is_empty()).map(str::to_string),
                });
            }
        };
        for r in p.ip_ranges() {
            add(r.cidr_ip(), r.description());
        }
        for r in p.ipv6_ranges() {
            add(r.cidr_ipv6(), r.description());
        }
        for r in p.user_id_group_pairs() {
            add(r.group_id(), r.description());
        }
        for r in p.prefix_list_ids() {
            add(r.prefix_list_id(), r.description());
        }
    }
    out.sort();
    out
}

/// The permission AWS takes to add, revoke or describe one rule.
fn permission(rule: &Rule) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(&rule.protocol);
    if rule.protocol != "-1" {
        p = p.from_port(rule.from).to_port(rule.to);
    }
    let d = rule.description.clone();
    let s = rule.source.as_str();
    if s.starts_with("sg-") {
        p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(s).set_description(d).build());
    } else if s.starts_with("pl-") {
        p = p.prefix_list_ids(PrefixListId::builder().prefix_list_id(s).set_description(d).build());
    } else if s.contains(':') {
        p = p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(s).set_description(d).build());
    } else {
        p = p.ip_ranges(IpRange::builder().cidr_ip(s).set_description(d).build());
    }
    p.build()
}

impl Spec {
    fn description(&self) -> &str {
        self.description.as_deref().unwrap_or(DEFAULT_DESCRIPTION)
    }
}

/// The VPC a spec's group lives in.
async fn vpc_of(cx: &Cx<'_>, spec: &Spec) -> Result<String, Error> {
    match &spec.vpc_id {
        Some(v) => Ok(v.clone()),
        None => default_vpc(cx).await,
    }
}

/// Reads the group named `name` in `vpc`.
pub async fn read_group(cx: &Cx<'_>, name: &str, vpc: &str) -> Result<Option<Observed>, Error> {
    let out = cx
        .ec2()
        .describe_security_groups()
        .filters(filter("group-name", name))
        .filters(filter("vpc-id", vpc))
        .send()
        .await
        .op("DescribeSecurityGroups")?;
    let Some(g) = out.security_groups().first() else { return Ok(None) };
    Ok(Some(Observed {
        id: g.group_id().unwrap_or_default().to_string(),
        vpc_id: g.vpc_id().unwrap_or(vpc).to_string(),
        description: g.description().unwrap_or_default().to_string(),
        ingress: observed_rules(g.ip_permissions()),
        egress: observed_rules(g.ip_permissions_egress()),
        tags: g.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect(),
    }))
}

/// What to do to one direction's rules: add, revoke, and give a rule its description.
#[derive(Debug, Default, PartialEq)]
pub struct RulePlan {
    pub add: Vec<Rule>,
    pub revoke: Vec<Rule>,
    pub describe: Vec<Rule>,
}

impl RulePlan {
    fn is_empty(&self) -> bool {
        self.add.is_empty() && self.revoke.is_empty() && self.describe.is_empty()
    }
}

/// The pure comparison of wanted and observed rules. A wanted rule without a description matches
/// whatever description AWS has.
pub fn plan_rules(wanted: &[Rule], have: &[Rule]) -> RulePlan {
    let mut plan = RulePlan::default();
    for w in wanted {
        match have.iter().find(|h| h.key() == w.key()) {
            None => plan.add.push(w.clone()),
            Some(h) if w.description.is_some() && w.description != h.description => plan.describe.push(w.clone()),
            Some(_) => {}
        }
    }
    plan.revoke = have.iter().filter(|h| !wanted.iter().any(|w| w.key() == h.key())).cloned().collect();
    plan
}

fn texts(rules: &[Rule]) -> Vec<String> {
    rules.iter().map(Rule::text).collect()
}

impl Kind for SecurityGroup {
    const KIND: &'static str = "ec2.security_group";
    const NOUN: &'static str = "EC2 security group";
    type Spec = Spec;
    type Observed = Observed;

    fn identity(name: &str, region: &str) -> String {
        format!("ec2.security_group {name} in {region}")
    }

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        if name.is_empty() || name.len() > 255 || name.to_ascii_lowercase().starts_with("sg-") {
            errors
                .push(Invalid::new(path, "a security group name has 1 to 255 characters and does not start with sg-"));
        }
        if name == "default" {
            errors.push(Invalid::new(path, "the VPC's default group is AWS's own; give your group another name"));
        }
        if let Some(v) = &spec.vpc_id {
            if !v.starts_with("vpc-") {
                errors.push(Invalid::new(format!("{path}.vpc_id"), format!("{} is not a VPC id (vpc-...)", quote(v))));
            }
        }
        if let Some(d) = &spec.description {
            if d.is_empty() || d.len() > 255 || !d.is_ascii() {
                errors.push(Invalid::new(format!("{path}.description"), "1 to 255 ASCII characters"));
            }
        }
        check_rules(spec.ingress.as_deref().unwrap_or_default(), &format!("{path}.ingress"), errors);
        check_rules(spec.egress.as_deref().unwrap_or_default(), &format!("{path}.egress"), errors);
    }

    fn manage_all(spec: &mut Spec) {
        spec.ingress.get_or_insert_with(Vec::new);
    }

    async fn read(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Option<Observed>, Error> {
        let vpc = vpc_of(cx, spec).await?;
        read_group(cx, name, &vpc).await
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let Some(o) = observed else {
            let mut d = Diff::creating();
            d.set("description", (), spec.description());
            if let Some(i) = &spec.ingress {
                d.set("ingress", (), texts(&rules(i)));
            }
            if let Some(e) = &spec.egress {
                d.set("egress", (), texts(&rules(e)));
            }
            if let Some(t) = &spec.tags {
                d.set("tags", (), t);
            }
            return d;
        };
        let mut d = Diff::default();
        if o.description != spec.description() {
            d.conflicts.push(format!(
                "Security group {name} ({}) has the description {}, and AWS cannot change a description: delete the \
                 group and apply again to recreate it, or set description to what it is.",
                o.id,
                quote(&o.description)
            ));
        }
        for (field, wanted, have) in [("ingress", &spec.ingress, &o.ingress), ("egress", &spec.egress, &o.egress)] {
            if let Some(w) = wanted {
                let wanted = rules(w);
                if !plan_rules(&wanted, have).is_empty() {
                    d.set(field, texts(have), texts(&wanted));
                }
            }
        }
        if let Some(t) = &spec.tags {
            let missing: BTreeMap<&String, &String> = t.iter().filter(|(k, v)| o.tags.get(*k) != Some(*v)).collect();
            if !missing.is_empty() {
                let old: BTreeMap<&String, Option<&String>> = missing.keys().map(|k| (*k, o.tags.get(*k))).collect();
                d.set("tags", old, missing);
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
        let ec2 = cx.ec2();
        let (id, have_in, have_out) = match observed {
            Some(o) => (o.id.clone(), o.ingress.clone(), o.egress.clone()),
            None => {
                let vpc = vpc_of(cx, spec).await?;
                let created = ec2
                    .create_security_group()
                    .group_name(name)
                    .description(spec.description())
                    .vpc_id(&vpc)
                    .send()
                    .await;
                let id = match created {
                    Ok(c) => c.group_id().unwrap_or_default().to_string(),
                    // A repeat after a lost answer: the group this run made is there.
                    Err(e) if e.code() == Some("InvalidGroup.Duplicate") => group_id(cx, name, &vpc)
                        .await?
                        .ok_or_else(|| Error::Refused(format!("security group {name} exists and does not")))?,
                    Err(e) => return Err(crate::error::aws_error("CreateSecurityGroup", e)),
                };
                let group = read_group(cx, name, &vpc).await?;
                let (i, e) = group.map(|g| (g.ingress, g.egress)).unwrap_or_default();
                (id, i, e)
            }
        };
        if let Some(w) = &spec.ingress {
            let plan = plan_rules(&rules(w), &have_in);
            if !plan.revoke.is_empty() {
                ec2.revoke_security_group_ingress()
                    .group_id(&id)
                    .set_ip_permissions(Some(plan.revoke.iter().map(permission).collect()))
                    .send()
                    .await
                    .op("RevokeSecurityGroupIngress")?;
            }
            if !plan.add.is_empty() {
                ec2.authorize_security_group_ingress()
                    .group_id(&id)
                    .set_ip_permissions(Some(plan.add.iter().map(permission).collect()))
                    .send()
                    .await
                    .none_if("AuthorizeSecurityGroupIngress", &[code::INVALID_PERMISSION_DUPLICATE])?;
            }
            if !plan.describe.is_empty() {
                ec2.update_security_group_rule_descriptions_ingress()
                    .group_id(&id)
                    .set_ip_permissions(Some(plan.describe.iter().map(permission).collect()))
                    .send()
                    .await
                    .op("UpdateSecurityGroupRuleDescriptionsIngress")?;
            }
        }
        if let Some(w) = &spec.egress {
            let plan = plan_rules(&rules(w), &have_out);
            if !plan.revoke.is_empty() {
                ec2.revoke_security_group_egress()
                    .group_id(&id)
                    .set_ip_permissions(Some(plan.revoke.iter().map(permission).collect()))
                    .send()
                    .await
                    .op("RevokeSecurityGroupEgress")?;
            }
            if !plan.add.is_empty() {
                ec2.authorize_security_group_egress()
                    .group_id(&id)
                    .set_ip_permissions(Some(plan.add.iter().map(permission).collect()))
                    .send()
                    .await
                    .none_if("AuthorizeSecurityGroupEgress", &[code::INVALID_PERMISSION_DUPLICATE])?;
            }
            if !plan.describe.is_empty() {
                ec2.update_security_group_rule_descriptions_egress()
                    .group_id(&id)
                    .set_ip_permissions(Some(plan.describe.iter().map(permission).collect()))
                    .send()
                    .await
                    .op("UpdateSecurityGroupRuleDescriptionsEgress")?;
            }
        }
        if diff.has("tags") {
            if let Some(t) = &spec.tags {
                ec2.create_tags()
                    .resources(&id)
                    .set_tags(Some(t.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
                    .send()
                    .await
                    .op("CreateTags")?;
            }
        }
        Ok(())
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, name: &str, _spec: &Spec, observed: &Observed) -> Result<(), Error> {
        let deleted = cx.ec2().delete_security_group().group_id(&observed.id).send().await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(code::INVALID_GROUP_NOT_FOUND) => Ok(()),
            Err(e) if e.code() == Some(code::DEPENDENCY_VIOLATION) => {
                let users = users_of(cx, &observed.id).await;
                Err(Error::Refused(format!(
                    "AWS refuses to delete security group {name} ({}) while {} uses it; detach it there first \
                     (an RDS instance of this Pillar with ensure: absent is deleted before the group)",
                    observed.id,
                    if users.is_empty() { "something".to_string() } else { users.join(", ") }
                )))
            }
            Err(e) => Err(crate::error::aws_error("DeleteSecurityGroup", e)),
        }
    }

    // ---- export --------------------------------------------------------------------------------

    /// The groups of the default VPC, the one Pillar entries without `vpc_id` name, but its
    /// `default` group, which is AWS's own.
    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        let vpc = default_vpc(cx).await.ok();
        let groups: Vec<aws_sdk_ec2::types::SecurityGroup> = cx
            .ec2()
            .describe_security_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .op("DescribeSecurityGroups")?;
        let mut listed = Listed::default();
        for g in &groups {
            let (Some(name), in_vpc) = (g.group_name(), g.vpc_id()) else { continue };
            match (name, in_vpc == vpc.as_deref()) {
                ("default", _) => {}
                (_, true) => listed.names.push(name.to_string()),
                (_, false) => listed.skipped.push(format!(
                    "EC2 security group {name} in {} is in {}, not the default VPC: export reads the default \
                     VPC's groups; write its entry with vpc_id by hand",
                    cx.region(),
                    in_vpc.unwrap_or("no VPC")
                )),
            }
        }
        listed.names.sort();
        Ok(listed)
    }

    fn export(name: &str, o: &Observed, _secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        if o.description != DEFAULT_DESCRIPTION {
            e.set("description", &o.description);
        }
        let allow_all =
            [Rule { protocol: "-1".into(), from: -1, to: -1, source: "0.0.0.0/0".into(), description: None }];
        for (field, rules) in [("ingress", &o.ingress), ("egress", &o.egress)] {
            // A new group's outbound rule is what leaving egress out means.
            if field == "egress" && rules.as_slice() == allow_all {
                continue;
            }
            match rule_specs(rules) {
                Some(specs) => e.set(field, specs),
                None => e.notes.push(format!(
                    "EC2 security group {name} has {field} rules that Pillar cannot say (a group or prefix list as \
                     source, or an ICMP type and code): {field} is left out, so its rules are not managed."
                )),
            }
        }
        if !o.tags.is_empty() {
            e.set("tags", &o.tags);
        }
        e.id = Some(o.id.clone());
        e
    }
}

/// The Pillar rules for AWS's rules, one per protocol, ports and description, with their ranges;
/// `None` when one of them has no Pillar form.
fn rule_specs(have: &[Rule]) -> Option<Vec<serde_json::Value>> {
    let mut grouped: BTreeMap<(String, i32, i32, Option<String>), Vec<String>> = BTreeMap::new();
    for r in have {
        if !valid_cidr(&r.source) {
            return None;
        }
        grouped.entry((r.protocol.clone(), r.from, r.to, r.description.clone())).or_default().push(r.source.clone());
    }
    let mut out = Vec::new();
    for ((protocol, from, to, description), cidr) in grouped {
        let mut v =
            serde_json::json!({"protocol": if protocol == "-1" { "all" } else { protocol.as_str() }, "cidr": cidr});
        let all = match protocol.as_str() {
            "tcp" | "udp" => (0, 65535),
            _ => (-1, -1),
        };
        if protocol != "-1" && (from, to) != all && (from, to) != (-1, -1) {
            v["port"] = if from == to { serde_json::json!(from) } else { serde_json::json!(format!("{from}-{to}")) };
        }
        if let Some(d) = description {
            v["description"] = serde_json::json!(d);
        }
        // Read back as AWS would store it, or the rule has no Pillar form (an ICMP type and code).
        let spec: RuleSpec = serde_json::from_value(v.clone()).ok()?;
        let mut errors = Vec::new();
        check_rules(std::slice::from_ref(&spec), "", &mut errors);
        let back = rules(std::slice::from_ref(&spec));
        if !errors.is_empty() || back.iter().any(|b| !have.iter().any(|r| r.key() == b.key())) {
            return None;
        }
        out.push(v);
    }
    Some(out)
}

/// What uses a security group: DB instances, then other network interfaces, as names a person
/// recognises. Best effort: it only explains a refusal.
async fn users_of(cx: &Cx<'_>, group: &str) -> Vec<String> {
    let mut users = Vec::new();
    if let Ok(out) = cx.rds().describe_db_instances().send().await {
        for db in out.db_instances() {
            if db.vpc_security_groups().iter().any(|g| g.vpc_security_group_id() == Some(group)) {
                users.push(format!("RDS instance {}", db.db_instance_identifier().unwrap_or("?")));
            }
        }
    }
    if users.is_empty() {
        if let Ok(out) = cx.ec2().describe_network_interfaces().filters(filter("group-id", group)).send().await {
            for ni in out.network_interfaces() {
                let what = ni.description().filter(|d| !d.is_empty()).unwrap_or("a network interface");
                users.push(format!("{what} ({})", ni.network_interface_id().unwrap_or("?")));
            }
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn spec_of(value: Value) -> Spec {
        serde_json::from_value(value).unwrap()
    }

    fn anywhere() -> Spec {
        spec_of(json!({"ingress": [{"protocol": "tcp", "port": 5432, "cidr": ["0.0.0.0/0", "::/0"]}]}))
    }
    fn observed(ingress: Vec<Rule>) -> Observed {
        Observed {
            id: "sg-1".into(),
            vpc_id: "vpc-1".into(),
            description: DEFAULT_DESCRIPTION.into(),
            ingress,
            egress: Vec::new(),
            tags: BTreeMap::new(),
        }
    }
    fn rule(proto: &str, from: i32, to: i32, source: &str) -> Rule {
        Rule { protocol: proto.into(), from, to, source: source.into(), description: None }
    }

    #[test]
    fn one_rule_per_source_with_ipv4_and_ipv6() {
        let r = rules(anywhere().ingress.as_deref().unwrap());
        assert_eq!(r, vec![rule("tcp", 5432, 5432, "0.0.0.0/0"), rule("tcp", 5432, 5432, "::/0")]);
    }

    #[test]
    fn ports_ranges_and_all() {
        assert_eq!(ports("tcp", Some(&Port::Range("8000-8099".into()))), Ok((8000, 8099)));
        assert_eq!(ports("tcp", None), Ok((0, 65535)));
        assert_eq!(ports("-1", Some(&Port::Number(22))), Ok((-1, -1)));
        assert_eq!(ports("icmp", None), Ok((-1, -1)));
        assert!(ports("tcp", Some(&Port::Number(70000))).is_err());
        assert!(ports("tcp", Some(&Port::Range("90-80".into()))).is_err());
        assert_eq!(protocol("ALL").as_deref(), Some("-1"));
        assert_eq!(protocol("6").as_deref(), Some("tcp"));
        assert_eq!(protocol("sctp"), None);
    }

    #[test]
    fn exactly_the_listed_rules() {
        let spec = anywhere();
        let same = observed(rules(spec.ingress.as_deref().unwrap()));
        assert!(SecurityGroup::diff("pg", &spec, Some(&same)).is_empty());
        let mut extra = same.clone();
        extra.ingress.push(rule("tcp", 22, 22, "10.0.0.0/8"));
        let d = SecurityGroup::diff("pg", &spec, Some(&extra));
        assert!(d.has("ingress"));
        let plan = plan_rules(&rules(spec.ingress.as_deref().unwrap()), &extra.ingress);
        assert_eq!(plan.revoke, vec![rule("tcp", 22, 22, "10.0.0.0/8")]);
        assert!(plan.add.is_empty());
    }

    #[test]
    fn a_description_counts_only_when_given() {
        let mut have = rule("tcp", 5432, 5432, "0.0.0.0/0");
        have.description = Some("old".into());
        let mut want = rule("tcp", 5432, 5432, "0.0.0.0/0");
        assert!(plan_rules(std::slice::from_ref(&want), std::slice::from_ref(&have)).is_empty());
        want.description = Some("new".into());
        let plan = plan_rules(std::slice::from_ref(&want), &[have]);
        assert_eq!((plan.describe.len(), plan.add.len(), plan.revoke.len()), (1, 0, 0));
    }

    #[test]
    fn another_description_is_a_conflict_and_egress_is_left_alone() {
        let spec = anywhere();
        let mut o = observed(rules(spec.ingress.as_deref().unwrap()));
        o.egress.push(rule("-1", -1, -1, "0.0.0.0/0"));
        assert!(SecurityGroup::diff("pg", &spec, Some(&o)).is_empty());
        o.description = "launch-wizard".into();
        let d = SecurityGroup::diff("pg", &spec, Some(&o));
        assert!(d.conflicts[0].contains("cannot change a description"), "{:?}", d.conflicts);
    }

    #[test]
    fn checks_what_aws_would_refuse() {
        let spec = spec_of(json!({"vpc_id": "v1", "ingress": [
            {"protocol": "tcp", "port": "5432-", "cidr": ["0.0.0.0"]},
            {"protocol": "sctp", "cidr": []}]}));
        let mut errors = Vec::new();
        SecurityGroup::check("sg-x", &spec, "p", &mut errors);
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "p",
                "p.vpc_id",
                "p.ingress[0].port",
                "p.ingress[0].cidr[0]",
                "p.ingress[1].protocol",
                "p.ingress[1].cidr"
            ]
        );
    }
}
