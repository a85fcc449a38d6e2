//! Reading a mail that SES received and stored in S3: the verification link of an email-address
//! identity (runbook row 6), and what a delivered message says about SPF, DKIM and DMARC (row 12).
//! Pure: no AWS, no I/O; any input bytes give an answer or an error, never a panic.
//!
//! The verification link is refused unless its scheme is https and its host (with its port) is one
//! the caller allows, so that a forged mail cannot make the tool open an address of the sender's
//! choosing; `http` passes only for a loopback host the caller names. The link carries a token that
//! verifies the address: [`Link`] shows it only through [`Link::url`], never in `Debug` or `Display`.
//!
//! Authentication results are trusted only where the receiving side wrote them (RFC 8601 §5): the
//! `Authentication-Results` headers with the authserv-id `amazonses.com` at the top of the message,
//! above its first header of the message as sent (`From`, `DKIM-Signature`, ...). A sender can put
//! any header into its own message; those below are ignored.

use std::borrow::Cow;
use std::fmt;

use mail_parser::MessageParser;
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::error::Error;

/// The largest message this reads: SES stores at most 40 MB per mail.
pub const MAX_BYTES: usize = 40 << 20;

/// The authserv-id of SES inbound's `Authentication-Results` headers.
pub const SES_AUTHSERV_ID: &str = "amazonses.com";

/// The query parameter and value that mark an SES verification link.
const CONFIRM_VERIFICATION: &str = "Operation=ConfirmVerification";

/// Headers a receiving server adds above a message (trace and result headers); the first header
/// of another name starts the message as its sender wrote it.
const TRACE_HEADERS: &[&str] =
    &["return-path", "received", "received-spf", "authentication-results", "delivered-to", "x-received"];

/// Second-level labels under which a two-letter country code's registrations sit (`example.co.uk`).
const SECOND_LEVELS: &[&str] = &["co", "com", "org", "net", "ac", "gov", "edu"];

/// The most of a value taken from a mail that a message or a report repeats.
const MAX_ECHO: usize = 80;

/// Why no verification link could be taken from a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// More bytes than SES ever stores for one mail.
    #[error("the stored mail is larger than {} MB, more than SES stores", MAX_BYTES >> 20)]
    TooLarge,
    /// The bytes are not a MIME message.
    #[error("the stored object is not a mail message")]
    Unparseable,
    /// No text part holds an SES verification link.
    #[error("the mail holds no SES verification link")]
    NoLink,
    /// The text holds several different verification links: none is chosen.
    #[error("the mail holds {0} different SES verification links, so none is followed")]
    Ambiguous(usize),
    /// The link's scheme or host is not one the caller allows.
    #[error("refused the verification link to {host}: {reason}")]
    Refused {
        /// Scheme, host and port of the link (never its query, which holds the token).
        host: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<MailError> for Error {
    fn from(error: MailError) -> Self {
        Error::Refused(format!("Verification mail: {error}."))
    }
}

/// An SES verification link that passed the checks. `Debug` and `Display` leave out the query
/// (it holds the token that verifies the address).
#[derive(Clone, PartialEq, Eq)]
pub struct Link {
    url: String,
    scheme: String,
    authority: String,
    path: String,
    identity: Option<String>,
}

impl Link {
    /// The whole URL, token included: only for following it, never for printing.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The host and, when the link names one, its port.
    pub fn host(&self) -> &str {
        &self.authority
    }

    /// The identity the link verifies (`Identity.IdentityName`, percent-decoded), when it names one.
    pub fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}?…", self.scheme, self.authority, self.path)
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Link({self})")
    }
}

/// The SES verification link of a stored mail, checked against the hosts allowed to serve it.
///
/// The text/plain parts are read first (decoded from quoted-printable or base64); only when they
/// hold no verification link are the HTML parts read (`href`s and text, entities decoded). A
/// verification link is a URL whose query has `Operation=ConfirmVerification`; one that appears
/// several times counts once, two different ones are refused. `allowed_hosts` are `HOST[:PORT]`;
/// empty means AWS's host for the region, `email-verification.REGION.amazonaws.com`.
pub fn verification_link(raw: &[u8], region: &str, allowed_hosts: &[String]) -> Result<Link, MailError> {
    if raw.len() > MAX_BYTES {
        return Err(MailError::TooLarge);
    }
    let message = MessageParser::default().parse(raw).ok_or(MailError::Unparseable)?;
    let mut texts = Vec::new();
    let mut htmls = Vec::new();
    for part in message.parts.iter() {
        // Only text parts: an attachment's text_contents() is its raw bytes read as UTF-8.
        if !part.is_text() {
            continue;
        }
        let Some(content) = part.text_contents() else { continue };
        if part.is_text_html() {
            htmls.push(content.to_string());
        } else {
            texts.push(content.to_string());
        }
    }
    let mut found = candidates(texts.iter().map(String::as_str));
    if found.is_empty() {
        let decoded: Vec<String> = htmls.iter().map(|html| unescape_html(html)).collect();
        found = candidates(decoded.iter().map(String::as_str));
    }
    match found.len() {
        0 => Err(MailError::NoLink),
        1 => check_link(&found[0], region, allowed_hosts),
        n => Err(MailError::Ambiguous(n)),
    }
}

/// The distinct verification links of some texts, in order.
fn candidates<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for text in texts {
        let mut rest = text;
        while let Some(at) = rest.find("://") {
            let start = rest[..at]
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                .last()
                .map_or(at, |(i, _)| i);
            let tail = &rest[at..];
            let end =
                tail.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>')).unwrap_or(tail.len());
            let url = rest[start..at + end].trim_end_matches(['.', ',', ';', ':', ')', ']']);
            if start < at && url.contains(CONFIRM_VERIFICATION) && !found.iter().any(|seen| seen == url) {
                found.push(url.to_string());
            }
            rest = &tail[end.max(3)..];
        }
    }
    found
}

/// The common HTML entities a link in an `href` or in text is written with.
fn unescape_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity = rest.find(';').filter(|end| *end <= 10).map(|end| &rest[..=end]);
        let decoded = match entity {
            Some("&amp;") => Some('&'),
            Some("&quot;") => Some('"'),
            Some("&#39;") | Some("&apos;") => Some('\''),
            Some("&lt;") => Some('<'),
            Some("&gt;") => Some('>'),
            Some("&#61;") => Some('='),
            _ => None,
        };
        match (decoded, entity) {
            (Some(c), Some(entity)) => {
                out.push(c);
                rest = &rest[entity.len()..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn check_link(url: &str, region: &str, allowed_hosts: &[String]) -> Result<Link, MailError> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let scheme = scheme.to_ascii_lowercase();
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(authority_end);
    let refuse = |reason: &str| MailError::Refused {
        host: echo(&format!("{scheme}://{authority}")),
        reason: reason.to_string(),
    };
    if authority.contains('@') || authority.is_empty() {
        return Err(refuse("a link with user information or without a host is never AWS's"));
    }
    let authority = authority.to_ascii_lowercase();
    let host = normalized_authority(&scheme, &authority);
    let default_host = [format!("email-verification.{region}.amazonaws.com")];
    let allowed = if allowed_hosts.is_empty() { &default_host[..] } else { allowed_hosts };
    let listed = allowed.iter().any(|entry| normalized_authority(&scheme, &entry.to_ascii_lowercase()) == host);
    match scheme.as_str() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(refuse("plain http is accepted only for a loopback host")),
        _ => return Err(refuse("only https links are followed")),
    }
    if !listed {
        return Err(refuse(&format!("the host is not one of the allowed hosts ({})", echo(&allowed.join(", ")))));
    }
    let path_end = after.find(['?', '#']).unwrap_or(after.len());
    let query = after[path_end..].trim_start_matches('?');
    let identity = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("Identity.IdentityName="))
        .map(|name| percent_decode_str(name).decode_utf8_lossy().into_owned());
    Ok(Link { url: url.to_string(), scheme, authority: host, path: after[..path_end].to_string(), identity })
}

/// `host[:port]` without the scheme's default port.
fn normalized_authority(scheme: &str, authority: &str) -> String {
    let default = match scheme {
        "https" => ":443",
        "http" => ":80",
        _ => "",
    };
    match authority.strip_suffix(default) {
        Some(host) if !default.is_empty() => host.to_string(),
        _ => authority.to_string(),
    }
}

fn is_loopback(authority: &str) -> bool {
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default().to_string()
    };
    matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost")
}

/// A value from a mail, fit to repeat: control characters replaced, at most [`MAX_ECHO`] characters.
fn echo(value: &str) -> String {
    let mut out: String = value.chars().take(MAX_ECHO).map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    if value.chars().count() > MAX_ECHO {
        out.push('…');
    }
    out
}

/// What a delivered message's headers say about its authentication (RFC 8601 results by SES
/// inbound, and the DKIM signatures it carries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Authentication {
    /// The domain of the From address; none when the message has no single From address.
    pub from_domain: Option<String>,
    /// The SPF result, when SES wrote one.
    pub spf: Option<Spf>,
    /// Each DKIM signature, with SES's result for it.
    pub dkim: Vec<Dkim>,
    /// The DMARC result as SES wrote it (`pass`, `fail`, `none`, ...).
    pub dmarc: Option<String>,
}

/// The SPF result of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spf {
    /// `pass`, `fail`, `softfail`, `neutral`, `none`, `temperror` or `permerror`.
    pub result: String,
    /// The MAIL FROM (envelope sender) domain SPF checked.
    pub mail_from: Option<String>,
    /// Whether that domain has the From domain's organizational domain (DMARC's relaxed alignment).
    pub aligned: bool,
}

/// One DKIM signature of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dkim {
    /// The signing domain (`d=`).
    pub domain: String,
    /// The selector (`s=`), when the signature header is in the message.
    pub selector: Option<String>,
    /// SES's result for it; `none` when SES wrote no result for this signature.
    pub result: String,
    /// Whether the signing domain has the From domain's organizational domain.
    pub aligned: bool,
}

impl Authentication {
    /// DMARC passed, and through a passing DKIM signature aligned with the From domain (not only
    /// through SPF, which forwarding breaks, nor through SES's own `amazonses.com` signature).
    pub fn passes_through_aligned_dkim(&self) -> bool {
        self.dmarc.as_deref() == Some("pass") && self.dkim.iter().any(|d| d.result == "pass" && d.aligned)
    }
}

impl fmt::Display for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let aligned = |yes: bool| if yes { "aligned" } else { "not aligned" };
        writeln!(f, "From domain: {}", self.from_domain.as_deref().unwrap_or("(none)"))?;
        match &self.spf {
            Some(spf) => writeln!(
                f,
                "SPF: {} for MAIL FROM {} ({})",
                spf.result,
                spf.mail_from.as_deref().unwrap_or("(unknown)"),
                aligned(spf.aligned)
            )?,
            None => writeln!(f, "SPF: no result")?,
        }
        if self.dkim.is_empty() {
            writeln!(f, "DKIM: no signature")?;
        }
        for dkim in &self.dkim {
            let selector = dkim.selector.as_deref().map(|s| format!(" s={s}")).unwrap_or_default();
            writeln!(f, "DKIM: {} d={}{} ({})", dkim.result, dkim.domain, selector, aligned(dkim.aligned))?;
        }
        writeln!(f, "DMARC: {}", self.dmarc.as_deref().unwrap_or("no result"))?;
        if self.passes_through_aligned_dkim() {
            write!(f, "DMARC passes through an aligned DKIM signature.")
        } else {
            write!(f, "DMARC does not pass through an aligned DKIM signature.")
        }
    }
}

/// The authentication of a delivered message, from its headers. Unreadable input gives an
/// `Authentication` with nothing in it.
pub fn authentication(raw: &[u8]) -> Authentication {
    if raw.len() > MAX_BYTES {
        return Authentication::default();
    }
    let Some(message) = MessageParser::default().parse(raw) else { return Authentication::default() };
    let headers: Vec<(String, String)> =
        message.headers_raw().map(|(name, value)| (name.to_ascii_lowercase(), unfold(value))).collect();
    let from_domain = from_domain(&headers, &message);

    let mut results: Vec<Finding> = Vec::new();
    for (name, value) in headers.iter().take_while(|(name, _)| is_trace(name)) {
        if name == "authentication-results" {
            results.extend(results_of(value));
        }
    }

    let spf = results.iter().find(|r| r.method == "spf").map(|r| {
        let mail_from = ["smtp.mailfrom", "envelope-from", "smtp.helo"]
            .iter()
            .find_map(|key| r.property(key))
            .map(|value| domain_of(&value));
        let aligned = r.result == "pass" && aligned_with(mail_from.as_deref(), from_domain.as_deref());
        Spf { result: r.result.clone(), mail_from, aligned }
    });

    let mut dkim_results: Vec<&Finding> = results.iter().filter(|r| r.method == "dkim").collect();
    let mut dkim = Vec::new();
    for (_, value) in headers.iter().filter(|(name, _)| name == "dkim-signature") {
        let tags = tags_of(value);
        let Some(domain) = tags.iter().find(|(tag, _)| tag == "d").map(|(_, v)| clean(v).to_ascii_lowercase()) else {
            continue;
        };
        let selector = tags.iter().find(|(tag, _)| tag == "s").map(|(_, v)| clean(v));
        let matched = dkim_results.iter().position(|r| r.signer().as_deref() == Some(domain.as_str()));
        let result = matched.map_or_else(|| "none".to_string(), |at| dkim_results.remove(at).result.clone());
        let aligned = aligned_with(Some(&domain), from_domain.as_deref());
        dkim.push(Dkim { domain, selector, result, aligned });
    }
    // Results SES wrote for signatures whose header is not in the stored message.
    for r in dkim_results {
        if let Some(domain) = r.signer() {
            let aligned = aligned_with(Some(&domain), from_domain.as_deref());
            dkim.push(Dkim { domain, selector: r.property("header.s"), result: r.result.clone(), aligned });
        }
    }

    let dmarc = results.iter().find(|r| r.method == "dmarc").map(|r| r.result.clone());
    Authentication { from_domain, spf, dkim, dmarc }
}

fn is_trace(name: &str) -> bool {
    TRACE_HEADERS.contains(&name) || name.starts_with("x-ses-") || name.starts_with("arc-")
}

/// The domain of the message's one From address.
fn from_domain(headers: &[(String, String)], message: &mail_parser::Message<'_>) -> Option<String> {
    if headers.iter().filter(|(name, _)| name == "from").count() != 1 {
        return None;
    }
    let from = message.from()?;
    let list = match from {
        mail_parser::Address::List(list) => list.iter().collect::<Vec<_>>(),
        mail_parser::Address::Group(groups) => groups.iter().flat_map(|g| g.addresses.iter()).collect(),
    };
    let [address] = list.as_slice() else { return None };
    let address = address.address.as_deref()?;
    let (_, domain) = address.rsplit_once('@')?;
    let domain = clean(domain).to_ascii_lowercase();
    is_domain(&domain).then_some(domain)
}

fn is_domain(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value
            .split('.')
            .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// One result of an `Authentication-Results` header: `method=result` and its properties.
#[derive(Debug)]
struct Finding {
    method: String,
    result: String,
    properties: Vec<(String, String)>,
}

impl Finding {
    fn property(&self, key: &str) -> Option<String> {
        self.properties.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// The signing domain a DKIM result names: `header.d`, or the domain of `header.i`.
    fn signer(&self) -> Option<String> {
        self.property("header.d").or_else(|| self.property("header.i")).map(|value| domain_of(&value))
    }
}

/// Methods RFC 8601 and its registry name; a `;`-separated part that starts with another name is a
/// property of the result before it (SES writes `client-ip=...; envelope-from=...; helo=...;`).
const METHODS: &[&str] = &[
    "spf",
    "dkim",
    "dmarc",
    "arc",
    "auth",
    "iprev",
    "sender-id",
    "dkim-adsp",
    "dkim-atps",
    "domainkeys",
    "rrvs",
    "smime",
    "vbr",
];

/// The results of one `Authentication-Results` value, when its authserv-id is SES's.
fn results_of(value: &str) -> Vec<Finding> {
    let text = without_comments(value);
    let mut parts = split_outside_quotes(&text, ';').into_iter();
    let authserv = parts.next().unwrap_or_default();
    let authserv_id = authserv.split_whitespace().next().unwrap_or_default();
    if !authserv_id.eq_ignore_ascii_case(SES_AUTHSERV_ID) {
        return Vec::new();
    }
    let mut results: Vec<Finding> = Vec::new();
    for part in parts {
        let mut tokens = split_outside_quotes(&part, ' ').into_iter().filter(|t| !t.is_empty());
        let Some(first) = tokens.next() else { continue };
        let Some((key, value)) = first.split_once('=') else { continue };
        let method = key.split('/').next().unwrap_or_default().to_ascii_lowercase();
        let properties = tokens.filter_map(|t| t.split_once('=').map(|(k, v)| (k.to_ascii_lowercase(), clean(v))));
        if METHODS.contains(&method.as_str()) {
            results.push(Finding {
                method,
                result: clean(value).to_ascii_lowercase(),
                properties: properties.collect(),
            });
        } else if let Some(last) = results.last_mut() {
            last.properties.push((key.to_ascii_lowercase(), clean(value)));
            last.properties.extend(properties);
        }
    }
    results
}

/// A folded header value on one line.
fn unfold(value: &str) -> String {
    value.replace("\r\n", "").replace('\n', "").replace('\t', " ").trim().to_string()
}

/// The text without RFC 5322 comments (nested parentheses, outside quoted strings).
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        let split = if separator == ' ' { c.is_whitespace() } else { c == separator };
        match parts.last_mut() {
            Some(_) if split && !quoted => parts.push(String::new()),
            Some(last) => last.push(c),
            None => {}
        }
    }
    parts.into_iter().map(|p| p.trim().to_string()).collect()
}

/// The `tag=value` pairs of a DKIM-Signature (RFC 6376 §3.2), whitespace removed from the values.
fn tags_of(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(tag, value)| (tag.trim().to_ascii_lowercase(), value.split_whitespace().collect::<String>()))
        .collect()
}

/// A value without quotes and control characters, at most 253 characters (a domain's limit).
fn clean(value: &str) -> String {
    value.trim().trim_matches('"').chars().filter(|c| !c.is_control()).take(253).collect()
}

/// The domain of `user@domain`, `@domain` or `domain`, lower-case.
fn domain_of(value: &str) -> String {
    let domain: Cow<'_, str> = match value.rsplit_once('@') {
        Some((_, domain)) => domain.into(),
        None => value.into(),
    };
    domain.trim_end_matches('.').to_ascii_lowercase()
}

fn aligned_with(domain: Option<&str>, from_domain: Option<&str>) -> bool {
    match (domain, from_domain) {
        (Some(domain), Some(from)) => organizational_domain(domain) == organizational_domain(from),
        _ => false,
    }
}

/// The organizational domain DMARC's relaxed alignment compares, approximated without the public
/// suffix list (not available offline): the last two labels, or the last three when the second to
/// last is a common second level (co, com, org, net, ac, gov, edu) under a two-letter country code,
/// as in `example.co.uk`. Suffixes outside that rule (e.g. `github.io`) count as organizations.
pub fn organizational_domain(domain: &str) -> String {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let keep = match labels.as_slice() {
        [.., second, top] if labels.len() >= 3 && top.len() == 2 && SECOND_LEVELS.contains(second) => 3,
        _ => 2,
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFICATION: &[u8] = include_bytes!("../tests/fixtures/mail/verification.eml");
    const ALIGNED: &[u8] = include_bytes!("../tests/fixtures/mail/aligned.eml");
    const UNALIGNED: &[u8] = include_bytes!("../tests/fixtures/mail/unaligned.eml");
    const FAILING: &[u8] = include_bytes!("../tests/fixtures/mail/failing.eml");
    const REGION: &str = "eu-west-2";

    fn link(raw: &[u8], hosts: &[&str]) -> Result<Link, MailError> {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        verification_link(raw, REGION, &hosts)
    }

    /// A mail with one text/plain part holding `body`.
    fn plain(body: &str) -> Vec<u8> {
        format!("From: no-reply-aws@amazon.com\r\nTo: me@example.org\r\nSubject: x\r\n\r\n{body}\r\n").into_bytes()
    }

    fn aws_link(host: &str) -> String {
        format!(
            "{host}?Context=123456789012&X-Amz-Date=20261201T180000Z&Identity.IdentityName=me%40example.org\
             &X-Amz-Signature=abc123&Identity.IdentityType=EmailAddress&Namespace=Bacon&{CONFIRM_VERIFICATION}"
        )
    }

    #[test]
    fn the_ses_verification_mail_gives_its_link_decoded_from_quoted_printable() {
        let found = link(VERIFICATION, &[]).unwrap();
        assert_eq!(found.host(), "email-verification.eu-west-2.amazonaws.com");
        assert_eq!(found.identity(), Some("noreply@example.org"));
        assert!(found.url().starts_with("https://email-verification.eu-west-2.amazonaws.com/?Context="));
        assert!(found.url().contains("&X-Amz-Signature=") && !found.url().contains("=3D"));
        assert!(found.url().ends_with("&Operation=ConfirmVerification"));
    }

    #[test]
    fn a_link_never_shows_its_token() {
        let found = link(VERIFICATION, &[]).unwrap();
        let token = found.url().split("X-Amz-Signature=").nth(1).unwrap().split('&').next().unwrap().to_string();
        for shown in [format!("{found}"), format!("{found:?}")] {
            assert!(!shown.contains(&token) && !shown.contains("Signature"), "{shown}");
            assert!(shown.contains("email-verification.eu-west-2.amazonaws.com"), "{shown}");
        }
    }

    #[test]
    fn the_default_host_is_the_regions_and_other_hosts_are_refused() {
        let other = link(VERIFICATION, &[]).map(|l| l.host().to_string());
        assert_eq!(other.unwrap(), "email-verification.eu-west-2.amazonaws.com");
        let wrong_region = verification_link(VERIFICATION, "us-east-1", &[]).unwrap_err();
        assert!(matches!(&wrong_region, MailError::Refused { host, .. } if host.contains("eu-west-2")));
        let mail = plain(&aws_link("https://email-verification.eu-west-2.amazonaws.com.evil.example/"));
        let error = link(&mail, &[]).unwrap_err();
        assert!(error.to_string().contains("email-verification.eu-west-2.amazonaws.com.evil.example"), "{error}");
        assert!(!error.to_string().contains("abc123"), "{error}");
    }

    #[test]
    fn user_information_in_the_authority_is_refused() {
        let mail = plain(&aws_link("https://email-verification.eu-west-2.amazonaws.com@evil.example/"));
        assert!(matches!(link(&mail, &[]), Err(MailError::Refused { .. })));
    }

    #[test]
    fn plain_http_passes_only_for_an_allowed_loopback_host() {
        let loopback = plain(&aws_link("http://127.0.0.1:8080/_ocp_aws_test/verify-link"));
        assert_eq!(link(&loopback, &["127.0.0.1:8080"]).unwrap().host(), "127.0.0.1:8080");
        assert!(matches!(link(&loopback, &["127.0.0.1:9090"]), Err(MailError::Refused { .. })));
        assert!(matches!(link(&loopback, &[]), Err(MailError::Refused { .. })));
        let remote = plain(&aws_link("http://email-verification.eu-west-2.amazonaws.com/"));
        let error = link(&remote, &["email-verification.eu-west-2.amazonaws.com"]).unwrap_err();
        assert!(error.to_string().contains("loopback"), "{error}");
        let other_scheme = plain(&aws_link("ftp://email-verification.eu-west-2.amazonaws.com/"));
        assert!(matches!(link(&other_scheme, &[]), Err(MailError::Refused { .. })));
    }

    #[test]
    fn an_explicit_default_port_is_the_same_host() {
        let mail = plain(&aws_link("https://email-verification.eu-west-2.amazonaws.com:443/"));
        assert_eq!(link(&mail, &[]).unwrap().host(), "email-verification.eu-west-2.amazonaws.com");
    }

    #[test]
    fn no_link_two_links_and_garbage_are_errors() {
        assert_eq!(link(&plain("Hello, see https://docs.aws.amazon.com/ses/."), &[]), Err(MailError::NoLink));
        let one = aws_link("https://email-verification.eu-west-2.amazonaws.com/");
        let same_twice = plain(&format!("{one}\r\n\r\n{one}."));
        assert!(link(&same_twice, &[]).is_ok());
        let two = plain(&format!("{one}\r\n{}", one.replace("abc123", "def456")));
        assert_eq!(link(&two, &[]), Err(MailError::Ambiguous(2)));
        for garbage in [&b""[..], b"\x00\xff\xfe garbage \x80", b"\r\n\r\n\r\n", b"::::"] {
            assert!(link(garbage, &[]).is_err());
        }
    }

    #[test]
    fn a_link_in_html_only_is_found_with_its_entities_decoded() {
        let one = aws_link("https://email-verification.eu-west-2.amazonaws.com/");
        let href = one.replace('&', "&amp;");
        let mail = format!(
            "From: no-reply-aws@amazon.com\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=UTF-8\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64_lines(&format!("<p><a href=\"{href}\">Confirm</a></p>"))
        );
        let found = link(mail.as_bytes(), &[]).unwrap();
        assert_eq!(found.url(), one);
    }

    #[test]
    fn the_text_part_wins_over_a_different_link_in_html() {
        let good = aws_link("https://email-verification.eu-west-2.amazonaws.com/");
        let evil = aws_link("https://evil.example/");
        let mail = format!(
            "From: a@amazon.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\n{good}\r\n--b\r\nContent-Type: text/html\r\n\r\n\
             <a href=\"{evil}\">x</a>\r\n--b--\r\n"
        );
        assert_eq!(link(mail.as_bytes(), &[]).unwrap().url(), good);
        let html_only_evil = mail.replace(&good, "Open the HTML version.");
        assert!(matches!(link(html_only_evil.as_bytes(), &[]), Err(MailError::Refused { .. })));
    }

    fn base64_lines(text: &str) -> String {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        encoded.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("\r\n")
    }

    #[test]
    fn an_aligned_message_passes_through_its_own_dkim_signature() {
        let auth = authentication(ALIGNED);
        assert_eq!(auth.from_domain.as_deref(), Some("open-contracting.org"));
        let spf = auth.spf.clone().unwrap();
        assert_eq!(
            (spf.result.as_str(), spf.mail_from.as_deref(), spf.aligned),
            ("pass", Some("bounce.open-contracting.org"), true)
        );
        let signers: Vec<(&str, &str, bool)> =
            auth.dkim.iter().map(|d| (d.domain.as_str(), d.result.as_str(), d.aligned)).collect();
        assert_eq!(signers, [("open-contracting.org", "pass", true), ("amazonses.com", "pass", false)]);
        assert!(auth.dkim.iter().all(|d| d.selector.is_some()));
        assert_eq!(auth.dmarc.as_deref(), Some("pass"));
        assert!(auth.passes_through_aligned_dkim());
        let shown = auth.to_string();
        assert!(shown.contains("DKIM: pass d=open-contracting.org") && shown.ends_with("aligned DKIM signature."));
        let json = serde_json::to_value(&auth).unwrap();
        assert_eq!(json["dkim"][1]["domain"], "amazonses.com");
        assert_eq!(json["spf"]["mail_from"], "bounce.open-contracting.org");
    }

    #[test]
    fn a_message_signed_only_by_amazonses_does_not_pass() {
        let auth = authentication(UNALIGNED);
        let signers: Vec<(&str, bool)> = auth.dkim.iter().map(|d| (d.domain.as_str(), d.aligned)).collect();
        assert_eq!(signers, [("amazonses.com", false)]);
        assert_eq!(auth.spf.as_ref().and_then(|s| s.mail_from.as_deref()), Some("amazonses.com"));
        assert!(!auth.spf.unwrap().aligned);
        assert_eq!(auth.dmarc.as_deref(), Some("fail"));
        assert!(!authentication(UNALIGNED).passes_through_aligned_dkim());
        assert!(authentication(UNALIGNED).to_string().contains("does not pass"));
    }

    #[test]
    fn failing_signatures_do_not_pass() {
        let auth = authentication(FAILING);
        assert!(auth.dkim.iter().all(|d| d.result == "fail"));
        assert_eq!(auth.spf.as_ref().map(|s| (s.result.as_str(), s.aligned)), Some(("fail", false)));
        assert!(!auth.passes_through_aligned_dkim());
    }

    #[test]
    fn dmarc_pass_through_spf_alone_is_not_enough() {
        let mail = b"Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=bounce.example.com;\r\n \
                     dkim=pass header.i=@amazonses.com; dmarc=pass header.from=example.com\r\n\
                     DKIM-Signature: v=1; d=amazonses.com; s=x; b=abc\r\nFrom: a@example.com\r\n\r\nx\r\n";
        let auth = authentication(mail);
        assert!(auth.spf.unwrap().aligned);
        assert!(!authentication(mail).passes_through_aligned_dkim());
    }

    #[test]
    fn results_below_the_message_start_and_of_other_servers_are_ignored() {
        // The sender wrote its own results into the message; SES's (at the top) say fail.
        let mail = b"Return-Path: <x@amazonses.com>\r\n\
                     Authentication-Results: mx.evil.example; dkim=pass header.d=example.com; dmarc=pass\r\n\
                     Authentication-Results: amazonses.com;\r\n\tspf=pass (checked (nested)) smtp.mailfrom=amazonses.com;\r\n\
                     \tdkim=fail header.d=example.com;\r\n\tdmarc=fail header.from=example.com\r\n\
                     DKIM-Signature: v=1; d=example.com;\r\n s=sel; b=abc\r\n\
                     From: a@example.com\r\n\
                     Authentication-Results: amazonses.com; dkim=pass header.d=example.com; dmarc=pass\r\n\r\nx\r\n";
        let auth = authentication(mail);
        assert_eq!(auth.dmarc.as_deref(), Some("fail"));
        assert_eq!(auth.dkim.len(), 1);
        assert_eq!((auth.dkim[0].result.as_str(), auth.dkim[0].selector.as_deref()), ("fail", Some("sel")));
        assert!(!auth.passes_through_aligned_dkim());
    }

    #[test]
    fn two_from_addresses_or_headers_align_with_nothing() {
        let base = "Authentication-Results: amazonses.com; dkim=pass header.i=@example.com; dmarc=pass\r\n\
                    DKIM-Signature: v=1; d=example.com; s=s; b=x\r\n";
        for from in ["From: a@example.com, b@evil.example\r\n", "From: a@example.com\r\nFrom: b@evil.example\r\n"] {
            let auth = authentication(format!("{base}{from}\r\nx\r\n").as_bytes());
            assert_eq!(auth.from_domain, None, "{from}");
            assert!(!auth.passes_through_aligned_dkim(), "{from}");
        }
        let injected = format!("{base}From: \"a@example.com\" <b@evil.example>\r\n\r\nx\r\n");
        assert_eq!(authentication(injected.as_bytes()).from_domain.as_deref(), Some("evil.example"));
    }

    #[test]
    fn a_signature_without_a_result_is_not_a_pass() {
        let mail = b"Authentication-Results: amazonses.com; dmarc=pass header.from=example.com\r\n\
                     DKIM-Signature: v=1; d=example.com; s=s; b=x\r\nFrom: a@example.com\r\n\r\nx\r\n";
        let auth = authentication(mail);
        assert_eq!(auth.dkim[0].result, "none");
        assert!(!auth.passes_through_aligned_dkim());
    }

    #[test]
    fn garbage_has_no_authentication() {
        for garbage in [&b""[..], b"\x00\xff\xfe", b"Authentication-Results: amazonses.com; ((((\r\n\r\n", b"="] {
            let auth = authentication(garbage);
            assert!(!auth.passes_through_aligned_dkim());
            let _ = auth.to_string();
        }
    }

    #[test]
    fn organizational_domains() {
        for (domain, org) in [
            ("bounce.open-contracting.org", "open-contracting.org"),
            ("open-contracting.org", "open-contracting.org"),
            ("mail.example.co.uk", "example.co.uk"),
            ("example.com.br", "example.com.br"),
            ("a.b.example.de", "example.de"),
            ("amazonses.com.", "amazonses.com"),
            ("localhost", "localhost"),
            ("", ""),
        ] {
            assert_eq!(organizational_domain(domain), org, "{domain}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_an_answer(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let _ = verification_link(&raw, REGION, &[]);
            let _ = authentication(&raw).to_string();
        }

        #[test]
        fn any_header_text_gives_an_answer(text in "[ -~\\r\\n\\t()\";=@]{0,400}") {
            let mail = format!("Authentication-Results: amazonses.com; {text}\r\nDKIM-Signature: {text}\r\nFrom: {text}\r\n\r\n{text}");
            let _ = authentication(mail.as_bytes()).to_string();
            let _ = verification_link(mail.as_bytes(), REGION, &[]);
        }
    }
}
