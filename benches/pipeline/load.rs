//! The load: realistic events in the three body formats, senders that post
//! them, and websocket viewers that record when each state reached them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use arrow::array::{ArrayRef, BooleanBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;
use weibing::region::Region;

use crate::server::INGEST_KEY;

/// The text fields of an event, in the CSV header's and Arrow schema's order;
/// `value` (a boolean) comes last.
const TEXT_FIELDS: [&str; 11] = [
    "id", "ts", "kind", "district", "person", "channel", "colour", "team", "category", "stage",
    "rate",
];

/// At least `n` events (whole persons), and the persons they took.
pub fn at_least(
    region: &Region,
    seed: u64,
    first: u64,
    n: usize,
    at: i64,
    step: i64,
) -> (Vec<String>, u64) {
    // The mix averages a little over three events a person.
    let mut people = (n as u64 / 3).max(1);
    loop {
        // The simulator's mix of the six kinds; distinct seeds, distinct ids.
        let lines = weibing::simulate::morning_events(region, seed, first, people, at, step);
        if lines.len() >= n {
            return (lines, people);
        }
        people += people / 4 + 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
    Arrow,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Arrow => "arrow",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv",
            Format::Arrow => "application/vnd.apache.arrow.stream",
        }
    }

    /// One request body holding `lines`.
    pub fn body(self, lines: &[String]) -> bytes::Bytes {
        match self {
            Format::Ndjson => lines.join("\n").into(),
            Format::Csv => csv(lines).into(),
            Format::Arrow => arrow_stream(lines).into(),
        }
    }
}

fn parsed(lines: &[String]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("generated events are JSON objects"))
        .collect()
}

fn csv(lines: &[String]) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = TEXT_FIELDS.to_vec();
    header.push("value");
    out.write_record(&header).expect("in memory");
    for event in parsed(lines) {
        let row = header.iter().map(|name| match event.get(*name) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Bool(b)) => b.to_string(),
            _ => String::new(),
        });
        out.write_record(row).expect("in memory");
    }
    out.into_inner().expect("in memory")
}

fn arrow_stream(lines: &[String]) -> Vec<u8> {
    let events = parsed(lines);
    let mut columns: Vec<ArrayRef> = TEXT_FIELDS
        .iter()
        .map(|name| {
            let mut b = StringBuilder::new();
            for e in &events {
                b.append_option(e.get(*name).and_then(|v| v.as_str()));
            }
            Arc::new(b.finish()) as ArrayRef
        })
        .collect();
    let mut value = BooleanBuilder::new();
    for e in &events {
        value.append_option(e.get("value").and_then(|v| v.as_bool()));
    }
    columns.push(Arc::new(value.finish()));
    let mut fields: Vec<Field> = TEXT_FIELDS
        .iter()
        .map(|name| Field::new(*name, DataType::Utf8, true))
        .collect();
    fields.push(Field::new("value", DataType::Boolean, true));
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("columns match the schema");
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, &schema).expect("in memory");
    writer.write(&batch).expect("in memory");
    writer.finish().expect("in memory");
    drop(writer);
    out
}

/// The counts of an ingest answer.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct Answer {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    format: Format,
    body: bytes::Bytes,
) -> anyhow::Result<Answer> {
    let response = client
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(INGEST_KEY)
        .header("content-type", format.content_type())
        .body(body)
        .send()
        .await
        .context("sending events")?;
    let status = response.status();
    if status != 200 {
        bail!(
            "ingest answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    Ok(response.json().await?)
}

/// Posts `bodies` with `senders` concurrent senders (each one request at a
/// time); the summed answer.
pub async fn send_all(
    client: &reqwest::Client,
    url: &str,
    format: Format,
    bodies: Vec<bytes::Bytes>,
    senders: usize,
) -> anyhow::Result<Answer> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (client, url, bodies, next) = (
            client.clone(),
            url.to_string(),
            bodies.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut sum = Answer::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let a = post(&client, &url, format, body.clone()).await?;
                sum.accepted += a.accepted;
                sum.duplicates += a.duplicates;
                sum.rejected += a.rejected;
            }
            anyhow::Ok(sum)
        }));
    }
    let mut sum = Answer::default();
    for task in tasks {
        let a = task.await??;
        sum.accepted += a.accepted;
        sum.duplicates += a.duplicates;
        sum.rejected += a.rejected;
    }
    Ok(sum)
}

/// Whether each line is the first scan of a person not seen before in
/// `lines`: the people count grows by one at each.
pub fn new_people(lines: &[String]) -> Vec<bool> {
    let mut seen = std::collections::HashSet::new();
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            v["kind"] == "scan" && seen.insert(v["person"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

/// What every viewer socket records: the instant each delta or snapshot
/// arrived, by seq. Heartbeats change no state and are not kept.
type Arrivals = Arc<Mutex<Vec<(u64, Instant)>>>;

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    seq: u64,
}

/// `n` websocket viewers of one view. The first one (the tracker) applies
/// every delta to its snapshot and records the city's people count at each
/// seq; the others only read each frame's seq, as cheaply as a frame can be
/// read, so the load generator's own cost stays small next to the server's.
pub struct Viewers {
    arrivals: Vec<Arrivals>,
    /// seq → totals.people, from the tracker.
    people: Arc<Mutex<BTreeMap<u64, u64>>>,
    /// Bytes of each frame the tracker got: (kind, bytes).
    pub frames: Arc<Mutex<Vec<(String, usize)>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Viewers {
    pub fn new() -> Viewers {
        Viewers {
            arrivals: Vec::new(),
            people: Arc::default(),
            frames: Arc::default(),
            tasks: Vec::new(),
        }
    }

    /// Opens sockets until there are `n`, at most 200 handshakes at a time;
    /// returns once each new one holds its snapshot.
    /// Opens sockets until there are `n`, at `ws_url`, with `bearer` in the
    /// Authorization header if given (the admin token never goes in `?token=`).
    pub async fn grow_to(
        &mut self,
        n: usize,
        ws_url: &str,
        bearer: Option<&str>,
    ) -> anyhow::Result<()> {
        let gate = Arc::new(tokio::sync::Semaphore::new(200));
        let mut ready = Vec::new();
        while self.arrivals.len() < n {
            let tracker = self.arrivals.is_empty();
            let arrivals: Arrivals = Arc::default();
            self.arrivals.push(arrivals.clone());
            let (people, frames) = (self.people.clone(), self.frames.clone());
            let (url, gate) = (ws_url.to_string(), gate.clone());
            let bearer = bearer.map(|t| format!("Bearer {t}"));
            let (opened, snapshot) = tokio::sync::oneshot::channel::<anyhow::Result<()>>();
            ready.push(snapshot);
            self.tasks.push(tokio::spawn(async move {
                let permit = gate.acquire_owned().await.expect("open gate");
                use tokio_tungstenite::tungstenite::client::IntoClientRequest;
                let mut request = url.into_client_request().expect("a websocket URL");
                if let Some(bearer) = &bearer {
                    request
                        .headers_mut()
                        .insert("authorization", bearer.parse().expect("ASCII"));
                }
                let socket = match tokio_tungstenite::connect_async(request).await {
                    Ok((socket, _)) => socket,
                    Err(e) => {
                        let _ = opened.send(Err(e.into()));
                        return;
                    }
                };
                let mut opened = Some(opened);
                // The gate is held for the handshake and the snapshot only.
                let mut permit = Some(permit);
                let (_, mut read) = socket.split();
                let mut state = serde_json::Value::Null;
                while let Some(Ok(message)) = read.next().await {
                    let at = Instant::now();
                    let Message::Text(text) = message else {
                        continue;
                    };
                    if tracker {
                        track(&text, &mut state, &people, &frames);
                    }
                    let Ok(envelope) = serde_json::from_str::<Envelope>(&text) else {
                        continue;
                    };
                    if envelope.kind != "heartbeat" {
                        arrivals.lock().unwrap().push((envelope.seq, at));
                    }
                    if envelope.kind == "snapshot"
                        && let Some(opened) = opened.take()
                    {
                        permit.take();
                        let _ = opened.send(Ok(()));
                    }
                }
            }));
        }
        for snapshot in ready {
            snapshot
                .await
                .context("a viewer task ended before its snapshot")??;
        }
        Ok(())
    }

    /// The first seq whose state counts at least `people` (from the tracker).
    pub fn seq_counting(&self, people: u64) -> Option<u64> {
        self.people
            .lock()
            .unwrap()
            .iter()
            .find(|(_, p)| **p >= people)
            .map(|(seq, _)| *seq)
    }

    /// The latest people count the tracker holds.
    pub fn people_now(&self) -> u64 {
        self.people
            .lock()
            .unwrap()
            .last_key_value()
            .map_or(0, |(_, p)| *p)
    }

    /// For each viewer, when it first held a state of seq ≥ `seq` (None if
    /// it has not yet).
    pub fn reached(&self, seq: u64) -> Vec<Option<Instant>> {
        self.arrivals
            .iter()
            .map(|a| {
                a.lock()
                    .unwrap()
                    .iter()
                    .find(|(s, _)| *s >= seq)
                    .map(|(_, at)| *at)
            })
            .collect()
    }

    /// Waits until every viewer holds seq ≥ `seq` or `limit` passes.
    pub async fn wait_all(&self, seq: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.reached(seq).iter().all(Option::is_some) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Forgets the arrivals recorded so far (their memory stays bounded over
    /// a long run).
    pub fn clear(&self) {
        for a in &self.arrivals {
            a.lock().unwrap().clear();
        }
    }

    /// Keeps `other`'s sockets open as long as these (and closes them with these).
    pub fn adopt(&mut self, other: Viewers) {
        self.tasks.extend(other.tasks);
    }

    pub fn close(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// The tracker's part: apply the frame to its state and note the people count.
fn track(
    text: &str,
    state: &mut serde_json::Value,
    people: &Mutex<BTreeMap<u64, u64>>,
    frames: &Mutex<Vec<(String, usize)>>,
) {
    let Ok(message) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let kind = message["type"].as_str().unwrap_or("").to_string();
    let seq = message["seq"].as_u64().unwrap_or(0);
    match kind.as_str() {
        "snapshot" => *state = message["state"].clone(),
        "delta" if weibing::publish::delta::apply(state, &message).is_err() => return,
        _ => {}
    }
    frames.lock().unwrap().push((kind.clone(), text.len()));
    if kind != "heartbeat"
        && let Some(p) = state["totals"]["people"].as_u64()
    {
        people.lock().unwrap().insert(seq, p);
    }
}
