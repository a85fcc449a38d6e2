//! The `ocp-aws` command: parses arguments, calls the library, maps outcomes to exit statuses.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use ocp_aws::app::{self, EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use ocp_aws::aws::Connection;
use ocp_aws::{dns, pillar, report};

/// Converge AWS mail, database, backup and access setup from Salt Pillar.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read one JSON request on stdin, write one JSON response on stdout (the Salt shims use this).
    Stdio,
    /// Show what `apply` would change (test mode: reads only, never writes).
    Plan(Converge),
    /// Converge AWS to the Pillar file.
    Apply(Converge),
    /// Check a Pillar file without touching AWS.
    Validate {
        /// YAML or JSON file with a top-level `ocp_aws` key.
        #[arg(short, long)]
        file: PathBuf,
    },
    /// Print the Pillar JSON Schema.
    Schema {
        /// Write it to $XDG_DATA_HOME/ocp-aws/pillar.schema.json (default ~/.local/share/...) instead,
        /// and print the yaml-language-server modeline to put at the top of Pillar files: an absolute
        /// path, so the modeline keeps working wherever the file is copied on this machine.
        #[arg(long)]
        install: bool,
    },
    /// DNS records of an SES domain identity.
    #[command(subcommand)]
    Dns(Dns),
    /// Read SES notifications.
    #[command(subcommand)]
    Notification(Notification),
    /// SES checks that send and receive mail.
    #[command(subcommand)]
    Ses(Ses),
    /// What AWS has of one resource, e.g. `describe rds.db_instance analysis -f pillar.yaml`: for a
    /// DB instance, its connection details (never its password).
    Describe {
        /// The kind, e.g. `rds.db_instance`.
        kind: String,
        /// The resource's name, e.g. the DB instance identifier.
        name: String,
        /// A Pillar file holding the resource's settings (its region, secret file, ...).
        #[arg(short, long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Take over an access key made by hand, without rotating it: reads its secret from stdin (never
    /// from arguments), proves it with AWS (STS GetCallerIdentity signed with it must answer the
    /// user's ARN), then writes the secret file as `apply` would, so that the next apply keeps the key.
    AdoptKey(AdoptKey),
    /// Take over an RDS instance's master password set by hand: reads it from stdin, checks it by
    /// logging in when the instance is reachable (else says it was not verified), then writes the
    /// secret file as `apply` would, so that the next apply does not reset it.
    AdoptPassword(AdoptPassword),
    /// Print what the account has as an `ocp_aws` Pillar (YAML with the `$schema` modeline), or with
    /// `--diff PILLAR_FILE` what it has that the file leaves out. Reads only; progress on stderr.
    Export(ExportArgs),
    /// Print the SES SMTP password for a secret access key read from stdin (never from arguments).
    SmtpPassword {
        /// SES region of the SMTP endpoint.
        #[arg(long)]
        region: String,
    },
}

#[derive(Subcommand)]
enum Dns {
    /// The records to create at the registrar, computed from what SES reports.
    Records(DnsArgs),
    /// Resolve the records and report each as present, missing or wrong, and DMARC alignment.
    Check {
        #[command(flatten)]
        args: DnsArgs,
        /// Ask this nameserver (IP or IP:PORT) instead of the system's resolver.
        #[arg(long)]
        nameserver: Option<String>,
    },
}

#[derive(Subcommand)]
enum Ses {
    /// Send a message through SES to an address whose mail SES receives, read it back from S3, and
    /// report its SPF, DKIM and DMARC results and the published `_dmarc` policy. Exit status 0 only
    /// when DMARC passes through a DKIM signature aligned with the From domain. The receiving setup
    /// is put back as it was afterwards.
    DmarcCheck {
        /// The sender: an address of an SES identity of this account.
        #[arg(long)]
        from: String,
        /// The recipient: an address whose domain's MX is SES's inbound host in the region.
        #[arg(long)]
        to: String,
        /// The bucket SES stores the message in (default ocp-aws-verification).
        #[arg(long)]
        bucket: Option<String>,
        /// The key prefix of the stored message (default dmarc-check/).
        #[arg(long)]
        prefix: Option<String>,
        /// Ask this nameserver (IP or IP:PORT) instead of the system's resolver; may be repeated.
        #[arg(long)]
        nameserver: Vec<String>,
        #[arg(long, value_enum, default_value_t = Output::Human)]
        output: Output,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

#[derive(Subcommand)]
enum Notification {
    /// What a bounce, complaint, delay, reject or rendering failure says, and what to do about it:
    /// from the SNS email body, the SNS JSON message or the SES notification, detected automatically.
    Explain {
        /// A file holding the notification, or `-` (the default) for stdin.
        #[arg(default_value = "-")]
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Output::Human)]
        output: Output,
    },
}

#[derive(clap::Args)]
struct DnsArgs {
    /// The SES domain identity, e.g. open-contracting.org.
    domain: String,
    /// The zone the registrar manages, for relative host names (default: the domain).
    #[arg(long)]
    zone: Option<String>,
    /// Include the MX record for receiving mail with SES.
    #[arg(long)]
    receiving: bool,
    /// The DMARC record to suggest.
    #[arg(long)]
    dmarc: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Human)]
    output: Output,
    #[command(flatten)]
    conn: ConnArgs,
}

impl DnsArgs {
    /// The domain identity's settings these flags give.
    fn identity_params(&self) -> serde_json::Value {
        let mut params = serde_json::json!({"zone": self.zone, "receiving": self.receiving, "dmarc": self.dmarc});
        if let Some(m) = params.as_object_mut() {
            m.retain(|_, v| !v.is_null());
            if let Some(r) = &self.conn.region {
                m.insert("region".into(), r.clone().into());
            }
        }
        params
    }
}

#[derive(clap::Args)]
struct ConnArgs {
    /// Region (default us-east-1).
    #[arg(long)]
    region: Option<String>,
    #[command(flatten)]
    aws: AwsArgs,
}

/// The connection's flags besides the region, which `export` takes more than once.
#[derive(clap::Args)]
struct AwsArgs {
    /// Named profile of the AWS shared config files.
    #[arg(long)]
    profile: Option<String>,
    /// Endpoint override, e.g. a local test server (AWS_ENDPOINT_URL works too).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Seconds each attempt of an AWS call may take (default 20).
    #[arg(long)]
    timeout: Option<u64>,
    /// Attempts per AWS call, the first included (default 5).
    #[arg(long)]
    attempts: Option<u32>,
}

impl ConnArgs {
    /// The connection the flags describe; a bad flag value is an error naming the flag.
    fn connection(&self) -> anyhow::Result<Connection> {
        let conn = Connection {
            region: self.region.clone(),
            profile: self.aws.profile.clone(),
            endpoint_url: self.aws.endpoint_url.clone(),
            timeout: self.aws.timeout,
            attempts: self.aws.attempts,
            ..Connection::default()
        };
        let errors: Vec<String> = conn
            .check("connection")
            .iter()
            .map(|e| {
                e.to_string()
                    .replace("connection.endpoint_url", "--endpoint-url")
                    .replace("connection.region", "--region")
                    .replace("connection.timeout", "--timeout")
                    .replace("connection.attempts", "--attempts")
            })
            .collect();
        match errors.is_empty() {
            true => Ok(conn),
            false => Err(InvalidFlags(errors.join("; ")).into()),
        }
    }
}

/// Flags whose values cannot be used: exit status 2, like any invalid input.
#[derive(Debug)]
struct InvalidFlags(String);

impl std::fmt::Display for InvalidFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidFlags {}

#[derive(clap::Args)]
struct Converge {
    /// YAML or JSON file with a top-level `ocp_aws` key.
    #[arg(short, long)]
    file: PathBuf,
    #[arg(long, value_enum, default_value_t = Output::Human)]
    output: Output,
    /// Default region for resources and a Pillar that name none (else us-east-1).
    #[command(flatten)]
    conn: ConnArgs,
    /// How many resources to work on at once.
    #[arg(long, default_value_t = ocp_aws::engine::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Ask this nameserver (IP or IP:PORT) for the run's DNS lookups instead of the Pillar's
    /// `nameservers` or the system's resolver; may be repeated.
    #[arg(long)]
    nameserver: Vec<String>,
}

#[derive(clap::Args)]
struct AdoptKey {
    /// The IAM user (or, with --smtp, the SES SMTP user) whose access key is adopted.
    user: String,
    /// A Pillar file whose iam.users or ses.smtp_credentials entry for USER gives the secret file
    /// settings (instead of --secret-file and the flags after it).
    #[arg(short, long, conflicts_with_all = ["secret_file", "smtp"])]
    file: Option<PathBuf>,
    #[command(flatten)]
    target: SecretFileArgs,
    /// USER is an SES SMTP user (`ses.smtp_credentials`): the file gets its SMTP passwords.
    #[arg(long)]
    smtp: bool,
    /// With --smtp: the SES regions to write an SMTP password for, comma-separated (default: --region).
    #[arg(long, value_delimiter = ',', requires = "smtp")]
    regions: Option<Vec<String>>,
    /// The access key the secret belongs to; needed when the user has two.
    #[arg(long)]
    access_key_id: Option<String>,
    #[command(flatten)]
    conn: ConnArgs,
}

#[derive(clap::Args)]
struct AdoptPassword {
    /// The DB instance identifier.
    instance: String,
    /// A Pillar file whose rds.instances entry for INSTANCE gives the secret file settings (instead
    /// of --secret-file and the flags after it).
    #[arg(short, long, conflicts_with = "secret_file")]
    file: Option<PathBuf>,
    #[command(flatten)]
    target: SecretFileArgs,
    #[command(flatten)]
    conn: ConnArgs,
}

/// Where a secret goes: the Pillar's secret-file settings, as flags.
#[derive(clap::Args)]
struct SecretFileArgs {
    /// Absolute path of the secret file (the Pillar's `secret_file`).
    #[arg(long, required_unless_present = "file")]
    secret_file: Option<String>,
    /// The top-level key of the file to write under (the Pillar's `pillar_key`).
    #[arg(long, requires = "secret_file")]
    pillar_key: Option<String>,
    /// The file's permission bits, as octal text (default 0600).
    #[arg(long, requires = "secret_file")]
    mode: Option<String>,
    /// The user that owns the file (name or numeric id).
    #[arg(long, requires = "secret_file")]
    owner: Option<String>,
    /// The group that owns the file (name or numeric id).
    #[arg(long, requires = "secret_file")]
    group: Option<String>,
}

impl SecretFileArgs {
    /// The settings as the Pillar spells them.
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        for (k, v) in [
            ("secret_file", &self.secret_file),
            ("pillar_key", &self.pillar_key),
            ("mode", &self.mode),
            ("owner", &self.owner),
            ("group", &self.group),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.clone().into());
            }
        }
        m
    }
}

impl AdoptKey {
    /// The kind and the Pillar entry the flags describe.
    fn entry(&self) -> (ocp_aws::resources::KindId, serde_json::Value) {
        use ocp_aws::resources::KindId;
        let mut settings = self.target.params();
        match self.smtp {
            true => {
                if let Some(r) = &self.regions {
                    settings.insert("regions".into(), r.clone().into());
                }
                (KindId::SesSmtpCredentials, settings.into())
            }
            false => (KindId::IamUser, serde_json::json!({"access_key": settings})),
        }
    }
}

/// A secret from stdin: one trailing newline is not part of it; an empty one is refused.
fn read_secret(what: &str) -> anyhow::Result<ocp_aws::secrets::Secret> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Paste the {what}, then press Enter and Ctrl-D:");
    }
    let mut text = String::new();
    stdin.lock().take(64 << 10).read_to_string(&mut text).with_context(|| format!("reading the {what} from stdin"))?;
    let one_line = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    if one_line.is_empty() {
        return Err(InvalidFlags(format!(
            "no {what} on stdin: give it there, never as an argument (e.g. `< file`, or paste it at the prompt)"
        ))
        .into());
    }
    if one_line.chars().any(char::is_control) {
        return Err(InvalidFlags(format!("the {what} on stdin holds more than one line or a control character")).into());
    }
    Ok(ocp_aws::secrets::Secret::new(one_line))
}

#[derive(clap::Args)]
struct ExportArgs {
    /// A region to read; repeat it for more. The first is the Pillar's `region`, and IAM is read
    /// there (default us-east-1; with --diff, the regions of the Pillar).
    #[arg(long = "region", value_name = "REGION")]
    regions: Vec<String>,
    /// Only these kinds, comma-separated: kind ids or Pillar sections, e.g. s3.bucket,iam.users.
    #[arg(long)]
    kinds: Option<String>,
    /// Only resources whose name matches this glob (`*` any run of characters, `?` one).
    #[arg(long)]
    names: Option<String>,
    /// The folder the placeholders of secret files (access keys, passwords) point into.
    #[arg(long, default_value = ocp_aws::export::DEFAULT_SECRET_DIR)]
    secret_dir: String,
    /// List what the account has that this Pillar file leaves out, one `kind name (region)` a line.
    #[arg(long, value_name = "PILLAR_FILE")]
    diff: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ExportOutput::Yaml)]
    output: ExportOutput,
    #[command(flatten)]
    aws: AwsArgs,
    /// How many AWS reads to run at once.
    #[arg(long, default_value_t = ocp_aws::engine::DEFAULT_CONCURRENCY)]
    concurrency: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportOutput {
    /// The Pillar as YAML, with comments and placeholders.
    Yaml,
    /// The Pillar's `ocp_aws` value as JSON (entries that need a secret file first left out).
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    /// One line per resource, then the changed fields.
    Human,
    /// The Salt-shaped list of state returns.
    Json,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(status) => ExitCode::from(status as u8),
        Err(e) => {
            eprintln!("ocp-aws: {e:#}");
            let status = if e.is::<InvalidFlags>() { EXIT_INVALID } else { EXIT_FAILED };
            ExitCode::from(status as u8)
        }
    }
}

/// Writes to stdout; a reader that went away (`ocp-aws schema | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match cli.command {
        Command::Stdio => {
            let mut input = Vec::new();
            std::io::stdin()
                .take(app::MAX_REQUEST_BYTES as u64 + 1)
                .read_to_end(&mut input)
                .context("reading the request from stdin")?;
            let outcome = runtime.block_on(app::handle(&input));
            emit(&format!("{}\n", outcome.to_json()))?;
            Ok(outcome.status)
        }
        Command::Schema { install: false } => {
            emit(&format!("{}\n", serde_json::to_string_pretty(&app::schema())?))?;
            Ok(EXIT_OK)
        }
        Command::Schema { install: true } => {
            let path = schema_path()?;
            let data = path.parent().unwrap_or(&path).to_path_buf();
            std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
            std::fs::write(&path, format!("{}\n", serde_json::to_string_pretty(&app::schema())?))
                .with_context(|| format!("writing {}", path.display()))?;
            emit(&format!("# yaml-language-server: $schema={}\n", path.display()))?;
            Ok(EXIT_OK)
        }
        Command::Validate { file } => {
            let errors = match load(&file) {
                Ok(v) => app::validate(&v, None).errors,
                Err(e) => vec![ocp_aws::error::Invalid::new("", e.to_string())],
            };
            if errors.is_empty() {
                emit(&format!("{}: valid.\n", file.display()))?;
                return Ok(EXIT_OK);
            }
            for e in errors {
                eprintln!("{}: {e}", file.display());
            }
            Ok(EXIT_INVALID)
        }
        Command::Dns(Dns::Records(args)) => {
            let conn = args.conn.connection()?;
            let params = args.identity_params();
            let human = matches!(args.output, Output::Human);
            let records = runtime.block_on(app::domain_records(&args.domain, &params, &conn));
            match records {
                Ok((records, _)) if human => emit(&dns::table(&records))?,
                Ok((records, _)) => emit(&format!("{}\n", serde_json::to_string_pretty(&records)?))?,
                Err(e) => return Ok(fail(&e)),
            }
            Ok(EXIT_OK)
        }
        Command::Dns(Dns::Check { args, nameserver }) => {
            let conn = args.conn.connection()?;
            let nameserver = match nameserver.as_deref().map(|ns| app::parse_nameserver(ns, "--nameserver")) {
                Some(Err(e)) => return Ok(fail(&e)),
                Some(Ok(ns)) => Some(ns),
                None => None,
            };
            let params = args.identity_params();
            let check = match runtime.block_on(app::dns_check(&args.domain, &params, &conn, nameserver)) {
                Ok(check) => check,
                Err(e) => return Ok(fail(&e)),
            };
            match args.output {
                Output::Human => emit(&dns::check_report(&check))?,
                Output::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&check)?))?,
            }
            Ok(if check["ok"] == true { EXIT_OK } else { EXIT_FAILED })
        }
        Command::Ses(Ses::DmarcCheck { from, to, bucket, prefix, nameserver, output, conn }) => {
            let conn = conn.connection()?;
            let args = app::DmarcCheck { from, to, region: None, bucket, prefix, nameservers: nameserver };
            let report = match runtime.block_on(app::dmarc_check(&args, &conn)) {
                Ok(report) => report,
                Err(e) => return Ok(fail(&e)),
            };
            match output {
                Output::Human => emit(&report.to_string())?,
                Output::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?,
            }
            Ok(if report.passes { EXIT_OK } else { EXIT_FAILED })
        }
        Command::Describe { kind, name, file, conn } => {
            let mut params = serde_json::json!({});
            if let Some(file) = &file {
                let pillar = match load(file) {
                    Ok(v) => v,
                    Err(e) => {
                        eprintln!("{}: {e}", file.display());
                        return Ok(EXIT_INVALID);
                    }
                };
                let entry = ocp_aws::resources::KindId::from_id(&kind).and_then(|k| pillar.pointer(&k.pointer(&name)));
                if let Some(entry) = entry {
                    params = entry.clone();
                }
                // The resource's region, else the Pillar's.
                if let (Some(m), Some(region)) = (params.as_object_mut(), pillar.get("region")) {
                    m.entry("region").or_insert_with(|| region.clone());
                }
            }
            let request = ocp_aws::protocol::CallRequest {
                function: "describe".into(),
                kind: Some(kind),
                name: Some(name),
                params,
                connection: conn.connection()?,
            };
            match runtime.block_on(app::call(&request)) {
                Ok(v) => emit(&format!("{}\n", serde_json::to_string_pretty(&v)?))?,
                Err(e) => return Ok(fail(&e)),
            }
            Ok(EXIT_OK)
        }
        Command::AdoptKey(args) => {
            let conn = args.conn.connection()?;
            let (kind, params) = match &args.file {
                Some(file) => match load(file).and_then(|p| ocp_aws::adopt::key_entry(&p, &args.user)) {
                    Ok(found) => found,
                    Err(e) => {
                        eprintln!("{}: {e}", file.display());
                        return Ok(EXIT_INVALID);
                    }
                },
                None => args.entry(),
            };
            let secret = read_secret("secret access key")?;
            let key_id = args.access_key_id.as_deref();
            match runtime.block_on(ocp_aws::adopt::adopt_key(&conn, kind, &args.user, &params, key_id, &secret)) {
                Ok(done) => emit(&format!("{}\n", done.comment))?,
                Err(e) => return Ok(fail(&e)),
            }
            Ok(EXIT_OK)
        }
        Command::AdoptPassword(args) => {
            let conn = args.conn.connection()?;
            let params = match &args.file {
                Some(file) => match load(file).and_then(|p| ocp_aws::adopt::instance_entry(&p, &args.instance)) {
                    Ok(found) => found,
                    Err(e) => {
                        eprintln!("{}: {e}", file.display());
                        return Ok(EXIT_INVALID);
                    }
                },
                None => args.target.params().into(),
            };
            let password = read_secret("database password")?;
            match runtime.block_on(ocp_aws::adopt::adopt_password(&conn, &args.instance, &params, &password)) {
                Ok(done) => emit(&format!("{}\n", done.comment))?,
                Err(e) => return Ok(fail(&e)),
            }
            Ok(EXIT_OK)
        }
        Command::SmtpPassword { region } => {
            let secret = read_secret("secret access key")?;
            match app::smtp_password(secret.expose(), &region, "stdin", "--region") {
                Ok(password) => {
                    emit(&format!("{password}\n"))?;
                    Ok(EXIT_OK)
                }
                Err(e) => Ok(fail(&e)),
            }
        }
        Command::Notification(Notification::Explain { file, output }) => {
            let mut text = String::new();
            let limit = ocp_aws::notification::MAX_BYTES as u64 + 1;
            let read = match file.to_str() {
                Some("-") => std::io::stdin().take(limit).read_to_string(&mut text),
                _ => std::fs::File::open(&file).and_then(|f| f.take(limit).read_to_string(&mut text)),
            };
            if let Err(e) = read {
                eprintln!("ocp-aws: {}: {e}", file.display());
                return Ok(EXIT_INVALID);
            }
            match ocp_aws::notification::explain(&text) {
                Ok(x) => match output {
                    Output::Human => emit(&ocp_aws::notification::human(&x))?,
                    Output::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&x)?))?,
                },
                Err(e) => return Ok(fail(&e)),
            }
            Ok(EXIT_OK)
        }
        Command::Export(args) => export(&runtime, args),
        Command::Plan(args) => converge(&runtime, args, true),
        Command::Apply(args) => converge(&runtime, args, false),
    }
}

/// Where `schema --install` puts the schema: $XDG_DATA_HOME/ocp-aws/pillar.schema.json.
fn schema_path() -> anyhow::Result<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .context("neither XDG_DATA_HOME nor HOME is set")?;
    Ok(data.join("ocp-aws").join("pillar.schema.json"))
}

fn export(runtime: &tokio::runtime::Runtime, args: ExportArgs) -> anyhow::Result<i32> {
    let conn = ConnArgs { region: args.regions.first().cloned(), aws: args.aws }.connection()?;
    let kinds = match args.kinds.as_deref().map(ocp_aws::export::parse_kinds) {
        Some(Err(e)) => return Ok(fail(&e)),
        Some(Ok(k)) => k,
        None => Vec::new(),
    };
    let mut opts = ocp_aws::export::Options {
        regions: args.regions,
        kinds,
        names: args.names,
        secret_dir: args.secret_dir,
        concurrency: args.concurrency.max(1),
    };
    if let Some(file) = &args.diff {
        let pillar = match load(file) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                return Ok(EXIT_INVALID);
            }
        };
        let (lines, failures) = match runtime.block_on(ocp_aws::export::missing(&conn, &pillar, &opts)) {
            Ok(found) => found,
            Err(e) => return Ok(fail(&e)),
        };
        emit(&lines.iter().map(|l| format!("{l}\n")).collect::<String>())?;
        eprintln!("ocp-aws: {} in the account, not in {}.", lines.len(), file.display());
        for f in &failures {
            eprintln!("ocp-aws: {f}");
        }
        return Ok(if failures.is_empty() { EXIT_OK } else { EXIT_FAILED });
    }
    if opts.regions.is_empty() {
        opts.regions.push(ocp_aws::aws::DEFAULT_REGION.to_string());
    }
    let report = match runtime.block_on(ocp_aws::export::export(&conn, &opts)) {
        Ok(r) => r,
        Err(e) => return Ok(fail(&e)),
    };
    match args.output {
        ExportOutput::Yaml => {
            let modeline = schema_path().ok().map(|p| p.display().to_string());
            emit(&ocp_aws::export::to_yaml(&report, modeline.as_deref()))?
        }
        ExportOutput::Json => {
            let value = serde_json::json!({"ocp_aws": ocp_aws::export::pillar_value(&report)});
            emit(&format!("{}\n", serde_json::to_string_pretty(&value)?))?
        }
    }
    for u in &report.unresolved {
        eprintln!("ocp-aws: warning: the export does not validate as it stands: {u}.");
    }
    for f in &report.failures {
        eprintln!("ocp-aws: {f}");
    }
    Ok(if report.failures.is_empty() { EXIT_OK } else { EXIT_FAILED })
}

/// Reports an error on stderr and returns its exit status.
fn fail(e: &ocp_aws::Error) -> i32 {
    eprintln!("ocp-aws: {e}");
    app::exit_status(e)
}

fn load(file: &PathBuf) -> Result<serde_json::Value, ocp_aws::Error> {
    let text = std::fs::read_to_string(file).map_err(|e| ocp_aws::Error::invalid("", e.to_string()))?;
    pillar::from_document(&text)
}

fn converge(runtime: &tokio::runtime::Runtime, args: Converge, test: bool) -> anyhow::Result<i32> {
    let mut params = match load(&args.file) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}: {e}", args.file.display());
            return Ok(EXIT_INVALID);
        }
    };
    // The flag wins over the Pillar's list, and is checked with it (an invalid one exits 2).
    if let (false, Some(m)) = (args.nameserver.is_empty(), params.as_object_mut()) {
        m.insert("nameservers".into(), serde_json::json!(args.nameserver));
    }
    let conn = args.conn.connection()?;
    let done = runtime.block_on(app::converge(&params, &conn, test, Some(args.concurrency)));
    match args.output {
        Output::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&done.returns)?))?,
        Output::Human => emit(&report::human(&done.returns, &done.calls))?,
    }
    Ok(done.status)
}
