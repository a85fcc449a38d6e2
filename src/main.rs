//! The `ocp-aws` command: parses arguments, calls the library, maps outcomes to exit statuses.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use ocp_aws::app::{self, EXIT_INVALID};
use ocp_aws::aws::Connection;
use ocp_aws::dns;
use ocp_aws::protocol::{Op, Request};
use ocp_aws::{pillar, report};

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
    Schema,
    /// DNS records of an SES domain identity.
    #[command(subcommand)]
    Dns(Dns),
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
    fn connection(self) -> Connection {
        Connection {
            region: self.region,
            profile: self.profile,
            endpoint_url: self.endpoint_url,
            timeout: self.timeout,
            attempts: self.attempts,
            ..Connection::default()
        }
    }
}

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
            ExitCode::from(EXIT_INVALID as u8)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match cli.command {
        Command::Stdio => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("reading the request from stdin")?;
            let outcome = runtime.block_on(app::handle(&text));
            println!("{}", outcome.response);
            Ok(outcome.status)
        }
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&app::schema())?);
            Ok(app::EXIT_OK)
        }
        Command::Validate { file } => {
            let verdict = load(&file).map(|v| app::validate(&v, None));
            match verdict {
                Ok(v) if v["valid"] == true => {
                    println!("{}: valid.", file.display());
                    Ok(app::EXIT_OK)
                }
                Ok(v) => {
                    for e in v["errors"].as_array().into_iter().flatten() {
                        eprintln!("{}", e.as_str().unwrap_or_default());
                    }
                    Ok(EXIT_INVALID)
                }
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    Ok(EXIT_INVALID)
                }
            }
        }
        Command::Dns(Dns::Records(args)) => dns(&runtime, "dns_records", args, None),
        Command::Dns(Dns::Check { args, nameserver }) => dns(&runtime, "dns_check", args, nameserver),
        Command::SmtpPassword { region } => {
            let mut secret = String::new();
            std::io::stdin().read_to_string(&mut secret).context("reading the secret access key from stdin")?;
            let params = serde_json::json!({"key": secret.trim(), "region": region});
            let request = Request {
                version: 1,
                op: Op::Call,
                function: Some("smtp_password".into()),
                params,
                ..Request::default()
            };
            match runtime.block_on(app::call(&request)) {
                Ok(password) => {
                    println!("{}", password.as_str().unwrap_or_default());
                    Ok(app::EXIT_OK)
                }
                Err(e) => {
                    eprintln!("ocp-aws: {e}");
                    Ok(EXIT_INVALID)
                }
            }
        }
        Command::Plan(args) => converge(&runtime, args, true),
        Command::Apply(args) => converge(&runtime, args, false),
    }
}

fn load(file: &PathBuf) -> Result<serde_json::Value, ocp_aws::Error> {
    let text = std::fs::read_to_string(file).map_err(|e| ocp_aws::Error::invalid("", e.to_string()))?;
    pillar::from_document(&text)
}

fn converge(runtime: &tokio::runtime::Runtime, args: Converge, test: bool) -> anyhow::Result<i32> {
    let params = match load(&args.file) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}: {e}", args.file.display());
            return Ok(EXIT_INVALID);
        }
    };
    let conn = args.conn.connection();
    let (outcome, engine) = runtime.block_on(app::converge_with(&params, &conn, test, Some(args.concurrency)));
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&outcome.response)?),
        Output::Human => {
            let returns: Vec<ocp_aws::protocol::StateReturn> =
                serde_json::from_value(outcome.response.clone()).unwrap_or_default();
            let calls = engine.map(|e| e.calls().clone()).unwrap_or_default();
            print!("{}", report::human(&returns, &calls));
        }
    }
    Ok(outcome.status)
}

fn dns(
    runtime: &tokio::runtime::Runtime,
    function: &str,
    args: DnsArgs,
    nameserver: Option<String>,
) -> anyhow::Result<i32> {
    let mut params = serde_json::json!({"zone": args.zone, "receiving": args.receiving, "dmarc": args.dmarc, "nameserver": nameserver});
    if let Some(m) = params.as_object_mut() {
        m.retain(|_, v| !v.is_null());
        if let Some(r) = &args.conn.region {
            m.insert("region".into(), r.clone().into());
        }
    }
    let request = Request {
        version: 1,
        op: Op::Call,
        function: Some(function.into()),
        name: Some(args.domain.clone()),
        params,
        connection: args.conn.connection(),
        ..Request::default()
    };
    let human = matches!(args.output, Output::Human);
    let result = runtime.block_on(async {
        match function {
            "dns_records" if human => {
                app::domain_records(&request).await.map(|(records, _)| dns::table(&records).into())
            }
            _ => app::call(&request).await,
        }
    });
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            eprintln!("ocp-aws: {e}");
            return Ok(app::exit_status(&e));
        }
    };
    match (human, &value) {
        (true, serde_json::Value::String(table)) => print!("{table}"),
        (true, check) => print!("{}", dns::check_report(check)),
        (false, v) => println!("{}", serde_json::to_string_pretty(v)?),
    }
    let ok = function == "dns_records" || value["ok"] == true;
    Ok(if ok { app::EXIT_OK } else { app::EXIT_FAILED })
}
