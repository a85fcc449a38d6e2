//! Taking over credentials made by hand, without rotating them: `adopt-key` (an IAM user's access
//! key, or an SES SMTP user's) and `adopt-password` (an RDS instance's master password). The secret
//! comes from the caller (stdin of the CLI), is proven against AWS or the database, and is written
//! to the secret file exactly as `apply` would have written it, so that the next apply finds the
//! credential and the file in agreement and changes nothing.
//!
//! Nothing is written unless every check passed; a message names the check that failed and never
//! the secret.

use serde_json::Value;

use crate::aws::{CallLog, Clients, Connection};
use crate::error::{code, AwsResult, Error};
use crate::kind::Shared;
use crate::pillar;
use crate::resources::iam::access_key::{self, KeyInfo};
use crate::resources::iam::user;
use crate::resources::rds::db_instance;
use crate::resources::ses::smtp_credentials;
use crate::resources::{AnySpec, KindId};
use crate::secrets::{Secret, Target};

/// How long the password check may take to connect and authenticate.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a secret file section holds for an access key: built from the key's id and secret.
type FileValues = dyn Fn(&str, &str) -> serde_json::Map<String, Value>;

/// What an adoption did, in sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    pub comment: String,
    /// Whether the secret was proven (always for a key; for a password, when the database answered).
    pub verified: bool,
}

/// The Pillar entry a user's key is adopted for: `iam.users.USER` (with `access_key`) or
/// `ses.smtp_credentials.USER`, from a whole Pillar document's `ocp_aws` value.
pub fn key_entry(pillar: &Value, user: &str) -> Result<(KindId, Value), Error> {
    for kind in [KindId::IamUser, KindId::SesSmtpCredentials] {
        if let Some(entry) = pillar.pointer(&kind.pointer(user)) {
            return Ok((kind, with_region(pillar, entry)));
        }
    }
    Err(Error::invalid(
        "",
        format!("the Pillar has no entry for {} under iam.users or ses.smtp_credentials", crate::validate::quote(user)),
    ))
}

/// The Pillar entry of a DB instance.
pub fn instance_entry(pillar: &Value, name: &str) -> Result<Value, Error> {
    match pillar.pointer(&KindId::RdsDbInstance.pointer(name)) {
        Some(entry) => Ok(with_region(pillar, entry)),
        None => Err(Error::invalid(
            "",
            format!("the Pillar has no entry for {} under rds.instances", crate::validate::quote(name)),
        )),
    }
}

/// An entry with the Pillar's region when it names none itself.
fn with_region(pillar: &Value, entry: &Value) -> Value {
    let mut entry = if entry.is_null() { Value::Object(Default::default()) } else { entry.clone() };
    if let (Some(m), Some(region)) = (entry.as_object_mut(), pillar.get("region")) {
        m.entry("region").or_insert_with(|| region.clone());
    }
    entry
}

/// The clients of a run that reads with the connection's credentials.
async fn shared(conn: &Connection) -> Result<Shared, Error> {
    let clients = Clients::new(conn, CallLog::default()).await?;
    clients.check_credentials().await?;
    Ok(Shared::new(clients, false))
}

/// Adopts the access key of `user` whose secret is `secret`: `kind` is `iam.user` or
/// `ses.smtp_credentials`, `params` its Pillar entry (the secret file settings), `key_id` the key
/// when the user has two.
pub async fn adopt_key(
    conn: &Connection,
    kind: KindId,
    user: &str,
    params: &Value,
    key_id: Option<&str>,
    secret: &Secret,
) -> Result<Adopted, Error> {
    let node = pillar::single(kind, user, params, false, conn.region.as_deref())?;
    let path = kind.path(user);
    let (target, values): (Target, Box<FileValues>) = match &node.spec {
        AnySpec::IamUser(spec) => match &spec.access_key {
            Some(k) => (k.target(), Box::new(user::key_values)),
            None => return Err(Error::invalid(format!("{path}.access_key"), "missing: where should the key go?")),
        },
        AnySpec::SesSmtpCredentials(spec) => {
            let regions = spec.smtp_regions();
            (spec.target(), Box::new(move |id, secret| smtp_credentials::file_values(&regions, id, secret)))
        }
        _ => return Err(Error::Internal(format!("adopt-key does not take {}", kind.id()))),
    };
    let key_in = |section: &serde_json::Map<String, Value>| match kind {
        KindId::IamUser => user::key_in(section),
        _ => smtp_credentials::key_in(section),
    };
    // A file the tool must not write is refused before anything is asked of AWS.
    target.read()?;
    let run = shared(conn).await?;
    let cx = run.cx(&node.region);
    let keys = access_key::list_of(&cx, user)
        .await?
        .ok_or_else(|| Error::Refused(format!("IAM user {user} does not exist; nothing was written")))?;
    let key = choose(user, &keys, key_id)?;
    let arn = cx.iam().get_user().user_name(user).send().await.op("GetUser")?.user.map(|u| u.arn).unwrap_or_default();
    prove(conn, &node.region, user, &key.id, &arn, secret).await?;

    let lock = target.lock().await?;
    let held = target.read()?.as_ref().and_then(key_in);
    if let Some(other) = held.as_deref().filter(|h| *h != key.id && keys.iter().any(|k| k.id == *h)) {
        return Err(Error::Refused(format!(
            "{} already holds access key {other} of IAM user {user}, which AWS still has; nothing was written (remove \
             that key or its section first)",
            target.file
        )));
    }
    target.write(&lock, values(&key.id, secret.expose()))?;
    drop(lock);
    let mut comment = format!(
        "The secret of access key {} was proven to sign as {arn} and written to {}{}; the next apply keeps this key.",
        key.id,
        target.file,
        target.key.as_deref().map(|k| format!(" under {k}")).unwrap_or_default()
    );
    for note in access_key::notes(user, &target.file, &keys, Some(&key.id)) {
        comment.push(' ');
        comment.push_str(&note);
    }
    Ok(Adopted { comment, verified: true })
}

/// The key to adopt: the one named, else the user's only key.
fn choose<'a>(user: &str, keys: &'a [KeyInfo], key_id: Option<&str>) -> Result<&'a KeyInfo, Error> {
    let ids = || keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ");
    let key = match (key_id, keys) {
        (Some(id), _) => keys.iter().find(|k| k.id == id).ok_or_else(|| match keys.is_empty() {
            true => Error::Refused(format!("IAM user {user} has no access keys, so not {id}; nothing was written")),
            false => Error::Refused(format!(
                "access key {id} is not one of IAM user {user}'s ({}); nothing was written",
                ids()
            )),
        })?,
        (None, [only]) => only,
        (None, []) => {
            return Err(Error::Refused(format!(
                "IAM user {user} has no access keys, so there is none to adopt; apply creates one"
            )))
        }
        (None, _) => {
            return Err(Error::invalid(
                "--access-key-id",
                format!(
                    "IAM user {user} has {} access keys ({}): say which one the secret belongs to",
                    keys.len(),
                    ids()
                ),
            ))
        }
    };
    if !key.active {
        return Err(Error::Refused(format!(
            "access key {} of IAM user {user} is inactive, so AWS cannot prove its secret; activate it first",
            key.id
        )));
    }
    Ok(key)
}

/// Proves that `secret` is the secret of key `id` of the user whose ARN is `arn`: STS
/// `GetCallerIdentity` signed with them answers with that ARN.
async fn prove(conn: &Connection, region: &str, user: &str, id: &str, arn: &str, secret: &Secret) -> Result<(), Error> {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    let signer = Connection {
        region: Some(region.to_string()),
        profile: None,
        keyid: Some(id.to_string()),
        key: Some(secret.clone()),
        ..conn.clone()
    };
    let clients = Clients::new(&signer, CallLog::default()).await?;
    let answer = clients.region(region).sts.get_caller_identity().send().await;
    let who = match answer {
        Ok(who) => who.arn.unwrap_or_default(),
        Err(e) if e.code() == Some(code::SIGNATURE_DOES_NOT_MATCH) => {
            return Err(Error::Refused(format!(
                "the secret read from stdin is not the secret of access key {id}: AWS refused its signature \
                 (SignatureDoesNotMatch); nothing was written"
            )))
        }
        Err(e) if e.code() == Some(code::INVALID_CLIENT_TOKEN_ID) => {
            return Err(Error::Refused(format!(
                "AWS does not accept access key {id} (InvalidClientTokenId: deleted or inactive); nothing was written"
            )))
        }
        Err(e) => return Err(crate::error::aws_error("GetCallerIdentity", e)),
    };
    if who != arn {
        return Err(Error::Refused(format!(
            "access key {id} signs as {who}, not as IAM user {user} ({arn}); nothing was written"
        )));
    }
    Ok(())
}

/// Adopts the master password of DB instance `name`: `params` is its Pillar entry (the secret file
/// settings). The password is checked by logging in when the instance is reachable; otherwise it is
/// written and the answer says it was not verified.
pub async fn adopt_password(
    conn: &Connection,
    name: &str,
    params: &Value,
    password: &Secret,
) -> Result<Adopted, Error> {
    let node = pillar::single(KindId::RdsDbInstance, name, params, false, conn.region.as_deref())?;
    let AnySpec::RdsDbInstance(spec) = &node.spec else {
        return Err(Error::Internal("adopt-password parsed another kind".into()));
    };
    let target = spec.target();
    target.read()?;
    let run = shared(conn).await?;
    let cx = run.cx(&node.region);
    let adoption = db_instance::adoption(&cx, name, spec, password.expose()).await?;
    let outcome = match &adoption.host {
        Some(host) => {
            crate::postgres::check(
                host,
                adoption.port,
                &adoption.user,
                &adoption.dbname,
                password.expose(),
                CONNECT_TIMEOUT,
            )
            .await
        }
        None => crate::postgres::Outcome::Unverified("AWS has not given the instance an endpoint yet".into()),
    };
    let (verified, how) = match outcome {
        crate::postgres::Outcome::Refused(why) => {
            return Err(Error::Refused(format!(
                "user {} could not log in to RDS instance {name} with the password read from stdin: {why}; nothing \
                 was written",
                adoption.user
            )))
        }
        crate::postgres::Outcome::Accepted => (true, format!("was proven by logging in as {} and", adoption.user)),
        crate::postgres::Outcome::Unverified(why) => {
            (false, format!("was NOT verified, since the database could not be asked ({why}), and"))
        }
    };
    let lock = target.lock().await?;
    if target.read()?.as_ref().is_some_and(db_instance::holds_password) {
        return Err(Error::Refused(format!(
            "{} already holds a password for RDS instance {name}; nothing was written (remove that section first)",
            target.file
        )));
    }
    target.write(&lock, adoption.values)?;
    drop(lock);
    let comment = format!(
        "The password of RDS instance {name} {how} was written with its connection details to {}{}; the next apply \
         keeps it.",
        target.file,
        target.key.as_deref().map(|k| format!(" under {k}")).unwrap_or_default()
    );
    Ok(Adopted { comment, verified })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(ids: &[(&str, bool)]) -> Vec<KeyInfo> {
        ids.iter().map(|(id, active)| KeyInfo { id: id.to_string(), active: *active }).collect()
    }

    #[test]
    fn the_only_key_or_the_named_one_is_chosen() {
        assert_eq!(choose("u", &keys(&[("A", true)]), None).unwrap().id, "A");
        assert_eq!(choose("u", &keys(&[("A", true), ("B", true)]), Some("B")).unwrap().id, "B");
        let two = choose("u", &keys(&[("A", true), ("B", true)]), None).unwrap_err();
        assert!(matches!(&two, Error::Invalid(_)) && two.to_string().contains("A, B"), "{two}");
        let wrong = choose("u", &keys(&[("A", true)]), Some("C")).unwrap_err().to_string();
        assert!(wrong.contains("C is not one of") && wrong.contains("(A)"), "{wrong}");
        assert!(choose("u", &[], None).unwrap_err().to_string().contains("no access keys"));
        assert!(choose("u", &keys(&[("A", false)]), None).unwrap_err().to_string().contains("inactive"));
    }

    #[test]
    fn entries_are_found_with_the_pillars_region() {
        let pillar = json!({"region": "eu-west-2",
            "iam": {"users": {"backup": {"access_key": {"secret_file": "/srv/k.sls"}}}},
            "ses": {"smtp_credentials": {"smtp": {"secret_file": "/srv/s.sls", "region": "eu-west-1"}}},
            "rds": {"instances": {"analysis": {"secret_file": "/srv/db.sls"}}}});
        let (kind, entry) = key_entry(&pillar, "backup").unwrap();
        assert_eq!((kind, entry["region"].as_str()), (KindId::IamUser, Some("eu-west-2")));
        let (kind, entry) = key_entry(&pillar, "smtp").unwrap();
        assert_eq!((kind, entry["region"].as_str()), (KindId::SesSmtpCredentials, Some("eu-west-1")));
        assert!(key_entry(&pillar, "nobody").is_err());
        assert_eq!(instance_entry(&pillar, "analysis").unwrap()["secret_file"], "/srv/db.sls");
        assert!(instance_entry(&pillar, "backup").is_err());
    }
}
