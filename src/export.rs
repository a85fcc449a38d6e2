//! `ocp-aws export`: reads what an account has, kind by kind and region by region (IAM once), and
//! writes it as an `ocp_aws` Pillar in the project's own words; `export --diff` lists what exists
//! but a Pillar leaves out. Read-only: the engine runs in test mode and only kinds' `list` and
//! `read` call AWS, so the summary's write count is zero.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};
use serde_json::{Map, Value};

use crate::aws::Connection;
use crate::engine::Engine;
use crate::error::Error;
use crate::kind::{Exported, Listed};
use crate::pillar;
use crate::resources::{KindId, ROOT};

/// Where placeholders put secret files unless told otherwise.
pub const DEFAULT_SECRET_DIR: &str = "/srv/pillar/private";

/// What to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The regions to read; the first is the Pillar's `region` and where IAM is read.
    pub regions: Vec<String>,
    /// The kinds to read (all when empty).
    pub kinds: Vec<KindId>,
    /// Only resources whose name matches this glob (`*` any run, `?` one character).
    pub names: Option<String>,
    /// Where placeholders put the secret files AWS cannot fill.
    pub secret_dir: String,
    /// How many AWS reads run at once.
    pub concurrency: usize,
}

/// One resource read from AWS.
#[derive(Debug, Clone)]
pub struct Found {
    pub kind: KindId,
    pub name: String,
    pub region: String,
    pub exported: Exported,
}

/// What `export` found, and what went wrong on the way.
#[derive(Debug, Default)]
pub struct Report {
    pub found: Vec<Found>,
    /// Listings or reads that failed, as sentences; the rest is still exported.
    pub failures: Vec<String>,
    /// The Pillar's default region.
    pub region: String,
    /// Why the exported Pillar does not validate as it stands, as the validator words it: an entry
    /// that names what `--kinds` or `--names` left out, or what could not be read.
    pub unresolved: Vec<String>,
}

/// The parameters of the `export` execution function (`call`), as the CLI's flags.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    kinds: Option<String>,
    #[serde(default)]
    names: Option<String>,
    #[serde(default)]
    secret_dir: Option<String>,
}

/// The options a `call` request's `params` give; the regions default to the connection's.
pub fn options(params: &Value, default_region: Option<&str>) -> Result<Options, Error> {
    let params = if params.is_null() { Value::Object(Map::new()) } else { params.clone() };
    let p: Params = crate::strict::deserialize(params, "request.params")?;
    let mut regions = p.regions;
    if regions.is_empty() {
        regions.push(default_region.unwrap_or(crate::aws::DEFAULT_REGION).to_string());
    }
    Ok(Options {
        regions,
        kinds: p.kinds.as_deref().map(parse_kinds).transpose()?.unwrap_or_default(),
        names: p.names,
        secret_dir: p.secret_dir.unwrap_or_else(|| DEFAULT_SECRET_DIR.to_string()),
        concurrency: crate::engine::DEFAULT_CONCURRENCY,
    })
}

/// Parses `--kinds`: kind ids (`s3.bucket`) or Pillar sections (`s3.buckets`), comma-separated.
pub fn parse_kinds(text: &str) -> Result<Vec<KindId>, Error> {
    let mut kinds = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let kind = KindId::ALL.iter().copied().find(|k| k.id() == word || k.pillar() == word).ok_or_else(|| {
            let known: Vec<&str> = KindId::ALL.iter().map(|k| k.id()).collect();
            Error::invalid(
                "--kinds",
                format!("unknown kind {}; known kinds: {}", crate::validate::quote(word), known.join(", ")),
            )
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err(Error::invalid("--kinds", "name at least one kind, e.g. s3.bucket,iam.user"));
    }
    Ok(kinds)
}

/// Checks the regions (`--region`) before any AWS call.
pub fn check_regions(regions: &[String]) -> Result<(), Error> {
    let mut errors = Vec::new();
    for r in regions {
        crate::validate::region(r, "--region", &mut errors);
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(Error::Invalid(errors)),
    }
}

/// Whether `name` matches `glob` (`*` any run of characters, `?` one character).
pub fn glob_match(glob: &str, name: &str) -> bool {
    let (g, n): (Vec<char>, Vec<char>) = (glob.chars().collect(), name.chars().collect());
    let (mut gi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == n[ni]) {
            gi += 1;
            ni += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = ni;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&c| c == '*')
}

/// The (kind, region) listings to make: IAM's kinds once, in the first region.
fn listings(opts: &Options) -> Vec<(KindId, String)> {
    let kinds: Vec<KindId> = if opts.kinds.is_empty() { KindId::ALL.to_vec() } else { opts.kinds.clone() };
    let mut out = Vec::new();
    for kind in kinds {
        match kind.global() {
            true => out.push((kind, opts.regions[0].clone())),
            false => out.extend(opts.regions.iter().map(|r| (kind, r.clone()))),
        }
    }
    out
}

/// Lists what exists, with bounded concurrency, saying on stderr what was found and skipped.
async fn list_all(engine: &Engine, opts: &Options, failures: &mut Vec<String>) -> Vec<(KindId, String, String)> {
    let results: Vec<_> = stream::iter(listings(opts))
        .map(|(kind, region)| async move {
            let listed = kind.list(&engine.cx(&region)).await;
            (kind, region, listed)
        })
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut out = Vec::new();
    for (kind, region, listed) in results {
        let where_ = if kind.global() { String::new() } else { format!(" in {region}") };
        let Listed { names, skipped } = match listed {
            Ok(l) => l,
            Err(e) => {
                failures.push(format!("Listing {}s{where_} failed: {e}.", kind.noun()));
                continue;
            }
        };
        for s in skipped {
            eprintln!("ocp-aws: skipped: {s}.");
        }
        let names: Vec<String> =
            names.into_iter().filter(|n| opts.names.as_deref().is_none_or(|g| glob_match(g, n))).collect();
        eprintln!("ocp-aws: {}{where_}: {} found.", kind.id(), names.len());
        out.extend(names.into_iter().map(|n| (kind, n, region.clone())));
    }
    out
}

/// Reads the account and returns every resource's Pillar entry.
pub async fn export(conn: &Connection, opts: &Options) -> Result<Report, Error> {
    if opts.regions.is_empty() {
        return Err(Error::invalid("--region", "name at least one region"));
    }
    check_regions(&opts.regions)?;
    if !opts.secret_dir.starts_with('/') {
        let dir = crate::validate::quote(&opts.secret_dir);
        return Err(Error::invalid("--secret-dir", format!("{dir} is not an absolute path")));
    }
    let engine = Engine::new(conn, true).await?;
    let mut report = Report { region: opts.regions[0].clone(), ..Report::default() };
    let listed = list_all(&engine, opts, &mut report.failures).await;
    // One Pillar holds one entry per kind and name (and one SES account entry): the first region wins.
    let mut seen = BTreeSet::new();
    let mut todo = Vec::new();
    for (kind, name, region) in listed {
        let key = if kind.singleton() { (kind, String::new()) } else { (kind, name.clone()) };
        if !seen.insert(key) {
            match kind.singleton() {
                true => eprintln!(
                    "ocp-aws: skipped: {} {region}: a Pillar holds one {} entry, the first region's.",
                    kind.noun(),
                    kind.pillar()
                ),
                false => eprintln!(
                    "ocp-aws: skipped: {} {name} in {region}: a Pillar holds one {} entry of that name, the first \
                     region's.",
                    kind.noun(),
                    kind.pillar()
                ),
            }
            continue;
        }
        todo.push((kind, name, region));
    }
    let total = todo.len();
    let secret_dir = opts.secret_dir.as_str();
    let engine = &engine;
    let done = &std::sync::atomic::AtomicUsize::new(0);
    let read: Vec<_> = stream::iter(todo)
        .map(|(kind, name, region)| async move {
            let got = kind.export(&engine.cx(&region), &name, secret_dir).await;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            eprintln!("ocp-aws: read {} {name} ({n}/{total}).", kind.id());
            (kind, name, region, got)
        })
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    for (kind, name, region, got) in read {
        match got {
            Ok(Some(exported)) => {
                for n in &exported.notes {
                    eprintln!("ocp-aws: note: {n}");
                }
                report.found.push(Found { kind, name, region, exported });
            }
            // Deleted between the listing and the read.
            Ok(None) => {}
            Err(e) => report.failures.push(format!("Reading {} {name} failed: {e}.", kind.noun())),
        }
    }
    let account = match report.found.is_empty() {
        true => None,
        false => engine.cx(&report.region).account_id().await.ok(),
    };
    name_references(&mut report.found, account.as_deref());
    if let Err(Error::Invalid(errors)) = pillar::plan(&pillar_value(&report), None) {
        report.unresolved = errors.iter().map(|e| e.to_string().replace('\n', " ")).collect();
    }
    let calls = engine.calls();
    eprintln!("ocp-aws: AWS calls: {} reads, {} writes.", calls.reads(), calls.writes().len());
    Ok(report)
}

/// Replaces ids and ARNs in settings with the Pillar names of the resources they are, where the
/// name means the same: a security group's id (the DB instance looks the name up in its VPC), and
/// a topic's ARN for an SES sender the topic's policy already lets publish (a name would add it).
fn name_references(found: &mut [Found], account: Option<&str>) {
    let mut names: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut publishers: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for f in found.iter() {
        if let Some(id) = &f.exported.id {
            names.insert((f.region.clone(), id.clone()), f.name.clone());
        }
        if f.kind == KindId::SnsTopic {
            let p = f.exported.value.get("ses_publishers").and_then(Value::as_array).cloned().unwrap_or_default();
            let p = p.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
            publishers.insert((f.region.clone(), f.name.clone()), p);
        }
    }
    for f in found.iter_mut() {
        if let Some(Value::Array(groups)) = f.exported.value.get_mut("security_groups") {
            for g in groups.iter_mut() {
                if let Some(name) = g.as_str().and_then(|id| names.get(&(f.region.clone(), id.to_string()))) {
                    *g = Value::String(name.clone());
                }
            }
        }
        let publisher = match f.kind {
            KindId::SesDomainIdentity | KindId::SesEmailIdentity => format!("identity/{}", f.name),
            KindId::SesConfigurationSet => format!("configuration-set/{}", f.name),
            _ => continue,
        };
        let (region, value) = (f.region.clone(), &mut f.exported.value);
        let topic_name = |arn: &str| -> Option<String> {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let [_, _, "sns", r, a, name] = parts.as_slice() else { return None };
            let allowed = publishers.get(&(r.to_string(), name.to_string()))?;
            (*r == region && Some(*a) == account && allowed.contains(&publisher)).then(|| name.to_string())
        };
        let rename = |t: &mut Value| {
            if let Some(name) = t.as_str().and_then(topic_name) {
                *t = Value::String(name);
            }
        };
        if let Some(Value::Object(fb)) = value.get_mut("feedback") {
            fb.iter_mut()
                .filter(|(k, _)| ["bounce", "complaint", "delivery"].contains(&k.as_str()))
                .for_each(|(_, t)| rename(t));
        }
        if let Some(Value::Object(dests)) = value.get_mut("event_destinations") {
            dests.values_mut().filter_map(|d| d.get_mut("sns_topic")).for_each(rename);
        }
    }
}

/// The Pillar value of what was found (entries to fill in by hand left out), as `--output json` shows it.
pub fn pillar_value(report: &Report) -> Value {
    let mut root = Map::new();
    root.insert("region".into(), Value::String(report.region.clone()));
    for f in report.found.iter().filter(|f| !f.exported.commented) {
        let section = root
            .entry(f.kind.service())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("sections are mappings");
        let value = Value::Object(entry_value(f, &report.region));
        match f.kind.singleton() {
            true => _ = section.insert(f.kind.field().into(), value),
            false => {
                let kind = section.entry(f.kind.field()).or_insert_with(|| Value::Object(Map::new()));
                if let Some(k) = kind.as_object_mut() {
                    k.insert(f.name.clone(), value);
                }
            }
        }
    }
    Value::Object(root)
}

/// An entry's settings, with its region when it is not the Pillar's (IAM has none).
fn entry_value(f: &Found, default_region: &str) -> Map<String, Value> {
    let mut value = f.exported.value.clone();
    if !f.kind.global() && f.region != default_region {
        value.insert("region".into(), Value::String(f.region.clone()));
    }
    value
}

/// What the YAML says above a list of [`Report::unresolved`].
const UNRESOLVED: &str = "# Warning: this Pillar does not validate as it stands. It names what the export left \
                              out (--kinds, --names)\n# or could not read; export that too, or edit these entries:\n";

/// The Pillar as YAML: the `$schema` modeline, a header, keys sorted, comments with the entries
/// they belong to, and the entries that need a secret file first written commented out.
pub fn to_yaml(report: &Report, modeline: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(m) = modeline {
        out.push_str(&format!("# yaml-language-server: $schema={m}\n"));
    }
    out.push_str(
        "# Exported by ocp-aws export. Entries commented out need a secret file first (see their comments).\n",
    );
    if !report.unresolved.is_empty() {
        out.push_str(UNRESOLVED);
        for u in &report.unresolved {
            out.push_str(&format!("#   {u}\n"));
        }
    }
    out.push_str(&format!("{ROOT}:\n  region: {}\n", scalar(&Value::String(report.region.clone()))));
    let mut services: BTreeMap<&str, BTreeMap<&str, Vec<&Found>>> = BTreeMap::new();
    for f in &report.found {
        services.entry(f.kind.service()).or_default().entry(f.kind.field()).or_default().push(f);
    }
    // A section whose entries are all commented out is too, so that uncommenting brings it back whole.
    let commented = |entries: &[&Found]| entries.iter().all(|f| f.exported.commented);
    for (service, fields) in services {
        let all = fields.values().all(|e| commented(e));
        let mut text = format!("  {service}:\n");
        for (field, mut entries) in fields {
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            let mut part = format!("    {field}:\n");
            for f in &entries {
                let body = entry_yaml(f, &report.region);
                let entry = match f.kind.singleton() {
                    true => indent(&body, 6),
                    false => format!("      {}:{}", key(&f.name), nested(&body, 8)),
                };
                match f.exported.commented && !commented(&entries) {
                    true => part.push_str(&comment_out(&entry)),
                    false => part.push_str(&entry),
                }
            }
            match commented(&entries) && !all {
                true => text.push_str(&comment_out(&part)),
                false => text.push_str(&part),
            }
        }
        match all {
            true => out.push_str(&comment_out(&text)),
            false => out.push_str(&text),
        }
    }
    out
}

/// An entry's comments and settings, at indent 0.
fn entry_yaml(f: &Found, default_region: &str) -> String {
    let mut body = String::new();
    for c in &f.exported.comments {
        body.push_str(&format!("# {c}\n"));
    }
    let value = entry_value(f, default_region);
    match value.is_empty() {
        true if body.is_empty() => "{}\n".to_string(),
        // An entry of comments alone would read as null.
        true => body + "{}\n",
        false => body + &mapping(&value, 0),
    }
}

/// `body` after a key: on the same line when it is `{}`, else indented on the lines below.
fn nested(body: &str, by: usize) -> String {
    match body {
        "{}\n" => " {}\n".to_string(),
        _ => format!("\n{}", indent(body, by)),
    }
}

fn indent(text: &str, by: usize) -> String {
    text.lines().map(|l| format!("{}{l}\n", " ".repeat(by))).collect()
}

/// Comments every line out, keeping its indentation, so that removing `# ` restores it.
fn comment_out(text: &str) -> String {
    text.lines()
        .map(|l| {
            let at = l.len() - l.trim_start().len();
            format!("{}# {}\n", &l[..at], &l[at..])
        })
        .collect()
}

/// A block mapping, keys sorted.
fn mapping(map: &Map<String, Value>, at: usize) -> String {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let pad = " ".repeat(at);
    let mut out = String::new();
    for k in keys {
        let v = &map[k];
        match v {
            Value::Object(m) if !m.is_empty() => out.push_str(&format!("{pad}{}:\n{}", key(k), mapping(m, at + 2))),
            Value::Array(items) if !items.is_empty() => {
                out.push_str(&format!("{pad}{}:\n{}", key(k), sequence(items, at + 2)))
            }
            _ => out.push_str(&format!("{pad}{}: {}\n", key(k), scalar(v))),
        }
    }
    out
}

/// A block sequence; a mapping item starts on its dash's line.
fn sequence(items: &[Value], at: usize) -> String {
    let pad = " ".repeat(at);
    let mut out = String::new();
    for item in items {
        match item {
            Value::Object(m) if !m.is_empty() => {
                let body = mapping(m, at + 2);
                out.push_str(&format!("{pad}- {}", &body[at + 2..]));
            }
            _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
        }
    }
    out
}

fn key(k: &str) -> String {
    scalar(&Value::String(k.to_string()))
}

/// A scalar (or an empty or nested collection, in flow style): strings plain when YAML reads them
/// back as the same string, else double-quoted (JSON's escapes are YAML's).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if plain(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether YAML 1.1 and 1.2 both read `s` unquoted as this string: a letter or `/` first, then
/// only characters no YAML rule gives a meaning to here, and no word that reads as a boolean or null.
fn plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    (first.is_ascii_alphabetic() || first == '/' || first == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@:+".contains(c))
        && !s.ends_with(':')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
        )
}

/// What the account has that `pillar` (an `ocp_aws` value) leaves out, as `kind name (region)`
/// lines, compared by the kinds' identities (IAM names without case).
pub async fn missing(conn: &Connection, pillar: &Value, opts: &Options) -> Result<(Vec<String>, Vec<String>), Error> {
    check_regions(&opts.regions)?;
    let nodes = pillar::plan(pillar, opts.regions.first().map(String::as_str))?;
    let have: BTreeSet<String> = nodes.iter().map(|n| n.spec.identity(&n.name, &n.region)).collect();
    let mut opts = opts.clone();
    if opts.regions.is_empty() {
        opts.regions = nodes.iter().map(|n| n.region.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        if opts.regions.is_empty() {
            opts.regions.push(crate::aws::DEFAULT_REGION.to_string());
        }
    }
    let engine = Engine::new(conn, true).await?;
    let mut failures = Vec::new();
    let listed = list_all(&engine, &opts, &mut failures).await;
    let lines = listed
        .into_iter()
        .filter(|(kind, name, region)| !have.contains(&kind.identity(name, region)))
        .map(|(kind, name, region)| match kind.global() {
            true => format!("{} {name}", kind.id()),
            false => format!("{} {name} ({region})", kind.id()),
        })
        .collect();
    let calls = engine.calls();
    eprintln!("ocp-aws: AWS calls: {} reads, {} writes.", calls.reads(), calls.writes().len());
    Ok((lines, failures))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn found(kind: KindId, name: &str, region: &str, value: Value) -> Found {
        let exported = Exported { value: value.as_object().unwrap().clone(), ..Exported::default() };
        Found { kind, name: name.into(), region: region.into(), exported }
    }

    #[test]
    fn globs_match_names() {
        assert!(glob_match("ocp-*", "ocp-backup") && glob_match("*", "") && glob_match("a?c", "abc"));
        assert!(glob_match("*backup*", "redmine-backup-eu") && glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("ocp-*", "xocp-") && !glob_match("a?c", "ac") && !glob_match("", "a"));
    }

    #[test]
    fn kinds_are_ids_or_sections() {
        assert_eq!(parse_kinds("s3.bucket, iam.users").unwrap(), [KindId::S3Bucket, KindId::IamUser]);
        assert!(parse_kinds("s3.bucket,nope").unwrap_err().to_string().contains("nope"));
        assert!(parse_kinds(" ,").is_err());
    }

    #[test]
    fn yaml_reads_back_as_the_same_pillar() {
        let report = Report {
            region: "us-east-1".into(),
            found: vec![
                found(
                    KindId::Ec2SecurityGroup,
                    "postgresql-anywhere",
                    "eu-west-2",
                    json!({"ingress": [{"protocol": "tcp", "port": 5432, "cidr": ["0.0.0.0/0", "::/0"]}],
                           "tags": {"yes": "no", "a b": "c: d #e", "n": "0640"}}),
                ),
                found(KindId::S3Bucket, "ocp-backup", "us-east-1", json!({})),
                Found {
                    exported: Exported { comments: vec!["a key: see adopt-key".into()], ..Exported::default() },
                    ..found(KindId::IamUser, "u", "us-east-1", json!({}))
                },
                found(KindId::SesAccount, "us-east-1", "us-east-1", json!({"suppression_list": "disabled"})),
                found(KindId::IamPolicy, "p", "eu-west-2", json!({"document": {"Statement": [{"Action": ["s3:*"]}]}})),
            ],
            failures: vec![],
            unresolved: vec!["ocp_aws.iam.users.u.groups[0]: names iam.group \"g\", which is not in x: y".into()],
        };
        let yaml = to_yaml(&report, Some("/x/pillar.schema.json"));
        assert!(yaml.starts_with("# yaml-language-server: $schema=/x/pillar.schema.json\n"), "{yaml}");
        assert!(yaml.contains("\n#   ocp_aws.iam.users.u.groups[0]: names iam.group \"g\""), "{yaml}");
        let back = pillar::from_document(&yaml).unwrap();
        assert_eq!(back, pillar_value(&report), "{yaml}");
        assert_eq!(back["ec2"]["security_groups"]["postgresql-anywhere"]["region"], "eu-west-2");
        assert!(back["iam"]["policies"]["p"].get("region").is_none(), "IAM has no region");
    }

    #[test]
    fn commented_entries_come_back_when_uncommented() {
        let mut f =
            found(KindId::RdsDbInstance, "analysis", "us-east-1", json!({"public": true, "class": "db.t3.micro"}));
        f.exported.commented = true;
        f.exported.comments = vec!["fill in the password".into()];
        let report = Report { region: "us-east-1".into(), found: vec![f], ..Report::default() };
        let yaml = to_yaml(&report, None);
        assert!(pillar::from_document(&yaml).unwrap().get("rds").is_none(), "{yaml}");
        let uncommented: String = yaml
            .lines()
            .map(|l| format!("{}\n", if l.starts_with(' ') { l.replacen("# ", "", 1) } else { l.to_string() }))
            .collect();
        let back = pillar::from_document(&uncommented).unwrap();
        assert_eq!(back["rds"]["instances"]["analysis"], json!({"public": true, "class": "db.t3.micro"}), "{yaml}");
    }

    #[test]
    fn ids_and_arns_become_names_where_they_mean_the_same() {
        let arn = "arn:aws:sns:us-east-1:123456789012:data";
        let mut sg = found(KindId::Ec2SecurityGroup, "pg", "us-east-1", json!({}));
        sg.exported.id = Some("sg-1".into());
        let mut found = vec![
            sg,
            found(KindId::RdsDbInstance, "db", "us-east-1", json!({"security_groups": ["sg-1", "sg-2"]})),
            found(KindId::SnsTopic, "data", "us-east-1", json!({"ses_publishers": ["identity/a.org"]})),
            found(KindId::SesDomainIdentity, "a.org", "us-east-1", json!({"feedback": {"bounce": arn}})),
            found(KindId::SesDomainIdentity, "b.org", "us-east-1", json!({"feedback": {"bounce": arn}})),
        ];
        name_references(&mut found, Some("123456789012"));
        assert_eq!(found[1].exported.value["security_groups"], json!(["pg", "sg-2"]));
        assert_eq!(found[3].exported.value["feedback"]["bounce"], "data");
        assert_eq!(found[4].exported.value["feedback"]["bounce"], arn, "a name would change the topic's policy");
    }
}
