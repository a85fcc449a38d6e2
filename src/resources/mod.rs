//! The resource kinds, grouped by AWS service, each in its own file. `kinds!` below is the one
//! declaration of every kind: its place in the Pillar (service section, plural key, documentation),
//! whether it is a single entry or a mapping by name, and its type. From it come `KindId`, `AnySpec`
//! (the dispatch to each kind), the typed `Pillar` model and the list of its entries.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Invalid};
use crate::kind::{Common, Cx, Ensure, Exported, Kind, Listed, Ref, Referrer};
use crate::protocol::StateReturn;
use crate::{reconcile, secrets};

pub mod ec2;
pub mod iam;
pub mod rds;
pub mod s3;
pub mod ses;
pub mod sns;

/// The root of Pillar every path starts from.
pub const ROOT: &str = "ocp_aws";

macro_rules! kinds {
    // The Pillar type of a section field: a mapping by name, or one optional entry.
    (@field many $ty:ty) => { BTreeMap<String, <$ty as Kind>::Spec> };
    (@field one $ty:ty) => { Option<<$ty as Kind>::Spec> };
    // The entries of a section field: (name, spec) pairs; a single entry is named after its region.
    (@entries many $src:expr, $region:expr) => { $src.iter().map(|(n, s)| (n.clone(), s.clone())).collect::<Vec<_>>() };
    (@entries one $src:expr, $region:expr) => {
        $src.iter().map(|s| (s.region().unwrap_or($region).to_string(), s.clone())).collect::<Vec<_>>()
    };
    (@singleton many) => { false };
    (@singleton one) => { true };
    (
        $(
            $(#[doc = $sdoc:literal])*
            $service:ident: $section:ident {
                $(
                    $(#[doc = $fdoc:literal])*
                    $field:ident: $arity:ident $variant:ident => $ty:ty
                ),* $(,)?
            }
        ),* $(,)?
    ) => {
        /// The resource kinds, in the order they are declared: the order among resources that
        /// nothing else orders. Dependencies, not this order, decide what is done first.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KindId { $($($variant),*),* }

        impl KindId {
            pub const ALL: &'static [KindId] = &[$($(KindId::$variant),*),*];
            /// e.g. `s3.bucket`
            pub fn id(self) -> &'static str {
                match self { $($(KindId::$variant => <$ty as Kind>::KIND),*),* }
            }
            /// Where the kind sits in the Pillar, e.g. `s3.buckets`.
            pub fn pillar(self) -> &'static str {
                match self { $($(KindId::$variant => concat!(stringify!($service), ".", stringify!($field))),*),* }
            }
            /// e.g. `S3 bucket`
            pub fn noun(self) -> &'static str {
                match self { $($(KindId::$variant => <$ty as Kind>::NOUN),*),* }
            }
            /// A single entry per Pillar (named after its region), not a mapping by name.
            pub fn singleton(self) -> bool {
                match self { $($(KindId::$variant => kinds!(@singleton $arity)),*),* }
            }
            /// The kinds a resource of this kind may reference.
            pub fn refers_to(self) -> &'static [&'static str] {
                match self { $($(KindId::$variant => <$ty as Kind>::REFERS_TO),*),* }
            }
            /// The AWS object a resource of this kind named `name` in `region` is (see [`Kind::identity`]).
            pub fn identity(self, name: &str, region: &str) -> String {
                match self { $($(KindId::$variant => <$ty as Kind>::identity(name, region)),*),* }
            }
            /// Listed once, not per region (IAM).
            pub fn global(self) -> bool {
                match self { $($(KindId::$variant => <$ty as Kind>::GLOBAL),*),* }
            }
            /// The resources of this kind in `cx`'s region (see [`Kind::list`]).
            pub async fn list(self, cx: &Cx<'_>) -> Result<Listed, Error> {
                match self { $($(KindId::$variant => <$ty as Kind>::list(cx).await),*),* }
            }
            /// One resource's Pillar entry, read from AWS (see [`Kind::export`]).
            pub async fn export(self, cx: &Cx<'_>, name: &str, secret_dir: &str) -> Result<Option<Exported>, Error> {
                match self { $($(KindId::$variant => reconcile::export::<$ty>(cx, name, secret_dir).await),*),* }
            }
        }

        /// The settings of one resource of any kind.
        #[derive(Debug, Clone)]
        pub enum AnySpec { $($($variant(<$ty as Kind>::Spec)),*),* }

        impl AnySpec {
            /// Parses one resource's settings, reporting errors under `path`.
            pub fn parse(kind: KindId, value: Value, path: &str) -> Result<Self, Error> {
                Ok(match kind { $($(KindId::$variant => AnySpec::$variant(crate::strict::deserialize(value, path)?)),*),* })
            }
            pub fn kind(&self) -> KindId {
                match self { $($(AnySpec::$variant(_) => KindId::$variant),*),* }
            }
            fn common(&self) -> &dyn Common {
                match self { $($(AnySpec::$variant(s) => s),*),* }
            }
            fn common_mut(&mut self) -> &mut dyn Common {
                match self { $($(AnySpec::$variant(s) => s),*),* }
            }
            /// The kind's own checks (the region is checked once, by the Pillar).
            pub fn check(&self, name: &str, path: &str, errors: &mut Vec<Invalid>) {
                match self { $($(AnySpec::$variant(s) => <$ty as Kind>::check(name, s, path, errors)),*),* }
            }
            pub fn refs(&self) -> Vec<Ref> {
                match self { $($(AnySpec::$variant(s) => <$ty as Kind>::refs(s)),*),* }
            }
            /// Resources it uses when the Pillar has them (see [`Kind::uses`]).
            pub fn uses(&self) -> Vec<Ref> {
                match self { $($(AnySpec::$variant(s) => <$ty as Kind>::uses(s)),*),* }
            }
            /// Tells the resource that `from` refers to it (see [`Kind::referenced_by`]).
            pub fn referenced_by(&mut self, params: &mut Value, from: &Referrer) -> Result<(), String> {
                match self { $($(AnySpec::$variant(s) => <$ty as Kind>::referenced_by(s, params, from)),*),* }
            }
            /// The AWS object the resource is, for finding one object managed twice.
            pub fn identity(&self, name: &str, region: &str) -> String {
                match self { $($(AnySpec::$variant(_) => <$ty as Kind>::identity(name, region)),*),* }
            }
            pub fn secret_files(&self) -> Vec<(String, secrets::Target)> {
                match self { $($(AnySpec::$variant(s) => <$ty as Kind>::secret_files(s)),*),* }
            }
            pub async fn converge(&self, cx: &Cx<'_>, name: &str, ensure: Ensure) -> StateReturn {
                match self { $($(AnySpec::$variant(s) => reconcile::converge::<$ty>(cx, name, s, ensure).await),*),* }
            }
            pub async fn describe(&self, cx: &Cx<'_>, name: &str) -> Result<Value, Error> {
                match self { $($(AnySpec::$variant(s) => reconcile::describe::<$ty>(cx, name, s).await),*),* }
            }
        }

        /// The `ocp_aws` Pillar value: AWS resources by service, kind and name.
        #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct Pillar {
            /// Default AWS region of every resource that names none (default `us-east-1`).
            #[serde(default)]
            pub region: Option<String>,
            /// Nameservers (`IP` or `IP:PORT`) for the DNS lookups of a run (an address's MX before
            /// verifying it through S3). Left out: the system's resolver.
            #[serde(default)]
            pub nameservers: Vec<String>,
            $(
                $(#[doc = $sdoc])*
                #[serde(default)]
                pub $service: $section,
            )*
        }

        $(
            $(#[doc = $sdoc])*
            #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
            #[serde(deny_unknown_fields)]
            pub struct $section {
                $(
                    $(#[doc = $fdoc])*
                    #[serde(default)]
                    pub $field: kinds!(@field $arity $ty),
                )*
            }
        )*

        impl Pillar {
            /// Every resource, kind by kind in declared order, by name within a kind. A single
            /// entry takes its own region as its name, else `region`.
            pub fn entries(&self, region: &str) -> Vec<(KindId, String, AnySpec)> {
                let mut all = Vec::new();
                $($(
                    for (name, spec) in kinds!(@entries $arity self.$service.$field, region) {
                        all.push((KindId::$variant, name, AnySpec::$variant(spec)));
                    }
                )*)*
                all
            }
        }
    };
}

kinds! {
    /// Amazon Simple Notification Service.
    sns: SnsSection {
        /// Standard SNS topics by topic name.
        topics: many SnsTopic => sns::topic::Topic,
    },
    /// Amazon S3.
    s3: S3Section {
        /// S3 buckets by bucket name.
        buckets: many S3Bucket => s3::bucket::Bucket,
    },
    /// AWS Identity and Access Management.
    iam: IamSection {
        /// Customer-managed IAM policies by policy name.
        policies: many IamPolicy => iam::policy::Policy,
        /// IAM groups by group name.
        groups: many IamGroup => iam::group::Group,
        /// IAM users by user name.
        users: many IamUser => iam::user::User,
    },
    /// Amazon Simple Email Service.
    ses: SesSection {
        /// Sending domains by domain name.
        domains: many SesDomainIdentity => ses::domain_identity::DomainIdentity,
        /// Email-address identities by address.
        email_addresses: many SesEmailIdentity => ses::email_identity::EmailIdentity,
        /// SMTP credentials by IAM user name.
        smtp_credentials: many SesSmtpCredentials => ses::smtp_credentials::SmtpCredentials,
        /// Configuration sets by name, with their event destinations.
        configuration_sets: many SesConfigurationSet => ses::configuration_set::ConfigurationSet,
        /// Account-level settings (suppression list, production access) of the account in one region.
        account: one SesAccount => ses::account::Account,
    },
    /// Amazon EC2.
    ec2: Ec2Section {
        /// VPC security groups by group name.
        security_groups: many Ec2SecurityGroup => ec2::security_group::SecurityGroup,
    },
    /// Amazon RDS.
    rds: RdsSection {
        /// PostgreSQL DB instances by DB instance identifier.
        instances: many RdsDbInstance => rds::db_instance::DbInstance,
    },
}

impl KindId {
    pub fn from_id(id: &str) -> Option<KindId> {
        KindId::ALL.iter().copied().find(|k| k.id() == id)
    }
    /// The Salt function stem, e.g. `s3_bucket` (`ocp_aws.s3_bucket_present`).
    pub fn salt_function(self) -> String {
        self.id().replace('.', "_")
    }
    /// The Pillar section of the kind's service, e.g. `s3`.
    pub fn service(self) -> &'static str {
        self.pillar().split_once('.').map_or("", |(service, _)| service)
    }
    /// The kind's key within its service's section, e.g. `buckets`.
    pub fn field(self) -> &'static str {
        self.pillar().split_once('.').map_or("", |(_, field)| field)
    }
    /// The Pillar path of a resource of this kind, e.g. `ocp_aws.s3.buckets.NAME`.
    pub fn path(self, name: &str) -> String {
        match self.singleton() {
            true => format!("{ROOT}.{}", self.pillar()),
            false => format!("{ROOT}.{}.{name}", self.pillar()),
        }
    }
    /// The JSON pointer of a resource's value within the `ocp_aws` Pillar value.
    pub fn pointer(self, name: &str) -> String {
        let section = self.pillar().replace('.', "/");
        match self.singleton() {
            true => format!("/{section}"),
            false => format!("/{section}/{}", name.replace('~', "~0").replace('/', "~1")),
        }
    }
}

impl AnySpec {
    pub fn ensure(&self) -> Ensure {
        self.common().ensure()
    }
    pub fn region(&self) -> Option<&str> {
        self.common().region()
    }
    /// Fills in the region when the resource names none.
    pub fn default_region(&mut self, region: &str) {
        self.common_mut().set_region(region)
    }
}
