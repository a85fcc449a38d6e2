//! Checks shared by several kinds: the rules AWS applies to names and regions, made before the
//! first AWS call so that a typo fails with its Pillar path instead of an AWS error.

use crate::error::Invalid;

/// A user-given value quoted for a message, cut to a length a message can carry.
pub fn quote(value: &str) -> String {
    const MAX: usize = 80;
    match value.char_indices().nth(MAX) {
        Some((at, _)) => format!("`{}…` ({} characters)", &value[..at], value.chars().count()),
        None => format!("`{value}`"),
    }
}

/// An AWS region code such as `us-east-1`, `eu-west-2` or `us-gov-west-1`.
pub fn region(value: &str, path: &str, errors: &mut Vec<Invalid>) {
    let parts: Vec<&str> = value.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts[0].len() == 2
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit());
    if !ok {
        errors.push(Invalid::new(path, format!("`{value}` is not an AWS region code (like us-east-1 or eu-west-2)")));
    }
}

/// S3 bucket naming rules (general purpose buckets).
pub fn bucket_name(name: &str, path: &str, errors: &mut Vec<Invalid>) {
    let mut why = Vec::new();
    if !(3..=63).contains(&name.len()) {
        why.push("be 3 to 63 characters long");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-') {
        why.push("use only lowercase letters, digits, dots and hyphens");
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        why.push("begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        why.push("not have two dots, or a dot and a hyphen, side by side");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        why.push("not look like an IP address");
    }
    if !why.is_empty() {
        errors.push(Invalid::new(path, format!("`{name}` is not a valid S3 bucket name: it must {}", why.join(", "))));
    }
}

/// IAM user, group and policy names: letters, digits and `+=,.@_-`, up to `max` characters.
pub fn iam_name(name: &str, max: usize, path: &str, errors: &mut Vec<Invalid>) {
    let chars_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if name.is_empty() || name.len() > max || !chars_ok {
        errors.push(Invalid::new(
            path,
            format!("`{name}` is not a valid IAM name: use 1 to {max} letters, digits or +=,.@_-"),
        ));
    }
}

/// A DNS domain name such as `open-contracting.org`.
pub fn domain(name: &str, path: &str, errors: &mut Vec<Invalid>) {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() > 253 || name.split('.').count() < 2 || !name.split('.').all(label_ok) {
        errors.push(Invalid::new(path, format!("`{name}` is not a domain name like example.org")));
    }
}

/// An email address: a local part, `@`, and a domain.
pub fn email(address: &str, path: &str, errors: &mut Vec<Invalid>) {
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !local.contains(char::is_whitespace) => {
            self::domain(domain, path, errors)
        }
        _ => errors.push(Invalid::new(path, format!("`{address}` is not an email address"))),
    }
}

/// A secret file must be an absolute path, so that it does not depend on where Salt runs.
pub fn secret_file(file: &str, path: &str, errors: &mut Vec<Invalid>) {
    if !file.starts_with('/') {
        errors.push(Invalid::new(path, format!("`{file}` is not an absolute path")));
    }
}

/// A duration such as `90s`, `15m`, `1h` or `1h30m`.
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("`{text}` is not a duration: use a number with s, m or h, like 90s, 15m or 1h30m");
    let (mut total, mut number) = (0u64, String::new());
    for c in text.trim().chars() {
        match c {
            '0'..='9' => number.push(c),
            's' | 'm' | 'h' if !number.is_empty() => {
                let n: u64 = number.parse().map_err(|_| bad())?;
                total += n * match c {
                    's' => 1,
                    'm' => 60,
                    _ => 3600,
                };
                number.clear();
            }
            _ => return Err(bad()),
        }
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(total))
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
    fn regions() {
        for ok in ["us-east-1", "eu-west-2", "us-gov-west-1", "ap-southeast-4"] {
            assert!(errs(|e| region(ok, "r", e)).is_empty(), "{ok}");
        }
        for bad in ["useast1", "EU-WEST-2", "eu-west", "eu-west-x", ""] {
            assert_eq!(errs(|e| region(bad, "r", e)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn bucket_names() {
        for ok in ["ocp-redmine-backup", "a.b.c", "abc"] {
            assert!(errs(|e| bucket_name(ok, "b", e)).is_empty(), "{ok}");
        }
        for bad in ["ab", "Upper", "-start", "end-", "a..b", "a.-b", "192.168.1.1", "under_score"] {
            assert_eq!(errs(|e| bucket_name(bad, "b", e)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn iam_names() {
        assert!(errs(|e| iam_name("redmine-backup", 64, "u", e)).is_empty());
        assert_eq!(errs(|e| iam_name("has space", 64, "u", e)).len(), 1);
        assert_eq!(errs(|e| iam_name(&"x".repeat(65), 64, "u", e)).len(), 1);
    }

    #[test]
    fn domains_and_addresses() {
        assert!(errs(|e| domain("open-contracting.org", "d", e)).is_empty());
        assert!(errs(|e| email("noreply@open-contracting.org", "d", e)).is_empty());
        for bad in ["localhost", "a..b", "-a.org", "a_b.org"] {
            assert_eq!(errs(|e| domain(bad, "d", e)).len(), 1, "{bad}");
        }
        for bad in ["noreply", "@x.org", "a b@x.org", "a@x"] {
            assert_eq!(errs(|e| email(bad, "d", e)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("15m").unwrap().as_secs(), 900);
        assert_eq!(duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(duration("90s").unwrap().as_secs(), 90);
        for bad in ["", "15", "m", "15 minutes", "0s", "-1m"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_speak_yaml() {
        assert_eq!(
            humane("invalid type: string \"thirty\", expected u32"),
            "invalid type: string \"thirty\", expected a whole number"
        );
    }
}
