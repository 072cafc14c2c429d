//! Aggregate: the live figures, kept incrementally in memory.
//!
//! [`Aggregator::apply`] folds one accepted event into the counters in O(1),
//! so a tick costs what arrived since the last one, not the whole history.
//! At start the store replays its events through the same function once.
//!
//! Order does not matter: "latest" assessments and rate observations are
//! chosen by (event time, event id), so replaying in any order gives the same
//! figures, and a back-filled old event never overrides a newer one.
//!
//! Person ids are interned to dense numbers and never leave this module: the
//! state built from it ([`state`]) holds counts only.

pub mod alerts;
pub mod history;
pub mod index;
mod intern;
pub mod privacy;
pub mod ranking;
pub mod review;
pub mod saved;
pub mod state;
pub mod tick;

use std::collections::{BTreeMap, HashMap, HashSet};

use foldhash::fast::RandomState;
use smallvec::SmallVec;

use crate::model::{Category, Colour, Detail, Event, NineRate, Stage};
use crate::time::MICROS_PER_MINUTE;

/// Distinct scan channels counted by name in a district; scans of any
/// further channel count under [`OTHER_CHANNEL`] (channels are free text).
pub const MAX_CHANNELS: usize = 24;
/// Scans whose channel is not among a district's first [`MAX_CHANNELS`].
pub const OTHER_CHANNEL: &str = "(other)";
/// Scans sent without a channel.
pub const NO_CHANNEL: &str = "(none)";

/// Minutes of scans-per-minute history kept for the trend (60 shown, one spare).
pub const TREND_MINUTES: i64 = 60;

const SCAN: u8 = 1;
const ASSESS: u8 = 2;
const ENROLL: u8 = 4;
const SERVICE: u8 = 8;
const TRAIN: u8 = 16;
const CERTIFIED: u8 = 32;

/// The totals of the city or of one district, as the state document carries them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    /// Distinct persons with a scan.
    pub people: u64,
    pub scans: u64,
    pub assessed: u64,
    pub managed: u64,
    pub interactive: u64,
    pub services: u64,
    pub trainees: u64,
    pub guardians: u64,
}

impl Totals {
    /// Counts a person's first event of a kind (the distinct figures).
    fn first(&mut self, flag: u8) {
        match flag {
            SCAN => self.people += 1,
            ASSESS => self.assessed += 1,
            ENROLL => self.managed += 1,
            SERVICE => self.interactive += 1,
            TRAIN => self.trainees += 1,
            CERTIFIED => self.guardians += 1,
            _ => unreachable!("one flag at a time"),
        }
    }
}

/// Share of true among the persons observed for a rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RateCount {
    pub n: u64,
    pub trues: u64,
}

impl RateCount {
    /// Share of true, rounded to 4 decimals: the value published and indexed.
    pub fn share(&self) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        (self.trues as f64 / self.n as f64 * 10_000.0).round() / 10_000.0
    }
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DistrictFigures {
    pub totals: Totals,
    /// Persons whose latest assessment was made here, by colour.
    pub colours: [u64; Colour::COUNT],
    /// Persons whose latest observation of each of the nine rates was made
    /// here (management stays 0: it is counted from enrolments).
    pub rates: [RateCount; NineRate::COUNT],
    /// Services given here, by category.
    pub categories: [u64; Category::COUNT],
    /// Scan events made here, by channel.
    pub channels: BTreeMap<Box<str>, u64>,
}

/// One service team's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TeamFigures {
    /// Distinct persons enrolled with the team.
    pub managed: u64,
    /// Distinct persons the team served.
    pub served: u64,
    /// Services the team gave.
    pub services: u64,
}

/// A team: its district, its name, its figures.
#[derive(Debug, Clone)]
pub struct Team {
    pub district: u8,
    pub name: Box<str>,
    pub figures: TeamFigures,
}

impl DistrictFigures {
    /// The rates observed here (n ≥ 1), with their counts.
    pub fn observed_rates(&self) -> impl Iterator<Item = (NineRate, RateCount)> + '_ {
        NineRate::ALL
            .iter()
            .map(|r| (*r, self.rates[r.index()]))
            .filter(|(_, c)| c.n > 0)
    }
}

#[derive(Debug, Clone)]
struct Latest<T> {
    ts: i64,
    id: Box<str>,
    district: u8,
    value: T,
}

impl<T> Latest<T> {
    fn is_older_than(&self, ts: i64, id: &str) -> bool {
        (self.ts, &*self.id) < (ts, id)
    }
}

#[derive(Debug, Default)]
struct Person {
    /// Kinds seen anywhere.
    flags: u8,
    /// Kinds seen per district; almost always one district, kept inline
    /// (no allocation, no second cache miss per person).
    districts: SmallVec<[(u8, u8); 2]>,
    assessment: Option<Latest<Colour>>,
}

/// Person ids are numbered by an [`intern::Interner`]; the maps keyed by
/// person or team use foldhash: several times faster than
/// the standard SipHash on short keys, which matters at millions of persons
/// (the replay at start, the fold of each tick); still seeded per process.
pub struct Aggregator {
    ids: intern::Interner,
    persons: Vec<Person>,
    rates: HashMap<(u32, NineRate), Latest<bool>, RandomState>,
    pub city: Totals,
    pub colours: [u64; Colour::COUNT],
    pub categories: [u64; Category::COUNT],
    pub districts: Vec<DistrictFigures>,
    /// Teams in order of first appearance; a team is its name within a district.
    pub teams: Vec<Team>,
    team_ids: HashMap<(u8, Box<str>), u32, RandomState>,
    /// (team, person, served?) pairs seen, for the distinct team figures.
    team_persons: HashSet<(u32, u32, bool), RandomState>,
    /// Scans per district by event minute (Beijing), for the trend window only.
    minutes: BTreeMap<i64, Vec<u64>>,
    /// Oldest minute still kept in `minutes`.
    horizon: i64,
    /// Events applied since the flag was last cleared.
    changed: bool,
}

impl Aggregator {
    pub fn new(districts: usize, now_micros: i64) -> Aggregator {
        Aggregator {
            ids: intern::Interner::default(),
            persons: Vec::new(),
            rates: HashMap::default(),
            city: Totals::default(),
            colours: [0; Colour::COUNT],
            categories: [0; Category::COUNT],
            districts: vec![DistrictFigures::default(); districts],
            teams: Vec::new(),
            team_ids: HashMap::default(),
            team_persons: HashSet::default(),
            minutes: BTreeMap::new(),
            horizon: minute_of(now_micros) - TREND_MINUTES,
            changed: true,
        }
    }

    pub fn apply(&mut self, event: Event) {
        self.changed = true;
        let d = event.district as usize;
        let p = self.intern(&event.person);
        match event.detail {
            Detail::Scan { channel } => {
                self.city.scans += 1;
                self.districts[d].totals.scans += 1;
                let channels = &mut self.districts[d].channels;
                let name = channel.as_deref().unwrap_or(NO_CHANNEL);
                if let Some(n) = channels.get_mut(name) {
                    *n += 1;
                } else if channels.len() < MAX_CHANNELS {
                    channels.insert(name.into(), 1);
                } else {
                    *channels.entry(OTHER_CHANNEL.into()).or_default() += 1;
                }
                let minute = minute_of(event.ts);
                if minute >= self.horizon {
                    let n = self.districts.len();
                    self.minutes.entry(minute).or_insert_with(|| vec![0; n])[d] += 1;
                }
                self.mark(p, event.district, SCAN);
            }
            Detail::Assess { colour } => {
                self.mark(p, event.district, ASSESS);
                let person = &mut self.persons[p as usize];
                let newer = person
                    .assessment
                    .as_ref()
                    .is_none_or(|old| old.is_older_than(event.ts, &event.id));
                if newer {
                    if let Some(old) = person.assessment.take() {
                        self.colours[old.value.index()] -= 1;
                        self.districts[old.district as usize].colours[old.value.index()] -= 1;
                    }
                    self.colours[colour.index()] += 1;
                    self.districts[d].colours[colour.index()] += 1;
                    self.persons[p as usize].assessment = Some(Latest {
                        ts: event.ts,
                        id: event.id.into_boxed_str(),
                        district: event.district,
                        value: colour,
                    });
                }
            }
            Detail::Enroll { team } => {
                self.mark(p, event.district, ENROLL);
                let t = self.team(event.district, team);
                if self.team_persons.insert((t, p, false)) {
                    self.teams[t as usize].figures.managed += 1;
                }
            }
            Detail::Service { category, team } => {
                self.city.services += 1;
                self.districts[d].totals.services += 1;
                self.districts[d].categories[category.index()] += 1;
                self.categories[category.index()] += 1;
                self.mark(p, event.district, SERVICE);
                let t = self.team(event.district, team);
                let figures = &mut self.teams[t as usize].figures;
                figures.services += 1;
                if self.team_persons.insert((t, p, true)) {
                    self.teams[t as usize].figures.served += 1;
                }
            }
            Detail::Train { stage } => {
                self.mark(p, event.district, TRAIN);
                if stage == Stage::Certified {
                    self.mark(p, event.district, CERTIFIED);
                }
            }
            Detail::Outcome { rate, value } => {
                // Participation and compliance are one slot; a management
                // outcome (refused at ingest since; some may be stored from
                // before) is not a figure: 管理率 is counted from enrolments.
                let rate = rate.nine();
                if !rate.observed() {
                    return;
                }
                let slot = self.rates.get(&(p, rate));
                let newer = slot.is_none_or(|old| old.is_older_than(event.ts, &event.id));
                if newer {
                    if let Some(old) = self.rates.remove(&(p, rate)) {
                        let count = &mut self.districts[old.district as usize].rates[rate.index()];
                        count.n -= 1;
                        count.trues -= old.value as u64;
                    }
                    let count = &mut self.districts[d].rates[rate.index()];
                    count.n += 1;
                    count.trues += value as u64;
                    self.rates.insert(
                        (p, rate),
                        Latest {
                            ts: event.ts,
                            id: event.id.into_boxed_str(),
                            district: event.district,
                            value,
                        },
                    );
                }
            }
        }
    }

    fn team(&mut self, district: u8, name: String) -> u32 {
        let key = (district, name.into_boxed_str());
        if let Some(&t) = self.team_ids.get(&key) {
            return t;
        }
        let t = self.teams.len() as u32;
        self.teams.push(Team {
            district,
            name: key.1.clone(),
            figures: TeamFigures::default(),
        });
        self.team_ids.insert(key, t);
        t
    }

    fn intern(&mut self, person: &str) -> u32 {
        let (p, new) = self.ids.intern(person);
        if new {
            self.persons.push(Person::default());
        }
        p
    }

    /// Sets a kind on the person, city-wide and in the district, counting firsts.
    fn mark(&mut self, p: u32, district: u8, flag: u8) {
        let person = &mut self.persons[p as usize];
        if person.flags & flag == 0 {
            person.flags |= flag;
            self.city.first(flag);
        }
        let slot = match person.districts.iter().position(|(d, _)| *d == district) {
            Some(i) => &mut person.districts[i].1,
            None => {
                person.districts.push((district, 0));
                &mut person.districts.last_mut().expect("just pushed").1
            }
        };
        if *slot & flag == 0 {
            *slot |= flag;
            self.districts[district as usize].totals.first(flag);
        }
    }

    /// Drops trend minutes older than the window ending at `now`.
    pub fn advance(&mut self, now_micros: i64) {
        let horizon = minute_of(now_micros) - TREND_MINUTES;
        if horizon > self.horizon {
            self.horizon = horizon;
            self.minutes = self.minutes.split_off(&horizon);
        }
    }

    /// Scans per minute, the 60 minutes ending at the minute of `now`, oldest
    /// first: of the city, or of one district.
    pub fn trend(&self, now_micros: i64, district: Option<usize>) -> Vec<(i64, u64)> {
        let current = minute_of(now_micros);
        (current - TREND_MINUTES + 1..=current)
            .map(|m| {
                let scans = self.minutes.get(&m).map_or(0, |per| match district {
                    Some(d) => per[d],
                    None => per.iter().sum(),
                });
                (m * MICROS_PER_MINUTE, scans)
            })
            .collect()
    }

    /// Scans of each district whose event time falls in the last full minute.
    pub fn last_minute(&self, now_micros: i64) -> Vec<u64> {
        let previous = minute_of(now_micros) - 1;
        self.minutes
            .get(&previous)
            .cloned()
            .unwrap_or_else(|| vec![0; self.districts.len()])
    }

    /// Scans of district `d` whose event minute is in `[from, to)`.
    pub fn scans_between(&self, d: usize, from: i64, to: i64) -> u64 {
        self.minutes.range(from..to).map(|(_, per)| per[d]).sum()
    }

    /// Whether events were applied since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::replace(&mut self.changed, false)
    }
}

/// The Beijing minute of a Beijing-micros time (floor, also before 1970).
pub fn minute_of(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_MINUTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, ts: i64, district: u8, person: &str, detail: Detail) -> Event {
        Event {
            id: id.into(),
            ts,
            district,
            person: person.into(),
            detail,
        }
    }

    #[test]
    fn latest_assessment_wins_whatever_the_order() {
        let events = [
            ev(
                "b",
                20,
                0,
                "p-000001",
                Detail::Assess {
                    colour: Colour::Blue,
                },
            ),
            ev(
                "a",
                20,
                1,
                "p-000001",
                Detail::Assess {
                    colour: Colour::Green,
                },
            ),
            ev(
                "c",
                10,
                2,
                "p-000001",
                Detail::Assess {
                    colour: Colour::Pink,
                },
            ),
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut agg = Aggregator::new(3, 0);
            for i in order {
                agg.apply(events[i].clone());
            }
            // (20, "b") is the latest: blue, in district 0.
            let mut blue = [0; Colour::COUNT];
            blue[Colour::Blue.index()] = 1;
            assert_eq!(agg.colours, blue);
            assert_eq!(agg.districts[0].colours, blue);
            assert_eq!(agg.districts[1].colours, [0; Colour::COUNT]);
            assert_eq!(agg.city.assessed, 1);
            assert_eq!(agg.districts[2].totals.assessed, 1);
        }
    }

    #[test]
    fn a_person_counts_once_per_place() {
        let mut agg = Aggregator::new(2, 0);
        agg.apply(ev("1", 0, 0, "p-000001", Detail::Scan { channel: None }));
        agg.apply(ev("2", 0, 0, "p-000001", Detail::Scan { channel: None }));
        agg.apply(ev("3", 0, 1, "p-000001", Detail::Scan { channel: None }));
        agg.apply(ev(
            "4",
            0,
            1,
            "p-000001",
            Detail::Train {
                stage: Stage::Certified,
            },
        ));
        assert_eq!(agg.city.people, 1);
        assert_eq!(agg.city.scans, 3);
        assert_eq!(agg.districts[0].totals.people, 1);
        assert_eq!(agg.districts[1].totals.people, 1);
        assert_eq!((agg.city.trainees, agg.city.guardians), (1, 1));
        assert_eq!(agg.districts[0].totals.guardians, 0);
    }

    #[test]
    fn trend_covers_sixty_minutes_ending_now() {
        let now = 1000 * MICROS_PER_MINUTE + 5;
        let mut agg = Aggregator::new(1, now);
        for (id, minute) in [("a", 1000), ("b", 1000), ("c", 941), ("d", 940), ("e", 999)] {
            agg.apply(ev(
                id,
                minute * MICROS_PER_MINUTE,
                0,
                id,
                Detail::Scan { channel: None },
            ));
        }
        let trend = agg.trend(now, None);
        assert_eq!(trend.len(), 60);
        assert_eq!(trend[0], (941 * MICROS_PER_MINUTE, 1));
        assert_eq!(trend[58], (999 * MICROS_PER_MINUTE, 1));
        assert_eq!(trend[59], (1000 * MICROS_PER_MINUTE, 2));
        assert_eq!(agg.last_minute(now), vec![1]);
    }
}

#[cfg(test)]
pub(crate) mod properties {
    //! For random event sequences, the incremental figures equal a recount
    //! from scratch by plain set arithmetic, in any arrival order.

    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;
    use crate::model::{Colour, Detail, Event, NineRate, Rate, Stage};

    const DISTRICTS: u8 = 3;

    pub(crate) fn event() -> impl Strategy<Value = (u8, u8, i64, u8, u8)> {
        // (person, district, minute, kind, choice)
        (0u8..12, 0..DISTRICTS, 0i64..5, 0u8..6, 0u8..10)
    }

    pub(crate) fn build(
        i: usize,
        (person, district, minute, kind, choice): (u8, u8, i64, u8, u8),
    ) -> Event {
        let detail = match kind {
            0 => Detail::Scan { channel: None },
            1 => Detail::Assess {
                colour: Colour::ALL[choice as usize % 5],
            },
            2 => Detail::Enroll {
                team: format!("t{}", choice % 2),
            },
            3 => Detail::Service {
                team: format!("t{}", choice % 3),
                category: crate::model::Category::ALL[choice as usize],
            },
            4 => Detail::Train {
                stage: if choice % 2 == 0 {
                    Stage::Enrolled
                } else {
                    Stage::Certified
                },
            },
            _ => Detail::Outcome {
                // Participation and compliance land in one slot; management
                // is no observed rate.
                rate: [
                    Rate::Awareness,
                    Rate::Compliance,
                    Rate::Participation,
                    Rate::Management,
                ][choice as usize % 4],
                value: choice % 2 == 0,
            },
        };
        Event {
            id: format!("e-{i:04}"),
            ts: minute * MICROS_PER_MINUTE,
            district,
            person: format!("p-{person:06}"),
            detail,
        }
    }

    /// (people, scans, assessed, managed, interactive, services, trainees, guardians)
    /// in the city, colours, and (n, trues) per district per rate, by recounting.
    #[allow(clippy::type_complexity)]
    fn recount(
        events: &[Event],
    ) -> (
        Totals,
        [u64; Colour::COUNT],
        BTreeMap<(u8, NineRate), (u64, u64)>,
    ) {
        let distinct = |f: &dyn Fn(&Detail) -> bool| {
            events
                .iter()
                .filter(|e| f(&e.detail))
                .map(|e| e.person.clone())
                .collect::<BTreeSet<_>>()
                .len() as u64
        };
        let totals = Totals {
            people: distinct(&|d| matches!(d, Detail::Scan { .. })),
            scans: events
                .iter()
                .filter(|e| matches!(e.detail, Detail::Scan { .. }))
                .count() as u64,
            assessed: distinct(&|d| matches!(d, Detail::Assess { .. })),
            managed: distinct(&|d| matches!(d, Detail::Enroll { .. })),
            interactive: distinct(&|d| matches!(d, Detail::Service { .. })),
            services: events
                .iter()
                .filter(|e| matches!(e.detail, Detail::Service { .. }))
                .count() as u64,
            trainees: distinct(&|d| matches!(d, Detail::Train { .. })),
            guardians: distinct(&|d| {
                matches!(
                    d,
                    Detail::Train {
                        stage: Stage::Certified
                    }
                )
            }),
        };
        let mut latest_colour: BTreeMap<&str, (i64, &str, Colour)> = BTreeMap::new();
        let mut latest_rate: BTreeMap<(&str, NineRate), (i64, &str, u8, bool)> = BTreeMap::new();
        for e in events {
            match &e.detail {
                Detail::Assess { colour } => {
                    let slot = latest_colour
                        .entry(&e.person)
                        .or_insert((e.ts, &e.id, *colour));
                    if (slot.0, slot.1) < (e.ts, e.id.as_str()) {
                        *slot = (e.ts, &e.id, *colour);
                    }
                }
                Detail::Outcome { rate, value } if rate.nine().observed() => {
                    let slot = latest_rate
                        .entry((&e.person, rate.nine()))
                        .or_insert((e.ts, &e.id, e.district, *value));
                    if (slot.0, slot.1) < (e.ts, e.id.as_str()) {
                        *slot = (e.ts, &e.id, e.district, *value);
                    }
                }
                _ => {}
            }
        }
        let mut colours = [0; Colour::COUNT];
        for (_, _, c) in latest_colour.values() {
            colours[c.index()] += 1;
        }
        let mut rates = BTreeMap::new();
        for ((_, rate), (_, _, d, v)) in &latest_rate {
            let r: &mut (u64, u64) = rates.entry((*d, *rate)).or_default();
            r.0 += 1;
            r.1 += *v as u64;
        }
        (totals, colours, rates)
    }

    /// Per (district, team): distinct persons enrolled, distinct persons
    /// served, services; by recounting.
    fn recount_teams(events: &[Event]) -> BTreeMap<(u8, String), TeamFigures> {
        /// (persons enrolled, persons served, services)
        type Seen<'a> = (BTreeSet<&'a str>, BTreeSet<&'a str>, u64);
        let mut persons: BTreeMap<(u8, String), Seen> = BTreeMap::new();
        for e in events {
            match &e.detail {
                Detail::Enroll { team } => {
                    let slot = persons.entry((e.district, team.clone())).or_default();
                    slot.0.insert(&e.person);
                }
                Detail::Service { team, .. } => {
                    let slot = persons.entry((e.district, team.clone())).or_default();
                    slot.1.insert(&e.person);
                    slot.2 += 1;
                }
                _ => {}
            }
        }
        persons
            .into_iter()
            .map(|(k, (managed, served, services))| {
                (
                    k,
                    TeamFigures {
                        managed: managed.len() as u64,
                        served: served.len() as u64,
                        services,
                    },
                )
            })
            .collect()
    }

    proptest! {
        #[test]
        fn incremental_equals_recount_in_any_order(
            raw in proptest::collection::vec(event(), 0..80),
            seed in any::<u64>(),
        ) {
            let events: Vec<Event> = raw.into_iter().enumerate().map(|(i, r)| build(i, r)).collect();
            let (totals, colours, rates) = recount(&events);
            // The same events in a shuffled order.
            let mut order: Vec<usize> = (0..events.len()).collect();
            let mut s = seed;
            for i in (1..order.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (s >> 33) as usize % (i + 1));
            }
            for sequence in [(0..events.len()).collect::<Vec<_>>(), order] {
                let mut agg = Aggregator::new(DISTRICTS as usize, 0);
                for &i in &sequence {
                    agg.apply(events[i].clone());
                }
                prop_assert_eq!(agg.city, totals);
                prop_assert_eq!(agg.colours, colours);
                let district_colours: u64 = agg.districts.iter().map(|d| d.colours.iter().sum::<u64>()).sum();
                prop_assert_eq!(district_colours, totals.assessed);
                let teams: BTreeMap<(u8, String), TeamFigures> = agg
                    .teams
                    .iter()
                    .map(|t| ((t.district, t.name.to_string()), t.figures))
                    .collect();
                prop_assert_eq!(&teams, &recount_teams(&events));
                for d in 0..DISTRICTS {
                    for rate in NineRate::ALL {
                        let want = rates.get(&(d, *rate)).copied().unwrap_or((0, 0));
                        let got = agg.districts[d as usize].rates[rate.index()];
                        prop_assert_eq!((got.n, got.trues), want);
                    }
                }
            }
        }
    }
}
