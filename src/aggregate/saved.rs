//! The aggregator saved beside the database, so a start need not fold the
//! whole history again.
//!
//! Folding ten million stored events takes seconds; loading the figures they
//! made takes a fraction of that. The tick saves the aggregator to
//! `weibing.aggregate` beside `weibing.duckdb` (every so many folded events,
//! and when the server stops), naming what it covers: the stored events whose
//! seq is below `next_seq`, and how many they are. A start uses the file only
//! when the database proves it describes it ([`crate::store::Resume`]: the
//! database names the file's token, and holds exactly that many events below
//! that seq), then folds only the events stored after it. Otherwise it folds
//! everything, as without a file. The file is derived data: losing it costs
//! one slow start, never a wrong figure.
//!
//! The layout: [`MAGIC`], the format [`VERSION`] (u32), the number of persons
//! (u64), the lengths of the three parts (u64 each) and the CRC-32 of all
//! three (u32), all little-endian; then the parts in postcard: the
//! [`Header`], the persons, and the rest of the figures. The header is read
//! first, so a file of another region or format costs no decoding; the
//! persons and the rest are decoded on two threads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use foldhash::fast::RandomState;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use super::intern::Interner;
use super::{Aggregator, DistrictFigures, Latest, Person, Team, TeamFigures, minute_of};
use crate::model::{Colour, Event, NineRate};
use crate::region::Region;
use crate::store::{Replay, Resume};

pub const MAGIC: &[u8; 16] = b"WEIBING-AGG\r\n\x1a\n\0";
/// Bumped whenever the body's layout or the meaning of a figure changes: a
/// file of another version is not read (the start folds the history). A
/// changed list needs no bump: the header names the lists ([`Header::lists`]).
pub const VERSION: u32 = 3;
const PREAMBLE: usize = 16 + 4 + 8 + 3 * 8 + 4;

/// The file beside a database file ([`crate::store::saved_figures_path`]).
pub fn path_for(database: &Path) -> PathBuf {
    crate::store::saved_figures_path(database)
}

/// What a saved aggregator covers, and which database names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Random; the database's `settings` names the file it vouches for.
    pub token: String,
    /// The district codes in order: the aggregator's districts are indices.
    pub region: Vec<String>,
    /// The program's lists the figures were counted by ([`lists`]): colours
    /// and categories are indices too.
    pub lists: String,
    /// Every stored event with a seq below this is folded in, none above.
    pub next_seq: i64,
    /// How many stored events that is.
    pub events: u64,
    /// When it was saved (Beijing micros).
    pub saved_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a saved aggregator of this format: {0}")]
    Format(String),
    #[error("saved for other districts")]
    Region,
    #[error("saved when the program's lists were other")]
    Lists,
    /// The clock is before the file's trend window: minutes it dropped would
    /// be missing from the trend.
    #[error("saved at a later time than now")]
    Future,
}

/// The program's lists as one line (`kind=scan,assess,…;colour=…`), for
/// [`Header::lists`].
pub fn lists() -> String {
    crate::model::lists()
        .iter()
        .map(|(name, codes)| format!("{name}={}", codes.join(",")))
        .collect::<Vec<_>>()
        .join(";")
}

fn format(what: impl fmt::Display) -> SavedError {
    SavedError::Format(what.to_string())
}

/// The file's bytes for `agg` as covered by `header`.
/// The persons and the rest are encoded on two threads.
pub fn encode(agg: &Aggregator, header: &Header) -> Result<Vec<u8>, SavedError> {
    // The persons (most of the bytes) on a second thread, as they are read.
    let (persons, rest) = std::thread::scope(|scope| {
        let persons = scope.spawn(|| postcard::to_stdvec(&Persons(agg)));
        let rest = postcard::to_stdvec(&Rest(agg));
        (persons.join().expect("encoding the persons panicked"), rest)
    });
    let parts = [
        postcard::to_stdvec(header).map_err(format)?,
        persons.map_err(format)?,
        rest.map_err(format)?,
    ];
    let mut crc = crc32fast::Hasher::new();
    parts.iter().for_each(|p| crc.update(p));
    let mut out = Vec::with_capacity(PREAMBLE + parts.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(agg.persons.len() as u64).to_le_bytes());
    for part in &parts {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    parts.iter().for_each(|p| out.extend_from_slice(p));
    Ok(out)
}

/// Reads back what [`encode`] wrote, for `region`, at `now` (Beijing micros).
/// The persons and the rest are decoded on two threads.
pub fn decode(
    bytes: &[u8],
    region: &Region,
    now_micros: i64,
) -> Result<(Aggregator, Header), SavedError> {
    if bytes.len() < PREAMBLE || &bytes[..16] != MAGIC {
        return Err(format("no signature"));
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let long = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let version = word(16);
    if version != VERSION {
        return Err(format(format_args!("version {version}, this is {VERSION}")));
    }
    let (people, lengths, crc) = (long(20), [long(28), long(36), long(44)], word(52));
    let data = &bytes[PREAMBLE..];
    let total = lengths.iter().try_fold(0u64, |sum, l| sum.checked_add(*l));
    if total != Some(data.len() as u64) {
        return Err(format("truncated"));
    }
    if crc32fast::hash(data) != crc {
        return Err(format("checksum mismatch"));
    }
    let people = u32::try_from(people).map_err(|_| format("too many persons"))?;
    let (head, data) = data.split_at(lengths[0] as usize);
    let (persons, rest) = data.split_at(lengths[1] as usize);
    let header: Header = postcard::from_bytes(head).map_err(format)?;
    let codes: Vec<&str> = region.districts.iter().map(|d| d.code.as_str()).collect();
    if header.region != codes {
        return Err(SavedError::Region);
    }
    if header.lists != lists() {
        return Err(SavedError::Lists);
    }
    let n = codes.len();
    let mut agg = Aggregator::new(n, now_micros);
    std::thread::scope(|scope| {
        let persons = scope.spawn(move || decode_persons(persons, n));
        let rest =
            RestSeed(&mut agg, people).deserialize(&mut postcard::Deserializer::from_bytes(rest));
        let (ids, persons) = persons
            .join()
            .map_err(|_| format("decoding the persons panicked"))??;
        rest.map_err(format)?;
        if persons.len() != people as usize {
            return Err(format("the persons are not as many as the file says"));
        }
        agg.ids = ids;
        agg.persons = persons;
        Ok(())
    })?;
    if agg.horizon > minute_of(now_micros) - super::TREND_MINUTES {
        return Err(SavedError::Future);
    }
    agg.advance(now_micros);
    agg.changed = true;
    Ok((agg, header))
}

/// The aggregator being made at start: from the saved file when there is a
/// readable one, which the store then checks against the database.
pub struct Starting {
    pub agg: Aggregator,
    resume: Option<Resume>,
    districts: usize,
    now_micros: i64,
}

impl Starting {
    /// Reads the file beside `database`; a missing or unusable one means
    /// starting from nothing (and says why in the log).
    pub fn load(database: &Path, region: &Region, now_micros: i64) -> Starting {
        let path = path_for(database);
        let districts = region.districts.len();
        let started = std::time::Instant::now();
        let (agg, resume) = match read(&path, region, now_micros) {
            Ok(Some((agg, header))) => {
                tracing::info!(
                    events = header.events,
                    ms = started.elapsed().as_millis() as u64,
                    "read the saved figures"
                );
                let resume = Resume {
                    token: header.token,
                    next_seq: header.next_seq,
                    events: header.events,
                };
                (agg, Some(resume))
            }
            Ok(None) => (Aggregator::new(districts, now_micros), None),
            Err(why) => {
                tracing::warn!(path = %path.display(), %why, "the saved figures are not used; replaying every event");
                (Aggregator::new(districts, now_micros), None)
            }
        };
        Starting {
            agg,
            resume,
            districts,
            now_micros,
        }
    }
}

impl Replay for Starting {
    fn resume(&self) -> Option<&Resume> {
        self.resume.as_ref()
    }

    fn discard(&mut self) {
        self.agg = Aggregator::new(self.districts, self.now_micros);
        self.resume = None;
    }

    fn apply(&mut self, event: Event) {
        self.agg.apply(event);
    }
}

/// Writes the file whole or not at all: a temporary file, synced, renamed
/// over the last one, and the folder synced.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), SavedError> {
    let temporary = path.with_extension("aggregate.partial");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Reads and decodes the file at `path`; `Ok(None)` when there is none.
pub fn read(
    path: &Path,
    region: &Region,
    now_micros: i64,
) -> Result<Option<(Aggregator, Header)>, SavedError> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes, region, now_micros).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

// The parts: the aggregator's fields in a fixed order. The large collections
// are written from the live maps and read straight into new ones (sized
// once), never through an intermediate copy.

/// Every person, in number order: id, kinds seen, kinds seen per district,
/// latest assessment.
struct Persons<'a>(&'a Aggregator);

type PersonIn<'a> = (&'a str, u8, Districts, Option<(i64, &'a str, u8, u8)>);

impl Serialize for Persons<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let agg = self.0;
        s.collect_seq(agg.persons.iter().enumerate().map(|(n, p)| {
            (
                agg.ids.get(n as u32),
                p.flags,
                &p.districts[..],
                p.assessment
                    .as_ref()
                    .map(|a| (a.ts, &*a.id, a.district, a.value.index() as u8)),
            )
        }))
    }
}

fn decode_persons<'a>(
    bytes: &'a [u8],
    districts: usize,
) -> Result<(Interner, Vec<Person>), SavedError> {
    let district = |d: u8| known_district::<postcard::Error>(d, districts);
    let mut state: (Vec<&'a str>, Vec<Person>) = (Vec::new(), Vec::new());
    let seed = Each {
        state: &mut state,
        reserve: |(ids, persons): &mut (Vec<&'a str>, Vec<Person>), len| {
            ids.reserve_exact(len);
            persons.reserve_exact(len);
        },
        each: |(ids, persons): &mut (Vec<&'a str>, Vec<Person>),
               (id, flags, places, assessment): PersonIn<'a>| {
            for &(d, _) in &places.0 {
                district(d)?;
            }
            let assessment = match assessment {
                Some((ts, id, d, colour)) => Some(Latest {
                    ts,
                    id: id.into(),
                    district: district(d)?,
                    value: *Colour::ALL
                        .get(colour as usize)
                        .ok_or_else(|| <postcard::Error as de::Error>::custom("no such colour"))?,
                }),
                None => None,
            };
            ids.push(id);
            persons.push(Person {
                flags,
                districts: places.0,
                assessment,
            });
            Ok::<(), postcard::Error>(())
        },
        item: PhantomData,
        error: PhantomData,
    };
    seed.deserialize(&mut postcard::Deserializer::from_bytes(bytes))
        .map_err(format)?
        .map_err(format)?;
    let (ids, persons) = state;
    let ids = Interner::from_ids(&ids).ok_or_else(|| format("a person saved twice"))?;
    Ok((ids, persons))
}

/// The rest: totals, colours, categories, district figures, latest rate
/// observations, teams, teams' persons, trend minutes, the trend's horizon.
struct Rest<'a>(&'a Aggregator);

const REST_FIELDS: usize = 9;

type RateIn<'a> = (u32, u8, i64, &'a str, u8, bool);
type Rates = HashMap<(u32, NineRate), Latest<bool>, RandomState>;
type TeamIds = HashMap<(u8, Box<str>), u32, RandomState>;
type TeamPersons = HashSet<(u32, u32, bool), RandomState>;

impl Serialize for Rest<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let agg = self.0;
        let rates = agg
            .rates
            .iter()
            .map(|((p, rate), l)| (*p, rate.index() as u8, l.ts, &*l.id, l.district, l.value));
        let teams = agg.teams.iter().map(|t| (t.district, &*t.name, t.figures));
        let mut t = s.serialize_tuple(REST_FIELDS)?;
        t.serialize_element(&agg.city)?;
        t.serialize_element(&agg.colours)?;
        t.serialize_element(&agg.categories)?;
        t.serialize_element(&agg.districts)?;
        t.serialize_element(&Seq(rates))?;
        t.serialize_element(&Seq(teams))?;
        t.serialize_element(&agg.team_persons)?;
        t.serialize_element(&agg.minutes)?;
        t.serialize_element(&agg.horizon)?;
        t.end()
    }
}

/// An iterator written as a sequence (its length is exact).
struct Seq<I>(I);

impl<I> Serialize for Seq<I>
where
    I: Iterator + ExactSizeIterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// Reads the rest into the aggregator; the persons (read on another thread)
/// are this many.
struct RestSeed<'a>(&'a mut Aggregator, u32);

impl<'de> DeserializeSeed<'de> for RestSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_tuple(REST_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for RestSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a saved aggregator's figures")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let RestSeed(agg, people) = self;
        let n = agg.districts.len();
        let district = |d: u8| known_district::<A::Error>(d, n);
        agg.city = next(&mut seq)?;
        agg.colours = next(&mut seq)?;
        agg.categories = next(&mut seq)?;
        let districts: Vec<DistrictFigures> = next(&mut seq)?;
        if districts.len() != n {
            return Err(de::Error::custom("district figures of another region"));
        }
        agg.districts = districts;

        let reserve = |rates: &mut &mut Rates, len| rates.reserve(len);
        next_each(
            &mut seq,
            &mut &mut agg.rates,
            reserve,
            |rates, (p, rate, ts, id, d, value): RateIn<'de>| {
                let rate = *NineRate::ALL
                    .get(rate as usize)
                    .ok_or_else(|| de::Error::custom("no such rate"))?;
                if p >= people {
                    return Err(de::Error::custom("a rate of no saved person"));
                }
                let latest = Latest {
                    ts,
                    id: id.into(),
                    district: district(d)?,
                    value,
                };
                rates.insert((p, rate), latest);
                Ok(())
            },
        )?;

        let mut teams = (&mut agg.teams, &mut agg.team_ids);
        let reserve =
            |(teams, _): &mut (&mut Vec<Team>, &mut TeamIds), len| teams.reserve_exact(len);
        next_each(
            &mut seq,
            &mut teams,
            reserve,
            |(teams, team_ids), (d, name, figures): (u8, &'de str, TeamFigures)| {
                let t = teams.len() as u32;
                let name: Box<str> = name.into();
                if team_ids.insert((district(d)?, name.clone()), t).is_some() {
                    return Err(de::Error::custom("a team saved twice"));
                }
                teams.push(Team {
                    district: d,
                    name,
                    figures,
                });
                Ok(())
            },
        )?;

        let known = agg.teams.len() as u32;
        let reserve = |pairs: &mut &mut TeamPersons, len| pairs.reserve(len);
        next_each(
            &mut seq,
            &mut &mut agg.team_persons,
            reserve,
            |team_persons, (t, p, served): (u32, u32, bool)| {
                if t >= known || p >= people {
                    return Err(de::Error::custom(
                        "a team's person of no saved team or person",
                    ));
                }
                team_persons.insert((t, p, served));
                Ok(())
            },
        )?;

        let minutes: BTreeMap<i64, Vec<u64>> = next(&mut seq)?;
        if minutes.values().any(|per| per.len() != n) {
            return Err(de::Error::custom("trend minutes of another region"));
        }
        agg.minutes = minutes;
        agg.horizon = next(&mut seq)?;
        Ok(())
    }
}

/// `d`, if it is one of the region's `districts`.
fn known_district<E: de::Error>(d: u8, districts: usize) -> Result<u8, E> {
    if (d as usize) < districts {
        Ok(d)
    } else {
        Err(E::custom(format_args!("district {d} out of range")))
    }
}

fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(seq: &mut A) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom("the saved aggregator ends early"))
}

/// Reads the next element, a sequence, one item at a time into `state` by
/// `each`, after telling `reserve` its length.
fn next_each<'de, A, S, T, R, F>(
    seq: &mut A,
    state: &mut S,
    reserve: R,
    each: F,
) -> Result<(), A::Error>
where
    A: SeqAccess<'de>,
    T: Deserialize<'de>,
    R: FnOnce(&mut S, usize),
    F: FnMut(&mut S, T) -> Result<(), A::Error>,
{
    seq.next_element_seed(Each {
        state,
        reserve,
        each,
        item: PhantomData,
        error: PhantomData,
    })?
    .ok_or_else(|| de::Error::custom("the saved aggregator ends early"))?
}

struct Each<'s, S, R, F, T, E> {
    state: &'s mut S,
    reserve: R,
    each: F,
    item: PhantomData<fn() -> T>,
    error: PhantomData<fn() -> E>,
}

impl<'de, S, R, F, T, E> DeserializeSeed<'de> for Each<'_, S, R, F, T, E>
where
    T: Deserialize<'de>,
    R: FnOnce(&mut S, usize),
    F: FnMut(&mut S, T) -> Result<(), E>,
    E: fmt::Display,
{
    /// The outer error, carried out of the inner deserializer.
    type Value = Result<(), E>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S, R, F, T, E> Visitor<'de> for Each<'_, S, R, F, T, E>
where
    T: Deserialize<'de>,
    R: FnOnce(&mut S, usize),
    F: FnMut(&mut S, T) -> Result<(), E>,
    E: fmt::Display,
{
    type Value = Result<(), E>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        (self.reserve)(self.state, seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            if let Err(e) = (self.each)(self.state, item) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}

/// A person's places, read without a heap allocation.
struct Districts(SmallVec<[(u8, u8); 2]>);

impl<'de> Deserialize<'de> for Districts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Districts, D::Error> {
        struct Places;
        impl<'de> Visitor<'de> for Places {
            type Value = Districts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a person's districts")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Districts, A::Error> {
                let mut places = SmallVec::new();
                while let Some(place) = seq.next_element()? {
                    places.push(place);
                }
                Ok(Districts(places))
            }
        }
        d.deserialize_seq(Places)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::aggregate::properties::{build, event};

    fn header(region: &Region, events: u64) -> Header {
        Header {
            token: "a1b2".into(),
            region: region.districts.iter().map(|d| d.code.clone()).collect(),
            lists: lists(),
            next_seq: events as i64 + 1,
            events,
            saved_at: 0,
        }
    }

    /// Every part of the state, the private ones included, is the same.
    fn assert_same(a: &Aggregator, b: &Aggregator) {
        assert_eq!(a.city, b.city);
        assert_eq!(a.colours, b.colours);
        assert_eq!(a.categories, b.categories);
        assert_eq!(a.districts, b.districts);
        let teams = |x: &Aggregator| -> Vec<(u8, String, TeamFigures)> {
            x.teams
                .iter()
                .map(|t| (t.district, t.name.to_string(), t.figures))
                .collect()
        };
        assert_eq!(teams(a), teams(b));
        assert_eq!(a.team_persons, b.team_persons);
        assert_eq!(a.minutes, b.minutes);
        assert_eq!(a.horizon, b.horizon);
        assert_eq!(a.persons.len(), b.persons.len());
        for (n, (p, q)) in a.persons.iter().zip(&b.persons).enumerate() {
            assert_eq!(a.ids.get(n as u32), b.ids.get(n as u32));
            assert_eq!((p.flags, &p.districts), (q.flags, &q.districts));
            let latest = |l: &Option<Latest<Colour>>| {
                l.as_ref()
                    .map(|l| (l.ts, l.id.clone(), l.district, l.value))
            };
            assert_eq!(latest(&p.assessment), latest(&q.assessment));
        }
        type Observed = BTreeMap<(u32, NineRate), (i64, Box<str>, u8, bool)>;
        let rates = |x: &Aggregator| -> Observed {
            x.rates
                .iter()
                .map(|(k, l)| (*k, (l.ts, l.id.clone(), l.district, l.value)))
                .collect()
        };
        assert_eq!(rates(a), rates(b));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Saving, reading back and folding the rest equals folding it all.
        #[test]
        fn read_back_and_continued_equals_never_saved(
            raw in proptest::collection::vec(event(), 0..80),
            cut in any::<prop::sample::Index>(),
        ) {
            let region = Region::load("beijing").unwrap();
            let events: Vec<Event> = raw.into_iter().enumerate().map(|(i, r)| build(i, r)).collect();
            let (before, after) = events.split_at(cut.index(events.len() + 1));
            let mut live = Aggregator::new(region.districts.len(), 0);
            before.iter().cloned().for_each(|e| live.apply(e));
            let saved = header(&region, before.len() as u64);
            let bytes = encode(&live, &saved).unwrap();
            let (mut read, found) = decode(&bytes, &region, 0).unwrap();
            prop_assert_eq!(&found, &saved);
            assert_same(&read, &live);
            for e in after {
                live.apply(e.clone());
                read.apply(e.clone());
            }
            assert_same(&read, &live);
        }
    }

    fn saved_bytes(region: &Region) -> Vec<u8> {
        let mut agg = Aggregator::new(region.districts.len(), 0);
        for (i, raw) in [
            (1, 0, 1, 0, 0),
            (1, 0, 2, 1, 3),
            (2, 1, 3, 5, 4),
            (3, 2, 4, 3, 7),
        ]
        .into_iter()
        .enumerate()
        {
            agg.apply(build(i, raw));
        }
        encode(&agg, &header(region, 4)).unwrap()
    }

    #[test]
    fn a_damaged_or_foreign_file_is_refused() {
        let region = Region::load("beijing").unwrap();
        let bytes = saved_bytes(&region);
        assert!(decode(&bytes, &region, 0).is_ok());
        let why = |b: &[u8], r: &Region, now: i64| match decode(b, r, now) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        };
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            why(&flipped, &region, 0),
            "not a saved aggregator of this format: checksum mismatch"
        );
        assert_eq!(
            why(&bytes[..bytes.len() - 1], &region, 0),
            "not a saved aggregator of this format: truncated"
        );
        assert_eq!(
            why(&bytes[..10], &region, 0),
            "not a saved aggregator of this format: no signature"
        );
        let mut newer = bytes.clone();
        newer[16] = 4;
        assert_eq!(
            why(&newer, &region, 0),
            "not a saved aggregator of this format: version 4, this is 3"
        );
        let mut other = region.clone();
        other.districts[0].code = "999999".into();
        assert_eq!(why(&bytes, &other, 0), "saved for other districts");
        // Counted when a list had one colour less: its arrays mean otherwise.
        let fewer = Header {
            lists: lists().replace(",blue", ""),
            ..header(&region, 4)
        };
        assert_ne!(fewer.lists, lists());
        let agg = Aggregator::new(region.districts.len(), 0);
        assert_eq!(
            why(&encode(&agg, &fewer).unwrap(), &region, 0),
            "saved when the program's lists were other"
        );
        // Read an hour before it was saved: its trend window starts later.
        assert_eq!(
            why(&bytes, &region, -3_600_000_000),
            "saved at a later time than now"
        );
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let region = Region::load("beijing").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("weibing.duckdb"));
        assert_eq!(path.file_name().unwrap(), "weibing.aggregate");
        assert!(read(&path, &region, 0).unwrap().is_none());
        write(&path, b"old").unwrap();
        let bytes = saved_bytes(&region);
        write(&path, &bytes).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["weibing.aggregate"]);
        let (_, header) = read(&path, &region, 0).unwrap().unwrap();
        assert_eq!(header.events, 4);
    }
}
