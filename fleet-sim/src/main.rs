//! `breeze-fleet-sim`: simulates a fleet of Breeze agents against a server on loopback.
//!
//! ```text
//! breeze-fleet-sim provision --server http://127.0.0.1:3000 --admin-email E \
//!     --admin-password-file F --orgs 10 --max-usage 2000 --keys-out keys.jsonl
//! breeze-fleet-sim enroll --server URL --keys keys.jsonl --agents 10000 --out agents.jsonl \
//!     [--bind-keys]
//! breeze-fleet-sim run --server URL --agents-file agents.jsonl --ws --duration 60 \
//!     [--heartbeat-interval 60 --heartbeat-lane http|ws --jitter 10] \
//!     [--broadcast-at 20 --admin-email E --admin-password-file F] [--storm-at 40] \
//!     [--server-pid PID] [--report-json report.json]
//! breeze-fleet-sim actors --server URL --admin-email E --admin-password-file F \
//!     --partner-id P --key-org-id O --reader-password-out R \
//!     --selected-reader-password-out S --api-key-out K
//! breeze-fleet-sim seed-audit --orgs-file orgs.txt --rows 10000000 --largest-percent 10 \
//!     [--summary-json S] > copy.txt
//! breeze-fleet-sim probe --server URL (--email E --password-file F | --api-key-file K) \
//!     --probes probes.txt [--warmup 20 --iterations 200] [--report-json report.json]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use breeze_fleet_sim::SimError;
use breeze_fleet_sim::addrs::SourcePool;
use breeze_fleet_sim::admin::{Admin, AdminLogin};
use breeze_fleet_sim::creds::{self, AgentRecord, KeyRecord};
use breeze_fleet_sim::run::{self, Broadcast, HeartbeatLane, Heartbeats, Options, Storm};
use breeze_fleet_sim::target::Target;
use breeze_fleet_sim::{audit_seed, probe};
use clap::{Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

#[derive(Parser)]
#[command(
    name = "breeze-fleet-sim",
    version,
    about = "Simulates a fleet of Breeze agents against a server on loopback"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Lane {
    Http,
    Ws,
}

/// The server and the administrator a command logs in as.
#[derive(clap::Args)]
struct AdminArgs {
    /// Server URL (http:// and a loopback IP).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    server: String,
    /// Administrator e-mail.
    #[arg(long, env = "BREEZE_SIM_ADMIN_EMAIL")]
    admin_email: String,
    /// File holding the administrator password.
    #[arg(long)]
    admin_password_file: PathBuf,
    /// The administrator's TOTP secret file (written when the account gets MFA here;
    /// default: the password file + `.totp`).
    #[arg(long)]
    admin_totp_file: Option<PathBuf>,
}

impl AdminArgs {
    /// The target and the login.
    fn into_login(self) -> Result<(Target, AdminLogin), SimError> {
        let target = Target::parse(&self.server)?;
        let login = admin_login(
            self.admin_email,
            &self.admin_password_file,
            self.admin_totp_file,
        )?;
        Ok((target, login))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a partner, organizations, sites and enrollment keys (keys file, mode 0600).
    Provision {
        #[command(flatten)]
        admin: AdminArgs,
        /// Organizations (one site and one key each).
        #[arg(long, default_value_t = 1)]
        orgs: usize,
        /// Uses per key.
        #[arg(long, default_value_t = 10_000)]
        max_usage: u32,
        /// Minutes the keys stay valid.
        #[arg(long, default_value_t = 1440)]
        expires_minutes: u32,
        /// Name prefix.
        #[arg(long, default_value = "fleet-sim")]
        name: String,
        /// Keys file to write.
        #[arg(long)]
        keys_out: PathBuf,
    },
    /// Enroll agents with the keys of a keys file (agents file, mode 0600).
    Enroll {
        /// Server URL.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        server: String,
        /// Keys file from `provision`.
        #[arg(long)]
        keys: PathBuf,
        /// Agents to enroll.
        #[arg(long)]
        agents: usize,
        /// Enrollments in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Loopback source addresses.
        #[arg(long, default_value_t = 1000)]
        source_addrs: usize,
        /// Agents file to write.
        #[arg(long)]
        out: PathBuf,
        /// Bind each agent to an Ed25519 device key (SPEC 17): the key is generated at
        /// enrollment, its public half sent as `publicKey`, its seed kept in the agents
        /// file, and `run` then signs every request and WebSocket upgrade of these agents.
        #[arg(long)]
        bind_keys: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Hold the fleet for a bounded time and report.
    Run {
        /// Server URL.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        server: String,
        /// Agents file from `enroll`.
        #[arg(long)]
        agents_file: PathBuf,
        /// Use only the first N agents of the file.
        #[arg(long)]
        agents: Option<usize>,
        /// Loopback source addresses.
        #[arg(long, default_value_t = 1000)]
        source_addrs: usize,
        /// Hold one WebSocket per agent.
        #[arg(long)]
        ws: bool,
        /// Seconds between an agent's heartbeats (none when absent).
        #[arg(long)]
        heartbeat_interval: Option<u64>,
        /// Where heartbeats go.
        #[arg(long, value_enum, default_value = "http")]
        heartbeat_lane: Lane,
        /// Heartbeat jitter, percent of the interval either way.
        #[arg(long, default_value_t = 10)]
        jitter: u32,
        /// WebSocket connects per second while ramping.
        #[arg(long, default_value_t = 500)]
        ramp_rate: u32,
        /// Longest ramp, seconds.
        #[arg(long, default_value_t = 300)]
        ramp_timeout: u64,
        /// Measured window, seconds (at most 3600).
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// Queue one command for every agent this many seconds into the window.
        #[arg(long)]
        broadcast_at: Option<u64>,
        /// Seconds to wait for every delivery.
        #[arg(long, default_value_t = 60)]
        broadcast_timeout: u64,
        /// Drop every socket at once this many seconds into the window.
        #[arg(long)]
        storm_at: Option<u64>,
        /// Seconds to wait for every agent to be back.
        #[arg(long, default_value_t = 120)]
        storm_timeout: u64,
        /// Administrator e-mail (for --broadcast-at).
        #[arg(long, env = "BREEZE_SIM_ADMIN_EMAIL")]
        admin_email: Option<String>,
        /// File holding the administrator password (for --broadcast-at).
        #[arg(long)]
        admin_password_file: Option<PathBuf>,
        /// The administrator's TOTP secret file (default: the password file + `.totp`).
        #[arg(long)]
        admin_totp_file: Option<PathBuf>,
        /// Server process id: its RSS and CPU are read from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Also write the report as JSON here.
        #[arg(long)]
        report_json: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Create the scale run's callers: a partner-wide reader, a selected-organizations
    /// reader and an organization API key.
    Actors {
        #[command(flatten)]
        admin: AdminArgs,
        /// The partner the reader reaches entirely.
        #[arg(long)]
        partner_id: uuid::Uuid,
        /// The organization of the API key.
        #[arg(long)]
        key_org_id: uuid::Uuid,
        /// The reader's e-mail.
        #[arg(long, default_value = "partner-reader@scale.local")]
        reader_email: String,
        /// Where the reader's password goes (0600).
        #[arg(long)]
        reader_password_out: PathBuf,
        /// The selected-organizations reader's e-mail.
        #[arg(long, default_value = "selected-reader@scale.local")]
        selected_reader_email: String,
        /// Where the selected-organizations reader's password goes (0600).
        #[arg(long)]
        selected_reader_password_out: PathBuf,
        /// Where the raw API key goes (0600).
        #[arg(long)]
        api_key_out: PathBuf,
    },
    /// Write sealed audit chains as PostgreSQL COPY text (standard output) for
    /// `COPY audit_log (chain_key, seq, org_id, entry) FROM STDIN`.
    SeedAudit {
        /// Chain starts, one per line: `ORG_ID [NEXT_SEQ HEAD_HASH]`; the first holds the
        /// largest chain.
        #[arg(long)]
        orgs_file: PathBuf,
        /// Entries in all.
        #[arg(long)]
        rows: u64,
        /// Percent of the entries in the first organization's chain.
        #[arg(long, default_value_t = 10)]
        largest_percent: u64,
        /// Write what was seeded (largest chain, rare actor) as JSON here.
        #[arg(long)]
        summary_json: Option<PathBuf>,
    },
    /// Time read endpoints one request at a time, as a user or an API key.
    Probe {
        /// Server URL.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        server: String,
        /// A user's e-mail (with --password-file).
        #[arg(long)]
        email: Option<String>,
        /// File holding the user's password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// The user's TOTP secret file (default: the password file + `.totp`).
        #[arg(long)]
        totp_file: Option<PathBuf>,
        /// File holding a raw API key (instead of a user).
        #[arg(long)]
        api_key_file: Option<PathBuf>,
        /// Probes file: `name /path?query` per line (`{uuid}`, `{n:MAX}` placeholders).
        #[arg(long)]
        probes: PathBuf,
        /// Unrecorded requests per probe first.
        #[arg(long, default_value_t = 20)]
        warmup: u32,
        /// Recorded requests per probe (1..=100000).
        #[arg(long, default_value_t = 200)]
        iterations: u32,
        /// Loopback source addresses the requests leave from in turn.
        #[arg(long, default_value_t = 64)]
        source_addrs: usize,
        /// Also write the results as JSON here.
        #[arg(long)]
        report_json: Option<PathBuf>,
    },
}

fn read_password(path: &PathBuf) -> Result<SecretString, SimError> {
    let text = std::fs::read_to_string(path).map_err(|e| SimError::file(path, e))?;
    let pw = text.trim_end_matches(['\n', '\r']);
    if pw.is_empty() {
        return Err(SimError::file(path, "is empty"));
    }
    Ok(SecretString::from(pw.to_owned()))
}

fn admin_login(
    email: String,
    password_file: &PathBuf,
    totp_file: Option<PathBuf>,
) -> Result<AdminLogin, SimError> {
    let totp_file = totp_file.unwrap_or_else(|| {
        let mut p = password_file.clone().into_os_string();
        p.push(".totp");
        PathBuf::from(p)
    });
    Ok(AdminLogin {
        email,
        password: read_password(password_file)?,
        totp_file,
    })
}

/// Lifts the soft open-file limit to the hard one (a socket per agent).
fn raise_nofile() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
}

async fn main_inner(cli: Cli) -> Result<(), SimError> {
    match cli.command {
        cmd @ (Cmd::Actors { .. } | Cmd::SeedAudit { .. } | Cmd::Probe { .. }) => {
            scale_command(cmd).await
        }
        Cmd::Provision {
            admin,
            orgs,
            max_usage,
            expires_minutes,
            name,
            keys_out,
        } => {
            let (target, login) = admin.into_login()?;
            let plan = breeze_fleet_sim::provision::Plan {
                orgs,
                max_usage,
                expires_minutes,
                name,
            };
            let keys = breeze_fleet_sim::provision::provision(&target, &login, &plan).await?;
            creds::save(&keys_out, &keys)?;
            println!(
                "{} enrollment keys written to {}",
                keys.len(),
                keys_out.display()
            );
            Ok(())
        }
        Cmd::Enroll {
            server,
            keys,
            agents,
            concurrency,
            source_addrs,
            out,
            bind_keys,
            quiet,
        } => {
            let target = Target::parse(&server)?;
            let key_records: Vec<KeyRecord> = creds::load(&keys)?;
            let pool = SourcePool::new(source_addrs)?;
            let done = breeze_fleet_sim::enroll::enroll_with(
                &target,
                &pool,
                &key_records,
                breeze_fleet_sim::enroll::Plan {
                    count: agents,
                    concurrency,
                    bind_keys,
                    progress: !quiet,
                },
            )
            .await?;
            creds::save(&out, &done.agents)?;
            let secs = done.elapsed.as_secs_f64();
            println!(
                "enrolled {} agents{} in {secs:.1} s ({:.0}/s), {} failed; 429s {}, other errors {:?}; written to {}",
                done.agents.len(),
                if done.keys_bound {
                    " bound to device keys"
                } else {
                    ""
                },
                f64::from(u32::try_from(done.agents.len()).unwrap_or(u32::MAX)) / secs.max(1e-3),
                done.failed,
                done.errors.rate_limited,
                done.errors.by_kind,
                out.display()
            );
            if done.failed > 0 {
                return Err(SimError::Server(format!(
                    "{} agents were not enrolled",
                    done.failed
                )));
            }
            Ok(())
        }
        Cmd::Run {
            server,
            agents_file,
            agents,
            source_addrs,
            ws,
            heartbeat_interval,
            heartbeat_lane,
            jitter,
            ramp_rate,
            ramp_timeout,
            duration,
            broadcast_at,
            broadcast_timeout,
            storm_at,
            storm_timeout,
            admin_email,
            admin_password_file,
            admin_totp_file,
            server_pid,
            report_json,
            quiet,
        } => {
            let target = Target::parse(&server)?;
            let mut records: Vec<AgentRecord> = creds::load(&agents_file)?;
            if let Some(n) = agents {
                if n > records.len() {
                    return Err(SimError::Argument(
                        "--agents",
                        format!("the agents file holds only {}", records.len()),
                    ));
                }
                records.truncate(n);
            }
            let broadcast = match broadcast_at {
                None => None,
                Some(at) => {
                    let email = admin_email.ok_or(SimError::Argument(
                        "--admin-email",
                        "needed with --broadcast-at".into(),
                    ))?;
                    let file = admin_password_file.ok_or(SimError::Argument(
                        "--admin-password-file",
                        "needed with --broadcast-at".into(),
                    ))?;
                    Some(Broadcast {
                        at: Duration::from_secs(at),
                        login: admin_login(email, &file, admin_totp_file)?,
                        timeout: Duration::from_secs(broadcast_timeout.clamp(1, 600)),
                    })
                }
            };
            let opts = Options {
                target,
                agents: records,
                source_addrs,
                websockets: ws,
                heartbeats: heartbeat_interval.map(|s| Heartbeats {
                    interval: Duration::from_secs(s),
                    jitter_pct: jitter.min(100),
                    lane: match heartbeat_lane {
                        Lane::Http => HeartbeatLane::Http,
                        Lane::Ws => HeartbeatLane::Ws,
                    },
                }),
                ramp_rate,
                ramp_timeout: Duration::from_secs(ramp_timeout.clamp(1, 3600)),
                duration: Duration::from_secs(duration),
                broadcast,
                storm: storm_at.map(|at| Storm {
                    at: Duration::from_secs(at),
                    timeout: Duration::from_secs(storm_timeout.clamp(1, 600)),
                }),
                server_pid,
                progress: !quiet,
            };
            let report = run::run(opts).await?;
            print!("{}", report.render());
            if let Some(path) = report_json {
                let json = serde_json::to_string_pretty(&report)
                    .map_err(|e| SimError::Local(e.to_string()))?;
                std::fs::write(&path, json).map_err(|e| SimError::file(&path, e))?;
            }
            Ok(())
        }
    }
}

/// `actors`, `seed-audit` and `probe`: the scale run's commands.
async fn scale_command(cmd: Cmd) -> Result<(), SimError> {
    match cmd {
        Cmd::Actors {
            admin,
            partner_id,
            key_org_id,
            reader_email,
            reader_password_out,
            selected_reader_email,
            selected_reader_password_out,
            api_key_out,
        } => {
            let (target, login) = admin.into_login()?;
            let plan = breeze_fleet_sim::actors::ActorsPlan {
                partner_id,
                key_org_id,
                reader_email,
                selected_reader_email,
            };
            let out = breeze_fleet_sim::actors::ActorSecrets {
                reader_password: &reader_password_out,
                selected_reader_password: &selected_reader_password_out,
                api_key: &api_key_out,
            };
            breeze_fleet_sim::actors::create(&target, &login, &plan, out).await?;
            println!("partner readers and organization API key created");
            Ok(())
        }
        Cmd::SeedAudit {
            orgs_file,
            rows,
            largest_percent,
            summary_json,
        } => {
            let text =
                std::fs::read_to_string(&orgs_file).map_err(|e| SimError::file(&orgs_file, e))?;
            let orgs = audit_seed::parse_starts(&text)?;
            let end = breeze_fleet_sim::admin::unix_now();
            let plan = audit_seed::SeedPlan::new(orgs, rows, largest_percent, end)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            let summary = audit_seed::write_copy(&plan, &mut out)?;
            std::io::Write::flush(&mut out).map_err(|e| SimError::Local(e.to_string()))?;
            let json = serde_json::to_string_pretty(&summary)
                .map_err(|e| SimError::Local(e.to_string()))?;
            eprintln!("{json}");
            if let Some(path) = summary_json {
                std::fs::write(&path, json).map_err(|e| SimError::file(&path, e))?;
            }
            Ok(())
        }
        Cmd::Probe {
            server,
            email,
            password_file,
            totp_file,
            api_key_file,
            probes,
            warmup,
            iterations,
            source_addrs,
            report_json,
        } => {
            if !(1..=100_000).contains(&iterations) {
                return Err(SimError::Argument(
                    "--iterations",
                    "must be 1 to 100000".into(),
                ));
            }
            let target = Target::parse(&server)?;
            let text = std::fs::read_to_string(&probes).map_err(|e| SimError::file(&probes, e))?;
            let specs = probe::parse_probes(&text)?;
            let credential = match (email, password_file, api_key_file) {
                (Some(email), Some(file), None) => {
                    let admin =
                        Admin::login(&target, &admin_login(email, &file, totp_file)?).await?;
                    probe::Credential::Bearer(admin.bearer())
                }
                (None, None, Some(file)) => probe::Credential::ApiKey(read_password(&file)?),
                _ => {
                    return Err(SimError::Argument(
                        "--email",
                        "give --email with --password-file, or --api-key-file".into(),
                    ));
                }
            };
            let clients = probe::clients(source_addrs)?;
            let results =
                probe::run(&clients, &target, &credential, &specs, warmup, iterations).await?;
            print!("{}", probe::render(&results));
            if let Some(path) = report_json {
                let json = serde_json::to_string_pretty(&results)
                    .map_err(|e| SimError::Local(e.to_string()))?;
                std::fs::write(&path, json).map_err(|e| SimError::file(&path, e))?;
            }
            Ok(())
        }
        _ => Err(SimError::Local("not a scale command".into())),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_nofile();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("breeze-fleet-sim: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main_inner(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("breeze-fleet-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
