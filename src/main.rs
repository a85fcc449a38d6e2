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
    /// Named profile of the AWS shared config files.
    #[arg(long)]
    profile: Option<String>,
    /// Endpoint override, e.g. a local test server (AWS_ENDPOINT_URL works too).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Seconds each attempt of an AWS call may take (default 20).
    #[arg(long)]
    timeout: Option<u64>,
    /// Attempts per AWS call, the first included (default 3; 5 for SES).
    #[arg(long)]
    attempts: Option<u32>,
}

impl ConnArgs {
    /// The connection the flags describe; a bad flag value is an error naming the flag.
    fn connection(&self) -> anyhow::Result<Connection> {
        let conn = Connection {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            timeout: self.timeout,
            attempts: self.attempts,
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
            let data = std::env::var_os("XDG_DATA_HOME")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .context("neither XDG_DATA_HOME nor HOME is set")?;
            let path = data.join("ocp-aws").join("pillar.schema.json");
            std::fs::create_dir_all(path.parent().unwrap_or(&data))
                .with_context(|| format!("creating {}", data.display()))?;
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
        Command::SmtpPassword { region } => {
            let mut secret = String::new();
            std::io::stdin().read_to_string(&mut secret).context("reading the secret access key from stdin")?;
            match app::smtp_password(secret.trim(), &region, "--region") {
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
        Command::Plan(args) => converge(&runtime, args, true),
        Command::Apply(args) => converge(&runtime, args, false),
    }
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
