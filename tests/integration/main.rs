//! Integration tests against a real moto server on 127.0.0.1.

mod consistency_proxy;
mod dns_server;
mod fault_proxy;
mod http_wire;
mod support;

mod adopt;
mod backup;
mod cli;
mod consistency;
mod corpus;
mod faults;
mod fuzz;
mod iam;
mod keys;
mod layers;
mod notify;
mod rds;
mod receiving;
mod s3;
mod schema;
mod ses;
