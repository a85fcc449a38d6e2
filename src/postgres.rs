//! A PostgreSQL password check: the start of a client session (TLS when the server offers it, the
//! startup message, then SCRAM-SHA-256 or MD5 authentication), closed as soon as the server accepts
//! or refuses the password. No query is sent.
//!
//! Why the password stays safe on a connection whose certificate is not verified (libpq's
//! `sslmode=require`, what the secret files name): SCRAM never sends the password, and the check
//! verifies the server's final signature, so a server that does not know the password cannot
//! pretend to accept it. A request for the password in clear text is never answered.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted the password (and, with SCRAM, proved that it knows it too).
    Accepted,
    /// The server refused the password: its message.
    Refused(String),
    /// The check could not be made: why.
    Unverified(String),
}

/// SQLSTATE `invalid_password`: the one answer that means the password is wrong.
const INVALID_PASSWORD: &str = "28P01";
/// The most a server message may be; authentication messages are far smaller.
const MAX_MESSAGE: usize = 1 << 16;
/// More PBKDF2 rounds than any server uses (PostgreSQL's default is 4096): a bound on the work a
/// server can ask for.
const MAX_ITERATIONS: u32 = 1_000_000;
const PROTOCOL_3_0: i32 = 196_608;
const SSL_REQUEST: i32 = 80_877_103;

/// Connects to `host:port` and authenticates as `user` to `dbname` with `password`, all within
/// `timeout`.
pub async fn check(host: &str, port: u16, user: &str, dbname: &str, password: &str, timeout: Duration) -> Outcome {
    let attempt = async {
        let mut tcp =
            TcpStream::connect((host, port)).await.map_err(|e| format!("cannot connect to {host} port {port}: {e}"))?;
        let mut request = Vec::with_capacity(8);
        request.extend(8i32.to_be_bytes());
        request.extend(SSL_REQUEST.to_be_bytes());
        tcp.write_all(&request).await.map_err(|e| format!("{host} port {port}: {e}"))?;
        let mut answer = [0u8; 1];
        tcp.read_exact(&mut answer).await.map_err(|e| format!("{host} port {port}: {e}"))?;
        match answer[0] {
            b'S' => {
                let tls = tls_connect(host, tcp).await?;
                session(tls, user, dbname, password).await
            }
            b'N' => session(tcp, user, dbname, password).await,
            _ => Err(format!("{host} port {port} does not answer as a PostgreSQL server")),
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(why)) => Outcome::Unverified(why),
        Err(_) => Outcome::Unverified(format!("{host} port {port} did not answer within {} s", timeout.as_secs())),
    }
}

/// TLS without certificate verification, as libpq's `sslmode=require` does (see the module's
/// comment for why the password stays safe).
async fn tls_connect(host: &str, tcp: TcpStream) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| format!("TLS: {host}: {e}"))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {host}: {e}"))
}

/// Accepts any certificate, but still checks the handshake's signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The startup and authentication exchange on an open stream.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    user: &str,
    dbname: &str,
    password: &str,
) -> Result<Outcome, String> {
    let mut body = Vec::new();
    body.extend(PROTOCOL_3_0.to_be_bytes());
    for (k, v) in [("user", user), ("database", dbname)] {
        body.extend(k.as_bytes());
        body.push(0);
        body.extend(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut startup = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    startup.extend(body);
    s.write_all(&startup).await.map_err(|e| e.to_string())?;
    let mut scram: Option<(String, String, [u8; 32])> = None;
    // Whether the server has checked the password: a server that lets anyone in proves nothing.
    let mut asked = false;
    loop {
        let (kind, body) = read_message(&mut s).await?;
        match kind {
            b'E' => return Ok(server_error(&body)),
            b'R' => {}
            // Notices may come at any time; nothing else is expected before authentication ends.
            b'N' => continue,
            other => return Err(format!("the server sent an unexpected message ({:?})", other as char)),
        }
        let code = body.get(..4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]])).ok_or("a short message")?;
        let rest = &body[4..];
        match code {
            0 if scram.is_some() => return Err("the server ended SCRAM without its final signature".into()),
            0 if asked => return Ok(Outcome::Accepted),
            0 => {
                return Ok(Outcome::Unverified(
                    "the server let the user in without asking for a password, which proves nothing about it".into(),
                ))
            }
            3 => {
                return Ok(Outcome::Unverified(
                    "the server asks for the password in clear text, which this check never sends".into(),
                ))
            }
            5 => {
                let salt: [u8; 4] = rest.get(..4).and_then(|s| s.try_into().ok()).ok_or("a short MD5 request")?;
                let mut answer = md5_password(user, password, &salt).into_bytes();
                answer.push(0);
                send(&mut s, b'p', &answer).await?;
                asked = true;
            }
            10 => {
                let offered: Vec<&[u8]> = rest.split(|b| *b == 0).filter(|m| !m.is_empty()).collect();
                if !offered.contains(&b"SCRAM-SHA-256".as_slice()) {
                    return Ok(Outcome::Unverified("the server offers no SASL mechanism this check speaks".into()));
                }
                let nonce = client_nonce()?;
                let first_bare = format!("n=,r={nonce}");
                let first = format!("n,,{first_bare}");
                let mut msg = b"SCRAM-SHA-256\0".to_vec();
                msg.extend((first.len() as i32).to_be_bytes());
                msg.extend(first.as_bytes());
                send(&mut s, b'p', &msg).await?;
                scram = Some((nonce, first_bare, [0; 32]));
            }
            11 => {
                let Some((nonce, first_bare, _)) = &scram else { return Err("SCRAM data out of turn".into()) };
                let server_first = std::str::from_utf8(rest).map_err(|_| "SCRAM data that is not text")?;
                let (last, signature) = scram_client_final(password, first_bare, nonce, server_first)?;
                send(&mut s, b'p', last.as_bytes()).await?;
                scram = scram.map(|(n, f, _)| (n, f, signature));
            }
            12 => {
                let Some((_, _, signature)) = &scram else { return Err("SCRAM data out of turn".into()) };
                let server_final = std::str::from_utf8(rest).map_err(|_| "SCRAM data that is not text")?;
                let expected = format!("v={}", b64(signature));
                if server_final.trim_end_matches('\0') != expected {
                    return Err("the server's SCRAM signature is wrong: it does not know the password".into());
                }
                // Proven: the server ends with AuthenticationOk (or an error).
                scram = None;
                asked = true;
            }
            other => return Ok(Outcome::Unverified(format!("the server asks for authentication method {other}"))),
        }
    }
}

async fn read_message<S: AsyncRead + Unpin>(s: &mut S) -> Result<(u8, Vec<u8>), String> {
    let mut head = [0u8; 5];
    s.read_exact(&mut head).await.map_err(|e| format!("the server closed the connection: {e}"))?;
    let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    let len = usize::try_from(len).ok().filter(|l| (4..=MAX_MESSAGE).contains(l)).ok_or("a message of a bad size")?;
    let mut body = vec![0u8; len - 4];
    s.read_exact(&mut body).await.map_err(|e| format!("the server closed the connection: {e}"))?;
    Ok((head[0], body))
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, kind: u8, body: &[u8]) -> Result<(), String> {
    let mut msg = vec![kind];
    msg.extend(((body.len() + 4) as i32).to_be_bytes());
    msg.extend(body);
    s.write_all(&msg).await.map_err(|e| e.to_string())
}

/// An ErrorResponse: a refused password, or another reason the check could not be made.
fn server_error(body: &[u8]) -> Outcome {
    let mut state = "";
    let mut message = "";
    for field in body.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let text = std::str::from_utf8(&field[1..]).unwrap_or("");
        match field[0] {
            b'C' => state = text,
            b'M' => message = text,
            _ => {}
        }
    }
    let message = crate::validate::quote(message);
    match state {
        INVALID_PASSWORD => Outcome::Refused(format!("the server refused the password ({message})")),
        _ => Outcome::Unverified(format!("the server answered {message} (SQLSTATE {state})")),
    }
}

/// PostgreSQL's MD5 answer: `md5` + hex(md5(hex(md5(password + user)) + salt)).
fn md5_password(user: &str, password: &str, salt: &[u8; 4]) -> String {
    let inner = hex(&md5::Md5::digest(format!("{password}{user}").as_bytes()));
    let mut outer = md5::Md5::new();
    outer.update(inner.as_bytes());
    outer.update(salt);
    format!("md5{}", hex(&outer.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn client_nonce() -> Result<String, String> {
    let mut raw = [0u8; 18];
    getrandom::fill(&mut raw).map_err(|e| format!("no random numbers for the SCRAM nonce: {e}"))?;
    Ok(b64(&raw))
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// SCRAM's `Hi`: PBKDF2 with HMAC-SHA-256, one block.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut u = hmac(password, &[salt, &1u32.to_be_bytes()]);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &[&u]);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

/// The SCRAM-SHA-256 client-final message (RFC 5802, section 3, without channel binding) for the
/// server-first message, and the server signature the server must answer with.
pub fn scram_client_final(
    password: &str,
    client_first_bare: &str,
    client_nonce: &str,
    server_first: &str,
) -> Result<(String, [u8; 32]), String> {
    let attr =
        |name: &str| server_first.split(',').find_map(|a| a.strip_prefix(name).and_then(|v| v.strip_prefix('=')));
    let nonce = attr("r").filter(|n| n.starts_with(client_nonce) && n.len() > client_nonce.len());
    let nonce = nonce.ok_or("the server's SCRAM nonce does not extend this client's")?;
    let salt = attr("s").and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
    let salt = salt.ok_or("the server sent no SCRAM salt")?;
    let iterations = attr("i").and_then(|i| i.parse::<u32>().ok()).filter(|i| (1..=MAX_ITERATIONS).contains(i));
    let iterations = iterations.ok_or("the server asked for an unusable SCRAM iteration count")?;
    let salted = hi(password.as_bytes(), &salt, iterations);
    let client_key = hmac(&salted, &[b"Client Key"]);
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let client_signature = hmac(&stored_key, &[auth_message.as_bytes()]);
    let mut proof = client_key;
    proof.iter_mut().zip(client_signature).for_each(|(p, s)| *p ^= s);
    let server_key = hmac(&salted, &[b"Server Key"]);
    let server_signature = hmac(&server_key, &[auth_message.as_bytes()]);
    Ok((format!("{without_proof},p={}", b64(&proof)), server_signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677, section 3: the SCRAM-SHA-256 exchange of user `user` with password `pencil`.
    #[test]
    fn scram_follows_the_rfc_7677_example() {
        let nonce = "rOprNGfwEbeRWgbNEkqO";
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let (last, signature) =
            scram_client_final("pencil", &format!("n=user,r={nonce}"), nonce, server_first).unwrap();
        assert_eq!(
            last,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(b64(&signature), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn a_server_nonce_that_does_not_extend_the_clients_is_refused() {
        let first = "n=,r=abc";
        assert!(scram_client_final("p", first, "abc", "r=xyz,s=QUJD,i=4096").is_err());
        assert!(scram_client_final("p", first, "abc", "r=abc,s=QUJD,i=4096").is_err(), "no server part");
        assert!(scram_client_final("p", first, "abc", "r=abcd,s=QUJD,i=0").is_err());
        assert!(scram_client_final("p", first, "abc", "r=abcd,i=4096").is_err());
        assert!(scram_client_final("p", first, "abc", "r=abcd,s=QUJD,i=99999999").is_err());
        assert!(scram_client_final("p", first, "abc", "r=abcd,s=QUJD,i=1").is_ok());
    }

    /// PostgreSQL's documented construction, checked against a value computed with its formula by
    /// an independent tool (Python's hashlib).
    #[test]
    fn md5_answers_as_postgresql_expects() {
        assert_eq!(md5_password("postgres", "secret", b"\x01\x02\x03\x04"), "md5bb41a296aab6baccb36ff243a562abff");
    }

    #[test]
    fn only_invalid_password_is_a_refusal() {
        let error = |state: &str| format!("SFATAL\0C{state}\0Mpassword authentication failed\0\0").into_bytes();
        assert!(matches!(server_error(&error("28P01")), Outcome::Refused(m) if m.contains("authentication failed")));
        assert!(matches!(server_error(&error("28000")), Outcome::Unverified(m) if m.contains("28000")));
    }
}
