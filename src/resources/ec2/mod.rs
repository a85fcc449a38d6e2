//! Amazon EC2 kinds: security groups, and the VPC lookups the RDS instance shares.

use aws_sdk_ec2::types::Filter;

use crate::error::{AwsResult, Error};
use crate::kind::Cx;

pub mod security_group;

/// An EC2 filter of one name and one value.
pub fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// The id of the region's default VPC, where security groups and DB instances go unless told
/// otherwise. An account without one gets a sentence, not a guess.
pub async fn default_vpc(cx: &Cx<'_>) -> Result<String, Error> {
    let out = cx.ec2().describe_vpcs().filters(filter("is-default", "true")).send().await.op("DescribeVpcs")?;
    out.vpcs().iter().find_map(|v| v.vpc_id().map(str::to_string)).ok_or_else(|| {
        Error::Refused(format!(
            "region {} has no default VPC; give vpc_id, or create a default VPC (aws ec2 create-default-vpc)",
            cx.region()
        ))
    })
}

/// The id of security group `name` in `vpc`, if it exists.
pub async fn group_id(cx: &Cx<'_>, name: &str, vpc: &str) -> Result<Option<String>, Error> {
    let out = cx
        .ec2()
        .describe_security_groups()
        .filters(filter("group-name", name))
        .filters(filter("vpc-id", vpc))
        .send()
        .await
        .op("DescribeSecurityGroups")?;
    Ok(out.security_groups().iter().find_map(|g| g.group_id().map(str::to_string)))
}
