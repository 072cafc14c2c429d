//! The launch simulator: replays a launch morning through the real ingest API.
//!
//! The replay runs from 08:00 to 11:00 of a launch morning, compressed into
//! `--duration`, and reaches the program's figure of 82,969 people who scanned
//! at its 11:00 (or `--people`). People are spread over the districts by
//! population, sorted into the five colours in a realistic mix, and some go on
//! to enrol with a team, receive services, train as guardians and have
//! outcomes observed. Event times are the real clock, so the live trend moves.
//!
//! Person ids are pseudonyms made from a counter by a bijective mix, so a
//! second run over the same data meets the same people again; event ids carry
//! a run id, so every run's events are new.

use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::ingest::event::{Category, Colour, Rate};
use crate::region::Region;
use crate::time;

/// People who had scanned by 11:00 on the launch morning.
pub const LAUNCH_PEOPLE: u64 = 82_969;
const REPLAY_START: &str = "08:00";
const REPLAY_MINUTES: f64 = 180.0;
const STEP: Duration = Duration::from_millis(250);
const MAX_BATCH: usize = 5_000;
/// How long the launch figure stays on the wall before the afternoon trickle.
const HOLD: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub key: String,
    /// At most this many events per second (the replay then runs late).
    pub rate: Option<u32>,
    pub duration: Duration,
    pub people: u64,
    /// After 11:00, go on with a trickle of new people until stopped.
    pub keep_going: bool,
    /// Share of extra malformed events, to show the rejected-data path.
    pub bad_share: f64,
    pub seed: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub people: u64,
    pub sent: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

/// Cumulative share of the morning's people at replay fraction `x` ∈ [0, 1]:
/// a slow start, then the surge of the ceremony.
pub fn curve(x: f64) -> f64 {
    let g = |x: f64| 0.3 * x + 0.7 / (1.0 + (-(x - 0.7) / 0.08).exp());
    ((g(x.clamp(0.0, 1.0)) - g(0.0)) / (g(1.0) - g(0.0))).clamp(0.0, 1.0)
}

/// A bijection on u32, so person ids never collide.
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

pub fn person_id(n: u64) -> String {
    format!("p-{:08x}", mix(n as u32))
}

/// The teams of a district: Fengtai's named teams from its pilot plan, and
/// numbered teams elsewhere.
pub fn teams(code: &str) -> Vec<String> {
    if code == "110106" {
        [
            "ft-zxy-diabetes",
            "ft-zxy-psychology",
            "ft-zxy-diet",
            "ft-zxy-exercise-copd",
            "ft-youanmen-hypertension",
            "ft-fangzhuang-diabetes",
            "ft-lugouqiao-exercise-copd",
            "ft-puhuangyu-psychology",
            "ft-boaitang-diabetes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    } else {
        (1..=9).map(|i| format!("{code}-team-{i:02}")).collect()
    }
}

struct Generator {
    rng: StdRng,
    run: String,
    next_event: u64,
    region: Region,
    district_weights: Vec<f64>,
    bad_share: f64,
}

impl Generator {
    fn new(region: Region, seed: u64, bad_share: f64) -> Generator {
        let mut rng = StdRng::seed_from_u64(seed);
        let run = format!("{:06x}", rng.random::<u32>() & 0xff_ffff);
        let district_weights = region.districts.iter().map(|d| d.population_10k).collect();
        Generator {
            rng,
            run,
            next_event: 0,
            region,
            district_weights,
            bad_share,
        }
    }

    fn pick<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut r = self.rng.random::<f64>() * total;
        for (item, w) in items {
            if r < *w {
                return *item;
            }
            r -= w;
        }
        items.last().expect("a non-empty list").0
    }

    fn event(
        &mut self,
        out: &mut Vec<String>,
        mut fields: serde_json::Map<String, serde_json::Value>,
    ) {
        self.next_event += 1;
        fields.insert(
            "id".into(),
            format!("sim-{}-{:09}", self.run, self.next_event).into(),
        );
        out.push(serde_json::Value::Object(fields).to_string());
    }

    /// Every event of person `n`, at `now`.
    fn person(&mut self, n: u64, now: &str, out: &mut Vec<String>) {
        let weighted: Vec<(usize, f64)> =
            self.district_weights.iter().copied().enumerate().collect();
        let d = self.pick(&weighted);
        let code = self.region.districts[d].code.clone();
        let person = person_id(n);
        let base = |kind: &str| {
            let mut m = serde_json::Map::new();
            m.insert("ts".into(), now.into());
            m.insert("kind".into(), kind.into());
            m.insert("district".into(), code.clone().into());
            m.insert("person".into(), person.clone().into());
            m
        };
        let channel = self.pick(&[
            ("wechat-share", 0.45),
            ("community-poster", 0.25),
            ("hospital", 0.22),
            ("launch-hall", 0.08),
        ]);
        let mut scan = base("scan");
        scan.insert("channel".into(), channel.into());
        self.event(out, scan.clone());
        if self.rng.random_bool(0.08) {
            self.event(out, scan);
        }
        if self.rng.random_bool(self.bad_share) {
            // A partner system's typo: rejected, kept, shown on the console.
            let mut bad = base("scan");
            bad.insert("district".into(), "110100".into());
            self.event(out, bad);
        }
        if !self.rng.random_bool(0.72) {
            return;
        }
        let colour = self.pick(&[
            (Colour::Green, 0.28),
            (Colour::Orange, 0.14),
            (Colour::Pink, 0.22),
            (Colour::Yellow, 0.21),
            (Colour::Blue, 0.15),
        ]);
        let mut assess = base("assess");
        assess.insert("colour".into(), colour.code().into());
        self.event(out, assess);

        let enrol_p = match colour {
            Colour::Blue => 0.55,
            Colour::Yellow => 0.25,
            Colour::Pink => 0.08,
            Colour::Orange => 0.05,
            Colour::Green => 0.02,
        };
        let teams = teams(&code);
        let team = teams[self.rng.random_range(0..teams.len())].clone();
        let enrolled = self.rng.random_bool(enrol_p);
        if enrolled {
            let mut e = base("enroll");
            e.insert("team".into(), team.clone().into());
            self.event(out, e);
        }
        let services = if enrolled {
            self.rng.random_range(2..=4)
        } else if self.rng.random_bool(0.35) {
            1
        } else {
            0
        };
        let categories: &[(Category, f64)] = match colour {
            Colour::Blue => &[
                (Category::Treatment, 3.0),
                (Category::PatientFollowup, 3.0),
                (Category::KeyIntervention, 2.0),
                (Category::HealthManagement, 2.0),
            ],
            Colour::Yellow => &[
                (Category::HealthManagement, 3.0),
                (Category::SkillsTraining, 2.0),
                (Category::Activity, 2.0),
                (Category::SciencePush, 1.0),
            ],
            Colour::Pink => &[
                (Category::SciencePush, 3.0),
                (Category::Learning, 3.0),
                (Category::SkillsTraining, 2.0),
            ],
            Colour::Orange => &[
                (Category::Activity, 3.0),
                (Category::BehaviourContest, 2.0),
                (Category::Learning, 2.0),
            ],
            Colour::Green => &[(Category::IdeaPromotion, 3.0), (Category::SciencePush, 2.0)],
        };
        for _ in 0..services {
            let category = self.pick(categories);
            let mut s = base("service");
            s.insert("team".into(), team.clone().into());
            s.insert("category".into(), category.code().into());
            self.event(out, s);
        }
        let train_p = if colour == Colour::Pink { 0.30 } else { 0.04 };
        if self.rng.random_bool(train_p) {
            let mut t = base("train");
            t.insert("stage".into(), "enrolled".into());
            self.event(out, t);
            if self.rng.random_bool(0.45) {
                let mut t = base("train");
                t.insert("stage".into(), "certified".into());
                self.event(out, t);
            }
        }
        if enrolled {
            let rates = [
                (Rate::Awareness, 0.90),
                (Rate::Compliance, 0.75),
                (Rate::Participation, 0.80),
                (Rate::Satisfaction, 0.92),
                (Rate::Attainment, 0.60),
                (Rate::Improvement, 0.65),
                (Rate::Effectiveness, 0.70),
                (Rate::Management, 0.85),
                (Rate::Control, 0.62),
                (Rate::Prevention, 0.80),
            ];
            let observed = self.rng.random_range(2..=3);
            for _ in 0..observed {
                let (rate, p) = rates[self.rng.random_range(0..rates.len())];
                let mut o = base("outcome");
                o.insert("rate".into(), rate.code().into());
                o.insert("value".into(), self.rng.random_bool(p).into());
                self.event(out, o);
            }
        }
    }
}

struct Sender {
    client: reqwest::Client,
    url: String,
    key: String,
    summary: Summary,
}

impl Sender {
    async fn send(&mut self, lines: &[String]) -> anyhow::Result<()> {
        let body = lines.join("\n");
        let mut backoff = Duration::from_millis(200);
        loop {
            let result = self
                .client
                .post(&self.url)
                .bearer_auth(&self.key)
                .header("content-type", "application/x-ndjson")
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => {
                    let answer: serde_json::Value = serde_json::from_slice(&r.bytes().await?)?;
                    let n = |k: &str| answer[k].as_u64().unwrap_or(0);
                    self.summary.sent += lines.len() as u64;
                    self.summary.accepted += n("accepted");
                    self.summary.duplicates += n("duplicates");
                    self.summary.rejected += n("rejected");
                    return Ok(());
                }
                Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => {
                    anyhow::bail!("the server refused the ingest key (401)");
                }
                Ok(r) => {
                    tracing::warn!(status = %r.status(), "ingest refused; sending again");
                }
                Err(e) => tracing::warn!(error = %e, "ingest failed; sending again"),
            }
            // The same ids again: anything already stored counts as a duplicate.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

/// Runs the replay; returns when it reaches 11:00 (or never, with `keep_going`).
pub async fn run(options: Options) -> anyhow::Result<Summary> {
    let region = Region::load("beijing")?;
    let mut generator = Generator::new(region, options.seed, options.bad_share);
    let mut sender = Sender {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("making the HTTP client")?,
        url: format!("{}/api/v1/events", options.url.trim_end_matches('/')),
        key: options.key.clone(),
        summary: Summary::default(),
    };
    let started = Instant::now();
    let mut made = 0u64;
    let mut last_report = Instant::now();
    let mut interval = tokio::time::interval(STEP);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let per_step_cap = options
        .rate
        .map(|r| ((r as f64) * STEP.as_secs_f64()).max(1.0) as usize);
    loop {
        interval.tick().await;
        let x = started.elapsed().as_secs_f64() / options.duration.as_secs_f64().max(0.001);
        let due = if x >= 1.0 {
            let after = started.elapsed().as_secs_f64() - options.duration.as_secs_f64();
            if made >= options.people && options.keep_going && after > HOLD.as_secs_f64() {
                // After 11:00 (and a moment on the launch figure): a steady
                // trickle of new people, about 4 a second.
                options.people + ((after - HOLD.as_secs_f64()) * 4.0) as u64
            } else {
                options.people
            }
        } else {
            (options.people as f64 * curve(x)).round() as u64
        };
        let now = time::rfc3339(time::now_beijing_micros());
        let mut lines = Vec::new();
        while made < due && per_step_cap.is_none_or(|cap| lines.len() < cap) {
            generator.person(made, &now, &mut lines);
            made += 1;
        }
        for chunk in lines.chunks(MAX_BATCH) {
            sender.send(chunk).await?;
        }
        sender.summary.people = made;
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            tracing::info!(
                replay = %replay_clock(x),
                people = made,
                events = sender.summary.sent,
                "simulator"
            );
        }
        if made >= options.people && x >= 1.0 && !options.keep_going {
            tracing::info!(
                people = made,
                events = sender.summary.sent,
                "replay reached 11:00"
            );
            return Ok(sender.summary);
        }
    }
}

/// The events of persons `first..first + people` of a launch morning, as
/// NDJSON lines: the simulator's own mix of the six kinds, with no malformed
/// ones. `seed` fixes the choices and the id prefix (different seeds give
/// different ids); person `first + i`'s events are at `at + i * step`
/// (Beijing micros). The benchmark's realistic events.
pub fn morning_events(
    region: &Region,
    seed: u64,
    first: u64,
    people: u64,
    at: i64,
    step: i64,
) -> Vec<String> {
    let mut generator = Generator::new(region.clone(), seed, 0.0);
    let mut lines = Vec::with_capacity(people as usize * 3);
    for n in first..first + people {
        let now = time::rfc3339(at + (n - first) as i64 * step);
        generator.person(n, &now, &mut lines);
    }
    lines
}

/// The replay's own clock, 08:00 to 11:00.
fn replay_clock(x: f64) -> String {
    let minutes = (x.min(1.0) * REPLAY_MINUTES) as u32;
    let start: u32 = REPLAY_START[..2].parse().unwrap_or(8);
    format!("{:02}:{:02}", start + minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_starts_at_zero_and_ends_at_the_launch_figure() {
        assert_eq!(curve(0.0), 0.0);
        assert_eq!(
            (LAUNCH_PEOPLE as f64 * curve(1.0)).round() as u64,
            LAUNCH_PEOPLE
        );
        let mut last = 0.0;
        for i in 1..=100 {
            let y = curve(i as f64 / 100.0);
            assert!(y >= last, "the curve never goes down");
            last = y;
        }
        assert_eq!(replay_clock(0.5), "09:30");
    }

    #[test]
    fn person_ids_never_collide() {
        let ids: std::collections::HashSet<String> = (0..200_000).map(person_id).collect();
        assert_eq!(ids.len(), 200_000);
        assert_eq!(person_id(0).len(), 10);
    }
}
