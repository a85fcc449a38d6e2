//! The DNS records a domain needs for SES (DKIM CNAMEs, MAIL FROM MX and SPF, receiving MX, DMARC),
//! computed from AWS's answers, shown as FQDNs and relative to the registrar's zone, and checked live
//! with a real resolver.

use std::fmt::Write;
use std::net::SocketAddr;

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{ResolveError, Resolver, TokioResolver};
use serde::Serialize;

use crate::error::Error;

/// The SPF record SES needs on a MAIL FROM domain.
pub const SPF: &str = "v=spf1 include:amazonses.com ~all";
/// The DMARC record suggested when Pillar gives none: monitor only.
pub const DMARC: &str = "v=DMARC1; p=none;";

/// One DNS record to create at the registrar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// What it is for, e.g. `DKIM`, `MAIL FROM MX`.
    pub purpose: &'static str,
    /// Fully qualified name, without the final dot.
    pub name: String,
    /// The name relative to the zone, as a registrar that appends the zone wants it (`@` for the apex).
    pub host: String,
    #[serde(rename = "type")]
    pub rtype: &'static str,
    /// CNAME target, MX exchange or TXT text.
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    /// false for suggestions (DMARC), true for what SES needs.
    pub required: bool,
}

/// What the records are computed from: the domain identity as AWS reports it.
pub struct Inputs<'a> {
    pub domain: &'a str,
    pub region: &'a str,
    /// The zone the registrar manages (default: the domain).
    pub zone: Option<&'a str>,
    pub dkim_tokens: &'a [String],
    pub mail_from: Option<&'a str>,
    /// Include the MX for receiving mail with SES.
    pub receiving: bool,
    pub dmarc: Option<&'a str>,
}

pub fn records(i: &Inputs) -> Vec<Record> {
    let zone = i.zone.unwrap_or(i.domain);
    let record = |purpose, name: String, rtype, value: String, priority, required| Record {
        purpose,
        host: relative(&name, zone),
        name,
        rtype,
        value,
        priority,
        required,
    };
    let mut out = Vec::new();
    for token in i.dkim_tokens {
        out.push(record(
            "DKIM",
            format!("{token}._domainkey.{}", i.domain),
            "CNAME",
            format!("{token}.dkim.amazonses.com"),
            None,
            true,
        ));
    }
    if let Some(mf) = i.mail_from {
        out.push(record(
            "MAIL FROM MX",
            mf.to_string(),
            "MX",
            format!("feedback-smtp.{}.amazonses.com", i.region),
            Some(10),
            true,
        ));
        out.push(record("MAIL FROM SPF", mf.to_string(), "TXT", SPF.to_string(), None, true));
    }
    if i.receiving {
        out.push(record(
            "receiving MX",
            i.domain.to_string(),
            "MX",
            format!("inbound-smtp.{}.amazonaws.com", i.region),
            Some(10),
            true,
        ));
    }
    out.push(record("DMARC", format!("_dmarc.{}", i.domain), "TXT", i.dmarc.unwrap_or(DMARC).to_string(), None, false));
    out
}

/// `name` relative to `zone`: `a.b.example.org` in `example.org` is `a.b`; the apex is `@`.
pub fn relative(name: &str, zone: &str) -> String {
    let (name, zone) = (name.trim_end_matches('.'), zone.trim_end_matches('.'));
    if name.eq_ignore_ascii_case(zone) {
        return "@".into();
    }
    match name.len().checked_sub(zone.len() + 1) {
        Some(cut) if name[cut..].eq_ignore_ascii_case(&format!(".{zone}")) => name[..cut].to_string(),
        _ => name.to_string(),
    }
}

/// The records as a table, host names relative to the zone.
pub fn table(records: &[Record]) -> String {
    let mut out = String::new();
    let w = records.iter().map(|r| r.host.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(out, "{:<w$}  {:<5}  {:<8}  VALUE", "HOST", "TYPE", "PRIORITY");
    for r in records {
        let priority = r.priority.map(|p| p.to_string()).unwrap_or_default();
        let note = if r.required { "" } else { "   (suggested)" };
        let _ = writeln!(out, "{:<w$}  {:<5}  {:<8}  {}{note}", r.host, r.rtype, priority, r.value);
    }
    out
}

/// One line per record, for state comments.
pub fn sentence(records: &[Record]) -> String {
    records
        .iter()
        .filter(|r| r.required)
        .map(|r| match r.priority {
            Some(p) => format!("{} {} {p} {}", r.host, r.rtype, r.value),
            None => format!("{} {} {}", r.host, r.rtype, r.value),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The human report of a `dns_check` result.
pub fn check_report(v: &serde_json::Value) -> String {
    let mut out = String::new();
    let rows = v["records"].as_array().cloned().unwrap_or_default();
    let w = rows.iter().filter_map(|r| r["host"].as_str()).map(str::len).max().unwrap_or(4).max(4);
    for r in &rows {
        let status = r["status"].as_str().unwrap_or("?");
        let _ = writeln!(
            out,
            "{:<7}  {:<w$}  {:<5}  {}  -- {}",
            status,
            r["host"].as_str().unwrap_or(""),
            r["type"].as_str().unwrap_or(""),
            r["value"].as_str().unwrap_or(""),
            r["detail"].as_str().unwrap_or("")
        );
    }
    let _ = writeln!(out, "DMARC alignment: {}.", v["dmarc_alignment"]["detail"].as_str().unwrap_or(""));
    out
}

// ---- live check ----------------------------------------------------------------------------

/// What the resolver found for one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Present,
    Missing,
    Wrong,
}

#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    #[serde(flatten)]
    pub record: Record,
    pub status: Status,
    /// What was found, or why it is wrong.
    pub detail: String,
}

/// A resolver for `nameserver`, or the system's (`/etc/resolv.conf`).
pub fn resolver(nameserver: Option<SocketAddr>) -> Result<TokioResolver, Error> {
    resolver_for(nameserver.as_slice())
}

/// A resolver asking `nameservers` in turn, or the system's (`/etc/resolv.conf`) when there are none.
pub fn resolver_for(nameservers: &[SocketAddr]) -> Result<TokioResolver, Error> {
    let builder = match nameservers {
        [] => Resolver::builder_tokio()
            .map_err(|e| Error::Refused(format!("cannot read the system's resolver settings: {e}")))?,
        some => {
            let mut group = NameServerConfigGroup::new();
            for addr in some {
                group.merge(NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true));
            }
            Resolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], group),
                TokioConnectionProvider::default(),
            )
        }
    };
    Ok(builder.build())
}

/// The MX exchanges of `domain` (without the final dot), lowest preference first; none when it has none.
pub async fn mx(resolver: &TokioResolver, domain: &str) -> Result<Vec<String>, Error> {
    let mut found: Vec<(u16, String)> = lookup(resolver, domain, RecordType::MX)
        .await?
        .iter()
        .filter_map(|d| match d {
            RData::MX(mx) => Some((mx.preference(), mx.exchange().to_string().trim_end_matches('.').to_string())),
            _ => None,
        })
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, e)| e).collect())
}

/// The `v=DMARC1` record published at `_dmarc.DOMAIN`, if there is exactly one.
pub async fn dmarc_record(resolver: &TokioResolver, domain: &str) -> Result<Option<String>, Error> {
    let found: Vec<String> =
        txt(resolver, &format!("_dmarc.{domain}")).await?.into_iter().filter(|t| t.starts_with("v=DMARC1")).collect();
    Ok(match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    })
}

/// Resolves every record and says, per record, whether it is present, missing or wrong.
pub async fn check(resolver: &TokioResolver, records: &[Record]) -> Result<Vec<Checked>, Error> {
    let mut out = Vec::new();
    for r in records {
        let (status, detail) = match r.rtype {
            "CNAME" => check_cname(resolver, r).await?,
            "MX" => check_mx(resolver, r).await?,
            _ if r.purpose == "DMARC" => check_dmarc(resolver, r).await?,
            _ => check_spf(resolver, r).await?,
        };
        out.push(Checked { record: r.clone(), status, detail });
    }
    Ok(out)
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

async fn lookup(resolver: &TokioResolver, name: &str, rtype: RecordType) -> Result<Vec<RData>, Error> {
    match resolver.lookup(format!("{}.", name.trim_end_matches('.')), rtype).await {
        Ok(found) => Ok(found.iter().cloned().collect()),
        Err(e) if absent(&e) => Ok(Vec::new()),
        Err(e) => Err(Error::Refused(format!("looking up {name} {rtype} failed: {e}"))),
    }
}

fn absent(e: &ResolveError) -> bool {
    e.is_no_records_found() || e.is_nx_domain()
}

async fn check_cname(resolver: &TokioResolver, r: &Record) -> Result<(Status, String), Error> {
    let found: Vec<String> = lookup(resolver, &r.name, RecordType::CNAME)
        .await?
        .iter()
        .filter_map(|d| match d {
            RData::CNAME(c) => Some(c.0.to_string()),
            _ => None,
        })
        .collect();
    Ok(match found.as_slice() {
        [] => (Status::Missing, "no CNAME record".into()),
        [t] if same_name(t, &r.value) => (Status::Present, t.trim_end_matches('.').to_string()),
        other => (Status::Wrong, format!("points to {}", other.join(", "))),
    })
}

async fn check_mx(resolver: &TokioResolver, r: &Record) -> Result<(Status, String), Error> {
    let found: Vec<(u16, String)> = lookup(resolver, &r.name, RecordType::MX)
        .await?
        .iter()
        .filter_map(|d| match d {
            RData::MX(mx) => Some((mx.preference(), mx.exchange().to_string())),
            _ => None,
        })
        .collect();
    let shown = || found.iter().map(|(p, e)| format!("{p} {}", e.trim_end_matches('.'))).collect::<Vec<_>>().join(", ");
    Ok(match found.iter().find(|(_, e)| same_name(e, &r.value)) {
        _ if found.is_empty() => (Status::Missing, "no MX record".into()),
        Some((p, _)) if Some(*p) == r.priority => (Status::Present, shown()),
        Some((p, _)) => (Status::Wrong, format!("priority {p}, expected {}", r.priority.unwrap_or(10))),
        None => (Status::Wrong, format!("MX records are {}", shown())),
    })
}

async fn txt(resolver: &TokioResolver, name: &str) -> Result<Vec<String>, Error> {
    Ok(lookup(resolver, name, RecordType::TXT)
        .await?
        .iter()
        .filter_map(|d| match d {
            RData::TXT(t) => Some(t.iter().map(|part| String::from_utf8_lossy(part).into_owned()).collect::<String>()),
            _ => None,
        })
        .collect())
}

/// One `v=spf1` record, which includes amazonses.com exactly once.
async fn check_spf(resolver: &TokioResolver, r: &Record) -> Result<(Status, String), Error> {
    let spf: Vec<String> = txt(resolver, &r.name).await?.into_iter().filter(|t| t.starts_with("v=spf1")).collect();
    Ok(match spf.as_slice() {
        [] => (Status::Missing, "no v=spf1 TXT record".into()),
        [one] => match one.split_whitespace().filter(|t| t.eq_ignore_ascii_case("include:amazonses.com")).count() {
            1 => (Status::Present, one.clone()),
            0 => (Status::Wrong, format!("`{one}` does not include amazonses.com")),
            n => (Status::Wrong, format!("`{one}` includes amazonses.com {n} times; once is enough")),
        },
        many => (
            Status::Wrong,
            format!("{} v=spf1 records ({}); a name must have exactly one", many.len(), many.join(" | ")),
        ),
    })
}

/// A `v=DMARC1` record with a valid policy (`p=none|quarantine|reject`); its exact text is the owner's.
async fn check_dmarc(resolver: &TokioResolver, r: &Record) -> Result<(Status, String), Error> {
    let dmarc: Vec<String> = txt(resolver, &r.name).await?.into_iter().filter(|t| t.starts_with("v=DMARC1")).collect();
    let Some(first) = dmarc.first() else { return Ok((Status::Missing, "no v=DMARC1 TXT record".into())) };
    if dmarc.len() > 1 {
        return Ok((Status::Wrong, format!("{} DMARC records; receivers ignore all of them", dmarc.len())));
    }
    let policy = first.split(';').map(str::trim).find_map(|tag| tag.strip_prefix("p=")).map(str::trim);
    Ok(match policy {
        Some("none" | "quarantine" | "reject") => (Status::Present, first.clone()),
        Some(p) => (Status::Wrong, format!("`{first}` has the unknown policy p={p}")),
        None => (Status::Wrong, format!("`{first}` has no p= policy")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(tokens: &[String]) -> Inputs<'_> {
        Inputs {
            domain: "open-contracting.org",
            region: "us-east-1",
            zone: None,
            dkim_tokens: tokens,
            mail_from: Some("bounce.open-contracting.org"),
            receiving: true,
            dmarc: None,
        }
    }

    #[test]
    fn records_in_zone_relative_form() {
        let tokens = vec!["abc".to_string(), "def".to_string(), "ghi".to_string()];
        let r = records(&inputs(&tokens));
        assert_eq!(r[0].host, "abc._domainkey");
        assert_eq!(r[0].name, "abc._domainkey.open-contracting.org");
        assert_eq!(r[0].value, "abc.dkim.amazonses.com");
        assert_eq!((r[3].host.as_str(), r[3].rtype, r[3].priority), ("bounce", "MX", Some(10)));
        assert_eq!(r[3].value, "feedback-smtp.us-east-1.amazonses.com");
        assert_eq!((r[4].rtype, r[4].value.as_str()), ("TXT", SPF));
        assert_eq!((r[5].host.as_str(), r[5].value.as_str()), ("@", "inbound-smtp.us-east-1.amazonaws.com"));
        assert_eq!((r[6].host.as_str(), r[6].required), ("_dmarc", false));
    }

    #[test]
    fn relative_names() {
        assert_eq!(relative("a.b.example.org", "example.org"), "a.b");
        assert_eq!(relative("example.org.", "example.org"), "@");
        assert_eq!(relative("other.net", "example.org"), "other.net");
        assert_eq!(relative("badexample.org", "example.org"), "badexample.org");
    }
}
