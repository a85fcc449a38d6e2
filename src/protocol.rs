//! The JSON contract between the Salt shims (or any caller) and the binary: one request on stdin,
//! one response on stdout. Responses are Salt state returns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::aws::Connection;

/// The only protocol version so far.
pub const VERSION: u32 = 1;

/// One request, read from stdin by `ocp-aws stdio`: a JSON object with `version`, `op` and the
/// fields of that op. `app::parse_request` turns the text into this; everything after works on types.
#[derive(Debug)]
pub enum Request {
    State(StateRequest),
    Converge(ConvergeRequest),
    Call(CallRequest),
}

/// The operations of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    State,
    Converge,
    Call,
}

impl Op {
    pub const ALL: [Op; 3] = [Op::State, Op::Converge, Op::Call];
    pub fn name(self) -> &'static str {
        match self {
            Op::State => "state",
            Op::Converge => "converge",
            Op::Call => "call",
        }
    }
}

/// `op: state`: bring one resource to present or absent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateRequest {
    /// Resource kind, e.g. `s3.bucket`.
    pub kind: String,
    pub action: Action,
    /// Resource name.
    pub name: String,
    /// The resource's settings.
    #[serde(default)]
    pub params: Value,
    /// Salt's test mode: read and report, never write.
    #[serde(default)]
    pub test: bool,
    #[serde(default)]
    pub connection: Connection,
    /// Nameservers (`IP` or `IP:PORT`) for the state's DNS lookups, as the Pillar's `nameservers`
    /// are for a converge (default: the system's resolver).
    #[serde(default)]
    pub nameservers: Vec<String>,
}

/// `op: converge`: bring every resource of an `ocp_aws` Pillar value to its state.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvergeRequest {
    /// The whole `ocp_aws` Pillar value.
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub test: bool,
    #[serde(default)]
    pub connection: Connection,
    /// How many resources to work on at once (default: the engine's).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Converge only these resources (`kind name` ids, as `expand` gives them), after checking the
    /// whole Pillar: what the Salt formula runs at once for a Salt run. Each must be in the Pillar.
    #[serde(default)]
    pub only: Option<Vec<String>>,
}

/// `op: call`: a read-only execution function.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    pub function: String,
    /// Resource kind, for `describe`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Resource or domain name, for `describe`, `dns_records` and `dns_check`.
    #[serde(default)]
    pub name: Option<String>,
    /// The function's arguments (the Pillar value for `validate` and `expand`).
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub connection: Connection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Present,
    Absent,
}

/// The answer to one request, typed by op; serialised only at the edge.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// `op: state`, and a request so broken that its op is unknown.
    State(StateReturn),
    /// `op: converge`: one return per resource, in the order of work.
    Converge(Vec<StateReturn>),
    /// `op: call`.
    Call(CallResponse),
}

impl Response {
    /// Whether any result is false.
    pub fn failed(&self) -> bool {
        match self {
            Response::State(r) => r.result == Some(false),
            Response::Converge(all) => all.iter().any(|r| r.result == Some(false)),
            Response::Call(c) => !c.result,
        }
    }
}

/// A Salt state return: `result` is true (in the desired state), false (failed) or
/// null (test mode, changes pending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateReturn {
    /// `kind name`, set in converge responses so each return says which resource it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub result: Option<bool>,
    pub changes: Value,
    pub comment: String,
}

impl StateReturn {
    pub fn new(name: &str, result: Option<bool>, changes: Value, comment: impl Into<String>) -> Self {
        StateReturn { id: None, name: name.to_string(), result, changes, comment: comment.into() }
    }
    pub fn ok(name: &str, comment: impl Into<String>) -> Self {
        Self::new(name, Some(true), Value::Object(Map::new()), comment)
    }
    pub fn failed(name: &str, comment: impl Into<String>) -> Self {
        Self::new(name, Some(false), Value::Object(Map::new()), comment)
    }
    pub fn failed_with(name: &str, changes: Value, comment: impl Into<String>) -> Self {
        Self::new(name, Some(false), changes, comment)
    }
    pub fn has_changes(&self) -> bool {
        self.changes.as_object().is_none_or(|m| !m.is_empty())
    }
}

/// The answer to an `op: call` request.
#[derive(Debug, Clone, Serialize)]
pub struct CallResponse {
    pub result: bool,
    pub comment: String,
    #[serde(rename = "return")]
    pub value: Value,
}
