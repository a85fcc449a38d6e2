//! What the binary does with a request: the `stdio` protocol and the CLI commands share these.

use serde_json::{json, Value};

use crate::aws::Connection;
use crate::dns;
use crate::engine::Engine;
use crate::error::{Error, Invalid};
use crate::kind::Ensure;
use crate::pillar::{self, Node, PillarFile};
use crate::protocol::{Action, CallResponse, Op, Request, StateReturn, VERSION};
use crate::resources::ses::{domain_identity, smtp_credentials};
use crate::resources::KindId;

/// Exit statuses of the protocol and the CLI (ARCHITECTURE.md, "The protocol").
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;

/// The exit status for an error: 2 for invalid input, 1 for anything else.
pub fn exit_status(e: &Error) -> i32 {
    if matches!(e, Error::Invalid(_)) {
        EXIT_INVALID
    } else {
        EXIT_FAILED
    }
}

/// A response and the exit status that goes with it.
pub struct Outcome {
    pub response: Value,
    pub status: i32,
}

impl Outcome {
    fn states(returns: &[StateReturn]) -> Self {
        let failed = returns.iter().any(|r| r.result == Some(false));
        Outcome { response: json!(returns), status: if failed { EXIT_FAILED } else { EXIT_OK } }
    }
    fn state(ret: StateReturn) -> Self {
        let status = if ret.result == Some(false) { EXIT_FAILED } else { EXIT_OK };
        Outcome { response: json!(ret), status }
    }
    fn call(result: Result<Value, Error>) -> Self {
        match result {
            Ok(value) => Outcome {
                response: json!(CallResponse { result: true, comment: String::new(), value }),
                status: EXIT_OK,
            },
            Err(e) => Outcome {
                response: json!(CallResponse { result: false, comment: sentence(&e), value: Value::Null }),
                status: exit_status(&e),
            },
        }
    }
}

fn sentence(e: &Error) -> String {
    match e {
        Error::Invalid(_) => format!("Invalid request or Pillar: {e}."),
        other => format!("{}.", other.to_string().trim_end_matches('.')),
    }
}

/// Answers one `stdio` request. Never panics on bad input: an unreadable request is an
/// invalid-request state return with exit status 2.
pub async fn handle(text: &str) -> Outcome {
    let request: Request =
        match crate::strict::from_json(text, "request").and_then(|v| pillar::deserialize(v, "request")) {
            Ok(r) => r,
            Err(e) => return invalid_state("request", &e),
        };
    if request.version != VERSION {
        return invalid_state("request", &Error::invalid("request.version", format!("expected {VERSION}")));
    }
    match request.op {
        Op::State => state(&request).await,
        Op::Converge => converge(&request.params, &request.connection, request.test).await,
        Op::Call => Outcome::call(call(&request).await),
    }
}

fn invalid_state(name: &str, e: &Error) -> Outcome {
    Outcome { response: json!(StateReturn::failed(name, sentence(e))), status: EXIT_INVALID }
}

fn kind_of(request: &Request) -> Result<(KindId, String), Error> {
    let kind = request.kind.as_deref().ok_or_else(|| Error::invalid("request.kind", "missing"))?;
    let kind = KindId::from_id(kind).ok_or_else(|| {
        let known: Vec<&str> = KindId::ALL.iter().map(|k| k.id()).collect();
        Error::invalid("request.kind", format!("unknown kind `{kind}`; known kinds: {}", known.join(", ")))
    })?;
    let name =
        request.name.clone().filter(|n| !n.is_empty()).ok_or_else(|| Error::invalid("request.name", "missing"))?;
    Ok((kind, name))
}

async fn state(request: &Request) -> Outcome {
    let name = request.name.clone().unwrap_or_default();
    let node = kind_of(request).and_then(|(kind, name)| {
        let action = request.action.ok_or_else(|| Error::invalid("request.action", "missing: present or absent"))?;
        pillar::single(kind, &name, &request.params, action == Action::Absent, request.connection.region.as_deref())
    });
    let node = match node {
        Ok(n) => n,
        Err(e) => return invalid_state(&name, &e),
    };
    match Engine::new(&request.connection, request.test).await {
        Ok(engine) => Outcome::state(engine.converge_one(&node).await),
        Err(e @ Error::Invalid(_)) => invalid_state(&name, &e),
        Err(e) => Outcome::state(StateReturn::failed(&name, sentence(&e))),
    }
}

/// Converges a whole `ocp_aws` Pillar value.
pub async fn converge(params: &Value, conn: &Connection, test: bool) -> Outcome {
    converge_with(params, conn, test, None).await.0
}

/// Converges and also returns the engine, for callers that report its AWS calls.
pub async fn converge_with(
    params: &Value,
    conn: &Connection,
    test: bool,
    concurrency: Option<usize>,
) -> (Outcome, Option<Engine>) {
    let nodes = match pillar::plan(params, conn.region.as_deref()) {
        Ok(n) => n,
        Err(e) => {
            let ret = StateReturn::failed(pillar::ROOT, sentence(&e));
            return (Outcome { response: json!([ret]), status: EXIT_INVALID }, None);
        }
    };
    let engine = match Engine::new(conn, test).await {
        Ok(e) => e,
        Err(e) => {
            let response = json!([StateReturn::failed(pillar::ROOT, sentence(&e))]);
            return (Outcome { response, status: exit_status(&e) }, None);
        }
    };
    let engine = match concurrency {
        Some(n) => engine.with_concurrency(n),
        None => engine,
    };
    let returns = engine.converge_all(&nodes).await;
    (Outcome::states(&returns), Some(engine))
}

/// Runs a read-only execution function (`op: call`) and returns its value.
pub async fn call(request: &Request) -> Result<Value, Error> {
    let function = request.function.as_deref().ok_or_else(|| Error::invalid("request.function", "missing"))?;
    match function {
        "schema" => Ok(schema()),
        "validate" => Ok(validate(&request.params, request.connection.region.as_deref())),
        "expand" => Ok(expand(&request.params, request.connection.region.as_deref())),
        "dns_records" => {
            let (records, _) = domain_records(request).await?;
            Ok(json!(records))
        }
        "dns_check" => dns_check(request).await,
        "smtp_password" => smtp_password(&request.params),
        "describe" => {
            let (kind, name) = kind_of(request)?;
            let node = pillar::single(kind, &name, &request.params, false, request.connection.region.as_deref())?;
            let engine = Engine::new(&request.connection, true).await?;
            node.spec.describe(&engine.cx(&node.region), &name).await
        }
        other => Err(Error::invalid(
            "request.function",
            format!(
                "unknown function `{other}`; known functions: \
                 describe, dns_check, dns_records, expand, schema, smtp_password, validate"
            ),
        )),
    }
}

/// The SES SMTP password of `params.key` (a secret access key) for `params.region`.
fn smtp_password(params: &Value) -> Result<Value, Error> {
    let field = |name: &str, what: &str| {
        params.get(name).and_then(Value::as_str).ok_or_else(|| Error::invalid(format!("request.params.{name}"), what))
    };
    let secret = field("key", "missing: the secret access key")?;
    let region = field("region", "missing: the SES region")?;
    let mut errors = Vec::new();
    crate::validate::region(region, "request.params.region", &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(json!(smtp_credentials::smtp_password(secret, region)))
}

/// The Pillar JSON Schema, generated from the Rust types.
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(PillarFile)).expect("a schema is JSON")
}

/// `{"valid": bool, "errors": ["path: message", ...]}`; never touches AWS.
pub fn validate(params: &Value, default_region: Option<&str>) -> Value {
    let errors = invalid_list(pillar::plan(params, default_region).err());
    json!({"valid": errors.is_empty(), "errors": errors})
}

fn invalid_list(e: Option<Error>) -> Vec<String> {
    match e {
        None => Vec::new(),
        Some(Error::Invalid(all)) => all.iter().map(Invalid::to_string).collect(),
        Some(other) => vec![other.to_string()],
    }
}

/// The Salt states the formula renders: one per resource, in order, with requisites.
pub fn expand(params: &Value, default_region: Option<&str>) -> Value {
    match pillar::plan(params, default_region) {
        Err(e) => json!({"errors": invalid_list(Some(e)), "states": []}),
        Ok(nodes) => json!({"errors": [], "states": nodes.iter().map(|n| salt_state(n, &nodes)).collect::<Vec<_>>()}),
    }
}

fn salt_state(node: &Node, all: &[Node]) -> Value {
    let mut params = node.params.as_object().cloned().unwrap_or_default();
    params.remove("ensure");
    params.insert("region".into(), Value::String(node.region.clone()));
    let action = match node.ensure {
        Ensure::Present => "present",
        Ensure::Absent => "absent",
    };
    json!({
        "id": node.id(),
        "function": format!("{}_{action}", node.kind.salt_function()),
        "name": node.name,
        "params": params,
        "require": node.deps.iter().map(|&d| all[d].id()).collect::<Vec<_>>(),
    })
}

/// The DNS records of an SES domain identity, from what SES reports about it. `params` takes the
/// domain identity's settings (`region`, `zone`, `receiving`, `dmarc`, `mail_from`).
pub async fn domain_records(request: &Request) -> Result<(Vec<dns::Record>, crate::resources::ses::Identity), Error> {
    let domain = request.name.as_deref().ok_or_else(|| Error::invalid("request.name", "missing: the domain"))?;
    let mut params = request.params.clone();
    if let Some(m) = params.as_object_mut() {
        m.remove("nameserver"); // dns_check's own setting, not the identity's
    }
    let node = pillar::single(KindId::SesDomainIdentity, domain, &params, false, request.connection.region.as_deref())?;
    let crate::resources::AnySpec::SesDomainIdentity(spec) = &node.spec else {
        unreachable!("parsed as a domain identity")
    };
    let engine = Engine::new(&request.connection, true).await?;
    let identity = crate::resources::ses::read_identity(&engine.cx(&node.region), domain).await?.ok_or_else(|| {
        Error::Refused(format!("SES has no domain identity {domain} in {}; apply it first", node.region))
    })?;
    Ok((domain_identity::records(domain, spec, &identity), identity))
}

/// Resolves the domain's records and reports each, plus whether DKIM makes mail DMARC-aligned.
pub async fn dns_check(request: &Request) -> Result<Value, Error> {
    let nameserver = match request.params.get("nameserver").and_then(Value::as_str) {
        Some(ns) => Some(parse_nameserver(ns)?),
        None => None,
    };
    let (records, identity) = domain_records(request).await?;
    let resolver = dns::resolver(nameserver)?;
    let checked = dns::check(&resolver, &records).await?;
    let domain = request.name.clone().unwrap_or_default();
    let dkim: Vec<&dns::Checked> = checked.iter().filter(|c| c.record.purpose == "DKIM").collect();
    let dkim_published = !dkim.is_empty() && dkim.iter().all(|c| c.status == dns::Status::Present);
    let dkim_verified = identity.dkim_status.as_deref() == Some("SUCCESS");
    let aligned = dkim_published && dkim_verified;
    let alignment = match (dkim_published, dkim_verified) {
        (true, true) => format!("DKIM signs with d={domain}, the From domain, and SES reports DKIM SUCCESS: mail from {domain} is DMARC-aligned and verifies"),
        (false, _) => format!("the DKIM CNAME records of {domain} are not all published, so DKIM cannot verify and mail is not DMARC-aligned"),
        (true, false) => format!("the DKIM records are published but SES reports DKIM {}; alignment holds once SES verifies them", identity.dkim_status.as_deref().unwrap_or("not started")),
    };
    let ok = aligned && checked.iter().all(|c| c.status == dns::Status::Present);
    Ok(
        json!({"domain": domain, "ok": ok, "records": checked, "dmarc_alignment": {"aligned": aligned, "detail": alignment}}),
    )
}

fn parse_nameserver(text: &str) -> Result<std::net::SocketAddr, Error> {
    text.parse::<std::net::SocketAddr>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
        .map_err(|_| Error::invalid("nameserver", format!("`{text}` is not an IP address or IP:PORT")))
}
