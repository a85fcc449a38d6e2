//! Amazon S3 kinds, and the bucket creation they share with SES receiving.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::error::{code, Error};
use crate::kind::Cx;

pub mod bucket;

/// Creates the bucket `name` in the context's region; a repeat after a lost answer finds the bucket
/// it made, and a name another account holds is refused with a sentence.
pub async fn create_bucket(cx: &Cx<'_>, name: &str) -> Result<(), Error> {
    let mut create = cx.s3().create_bucket().bucket(name);
    if cx.region() != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(cx.region()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(e) if crate::error::code_of(&e) == Some(code::BUCKET_ALREADY_OWNED_BY_YOU) => Ok(()),
        Err(e) if crate::error::code_of(&e) == Some(code::BUCKET_ALREADY_EXISTS) => Err(Error::Refused(format!(
            "the name {name} is taken by another AWS account (bucket names are global); choose another name"
        ))),
        Err(e) => Err(crate::error::aws_error("CreateBucket", e)),
    }
}
