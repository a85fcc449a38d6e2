//! Amazon S3 kinds.
pub mod bucket;
