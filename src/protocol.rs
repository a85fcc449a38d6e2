//! The JSON contract between the Salt shims (or any caller) and the binary: one request on stdin,
//! one response on stdout. Responses are Salt state returns.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::aws::Connection;

/// The only protocol version so far.
pub const VERSION: u32 = 1;

/// A request read from stdin by `ocp-aws stdio`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub version: u32,
    pub op: Op,
    /// Resource kind (`s3.bucket`, ...) for `state` and `describe`.
    #[serde(default)]
    pub kind: Option<String>,
    /// `present` or `absent`, for `state`.
    #[serde(default)]
    pub action: Option<Action>,
    /// Resource name, for `state` and `describe`.
    #[serde(default)]
    pub name: Option<String>,
    /// Execution function, for `call`.
    #[serde(default)]
    pub function: Option<String>,
    /// The resource's settings (`state`) or the whole `ocp_aws` Pillar value (`converge`, `validate`, `expand`).
    #[serde(default)]
    pub params: Value,
    /// Salt's test mode: read and report, never write.
    #[serde(default)]
    pub test: bool,
    #[serde(default)]
    pub connection: Connection,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    State,
    #[default]
    Converge,
    Call,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Present,
    Absent,
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

/// A secret string (a key, a password). Its `Debug` and `Display` never show the value;
/// [`Secret::expose`] is the one door, used only to hand it to AWS or to a secret file.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
