//! The command line: `serve`, `edge`, `demo`, `simulate`, `user add`, `backup`, `restore`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::http::access::{new_user, random_secret};
use crate::store::backup;
use crate::{server, simulate, store};

#[derive(Debug, Parser)]
#[command(
    name = "weibing",
    version,
    about = "Live command center of the capital's TCM preventive-health program (首都中医治未病)"
)]
pub struct Cli {
    /// Log lines as text or as JSON objects.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Folder of the DuckDB file (created if missing).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// Address to listen on; 127.0.0.1 keeps it on this machine, 0.0.0.0:8080 opens it.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Milliseconds between recomputations of the live figures.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub tick_ms: u64,
    /// Region: `beijing` (built in) or a folder with districts.csv, weights.csv, targets.csv.
    #[arg(long, default_value = "beijing")]
    pub region: String,
    /// Largest ingest body accepted, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most text an ingest body's records may hold once decoded, in bytes
    /// (an Arrow dictionary column can repeat one long value for every row).
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub max_decoded_bytes: u64,
    /// Rejected records of one request kept whole (the rest are counted).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_rejected_per_request: u64,
    /// Rejected records of one ingest key kept whole in a Beijing day.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rejected_per_key_day: u64,
    /// Bytes of rejected records (text and reason) of one ingest key kept in a Beijing day.
    #[arg(long, default_value_t = 256 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rejected_bytes_per_key_day: u64,
    /// Team names a district may have (each reaches every screen each
    /// tick); a record naming a new one beyond it is rejected.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_teams_per_district: u64,
    /// In a district the region's team registry (teams.csv) lists teams
    /// for, refuse a record naming another team (by default it is stored,
    /// and the monthly review shows it as unregistered).
    #[arg(long)]
    pub refuse_unregistered_teams: bool,
    /// The key partner systems send as `Authorization: Bearer …` to ingest.
    #[arg(long, env = "WEIBING_INGEST_KEY", hide_env_values = true)]
    pub ingest_key: Option<String>,
    /// Staff token for automation, accepted as `Authorization: Bearer …`.
    #[arg(long, env = "WEIBING_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Creates the staff account `admin` with this password at a start with no staff account.
    #[arg(long, env = "WEIBING_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    #[command(flatten)]
    pub serving: ServingArgs,
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Save the live figures beside the database after this many new events
    /// (at most once a minute, and when stopping), so a start replays only
    /// the events stored after the save.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub save_every_events: u64,
    /// Answered events wait in the ingest log at most this long before the
    /// database holds them (a row group of events, or a console read, loads
    /// them at once).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub load_every_ms: u64,
    /// Move the region's whole calendar (targets.csv, milestones.csv) so the
    /// program starts on this Beijing date (YYYY-MM-DD); the demo's default
    /// is today, its launch day.
    #[arg(long, value_name = "DATE")]
    pub program_start: Option<chrono::NaiveDate>,
}

/// How a node (a primary or an edge) serves HTTP and websockets.
#[derive(Debug, clap::Args)]
pub struct ServingArgs {
    /// Mark the session cookie Secure (set it when a proxy serves HTTPS).
    #[arg(long)]
    pub secure_cookies: bool,
    /// A reverse proxy's address (repeatable): from it, the caller is the last
    /// address of `X-Forwarded-For` (for the login limit and the audit trail).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Open websockets one client address may hold (phones behind one NAT share an address).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_sockets_per_address: u64,
    /// Open websockets one share link or wall token may hold (a link
    /// forwarded to everyone cannot take every slot).
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_sockets_per_link: u64,
    /// Open websockets in all (one node served 10,000 at p99 1.14 s; docs/performance.md).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_sockets: u64,
    /// Open HTTP connections in all (websockets included); beyond, a new
    /// connection is closed at once.
    #[arg(long, default_value_t = 25_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Snapshots one websocket is sent on request (`resync`) in a minute.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub resyncs_per_minute: u64,
    /// A request's head must arrive within this many milliseconds, and an
    /// idle keep-alive connection is closed after it (slow clients cannot
    /// hold connections open).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub header_timeout_ms: u64,
}

/// The primary's side of the NATS bus (docs/scale.md).
#[derive(Debug, clap::Args)]
pub struct NatsArgs {
    /// Relay the viewers' figures and the links to edges over this NATS
    /// server (with JetStream), e.g. nats://127.0.0.1:4222. Without it,
    /// nothing is relayed and no NATS is needed. Several servers of a
    /// cluster: comma-separated.
    #[arg(long = "nats", env = "WEIBING_NATS", value_name = "URL")]
    pub url: Option<String>,
    /// Copies of the bus's streams and bucket when this server makes them
    /// (3 on a cluster of three NATS servers).
    #[arg(long = "nats-replicas", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=5))]
    pub replicas: u64,
    /// The address edges send writes, sign-in and the console to (default:
    /// http://<--listen>).
    #[arg(long)]
    pub public_url: Option<String>,
}

/// `weibing edge`: a read-only node fed by a primary over NATS.
#[derive(Debug, clap::Args)]
pub struct EdgeArgs {
    /// The NATS server the primary relays to (several of a cluster:
    /// comma-separated).
    #[arg(long, env = "WEIBING_NATS", value_name = "URL")]
    pub nats: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// The primary's region (the same `--region`).
    #[arg(long, default_value = "beijing")]
    pub region: String,
    /// Staff token, here only for reading `/metrics`.
    #[arg(long, env = "WEIBING_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    #[command(flatten)]
    pub serving: ServingArgs,
}

impl EdgeArgs {
    fn config(&self) -> crate::config::EdgeConfig {
        let s = &self.serving;
        crate::config::EdgeConfig {
            nats: self.nats.clone(),
            listen: self.listen,
            region: self.region.clone(),
            admin_token: self.admin_token.clone(),
            secure_cookies: s.secure_cookies,
            trusted_proxies: s.trusted_proxies.clone(),
            max_sockets_per_address: s.max_sockets_per_address as usize,
            max_sockets_per_link: s.max_sockets_per_link as usize,
            max_sockets: s.max_sockets as usize,
            max_connections: s.max_connections as usize,
            resyncs_per_minute: s.resyncs_per_minute as usize,
            header_timeout: Duration::from_millis(s.header_timeout_ms),
        }
    }
}

impl ServeArgs {
    fn config(&self) -> Config {
        Config {
            data_dir: self.data.clone(),
            listen: self.listen,
            tick: Duration::from_millis(self.tick_ms),
            region: self.region.clone(),
            max_body_bytes: self.max_body_bytes,
            max_decoded_bytes: self.max_decoded_bytes,
            max_rejected_per_request: self.max_rejected_per_request as usize,
            max_rejected_per_key_day: self.max_rejected_per_key_day,
            max_rejected_bytes_per_key_day: self.max_rejected_bytes_per_key_day,
            max_teams_per_district: self.max_teams_per_district as usize,
            refuse_unregistered_teams: self.refuse_unregistered_teams,
            ingest_key: self.ingest_key.clone(),
            admin_token: self.admin_token.clone(),
            admin_password: self.admin_password.clone(),
            secure_cookies: self.serving.secure_cookies,
            trusted_proxies: self.serving.trusted_proxies.clone(),
            max_sockets_per_address: self.serving.max_sockets_per_address as usize,
            max_sockets_per_link: self.serving.max_sockets_per_link as usize,
            max_sockets: self.serving.max_sockets as usize,
            max_connections: self.serving.max_connections as usize,
            resyncs_per_minute: self.serving.resyncs_per_minute as usize,
            header_timeout: Duration::from_millis(self.serving.header_timeout_ms),
            nats: self.nats.url.clone().map(|url| crate::config::Nats {
                url,
                replicas: self.nats.replicas as usize,
                public_url: self.nats.public_url.clone(),
            }),
            save_every_events: self.save_every_events,
            save_min_interval: Duration::from_secs(60),
            load_every: Duration::from_millis(self.load_every_ms),
            program_start: self.program_start,
            history_every: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// At most this many events per second (default: as fast as the replay needs).
    #[arg(long)]
    pub rate: Option<u32>,
    /// Seconds the replay of the morning (08:00–11:00) takes.
    #[arg(long, default_value_t = 600)]
    pub duration: u64,
    /// People who have scanned at the launch morning's 11:00.
    #[arg(long, default_value_t = simulate::LAUNCH_PEOPLE)]
    pub people: u64,
    /// Seed of the random choices (colours, districts, services).
    #[arg(long, default_value_t = 20170628)]
    pub seed: u64,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Adds a staff account (or sets its password), asking for the password.
    /// Run it with the server stopped: DuckDB lets one process open the file.
    Add {
        name: String,
        /// Folder of the DuckDB file.
        #[arg(long, default_value = "./data")]
        data: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Staff accounts of the console.
    #[command(subcommand)]
    User(UserCommand),
    /// Run the server.
    Serve(ServeArgs),
    /// Run a read-only edge: the wall, the leaders' view and their
    /// websockets, fed by a primary over NATS (no database, no person data).
    Edge(EdgeArgs),
    /// Run the server with the launch simulator feeding it through the ingest API.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        replay: ReplayArgs,
    },
    /// Back up the data folder (with the server stopped): every table as
    /// Parquet, and manifest.json with row counts and checksums.
    Backup {
        /// Folder of the DuckDB file.
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// A new (or empty) folder for the backup.
        #[arg(long)]
        to: PathBuf,
    },
    /// Make a new data folder from a backup, checking every table's rows.
    Restore {
        /// The backup's folder (holding manifest.json).
        #[arg(long)]
        from: PathBuf,
        /// The new data folder; refused if it holds weibing.duckdb.
        #[arg(long)]
        data: PathBuf,
    },
    /// Replay a launch morning (or, with --months, months of the program
    /// ending now) into a running server through its ingest API.
    Simulate {
        /// The server, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: String,
        /// Its ingest key.
        #[arg(long, env = "WEIBING_INGEST_KEY", hide_env_values = true)]
        key: String,
        #[command(flatten)]
        replay: ReplayArgs,
        /// Keep sending a trickle of new people after the replay's 11:00
        /// (after the months, with --months).
        #[arg(long = "continue")]
        keep_going: bool,
        /// Replay this many months of the program's life, ending now,
        /// back-dated: the program starts that many months ago (the server
        /// must run with --program-start that date, printed at start), the
        /// launch morning on its first day (`--people` people; `--duration`
        /// is not used), then each month's new people, services, training
        /// and outcomes.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=120))]
        months: Option<u32>,
        /// New people each month of --months.
        #[arg(long, default_value_t = 20_000)]
        people_per_month: u64,
    },
}

/// Reads a password: without echo from a terminal (twice), else one line of stdin.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::User(UserCommand::Add { name, data }) => {
            let password = read_password()?;
            let user = new_user(&name, &password, "cli").map_err(|e| anyhow::anyhow!(e))?;
            let path = data.join("weibing.duckdb");
            store::access::add_user_offline(&path, &user)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            println!("staff account {} saved in {}", user.name, path.display());
            Ok(())
        }
        Command::Backup { data, to } => {
            let written = tokio::task::spawn_blocking(move || backup::backup(&data, &to)).await??;
            println!("{written}");
            Ok(())
        }
        Command::Restore { from, data } => {
            let restored =
                tokio::task::spawn_blocking(move || backup::restore(&from, &data)).await??;
            println!("{restored}");
            Ok(())
        }
        Command::Serve(args) => {
            let running = server::start(args.config()).await?;
            println!("weibing listening on http://{}", running.addr);
            running.run_until_signal().await
        }
        Command::Edge(args) => {
            let running = crate::edge::start(args.config()).await?;
            println!("weibing edge listening on http://{}", running.addr);
            running.run_until_signal().await
        }
        Command::Demo { mut serve, replay } => {
            // The demo replays a launch morning today: the program starts today.
            serve.program_start.get_or_insert_with(|| {
                crate::time::from_beijing_micros(crate::time::now_beijing_micros()).date_naive()
            });
            let ingest_key = serve.ingest_key.get_or_insert_with(random_secret).clone();
            let admin_token = serve.admin_token.get_or_insert_with(random_secret).clone();
            let password = serve
                .admin_password
                .get_or_insert_with(|| random_secret()[..16].to_string())
                .clone();
            let running = server::start(serve.config()).await?;
            let url = format!("http://{}", running.addr);
            // The wall gets its own token, as a wall PC would.
            let request = crate::http::access::CreateCredential {
                kind: "wall".into(),
                label: "演示大屏 (demo)".into(),
                scope: None,
                expires_in_hours: None,
            };
            let (_, wall_token, _) =
                crate::http::access::issue(&running.state, request, "demo", "-")
                    .await
                    .map_err(|e| anyhow::anyhow!("creating the demo's wall token: {e}"))?;
            println!("weibing listening on {url}");
            println!();
            println!("  wall screen   {url}/?token={wall_token}");
            if running.created_admin {
                println!("  console       {url}/console  (sign in as admin, password {password})");
            } else {
                println!("  console       {url}/console  (sign in with your staff account)");
            }
            println!("  ingest key    {ingest_key}");
            println!("  admin token   {admin_token}");
            println!(
                "  database      {}",
                serve.config().database_path().display()
            );
            println!();
            println!(
                "  the launch simulator is replaying the morning of 2017-06-28 through {url}/api/v1/events"
            );
            println!("  press ctrl-c to stop");
            let options = simulate::Options {
                url: url.clone(),
                key: ingest_key,
                rate: replay.rate,
                duration: Duration::from_secs(replay.duration),
                people: replay.people,
                keep_going: true,
                bad_share: 0.001,
                seed: replay.seed,
            };
            let simulator = tokio::spawn(simulate::run(options));
            tokio::select! {
                _ = server::shutdown_signal() => {}
                result = simulator => {
                    if let Ok(Err(e)) = result {
                        tracing::error!(error = %e, "the simulator stopped");
                    }
                    server::shutdown_signal().await;
                }
            }
            tracing::info!("stopping");
            running.stop().await
        }
        Command::Simulate {
            url,
            key,
            replay,
            keep_going,
            months,
            people_per_month,
        } => {
            let summary = if let Some(months) = months {
                let mut calendar = simulate::Calendar::ending(
                    crate::time::now_beijing_micros(),
                    months,
                    people_per_month,
                );
                calendar.launch_people = replay.people;
                println!(
                    "replaying {months} months of the program: it started on {start} (launch morning 08:00–11:00)",
                    start = calendar.start
                );
                println!(
                    "  the server must run with --program-start {}, or its plans and the index will not match",
                    calendar.start
                );
                simulate::replay_months(
                    simulate::MonthsOptions {
                        url,
                        key,
                        rate: replay.rate,
                        keep_going,
                        seed: replay.seed,
                    },
                    calendar,
                )
                .await?
            } else {
                simulate::run(simulate::Options {
                    url,
                    key,
                    rate: replay.rate,
                    duration: Duration::from_secs(replay.duration),
                    people: replay.people,
                    keep_going,
                    bad_share: 0.0,
                    seed: replay.seed,
                })
                .await?
            };
            println!(
                "people {} · events sent {} · accepted {} · duplicates {} · rejected {}",
                summary.people,
                summary.sent,
                summary.accepted,
                summary.duplicates,
                summary.rejected
            );
            Ok(())
        }
    }
}
