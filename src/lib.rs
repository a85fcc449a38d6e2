//! ocp-aws: converge an organisation's AWS mail, database, backup and access setup from Salt Pillar.
//!
//! The pipeline is `parse → validate → plan (pure) → apply → verify`:
//! [`pillar`] turns Pillar data into typed, ordered [`pillar::Node`]s; [`engine`] drives each node
//! through read → diff → (test mode: report) → write → read back; [`resources`] holds one module per
//! resource kind; [`protocol`] is the JSON request/response contract the Salt shims speak.

pub mod adopt;
pub mod app;
pub mod aws;
pub mod dns;
pub mod engine;
pub mod error;
pub mod export;
pub mod kind;
pub mod mail;
pub mod notification;
pub mod pillar;
pub mod postgres;
pub mod protocol;
pub mod reconcile;
pub mod report;
pub mod resources;
pub mod secrets;
pub mod strict;
pub mod validate;

pub use error::Error;
