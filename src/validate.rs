//! Checks shared by several kinds: the rules AWS applies to names and regions, made before the
//! first AWS call so that a typo fails with its Pillar path instead of an AWS error.

use crate::error::Invalid;

/// At most this many characters of a user's value are quoted back in a message, so that a huge
/// value cannot make a huge answer.
const QUOTE_MAX: usize = 80;

/// A user's value in backticks, cut to a readable length with an ellipsis.
pub fn quote(value: &str) -> String {
    format!("`{}`", shorten(value))
}

/// Cuts `value` to [`QUOTE_MAX`] characters and shows control characters (a NUL, a line break) as
/// escapes, so that a message stays one readable line.
fn shorten(value: &str) -> String {
    let visible = |s: &str| {
        s.chars()
            .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
            .collect::<String>()
    };
    match value.char_indices().nth(QUOTE_MAX) {
        None => visible(value),
        Some((cut, _)) => format!("{}… ({} characters)", visible(&value[..cut]), value.chars().count()),
    }
}

/// Bounds every quoted run (in `"` or backticks) of a parser's message, which quotes the values
/// it refuses whole.
pub fn bound_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(1024));
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' && c != '`' {
            continue;
        }
        let mut inner = String::new();
        let mut closed = false;
        while let Some(d) = chars.next() {
            if d == '\\' && c == '"' {
                inner.push(d);
                if let Some(e) = chars.next() {
                    inner.push(e);
                }
                continue;
            }
            if d == c {
                closed = true;
                break;
            }
            inner.push(d);
        }
        out.push_str(&shorten(&inner));
        if closed {
            out.push(c);
        }
    }
    out
}

/// The regions of each AWS partition, from the partitions metadata (`partitions.json`, version 1.1)
/// that the AWS SDK for Rust embeds in its endpoint resolvers (aws-sdk-sts 1.124, `endpoint_lib.rs`),
/// which the SDK does not make public. Each partition's `regionRegex` admits regions opened since:
/// see [`region`].
const PARTITIONS: &[(&str, &str, &[&str])] = &[
    (
        "aws",
        "us|eu|ap|sa|ca|me|af|il|mx",
        &[
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ],
    ),
    ("aws-cn", "cn", &["cn-north-1", "cn-northwest-1"]),
    ("aws-eusc", "eusc-de", &["eusc-de-east-1"]),
    ("aws-iso", "us-iso", &["us-iso-east-1", "us-iso-west-1"]),
    ("aws-iso-b", "us-isob", &["us-isob-east-1", "us-isob-west-1"]),
    ("aws-iso-e", "eu-isoe", &["eu-isoe-west-1"]),
    ("aws-iso-f", "us-isof", &["us-isof-east-1", "us-isof-south-1"]),
    ("aws-us-gov", "us-gov", &["us-gov-east-1", "us-gov-west-1"]),
];

/// The direction words of every region name AWS has used. A region missing from [`PARTITIONS`]
/// is taken for one opened since only when it is shaped like the others: a partition's prefix,
/// one of these words and a number. `eu-wset-2` is a typo, `eu-west-4` may be new.
const DIRECTIONS: &[&str] =
    &["central", "east", "north", "northeast", "northwest", "south", "southeast", "southwest", "west"];

/// Whether AWS knows `value` as a region, or it has the shape of a region AWS may have opened since.
fn is_region(value: &str) -> bool {
    if PARTITIONS.iter().any(|(_, _, regions)| regions.contains(&value)) {
        return true;
    }
    let Some((rest, number)) = value.rsplit_once('-') else { return false };
    let Some((prefix, direction)) = rest.rsplit_once('-') else { return false };
    let number_ok = !number.is_empty() && number.len() <= 2 && number.bytes().all(|b| b.is_ascii_digit());
    let prefix_ok = PARTITIONS.iter().any(|(_, prefixes, _)| {
        // The `aws` partition's pattern is a set of two-letter prefixes; the others a fixed prefix.
        prefixes.split('|').any(|p| p == prefix)
    });
    number_ok && prefix_ok && DIRECTIONS.contains(&direction) && !number.starts_with('0')
}

/// An AWS region code such as `us-east-1`, `eu-west-2` or `us-gov-west-1`: one AWS knows, or one
/// of the same shape (partition prefix, direction, number) that it may have opened since.
pub fn region(value: &str, path: &str, errors: &mut Vec<Invalid>) {
    if !is_region(value) {
        errors.push(Invalid::new(
            path,
            format!("{} is not an AWS region code (like us-east-1 or eu-west-2)", quote(value)),
        ));
    }
}

/// Bucket-name prefixes S3 reserves (S3 User Guide, "General purpose bucket naming rules").
const BUCKET_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
/// Bucket-name suffixes S3 reserves for access point aliases, Object Lambda, directory buckets,
/// Multi-Region Access Points and table buckets.
const BUCKET_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", "--x-s3", ".mrap", "--table-s3"];

/// S3 bucket naming rules (general purpose buckets).
pub fn bucket_name(name: &str, path: &str, errors: &mut Vec<Invalid>) {
    let mut why = Vec::new();
    if !(3..=63).contains(&name.len()) {
        why.push("be 3 to 63 characters long".to_string());
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-') {
        why.push("use only lowercase letters, digits, dots and hyphens".to_string());
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        why.push("begin and end with a letter or digit".to_string());
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        why.push("not have two dots, or a dot and a hyphen, side by side".to_string());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        why.push("not look like an IP address".to_string());
    }
    if let Some(p) = BUCKET_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        why.push(format!("not start with `{p}`, which S3 reserves"));
    }
    if let Some(s) = BUCKET_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        why.push(format!("not end with `{s}`, which S3 reserves"));
    }
    if !why.is_empty() {
        errors.push(Invalid::new(
            path,
            format!("{} is not a valid S3 bucket name: it must {}", quote(name), why.join(", ")),
        ));
    }
}

/// IAM user, group and policy names: letters, digits and `+=,.@_-`, up to `max` characters.
pub fn iam_name(name: &str, max: usize, path: &str, errors: &mut Vec<Invalid>) {
    let chars_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if name.is_empty() || name.len() > max || !chars_ok {
        errors.push(Invalid::new(
            path,
            format!("{} is not a valid IAM name: use 1 to {max} letters, digits or +=,.@_-", quote(name)),
        ));
    }
}

/// Why `name` is not a DNS domain name, if it is not one.
fn domain_problem(name: &str) -> Option<&'static str> {
    if name.ends_with('.') {
        return Some("leave out the trailing dot");
    }
    if name.len() > 253 {
        return Some("a domain name has at most 253 characters");
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Some("a domain name has at least two labels, like example.org");
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !labels.iter().all(|l| label_ok(l)) {
        return Some("each label has 1 to 63 letters, digits or inner hyphens");
    }
    if labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
        return Some("an IP address or a numeric top-level domain is not a domain name");
    }
    None
}

/// A DNS domain name such as `open-contracting.org`: at most 253 characters, labels of 1 to 63
/// letters, digits and inner hyphens, a top-level domain that is not a number (so no IP address).
pub fn domain(name: &str, path: &str, errors: &mut Vec<Invalid>) {
    if let Some(why) = domain_problem(name) {
        errors.push(Invalid::new(path, format!("{} is not a domain name like example.org: {why}", quote(name))));
    }
}

/// Why `address` is not one email address (RFC 5321 lengths, RFC 5322 dot-atom local part).
fn email_problem(address: &str) -> Option<String> {
    if address.len() > 254 {
        return Some("an address has at most 254 characters".into());
    }
    if address.contains([',', ';', '<', '>']) || address.contains(char::is_whitespace) {
        return Some("give one bare address, without names, brackets, spaces or lists".into());
    }
    let Some((local, domain)) = address.split_once('@') else { return Some("it has no `@`".into()) };
    if domain.contains('@') {
        return Some("it has more than one `@`".into());
    }
    if local.is_empty() || local.len() > 64 {
        return Some("the part before `@` has 1 to 64 characters".into());
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some("the part before `@` cannot start or end with a dot, or have two dots in a row".into());
    }
    if !local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)) {
        return Some("the part before `@` has a character addresses cannot have".into());
    }
    domain_problem(domain).map(|why| format!("its domain is not valid: {why}"))
}

/// An email address: a local part, `@`, and a domain.
pub fn email(address: &str, path: &str, errors: &mut Vec<Invalid>) {
    if let Some(why) = email_problem(address) {
        errors.push(Invalid::new(path, format!("{} is not an email address: {why}", quote(address))));
    }
}

/// `path` with `//` and `.` components removed, lexically: `/a//./b` is `/a/b`. Two spellings
/// of one file must compare equal. `..` is refused by [`secret_file`], not resolved, because
/// with symbolic links its meaning depends on the file system.
pub fn normalise_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    format!("/{}", parts.join("/"))
}

/// Folders whose files are devices or the kernel's, never a place for a secret.
const SYSTEM_DIRS: &[&str] = &["/dev", "/proc", "/sys"];

/// A secret file must be an absolute path to a regular file of its own, so that it does not depend
/// on where Salt runs and cannot be a folder, a device or two spellings of one file.
pub fn secret_file(file: &str, path: &str, errors: &mut Vec<Invalid>) {
    let normal = normalise_path(file);
    let why = if file.contains('\0') {
        Some("a path cannot contain a NUL character")
    } else if !file.starts_with('/') {
        Some("use an absolute path, so that it does not depend on where Salt runs")
    } else if file.ends_with('/') || file.ends_with("/.") || normal == "/" {
        Some("this names a folder; name the file")
    } else if file.split('/').any(|p| p == "..") {
        Some("leave out `..`, so that the path says where the file is")
    } else if SYSTEM_DIRS.iter().any(|d| normal == *d || normal.starts_with(&format!("{d}/"))) {
        Some("files under /dev, /proc and /sys are not regular files")
    } else if file.len() > 4096 {
        Some("a path has at most 4096 characters")
    } else {
        None
    };
    if let Some(why) = why {
        errors.push(Invalid::new(path, format!("{} is not a usable secret file: {why}", quote(file))));
    }
}

/// The top-level key of a secret file that holds one resource's values.
pub fn pillar_key(key: &str, path: &str, errors: &mut Vec<Invalid>) {
    if key.trim().is_empty() {
        errors.push(Invalid::new(path, "expected a key name; leave pillar_key out to use the whole file"));
    } else if key.len() > 255 || key.contains(['\0', '\n', '\r']) {
        errors.push(Invalid::new(
            path,
            format!("{} is not a usable key: use one line of at most 255 characters", quote(key)),
        ));
    }
}

/// A secret file's `mode`, `owner` and `group` (under the Pillar path `path`): the mode as octal
/// text that lets the owner read and write and others nothing; owner and group as a name or id.
pub fn permissions(
    mode: Option<&str>,
    owner: Option<&str>,
    group: Option<&str>,
    path: &str,
    errors: &mut Vec<Invalid>,
) {
    if let Some(m) = mode {
        let digits = m.strip_prefix('0').filter(|d| d.len() == 3).unwrap_or(m);
        match u32::from_str_radix(digits, 8) {
            Ok(bits) if digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                if bits & 0o600 != 0o600 {
                    errors.push(Invalid::new(
                        format!("{path}.mode"),
                        format!("{} leaves the owner without read and write; ocp-aws rewrites the file", quote(m)),
                    ));
                } else if bits & 0o007 != 0 {
                    errors.push(Invalid::new(
                        format!("{path}.mode"),
                        format!(
                            "{} lets every user at the secrets; give others no access (e.g. \"0640\" with a group)",
                            quote(m)
                        ),
                    ));
                }
            }
            _ => errors.push(Invalid::new(
                format!("{path}.mode"),
                format!("{} is not a file mode: expected octal text such as \"0600\" or \"0640\", quoted", quote(m)),
            )),
        }
    }
    for (field, value) in [("owner", owner), ("group", group)] {
        if let Some(v) = value {
            if v.is_empty() || v.len() > 32 || v.contains([':', '/', '\0', '\n']) || v.contains(char::is_whitespace) {
                errors.push(Invalid::new(
                    format!("{path}.{field}"),
                    format!("{} is not a user or group name or id", quote(v)),
                ));
            }
        }
    }
}

/// The most days a lifecycle rule can say: AWS's API types day counts as a 32-bit `Integer` and
/// documents no smaller maximum, so a larger value cannot be sent as given (and would never match
/// on reading back).
pub const MAX_DAYS: u32 = i32::MAX as u32;

/// A day count of a lifecycle rule: at least 1, at most [`MAX_DAYS`].
pub fn days(value: u32, path: &str, errors: &mut Vec<Invalid>) {
    if value == 0 {
        errors.push(Invalid::new(path, "expected a whole number of days, at least 1"));
    } else if value > MAX_DAYS {
        errors.push(Invalid::new(path, format!("AWS takes at most {MAX_DAYS} days (a 32-bit integer), not {value}")));
    }
}

/// An IAM managed policy ARN: `arn:PARTITION:iam::ACCOUNT:policy/[PATH/]NAME`, where ACCOUNT is
/// 12 digits, or `aws` for AWS-managed policies.
pub fn policy_arn(arn: &str, path: &str, errors: &mut Vec<Invalid>) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            PARTITIONS.iter().any(|(p, _, _)| p == partition)
                && (*account == "aws" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
                && resource.strip_prefix("policy/").is_some_and(|rest| {
                    // A policy path is `/` or `/segment/.../`: no empty segment.
                    let (dir_ok, name) = match rest.rsplit_once('/') {
                        None => (true, rest),
                        Some((dirs, name)) => {
                            (dirs.split('/').all(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_graphic())), name)
                        }
                    };
                    let mut name_errors = Vec::new();
                    iam_name(name, 128, "", &mut name_errors);
                    dir_ok && name_errors.is_empty() && rest.len() <= 512
                })
        }
        _ => false,
    };
    if !ok {
        errors.push(Invalid::new(
            path,
            format!(
                "{} is not an IAM policy ARN like arn:aws:iam::123456789012:policy/NAME or \
                 arn:aws:iam::aws:policy/NAME; give a policy name of iam.policies, or a whole ARN",
                quote(arn)
            ),
        ));
    }
}

/// The longest wait a Pillar may ask for: SES verifies within 72 hours or fails, and no single run
/// should block for more than a day.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A duration such as `90s`, `15m`, `1h` or `1h30m`, at most [`MAX_WAIT`].
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{} is not a duration: use a number with s, m or h, like 90s, 15m or 1h30m", quote(text));
    let too_long = || format!("{} is too long: at most 24h", quote(text));
    let (mut total, mut number) = (0u64, String::new());
    for c in text.trim().chars() {
        match c {
            '0'..='9' => number.push(c),
            's' | 'm' | 'h' if !number.is_empty() => {
                let n: u64 = number.parse().map_err(|_| too_long())?;
                let unit = match c {
                    's' => 1,
                    'm' => 60,
                    _ => 3600,
                };
                total = n.checked_mul(unit).and_then(|s| total.checked_add(s)).ok_or_else(too_long)?;
                number.clear();
            }
            _ => return Err(bad()),
        }
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    let d = std::time::Duration::from_secs(total);
    if d > MAX_WAIT {
        return Err(too_long());
    }
    Ok(d)
}

/// An SES receipt rule set's or rule's name: ASCII letters, digits, `_` and `-` (and `.` in a rule's),
/// starting and ending with a letter or digit, at most 64 characters.
pub fn receipt_name(name: &str, rule: bool, path: &str, errors: &mut Vec<Invalid>) {
    let inner = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (rule && c == '.');
    let ends = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if !ends || name.len() > 64 || !name.chars().all(inner) {
        let allowed = if rule { "letters, digits, `.`, `_` and `-`" } else { "letters, digits, `_` and `-`" };
        errors.push(Invalid::new(
            path,
            format!(
                "{} is not a receipt rule name: use at most 64 {allowed}, starting and ending with a letter or digit",
                quote(name)
            ),
        ));
    }
}

/// A nameserver given as `IP` or `IP:PORT` (port 53 when left out).
pub fn nameserver(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse::<std::net::SocketAddr>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
        .map_err(|_| format!("{} is not an IP address or IP:PORT", quote(text)))
}

/// A host name with an optional port, as a link's authority is compared: `HOST` or `HOST:PORT`.
pub fn host_port(text: &str, path: &str, errors: &mut Vec<Invalid>) {
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !host_ok || port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        errors.push(Invalid::new(path, format!("{} is not a host name or HOST:PORT", quote(text))));
    }
}

/// Rewords serde's messages for people who write YAML, not Rust.
pub fn humane(message: &str) -> String {
    let mut out = message.to_string();
    for (rust, yaml) in [
        ("expected u8", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a mapping"),
        ("struct ", ""),
    ] {
        out = out.replace(rust, yaml);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(f: impl Fn(&mut Vec<Invalid>)) -> Vec<Invalid> {
        let mut e = Vec::new();
        f(&mut e);
        e
    }

    #[test]
    fn secret_file_permissions() {
        assert!(errs(|e| permissions(Some("0640"), Some("root"), Some("salt"), "p", e)).is_empty());
        assert!(errs(|e| permissions(Some("600"), None, Some("0"), "p", e)).is_empty());
        for bad in ["0644", "0400", "640x", "0o640", "", "06400", "0800", "416"] {
            let found = errs(|e| permissions(Some(bad), None, None, "p", e));
            assert!(found.len() == 1 && found[0].to_string().starts_with("p.mode"), "{bad}: {found:?}");
        }
        assert_eq!(errs(|e| permissions(None, Some("a b"), Some(""), "p", e)).len(), 2);
    }

    #[test]
    fn quotes_are_bounded() {
        assert_eq!(quote("eu-west-2"), "`eu-west-2`");
        let long = "x".repeat(50_000);
        let q = quote(&long);
        assert!(q.len() < 200 && q.contains("50000 characters"), "{q}");
        let message = format!("invalid type: string \"{long}\", expected u32; unknown field `{long}`");
        let bounded = bound_quotes(&message);
        assert!(bounded.len() < 400 && bounded.ends_with("characters)`") && bounded.contains("expected u32"));
        assert_eq!(bound_quotes("a \"b\\\"c\" `d`"), "a \"b\\\"c\" `d`");
        // Multi-byte characters are cut on a character boundary.
        assert!(quote(&"é".repeat(100)).contains("100 characters"));
        assert_eq!(quote("a\0b\nc"), "`a\\u{0}b\\nc`");
    }

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-west-2", "us-gov-west-1", "ap-southeast-4", "cn-northwest-1", "eusc-de-east-1"] {
            assert!(errs(|e| region(ok, "r", e)).is_empty(), "{ok}");
        }
        // Not yet in the table, but shaped like a region of a known partition.
        assert!(errs(|e| region("eu-west-4", "r", e)).is_empty());
        for bad in [
            "useast1",
            "EU-WEST-2",
            "eu-west",
            "eu-west-x",
            "",
            "eu-wset-2",
            "xx-east-1",
            "eu-west-02",
            "eu-west-100",
            "us-east-1 ",
            "aws-global",
            "eu-west-2-",
        ] {
            assert_eq!(errs(|e| region(bad, "r", e)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn the_region_table_matches_its_partition_patterns() {
        for (partition, prefixes, regions) in PARTITIONS {
            for r in *regions {
                let shaped = prefixes.split('|').any(|p| r.starts_with(&format!("{p}-")));
                assert!(shaped, "{r} is not shaped like {partition}");
                assert_eq!(crate::aws::partition(r) == "aws-cn", *partition == "aws-cn", "{r}");
            }
        }
    }

    #[test]
    fn bucket_names() {
        for ok in ["ocp-redmine-backup", "a.b.c", "abc", "my-xn--bucket", "s3alias-first"] {
            assert!(errs(|e| bucket_name(ok, "b", e)).is_empty(), "{ok}");
        }
        for bad in [
            "ab",
            "Upper",
            "-start",
            "end-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "under_score",
            "xn--bucket",
            "sthree-bucket",
            "amzn-s3-demo-bucket",
            "bucket-s3alias",
            "bucket--ol-s3",
            "bucket--x-s3",
            "bucket.mrap",
            "bucket--table-s3",
        ] {
            assert_eq!(errs(|e| bucket_name(bad, "b", e)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn iam_names() {
        assert!(errs(|e| iam_name("redmine-backup", 64, "u", e)).is_empty());
        assert_eq!(errs(|e| iam_name("has space", 64, "u", e)).len(), 1);
        assert_eq!(errs(|e| iam_name(&"x".repeat(65), 64, "u", e)).len(), 1);
        assert_eq!(errs(|e| iam_name("", 64, "u", e)).len(), 1);
    }

    #[test]
    fn domains() {
        for ok in ["open-contracting.org", "a.b.example.co.uk", "xn--bcher-kva.example", "1password.com"] {
            assert!(errs(|e| domain(ok, "d", e)).is_empty(), "{ok}");
        }
        let long_label = format!("{}.org", "a".repeat(64));
        let long_name = format!("{}org", "abcdefghi.".repeat(26));
        for bad in [
            "localhost",
            "a..b",
            "-a.org",
            "a-.org",
            "a_b.org",
            "example.org.",
            "192.168.1.1",
            "example.123",
            "[::1]",
            "",
            ".org",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert_eq!(errs(|e| domain(bad, "d", e)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn addresses() {
        for ok in ["noreply@open-contracting.org", "a.b+c@x.org", "o'brien@x.org"] {
            assert!(errs(|e| email(ok, "d", e)).is_empty(), "{ok}");
        }
        let local65 = format!("{}@x.org", "a".repeat(65));
        let long = format!("{}@{}.org", "a".repeat(60), "b".repeat(60).repeat(4));
        for bad in [
            "noreply",
            "@x.org",
            "a b@x.org",
            "a@x",
            "a@b@x.org",
            ".a@x.org",
            "a.@x.org",
            "a..b@x.org",
            "a@x.org,b@x.org",
            "Name <a@x.org>",
            "a@x.org;b@x.org",
            "a\"b@x.org",
            "a@192.168.0.1",
            "a@x.org.",
            local65.as_str(),
            long.as_str(),
        ] {
            assert_eq!(errs(|e| email(bad, "d", e)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn secret_files() {
        for ok in ["/srv/pillar/private/a.sls", "/a//./b"] {
            assert!(errs(|e| secret_file(ok, "s", e)).is_empty(), "{ok}");
        }
        for bad in [
            "relative.sls",
            "",
            "/",
            "//",
            "/srv/pillar/",
            "/srv/pillar/.",
            "/dev/null",
            "/dev",
            "/proc/self/environ",
            "/sys/x",
            "//dev/./null",
            "/srv/../etc/passwd",
            "/srv/a\0b",
            "~/a.sls",
        ] {
            assert_eq!(errs(|e| secret_file(bad, "s", e)).len(), 1, "{bad:?}");
        }
        assert!(errs(|e| secret_file("/device/x", "s", e)).is_empty());
        assert_eq!(normalise_path("/a//./b"), "/a/b");
        assert_eq!(normalise_path("/a/b/"), "/a/b");
        assert_eq!(normalise_path("/a/b"), normalise_path("//a/./b"));
    }

    #[test]
    fn pillar_keys() {
        assert!(errs(|e| pillar_key("backup", "k", e)).is_empty());
        for bad in ["", "  ", "a\nb"] {
            assert_eq!(errs(|e| pillar_key(bad, "k", e)).len(), 1, "{bad:?}");
        }
    }

    #[test]
    fn day_counts() {
        for ok in [1, 30, MAX_DAYS] {
            assert!(errs(|e| days(ok, "d", e)).is_empty(), "{ok}");
        }
        for bad in [0, MAX_DAYS + 1, u32::MAX] {
            assert_eq!(errs(|e| days(bad, "d", e)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn policy_arns() {
        for ok in [
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::123456789012:policy/backup",
            "arn:aws:iam::123456789012:policy/team/x",
            "arn:aws-cn:iam::aws:policy/service-role/AWSConfigRole",
            "arn:aws-us-gov:iam::123456789012:policy/x",
        ] {
            assert!(errs(|e| policy_arn(ok, "p", e)).is_empty(), "{ok}");
        }
        for bad in [
            "arn:",
            "arn:aws:iam::aws:ReadOnlyAccess",
            "arn:aws:iam::12345:policy/x",
            "arn:aws:iam:us-east-1:123456789012:policy/x",
            "arn:aws:s3:::bucket",
            "arn:nope:iam::aws:policy/x",
            "arn:aws:iam::aws:policy/",
            "arn:aws:iam::aws:policy/has space",
            "arn:aws:iam::aws:role/x",
            "arn:aws:iam::123456789012:policy//x",
        ] {
            assert_eq!(errs(|e| policy_arn(bad, "p", e)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("15m").unwrap().as_secs(), 900);
        assert_eq!(duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(duration("90s").unwrap().as_secs(), 90);
        assert_eq!(duration("24h").unwrap(), MAX_WAIT);
        for bad in ["", "15", "m", "15 minutes", "0s", "-1m", "25h", "1441m"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        // Overflow: no panic, no wrap-around to a short wait.
        for huge in ["99999999999999999h", "18446744073709551615s", "5124095576030431h", "99999999999999999999999h"] {
            assert!(duration(huge).unwrap_err().contains("at most 24h"), "{huge}");
        }
    }

    #[test]
    fn messages_speak_yaml() {
        assert_eq!(
            humane("invalid type: string \"thirty\", expected u32"),
            "invalid type: string \"thirty\", expected a whole number"
        );
    }

    #[test]
    fn nameservers_and_host_ports() {
        assert_eq!(nameserver("127.0.0.1").unwrap().port(), 53);
        assert_eq!(nameserver("127.0.0.1:5353").unwrap().port(), 5353);
        assert!(nameserver("[::1]:53").is_ok() && nameserver("::1").is_ok());
        assert!(nameserver("ns.example.org").unwrap_err().contains("not an IP address"));
        let mut errors = Vec::new();
        host_port("email-verification.us-east-1.amazonaws.com", "p", &mut errors);
        host_port("127.0.0.1:8080", "p", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        for bad in ["", "a..b", "host:0", "host:99999", "https://host", "a b"] {
            host_port(bad, "p", &mut errors);
        }
        assert_eq!(errors.len(), 6, "{errors:?}");
    }

    #[test]
    fn receipt_rule_names() {
        let mut errors = Vec::new();
        receipt_name("email-address-verification", false, "p", &mut errors);
        receipt_name("deliver.to_s3-bucket", true, "p", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        receipt_name("a.b", false, "p", &mut errors);
        receipt_name("-a", true, "p", &mut errors);
        receipt_name(&"a".repeat(65), true, "p", &mut errors);
        receipt_name("", true, "p", &mut errors);
        assert_eq!(errors.len(), 4, "{errors:?}");
    }
}
