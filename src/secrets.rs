//! Secret files: the only place a secret (access-key secret, SMTP or database password) is put.
//!
//! A secret file is a YAML Pillar fragment the admin includes from the Pillar top. Values are
//! nested under `pillar_key` when one is given, so several resources may share a file, each with
//! its own key. Writes are atomic (temp file, fsync, rename, fsync of the folder) and mode 0600.
//!
//! What keeps secrets from being lost or exposed:
//! - the tool writes only files that start with [`HEADER`] (or are empty or missing): a hand-written
//!   Pillar file is never rewritten;
//! - rewriting a shared file replaces only this target's top-level section; the other sections are
//!   kept byte for byte;
//! - every read-modify-write happens under an advisory lock on a lock file next to the secret file
//!   ([`Target::lock`]), which other processes (Salt runs one per state) and other tasks of this
//!   process respect;
//! - a file whose mode, owner or group has drifted from its settings is reported and put back (a
//!   Salt master running as `salt` reads a file a root process wrote when `group: salt` and
//!   `mode: "0640"` say so); a file in a folder anyone may write to (without the sticky bit) is
//!   refused, since anyone could replace it.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::Error;

/// The first line of every file the tool writes; a file without it is not the tool's to rewrite.
pub const HEADER: &str =
    "# Written by ocp-aws. Secrets: keep this file private (mode 0600) and out of version control.\n";

/// The mode of secret files (and their lock files) unless a setting says otherwise.
pub const DEFAULT_MODE: u32 = 0o600;

/// How long a run waits for another run to release a secret file's lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// How often the lock is tried again, and how often a waiting run says it is still waiting.
const LOCK_POLL: Duration = Duration::from_millis(50);
const LOCK_NOTICE: Duration = Duration::from_secs(10);

/// Where a resource keeps its secrets: a file and, optionally, a top-level key inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub file: String,
    pub key: Option<String>,
    /// The permission bits the file must have.
    pub mode: u32,
    /// The user that must own the file (a name or a numeric id); `None` leaves it to whoever runs.
    pub owner: Option<String>,
    /// The group that must own the file (a name or a numeric id); `None` leaves it as created.
    pub group: Option<String>,
}

/// The diff fields that report a secret file's mode, owner and group being put back.
pub const MODE_FIELD: &str = "secret_file_mode";
pub const OWNER_FIELD: &str = "secret_file_owner";
pub const GROUP_FIELD: &str = "secret_file_group";

/// One way a secret file's permissions differ from its settings: the field and both values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

/// Proof that the caller holds a secret file's lock; released when dropped (closing the lock file
/// releases the advisory lock).
#[derive(Debug)]
pub struct Lock {
    _file: fs::File,
}

impl Target {
    pub fn new(file: &str, key: Option<&str>) -> Self {
        Target { file: file.to_string(), key: key.map(str::to_string), mode: DEFAULT_MODE, owner: None, group: None }
    }

    /// The same target with the permissions a resource's settings ask for (`mode` as octal text,
    /// checked by `validate::file_mode`).
    pub fn with_permissions(mut self, mode: Option<&str>, owner: Option<&str>, group: Option<&str>) -> Self {
        if let Some(m) = mode.and_then(|m| u32::from_str_radix(m, 8).ok()) {
            self.mode = m;
        }
        self.owner = owner.map(str::to_string);
        self.group = group.map(str::to_string);
        self
    }

    /// The numeric user and group ids the file must have (each `None` when not set). A name that
    /// this machine does not know is an error that says so.
    fn wanted_ids(&self) -> Result<(Option<u32>, Option<u32>), Error> {
        let uid = match &self.owner {
            Some(o) => Some(lookup_id("/etc/passwd", o).map_err(|m| self.error(format!("owner: {m}")))?),
            None => None,
        };
        let gid = match &self.group {
            Some(g) => Some(lookup_id("/etc/group", g).map_err(|m| self.error(format!("group: {m}")))?),
            None => None,
        };
        Ok((uid, gid))
    }

    /// How the file's mode, owner and group differ from the settings; empty when the file is missing.
    pub fn drift(&self) -> Result<Vec<Drift>, Error> {
        self.check_dir()?;
        let meta = match fs::metadata(&self.file) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e.to_string())),
        };
        let (uid, gid) = self.wanted_ids()?;
        let mut drift = Vec::new();
        let mode = meta.permissions().mode() & 0o7777;
        if mode != self.mode {
            drift.push(Drift { field: MODE_FIELD, old: format!("{mode:04o}"), new: format!("{:04o}", self.mode) });
        }
        if let (Some(want), Some(name)) = (uid, &self.owner) {
            if meta.uid() != want {
                drift.push(Drift { field: OWNER_FIELD, old: meta.uid().to_string(), new: name.clone() });
            }
        }
        if let (Some(want), Some(name)) = (gid, &self.group) {
            if meta.gid() != want {
                drift.push(Drift { field: GROUP_FIELD, old: meta.gid().to_string(), new: name.clone() });
            }
        }
        Ok(drift)
    }

    /// Gives a path the owner and group the settings ask for (nothing when neither is set).
    fn chown(&self, path: &Path) -> Result<(), Error> {
        let (uid, gid) = self.wanted_ids()?;
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(path, uid, gid)
                .map_err(|e| self.error(format!("cannot give {} its owner or group: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Creates the file's folder: private to its owner, and open (read, enter) to the file's group
    /// when the file's mode lets the group read, so that group can reach the file.
    fn make_dir(&self) -> Result<(), Error> {
        let dir = self.dir();
        if dir.exists() {
            return Ok(());
        }
        let mode = if self.mode & 0o040 != 0 { 0o750 } else { 0o700 };
        fs::DirBuilder::new().recursive(true).mode(mode).create(&dir).map_err(|e| self.error(e.to_string()))?;
        // DirBuilder's mode passes through the umask; the folder gets exactly this one.
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).map_err(|e| self.error(e.to_string()))?;
        self.chown(&dir)
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::SecretFile { path: self.file.clone(), message: message.into() }
    }

    fn dir(&self) -> PathBuf {
        Path::new(&self.file).parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
    }

    /// The lock file: `.<name>.lock` in the secret file's folder.
    pub fn lock_path(&self) -> PathBuf {
        let name = Path::new(&self.file).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.dir().join(format!(".{name}.lock"))
    }

    /// Refuses a folder anyone may write to without the sticky bit: anyone could swap the file.
    fn check_dir(&self) -> Result<(), Error> {
        let dir = self.dir();
        match fs::metadata(&dir) {
            Ok(meta) => {
                check_dir_mode(meta.permissions().mode()).map_err(|m| self.error(format!("{}: {m}", dir.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.error(e.to_string())),
        }
    }

    /// The file's text, or `None` when it does not exist. Refuses a file the tool did not write.
    fn load(&self) -> Result<Option<String>, Error> {
        self.check_dir()?;
        let text = match fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(self.error("is not a text file; point secret_file at a file of its own"))
            }
            Err(e) => return Err(self.error(e.to_string())),
        };
        if !is_own(&text) {
            return Err(self.error(
                "exists and was not written by ocp-aws (its first line is not ocp-aws's header), so it is left \
                 alone: point secret_file at a file of its own, which ocp-aws creates, and include that file \
                 from your Pillar",
            ));
        }
        Ok(Some(text))
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
        let Some(text) = self.load()? else { return Ok(None) };
        parse(&text).map(Some).map_err(|m| self.error(m))
    }

    /// The file's permission bits, or `None` when it does not exist.
    pub fn mode(&self) -> Result<Option<u32>, Error> {
        self.check_dir()?;
        match fs::metadata(&self.file) {
            Ok(meta) => Ok(Some(meta.permissions().mode() & 0o7777)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error(e.to_string())),
        }
    }

    /// Puts the file's mode, owner and group back to the settings (under the lock).
    pub fn repair(&self, _lock: &Lock) -> Result<(), Error> {
        self.load()?;
        self.chown(Path::new(&self.file))?;
        fs::set_permissions(&self.file, fs::Permissions::from_mode(self.mode)).map_err(|e| self.error(e.to_string()))
    }

    /// Takes the file's lock, waiting (at most [`LOCK_WAIT`], with a line on stderr) while another run
    /// or task holds it. Creates the folder (mode 0700) and the lock file (mode 0600) if needed.
    pub async fn lock(&self) -> Result<Lock, Error> {
        let lock = self.lock_within(LOCK_WAIT, true, true).await?;
        Ok(lock.expect("a lock file that is created exists"))
    }

    /// Takes the file's lock shared with other readers, for reading what AWS and the file hold as one
    /// consistent picture: never between another run's new key and its file. With `create` false
    /// (test mode, which writes nothing) no lock file is made, and `None` means no run has locked it.
    pub async fn lock_shared(&self, create: bool) -> Result<Option<Lock>, Error> {
        self.lock_within(LOCK_WAIT, false, create).await
    }

    async fn lock_within(&self, wait: Duration, exclusive: bool, create: bool) -> Result<Option<Lock>, Error> {
        self.check_dir()?;
        let dir = self.dir();
        if !dir.exists() {
            if !create {
                return Ok(None);
            }
            self.make_dir()?;
        }
        let path = self.lock_path();
        let file = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .mode(self.mode)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(format!("lock file {}: {e}", path.display()))),
        };
        let start = Instant::now();
        let mut next_notice = Duration::ZERO;
        loop {
            let tried = if exclusive { file.try_lock() } else { file.try_lock_shared() };
            match tried {
                Ok(()) => return Ok(Some(Lock { _file: file })),
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => return Err(self.error(format!("lock file {}: {e}", path.display()))),
            }
            let waited = start.elapsed();
            if waited >= wait {
                return Err(Error::Timeout(format!(
                    "another ocp-aws run held the lock on secret file {} for {} s; if none is running, apply again",
                    self.file,
                    wait.as_secs()
                )));
            }
            if waited >= next_notice {
                eprintln!(
                    "ocp-aws: waiting for another ocp-aws run to finish with secret file {} ({} s so far)",
                    self.file,
                    waited.as_secs()
                );
                next_notice = waited + LOCK_NOTICE;
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    /// Replaces this target's mapping with `values` (under the lock). Other top-level sections of the
    /// file are kept byte for byte.
    pub fn write(&self, _lock: &Lock, values: Map<String, Value>) -> Result<(), Error> {
        let existing = self.load()?.filter(|t| !t.trim().is_empty());
        let text = match (&existing, &self.key) {
            (Some(text), Some(key)) => {
                let section = to_yaml(&Value::Object(Map::from_iter([(key.clone(), Value::Object(values.clone()))])))
                    .map_err(|m| self.error(m))?;
                match splice(text, key, &section) {
                    Some(t) => t,
                    // A layout the splice does not understand (flow style, say): the file is the tool's
                    // own, so it is written afresh from its values, none of which is lost.
                    None => {
                        let mut doc = parse(text).map_err(|m| self.error(m))?;
                        doc.insert(key.clone(), Value::Object(values));
                        format!("{HEADER}{}", to_yaml(&Value::Object(doc)).map_err(|m| self.error(m))?)
                    }
                }
            }
            (None, Some(key)) => {
                let doc = Map::from_iter([(key.clone(), Value::Object(values))]);
                format!("{HEADER}{}", to_yaml(&Value::Object(doc)).map_err(|m| self.error(m))?)
            }
            (_, None) => format!("{HEADER}{}", to_yaml(&Value::Object(values)).map_err(|m| self.error(m))?),
        };
        self.make_dir()?;
        let (uid, gid) = self.wanted_ids()?;
        atomic_write(Path::new(&self.file), &text, self.mode, (uid, gid)).map_err(|e| self.error(e.to_string()))
    }
}

/// The numeric id of a user (`/etc/passwd`) or group (`/etc/group`) given by name or number.
fn lookup_id(table: &str, name: &str) -> Result<u32, String> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(id);
    }
    let text = fs::read_to_string(table).map_err(|e| format!("{table}: {e}"))?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let mut fields = l.split(':');
            (fields.next() == Some(name)).then(|| fields.nth(1).and_then(|id| id.parse().ok())).flatten()
        })
        .ok_or_else(|| {
            format!(
                "this machine has no {} {}",
                if table.ends_with("group") { "group" } else { "user" },
                crate::validate::quote(name)
            )
        })
}

/// Whether a file's text may be rewritten by the tool: empty, or starting with its header.
fn is_own(text: &str) -> bool {
    text.trim().is_empty() || text.starts_with(HEADER)
}

/// A folder's mode is refused when anyone may write to it and the sticky bit does not stop them
/// from replacing other people's files.
fn check_dir_mode(mode: u32) -> Result<(), String> {
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Err(format!(
            "this folder (mode {:04o}) may be written by anyone, who could replace the secret file; make it \
             private (chmod 0700) or choose another folder",
            mode & 0o7777
        ));
    }
    Ok(())
}

fn parse(text: &str) -> Result<Map<String, Value>, String> {
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        // The parser's message may quote the file; never show secrets.
        _ => Err("is not a YAML mapping; fix or remove it".into()),
    }
}

fn to_yaml(value: &Value) -> Result<String, String> {
    serde_yaml::to_string(value).map_err(|e| e.to_string())
}

/// One stretch of a secret file: a top-level key's block (the key line and the indented lines
/// after it), or text between blocks (the header, comments, blank lines).
#[derive(Debug)]
enum Part<'a> {
    Block(&'a str),
    Other(&'a str),
}

/// Cuts `text` into parts, each a run of whole lines.
fn parts(text: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .scan(0, |at, l| {
            let start = *at;
            *at += l.len();
            Some((start, l))
        })
        .collect();
    let starts_block = |l: &str| !l.starts_with([' ', '\t', '#', '\n', '\r']) && !l.trim().is_empty();
    let continues = |l: &str| l.starts_with([' ', '\t']) && !l.trim().is_empty();
    let mut i = 0;
    while i < lines.len() {
        let start = lines[i].0;
        if starts_block(lines[i].1) {
            let mut end = i + 1;
            let mut j = i + 1;
            // A block runs to its last indented line; blank and comment lines after it are not its own.
            while j < lines.len() && !starts_block(lines[j].1) {
                if continues(lines[j].1) {
                    end = j + 1;
                }
                j += 1;
            }
            let stop = lines.get(end).map_or(text.len(), |l| l.0);
            out.push(Part::Block(&text[start..stop]));
            i = end;
        } else {
            let mut j = i;
            while j < lines.len() && !starts_block(lines[j].1) {
                j += 1;
            }
            let stop = lines.get(j).map_or(text.len(), |l| l.0);
            // Indented lines after a block's end belong to it; here only blank or comment lines remain.
            out.push(Part::Other(&text[start..stop]));
            i = j;
        }
    }
    out
}

/// `text` with the block of top-level `key` replaced by `section` (or `section` appended), every other
/// byte unchanged. `None` when the file's layout is not one this can edit safely; the result is
/// checked by parsing it: every other section must read back as before.
fn splice(text: &str, key: &str, section: &str) -> Option<String> {
    let before = parse(text).ok()?;
    let mut out = String::with_capacity(text.len() + section.len());
    let mut replaced = false;
    for part in parts(text) {
        match part {
            Part::Other(t) => out.push_str(t),
            Part::Block(t) => {
                let block = parse(t).ok()?;
                if block.len() != 1 {
                    return None;
                }
                if block.contains_key(key) {
                    if replaced {
                        return None;
                    }
                    out.push_str(section);
                    replaced = true;
                } else {
                    out.push_str(t);
                }
            }
        }
    }
    if !replaced {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(section);
    }
    let after = parse(&out).ok()?;
    let want: Map<String, Value> = parse(section).ok()?;
    let others_kept = before.iter().filter(|(k, _)| *k != key).all(|(k, v)| after.get(k) == Some(v));
    let ours = after.get(key) == want.get(key);
    (others_kept && ours && after.len() == before.len() + usize::from(!before.contains_key(key))).then_some(out)
}

/// Writes `text` to `path` so that readers see the old file or the new one, never a mix,
/// and nobody but the owner can read it at any moment.
/// The temp file gets its owner and group before it takes the file's place.
fn atomic_write(path: &Path, text: &str, mode: u32, (uid, gid): (Option<u32>, Option<u32>)) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(&tmp, uid, gid)?;
        }
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

    /// Locks without waiting long: unit tests never contend for a lock unless they mean to.
    fn write(t: &Target, values: Map<String, Value>) -> Result<(), Error> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let lock = rt.block_on(t.lock_within(Duration::from_millis(200), true, true))?.unwrap();
        t.write(&lock, values)
    }

    fn mode_of(path: &str) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_0600_and_reads_back_under_key() {
        let file = tmp("roundtrip");
        let t = Target::new(&file, Some("backup"));
        assert_eq!(t.read().unwrap(), None);
        write(&t, mapping([("aws_access_key_id", "AKIA1"), ("aws_secret_access_key", "s3cr3t")])).unwrap();
        assert_eq!(mode_of(&file), 0o600);
        assert_eq!(mode_of(&t.lock_path().to_string_lossy()), 0o600);
        let m = t.read().unwrap().unwrap();
        assert_eq!(m["aws_access_key_id"], "AKIA1");
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.starts_with(HEADER), "{text}");
        assert!(text.contains("backup:\n  aws_access_key_id: AKIA1"), "{text}");
    }

    #[test]
    fn keys_share_a_file() {
        let file = tmp("shared");
        write(&Target::new(&file, Some("a")), mapping([("x", "1")])).unwrap();
        write(&Target::new(&file, Some("b")), mapping([("x", "2")])).unwrap();
        assert_eq!(Target::new(&file, Some("a")).read().unwrap().unwrap()["x"], "1");
        assert_eq!(Target::new(&file, Some("b")).read().unwrap().unwrap()["x"], "2");
    }

    #[test]
    fn a_path_below_a_file_fails_without_leftovers() {
        let file = tmp("blocked");
        write(&Target::new(&file, None), mapping([("x", "1")])).unwrap();
        let below = format!("{file}/inner.sls");
        assert!(write(&Target::new(&below, None), mapping([("x", "1")])).is_err());
    }

    #[test]
    fn a_file_without_the_header_is_refused_and_left_as_it_was() {
        let file = tmp("foreign");
        fs::create_dir_all(Path::new(&file).parent().unwrap()).unwrap();
        let hand_written = "# my private pillar\nother:\n  password: hunter2 # keep\n";
        fs::write(&file, hand_written).unwrap();
        let t = Target::new(&file, Some("backup"));
        let read = t.read().unwrap_err().to_string();
        assert!(read.contains("was not written by ocp-aws") && read.contains("a file of its own"), "{read}");
        assert!(!read.contains("hunter2"), "the refusal never quotes the file: {read}");
        assert!(write(&t, mapping([("x", "1")])).is_err());
        assert_eq!(fs::read_to_string(&file).unwrap(), hand_written);
        // An empty file is as good as none.
        fs::write(&file, "\n").unwrap();
        write(&t, mapping([("x", "1")])).unwrap();
        assert!(fs::read_to_string(&file).unwrap().starts_with(HEADER));
    }

    #[test]
    fn rewriting_a_section_keeps_the_others_byte_for_byte() {
        let file = tmp("splice");
        fs::create_dir_all(Path::new(&file).parent().unwrap()).unwrap();
        let a = "a:\n  x: '1'   # the first\n\n# between a and b\n";
        let b = "b:\n  y: \"2\"\n  z:\n    - 3\n";
        fs::write(&file, format!("{HEADER}{a}{b}")).unwrap();
        write(&Target::new(&file, Some("b")), mapping([("y", "new")])).unwrap();
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(text, format!("{HEADER}{a}b:\n  y: new\n"));
        write(&Target::new(&file, Some("c")), mapping([("w", "3")])).unwrap();
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(text, format!("{HEADER}{a}b:\n  y: new\nc:\n  w: '3'\n"));
        write(&Target::new(&file, Some("a")), mapping([("x", "9")])).unwrap();
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(text, format!("{HEADER}a:\n  x: '9'\n\n# between a and b\nb:\n  y: new\nc:\n  w: '3'\n"));
    }

    #[test]
    fn a_layout_the_splice_cannot_edit_is_written_afresh_without_losing_values() {
        let text = format!("{HEADER}{{a: {{x: 1}}, b: {{y: 2}}}}\n");
        assert_eq!(splice(&text, "b", "b:\n  y: 3\n"), None);
        let file = tmp("flow");
        fs::create_dir_all(Path::new(&file).parent().unwrap()).unwrap();
        fs::write(&file, &text).unwrap();
        write(&Target::new(&file, Some("b")), mapping([("y", "3")])).unwrap();
        assert_eq!(Target::new(&file, Some("a")).read().unwrap().unwrap()["x"], 1);
        assert_eq!(Target::new(&file, Some("b")).read().unwrap().unwrap()["y"], "3");
    }

    #[test]
    fn a_drifted_mode_is_seen_and_repaired() {
        let file = tmp("mode");
        let t = Target::new(&file, Some("k"));
        assert_eq!(t.mode().unwrap(), None);
        write(&t, mapping([("x", "1")])).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(t.mode().unwrap(), Some(0o644));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let lock = rt.block_on(t.lock()).unwrap();
        t.repair(&lock).unwrap();
        assert_eq!(t.mode().unwrap(), Some(0o600));
    }

    #[test]
    fn owner_group_and_mode_follow_the_settings_and_are_put_back() {
        let file = tmp("perms");
        // The running user and a group it may give its files: its own, or any when it is root.
        let probe = std::env::temp_dir().join(format!("ocp-aws-secrets-{}-probe", std::process::id()));
        fs::write(&probe, "").unwrap();
        let meta = fs::metadata(&probe).unwrap();
        let (uid, own_gid) = (meta.uid(), meta.gid());
        fs::remove_file(&probe).unwrap();
        let gid = if uid == 0 { 1 } else { own_gid };
        let t = Target::new(&file, None).with_permissions(Some("0640"), Some(&uid.to_string()), Some(&gid.to_string()));
        assert_eq!(t.mode, 0o640);
        assert!(t.drift().unwrap().is_empty(), "a missing file has no drift");
        write(&t, mapping([("x", "1")])).unwrap();
        let meta = fs::metadata(&file).unwrap();
        assert_eq!((meta.permissions().mode() & 0o7777, meta.uid(), meta.gid()), (0o640, uid, gid));
        assert!(t.drift().unwrap().is_empty());

        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        if uid == 0 {
            std::os::unix::fs::chown(&file, None, Some(0)).unwrap();
        }
        let fields: Vec<&str> = t.drift().unwrap().iter().map(|d| d.field).collect();
        let expected: &[&str] = if uid == 0 { &[MODE_FIELD, GROUP_FIELD] } else { &[MODE_FIELD] };
        assert_eq!(fields, expected);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let lock = rt.block_on(t.lock()).unwrap();
        t.repair(&lock).unwrap();
        assert!(t.drift().unwrap().is_empty());
    }

    #[test]
    fn unknown_owner_or_group_is_named() {
        let t = Target::new(&tmp("who"), None).with_permissions(None, Some("no-such-user-here"), None);
        write(&Target::new(&t.file, None), mapping([("x", "1")])).unwrap();
        let e = t.drift().unwrap_err().to_string();
        assert!(e.contains("owner") && e.contains("no-such-user-here"), "{e}");
        assert_eq!(lookup_id("/etc/group", "0"), Ok(0));
        assert_eq!(lookup_id("/etc/passwd", "root"), Ok(0));
        assert!(lookup_id("/etc/group", "no-such-group-here").unwrap_err().contains("no group"));
    }

    #[test]
    fn a_folder_anyone_may_write_to_is_refused_unless_sticky() {
        assert!(check_dir_mode(0o40777).is_err());
        assert!(check_dir_mode(0o40733).is_err());
        assert!(check_dir_mode(0o41777).is_ok());
        assert!(check_dir_mode(0o40755).is_ok());
        assert!(check_dir_mode(0o40700).is_ok());
        let file = tmp("open-dir");
        let dir = Path::new(&file).parent().unwrap();
        fs::create_dir_all(dir).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
        let t = Target::new(&file, None);
        let e = t.read().unwrap_err().to_string();
        assert!(e.contains("may be written by anyone"), "{e}");
        assert!(t.mode().is_err());
        assert!(write(&t, mapping([("x", "1")])).is_err());
        assert!(!Path::new(&file).exists());
        fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)).unwrap();
        write(&t, mapping([("x", "1")])).unwrap();
    }

    #[test]
    fn test_mode_reads_make_no_lock_file() {
        let file = tmp("no-lock-file");
        let t = Target::new(&file, Some("k"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        assert!(rt.block_on(t.lock_shared(false)).unwrap().is_none());
        assert!(!Path::new(&file).parent().unwrap().exists());
    }

    #[test]
    fn a_held_lock_makes_others_wait_then_gives_up() {
        let file = tmp("lock");
        let t = Target::new(&file, Some("k"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let held = rt.block_on(t.lock()).unwrap();
        let waited = rt.block_on(t.lock_within(Duration::from_millis(150), true, true));
        assert!(matches!(waited, Err(Error::Timeout(_))), "{waited:?}");
        let reader = rt.block_on(t.lock_within(Duration::from_millis(150), false, false));
        assert!(matches!(reader, Err(Error::Timeout(_))), "a reader waits for a writer: {reader:?}");
        drop(held);
        let readers = (rt.block_on(t.lock_shared(false)).unwrap(), rt.block_on(t.lock_shared(true)).unwrap());
        assert!(readers.0.is_some() && readers.1.is_some(), "readers share the lock");
        let writer = rt.block_on(t.lock_within(Duration::from_millis(150), true, true));
        assert!(matches!(writer, Err(Error::Timeout(_))), "a writer waits for readers: {writer:?}");
        drop(readers);
        rt.block_on(t.lock_within(Duration::from_millis(150), true, true)).unwrap();
    }

    #[test]
    fn a_waiting_run_gets_the_lock_once_it_is_released() {
        let file = tmp("lock-handover");
        let t = Target::new(&file, Some("k"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let held = rt.block_on(t.lock()).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        let start = Instant::now();
        let waited = rt.block_on(t.lock_within(Duration::from_secs(20), true, true));
        releaser.join().unwrap();
        assert!(waited.unwrap().is_some(), "the lock was released, so the waiter must get it");
        assert!(start.elapsed() >= Duration::from_millis(150), "it waited for the holder: {:?}", start.elapsed());
    }

    #[test]
    fn a_lock_file_that_cannot_be_opened_is_an_error() {
        let file = tmp("lock-is-a-folder");
        let t = Target::new(&file, Some("k"));
        fs::create_dir_all(t.lock_path()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let e = rt.block_on(t.lock()).unwrap_err().to_string();
        assert!(e.contains("lock file"), "{e}");
        assert!(rt.block_on(t.lock_shared(false)).is_err(), "only a missing lock file means nobody locked it");
    }

    #[test]
    fn reading_without_creating_makes_no_lock_file_in_an_existing_folder() {
        let file = tmp("no-lock-file-yet");
        let t = Target::new(&file, Some("k"));
        fs::create_dir_all(Path::new(&file).parent().unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        assert!(rt.block_on(t.lock_shared(false)).unwrap().is_none());
        assert!(!t.lock_path().exists());
        assert!(rt.block_on(t.lock_shared(true)).unwrap().is_some());
        assert!(t.lock_path().exists());
    }

    #[test]
    fn a_file_of_the_tool_with_only_its_header_holds_nothing() {
        let file = tmp("header-only");
        fs::create_dir_all(Path::new(&file).parent().unwrap()).unwrap();
        fs::write(&file, HEADER).unwrap();
        assert_eq!(Target::new(&file, Some("k")).read().unwrap(), None);
        assert_eq!(Target::new(&file, None).read().unwrap(), Some(Map::new()));
    }

    #[test]
    fn what_is_not_a_readable_text_file_is_refused_with_a_reason() {
        let file = tmp("binary");
        fs::create_dir_all(Path::new(&file).parent().unwrap()).unwrap();
        fs::write(&file, [0xff, 0xfe, 0x00, 0x80]).unwrap();
        let e = Target::new(&file, None).read().unwrap_err().to_string();
        assert!(e.contains("is not a text file"), "{e}");
        let folder = tmp("folder");
        fs::create_dir_all(&folder).unwrap();
        let e = Target::new(&folder, None).read().unwrap_err().to_string();
        assert!(!e.contains("is not a text file"), "a folder is not a binary file: {e}");
        // Below a file: neither the file nor its mode can be read, and that is an error, not "missing".
        let below = format!("{file}/inner.sls");
        assert!(Target::new(&below, None).mode().is_err());
    }

    #[test]
    fn a_section_is_appended_to_a_file_without_a_final_newline_byte_for_byte() {
        let file = tmp("no-final-newline");
        fs::create_dir_all(Path::new(&file).parent().unwrap()).unwrap();
        fs::write(&file, format!("{HEADER}a:\n  x: '1' # keep")).unwrap();
        write(&Target::new(&file, Some("b")), mapping([("y", "2")])).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), format!("{HEADER}a:\n  x: '1' # keep\nb:\n  y: '2'\n"));
    }

    #[test]
    fn an_atomic_write_sets_the_mode_and_leaves_no_temporary_file() {
        let file = tmp("atomic");
        let path = Path::new(&file);
        Target::new(&file, None).make_dir().unwrap();
        let dir = path.parent().unwrap();
        assert_eq!(fs::metadata(dir).unwrap().permissions().mode() & 0o777, 0o700, "a private folder");
        atomic_write(path, "a: 1\n", 0o640, (None, None)).unwrap();
        assert_eq!(fs::read_to_string(path).unwrap(), "a: 1\n");
        assert_eq!(mode_of(&file), 0o640);
        let names: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [std::ffi::OsString::from("file.sls")]);
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let shown = format!("{:?}", Secret::new("hunter2"));
        assert_eq!(shown, "Secret(<redacted>)");
        assert_eq!(Secret::new("hunter2").expose(), "hunter2");
    }
}
