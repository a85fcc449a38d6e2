//! Secret files: the only place a secret (access-key secret, SMTP or database password) is put.
//!
//! A secret file is a YAML Pillar fragment the admin includes from the Pillar top. Values are
//! nested under `pillar_key` when one is given, so several resources may share a file, each with
//! its own key. Writes are atomic (temp file, fsync, rename, fsync of the folder) and mode 0600.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::Error;

/// Where a resource keeps its secrets: a file and, optionally, a top-level key inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub file: String,
    pub key: Option<String>,
}

const HEADER: &str = "# Written by ocp-aws. Secrets: keep this file private (mode 0600) and out of version control.\n";

impl Target {
    pub fn new(file: &str, key: Option<&str>) -> Self {
        Target { file: file.to_string(), key: key.map(str::to_string) }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::SecretFile { path: self.file.clone(), message: message.into() }
    }

    /// The mapping this target holds, or `None` when the file or the key is missing.
    pub fn read(&self) -> Result<Option<Map<String, Value>>, Error> {
        let Some(doc) = self.read_document()? else { return Ok(None) };
        let section = match &self.key {
            Some(k) => doc.get(k).cloned(),
            None => Some(Value::Object(doc)),
        };
        match section {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(self.error("expected a mapping of settings")),
        }
    }

    fn read_document(&self) -> Result<Option<Map<String, Value>>, Error> {
        let text = match fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(e.to_string())),
        };
        match serde_yaml::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            Ok(Value::Null) => Ok(Some(Map::new())),
            // The parser's message may quote the file; never show secrets.
            _ => Err(self.error("is not a YAML mapping; fix or remove it")),
        }
    }

    /// Replaces this target's mapping with `values`, keeping the rest of the file.
    pub fn write(&self, values: Map<String, Value>) -> Result<(), Error> {
        let mut doc = self.read_document()?.unwrap_or_default();
        match &self.key {
            Some(k) => {
                doc.insert(k.clone(), Value::Object(values));
            }
            None => doc = values,
        }
        let text = serde_yaml::to_string(&Value::Object(doc)).map_err(|e| self.error(e.to_string()))?;
        atomic_write(Path::new(&self.file), &format!("{HEADER}{text}")).map_err(|e| self.error(e.to_string()))
    }
}

/// Writes `text` to `path` so that readers see the old file or the new one, never a mix,
/// and nobody but the owner can read it at any moment.
fn atomic_write(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.exists() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Builds the mapping a secret file holds from string pairs.
pub fn mapping<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("ocp-aws-secrets-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir.join("private").join("file.sls").to_string_lossy().into_owned()
    }

    #[test]
    fn writes_0600_and_reads_back_under_key() {
        let file = tmp("roundtrip");
        let t = Target::new(&file, Some("backup"));
        assert_eq!(t.read().unwrap(), None);
        t.write(mapping([("aws_access_key_id", "AKIA1"), ("aws_secret_access_key", "s3cr3t")])).unwrap();
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let m = t.read().unwrap().unwrap();
        assert_eq!(m["aws_access_key_id"], "AKIA1");
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.contains("backup:\n  aws_access_key_id: AKIA1"), "{text}");
    }

    #[test]
    fn keys_share_a_file() {
        let file = tmp("shared");
        Target::new(&file, Some("a")).write(mapping([("x", "1")])).unwrap();
        Target::new(&file, Some("b")).write(mapping([("x", "2")])).unwrap();
        assert_eq!(Target::new(&file, Some("a")).read().unwrap().unwrap()["x"], "1");
        assert_eq!(Target::new(&file, Some("b")).read().unwrap().unwrap()["x"], "2");
    }

    #[test]
    fn a_path_below_a_file_fails_without_leftovers() {
        let file = tmp("blocked");
        Target::new(&file, None).write(mapping([("x", "1")])).unwrap();
        let below = format!("{file}/inner.sls");
        assert!(Target::new(&below, None).write(mapping([("x", "1")])).is_err());
    }
}
