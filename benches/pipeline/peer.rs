//! The peer: the way a polling dashboard gets the same figures. PostgreSQL
//! (Debian's package) runs on loopback over a temporary folder and holds the
//! same events; a sender inserts the live ones as an ingest service would, and
//! each open dashboard re-runs the queries of `bench/peer.sql` over its own
//! connection every refresh interval.
//!
//! What is compared with Weibing, over the same window and the same live pace:
//! the server's CPU seconds per wall minute (the postmaster and every process
//! it forked), and freshness, from an insert's commit to the first answer a
//! viewer holds that counts it. The live events' scans are all of new persons,
//! so the city-wide people count tells which commits an answer includes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use futures_util::SinkExt;
use tokio::sync::watch;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use crate::{median, percentile};

/// The schema, then each dashboard query after a line starting with [`MARKER`].
const SQL: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/peer.sql"));
const MARKER: &str = "\n-- query: ";
/// The query whose city-wide row (district NULL) freshness is read from.
const PEOPLE: &str = "people";

/// The live sender's statement, one event at a time. The time goes as text so
/// that PostgreSQL parses RFC 3339 itself.
const INSERT: &str = "INSERT INTO events \
     (id, ts, kind, district, person, channel, colour, team, category, stage, rate, value) \
     VALUES ($1, $2::text::timestamptz, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
     ON CONFLICT (id) DO NOTHING";

/// The text columns of `events`, in the table's order; `value` comes last.
const TEXT_COLUMNS: [&str; 11] = [
    "id", "ts", "kind", "district", "person", "channel", "colour", "team", "category", "stage",
    "rate",
];

/// A PostgreSQL server of its own, stopped and removed when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    /// The postgres process, or `runuser` waiting on it when we are root.
    child: Child,
    bin: PathBuf,
    root: bool,
    port: u16,
    pid: u32,
    client: Client,
}

impl Postgres {
    /// initdb in a fresh temporary folder, then postgres on a free loopback
    /// port, with the `events` table and its indexes. Default settings (fsync
    /// on) but for a 256 MB buffer cache, which holds the history, and room
    /// for a hundred dashboards' connections.
    pub async fn start() -> anyhow::Result<Postgres> {
        let bin = binaries()?;
        let root = is_root();
        let dir = tempfile::Builder::new().prefix("weibing-peer-").tempdir()?;
        if root {
            // PostgreSQL refuses to run as root: the postgres user owns the cluster.
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()))?;
        }
        let data = dir.path().join("data");
        run(as_postgres(root, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres"])
            .args(["-E", "UTF8", "--locale=C.UTF-8"])
            // A throwaway cluster: no need to wait for initdb's files to reach the disk.
            .arg("--no-sync"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log_path = dir.path().join("postgres.log");
        let log = File::create(&log_path)?;
        let mut child = as_postgres(root, &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("port={port}"))
            // No Unix socket: Debian's default folder for it may not exist here.
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "shared_buffers=256MB", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting postgres")?;
        let ready = async {
            let client = connect_when_up(port, &mut child, &log_path).await?;
            client
                .batch_execute(schema())
                .await
                .context("creating the events table")?;
            let pid = std::fs::read_to_string(data.join("postmaster.pid"))?
                .lines()
                .next()
                .and_then(|l| l.trim().parse().ok())
                .context("no PID in postmaster.pid")?;
            let version: String = client.query_one("SHOW server_version", &[]).await?.get(0);
            anyhow::Ok((client, pid, version))
        };
        match ready.await {
            Ok((client, pid, version)) => {
                eprintln!("peer: PostgreSQL {version} on 127.0.0.1:{port}");
                Ok(Postgres {
                    dir,
                    child,
                    bin,
                    root,
                    port,
                    pid,
                    client,
                })
            }
            Err(e) => {
                stop(&bin, root, &data, &mut child);
                Err(e)
            }
        }
    }

    /// Loads history the fast way (COPY into a staging table, then one
    /// INSERT that skips duplicate ids). Then what an operator does after a
    /// bulk load: VACUUM (ANALYZE), and a checkpoint, so that neither
    /// autovacuum nor the load's writes land in a measured window.
    pub async fn load(&self, lines: &[String]) -> anyhow::Result<()> {
        let clock = Instant::now();
        self.client
            .batch_execute("CREATE TEMP TABLE staging (LIKE events)")
            .await?;
        let mut sink = Box::pin(self.client.copy_in("COPY staging FROM STDIN").await?);
        for chunk in lines.chunks(10_000) {
            let mut rows = Vec::new();
            for line in chunk {
                Event::parse(line)?.copy_row(&mut rows);
            }
            sink.send(Bytes::from(rows)).await?;
        }
        sink.as_mut().finish().await?;
        let stored = self
            .client
            .execute(
                "INSERT INTO events SELECT * FROM staging ON CONFLICT (id) DO NOTHING",
                &[],
            )
            .await?;
        // VACUUM refuses to run inside the implicit transaction of a
        // multi-statement string: one statement at a time.
        for statement in [
            "DROP TABLE staging",
            "VACUUM (ANALYZE) events",
            "CHECKPOINT",
        ] {
            self.client.batch_execute(statement).await?;
        }
        eprintln!(
            "peer: {stored} of {} events loaded in {:.1} s",
            lines.len(),
            clock.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// PID of the postmaster.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    async fn connect(&self) -> anyhow::Result<Client> {
        connect(self.port).await
    }

    /// CPU seconds of the postmaster and its processes so far. A backend or
    /// parallel worker that exited was reaped by the postmaster, and its time
    /// moved into the postmaster's children's time: that is counted too, so
    /// nothing is lost when a process ends within a window.
    fn cpu_seconds(&self) -> f64 {
        let mut ticks = 0;
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return 0.0;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(stat) = ProcStat::read(pid)
                && (pid == self.pid() || stat.ppid == self.pid())
            {
                ticks += stat.ticks;
            }
        }
        // USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK` tells).
        ticks as f64 / 100.0
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        stop(
            &self.bin,
            self.root,
            &self.dir.path().join("data"),
            &mut self.child,
        );
    }
}

/// One viewer count's figures.
pub struct PeerRun {
    pub viewers: usize,
    /// CPU seconds (user + system) of the postmaster and all its processes per wall minute.
    pub cpu_seconds_per_minute: f64,
    /// From a live insert's commit to the first moment a viewer holds an
    /// answer counting it, over all viewers and commits.
    pub freshness_p50_ms: f64,
    pub freshness_p99_ms: f64,
    /// Median time of one viewer's refresh (all the queries), ms.
    pub refresh_ms_p50: f64,
    /// Refreshes completed per second, all viewers together.
    pub refreshes_per_second: f64,
    /// Live events the sender got committed per second: below the asked
    /// rate when the viewers' queries leave the server no room to take them.
    pub inserted_per_second: f64,
}

/// `viewers` dashboards open for `window`, each refreshing every `refresh`,
/// while `live` is inserted at `rate` events/s. The live events' scans must
/// all be of persons not yet stored.
pub async fn measure(
    pg: &Postgres,
    viewers: usize,
    refresh: Duration,
    window: Duration,
    rate: u32,
    live: &[String],
) -> anyhow::Result<PeerRun> {
    let events = live
        .iter()
        .map(|l| Event::parse(l))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let people = query(PEOPLE).context("bench/peer.sql has no people query")?;
    let base = city_people(&pg.client.query(people, &[]).await?)?;
    let mut dashboards = Vec::with_capacity(viewers);
    for _ in 0..viewers {
        dashboards.push(Dashboard::open(pg.connect().await?).await?);
    }
    let sender = pg.connect().await?;

    let (target, told) = watch::channel(None);
    let caught_up = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let end = start + window;
    // Dashboards keep refreshing after the window until each has seen the
    // last commit, at the same load, so late commits are measured too.
    let give_up = end + (refresh * 6).max(window);
    let cpu_before = pg.cpu_seconds();
    let tasks: Vec<_> = dashboards
        .into_iter()
        .map(|dashboard| {
            // Opened at different moments, like real dashboards.
            let phase = rand::random_range(0..refresh.as_micros() as u64);
            let watching = Watching {
                first: start + Duration::from_micros(phase),
                refresh,
                end,
                give_up,
                viewers,
                target: told.clone(),
                caught_up: caught_up.clone(),
            };
            tokio::spawn(dashboard.watch(watching))
        })
        .collect();
    let sent = send(
        sender,
        &events,
        &crate::load::new_people(live),
        rate,
        window,
    )
    .await;
    let cpu = pg.cpu_seconds() - cpu_before;
    let measured = Instant::now();
    let wall = (measured - start).as_secs_f64();
    let (commits, inserted) = match sent {
        Ok(sent) => sent,
        Err(e) => {
            tasks.iter().for_each(|t| t.abort());
            return Err(e);
        }
    };
    let last = commits.last().map_or(0, |(_, people)| *people);
    target.send_replace(Some(base + last as i64));
    let mut seen = Vec::with_capacity(viewers);
    for task in tasks {
        seen.push(task.await??);
    }

    // Only the commits that added a person can be told apart by the count.
    let mut counted = 0;
    let identifiable: Vec<(Instant, i64)> = commits
        .iter()
        .filter(|(_, people)| std::mem::replace(&mut counted, *people) < *people)
        .map(|(at, people)| (*at, base + *people as i64))
        .collect();
    let (mut fresh, mut unseen) = (Vec::new(), 0);
    let (mut durations, mut completed) = (Vec::new(), 0usize);
    for viewer in &seen {
        let mut next = 0;
        for (at, people) in &viewer.answers {
            while next < identifiable.len() && identifiable[next].1 <= *people {
                let waited = at.saturating_duration_since(identifiable[next].0);
                fresh.push(waited.as_secs_f64() * 1000.0);
                next += 1;
            }
        }
        unseen += identifiable.len() - next;
        for (began, took) in &viewer.refreshes {
            if *began < measured {
                durations.push(took.as_secs_f64() * 1000.0);
            }
            if *began + *took <= measured {
                completed += 1;
            }
        }
    }
    let unseen = if unseen > 0 {
        format!(", {unseen} commit sightings missed")
    } else {
        String::new()
    };
    // Under load the sender may fall behind `rate`: the line says so.
    eprintln!(
        "peer: {viewers} viewers: {inserted} live events inserted in {wall:.0} s, {} refreshes, {} freshness samples{unseen}",
        durations.len(),
        fresh.len()
    );
    Ok(PeerRun {
        viewers,
        cpu_seconds_per_minute: cpu / wall * 60.0,
        freshness_p50_ms: percentile(&mut fresh, 0.5),
        freshness_p99_ms: percentile(&mut fresh, 0.99),
        refresh_ms_p50: median(&mut durations),
        refreshes_per_second: completed as f64 / wall,
        inserted_per_second: inserted as f64 / wall,
    })
}

/// Inserts `events` at `rate` a second for `window`, a transaction every
/// 100 ms as an ingest service batching its input would. Returns, for each
/// commit, when it was acknowledged and how many new persons had scanned by
/// then (`first_scans`: which events are a person's first scan); and how
/// many events were sent.
async fn send(
    mut client: Client,
    events: &[Event],
    first_scans: &[bool],
    rate: u32,
    window: Duration,
) -> anyhow::Result<(Vec<(Instant, u64)>, usize)> {
    let insert = client.prepare(INSERT).await?;
    let per_batch = (rate as usize / 10).max(1);
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    let clock = Instant::now();
    let (mut sent, mut people) = (0usize, 0u64);
    let mut commits = Vec::new();
    while clock.elapsed() < window {
        interval.tick().await;
        let end = (sent + per_batch).min(events.len());
        if end == sent {
            bail!("the live events ran out");
        }
        let transaction = client.transaction().await?;
        for event in &events[sent..end] {
            transaction.execute(&insert, &event.params()).await?;
        }
        transaction.commit().await?;
        people += first_scans[sent..end].iter().filter(|f| **f).count() as u64;
        commits.push((Instant::now(), people));
        sent = end;
    }
    Ok((commits, sent))
}

/// One open dashboard: its connection and its prepared queries.
struct Dashboard {
    client: Client,
    queries: Vec<(&'static str, Statement)>,
}

/// When a dashboard refreshes, and when it may close.
struct Watching {
    first: Instant,
    refresh: Duration,
    /// The end of the measured window.
    end: Instant,
    /// After the window, a dashboard closes once every one of them has seen
    /// the sender's final people count, or at this instant.
    give_up: Instant,
    viewers: usize,
    /// The final people count, once the sender is done.
    target: watch::Receiver<Option<i64>>,
    caught_up: Arc<AtomicUsize>,
}

/// What one dashboard saw.
#[derive(Default)]
struct Seen {
    /// When each people answer arrived, and its city-wide count.
    answers: Vec<(Instant, i64)>,
    /// When each refresh began, and how long it took.
    refreshes: Vec<(Instant, Duration)>,
}

impl Dashboard {
    async fn open(client: Client) -> anyhow::Result<Dashboard> {
        let mut prepared = Vec::new();
        for (name, sql) in queries() {
            let statement = client
                .prepare(sql)
                .await
                .with_context(|| format!("preparing the {name} query"))?;
            prepared.push((name, statement));
        }
        Ok(Dashboard {
            client,
            queries: prepared,
        })
    }

    /// Refreshes every `refresh` from `first` until it may close.
    async fn watch(self, w: Watching) -> anyhow::Result<Seen> {
        let mut seen = Seen::default();
        let mut beat = w.first;
        let mut caught_up = false;
        loop {
            tokio::time::sleep_until(beat.into()).await;
            let now = Instant::now();
            if now >= w.end
                && (w.caught_up.load(Ordering::Relaxed) == w.viewers || now >= w.give_up)
            {
                return Ok(seen);
            }
            let began = Instant::now();
            for (name, statement) in &self.queries {
                let rows = self.client.query(statement, &[]).await?;
                if *name == PEOPLE {
                    let people = city_people(&rows)?;
                    seen.answers.push((Instant::now(), people));
                    if !caught_up && w.target.borrow().is_some_and(|t| people >= t) {
                        caught_up = true;
                        w.caught_up.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            seen.refreshes.push((began, began.elapsed()));
            // One refresh in flight at a time: a beat that passed while it
            // ran is skipped, as dashboards do.
            while beat <= Instant::now() {
                beat += w.refresh;
            }
        }
    }
}

/// The people query's city-wide row.
fn city_people(rows: &[tokio_postgres::Row]) -> anyhow::Result<i64> {
    rows.iter()
        .find(|r| r.get::<_, Option<&str>>("district").is_none())
        .map(|r| r.get("people"))
        .context("no city-wide row in the people answer")
}

/// bench/peer.sql before its first query.
fn schema() -> &'static str {
    SQL.split(MARKER).next().unwrap_or_default()
}

/// The query named `name` in bench/peer.sql.
fn query(name: &str) -> Option<&'static str> {
    queries().find(|(n, _)| *n == name).map(|(_, sql)| sql)
}

/// bench/peer.sql's queries, by name, in order.
fn queries() -> impl Iterator<Item = (&'static str, &'static str)> {
    SQL.split(MARKER)
        .skip(1)
        .map(|section| section.split_once('\n').unwrap_or((section, "")))
        .map(|(name, sql)| (name.trim(), sql))
}

/// An event as the table's columns: the texts in [`TEXT_COLUMNS`]' order, and `value`.
struct Event {
    texts: [Option<String>; 11],
    value: Option<bool>,
}

impl Event {
    fn parse(line: &str) -> anyhow::Result<Event> {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("not an event: {line}"))?;
        Ok(Event {
            texts: TEXT_COLUMNS.map(|c| v[c].as_str().map(str::to_owned)),
            value: v["value"].as_bool(),
        })
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let texts = self.texts.iter().map(|t| t as &(dyn ToSql + Sync));
        texts.chain([&self.value as &(dyn ToSql + Sync)]).collect()
    }

    /// Appends the event as a line of COPY's text format.
    fn copy_row(&self, out: &mut Vec<u8>) {
        for text in &self.texts {
            match text {
                Some(s) => {
                    for b in s.bytes() {
                        match b {
                            b'\\' => out.extend_from_slice(b"\\\\"),
                            b'\t' => out.extend_from_slice(b"\\t"),
                            b'\n' => out.extend_from_slice(b"\\n"),
                            b'\r' => out.extend_from_slice(b"\\r"),
                            _ => out.push(b),
                        }
                    }
                }
                None => out.extend_from_slice(b"\\N"),
            }
            out.push(b'\t');
        }
        out.extend_from_slice(match self.value {
            Some(true) => b"t\n",
            Some(false) => b"f\n",
            None => b"\\N\n",
        });
    }
}

/// /proc/<pid>/stat: the parent, and the CPU clock ticks of the process and
/// of its children it has waited for.
struct ProcStat {
    ppid: u32,
    ticks: u64,
}

impl ProcStat {
    fn read(pid: u32) -> Option<ProcStat> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces) start at field 3.
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        // ppid is field 4; utime, stime, cutime, cstime are fields 14 to 17.
        Some(ProcStat {
            ppid: field(4)? as u32,
            ticks: field(14)? + field(15)? + field(16)? + field(17)?,
        })
    }
}

/// The newest PostgreSQL under /usr/lib/postgresql (Debian's layout),
/// installed with apt-get when missing and we are root.
fn binaries() -> anyhow::Result<PathBuf> {
    if let Some(bin) = installed() {
        return Ok(bin);
    }
    ensure!(
        is_root(),
        "PostgreSQL is not installed: `sudo apt-get install postgresql` (the benchmark runs /usr/lib/postgresql/<version>/bin/postgres)"
    );
    eprintln!("peer: installing PostgreSQL (apt-get install postgresql)");
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "postgresql"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    installed()
        .context("apt-get installed postgresql, but no /usr/lib/postgresql/<version>/bin/postgres")
}

fn installed() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

/// Whether the effective user is root (the second id of Uid: in /proc/self/status).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// `program` run as the postgres user when we are root.
fn as_postgres(root: bool, program: &Path) -> Command {
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Runs `command` to its end; its output goes in the error when it fails.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    ensure!(
        output.status.success(),
        "{command:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

async fn connect(port: u16) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
        NoTls,
    )
    .await?;
    // A broken connection shows up as the client's next error.
    tokio::spawn(connection);
    Ok(client)
}

/// The first connection, once postgres accepts one (within a minute).
async fn connect_when_up(port: u16, child: &mut Child, log: &Path) -> anyhow::Result<Client> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            bail!("postgres exited with {status}:\n{log}");
        }
        match connect(port).await {
            Ok(client) => return Ok(client),
            Err(e) if started.elapsed() > Duration::from_secs(60) => {
                return Err(e.context("postgres did not accept a connection within 60 s"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A fast shutdown (open sessions are ended), then waits for the process.
fn stop(bin: &Path, root: bool, data: &Path, child: &mut Child) {
    let stopped = as_postgres(root, &bin.join("pg_ctl"))
        .args(["stop", "-m", "fast", "-w", "-D"])
        .arg(data)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !stopped {
        let _ = child.kill();
    }
    let _ = child.wait();
}
