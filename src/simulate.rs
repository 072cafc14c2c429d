//! The simulator: a client of the ingest API that replays the launch
//! morning, or months of the program's life, in a world whose districts
//! differ.
//!
//! **The launch morning** ([`run`]) runs from 08:00 to 11:00 of the launch
//! day, compressed into `--duration`, and reaches the program's figure of
//! 82,969 people who scanned at its 11:00 (or `--people`), along [`curve`].
//! Event times are the real clock, so the live trend moves. On launch day
//! people scan, assess themselves, some enrol with a team and are served;
//! nobody's outcome is observed yet, and only the ceremony's handful of first
//! guardian trainees train (one person in [`LAUNCH_TRAINEE_EVERY`] who scan,
//! one trainee in [`LAUNCH_CERTIFIED_EVERY`] certified on the spot: 13
//! trainees and 4 guardians among the first 82,969).
//!
//! **Months** ([`replay_months`], `weibing simulate --months N`) replay N
//! months ending now, back-dated: the program starts N months ago
//! ([`Calendar::ending`]; the server must run with `--program-start` that
//! date), the launch morning on its first day, then each month a round of
//! the people already enrolled (a service for half of them; each observed
//! rate measured on 40 % of them: the monthly data capture of Fengtai's plan)
//! and `--people-per-month` new people, scanning at times spread evenly over
//! the month, who assess, enrol, are served, train as guardians and have
//! their outcomes observed within minutes to two weeks, inside their month.
//! A new person's behaviour follows the day and month of their scan; a
//! round's, its month.
//!
//! **The world** ([`World`]) is the same for every seed; the seed changes
//! only the random draws. Per district (`DISTRICTS`, all ASSUMED: the
//! program's documents give no district's figures):
//! - reach, the share of people who scan: residents × the functional zone's
//!   reach (core 核心区 1.45 > extended 拓展区 1.15 > new 发展新区 0.85 >
//!   ecological 生态涵养区 0.6: the city centre is dense in hospitals and
//!   community centres; Changping's plan says service is weaker in the
//!   mountain areas) × the district's own factor (0.8 Changping, weak
//!   informatization, to 1.2);
//! - the colour mix: yellow (elderly) in proportion to the district's share
//!   of residents aged 60+ (districts.csv), blue (chronic patients) to its
//!   square root;
//! - enrolment with a team: by colour (blue 55 %, yellow 25 %, …) × 1.2 in a
//!   pilot district (districts.csv), 0.85 elsewhere × the district's own
//!   factor; 0.4 of that on launch day; Fengtai ×2.5 from its pilot plan
//!   (2017-10-24, program day [`FENGTAI_PLAN_DAY`]), whose named teams
//!   ([`teams`]) only exist from that day;
//! - service to people not enrolled: 55 % × the zone's service (ecological
//!   0.8, the mountain areas) × the district's own factor;
//! - guardian training: pink 40 %, others 8 %, half of them certified, ×
//!   the district's own factor, ramping up over the first 60 days;
//! - the eight observed rates: each starts where an average district scores
//!   0.65 of the way from the rate's floor to its standard (rates.csv), plus
//!   the district's level (−0.10 to +0.08) and a fixed twist per district and
//!   rate (±0.03), and improves by the district's gain each month (0.008 to
//!   0.022): some districts stay below the standards, some pass them.
//!   Fengtai's partner sends 依从率 as `compliance` (its plan's name), the
//!   others `participation`; nobody sends `management` (管理率 is managed ÷
//!   target population, counted from enrolments).
//!
//! **The truth** ([`true_index`]) is the index Formula applied to the
//! expected figures of this world at the end of the months ([`expected`]):
//! what the published index should rank like, up to the noise of the draws
//! (it is the index of the expected figures, not the expected index: the
//! two differ a little where a component is clamped at 0 or 1).
//!
//! Assumed besides: a person acts in one district only; a month's people
//! are the same number whatever the month's length; persons' outcomes are
//! independent; a rate improves linearly month by month.
//!
//! Person ids are pseudonyms made from a counter by a bijective mix, so a
//! second run over the same data meets the same people again; event ids carry
//! a run id drawn from the seed, so a run with another seed sends new events
//! and the same seed again sends the same ids (counted as duplicates).

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Months, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::aggregate::index::Formula;
use crate::aggregate::state;
use crate::model::{Category, Colour, NineRate, Rate};
use crate::region::{Pilot, Region, Zone, midnight};
use crate::store::index::{IndexInput, IndexOutput};
use crate::time;

/// People who had scanned by 11:00 on the launch morning.
pub const LAUNCH_PEOPLE: u64 = 82_969;
const REPLAY_START: &str = "08:00";
const REPLAY_MINUTES: f64 = 180.0;
const STEP: Duration = Duration::from_millis(250);
const MAX_BATCH: usize = 5_000;
/// How long the launch figure stays on the wall before the afternoon trickle.
const HOLD: Duration = Duration::from_secs(30);
/// New people a second after the launch replay's 11:00 (`--continue`).
const LAUNCH_TRICKLE: f64 = 4.0;
/// New people (and as many observations of the enrolled) a second after
/// the months (`--continue`).
const MONTHS_TRICKLE: f64 = 1.0;

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Fengtai, the pilot district named by the program's documents.
pub const FENGTAI: &str = "110106";
/// The day of the program (0 = launch day) Fengtai's pilot plan is dated:
/// 2017-10-24, 118 days after the launch of 2017-06-28.
pub const FENGTAI_PLAN_DAY: i64 = 118;
/// On launch day, one person in this many who scan trains as a guardian.
pub const LAUNCH_TRAINEE_EVERY: u64 = 6_000;
/// ...and one of this many of those trainees is certified on the spot.
pub const LAUNCH_CERTIFIED_EVERY: u64 = 4;

/// Share of the people who scan who assess themselves.
const ASSESSED: f64 = 0.72;
/// Share of duplicate scans (a person scanning again at once).
const RESCAN: f64 = 0.08;
/// Share of assessed people not enrolled who are served once (before the
/// district's factors).
const SERVED: f64 = 0.55;
/// Enrolment on launch day, against an ordinary day.
const LAUNCH_ENROL: f64 = 0.4;
/// Fengtai's enrolment from its pilot plan (10 teams × 1,000 managed).
const FENGTAI_PILOT_ENROL: f64 = 2.5;
/// Share of guardian trainees certified.
const CERTIFIED: f64 = 0.5;
/// Days over which guardian training ramps up to its full pace.
const GUARDIAN_RAMP_DAYS: f64 = 60.0;
/// Share of the enrolled observed on each rate each month.
const OBSERVED: f64 = 0.4;
/// Share of the enrolled served in each month's round.
const ROUND_SERVICE: f64 = 0.5;
/// Where an average district starts on each rate: this share of the way
/// from the rate's floor to its standard.
const START_SCORE: f64 = 0.65;
/// How far the fixed twist of a district's rate goes either way.
const TWIST: f64 = 0.03;
/// Persons (or enrolled persons of a round) made per chunk of a script.
const CHUNK: usize = 1_000;

/// How the persons of a colour behave in the demo.
struct Hue {
    colour: Colour,
    /// Share of the assessed in a district with the city's share of elderly
    /// residents.
    share: f64,
    /// How the share follows the district's share of elderly residents.
    elderly: Elderly,
    /// The chance that an assessed person enrols (before the district's factors).
    enrol: f64,
    /// The chance that an assessed person trains as a guardian (idem).
    train: f64,
    /// The categories of the services they are given, weighted.
    services: &'static [(Category, f64)],
}

#[derive(PartialEq)]
enum Elderly {
    /// Scaled by the district's elderly share against the city's.
    Linear,
    /// Scaled by its square root.
    Root,
    /// Fills what the scaled ones leave, in proportion.
    Rest,
}

/// The colours the demo sends (a colour of the list missing here is not sent).
const HUES: &[Hue] = &[
    Hue {
        colour: Colour::Green,
        share: 0.28,
        elderly: Elderly::Rest,
        enrol: 0.02,
        train: 0.08,
        services: &[(Category::IdeaPromotion, 3.0), (Category::SciencePush, 2.0)],
    },
    Hue {
        colour: Colour::Orange,
        share: 0.14,
        elderly: Elderly::Rest,
        enrol: 0.05,
        train: 0.08,
        services: &[
            (Category::Activity, 3.0),
            (Category::BehaviourContest, 2.0),
            (Category::Learning, 2.0),
        ],
    },
    Hue {
        colour: Colour::Pink,
        share: 0.22,
        elderly: Elderly::Rest,
        enrol: 0.08,
        train: 0.40,
        services: &[
            (Category::SciencePush, 3.0),
            (Category::Learning, 3.0),
            (Category::SkillsTraining, 2.0),
        ],
    },
    Hue {
        colour: Colour::Yellow,
        share: 0.21,
        elderly: Elderly::Linear,
        enrol: 0.25,
        train: 0.08,
        services: &[
            (Category::HealthManagement, 3.0),
            (Category::SkillsTraining, 2.0),
            (Category::Activity, 2.0),
            (Category::SciencePush, 1.0),
        ],
    },
    Hue {
        colour: Colour::Blue,
        share: 0.15,
        elderly: Elderly::Root,
        enrol: 0.55,
        train: 0.08,
        services: &[
            (Category::Treatment, 3.0),
            (Category::PatientFollowup, 3.0),
            (Category::KeyIntervention, 2.0),
            (Category::HealthManagement, 2.0),
        ],
    },
];

/// One of `items`, drawn by their weights.
fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut r = rng.random::<f64>() * total;
    for (item, w) in items {
        if r < *w {
            return *item;
        }
        r -= w;
    }
    items.last().expect("a non-empty list").0
}

/// How the persons of `colour` behave ([`HUES`]).
fn hue(colour: Colour) -> &'static Hue {
    HUES.iter()
        .find(|h| h.colour == colour)
        .expect("the demo draws only the colours of HUES")
}

/// Reach, people who scan per resident, by functional zone (ASSUMED).
fn zone_reach(zone: Zone) -> f64 {
    match zone {
        Zone::Core => 1.45,
        Zone::Extended => 1.15,
        Zone::New => 0.85,
        Zone::Ecological => 0.6,
    }
}

/// Service to people not enrolled, by functional zone (ASSUMED; seed 004:
/// weaker in the mountain areas).
fn zone_service(zone: Zone) -> f64 {
    match zone {
        Zone::Core => 1.1,
        Zone::Extended => 1.0,
        Zone::New => 0.95,
        Zone::Ecological => 0.8,
    }
}

/// A district's own factors (ASSUMED, fixed): reach, enrolment, service,
/// guardians, rate level (added to every rate), rate gain per month.
struct Own {
    reach: f64,
    enrol: f64,
    serve: f64,
    guardians: f64,
    level: f64,
    gain: f64,
}

const fn own(reach: f64, enrol: f64, serve: f64, guardians: f64, level: f64, gain: f64) -> Own {
    Own {
        reach,
        enrol,
        serve,
        guardians,
        level,
        gain,
    }
}

/// Every Beijing district's own factors; a district not listed (another
/// region) has the average one.
const DISTRICTS: [(&str, Own); 16] = [
    ("110101", own(1.05, 1.00, 1.10, 1.00, 0.06, 0.012)), // 东城
    ("110102", own(0.95, 1.10, 1.00, 1.10, 0.08, 0.010)), // 西城
    ("110105", own(0.90, 0.90, 0.90, 0.90, -0.02, 0.015)), // 朝阳
    ("110106", own(1.15, 1.00, 1.15, 1.20, 0.02, 0.022)), // 丰台: the seed's pilot
    ("110107", own(1.00, 1.00, 0.95, 0.90, 0.00, 0.012)), // 石景山
    ("110108", own(1.10, 0.95, 1.05, 1.10, 0.05, 0.010)), // 海淀
    ("110109", own(0.90, 0.85, 0.80, 0.80, -0.08, 0.010)), // 门头沟: mountains
    ("110111", own(0.85, 0.90, 0.90, 0.85, -0.06, 0.015)), // 房山
    ("110112", own(1.15, 1.10, 1.10, 1.05, 0.00, 0.020)), // 通州: the sub-centre
    ("110113", own(1.00, 0.95, 1.00, 1.00, -0.02, 0.012)), // 顺义
    ("110114", own(0.80, 1.00, 0.85, 0.90, -0.10, 0.020)), // 昌平: weak informatization
    ("110115", own(1.05, 0.90, 1.00, 0.95, -0.03, 0.010)), // 大兴
    ("110116", own(1.10, 0.90, 0.90, 1.00, -0.05, 0.012)), // 怀柔
    ("110117", own(0.95, 0.85, 0.85, 0.90, -0.07, 0.008)), // 平谷
    ("110118", own(1.00, 0.90, 0.85, 0.95, -0.04, 0.010)), // 密云
    ("110119", own(1.20, 0.85, 0.80, 0.85, -0.09, 0.015)), // 延庆
];

const AVERAGE: Own = own(1.0, 1.0, 1.0, 1.0, 0.0, 0.012);

/// The eight rates observed on persons (all but management).
fn observed_rates() -> impl Iterator<Item = NineRate> {
    NineRate::ALL.iter().copied().filter(|r| r.observed())
}

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

/// What `weibing simulate --months` sends: [`Calendar`] says when.
#[derive(Debug, Clone)]
pub struct MonthsOptions {
    pub url: String,
    pub key: String,
    /// At most this many events per second.
    pub rate: Option<u32>,
    /// After the months, go on with a live trickle until stopped.
    pub keep_going: bool,
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

/// The teams of a district on program day `day`: Fengtai's named teams from
/// its pilot plan (day [`FENGTAI_PLAN_DAY`]), numbered teams elsewhere and
/// in Fengtai before it.
pub fn teams(code: &str, day: i64) -> Vec<String> {
    if code == FENGTAI && day >= FENGTAI_PLAN_DAY {
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

/// A fixed number in [−1, 1] for a district and a rate: the twist of that
/// district's rate (the same in every run).
fn twist(code: &str, rate: NineRate) -> f64 {
    let h = code.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    let x = mix(h ^ mix(rate.index() as u32 + 1));
    x as f64 / u32::MAX as f64 * 2.0 - 1.0
}

/// One district's truths.
#[derive(Debug, Clone)]
struct Truth {
    /// Weight among the people who scan: residents × reach.
    weight: f64,
    colours: Vec<(Colour, f64)>,
    /// Factor on enrolment.
    enrol: f64,
    /// Share of the assessed not enrolled who are served.
    serve: f64,
    /// Factor on guardian training.
    guardians: f64,
    /// Each observed rate's level at month 0 (by [`NineRate::index`]).
    rates: [f64; 9],
    /// Added to every rate each month.
    gain: f64,
    /// What the district's partner calls the participation slot.
    participation: Rate,
    /// From this day, the district's pilot plan: named teams, more enrolment.
    plan_day: Option<i64>,
}

/// The simulated world: the region moved to the program's start, and each
/// district's truths. The same for every seed.
#[derive(Debug, Clone)]
pub struct World {
    region: Region,
    /// Midnight of the launch day (day 0), Beijing micros.
    start: i64,
    truths: Vec<Truth>,
    /// Cumulative shares of the people who scan, for drawing a district.
    cumulative: Vec<f64>,
    /// Each district's teams before its pilot plan, and from it.
    teams: Vec<[Vec<String>; 2]>,
}

impl World {
    /// The world of `region` for a program starting on `start`.
    pub fn new(region: &Region, start: NaiveDate) -> World {
        let region = region.clone().starting(start);
        let (pop, pop60) = region.districts.iter().fold((0.0, 0.0), |(a, b), d| {
            (a + d.population_10k, b + d.population_60_10k)
        });
        let city_elderly = if pop > 0.0 { pop60 / pop } else { 0.0 };
        let truths: Vec<Truth> = region
            .districts
            .iter()
            .map(|d| {
                let own = DISTRICTS
                    .iter()
                    .find(|(code, _)| *code == d.code)
                    .map_or(&AVERAGE, |(_, own)| own);
                let elderly = if d.population_10k > 0.0 && city_elderly > 0.0 {
                    d.population_60_10k / d.population_10k / city_elderly
                } else {
                    1.0
                };
                let mut colours: Vec<(Colour, f64)> = HUES
                    .iter()
                    .map(|h| {
                        let share = match h.elderly {
                            Elderly::Linear => h.share * elderly,
                            Elderly::Root => h.share * elderly.sqrt(),
                            Elderly::Rest => h.share,
                        };
                        (h.colour, share)
                    })
                    .collect();
                let fixed: f64 = HUES
                    .iter()
                    .zip(&colours)
                    .filter(|(h, _)| h.elderly != Elderly::Rest)
                    .map(|(_, c)| c.1)
                    .sum();
                let others: f64 = HUES
                    .iter()
                    .filter(|h| h.elderly == Elderly::Rest)
                    .map(|h| h.share)
                    .sum();
                for (h, c) in HUES.iter().zip(&mut colours) {
                    if h.elderly == Elderly::Rest {
                        c.1 *= (1.0 - fixed).max(0.0) / others;
                    }
                }
                let pilot = if d.pilot == Pilot::No { 0.85 } else { 1.2 };
                let mut rates = [0.0; 9];
                for r in observed_rates() {
                    let spec = region.rate(r);
                    rates[r.index()] = spec.floor
                        + START_SCORE * (spec.standard - spec.floor)
                        + own.level
                        + TWIST * twist(&d.code, r);
                }
                let fengtai = d.code == FENGTAI;
                Truth {
                    weight: d.population_10k * zone_reach(d.zone) * own.reach,
                    colours,
                    enrol: pilot * own.enrol,
                    serve: (SERVED * zone_service(d.zone) * own.serve).min(1.0),
                    guardians: own.guardians,
                    rates,
                    gain: own.gain,
                    participation: if fengtai {
                        Rate::Compliance
                    } else {
                        Rate::Participation
                    },
                    plan_day: fengtai.then_some(FENGTAI_PLAN_DAY),
                }
            })
            .collect();
        let total: f64 = truths.iter().map(|t| t.weight).sum();
        let mut sum = 0.0;
        let cumulative = truths
            .iter()
            .map(|t| {
                sum += t.weight / total;
                sum
            })
            .collect();
        let teams = region
            .districts
            .iter()
            .map(|d| [teams(&d.code, 0), teams(&d.code, i64::MAX)])
            .collect();
        World {
            start: midnight(start),
            region,
            truths,
            cumulative,
            teams,
        }
    }

    /// The region, moved to the program's start.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// District `d`'s share of the people who scan.
    fn share(&self, d: usize) -> f64 {
        self.cumulative[d] - if d == 0 { 0.0 } else { self.cumulative[d - 1] }
    }

    /// The program day (0 = launch day) of a time.
    fn day(&self, at: i64) -> i64 {
        (at - self.start).div_euclid(DAY)
    }

    /// Whether district `d` works under its pilot plan on `day`.
    fn piloting(&self, d: usize, day: i64) -> bool {
        self.truths[d].plan_day.is_some_and(|from| day >= from)
    }

    /// The chance that a person of `colour` who assessed enrols.
    fn enrol(&self, d: usize, colour: Colour, day: i64) -> f64 {
        let by_colour = hue(colour).enrol;
        let when = if day <= 0 {
            LAUNCH_ENROL
        } else if self.piloting(d, day) {
            FENGTAI_PILOT_ENROL
        } else {
            1.0
        };
        (by_colour * self.truths[d].enrol * when).min(0.95)
    }

    /// The chance that a person of `colour` who assessed trains as a
    /// guardian (after launch day).
    fn train(&self, d: usize, colour: Colour, day: i64) -> f64 {
        let by_colour = hue(colour).train;
        let ramp = (day as f64 / GUARDIAN_RAMP_DAYS).clamp(0.0, 1.0);
        (by_colour * self.truths[d].guardians * ramp).min(1.0)
    }

    /// The true chance that an observation of `rate` in district `d` in
    /// month `month` (0 = the launch month) is true.
    pub fn rate(&self, d: usize, rate: NineRate, month: usize) -> f64 {
        let t = &self.truths[d];
        (t.rates[rate.index()] + t.gain * month as f64).clamp(0.02, 0.98)
    }

    /// The code district `d`'s partner sends for `rate`.
    fn rate_code(&self, d: usize, rate: NineRate) -> &'static str {
        if rate == NineRate::Participation {
            self.truths[d].participation.code()
        } else {
            rate.code()
        }
    }

    /// The expected shares of a person who scans in district `d` on `day`:
    /// (enrolled, served, certified).
    fn chances(&self, d: usize, day: i64) -> [f64; 3] {
        let mut out = [0.0; 3];
        for &(colour, p) in &self.truths[d].colours {
            let e = self.enrol(d, colour, day);
            out[0] += p * e;
            out[1] += p * (e + (1.0 - e) * self.truths[d].serve);
            if day > 0 {
                out[2] += p * self.train(d, colour, day) * CERTIFIED;
            }
        }
        out.map(|x| x * ASSESSED)
    }
}

/// Whether person `n` of launch day trains at the ceremony (`Some`), and
/// whether they are certified there.
fn launch_trainee(n: u64) -> Option<bool> {
    (n % LAUNCH_TRAINEE_EVERY == LAUNCH_TRAINEE_EVERY - 1)
        .then(|| (n / LAUNCH_TRAINEE_EVERY).is_multiple_of(LAUNCH_CERTIFIED_EVERY))
}

/// When a months-long simulation happens and how many it reaches.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// The launch day: the program's start (`--program-start`).
    pub start: NaiveDate,
    /// The end of the last month (now), Beijing micros.
    pub end: i64,
    pub months: u32,
    /// People who scanned on the launch morning.
    pub launch_people: u64,
    /// New people each month.
    pub people_per_month: u64,
}

impl Calendar {
    /// `months` months ending at `end` (Beijing micros): the program starts
    /// that many calendar months before `end`'s date.
    pub fn ending(end: i64, months: u32, people_per_month: u64) -> Calendar {
        let months = months.max(1);
        let today = time::from_beijing_micros(end).date_naive();
        Calendar {
            start: today
                .checked_sub_months(Months::new(months))
                .expect("a date within chrono's range"),
            end,
            months,
            launch_people: LAUNCH_PEOPLE,
            people_per_month,
        }
    }

    fn month_start(&self, k: u32) -> i64 {
        midnight(
            self.start
                .checked_add_months(Months::new(k))
                .expect("a date within chrono's range"),
        )
    }

    /// 08:00 and 11:00 of the launch day.
    pub fn launch(&self) -> (i64, i64) {
        let day = midnight(self.start);
        (day + 8 * HOUR, day + 11 * HOUR)
    }

    /// Each month's time of ordinary life, [from, to): the first from the day
    /// after the launch, the last to `end`.
    pub fn spans(&self) -> Vec<(i64, i64)> {
        (0..self.months)
            .map(|k| {
                let from = if k == 0 {
                    midnight(self.start) + DAY
                } else {
                    self.month_start(k)
                };
                let to = if k + 1 == self.months {
                    self.end
                } else {
                    self.month_start(k + 1)
                };
                (from, to.max(from + 1))
            })
            .collect()
    }

    /// The month (0 = the launch month) of a time, the last one after the end.
    fn month_of(&self, at: i64) -> usize {
        let mut k = 0;
        while k + 1 < self.months && self.month_start(k + 1) <= at {
            k += 1;
        }
        k as usize
    }
}

/// A person's moment: when they scan, the day and month that decide their
/// behaviour, and the time all their events come before.
#[derive(Debug, Clone, Copy)]
struct Moment {
    at: i64,
    day: i64,
    month: usize,
    until: i64,
}

/// A person enrolled with a team, for the monthly rounds.
#[derive(Debug, Clone, Copy)]
struct Enrolled {
    n: u64,
    district: u8,
    /// Named (pilot) team or numbered, and which.
    named: bool,
    team: u8,
}

struct Generator {
    rng: StdRng,
    run: String,
    next_event: u64,
    world: World,
    bad_share: f64,
    enrolled: Vec<Enrolled>,
}

impl Generator {
    fn new(world: World, seed: u64, bad_share: f64) -> Generator {
        let mut rng = StdRng::seed_from_u64(seed);
        let run = format!("{:06x}", rng.random::<u32>() & 0xff_ffff);
        Generator {
            rng,
            run,
            next_event: 0,
            world,
            bad_share,
            enrolled: Vec::new(),
        }
    }

    fn pick<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        pick(&mut self.rng, items)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn district(&mut self) -> usize {
        let r = self.rng.random::<f64>();
        let last = self.world.cumulative.len() - 1;
        self.world.cumulative.partition_point(|&c| c <= r).min(last)
    }

    /// A time after `m.at` by up to `max` (micros), before `m.until`.
    fn later(&mut self, m: &Moment, max: i64) -> i64 {
        let t = m.at + self.rng.random_range(0..max.max(1));
        t.min(m.until - 1).max(m.at)
    }

    fn event(&mut self, out: &mut Vec<String>, fields: [(&str, serde_json::Value); 6]) {
        self.next_event += 1;
        let mut map = serde_json::Map::new();
        map.insert(
            "id".into(),
            format!("sim-{}-{:09}", self.run, self.next_event).into(),
        );
        for (name, value) in fields {
            if !value.is_null() {
                map.insert(name.into(), value);
            }
        }
        out.push(serde_json::Value::Object(map).to_string());
    }

    /// One event of person `n` in district `d`: its kind and one or two fields.
    fn emit(
        &mut self,
        out: &mut Vec<String>,
        at: i64,
        kind: &str,
        d: usize,
        n: u64,
        extra: [(&str, serde_json::Value); 2],
    ) {
        let code = self.world.region.districts[d].code.clone();
        let [a, b] = extra;
        self.event(
            out,
            [
                ("ts", time::rfc3339(at).into()),
                ("kind", kind.into()),
                ("district", code.into()),
                ("person", person_id(n).into()),
                a,
                b,
            ],
        );
    }

    fn team_name(&self, d: usize, named: bool, team: u8) -> String {
        self.world.teams[d][named as usize][team as usize].clone()
    }

    /// Every event of person `n`, who first scans at `m.at`.
    fn person(&mut self, n: u64, m: Moment, out: &mut Vec<String>) {
        const NONE: (&str, serde_json::Value) = ("", serde_json::Value::Null);
        let d = self.district();
        let channel = self.pick(&[
            ("wechat-share", 0.45),
            ("community-poster", 0.25),
            ("hospital", 0.22),
            ("launch-hall", if m.day == 0 { 0.08 } else { 0.0 }),
        ]);
        self.emit(out, m.at, "scan", d, n, [("channel", channel.into()), NONE]);
        if self.chance(RESCAN) {
            let at = self.later(&m, 30 * MINUTE);
            self.emit(out, at, "scan", d, n, [("channel", channel.into()), NONE]);
        }
        if self.chance(self.bad_share) {
            // A partner system's typo: rejected, kept, shown on the console.
            self.event(
                out,
                [
                    ("ts", time::rfc3339(m.at).into()),
                    ("kind", "scan".into()),
                    ("district", "110100".into()),
                    ("person", person_id(n).into()),
                    NONE,
                    NONE,
                ],
            );
        }
        if m.day == 0
            && let Some(certified) = launch_trainee(n)
        {
            // The ceremony's first guardian trainees.
            self.emit(
                out,
                m.at,
                "train",
                d,
                n,
                [("stage", "enrolled".into()), NONE],
            );
            if certified {
                self.emit(
                    out,
                    m.at,
                    "train",
                    d,
                    n,
                    [("stage", "certified".into()), NONE],
                );
            }
        }
        if !self.chance(ASSESSED) {
            return;
        }
        let colours = &self.world.truths[d].colours;
        let colour = pick(&mut self.rng, colours);
        let at = self.later(&m, 10 * MINUTE);
        self.emit(
            out,
            at,
            "assess",
            d,
            n,
            [("colour", colour.code().into()), NONE],
        );

        let named = self.world.piloting(d, m.day);
        let team = self
            .rng
            .random_range(0..self.world.teams[d][named as usize].len()) as u8;
        let team_name = self.team_name(d, named, team);
        let enrolled = self.chance(self.world.enrol(d, colour, m.day));
        if enrolled {
            let at = self.later(&m, 2 * HOUR);
            self.emit(
                out,
                at,
                "enroll",
                d,
                n,
                [("team", team_name.clone().into()), NONE],
            );
            self.enrolled.push(Enrolled {
                n,
                district: d as u8,
                named,
                team,
            });
        }
        let services = if enrolled {
            self.rng.random_range(2..=4)
        } else if self.chance(self.world.truths[d].serve) {
            1
        } else {
            0
        };
        let categories = hue(colour).services;
        for _ in 0..services {
            let category = self.pick(categories);
            let at = self.later(&m, 3 * DAY);
            self.emit(
                out,
                at,
                "service",
                d,
                n,
                [
                    ("team", team_name.clone().into()),
                    ("category", category.code().into()),
                ],
            );
        }
        if m.day > 0 && self.chance(self.world.train(d, colour, m.day)) {
            let at = self.later(&m, 14 * DAY);
            self.emit(out, at, "train", d, n, [("stage", "enrolled".into()), NONE]);
            if self.chance(CERTIFIED) {
                let at = self.later(&Moment { at, ..m }, 14 * DAY);
                self.emit(
                    out,
                    at,
                    "train",
                    d,
                    n,
                    [("stage", "certified".into()), NONE],
                );
            }
        }
        if enrolled && m.day > 0 {
            for rate in observed_rates() {
                if self.chance(OBSERVED) {
                    let at = self.later(&m, 14 * DAY);
                    self.outcome(out, at, d, n, rate, m.month);
                }
            }
        }
    }

    fn outcome(
        &mut self,
        out: &mut Vec<String>,
        at: i64,
        d: usize,
        n: u64,
        rate: NineRate,
        month: usize,
    ) {
        let value = self.chance(self.world.rate(d, rate, month));
        let code = self.world.rate_code(d, rate);
        self.emit(
            out,
            at,
            "outcome",
            d,
            n,
            [("rate", code.into()), ("value", value.into())],
        );
    }

    /// The month's round of an enrolled person: maybe a service by their
    /// team, and each observed rate measured with chance [`OBSERVED`], at
    /// times in [from, to).
    fn round(&mut self, p: Enrolled, month: usize, from: i64, to: i64, out: &mut Vec<String>) {
        let d = p.district as usize;
        let at = |g: &mut Generator| from + g.rng.random_range(0..(to - from).max(1));
        if self.chance(ROUND_SERVICE) {
            let category = self.pick(&[
                (Category::HealthManagement, 2.0),
                (Category::PatientFollowup, 2.0),
                (Category::KeyIntervention, 1.0),
            ]);
            let t = at(self);
            let team = self.team_name(d, p.named, p.team);
            self.emit(
                out,
                t,
                "service",
                d,
                p.n,
                [("team", team.into()), ("category", category.code().into())],
            );
        }
        for rate in observed_rates() {
            if self.chance(OBSERVED) {
                let t = at(self);
                self.outcome(out, t, d, p.n, rate, month);
            }
        }
    }
}

/// Where a [`Script`] is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Launch,
    Round(usize),
    Arrivals(usize),
    Done,
}

/// A months-long simulation, made chunk by chunk as NDJSON lines: the launch
/// morning, then for each month the round of those enrolled before it and
/// its new people (scan times sorted). The same seed makes the same lines.
pub struct Script {
    generator: Generator,
    calendar: Calendar,
    spans: Vec<(i64, i64)>,
    part: Part,
    /// The next person's number.
    person: u64,
    /// Position in the launch morning's seconds, in a round, or in the arrivals.
    position: usize,
    arrivals: Vec<i64>,
}

impl Script {
    pub fn new(region: &Region, calendar: Calendar, seed: u64) -> Script {
        let world = World::new(region, calendar.start);
        Script {
            generator: Generator::new(world, seed, 0.0),
            spans: calendar.spans(),
            calendar,
            part: Part::Launch,
            person: 0,
            position: 0,
            arrivals: Vec::new(),
        }
    }

    /// People made so far.
    pub fn people(&self) -> u64 {
        self.person
    }

    /// The month being made (0 = the launch month), `None` once done.
    pub fn month(&self) -> Option<usize> {
        match self.part {
            Part::Launch => Some(0),
            Part::Round(k) | Part::Arrivals(k) => Some(k),
            Part::Done => None,
        }
    }

    /// Appends the next chunk's lines; false once the script is over.
    pub fn next_chunk(&mut self, out: &mut Vec<String>) -> bool {
        loop {
            match self.part {
                Part::Launch => {
                    // Persons scan at the second the launch curve reaches them.
                    let people = self.calendar.launch_people;
                    let (from, to) = self.calendar.launch();
                    let seconds = ((to - from) / SECOND) as usize;
                    let due = |s: usize| {
                        (people as f64 * curve(s as f64 / seconds as f64)).round() as u64
                    };
                    let last = (self.person + CHUNK as u64).min(people);
                    while self.person < last {
                        while due(self.position) <= self.person {
                            self.position += 1;
                        }
                        let at = from + self.position as i64 * SECOND;
                        let m = Moment {
                            at,
                            day: 0,
                            month: 0,
                            until: at + 1,
                        };
                        self.generator.person(self.person, m, out);
                        self.person += 1;
                    }
                    if self.person >= people {
                        self.part = Part::Round(0);
                        self.position = 0;
                    }
                    if last > 0 {
                        return true;
                    }
                }
                Part::Round(k) => {
                    let (from, to) = self.spans[k];
                    let end = (self.position + CHUNK).min(self.generator.enrolled.len());
                    for i in self.position..end {
                        let p = self.generator.enrolled[i];
                        self.generator.round(p, k, from, to, out);
                    }
                    let made = end > self.position;
                    self.position = end;
                    if end >= self.generator.enrolled.len() {
                        self.part = Part::Arrivals(k);
                        self.position = 0;
                        let rng = &mut self.generator.rng;
                        self.arrivals = (0..self.calendar.people_per_month)
                            .map(|_| from + rng.random_range(0..(to - from)))
                            .collect();
                        self.arrivals.sort_unstable();
                    }
                    if made {
                        return true;
                    }
                }
                Part::Arrivals(k) => {
                    let (_, to) = self.spans[k];
                    let end = (self.position + CHUNK).min(self.arrivals.len());
                    for i in self.position..end {
                        let at = self.arrivals[i];
                        let m = Moment {
                            at,
                            day: self.generator.world.day(at),
                            month: k,
                            until: to,
                        };
                        self.generator.person(self.person, m, out);
                        self.person += 1;
                    }
                    let made = end > self.position;
                    self.position = end;
                    if end >= self.arrivals.len() {
                        self.position = 0;
                        self.arrivals = Vec::new();
                        self.part = if k + 1 < self.spans.len() {
                            Part::Round(k + 1)
                        } else {
                            Part::Done
                        };
                    }
                    if made {
                        return true;
                    }
                }
                Part::Done => return false,
            }
        }
    }

    /// After the months: `people` new people scanning at `now`, and
    /// `observed` enrolled persons each observed on one rate at `now`.
    pub fn live(&mut self, now: i64, people: u64, observed: u64, out: &mut Vec<String>) {
        let g = &mut self.generator;
        let m = Moment {
            at: now,
            day: g.world.day(now),
            month: self.calendar.month_of(now),
            until: now + 1,
        };
        for _ in 0..people {
            g.person(self.person, m, out);
            self.person += 1;
        }
        if g.enrolled.is_empty() {
            return;
        }
        let rates: Vec<NineRate> = observed_rates().collect();
        for _ in 0..observed {
            let p = g.enrolled[g.rng.random_range(0..g.enrolled.len())];
            let rate = rates[g.rng.random_range(0..rates.len())];
            g.outcome(out, now, p.district as usize, p.n, rate, m.month);
        }
    }
}

/// The figures each district is expected to have at the end of the
/// months: what the index is computed from, in the region's order.
pub fn expected(region: &Region, calendar: &Calendar) -> Vec<IndexInput> {
    let world = World::new(region, calendar.start);
    let spans = calendar.spans();
    let months = spans.len();
    let planned = state::planned(world.region(), calendar.end);
    let launch_guardians = (0..calendar.launch_people)
        .filter(|&n| launch_trainee(n) == Some(true))
        .count() as f64;
    (0..world.region.districts.len())
        .map(|d| {
            let share = world.share(d);
            // [people, interactive, managed, guardians]
            let mut values = [0.0f64; 4];
            // Enrolled persons by the month from which they are observed.
            let mut cohorts = vec![0.0f64; months];
            let launch = calendar.launch_people as f64 * share;
            let [enrolled, served, _] = world.chances(d, 0);
            values[0] += launch;
            values[1] += launch * served;
            values[2] += launch * enrolled;
            values[3] += launch_guardians * share;
            cohorts[0] += launch * enrolled;
            for (k, &(from, to)) in spans.iter().enumerate() {
                let people = calendar.people_per_month as f64 * share;
                // Scan times are uniform over the span: weigh each day by its part.
                let mut chances = [0.0; 3];
                let mut day = world.day(from);
                while world.start + day * DAY < to {
                    let a = from.max(world.start + day * DAY);
                    let b = to.min(world.start + (day + 1) * DAY);
                    let part = (b - a) as f64 / (to - from) as f64;
                    for (sum, c) in chances.iter_mut().zip(world.chances(d, day)) {
                        *sum += part * c;
                    }
                    day += 1;
                }
                values[0] += people;
                values[1] += people * chances[1];
                values[2] += people * chances[0];
                values[3] += people * chances[2];
                cohorts[k] += people * chances[0];
            }
            // A person from cohort e is observed on a rate in each month
            // e..months with chance OBSERVED; counted by the latest.
            let rates = observed_rates()
                .filter_map(|rate| {
                    let (mut n, mut trues) = (0.0, 0.0);
                    for (e, enrolled) in cohorts.iter().enumerate() {
                        n += enrolled * (1.0 - (1.0 - OBSERVED).powi((months - e) as i32));
                        for k in e..months {
                            let latest = OBSERVED * (1.0 - OBSERVED).powi((months - 1 - k) as i32);
                            trues += enrolled * latest * world.rate(d, rate, k);
                        }
                    }
                    let n = n.round() as u64;
                    (n >= 1).then(|| (rate.code(), (trues.round() as u64).min(n), n))
                })
                .collect();
            IndexInput {
                values: values.map(|v| v.round() as u64),
                planned: planned[1 + d],
                rates,
            }
        })
        .collect()
}

/// Each district's true index at the end of the months: the index Formula
/// on the [`expected`] figures, in the region's order.
pub fn true_index(region: &Region, calendar: &Calendar) -> Vec<IndexOutput> {
    let moved = region.clone().starting(calendar.start);
    Formula::new(&moved).compute(&expected(region, calendar))
}

struct Sender {
    client: reqwest::Client,
    url: String,
    key: String,
    summary: Summary,
}

impl Sender {
    fn new(url: &str, key: &str) -> anyhow::Result<Sender> {
        Ok(Sender {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .context("making the HTTP client")?,
            url: format!("{}/api/v1/events", url.trim_end_matches('/')),
            key: key.to_string(),
            summary: Summary::default(),
        })
    }

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

/// Runs the launch replay; returns when it reaches 11:00 (or never, with
/// `keep_going`). The program starts today.
pub async fn run(options: Options) -> anyhow::Result<Summary> {
    let region = Region::load("beijing")?;
    let today = time::from_beijing_micros(time::now_beijing_micros()).date_naive();
    let mut generator = Generator::new(World::new(&region, today), options.seed, options.bad_share);
    let mut sender = Sender::new(&options.url, &options.key)?;
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
                // trickle of new people.
                options.people + ((after - HOLD.as_secs_f64()) * LAUNCH_TRICKLE) as u64
            } else {
                options.people
            }
        } else {
            (options.people as f64 * curve(x)).round() as u64
        };
        let now = time::now_beijing_micros();
        // The whole run is the launch day: no outcome yet.
        let moment = Moment {
            at: now,
            day: 0,
            month: 0,
            until: now + 1,
        };
        let mut lines = Vec::new();
        while made < due && per_step_cap.is_none_or(|cap| lines.len() < cap) {
            generator.person(made, moment, &mut lines);
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

/// Replays the months of `calendar` (ending now) through the ingest API,
/// back-dated; then, with `keep_going`, a live trickle until stopped.
pub async fn replay_months(options: MonthsOptions, calendar: Calendar) -> anyhow::Result<Summary> {
    let region = Region::load("beijing")?;
    let mut script = Script::new(&region, calendar, options.seed);
    let mut sender = Sender::new(&options.url, &options.key)?;
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut lines = Vec::new();
    let mut more = true;
    while more {
        more = script.next_chunk(&mut lines);
        let full = lines.len() / MAX_BATCH * MAX_BATCH;
        let ready = if more { full } else { lines.len() };
        for chunk in lines[..ready].chunks(MAX_BATCH) {
            sender.send(chunk).await?;
            if let Some(rate) = options.rate {
                // Wait until the events sent so far fit the rate.
                let due = Duration::from_secs_f64(sender.summary.sent as f64 / rate.max(1) as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        lines.drain(..ready);
        sender.summary.people = script.people();
        if last_report.elapsed() >= Duration::from_secs(5) || !more {
            last_report = Instant::now();
            tracing::info!(
                month = script
                    .month()
                    .map_or(script.calendar.months as usize, |m| m + 1),
                of = script.calendar.months,
                people = script.people(),
                events = sender.summary.sent,
                "simulator"
            );
        }
    }
    if !options.keep_going {
        return Ok(sender.summary);
    }
    let mut interval = tokio::time::interval(STEP);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let live = Instant::now();
    let mut made = 0u64;
    loop {
        interval.tick().await;
        let due = (live.elapsed().as_secs_f64() * MONTHS_TRICKLE) as u64;
        if due > made {
            let mut lines = Vec::new();
            script.live(
                time::now_beijing_micros(),
                due - made,
                due - made,
                &mut lines,
            );
            made = due;
            sender.send(&lines).await?;
            sender.summary.people = script.people();
        }
        if last_report.elapsed() >= Duration::from_secs(60) {
            last_report = Instant::now();
            tracing::info!(
                people = script.people(),
                events = sender.summary.sent,
                "simulator"
            );
        }
    }
}

/// The events of persons `first..first + people` of a launch morning, as
/// NDJSON lines: the simulator's own mix of the launch day's kinds (no
/// outcome: nobody's is observed on launch day), with no malformed ones.
/// `seed` fixes the choices and the id prefix (different seeds give
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
    let day = time::from_beijing_micros(at).date_naive();
    let mut generator = Generator::new(World::new(region, day), seed, 0.0);
    let mut lines = Vec::with_capacity(people as usize * 3);
    for n in first..first + people {
        let at = at + (n - first) as i64 * step;
        let moment = Moment {
            at,
            day: 0,
            month: 0,
            until: at + 1,
        };
        generator.person(n, moment, &mut lines);
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
    use crate::aggregate::Aggregator;
    use crate::aggregate::ranking::Ranking;
    use crate::aggregate::state::Wall;
    use crate::ingest::decode::decode;
    use crate::ingest::event::validate;
    use crate::model::Format;
    use crate::model::{Detail, Event, Stage};

    /// Where the simulated months end (a fixed "now": the test is the same
    /// on any day).
    fn end() -> i64 {
        midnight("2026-11-20".parse().unwrap()) + 15 * HOUR
    }

    /// The lines through the real ingest path: decoded as an NDJSON body,
    /// each record validated at `now`.
    fn events(lines: &[String], region: &Region, now: i64) -> Vec<Event> {
        let body = lines.join("\n");
        decode(Format::Ndjson, body.as_bytes())
            .expect("an NDJSON body")
            .into_iter()
            .map(|record| {
                let mut raw = record.event.expect("every line is an object");
                validate(&mut raw, region, now).unwrap_or_else(|e| panic!("{e}: {:?}", record.raw))
            })
            .collect()
    }

    /// Ranks from 1, ties sharing their mean rank.
    fn ranks(values: &[f64]) -> Vec<f64> {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let mut ranks = vec![0.0; values.len()];
        let mut i = 0;
        while i < order.len() {
            let mut j = i;
            while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
                j += 1;
            }
            for &k in &order[i..=j] {
                ranks[k] = (i + j) as f64 / 2.0 + 1.0;
            }
            i = j + 1;
        }
        ranks
    }

    fn mean_sd(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    /// Spearman's rank correlation: Pearson's on the ranks.
    fn spearman(a: &[f64], b: &[f64]) -> f64 {
        let (ra, rb) = (ranks(a), ranks(b));
        let ((ma, sa), (mb, sb)) = (mean_sd(&ra), mean_sd(&rb));
        let cov = ra
            .iter()
            .zip(&rb)
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>()
            / ra.len() as f64;
        cov / (sa * sb)
    }

    #[test]
    fn spearman_is_one_for_the_same_order_and_minus_one_reversed() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
    }

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

    /// The world's truths, before any draw: the zones' reach, rates on both
    /// sides of their standards, Fengtai's plan.
    #[test]
    fn the_world_differs_by_zone_and_district() {
        let region = Region::load("beijing").unwrap();
        let world = World::new(&region, "2017-06-28".parse().unwrap());
        // People who scan per resident, averaged over each zone's districts.
        let reach: Vec<f64> = Zone::ALL
            .iter()
            .map(|zone| {
                let of: Vec<f64> = (0..16)
                    .filter(|&d| region.districts[d].zone == *zone)
                    .map(|d| world.share(d) / region.districts[d].population_10k)
                    .collect();
                of.iter().sum::<f64>() / of.len() as f64
            })
            .collect();
        assert!(
            reach.windows(2).all(|w| w[0] > w[1]),
            "core > extended > new > ecological: {reach:?}"
        );
        // Six months in, some rates are below their standard, some above.
        let (mut below, mut above) = (0, 0);
        for d in 0..16 {
            for r in observed_rates() {
                if world.rate(d, r, 5) < region.rate(r).standard {
                    below += 1;
                } else {
                    above += 1;
                }
                assert!(world.rate(d, r, 5) > world.rate(d, r, 0), "rates improve");
            }
        }
        assert!(below > 20 && above > 20, "{below} below, {above} above");
        // Fengtai's named teams exist from its plan's day only.
        assert_eq!(teams(FENGTAI, FENGTAI_PLAN_DAY - 1)[0], "110106-team-01");
        assert_eq!(teams(FENGTAI, FENGTAI_PLAN_DAY)[0], "ft-zxy-diabetes");
        // 2017-06-28 + 118 days is the plan's date.
        let plan: NaiveDate = "2017-10-24".parse().unwrap();
        assert_eq!(world.day(midnight(plan)), FENGTAI_PLAN_DAY);
        assert_eq!(world.rate_code(3, NineRate::Participation), "compliance");
        assert_eq!(world.rate_code(0, NineRate::Participation), "participation");
    }

    /// The launch replay's lines (what `run` and the benchmark send): the
    /// launch figure, no outcome, the ceremony's handful of guardians.
    #[test]
    fn the_launch_morning_reaches_its_people_with_no_outcome_and_a_handful_of_guardians() {
        let region = Region::load("beijing").unwrap();
        let eight = midnight("2026-12-03".parse().unwrap()) + 8 * HOUR;
        // 82,969 people over three hours, as the replay sends them.
        let step = 3 * HOUR / LAUNCH_PEOPLE as i64;
        let lines = morning_events(&region, 7, 0, LAUNCH_PEOPLE, eight, step);
        let events = events(&lines, &region, eight + 3 * HOUR);
        let mut agg = Aggregator::new(16, eight + 3 * HOUR);
        let (mut outcomes, mut trainees) = (0, 0);
        for e in events {
            match &e.detail {
                Detail::Outcome { .. } => outcomes += 1,
                Detail::Train {
                    stage: Stage::Enrolled,
                } => trainees += 1,
                Detail::Enroll { team } | Detail::Service { team, .. } => {
                    assert!(
                        !team.starts_with("ft-"),
                        "no pilot team on launch day: {team}"
                    )
                }
                _ => {}
            }
            agg.apply(e);
        }
        assert_eq!(outcomes, 0, "nobody's outcome is observed on launch day");
        assert_eq!(agg.city.people, LAUNCH_PEOPLE);
        // One in 6,000 who scan trains at the ceremony, one in 4 of them is
        // certified: 13 trainees, 4 guardians. The bound: at most 10.
        assert_eq!(
            (trainees, agg.city.trainees, agg.city.guardians),
            (13, 13, 4)
        );
        assert!(agg.city.guardians <= 10);
        // Enrolment on launch day is a fraction of an ordinary day's.
        let managed = agg.city.managed as f64 / LAUNCH_PEOPLE as f64;
        assert!((0.02..0.08).contains(&managed), "{managed}");
    }

    /// What one seed's months gave.
    struct Run {
        seed: u64,
        published: Vec<f64>,
        per_10k_by_zone: Vec<f64>,
        correlation: f64,
        changes: u32,
        raw_changes: u32,
        events: usize,
    }

    /// Six months through the ingest path into an aggregator; the checks
    /// that hold for every event; then ten minutes of live ticks.
    fn months(seed: u64, calendar: &Calendar, truth: &[f64]) -> Run {
        let base = Region::load("beijing").unwrap();
        let region = base.clone().starting(calendar.start);
        let start = midnight(calendar.start);
        let (_, eleven) = calendar.launch();
        let plan_day = start + FENGTAI_PLAN_DAY * DAY;
        let fengtai = region.district_index(FENGTAI).unwrap();
        let mut script = Script::new(&base, calendar.clone(), seed);
        let mut agg = Aggregator::new(16, calendar.end);
        let mut launch_day = Aggregator::new(16, eleven);
        let mut lines = Vec::new();
        let mut count = 0;
        let mut rates = std::collections::BTreeMap::<&str, u64>::new();
        let mut named = 0;
        while script.next_chunk(&mut lines) {
            for e in events(&lines, &region, calendar.end) {
                count += 1;
                assert!(e.ts < calendar.end, "back-dated: {}", e.ts);
                if let Detail::Outcome { rate, .. } = &e.detail {
                    *rates.entry(rate.code()).or_default() += 1;
                    assert!(e.ts >= start + DAY, "no outcome on launch day");
                    if rate.nine() == NineRate::Participation {
                        // 依从率 from Fengtai's partner, 参与率 from the others.
                        assert_eq!(*rate == Rate::Compliance, e.district == fengtai);
                    }
                }
                if e.team().is_some_and(|team| team.starts_with("ft-")) {
                    assert!(e.ts >= plan_day, "Fengtai's named teams from its plan");
                    named += 1;
                }
                if e.ts < start + DAY {
                    assert!(e.ts <= eleven, "launch day is the morning");
                    launch_day.apply(e.clone());
                }
                agg.apply(e);
            }
            lines.clear();
        }
        assert_eq!(launch_day.city.people, LAUNCH_PEOPLE, "by 11:00");
        assert_eq!(launch_day.city.guardians, 4, "the ceremony's guardians");
        assert!(named > 1_000, "Fengtai's pilot teams work: {named}");
        assert_eq!(rates.get("management"), None);
        assert!(
            rates["participation"] > 10_000 && rates["compliance"] > 1_000,
            "{rates:?}"
        );
        assert_eq!(
            script.people(),
            LAUNCH_PEOPLE + 6 * calendar.people_per_month
        );

        let state = state::compute(&region, &agg, calendar.end, Wall::default());
        let published: Vec<f64> = region
            .districts
            .iter()
            .map(|d| state.districts[&d.code].index)
            .collect();
        let per_10k_by_zone = Zone::ALL
            .iter()
            .map(|zone| {
                let of: Vec<f64> = region
                    .districts
                    .iter()
                    .filter(|d| d.zone == *zone)
                    .map(|d| state.districts[&d.code].per_10k["people"])
                    .collect();
                of.iter().sum::<f64>() / of.len() as f64
            })
            .collect();

        // Ten minutes of ticks every 2 s, three people and three observations a tick.
        let formula = Formula::new(&region);
        let codes: Vec<String> = region.districts.iter().map(|d| d.code.clone()).collect();
        let mut ranking = Ranking::new(&region);
        let tick = |agg: &Aggregator, now: i64, ranking: &mut Ranking| {
            let index = formula.compute(&state::index_inputs(
                agg,
                &state::planned(&region, now),
                crate::settings::Settings::default().k,
            ));
            let basis = ranking.basis_at(now, state::least_n(agg));
            let values = state::ranking_values(&region, agg, &index, basis);
            let changed = ranking.update(now, basis, &values, &codes);
            (changed, index.iter().map(|o| o.rank).collect::<Vec<u32>>())
        };
        let mut now = calendar.end;
        let (_, mut last_ranks) = tick(&agg, now, &mut ranking);
        let (mut changes, mut raw_changes) = (0, 0);
        for _ in 0..300 {
            now += 2 * SECOND;
            script.live(now, 3, 3, &mut lines);
            for e in events(&lines, &region, now) {
                agg.apply(e);
            }
            lines.clear();
            agg.advance(now);
            let (changed, ranks) = tick(&agg, now, &mut ranking);
            changes += changed as u32;
            raw_changes += (ranks != last_ranks) as u32;
            last_ranks = ranks;
        }
        Run {
            seed,
            correlation: spearman(&published, truth),
            published,
            per_10k_by_zone,
            changes,
            raw_changes,
            events: count,
        }
    }

    /// The published index ranks the districts as the simulated world's
    /// truth does, for every seed, and the wall's order holds still.
    #[test]
    fn the_published_index_ranks_the_districts_as_the_world_does() {
        let started = std::time::Instant::now();
        let calendar = Calendar::ending(end(), 6, 20_000);
        assert_eq!(calendar.start, "2026-05-20".parse::<NaiveDate>().unwrap());
        let region = Region::load("beijing").unwrap();
        let truth: Vec<f64> = true_index(&region, &calendar)
            .iter()
            .map(|o| o.index)
            .collect();
        let runs: Vec<Run> = std::thread::scope(|s| {
            let handles: Vec<_> = [1, 2, 3]
                .map(|seed| {
                    let (calendar, truth) = (&calendar, &truth);
                    s.spawn(move || months(seed, calendar, truth))
                })
                .into_iter()
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (lo, hi) = truth
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        eprintln!("true index: {lo:.1}–{hi:.1}, sd {:.1}", mean_sd(&truth).1);
        eprintln!(
            "district  truth  {}",
            runs.iter()
                .map(|r| format!("seed {}", r.seed))
                .collect::<Vec<_>>()
                .join("  ")
        );
        for (d, district) in region.districts.iter().enumerate() {
            eprintln!(
                "{} {:<10} {:>5.1}  {}",
                district.code,
                district.zone.code(),
                truth[d],
                runs.iter()
                    .map(|r| format!("{:>6.1}", r.published[d]))
                    .collect::<Vec<_>>()
                    .join("  ")
            );
        }
        for r in &runs {
            let (lo, hi) = r
                .published
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
            eprintln!(
                "seed {}: {} events, Spearman {:.3}, published {lo:.1}–{hi:.1} (sd {:.1}), people per 10k by zone {:?}, \
                 ranking changes in 10 min {} (index ranks changed on {} of 300 ticks)",
                r.seed,
                r.events,
                r.correlation,
                mean_sd(&r.published).1,
                r.per_10k_by_zone
                    .iter()
                    .map(|v| (v * 10.0).round() / 10.0)
                    .collect::<Vec<_>>(),
                r.changes,
                r.raw_changes
            );
        }
        for r in &runs {
            assert!(
                r.correlation >= 0.8,
                "seed {}: Spearman {}",
                r.seed,
                r.correlation
            );
            assert!(
                r.per_10k_by_zone.windows(2).all(|w| w[0] > w[1]),
                "published reach by zone: {:?}",
                r.per_10k_by_zone
            );
            assert!(
                r.changes <= 10,
                "at most one reorder a minute: {}",
                r.changes
            );
        }
        assert!(mean_sd(&truth).1 > 5.0, "the districts differ");
        eprintln!("{:.1} s", started.elapsed().as_secs_f64());
    }
}
