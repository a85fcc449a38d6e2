//! Taking over credentials made by hand (`adopt-key`, `adopt-password`): the secret is proven and
//! written as `apply` writes it, the next apply changes nothing and writes nothing (moto's recorder),
//! and every refusal writes nothing and never shows the secret.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use ocp_aws::postgres::{self, Outcome};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{self, binary_as, converge, endpoint, temp_dir, unique, unique_keyid};

/// A user with an access key made outside the tool, as a person on the console makes one.
async fn user_with_key(user: &str) -> (String, String) {
    let iam = support::iam().await;
    iam.create_user().user_name(user).send().await.unwrap();
    let key = iam.create_access_key().user_name(user).send().await.unwrap().access_key.unwrap();
    (key.access_key_id, key.secret_access_key)
}

async fn keys_of(user: &str) -> Vec<String> {
    let keys = support::iam().await.list_access_keys().user_name(user).send().await.unwrap();
    keys.access_key_metadata().iter().filter_map(|k| k.access_key_id()).map(str::to_string).collect()
}

fn write_pillar(pillar: &Value) -> String {
    let file = temp_dir("adopt-pillar").join("pillar.yaml");
    std::fs::write(&file, serde_yaml::to_string(&json!({"ocp_aws": pillar})).unwrap()).unwrap();
    file.to_string_lossy().into_owned()
}

/// Runs `ocp-aws adopt-key|adopt-password ARGS --endpoint-url ...` with `stdin`; checks that the
/// secret shows nowhere in its output. Returns (status, stdout + stderr).
fn adopt(args: &[&str], stdin: &str, secret: &str) -> (i32, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--endpoint-url", endpoint()]);
    let (status, out, err) = binary_as(&unique_keyid(), &all, stdin);
    assert!(!out.contains(secret) && !err.contains(secret), "the secret was printed: {out}{err}");
    (status, format!("{out}{err}"))
}

#[tokio::test]
async fn a_key_made_by_hand_is_adopted_and_the_next_apply_writes_nothing() {
    let user = unique("adopted");
    let (id, secret) = user_with_key(&user).await;
    let dir = temp_dir("adopt-key");
    let file = dir.join("backup.sls").to_string_lossy().into_owned();
    // The file already holds another resource's section, which must be kept byte for byte.
    let other = "other:\n  aws_access_key_id: AKIAOTHER   # kept\n";
    std::fs::write(&file, format!("{}{other}", ocp_aws::secrets::HEADER)).unwrap();
    let pillar = json!({"iam": {"users": {&user: {"access_key": {"secret_file": &file, "pillar_key": "backup"}}}}});
    let pillar_file = write_pillar(&pillar);

    let (status, out) = adopt(&["adopt-key", &user, "-f", &pillar_file], &format!("{secret}\n"), &secret);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains(&id) && out.contains(&format!("written to {file} under backup")), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with(ocp_aws::secrets::HEADER) && text.contains(other), "{text}");
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(doc["backup"], json!({"aws_access_key_id": id, "aws_secret_access_key": secret}));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

    let run = converge(&pillar, false).await;
    assert!(run.unchanged(), "{:#?}", run.returns);
    assert_eq!(run.writes(), Vec::<String>::new(), "no rotation, no writes");
    assert_eq!(keys_of(&user).await, std::slice::from_ref(&id), "no new key");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "the file is unchanged");
    assert!(!run.response.to_string().contains(&secret));
}

#[tokio::test]
async fn an_smtp_users_key_is_adopted_from_flags_as_its_passwords() {
    let user = unique("smtp-adopted");
    let (id, secret) = user_with_key(&user).await;
    // The console's SMTP user: allowed to send raw email, nothing else.
    let policy = json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]});
    let iam = support::iam().await;
    let put = iam.put_user_policy().user_name(&user).policy_name("AmazonSesSendingAccess");
    put.policy_document(policy.to_string()).send().await.unwrap();
    let file = temp_dir("adopt-smtp").join("smtp.sls").to_string_lossy().into_owned();

    let args = ["adopt-key", &user, "--smtp", "--regions", "eu-west-2,us-east-1", "--secret-file", &file];
    let (status, out) = adopt(&args, &secret, &secret);
    assert_eq!(status, 0, "{out}");
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let password = ocp_aws::resources::ses::smtp_credentials::smtp_password(&secret, "eu-west-2");
    assert_eq!(doc["eu-west-2"]["smtp_username"], json!(id));
    assert_eq!(doc["eu-west-2"]["smtp_password"], json!(password));
    assert!(!out.contains(&password), "{out}");

    let pillar =
        json!({"ses": {"smtp_credentials": {&user: {"secret_file": &file, "regions": ["us-east-1", "eu-west-2"]}}}});
    let run = converge(&pillar, false).await;
    assert!(run.unchanged(), "{:#?}", run.returns);
    assert_eq!(run.writes(), Vec::<String>::new());
    assert_eq!(keys_of(&user).await, [id]);
}

#[tokio::test]
async fn keys_that_cannot_be_proven_are_refused_and_nothing_is_written() {
    let (user, other) = (unique("adopt-no"), unique("adopt-other"));
    let (id, secret) = user_with_key(&user).await;
    let (other_id, other_secret) = user_with_key(&other).await;
    let dir = temp_dir("adopt-refused");
    let file = dir.join("k.sls").to_string_lossy().into_owned();
    let base = ["adopt-key", user.as_str(), "--secret-file", file.as_str(), "--pillar-key", "k"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }
    let written = || std::path::Path::new(&file).exists();

    let wrong = "x".repeat(40);
    let (status, out) = adopt(&base, &wrong, &wrong);
    assert!(status == 1 && out.contains("SignatureDoesNotMatch") && out.contains(&id), "{out}");
    assert!(!written());

    // Another user's key with its own secret: not this user's key.
    let (status, out) = adopt(&with(&base, &["--access-key-id", &other_id]), &other_secret, &other_secret);
    assert!(status == 1 && out.contains(&format!("{other_id} is not one of")), "{out}");
    // The user's key id with another user's secret: the signature does not match.
    let (status, out) = adopt(&base, &other_secret, &other_secret);
    assert!(status == 1 && out.contains("SignatureDoesNotMatch"), "{out}");
    assert!(!written());

    let nobody = unique("nobody");
    let (status, out) = adopt(&["adopt-key", &nobody, "--secret-file", &file], &secret, &secret);
    assert!(status == 1 && out.contains(&format!("IAM user {nobody} does not exist")), "{out}");

    let second = support::iam().await.create_access_key().user_name(&user).send().await.unwrap();
    let second_id = second.access_key.unwrap().access_key_id;
    let (status, out) = adopt(&base, &secret, &secret);
    assert!(status == 2 && out.contains(&id) && out.contains(&second_id) && out.contains("--access-key-id"), "{out}");
    assert!(!written());
    // Named, the right one is adopted even with two.
    let (status, out) = adopt(&with(&base, &["--access-key-id", &id]), &secret, &secret);
    assert!(status == 0 && out.contains(&second_id) && out.contains("no secret file holds"), "{out}");
    std::fs::remove_file(&file).unwrap();

    let (status, out) = adopt(&base, "", &secret);
    assert!(status == 2 && out.contains("no secret access key on stdin"), "{out}");

    // A hand-written file is never rewritten.
    let foreign = "# my pillar\nbackup:\n  password: keep-me\n";
    std::fs::write(&file, foreign).unwrap();
    let (status, out) = adopt(&with(&base, &["--access-key-id", &id]), &secret, &secret);
    assert!(status == 1 && out.contains("was not written by ocp-aws"), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), foreign);
    assert_eq!(keys_of(&user).await.len(), 2, "nothing was created or deleted");
}

#[tokio::test]
async fn a_password_set_by_hand_is_stored_unverified_and_the_next_apply_keeps_it() {
    let (db, group) = (unique("adopted-db"), unique("pg-adopt"));
    let file = temp_dir("adopt-db").join("db.sls").to_string_lossy().into_owned();
    let pillar = json!({
        "ec2": {"security_groups": {&group: {"description": "PostgreSQL",
            "ingress": [{"protocol": "tcp", "port": 5432, "cidr": ["0.0.0.0/0"]}]}}},
        "rds": {"instances": {&db: {"public": true, "security_groups": [&group], "backups": false,
            "encrypted": false, "performance_insights": false, "secret_file": &file, "pillar_key": "db"}}}
    });
    assert!(converge(&pillar, false).await.all(Some(true)));
    // The password is reset on the console and the file is lost: the next apply would fail.
    let password = "Hand-made-pass-123";
    let rds = aws_sdk_rds::Client::new(&support::sdk().await);
    let reset = rds.modify_db_instance().db_instance_identifier(&db).master_user_password(password);
    reset.apply_immediately(true).send().await.unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(converge(&pillar, true).await.returns.iter().any(|r| r.result == Some(false)));

    let pillar_file = write_pillar(&pillar);
    let (status, out) = adopt(&["adopt-password", &db, "-f", &pillar_file], &format!("{password}\n"), password);
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains("was NOT verified") && out.contains(&format!("written with its connection details to {file}"))
    );
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["db"]["password"], json!(password));
    assert_eq!(doc["db"]["user"], json!("postgres"));

    let run = converge(&pillar, false).await;
    assert!(run.unchanged(), "{:#?}", run.returns);
    assert_eq!(run.writes(), Vec::<String>::new(), "the password is not reset");
    assert!(!run.response.to_string().contains(password));

    // A second adoption into a file that holds a password is refused; so is an unknown instance.
    let (status, out) = adopt(&["adopt-password", &db, "-f", &pillar_file], password, password);
    assert!(status == 1 && out.contains("already holds a password"), "{out}");
    let (status, out) = adopt(&["adopt-password", "no-such-db", "--secret-file", &file], password, password);
    assert!(status == 1 && out.contains("RDS instance no-such-db does not exist"), "{out}");
}

// ---- the password check against a PostgreSQL server on 127.0.0.1 ----------------------------

/// What the fake server does after the startup message.
#[derive(Clone, Copy)]
enum Server {
    /// SCRAM-SHA-256 with this password, as PostgreSQL does it.
    Scram(&'static str),
    /// SCRAM, but it answers with a server signature made without knowing the password.
    ScramImpostor,
    /// Lets anyone in (`trust`).
    Trust,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn message(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut kind = [0u8; 1];
    s.read_exact(&mut kind).await.unwrap();
    let len = s.read_i32().await.unwrap() as usize;
    let mut body = vec![0u8; len - 4];
    s.read_exact(&mut body).await.unwrap();
    body
}

async fn send(s: &mut tokio::net::TcpStream, kind: u8, body: &[u8]) {
    let mut m = vec![kind];
    m.extend(((body.len() + 4) as i32).to_be_bytes());
    m.extend(body);
    s.write_all(&m).await.unwrap();
}

async fn auth(s: &mut tokio::net::TcpStream, code: i32, data: &[u8]) {
    send(s, b'R', &[code.to_be_bytes().as_slice(), data].concat()).await;
}

/// A server that speaks PostgreSQL's protocol up to the end of authentication (RFC 5802 / 7677 on
/// the server side, written from the RFC, not from the client under test), for one connection.
async fn fake_postgres(server: Server) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut ssl = [0u8; 8];
        s.read_exact(&mut ssl).await.unwrap();
        assert_eq!(&ssl[4..], 80877103i32.to_be_bytes(), "an SSLRequest first");
        s.write_all(b"N").await.unwrap();
        let len = s.read_i32().await.unwrap() as usize;
        let mut startup = vec![0u8; len - 4];
        s.read_exact(&mut startup).await.unwrap();
        assert!(startup.windows(14).any(|w| w == b"user\0postgres\0"), "{startup:?}");
        let password = match server {
            Server::Trust => return auth(&mut s, 0, &[]).await,
            Server::Scram(p) => p,
            Server::ScramImpostor => "not-the-password",
        };
        auth(&mut s, 10, b"SCRAM-SHA-256\0\0").await;
        let initial = message(&mut s).await;
        let rest = initial.strip_prefix(b"SCRAM-SHA-256\0".as_slice()).expect("the mechanism");
        let client_first = std::str::from_utf8(&rest[4..]).unwrap().to_string();
        let first_bare = client_first.strip_prefix("n,,").expect("no channel binding").to_string();
        let nonce = format!("{}server-part", first_bare.split("r=").nth(1).unwrap());
        let salt = b"0123456789abcdef";
        let server_first = format!("r={nonce},s={},i=4096", b64(salt));
        auth(&mut s, 11, server_first.as_bytes()).await;
        let last = String::from_utf8(message(&mut s).await).unwrap();
        let (without_proof, proof) = last.rsplit_once(",p=").unwrap();
        assert_eq!(without_proof, format!("c=biws,r={nonce}"));
        // Hi(password, salt, 4096), then the RFC's keys.
        let mut u = hmac(password.as_bytes(), &[salt.as_slice(), &[0, 0, 0, 1]].concat());
        let mut salted = u.clone();
        for _ in 1..4096 {
            u = hmac(password.as_bytes(), &u);
            salted.iter_mut().zip(&u).for_each(|(a, b)| *a ^= b);
        }
        let auth_message = format!("{first_bare},{server_first},{without_proof}");
        let stored_key = Sha256::digest(hmac(&salted, b"Client Key")).to_vec();
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof = base64::engine::general_purpose::STANDARD.decode(proof).unwrap();
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        let right = Sha256::digest(&client_key).to_vec() == stored_key;
        if matches!(server, Server::Scram(_)) && !right {
            let error = b"SFATAL\0C28P01\0Mpassword authentication failed for user \"postgres\"\0\0";
            return send(&mut s, b'E', error).await;
        }
        let server_key = hmac(&salted, b"Server Key");
        auth(&mut s, 12, format!("v={}", b64(&hmac(&server_key, auth_message.as_bytes()))).as_bytes()).await;
        auth(&mut s, 0, &[]).await;
    });
    port
}

async fn check(port: u16, password: &str) -> Outcome {
    postgres::check("127.0.0.1", port, "postgres", "postgres", password, Duration::from_secs(10)).await
}

#[tokio::test]
async fn the_password_check_logs_in_with_scram_and_tells_wrong_from_unknown() {
    let port = fake_postgres(Server::Scram("Hand-made-pass-123")).await;
    assert_eq!(check(port, "Hand-made-pass-123").await, Outcome::Accepted);
    let port = fake_postgres(Server::Scram("Hand-made-pass-123")).await;
    assert!(matches!(check(port, "wrong").await, Outcome::Refused(m) if m.contains("authentication failed")));
    // A server that does not know the password cannot pretend to accept it.
    let port = fake_postgres(Server::ScramImpostor).await;
    assert!(matches!(check(port, "Hand-made-pass-123").await, Outcome::Unverified(m) if m.contains("signature")));
    let port = fake_postgres(Server::Trust).await;
    assert!(matches!(check(port, "anything").await, Outcome::Unverified(m) if m.contains("without asking")));
    // Nobody listening: not verified, and said why.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    assert!(matches!(check(closed, "x").await, Outcome::Unverified(m) if m.contains("cannot connect")));
}

/// A real PostgreSQL on 127.0.0.1 from the machine's own binaries (run as `postgres` when the tests
/// run as root): TLS only, SCRAM-SHA-256, as RDS with `rds.force_ssl` has it. Stopped when dropped.
struct RealPostgres {
    port: u16,
    server: std::process::Child,
}

impl RealPostgres {
    /// `None` when no PostgreSQL is installed (the caller says the test is skipped).
    fn start(password: &str) -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql").ok()?.filter_map(|e| e.ok()).map(|e| e.path().join("bin"));
        let bin = bin.filter(|b| b.join("initdb").exists()).max()?;
        let dir = temp_dir("postgres");
        std::fs::write(dir.join("pw"), format!("{password}\n")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = r#"set -e
            dir=$1 bin=$2 port=$3
            openssl req -new -x509 -days 1 -nodes -subj /CN=localhost -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
            chmod 600 "$dir/key.pem"
            as=""
            if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; as="setpriv --reuid=postgres --regid=postgres --init-groups"; fi
            $as "$bin/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pw" >/dev/null
            echo "hostssl all all 127.0.0.1/32 scram-sha-256" > "$dir/data/pg_hba.conf"
            exec $as "$bin/postgres" -D "$dir/data" -k "$dir" -c listen_addresses=127.0.0.1 -p "$port" -c ssl=on \
                -c ssl_cert_file="$dir/cert.pem" -c ssl_key_file="$dir/key.pem""#;
        let child = std::process::Command::new("bash")
            .args(["-c", script, "postgres"])
            .args([dir.to_str().unwrap(), bin.to_str().unwrap(), &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = RealPostgres { port, server: child };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        // Ready once it accepts sessions, not merely connections (while starting up it refuses them).
        let ready = || {
            let probe = std::process::Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status();
            probe.is_ok_and(|s| s.success())
        };
        while !ready() {
            assert!(std::time::Instant::now() < deadline, "PostgreSQL did not start on port {port}");
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(server)
    }
}

impl Drop for RealPostgres {
    fn drop(&mut self) {
        // The script exec'd postgres, so this id is the server itself; SIGTERM lets it shut down cleanly.
        let _ = std::process::Command::new("kill").args(["-TERM", &self.server.id().to_string()]).status();
        let _ = self.server.wait();
    }
}

#[tokio::test]
async fn the_password_check_logs_in_to_a_real_postgresql_over_tls() {
    let Some(pg) = RealPostgres::start("Real-pass-123") else {
        eprintln!("skipped: no PostgreSQL under /usr/lib/postgresql");
        return;
    };
    assert_eq!(check(pg.port, "Real-pass-123").await, Outcome::Accepted, "only TLS connections are allowed");
    assert!(matches!(check(pg.port, "wrong-pass").await, Outcome::Refused(m) if m.contains("authentication failed")));
}
