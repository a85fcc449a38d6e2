//! One module per resource kind, grouped by AWS service. This file lists the kinds once and
//! dispatches to them; adding a kind is one line in `kinds!` plus its module.

use serde_json::Value;

use crate::engine::{self, Common, Cx, Kind, Ref};
use crate::error::{Error, Invalid};
use crate::pillar::{self, Ensure};
use crate::protocol::StateReturn;
use crate::secrets;

pub mod iam;
pub mod s3;
pub mod ses;

macro_rules! kinds {
    ($($variant:ident => $ty:ty),* $(,)?) => {
        /// The resource kinds, in the order their resources are handled when nothing else decides.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KindId { $($variant),* }

        impl KindId {
            pub const ALL: &'static [KindId] = &[$(KindId::$variant),*];
            /// e.g. `s3.bucket`
            pub fn id(self) -> &'static str {
                match self { $(KindId::$variant => <$ty as Kind>::KIND),* }
            }
            /// e.g. `s3.buckets`
            pub fn pillar(self) -> &'static str {
                match self { $(KindId::$variant => <$ty as Kind>::PILLAR),* }
            }
            /// e.g. `S3 bucket`
            pub fn noun(self) -> &'static str {
                match self { $(KindId::$variant => <$ty as Kind>::NOUN),* }
            }
        }

        /// The settings of one resource of any kind.
        #[derive(Debug, Clone)]
        pub enum AnySpec { $($variant(<$ty as Kind>::Spec)),* }

        impl AnySpec {
            /// Parses one resource's settings, reporting errors under `path`.
            pub fn parse(kind: KindId, value: Value, path: &str) -> Result<Self, Error> {
                Ok(match kind { $(KindId::$variant => AnySpec::$variant(pillar::deserialize(value, path)?)),* })
            }
            fn common(&self) -> &dyn Common {
                match self { $(AnySpec::$variant(s) => s),* }
            }
            fn common_mut(&mut self) -> &mut dyn Common {
                match self { $(AnySpec::$variant(s) => s),* }
            }
            /// The checks every kind shares (its region), then the kind's own.
            pub fn check(&self, name: &str, path: &str, errors: &mut Vec<Invalid>) {
                if let Some(r) = self.region() {
                    crate::validate::region(r, &format!("{path}.region"), errors);
                }
                match self { $(AnySpec::$variant(s) => <$ty as Kind>::check(name, s, path, errors)),* }
            }
            pub fn refs(&self) -> Vec<Ref> {
                match self { $(AnySpec::$variant(s) => <$ty as Kind>::refs(s)),* }
            }
            pub fn secret_files(&self) -> Vec<(String, secrets::Target)> {
                match self { $(AnySpec::$variant(s) => <$ty as Kind>::secret_files(s)),* }
            }
            pub async fn converge(&self, cx: &Cx<'_>, name: &str, ensure: Ensure) -> StateReturn {
                match self { $(AnySpec::$variant(s) => engine::converge::<$ty>(cx, name, s, ensure).await),* }
            }
            pub async fn describe(&self, cx: &Cx<'_>, name: &str) -> Result<Value, Error> {
                match self { $(AnySpec::$variant(s) => engine::describe::<$ty>(cx, name, s).await),* }
            }
        }
    };
}

kinds! {
    S3Bucket => s3::bucket::Bucket,
    IamPolicy => iam::policy::Policy,
    IamGroup => iam::group::Group,
    IamUser => iam::user::User,
    SesDomainIdentity => ses::domain_identity::DomainIdentity,
    SesEmailIdentity => ses::email_identity::EmailIdentity,
    SesSmtpCredentials => ses::smtp_credentials::SmtpCredentials,
    SesAccount => ses::account::Account,
}

impl KindId {
    pub fn from_id(id: &str) -> Option<KindId> {
        KindId::ALL.iter().copied().find(|k| k.id() == id)
    }
    /// The Salt function stem, e.g. `s3_bucket` (`ocp_aws.s3_bucket_present`).
    pub fn salt_function(self) -> String {
        self.id().replace('.', "_")
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
