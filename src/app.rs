//! What the binary does: the `stdio` protocol (`state`, `converge`, `call`) and the functions the
//! CLI commands share with it. JSON is read and written only here and in `main`; everything in
//! between works on types.

use serde_json::{json, Value};

use crate::aws::{CallLog, Connection};
use crate::dns;
use crate::engine::Engine;
use crate::error::{Error, Invalid};
use crate::kind::Ensure;
use crate::pillar::{self, Node, PillarFile};
use crate::protocol::{Action, CallRequest, CallResponse, Op, Request, Response, StateRequest, StateReturn, VERSION};
use crate::resources::ses::receiving::{self, Setup};
use crate::resources::ses::{dmarc, domain_identity, smtp_credentials, Identity};
use crate::resources::{AnySpec, KindId};

/// Exit statuses of the protocol and the CLI (ARCHITECTURE.md, "The protocol").
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;

/// The most a request may hold; a Pillar is far smaller.
pub const MAX_REQUEST_BYTES: usize = 16 << 20;
/// How much of a name an answer repeats: an answer stays small whatever the request held.
const MAX_ECHO_CHARS: usize = 200;

/// The exit status for an error: 2 for invalid input, 1 for anything else.
pub fn exit_status(e: &Error) -> i32 {
    if matches!(e, Error::Invalid(_)) {
        EXIT_INVALID
    } else {
        EXIT_FAILED
    }
}

/// A response and the exit status that goes with it.
#[derive(Debug)]
pub struct Outcome {
    pub response: Response,
    pub status: i32,
}

impl Outcome {
    fn state(ret: StateReturn) -> Self {
        let status = if ret.result == Some(false) { EXIT_FAILED } else { EXIT_OK };
        Outcome { response: Response::State(ret), status }
    }
    /// The failure of a request that could not be carried out as given (exit status 2 when it is
    /// invalid), in the shape of the answer its op expects.
    fn refused(op: Option<Op>, name: &str, e: &Error) -> Self {
        let name = echo(name);
        let comment = sentence(e);
        let response = match op {
            Some(Op::Converge) => Response::Converge(vec![StateReturn::failed(&name, comment)]),
            Some(Op::Call) => Response::Call(CallResponse { result: false, comment, value: Value::Null }),
            Some(Op::State) | None => Response::State(StateReturn::failed(&name, comment)),
        };
        Outcome { response, status: exit_status(e) }
    }
    fn call(result: Result<Value, Error>) -> Self {
        match result {
            Ok(value) => Outcome {
                response: Response::Call(CallResponse { result: true, comment: String::new(), value }),
                status: EXIT_OK,
            },
            Err(e) => Outcome::refused(Some(Op::Call), "", &e),
        }
    }
    /// The response as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.response).unwrap_or_else(|e| {
            json!({"name": "response", "result": false, "changes": {}, "comment": format!("The answer could not be written as JSON: {e}.")}).to_string()
        })
    }
}

/// At most `MAX_ECHO_CHARS` of a user-given name, marked when cut.
fn echo(name: &str) -> String {
    match name.char_indices().nth(MAX_ECHO_CHARS) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_string(),
    }
}

fn sentence(e: &Error) -> String {
    match e {
        Error::Invalid(_) => format!("Invalid request or Pillar: {e}."),
        other => format!("{}.", other.to_string().trim_end_matches('.')),
    }
}

/// Answers one `stdio` request. Never panics on bad input: whatever arrives gets exactly one JSON
/// answer; an unreadable request gets result false and exit status 2.
pub async fn handle(input: &[u8]) -> Outcome {
    match parse_request(input) {
        Ok(Request::State(r)) => state(&r).await,
        Ok(Request::Converge(r)) => {
            let done = converge_only(&r.params, &r.connection, r.test, r.concurrency, r.only.as_deref()).await;
            Outcome { response: Response::Converge(done.returns), status: done.status }
        }
        Ok(Request::Call(r)) if r.function == "validate" => {
            // An invalid Pillar fails the call (exit status 2) and still lists every error.
            let verdict = validate(&r.params, r.connection.region.as_deref());
            let errors: Vec<String> = verdict.errors.iter().map(Invalid::to_string).collect();
            let value = json!({"valid": errors.is_empty(), "errors": errors});
            match verdict.errors.is_empty() {
                true => Outcome::call(Ok(value)),
                false => {
                    let mut outcome = Outcome::refused(Some(Op::Call), "", &Error::Invalid(verdict.errors));
                    if let Response::Call(c) = &mut outcome.response {
                        c.value = value;
                    }
                    outcome
                }
            }
        }
        Ok(Request::Call(r)) => Outcome::call(call(&r).await),
        Err((op, name, e)) => Outcome::refused(op, &name, &e),
    }
}

/// What went wrong with a request: its op and name when they could be read, and why.
type Unreadable = (Option<Op>, String, Error);

/// Reads a request: UTF-8 JSON, one object, `version` 1, a known `op`, then that op's fields.
pub fn parse_request(input: &[u8]) -> Result<Request, Unreadable> {
    let refuse =
        |op, name: &str, path: &str, message: String| Err((op, name.to_string(), Error::invalid(path, message)));
    if input.len() > MAX_REQUEST_BYTES {
        return refuse(None, "request", "request", format!("is larger than {MAX_REQUEST_BYTES} bytes"));
    }
    let Ok(text) = std::str::from_utf8(input) else {
        return refuse(None, "request", "request", "is not UTF-8 text".into());
    };
    if text.trim().is_empty() {
        return refuse(None, "request", "request", "is empty: expected one JSON object on stdin".into());
    }
    let mut fields = match crate::strict::from_json(text, "request") {
        Ok(Value::Object(m)) => m,
        Ok(_) => return refuse(None, "request", "request", "expected a JSON object".into()),
        Err(e) => return Err((None, "request".into(), e)),
    };
    let op_text = fields.remove("op");
    let op = op_text.as_ref().and_then(Value::as_str).and_then(|t| Op::ALL.into_iter().find(|o| o.name() == t));
    let name = fields.get("name").and_then(Value::as_str).unwrap_or("request").to_string();
    match fields.remove("version") {
        Some(v) if v == json!(VERSION) => {}
        Some(_) => return refuse(op, &name, "request.version", format!("expected {VERSION}")),
        None => return refuse(op, &name, "request.version", format!("missing: expected {VERSION}")),
    }
    let Some(op) = op else {
        let known: Vec<&str> = Op::ALL.iter().map(|o| o.name()).collect();
        let message = match op_text {
            None => format!("missing: expected one of {}", known.join(", ")),
            Some(other) => {
                format!("expected one of {}, not {}", known.join(", "), crate::validate::quote(&other.to_string()))
            }
        };
        return refuse(None, &name, "request.op", message);
    };
    let fields = Value::Object(fields);
    let parsed = match op {
        Op::State => crate::strict::deserialize(fields, "request").map(Request::State),
        Op::Converge => crate::strict::deserialize(fields, "request").map(Request::Converge),
        Op::Call => crate::strict::deserialize(fields, "request").map(Request::Call),
    };
    let request = parsed.map_err(|e| (Some(op), name.clone(), e))?;
    let connection = match &request {
        Request::State(r) => &r.connection,
        Request::Converge(r) => &r.connection,
        Request::Call(r) => &r.connection,
    };
    let errors = connection.check("request.connection");
    if !errors.is_empty() {
        return Err((Some(op), name, Error::Invalid(errors)));
    }
    Ok(request)
}

fn kind_of(kind: &str, path: &str) -> Result<KindId, Error> {
    KindId::from_id(kind).ok_or_else(|| {
        let known: Vec<&str> = KindId::ALL.iter().map(|k| k.id()).collect();
        Error::invalid(
            path,
            format!("unknown kind {}; known kinds: {}", crate::validate::quote(kind), known.join(", ")),
        )
    })
}

async fn state(request: &StateRequest) -> Outcome {
    let name = &request.name;
    let node = kind_of(&request.kind, "request.kind").and_then(|kind| {
        if name.is_empty() {
            return Err(Error::invalid("request.name", "missing"));
        }
        let absent = request.action == Action::Absent;
        pillar::single(kind, name, &request.params, absent, request.connection.region.as_deref())
    });
    let node = match node {
        Ok(n) => n,
        Err(e) => return Outcome::refused(Some(Op::State), name, &e),
    };
    let mut errors = Vec::new();
    let servers = nameservers(&request.nameservers, "request.nameservers", &mut errors);
    if !errors.is_empty() {
        return Outcome::refused(Some(Op::State), name, &Error::Invalid(errors));
    }
    match Engine::new(&request.connection, request.test).await {
        Ok(engine) => Outcome::state(engine.with_nameservers(servers).converge_one(&node).await),
        Err(e) => Outcome::refused(Some(Op::State), name, &e),
    }
}

/// What converging a Pillar gave: a return per resource in the order of work, the exit status,
/// and the AWS operations made (empty when none could start).
pub struct Converged {
    pub returns: Vec<StateReturn>,
    pub status: i32,
    pub calls: CallLog,
}

/// Converges a whole `ocp_aws` Pillar value, `concurrency` resources at a time (default: the
/// engine's). An invalid Pillar is one failed return named `ocp_aws` listing every error.
pub async fn converge(params: &Value, conn: &Connection, test: bool, concurrency: Option<usize>) -> Converged {
    converge_only(params, conn, test, concurrency, None).await
}

/// Converges the resources of a Pillar value whose ids are in `only` (all when `None`).
pub async fn converge_only(
    params: &Value,
    conn: &Connection,
    test: bool,
    concurrency: Option<usize>,
    only: Option<&[String]>,
) -> Converged {
    let refused = |e: Error| {
        let status = exit_status(&e);
        Converged { returns: vec![StateReturn::failed(pillar::ROOT, sentence(&e))], status, calls: CallLog::default() }
    };
    let nodes = match pillar::plan(params, conn.region.as_deref()) {
        Ok(n) => n,
        Err(e) => return refused(e),
    };
    let nodes = match only {
        None => nodes,
        Some(ids) => match pillar::only(nodes, ids) {
            Ok(n) => n,
            Err(e) => return refused(e),
        },
    };
    let engine = match Engine::new(conn, test).await {
        Ok(e) => e.with_nameservers(pillar::nameservers(params)),
        Err(e) => return refused(e),
    };
    let engine = match concurrency {
        Some(n) => engine.with_concurrency(n),
        None => engine,
    };
    let returns = engine.converge_all(&nodes).await;
    let status = if returns.iter().any(|r| r.result == Some(false)) { EXIT_FAILED } else { EXIT_OK };
    Converged { returns, status, calls: engine.calls().clone() }
}

/// The read-only execution functions (`op: call`).
pub const FUNCTIONS: &[&str] = &[
    "adopt_key",
    "adopt_password",
    "describe",
    "dmarc_check",
    "dns_check",
    "dns_records",
    "expand",
    "export",
    "notification_explain",
    "schema",
    "smtp_password",
    "validate",
];

/// Runs a read-only execution function and returns its value.
pub async fn call(request: &CallRequest) -> Result<Value, Error> {
    let region = request.connection.region.as_deref();
    let name =
        || request.name.as_deref().filter(|n| !n.is_empty()).ok_or_else(|| Error::invalid("request.name", "missing"));
    match request.function.as_str() {
        "schema" => Ok(schema()),
        "validate" => match validate(&request.params, region).errors {
            errors if errors.is_empty() => Ok(json!({"valid": true, "errors": []})),
            errors => Err(Error::Invalid(errors)),
        },
        "expand" => Ok(expand(&request.params, region)),
        "dns_records" => {
            let (records, _) = domain_records(name()?, &request.params, &request.connection).await?;
            Ok(json!(records))
        }
        "dmarc_check" => {
            let args: DmarcCheck = crate::strict::deserialize(request.params.clone(), "request.params")?;
            let report = dmarc_check(&args, &request.connection).await?;
            Ok(serde_json::to_value(report).unwrap_or(Value::Null))
        }
        "dns_check" => {
            let nameserver = match request.params.get("nameserver") {
                None | Some(Value::Null) => None,
                Some(Value::String(ns)) => Some(parse_nameserver(ns, "request.params.nameserver")?),
                Some(_) => return Err(Error::invalid("request.params.nameserver", "expected IP or IP:PORT text")),
            };
            let mut params = request.params.clone();
            if let Some(m) = params.as_object_mut() {
                m.remove("nameserver"); // the check's own setting, not the identity's
            }
            dns_check(name()?, &params, &request.connection, nameserver).await
        }
        "smtp_password" => {
            let field = |f: &str, what: &str| {
                request
                    .params
                    .get(f)
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::invalid(format!("request.params.{f}"), what))
            };
            let secret = field("key", "missing: the secret access key")?;
            let region = field("region", "missing: the SES region")?;
            smtp_password(secret, region, "request.params.key", "request.params.region").map(Value::String)
        }
        "notification_explain" => {
            let text = request
                .params
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::invalid("request.params.text", "missing: the notification's text"))?;
            Ok(json!(crate::notification::explain(text)?))
        }
        "adopt_key" => {
            let (kind, settings) = adopt_settings(&request.params, name()?, true)?;
            let secret = secret_param(&request.params, "key", "the secret access key")?;
            let key_id = request.params.get("access_key_id").and_then(Value::as_str);
            let done = crate::adopt::adopt_key(&request.connection, kind, name()?, &settings, key_id, &secret).await?;
            Ok(json!({"comment": done.comment, "verified": done.verified}))
        }
        "adopt_password" => {
            let (_, settings) = adopt_settings(&request.params, name()?, false)?;
            let password = secret_param(&request.params, "password", "the database password")?;
            let done = crate::adopt::adopt_password(&request.connection, name()?, &settings, &password).await?;
            Ok(json!({"comment": done.comment, "verified": done.verified}))
        }
        "describe" => {
            let kind = kind_of(request.kind.as_deref().unwrap_or_default(), "request.kind")?;
            let name = name()?;
            let node = pillar::for_describe(kind, name, &request.params, region)?;
            let engine = Engine::new(&request.connection, true).await?;
            node.spec.describe(&engine.cx(&node.region), name).await
        }
        "export" => {
            let opts = crate::export::options(&request.params, region)?;
            let report = crate::export::export(&request.connection, &opts).await?;
            if !report.failures.is_empty() {
                return Err(Error::Refused(report.failures.join(" ")));
            }
            let pillar = json!({"ocp_aws": crate::export::pillar_value(&report)});
            let yaml = crate::export::to_yaml(&report, None);
            Ok(json!({"pillar": pillar, "yaml": yaml, "unresolved": report.unresolved}))
        }
        other => Err(Error::invalid(
            "request.function",
            format!("unknown function {}; known functions: {}", crate::validate::quote(other), FUNCTIONS.join(", ")),
        )),
    }
}

/// The kind and settings an `adopt_*` call names: the entry of `params.pillar` (a whole `ocp_aws`
/// value), else `params.settings` (one entry, of `params.kind` for a key: `iam.user` by default).
fn adopt_settings(params: &Value, name: &str, key: bool) -> Result<(KindId, Value), Error> {
    let known: &[&str] = match key {
        true => &["pillar", "kind", "settings", "access_key_id", "key"],
        false => &["pillar", "settings", "password"],
    };
    if let Some(unknown) =
        params.as_object().into_iter().flatten().map(|(k, _)| k).find(|k| !known.contains(&k.as_str()))
    {
        return Err(Error::invalid(format!("request.params.{unknown}"), "unknown field"));
    }
    match (params.get("pillar"), params.get("settings"), key) {
        (Some(pillar), None, true) => crate::adopt::key_entry(pillar, name),
        (Some(pillar), None, false) => Ok((KindId::RdsDbInstance, crate::adopt::instance_entry(pillar, name)?)),
        (None, Some(settings), true) => {
            let kind = match params.get("kind").and_then(Value::as_str) {
                None | Some("iam.user") => KindId::IamUser,
                Some("ses.smtp_credentials") => KindId::SesSmtpCredentials,
                Some(other) => {
                    return Err(Error::invalid(
                        "request.params.kind",
                        format!(
                            "{} takes no access key: use iam.user or ses.smtp_credentials",
                            crate::validate::quote(other)
                        ),
                    ))
                }
            };
            Ok((kind, settings.clone()))
        }
        (None, Some(settings), false) => Ok((KindId::RdsDbInstance, settings.clone())),
        _ => {
            Err(Error::invalid("request.params", "give pillar (the ocp_aws Pillar) or settings (its entry), not both"))
        }
    }
}

/// A secret a request carries (only ever in its body, on stdin).
fn secret_param(params: &Value, field: &str, what: &str) -> Result<crate::secrets::Secret, Error> {
    match params.get(field).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(crate::secrets::Secret::new(s)),
        _ => Err(Error::invalid(format!("request.params.{field}"), format!("missing: {what}"))),
    }
}

/// The SES SMTP password of a secret access key for `region`; `path` names where the region came
/// from, for the error message (`--region` on the command line).
/// Refuses an empty key, and one with a space, line break or control character (a key read with
/// what followed it): either would give a password that SES never accepts, silently.
pub fn smtp_password(secret: &str, region: &str, secret_path: &str, region_path: &str) -> Result<String, Error> {
    let mut errors = Vec::new();
    if secret.is_empty() {
        errors.push(Invalid::new(secret_path, "empty: give the IAM user's secret access key"));
    } else if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.push(Invalid::new(
            secret_path,
            "holds a space, a line break or a control character, which no secret access key has",
        ));
    }
    crate::validate::region(region, region_path, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(smtp_credentials::smtp_password(secret, region))
}

/// The Pillar JSON Schema, generated from the Rust types. Each kind's settings are named after the
/// kind (`S3Bucket`, `IamUser`, ...) rather than after their Rust type, which every kind calls `Spec`.
pub fn schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(PillarFile)).expect("a schema is JSON");
    for kind in KindId::ALL {
        let def = |schema: &Value, reference: &str| {
            schema.pointer(&format!("/$defs/{}", reference.strip_prefix("#/$defs/")?)).cloned()
        };
        let section = schema.pointer(&format!("/$defs/Pillar/properties/{}", kind.service())).and_then(first_ref);
        let spec = section
            .and_then(|r| def(&schema, r))
            .and_then(|d| d.pointer(&format!("/properties/{}", kind.field())).and_then(first_ref).map(str::to_string));
        if let Some(old) = spec {
            rename_definition(&mut schema, &old, &format!("{kind:?}"), kind.id());
        }
    }
    schema
}

/// The first `$ref` inside a schema, e.g. `#/$defs/Spec`.
fn first_ref(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) => m.get("$ref").and_then(Value::as_str).or_else(|| m.values().find_map(first_ref)),
        Value::Array(a) => a.iter().find_map(first_ref),
        _ => None,
    }
}

/// Renames the definition `reference` points at to `name`, with `title` the kind id, and every
/// reference to it.
fn rename_definition(schema: &mut Value, reference: &str, name: &str, title: &str) {
    let Some(old) = reference.strip_prefix("#/$defs/") else { return };
    let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) else { return };
    let Some(mut def) = defs.remove(old) else { return };
    if let Some(d) = def.as_object_mut() {
        d.insert("title".into(), Value::String(title.to_string()));
    }
    defs.insert(name.to_string(), def);
    let new_ref = format!("#/$defs/{name}");
    fn walk(v: &mut Value, from: &str, to: &str) {
        match v {
            Value::Object(m) => {
                if m.get("$ref").and_then(Value::as_str) == Some(from) {
                    m.insert("$ref".into(), Value::String(to.to_string()));
                }
                m.values_mut().for_each(|x| walk(x, from, to));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, from, to)),
            _ => {}
        }
    }
    walk(schema, reference, &new_ref);
}

/// The verdict on a Pillar: every problem found, each with its path. Never touches AWS.
pub struct Verdict {
    pub errors: Vec<Invalid>,
}

/// Checks a Pillar value in full without touching AWS.
pub fn validate(params: &Value, default_region: Option<&str>) -> Verdict {
    Verdict { errors: invalid_list(pillar::plan(params, default_region).err()) }
}

fn invalid_list(e: Option<Error>) -> Vec<Invalid> {
    match e {
        None => Vec::new(),
        Some(Error::Invalid(all)) => all,
        Some(other) => vec![Invalid::new("", other.to_string())],
    }
}

/// The Salt states the formula renders: one per resource, in order, with requisites.
pub fn expand(params: &Value, default_region: Option<&str>) -> Value {
    match pillar::plan(params, default_region) {
        Err(e) => {
            let errors: Vec<String> = invalid_list(Some(e)).iter().map(Invalid::to_string).collect();
            json!({"errors": errors, "states": []})
        }
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
        "service": node.kind.service(),
        "params": params,
        "require": node.deps.iter().map(|&d| all[d].id()).collect::<Vec<_>>(),
    })
}

/// The DNS records of an SES domain identity, from what SES reports about it. `params` takes the
/// domain identity's settings (`region`, `zone`, `receiving`, `dmarc`, `mail_from`).
pub async fn domain_records(
    domain: &str,
    params: &Value,
    conn: &Connection,
) -> Result<(Vec<dns::Record>, Identity), Error> {
    let node = pillar::single(KindId::SesDomainIdentity, domain, params, false, conn.region.as_deref())?;
    let AnySpec::SesDomainIdentity(spec) = &node.spec else { unreachable!("parsed as a domain identity") };
    let engine = Engine::new(conn, true).await?;
    let identity = crate::resources::ses::read_identity(&engine.cx(&node.region), domain).await?.ok_or_else(|| {
        Error::Refused(format!("SES has no domain identity {domain} in {}; apply it first", node.region))
    })?;
    Ok((domain_identity::records(domain, spec, &identity), identity))
}

/// Resolves the domain's records and reports each, plus whether DKIM makes mail DMARC-aligned.
pub async fn dns_check(
    domain: &str,
    params: &Value,
    conn: &Connection,
    nameserver: Option<std::net::SocketAddr>,
) -> Result<Value, Error> {
    let (records, identity) = domain_records(domain, params, conn).await?;
    let resolver = dns::resolver(nameserver)?;
    let checked = dns::check(&resolver, &records).await?;
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

/// Nameservers given as `IP` or `IP:PORT`, each checked; `path` names the list in errors.
fn nameservers(list: &[String], path: &str, errors: &mut Vec<Invalid>) -> Vec<std::net::SocketAddr> {
    let mut found = Vec::new();
    for (i, ns) in list.iter().enumerate() {
        match crate::validate::nameserver(ns) {
            Ok(addr) => found.push(addr),
            Err(e) => errors.push(Invalid::new(format!("{path}[{i}]"), e)),
        }
    }
    found
}

/// What `ses dmarc-check` (and `call dmarc_check`) is given.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DmarcCheck {
    /// The sender, an address of an SES identity of this account.
    pub from: String,
    /// The recipient, an address whose domain receives mail with SES in the region.
    pub to: String,
    /// The SES region (default: the connection's).
    #[serde(default)]
    pub region: Option<String>,
    /// The bucket the message is stored in (default `ocp-aws-verification`).
    #[serde(default)]
    pub bucket: Option<String>,
    /// The key prefix (default `dmarc-check/`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Nameservers (`IP` or `IP:PORT`) for the MX and `_dmarc` lookups (default: the system's).
    #[serde(default)]
    pub nameservers: Vec<String>,
}

/// Sends a message through SES and reports its authentication as received (`ses dmarc-check`).
/// Bad arguments are `Error::Invalid`, checked before any AWS call.
pub async fn dmarc_check(args: &DmarcCheck, conn: &Connection) -> Result<dmarc::Report, Error> {
    let mut errors = Vec::new();
    crate::validate::email(&args.from, "from", &mut errors);
    crate::validate::email(&args.to, "to", &mut errors);
    let region =
        args.region.clone().or_else(|| conn.region.clone()).unwrap_or_else(|| crate::aws::DEFAULT_REGION.into());
    crate::validate::region(&region, "region", &mut errors);
    if let Some(b) = &args.bucket {
        crate::validate::bucket_name(b, "bucket", &mut errors);
    }
    let nameservers = nameservers(&args.nameservers, "nameservers", &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let setup = Setup {
        bucket: args.bucket.clone().unwrap_or_else(|| receiving::DEFAULT_BUCKET.into()),
        prefix: args.prefix.clone().unwrap_or_else(|| dmarc::DEFAULT_PREFIX.into()),
        rule_set: receiving::DEFAULT_RULE_SET.into(),
        rule: receiving::DEFAULT_RULE.into(),
        keep_rule_set: false,
    };
    let engine = Engine::new(conn, false).await?.with_nameservers(nameservers);
    dmarc::check(&engine.cx(&region), &args.from, &args.to, &setup).await
}

/// A nameserver given as `IP` or `IP:PORT`; `path` names where it came from.
pub fn parse_nameserver(text: &str, path: &str) -> Result<std::net::SocketAddr, Error> {
    crate::validate::nameserver(text).map_err(|e| Error::invalid(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(input: &[u8]) -> (Option<Op>, String) {
        match parse_request(input) {
            Err((op, _, e)) => (op, e.to_string()),
            Ok(r) => panic!("accepted {r:?}"),
        }
    }

    #[test]
    fn unreadable_requests_name_what_is_wrong() {
        assert!(refused(b"\xff\xfe").1.contains("not UTF-8"));
        assert!(refused(b"{\"version\": 1,").1.contains("line 1 column"), "{}", refused(b"{\"version\": 1,").1);
        assert!(refused(b"[1]").1.contains("JSON object"));
        assert_eq!(refused(br#"{"op": "call", "function": "schema"}"#).0, Some(Op::Call));
        assert!(refused(br#"{"version": 2, "op": "call", "function": "schema"}"#).1.contains("request.version"));
        assert!(refused(br#"{"version": 1, "op": "dance"}"#).1.contains("request.op"));
        let typo = refused(
            br#"{"version": 1, "op": "state", "kind": "s3.bucket", "action": "present", "name": "b", "parms": {}}"#,
        );
        assert_eq!(typo.0, Some(Op::State));
        assert!(typo.1.contains("parms"), "{}", typo.1);
    }

    #[test]
    fn a_bad_endpoint_is_an_invalid_request() {
        let (_, message) = refused(br#"{"version": 1, "op": "converge", "connection": {"endpoint_url": "not a url"}}"#);
        assert!(message.contains("request.connection.endpoint_url"), "{message}");
    }

    #[tokio::test]
    async fn answers_repeat_at_most_a_bounded_name() {
        let long = "x".repeat(100_000);
        let input = json!({"version": 1, "op": "state", "kind": "nope", "action": "present", "name": long}).to_string();
        let outcome = handle(input.as_bytes()).await;
        assert_eq!(outcome.status, EXIT_INVALID);
        assert!(outcome.to_json().len() < 2_000, "{}", outcome.to_json().len());
    }
}
