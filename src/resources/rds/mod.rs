//! Amazon RDS kinds, and what they share: generated passwords and engine versions.

use std::cmp::Ordering;

use crate::error::Error;

pub mod db_instance;

/// The characters of a generated password: letters and digits, a subset of what RDS allows (any
/// printable ASCII but `/`, `"`, `@` and space) that needs no quoting in YAML, a libpq connection
/// string or a `.pgpass` line.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The length of a generated password: 32 of 62 characters, about 190 bits.
pub const PASSWORD_LENGTH: usize = 32;

/// A new password from the operating system's CSPRNG. Bytes that would bias the choice (those at
/// or above the largest multiple of the alphabet's size) are drawn again.
pub fn generate_password() -> Result<String, Error> {
    let n = PASSWORD_ALPHABET.len();
    let limit = (256 / n * n) as u8;
    let mut out = String::with_capacity(PASSWORD_LENGTH);
    let mut buf = [0u8; 64];
    while out.len() < PASSWORD_LENGTH {
        getrandom::fill(&mut buf)
            .map_err(|e| Error::Refused(format!("the operating system gave no random bytes for a password: {e}")))?;
        for b in buf.iter().filter(|b| **b < limit) {
            if out.len() == PASSWORD_LENGTH {
                break;
            }
            out.push(PASSWORD_ALPHABET[*b as usize % n] as char);
        }
    }
    Ok(out)
}

/// An engine version's numbers, e.g. `17.4` → `[17, 4]`; `None` for a version that is not numbers.
pub fn version_parts(version: &str) -> Option<Vec<u32>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

/// Orders two versions by their numbers; text that is not numbers sorts first.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    version_parts(a).cmp(&version_parts(b))
}

/// A PostgreSQL major version: the first number from 10 on, the first two before (9.6).
pub fn major(version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    match parts.first().and_then(|p| p.parse::<u32>().ok()) {
        Some(n) if n < 10 && parts.len() > 1 => format!("{}.{}", parts[0], parts[1]),
        _ => parts.first().copied().unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_from_the_alphabet_and_differ() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), PASSWORD_LENGTH);
        assert!(a.len() >= 24);
        assert!(a.bytes().all(|c| PASSWORD_ALPHABET.contains(&c)), "{}", a.len());
        assert_ne!(a, b);
    }

    #[test]
    fn versions_compare_by_number_and_majors() {
        assert_eq!(compare_versions("17.10", "17.9"), Ordering::Greater);
        assert_eq!(compare_versions("9.6.22", "10.1"), Ordering::Less);
        assert_eq!(major("17.4"), "17");
        assert_eq!(major("9.6.22"), "9.6");
        assert_eq!(version_parts("latest"), None);
    }
}
