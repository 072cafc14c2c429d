//! The pipeline benchmark: the real `weibing` binary in its own process, this
//! process as the load (HTTP senders, websocket viewers), and PostgreSQL as the
//! polling peer. Prints a table per scenario and writes every figure as JSON
//! under `bench/results/`. docs/performance.md says how to read it.
//!
//! ```text
//! cargo bench --bench pipeline               # quick: a few minutes
//! cargo bench --bench pipeline -- --full     # the large cases (10M events, 10,000 clients)
//! cargo bench --bench pipeline -- --only ingest,tick --runs 5
//! ```
//!
//! Nothing here asserts a time: the figures are printed for a person to read.

mod load;
mod peer;
mod server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use rand::Rng;
use serde_json::{Value, json};
use weibing::region::Region;

use load::{Format, Viewers};
use server::{ADMIN_TOKEN, Server};

#[derive(Debug, Parser)]
#[command(about = "Weibing's pipeline benchmark")]
struct Args {
    /// The large cases: 10M events of history, 10,000 clients, longer windows.
    #[arg(long)]
    full: bool,
    /// Scenarios to run (default: all): ingest, tick, latency, peer, edges.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Repetitions of each ingest case (median and spread are reported).
    #[arg(long)]
    runs: Option<usize>,
    /// Events per ingest case.
    #[arg(long)]
    ingest_events: Option<usize>,
    /// History sizes for the tick and cold-start scenario.
    #[arg(long, value_delimiter = ',')]
    history: Vec<u64>,
    /// Ticks measured at each history size.
    #[arg(long)]
    ticks: Option<usize>,
    /// Connected clients for the event-to-screen scenario.
    #[arg(long, value_delimiter = ',')]
    clients: Vec<usize>,
    /// Marker events sent at each client count.
    #[arg(long)]
    rounds: Option<usize>,
    /// Events both designs hold before the side-by-side run.
    #[arg(long)]
    peer_history: Option<usize>,
    /// Seconds each viewer count runs in the side-by-side run.
    #[arg(long)]
    peer_window: Option<u64>,
    /// Keep the tick scenario's database in this new (or empty) folder
    /// instead of a temporary one, to profile a start over it afterwards.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// The server binary to measure (default: the one cargo built with this
    /// benchmark). On a noisy machine two versions compare fairly only when
    /// they take turns: copy each build aside and run the same cases against
    /// each in turn (docs/performance.md, "Comparing two builds").
    #[arg(long)]
    server: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

struct Plan {
    runs: usize,
    ingest_events: usize,
    history: Vec<u64>,
    ticks: usize,
    clients: Vec<usize>,
    rounds: usize,
    peer_history: usize,
    peer_window: Duration,
    peer_viewers: Vec<usize>,
    peer_refresh: Duration,
    peer_rate: u32,
    data: Option<PathBuf>,
    /// The `weibing` binary every scenario starts.
    server: PathBuf,
}

impl Plan {
    fn from(args: &Args) -> Plan {
        let full = args.full;
        Plan {
            runs: args.runs.unwrap_or(if full { 5 } else { 3 }),
            ingest_events: args
                .ingest_events
                .unwrap_or(if full { 500_000 } else { 100_000 }),
            history: if !args.history.is_empty() {
                args.history.clone()
            } else if full {
                vec![100_000, 1_000_000, 10_000_000]
            } else {
                vec![100_000, 1_000_000]
            },
            ticks: args.ticks.unwrap_or(if full { 30 } else { 15 }),
            clients: if !args.clients.is_empty() {
                args.clients.clone()
            } else if full {
                vec![1, 100, 1_000, 10_000]
            } else {
                vec![1, 100, 1_000]
            },
            rounds: args.rounds.unwrap_or(if full { 30 } else { 15 }),
            peer_history: args
                .peer_history
                .unwrap_or(if full { 1_000_000 } else { 200_000 }),
            peer_window: Duration::from_secs(args.peer_window.unwrap_or(if full {
                60
            } else {
                20
            })),
            peer_viewers: vec![1, 10, 100],
            peer_refresh: Duration::from_secs(5),
            peer_rate: 100,
            data: args.data.clone(),
            server: args
                .server
                .clone()
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_weibing"))),
        }
    }
}

/// Launch morning, 08:00 Beijing: the history's events start here.
fn launch_morning() -> i64 {
    let t = chrono::DateTime::parse_from_rfc3339("2017-06-28T08:00:00+08:00").expect("a time");
    weibing::time::beijing_micros(&t)
}

/// Seeds and person numbers never repeat within a run, so ids never collide.
struct Source {
    region: Region,
    seed: u64,
    next_person: u64,
}

impl Source {
    /// At least `n` events of new persons (exactly `n` when `exact`),
    /// person after person `step` micros apart from `at`.
    fn take(&mut self, n: usize, at: i64, step: i64, exact: bool) -> Vec<String> {
        self.seed += 1;
        let (mut lines, people) =
            load::at_least(&self.region, self.seed, self.next_person, n, at, step);
        self.next_person += people;
        if exact {
            lines.truncate(n);
        }
        lines
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plan = Plan::from(&args);
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let mut source = Source {
        region: Region::load("beijing")?,
        seed: rand::rng().random::<u32>() as u64 * 1_000,
        next_person: 10_000_000,
    };
    let mut results = serde_json::Map::new();
    results.insert("machine".into(), machine());
    results.insert("server".into(), json!(plan.server.display().to_string()));
    results.insert(
        "mode".into(),
        json!(if args.full { "full" } else { "quick" }),
    );
    let started = Instant::now();
    if wanted("ingest") {
        results.insert("ingest".into(), ingest(&plan, &mut source).await?);
    }
    if wanted("tick") {
        results.insert("tick".into(), tick(&plan, &mut source).await?);
    }
    if wanted("latency") {
        results.insert("latency".into(), latency(&plan, &mut source).await?);
    }
    if wanted("peer") {
        results.insert("peer".into(), side_by_side(&plan, &mut source).await?);
    }
    if wanted("edges") {
        results.insert("edges".into(), edges(&plan, &mut source).await?);
    }
    results.insert("seconds".into(), json!(started.elapsed().as_secs()));
    std::fs::create_dir_all(&args.out)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let path = args.out.join(format!("{stamp}.json"));
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&Value::Object(results))?,
    )?;
    println!("\nfigures written to {}", path.display());
    Ok(())
}

/// Cores, memory, commit and kernel of the machine the figures are from.
fn machine() -> Value {
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu": cpu,
        "memory_bytes": memory,
        "commit": git(&["rev-parse", "--short", "HEAD"]),
        "dirty": dirty,
        "at": chrono::Utc::now().to_rfc3339(),
    })
}

fn median(values: &mut [f64]) -> f64 {
    percentile(values, 0.5)
}

/// The nearest-rank percentile `p` ∈ [0, 1] (NaN for no values).
fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------- ingest

/// Scenario 1: events per second until committed, per format, batch size and
/// number of concurrent senders; a fresh server per format.
async fn ingest(plan: &Plan, source: &mut Source) -> anyhow::Result<Value> {
    println!(
        "\n## 1. Ingest: events/s until committed, and until in the database ({} events a case, {} runs: median [min–max])",
        plan.ingest_events, plan.runs
    );
    println!(
        "{:<8} {:>7} {:>8} {:>12} {:>24} {:>12} {:>12} {:>14} {:>12} {:>14} {:>15} {:>12} {:>13}",
        "format",
        "batch",
        "senders",
        "median",
        "spread",
        "in database",
        "writer busy",
        "writer µs/ev",
        "loader busy",
        "loader µs/ev",
        "prepare µs/ev",
        "CPU µs/ev",
        "sender µs/ev"
    );
    let mut rows = Vec::new();
    for format in [Format::Ndjson, Format::Csv, Format::Arrow] {
        let dir = tempfile::tempdir()?;
        let (server, _) = Server::start(&plan.server, dir.path(), 1000).await?;
        for batch in [1_000, 10_000] {
            for senders in [1, 4] {
                let (mut rates, mut stored) = (Vec::new(), Vec::new());
                // The writer's share of the cases' time, and the cost of an
                // event on each side (from the server's debug lines).
                let mut sending = 0.0;
                // CPU time of the server and of this process (the senders)
                // while the cases ran: what two cores allow.
                let (mut server_cpu, mut sender_cpu) = (0.0, 0.0);
                let before = server.ingest_work();
                for _ in 0..plan.runs {
                    let lines = source.take(plan.ingest_events, launch_morning(), 100_000, true);
                    let bodies: Vec<bytes::Bytes> =
                        lines.chunks(batch).map(|c| format.body(c)).collect();
                    let cpu = (
                        server.cpu_seconds(),
                        server::cpu_seconds(std::process::id()),
                    );
                    let clock = Instant::now();
                    let answer =
                        load::send_all(&server.client, &server.url, format, bodies, senders)
                            .await?;
                    let took = clock.elapsed().as_secs_f64();
                    ensure!(
                        answer.accepted == lines.len() as u64,
                        "{} of {} events accepted: {answer:?}",
                        answer.accepted,
                        lines.len()
                    );
                    rates.push(lines.len() as f64 / took);
                    // Committed is in the ingest log; the database takes
                    // the last events up to a row group later.
                    server.in_database().await?;
                    stored.push(lines.len() as f64 / clock.elapsed().as_secs_f64());
                    sending += clock.elapsed().as_secs_f64();
                    server_cpu += server.cpu_seconds() - cpu.0;
                    sender_cpu += server::cpu_seconds(std::process::id()) - cpu.1;
                }
                // The last request's lines may still be on their way.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let after = server.ingest_work();
                let writer = (after.writer_us - before.writer_us) as f64;
                let loader = (after.loader_us - before.loader_us) as f64;
                let (busy, loader_busy) = (writer / 1e6 / sending, loader / 1e6 / sending);
                let events = (after.events - before.events).max(1) as f64;
                let (writer_us, loader_us) = (writer / events, loader / events);
                let prepare_us = (after.prepare_us - before.prepare_us) as f64 / events;
                let wait_us = (after.wait_us - before.wait_us) as f64 / events;
                let mut phases: Vec<(&str, f64)> = server::WRITER_PHASES
                    .iter()
                    .zip(after.phases_us.iter().zip(before.phases_us))
                    .map(|(name, (a, b))| (name.trim_end_matches("_us"), (a - b) as f64 / events))
                    .collect();
                // Recording the new ids in the id set, answering the
                // requests, handing the events on; opening a load.
                let parts: f64 = phases.iter().map(|(_, us)| us).sum();
                phases.push(("other", writer_us + loader_us - parts));
                let med = median(&mut rates);
                let (min, max) = (rates[0], rates[rates.len() - 1]);
                let in_database = median(&mut stored);
                let sent = (plan.ingest_events * plan.runs) as f64;
                let (server_cpu_us, sender_cpu_us) =
                    (server_cpu * 1e6 / sent, sender_cpu * 1e6 / sent);
                println!(
                    "{:<8} {:>7} {:>8} {:>12.0} {:>24} {:>12.0} {:>11.0}% {:>14.2} {:>11.0}% {:>14.2} {:>15.2} {:>12.2} {:>13.2}",
                    format.name(),
                    batch,
                    senders,
                    med,
                    format!("{min:.0}–{max:.0}"),
                    in_database,
                    busy * 100.0,
                    writer_us,
                    loader_busy * 100.0,
                    loader_us,
                    prepare_us,
                    server_cpu_us,
                    sender_cpu_us
                );
                let parts: Vec<String> = phases
                    .iter()
                    .map(|(name, us)| format!("{name} {us:.2}"))
                    .collect();
                println!(
                    "{:>26}of the writer's and the loader's µs/ev: {}; the writer waited for the loader {wait_us:.2}",
                    "",
                    parts.join(", ")
                );
                rows.push(json!({
                    "format": format.name(), "batch": batch, "senders": senders,
                    "events_per_second": {"median": med, "min": min, "max": max, "runs": rates},
                    "events_per_second_in_database": {"median": in_database, "runs": stored},
                    "writer_busy": busy,
                    "writer_us_per_event": writer_us,
                    "loader_busy": loader_busy,
                    "loader_us_per_event": loader_us,
                    "writer_us_per_event_by_part": phases
                        .iter()
                        .map(|(name, us)| (name.to_string(), json!(us)))
                        .collect::<serde_json::Map<_, _>>(),
                    "prepare_us_per_event": prepare_us,
                    "writer_wait_us_per_event": wait_us,
                    "server_cpu_us_per_event": server_cpu_us,
                    "sender_cpu_us_per_event": sender_cpu_us,
                }));
            }
        }
        server.stop()?;
    }
    Ok(json!({"events_per_case": plan.ingest_events, "cases": rows}))
}

// ---------------------------------------------------------------- tick

/// Scenarios 2, 3 and part of 5: the tick's cost with growing history, five
/// thousand new events a tick; the cold start from each history; memory.
async fn tick(plan: &Plan, source: &mut Source) -> anyhow::Result<Value> {
    println!("\n## 2–3. Tick against history (5,000 new events a tick), cold start, memory");
    println!(
        "{:>11} {:>11} {:>11} {:>11} {:>11} {:>10} {:>11} {:>11} {:>10}",
        "history",
        "tick p50",
        "tick p90",
        "compute",
        "publish",
        "idle tick",
        "start",
        "replay all",
        "RSS"
    );
    let temp = tempfile::tempdir()?;
    let dir = match &plan.data {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            ensure!(
                std::fs::read_dir(dir)?.next().is_none(),
                "--data {} is not empty",
                dir.display()
            );
            dir.as_path()
        }
        None => temp.path(),
    };
    let (mut server, _) = Server::start(&plan.server, dir, 1000).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_empty = server.rss_bytes();
    let mut viewers = watch(&server).await?;
    let mut stored = 0u64;
    let mut rows = Vec::new();
    for &history in &plan.history {
        // History at a city's pace: a person every 50 ms of event time.
        let clock = Instant::now();
        let loaded_before = stored;
        while stored < history {
            let n = (history - stored).min(500_000) as usize;
            let lines = source.take(n, launch_morning(), 50_000, true);
            let bodies = lines
                .chunks(10_000)
                .map(|c| Format::Arrow.body(c))
                .collect();
            let answer =
                load::send_all(&server.client, &server.url, Format::Arrow, bodies, 2).await?;
            ensure!(answer.accepted == n as u64, "history: {answer:?}");
            stored += n as u64;
        }
        let load_rate = (stored - loaded_before) as f64 / clock.elapsed().as_secs_f64();
        // Five thousand events a tick: post, wait for the tick that folds them.
        let mut totals = Vec::new();
        let (mut computes, mut publishes) = (Vec::new(), Vec::new());
        let mut parts: [Vec<f64>; 3] = Default::default();
        let mut seen = server.ticks().len();
        for _ in 0..plan.ticks {
            let now = weibing::time::now_beijing_micros();
            let lines = source.take(5_000, now - 60_000_000, 10_000, true);
            let answer = load::post(
                &server.client,
                &server.url,
                Format::Ndjson,
                Format::Ndjson.body(&lines),
            )
            .await?;
            ensure!(answer.accepted == 5_000, "tick batch: {answer:?}");
            stored += 5_000;
            let deadline = Instant::now() + Duration::from_secs(10);
            let folded = loop {
                let ticks = server.ticks();
                if let Some(t) = ticks[seen..].iter().find(|t| t.folded > 0) {
                    seen = ticks.len();
                    break *t;
                }
                if Instant::now() > deadline {
                    bail!("no tick folded the batch within 10 s");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            if folded.folded == 5_000 {
                totals.push((folded.compute_us + folded.publish_us) as f64 / 1000.0);
                computes.push(folded.compute_us as f64 / 1000.0);
                publishes.push(folded.publish_us as f64 / 1000.0);
                for (part, us) in
                    parts
                        .iter_mut()
                        .zip([folded.fold_us, folded.index_us, folded.views_us])
                {
                    part.push(us as f64 / 1000.0);
                }
            }
        }
        // Idle ticks: nothing new, the same state (a heartbeat).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut idle: Vec<f64> = server.ticks()[seen..]
            .iter()
            .filter(|t| t.folded == 0)
            .map(|t| (t.compute_us + t.publish_us) as f64 / 1000.0)
            .collect();
        viewers.close();
        // A start after a stop reads the figures saved beside the database;
        // after a crash before any save, or without the file, it folds
        // every stored event again: both are measured.
        server.stop()?;
        let (saved, cold) = Server::start(&plan.server, dir, 1000).await?;
        saved.stop()?;
        std::fs::remove_file(dir.join("weibing.aggregate"))?;
        let (restarted, replay_all) = Server::start(&plan.server, dir, 1000).await?;
        server = restarted;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = server.rss_bytes();
        viewers = watch(&server).await?;
        let row = json!({
            "history": history,
            "stored": stored,
            "history_load_events_per_second": load_rate,
            "ticks_measured": totals.len(),
            "tick_ms": {"p50": median(&mut totals.clone()), "p90": percentile(&mut totals.clone(), 0.9), "all": totals},
            "compute_ms_p50": median(&mut computes),
            "publish_ms_p50": median(&mut publishes),
            "compute_parts_ms_p50": {
                "fold": median(&mut parts[0]),
                "index": median(&mut parts[1]),
                "views": median(&mut parts[2]),
            },
            "idle_tick_ms_p50": median(&mut idle),
            "cold_start_seconds": cold.as_secs_f64(),
            "cold_start_replay_all_seconds": replay_all.as_secs_f64(),
            "rss_bytes_after_start": rss,
        });
        println!(
            "{:>11} {:>9.2}ms {:>9.2}ms {:>9.2}ms {:>9.2}ms {:>8.2}ms {:>10.2}s {:>10.2}s {:>7.0}MiB",
            history,
            row["tick_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
            row["tick_ms"]["p90"].as_f64().unwrap_or(f64::NAN),
            row["compute_ms_p50"].as_f64().unwrap_or(f64::NAN),
            row["publish_ms_p50"].as_f64().unwrap_or(f64::NAN),
            row["idle_tick_ms_p50"].as_f64().unwrap_or(f64::NAN),
            cold.as_secs_f64(),
            replay_all.as_secs_f64(),
            mib(rss)
        );
        let part = |name: &str| {
            row["compute_parts_ms_p50"][name]
                .as_f64()
                .unwrap_or(f64::NAN)
        };
        println!(
            "{:>11} compute p50 = fold {:.2} ms + index {:.2} ms + views {:.2} ms",
            "",
            part("fold"),
            part("index"),
            part("views")
        );
        rows.push(row);
    }
    viewers.close();
    server.stop()?;
    println!("RSS idle over an empty store: {:.0} MiB", mib(idle_empty));
    Ok(json!({"rss_bytes_idle_empty": idle_empty, "levels": rows}))
}

/// A staff socket and a city-link socket, so each tick builds real deltas.
async fn watch(server: &Server) -> anyhow::Result<Viewers> {
    let mut viewers = Viewers::new();
    let staff = format!("{}/ws", server.url.replace("http://", "ws://"));
    viewers.grow_to(1, &staff, Some(ADMIN_TOKEN)).await?;
    let mut city = Viewers::new();
    city.grow_to(1, &server.ws_url(&server.city_link().await?), None)
        .await?;
    // Both only need to be open; the city one is closed with the staff one's task list.
    viewers.adopt(city);
    Ok(viewers)
}

// ---------------------------------------------------------------- latency

/// Scenario 4 and part of 5: from the send of one event to the moment each
/// connected client holds a state that counts it, with a 1 s tick; memory per
/// client; delta and snapshot bytes.
async fn latency(plan: &Plan, source: &mut Source) -> anyhow::Result<Value> {
    println!("\n## 4–5. Event to screen (tick 1 s), memory per client");
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>12} {:>14}",
        "clients", "p50", "p99", "max", "RSS", "per client"
    );
    let dir = tempfile::tempdir()?;
    let (server, _) = Server::start(&plan.server, dir.path(), 1000).await?;
    let history = source.take(100_000, launch_morning(), 100_000, true);
    let bodies = history
        .chunks(10_000)
        .map(|c| Format::Arrow.body(c))
        .collect();
    load::send_all(&server.client, &server.url, Format::Arrow, bodies, 2).await?;
    let token = server.city_link().await?;
    let url = server.ws_url(&token);
    let mut viewers = Viewers::new();
    let mut rows = Vec::new();
    let mut marker = 0u64;
    let mut rss_before = server.rss_bytes();
    let mut clients_before = 0usize;
    for &clients in &plan.clients {
        viewers.grow_to(clients, &url, None).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = server.rss_bytes();
        let per_client =
            (rss as f64 - rss_before as f64) / (clients - clients_before).max(1) as f64;
        let (mut samples, missed) =
            markers(&server, &viewers, plan.rounds, source.seed, &mut marker).await?;
        let (p50, p99) = (
            percentile(&mut samples, 0.5),
            percentile(&mut samples, 0.99),
        );
        let max = samples.last().copied().unwrap_or(f64::NAN);
        println!(
            "{:>8} {:>8.0}ms {:>8.0}ms {:>8.0}ms {:>9.0}MiB {:>11.1}KiB",
            clients,
            p50,
            p99,
            max,
            mib(rss),
            per_client / 1024.0
        );
        rows.push(json!({
            "clients": clients, "samples": samples.len(), "missed": missed,
            "ms": {"p50": p50, "p99": p99, "max": max},
            "rss_bytes": rss, "bytes_per_added_client": per_client,
        }));
        rss_before = rss;
        clients_before = clients;
    }
    viewers.close();
    server.stop()?;
    Ok(json!({"tick_ms": 1000, "history": 100_000, "levels": rows}))
}

/// `rounds` marker events, one at a time at a random moment of the tick:
/// for each viewer, the milliseconds from the send to the moment it held a
/// state counting the marker; and how many viewers missed one.
async fn markers(
    server: &Server,
    viewers: &Viewers,
    rounds: usize,
    seed: u64,
    marker: &mut u64,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut samples = Vec::new();
    let mut missed = 0usize;
    for _ in 0..rounds {
        let pause = rand::rng().random_range(0..1000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        viewers.clear();
        let expected = viewers.people_now() + 1;
        *marker += 1;
        let line = json!({
                "id": format!("bench-marker-{}-{marker}", seed), "ts": weibing::time::rfc3339(weibing::time::now_beijing_micros()),
                "kind": "scan", "district": "110108", "person": format!("p-marker-{}-{marker:06}", seed),
                "channel": "bench",
            })
            .to_string();
        let sent = Instant::now();
        let answer = load::post(&server.client, &server.url, Format::Ndjson, line.into()).await?;
        ensure!(answer.accepted == 1, "marker: {answer:?}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let seq = loop {
            if let Some(seq) = viewers.seq_counting(expected) {
                break seq;
            }
            if Instant::now() > deadline {
                bail!("no state counted the marker within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        viewers.wait_all(seq, Duration::from_secs(10)).await;
        for reached in viewers.reached(seq) {
            match reached {
                Some(at) => samples.push(at.duration_since(sent).as_secs_f64() * 1000.0),
                None => missed += 1,
            }
        }
    }
    Ok((samples, missed))
}

// ---------------------------------------------------------------- edges

/// Scenario 7: one primary relaying over NATS to two edges, the clients
/// split over the edges: event to screen against the single node's in the
/// same run (the same clients on the primary alone), memory per client on
/// an edge, and what crosses NATS per tick.
async fn edges(plan: &Plan, source: &mut Source) -> anyhow::Result<Value> {
    println!("\n## 7. Through two edges over NATS against the single node (tick 1 s)");
    let nats = match server::Nats::start() {
        Ok(nats) => nats,
        Err(e) => {
            println!("SKIPPED: {e:#}");
            return Ok(json!({"skipped": format!("{e:#}")}));
        }
    };
    let dir = tempfile::tempdir()?;
    let (primary, _) =
        Server::start_with(&plan.server, dir.path(), 1000, &["--nats", &nats.url]).await?;
    let history = source.take(100_000, launch_morning(), 100_000, true);
    let bodies = history
        .chunks(10_000)
        .map(|c| Format::Arrow.body(c))
        .collect();
    load::send_all(&primary.client, &primary.url, Format::Arrow, bodies, 2).await?;
    let edges = [
        server::Edge::start(&plan.server, &nats.url).await?,
        server::Edge::start(&plan.server, &nats.url).await?,
    ];
    let token = primary.city_link().await?;
    for edge in &edges {
        let started = Instant::now();
        while !primary
            .client
            .get(format!("{}/api/v1/snapshot", edge.url))
            .bearer_auth(&token)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ensure!(
                started.elapsed() < Duration::from_secs(10),
                "the link on the edge"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    println!(
        "{:>8} {:>19} {:>19} {:>14} {:>22} {:>36}",
        "clients",
        "edges p50 / p99",
        "single p50 / p99",
        "per client edge/single",
        "relayed per tick",
        "NATS server per tick in / out"
    );
    let mut rows = Vec::new();
    let mut marker = 1_000_000u64;
    for &clients in &plan.clients {
        let rss_before: u64 = edges.iter().map(server::Edge::rss_bytes).sum();
        let mut viewers = Viewers::new();
        viewers
            .grow_to(clients.div_ceil(2), &edges[0].ws_url(&token), None)
            .await?;
        viewers
            .grow_to(clients, &edges[1].ws_url(&token), None)
            .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss: u64 = edges.iter().map(server::Edge::rss_bytes).sum();
        let per_client = (rss as f64 - rss_before as f64) / clients as f64;
        let (traffic_before, relay_before, window) = (
            nats.traffic().await?,
            relayed(&primary).await?,
            Instant::now(),
        );
        let (mut through, missed) =
            markers(&primary, &viewers, plan.rounds, source.seed, &mut marker).await?;
        let (traffic, relay) = (nats.traffic().await?, relayed(&primary).await?);
        // A 1 s tick: per second is per tick.
        let ticks = window.elapsed().as_secs_f64();
        viewers.close();
        let mut single = Viewers::new();
        let primary_before = primary.rss_bytes();
        single
            .grow_to(clients, &primary.ws_url(&token), None)
            .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let primary_per_client =
            (primary.rss_bytes() as f64 - primary_before as f64) / clients as f64;
        let (mut alone, missed_alone) =
            markers(&primary, &single, plan.rounds, source.seed, &mut marker).await?;
        single.close();
        let per_tick = |a: u64, b: u64| (a - b) as f64 / ticks;
        let nats_tick = json!({
            "relayed_msgs": per_tick(relay.0, relay_before.0),
            "relayed_bytes": per_tick(relay.1, relay_before.1),
            "in_msgs": per_tick(traffic.in_msgs, traffic_before.in_msgs),
            "out_msgs": per_tick(traffic.out_msgs, traffic_before.out_msgs),
            "in_bytes": per_tick(traffic.in_bytes, traffic_before.in_bytes),
            "out_bytes": per_tick(traffic.out_bytes, traffic_before.out_bytes),
        });
        let ms = |v: &mut Vec<f64>| (percentile(v, 0.5), percentile(v, 0.99));
        let ((p50, p99), (s50, s99)) = (ms(&mut through), ms(&mut alone));
        let f = |k: &str| nats_tick[k].as_f64().unwrap_or(0.0);
        println!(
            "{:>8} {:>8.0} / {:>6.0}ms {:>8.0} / {:>6.0}ms {:>6.1} / {:>4.1}KiB {:>5.1} msgs {:>6.1} KiB {:>6.0} / {:>5.0} msgs {:>6.1} / {:>6.1} KiB",
            clients,
            p50,
            p99,
            s50,
            s99,
            per_client / 1024.0,
            primary_per_client / 1024.0,
            f("relayed_msgs"),
            f("relayed_bytes") / 1024.0,
            f("in_msgs"),
            f("out_msgs"),
            f("in_bytes") / 1024.0,
            f("out_bytes") / 1024.0,
        );
        rows.push(json!({
            "clients": clients,
            "edges": {"samples": through.len(), "missed": missed, "ms": {"p50": p50, "p99": p99}},
            "single": {"samples": alone.len(), "missed": missed_alone, "ms": {"p50": s50, "p99": s99}},
            "edge_rss_bytes": rss, "edge_bytes_per_client": per_client,
            "single_bytes_per_client": primary_per_client,
            "nats_per_tick": nats_tick,
        }));
    }
    drop(edges);
    primary.stop()?;
    Ok(json!({"tick_ms": 1000, "history": 100_000, "edges": 2, "audiences": 17, "levels": rows}))
}

/// What the primary published on the bus so far: (messages, bytes).
async fn relayed(primary: &Server) -> anyhow::Result<(u64, u64)> {
    let text = primary
        .client
        .get(format!("{}/metrics", primary.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?
        .text()
        .await?;
    let sample = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    Ok((
        sample("weibing_bus_relay_messages_total"),
        sample("weibing_bus_relay_bytes_total"),
    ))
}

// ---------------------------------------------------------------- peer

/// Scenario 6 (and the delta bytes of 5): the same events and the same live
/// pace, once pushed by Weibing, once polled from PostgreSQL by each viewer.
async fn side_by_side(plan: &Plan, source: &mut Source) -> anyhow::Result<Value> {
    println!(
        "\n## 6. Side by side: {} events stored, {} events/s arriving, {} s a viewer count; Weibing ticks every 1 s, dashboards refresh every {} s",
        plan.peer_history,
        plan.peer_rate,
        plan.peer_window.as_secs(),
        plan.peer_refresh.as_secs()
    );
    let history = source.take(plan.peer_history, launch_morning(), 50_000, true);
    let live_each = (plan.peer_rate as u64 * (plan.peer_window.as_secs() + 5)) as usize;
    let lives: Vec<Vec<String>> = plan
        .peer_viewers
        .iter()
        .map(|_| source.take(live_each, weibing::time::now_beijing_micros(), 30_000, true))
        .collect();

    // Weibing.
    let dir = tempfile::tempdir()?;
    let (server, _) = Server::start(&plan.server, dir.path(), 1000).await?;
    let bodies = history
        .chunks(10_000)
        .map(|c| Format::Arrow.body(c))
        .collect();
    load::send_all(&server.client, &server.url, Format::Arrow, bodies, 2).await?;
    let url = server.ws_url(&server.city_link().await?);
    let mut viewers = Viewers::new();
    let mut ours = Vec::new();
    for (&count, live) in plan.peer_viewers.iter().zip(&lives) {
        viewers.grow_to(count, &url, None).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        viewers.clear();
        viewers.frames.lock().unwrap().clear();
        let base = viewers.people_now();
        let cpu = server.cpu_seconds();
        let clock = Instant::now();
        let (commits, sent) = live_send(&server, live, plan.peer_rate, plan.peer_window).await?;
        let wall = clock.elapsed().as_secs_f64();
        let cpu_per_minute = (server.cpu_seconds() - cpu) / wall * 60.0;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut fresh = Vec::new();
        for (at, people) in &commits {
            if let Some(seq) = viewers.seq_counting(base + people) {
                for reached in viewers.reached(seq).into_iter().flatten() {
                    fresh.push(reached.saturating_duration_since(*at).as_secs_f64() * 1000.0);
                }
            }
        }
        let frames = viewers.frames.lock().unwrap().clone();
        let mut deltas: Vec<f64> = frames
            .iter()
            .filter(|(k, _)| k == "delta")
            .map(|(_, b)| *b as f64)
            .collect();
        ours.push(json!({
            "viewers": count,
            "cpu_seconds_per_minute": cpu_per_minute,
            "freshness_ms": {"p50": percentile(&mut fresh, 0.5), "p99": percentile(&mut fresh, 0.99), "samples": fresh.len()},
            "delta_bytes_p50": median(&mut deltas),
            "inserted_per_second": sent as f64 / wall,
        }));
    }
    let snapshot_bytes = snapshot_bytes(&url).await?;
    viewers.close();
    server.stop()?;

    // PostgreSQL, polled.
    let pg = peer::Postgres::start().await?;
    pg.load(&history).await?;
    let mut polled = Vec::new();
    for (&count, live) in plan.peer_viewers.iter().zip(&lives) {
        let run = peer::measure(
            &pg,
            count,
            plan.peer_refresh,
            plan.peer_window,
            plan.peer_rate,
            live,
        )
        .await?;
        polled.push(run);
    }
    drop(pg);

    println!(
        "{:>8} | {:>14} {:>12} {:>12} {:>8} | {:>14} {:>12} {:>12} {:>10} {:>8} | {:>7}",
        "viewers",
        "ours CPU s/min",
        "fresh p50",
        "fresh p99",
        "ev/s",
        "peer CPU s/min",
        "fresh p50",
        "fresh p99",
        "refresh",
        "ev/s",
        "ratio"
    );
    let mut rows = Vec::new();
    for (o, p) in ours.iter().zip(&polled) {
        let ours_cpu = o["cpu_seconds_per_minute"].as_f64().unwrap_or(f64::NAN);
        let ratio = p.cpu_seconds_per_minute / ours_cpu;
        println!(
            "{:>8} | {:>14.2} {:>10.0}ms {:>10.0}ms {:>8.0} | {:>14.2} {:>10.0}ms {:>10.0}ms {:>8.0}ms {:>8.0} | {:>6.1}×",
            p.viewers,
            ours_cpu,
            o["freshness_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
            o["freshness_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
            o["inserted_per_second"].as_f64().unwrap_or(f64::NAN),
            p.cpu_seconds_per_minute,
            p.freshness_p50_ms,
            p.freshness_p99_ms,
            p.refresh_ms_p50,
            p.inserted_per_second,
            ratio
        );
        rows.push(json!({
            "viewers": p.viewers,
            "weibing": o,
            "postgres": {
                "cpu_seconds_per_minute": p.cpu_seconds_per_minute,
                "freshness_ms": {"p50": p.freshness_p50_ms, "p99": p.freshness_p99_ms},
                "refresh_ms_p50": p.refresh_ms_p50,
                "refreshes_per_second": p.refreshes_per_second,
                "inserted_per_second": p.inserted_per_second,
            },
            "cpu_ratio_postgres_to_weibing": ratio,
        }));
    }
    let mut deltas: Vec<f64> = ours
        .iter()
        .filter_map(|o| o["delta_bytes_p50"].as_f64())
        .collect();
    let delta = median(&mut deltas);
    println!(
        "a delta at this pace: {delta:.0} B (median); the snapshot: {snapshot_bytes} B; {:.0}× smaller",
        snapshot_bytes as f64 / delta
    );
    Ok(json!({
        "history": plan.peer_history,
        "rate": plan.peer_rate,
        "window_seconds": plan.peer_window.as_secs(),
        "tick_ms": 1000,
        "refresh_ms": plan.peer_refresh.as_millis() as u64,
        "viewers": rows,
        "delta_bytes_p50": delta,
        "snapshot_bytes": snapshot_bytes,
    }))
}

/// Posts `live` at `rate` events/s for `window`, a batch every 100 ms; for
/// each answered batch, when it was answered and how many new persons had
/// scanned by then; and how many events were sent.
async fn live_send(
    server: &Server,
    live: &[String],
    rate: u32,
    window: Duration,
) -> anyhow::Result<(Vec<(Instant, u64)>, usize)> {
    let first_scans = load::new_people(live);
    let per_batch = (rate as usize / 10).max(1);
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    let clock = Instant::now();
    let (mut sent, mut people) = (0usize, 0u64);
    let mut commits = Vec::new();
    while clock.elapsed() < window {
        interval.tick().await;
        let end = (sent + per_batch).min(live.len());
        if end == sent {
            bail!("the live events ran out");
        }
        let answer = load::post(
            &server.client,
            &server.url,
            Format::Ndjson,
            Format::Ndjson.body(&live[sent..end]),
        )
        .await?;
        ensure!(answer.accepted == (end - sent) as u64, "live: {answer:?}");
        people += first_scans[sent..end].iter().filter(|f| **f).count() as u64;
        sent = end;
        commits.push((Instant::now(), people));
    }
    Ok((commits, sent))
}

/// Bytes of the snapshot a new socket of `url` is sent.
async fn snapshot_bytes(url: &str) -> anyhow::Result<usize> {
    use futures_util::StreamExt;
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    while let Some(message) = socket.next().await {
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message?
            && text.starts_with(r#"{"type":"snapshot""#)
        {
            return Ok(text.len());
        }
    }
    Err(anyhow::anyhow!("the socket closed before its snapshot")).context("snapshot bytes")
}
