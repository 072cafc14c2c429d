//! The events partner systems send, and the rules that decide which are stored.
//!
//! Decoders (NDJSON, JSON, CSV, Arrow) turn each record into a [`RawEvent`];
//! [`validate`] turns it into an [`Event`] or a reason naming the field.

use chrono::DateTime;

use crate::model::{Category, Colour, Detail, Event, Kind, Rate, Stage};
use crate::region::Region;
use crate::time;

/// How far ahead of the server clock an event's time may be.
pub const MAX_FUTURE_MICROS: i64 = 5 * time::MICROS_PER_MINUTE;

/// One field as a decoder found it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RawValue {
    #[default]
    Missing,
    Str(String),
    Bool(bool),
    /// Present, but of a type no field takes here (a number, an array, …).
    Other(&'static str),
}

impl RawValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            RawValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A record before validation: the fields the program defines, as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEvent {
    pub id: RawValue,
    pub ts: RawValue,
    pub kind: RawValue,
    pub district: RawValue,
    pub person: RawValue,
    pub channel: RawValue,
    pub colour: RawValue,
    pub team: RawValue,
    pub category: RawValue,
    pub stage: RawValue,
    pub rate: RawValue,
    pub value: RawValue,
}

/// The field names, in the order a CSV header or an Arrow schema may carry them.
pub const FIELDS: [&str; 12] = [
    "id", "ts", "kind", "district", "person", "channel", "colour", "team", "category", "stage",
    "rate", "value",
];

/// Fields every event needs; a CSV header without them is refused whole.
pub const REQUIRED: [&str; 5] = ["id", "ts", "kind", "district", "person"];

impl RawEvent {
    /// The field called `name`, if the program defines one.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut RawValue> {
        let i = FIELDS.iter().position(|f| *f == name)?;
        self.fields_mut().into_iter().nth(i)
    }

    /// Every field, in the order of [`FIELDS`].
    fn fields(&self) -> [&RawValue; FIELDS.len()] {
        [
            &self.id,
            &self.ts,
            &self.kind,
            &self.district,
            &self.person,
            &self.channel,
            &self.colour,
            &self.team,
            &self.category,
            &self.stage,
            &self.rate,
            &self.value,
        ]
    }

    /// Every field, in the order of [`FIELDS`].
    fn fields_mut(&mut self) -> [&mut RawValue; FIELDS.len()] {
        [
            &mut self.id,
            &mut self.ts,
            &mut self.kind,
            &mut self.district,
            &mut self.person,
            &mut self.channel,
            &mut self.colour,
            &mut self.team,
            &mut self.category,
            &mut self.stage,
            &mut self.rate,
            &mut self.value,
        ]
    }

    /// The id, when it is a usable string (for error reports and duplicate checks).
    pub fn id_text(&self) -> Option<&str> {
        self.id.as_str()
    }
}

/// A JSON object straight into its fields, without building a JSON value
/// first (the NDJSON hot path). Only an object is accepted; a repeated field
/// or anything else fails, and the decoder then describes the record from a
/// JSON value.
impl<'de> serde::Deserialize<'de> for RawEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RawEvent, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = RawEvent;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawEvent, A::Error> {
                let mut raw = RawEvent::default();
                let mut seen = [false; FIELDS.len()];
                while let Some(Key(key)) = map.next_key::<Key>()? {
                    match key {
                        Some(i) if seen[i] => {
                            return Err(serde::de::Error::custom("a repeated field"));
                        }
                        Some(i) => {
                            seen[i] = true;
                            *raw.fields_mut().into_iter().nth(i).expect("a field") =
                                map.next_value()?;
                        }
                        None => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(raw)
            }
        }
        d.deserialize_map(Fields)
    }
}

/// A key of an event object: its place in [`FIELDS`], or `None` for a key
/// the program does not define (ignored).
struct Key(Option<usize>);

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(FIELDS.iter().position(|f| *f == v)))
            }
        }
        d.deserialize_str(Name)
    }
}

impl<'de> serde::Deserialize<'de> for RawValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RawValue, D::Error> {
        struct Any;
        impl<'de> serde::de::Visitor<'de> for Any {
            type Value = RawValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawValue, E> {
                Ok(RawValue::Str(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<RawValue, E> {
                Ok(RawValue::Str(v))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawValue, E> {
                Ok(RawValue::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<RawValue, E> {
                Ok(RawValue::Other("a number"))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<RawValue, E> {
                Ok(RawValue::Other("a number"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<RawValue, E> {
                Ok(RawValue::Other("a number"))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<RawValue, E> {
                Ok(RawValue::Other("null"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawValue, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(RawValue::Other("an array"))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawValue, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(RawValue::Other("an object"))
            }
        }
        d.deserialize_any(Any)
    }
}

impl RawEvent {
    /// The fields as a JSON object (the absent ones left out): how a record
    /// without text of its own (an Arrow row) is kept when rejected.
    pub fn to_json(&self) -> String {
        let mut shown = serde_json::Map::new();
        for (name, field) in FIELDS.iter().zip(self.fields()) {
            let value = match field {
                RawValue::Missing => continue,
                RawValue::Str(s) => serde_json::Value::String(s.clone()),
                RawValue::Bool(b) => serde_json::Value::Bool(*b),
                RawValue::Other(kind) => serde_json::Value::String(format!("({kind})")),
            };
            shown.insert(name.to_string(), value);
        }
        serde_json::Value::Object(shown).to_string()
    }
}

/// An event's shape once its rules are checked, before its text is moved
/// out of the record.
enum Shape {
    /// Whether a channel was sent.
    Scan(bool),
    Assess(Colour),
    Enroll,
    Service(Category),
    Train(Stage),
    Outcome(Rate, bool),
}

/// A team's name at most: it is sent to every screen each tick.
pub const MAX_TEAM_CHARS: usize = 64;

/// Checks every rule; on failure the reason names each bad field, and `raw`
/// is as it was (it is kept as rejected). On success the event's text (id,
/// person, channel, team) is moved out of `raw`, not copied.
pub fn validate(raw: &mut RawEvent, region: &Region, now_micros: i64) -> Result<Event, String> {
    let mut errors: Vec<String> = Vec::new();
    let id = impersonal(text(&raw.id, "id", 1, 128, &mut errors), "id", &mut errors).is_some();
    let ts = timestamp(&raw.ts, now_micros, &mut errors);
    let kind = choose::<Kind>(&raw.kind, "kind", Kind::parse, Kind::expected, &mut errors);
    let district = match string(&raw.district, "district", &mut errors) {
        Some(d) => match region.district_index(d) {
            Some(i) => Some(i),
            None => {
                errors.push(format!(
                    "district: {d:?} is not a district of the region; send its code (e.g. {}) or its exact name (e.g. {})",
                    region.districts[0].code, region.districts[0].name
                ));
                None
            }
        },
        None => None,
    };
    let person = person(&raw.person, &mut errors);

    let shape = kind.and_then(|kind| match kind {
        Kind::Scan => {
            let channel = match &raw.channel {
                RawValue::Missing => false,
                RawValue::Str(s) if s.is_empty() => false,
                other => impersonal(text(other, "channel", 1, 128, &mut errors), "channel", &mut errors)
                    .is_some(),
            };
            Some(Shape::Scan(channel))
        }
        Kind::Assess => choose(
            &raw.colour,
            "colour",
            Colour::parse,
            Colour::expected,
            &mut errors,
        )
        .map(Shape::Assess),
        Kind::Enroll => impersonal(text(&raw.team, "team", 1, MAX_TEAM_CHARS, &mut errors), "team", &mut errors)
            .map(|_| Shape::Enroll),
        Kind::Service => {
            let team = impersonal(text(&raw.team, "team", 1, MAX_TEAM_CHARS, &mut errors), "team", &mut errors);
            let category = choose(
                &raw.category,
                "category",
                Category::parse,
                Category::expected,
                &mut errors,
            );
            team?;
            category.map(Shape::Service)
        }
        Kind::Train => choose(
            &raw.stage,
            "stage",
            Stage::parse,
            Stage::expected,
            &mut errors,
        )
        .map(Shape::Train),
        Kind::Outcome => {
            let rate = choose(&raw.rate, "rate", Rate::parse, Rate::accepted, &mut errors)
                .filter(|rate| {
                    let management = *rate == Rate::Management;
                    if management {
                        errors.push(
                            "rate: management (管理率) is not observed on a person: it is managed ÷ \
                             target population, counted from enroll events; send an enroll event"
                                .to_string(),
                        );
                    }
                    !management
                });
            let value = boolean(&raw.value, &mut errors);
            Some(Shape::Outcome(rate?, value?))
        }
    });

    match (id, ts, district, person, shape) {
        (true, Some(ts), Some(district), true, Some(shape)) if errors.is_empty() => {
            let detail = match shape {
                Shape::Scan(channel) => Detail::Scan {
                    channel: channel.then(|| take_text(&mut raw.channel)),
                },
                Shape::Assess(colour) => Detail::Assess { colour },
                Shape::Enroll => Detail::Enroll {
                    team: take_text(&mut raw.team),
                },
                Shape::Service(category) => Detail::Service {
                    team: take_text(&mut raw.team),
                    category,
                },
                Shape::Train(stage) => Detail::Train { stage },
                Shape::Outcome(rate, value) => Detail::Outcome { rate, value },
            };
            Ok(Event {
                id: take_text(&mut raw.id),
                ts,
                district,
                person: take_text(&mut raw.person),
                detail,
            })
        }
        _ => Err(errors.join("; ")),
    }
}

/// Moves an event's text back into the record it was validated from
/// (the inverse of [`validate`]'s moves), for a valid record that is then
/// refused after all (a district's new team beyond the bound).
pub fn give_back(raw: &mut RawEvent, event: Event) {
    raw.id = RawValue::Str(event.id);
    raw.person = RawValue::Str(event.person);
    match event.detail {
        Detail::Scan {
            channel: Some(channel),
        } => raw.channel = RawValue::Str(channel),
        Detail::Enroll { team } | Detail::Service { team, .. } => raw.team = RawValue::Str(team),
        _ => {}
    }
}

/// The text of a field [`validate`] found to be text, moved out.
fn take_text(value: &mut RawValue) -> String {
    match std::mem::take(value) {
        RawValue::Str(s) => s,
        _ => unreachable!("validated as text"),
    }
}

fn string<'a>(value: &'a RawValue, field: &str, errors: &mut Vec<String>) -> Option<&'a str> {
    match value {
        RawValue::Str(s) => Some(s),
        RawValue::Missing => {
            errors.push(format!("{field}: missing"));
            None
        }
        RawValue::Bool(_) => {
            errors.push(format!("{field}: must be a string, got a boolean"));
            None
        }
        RawValue::Other(kind) => {
            errors.push(format!("{field}: must be a string, got {kind}"));
            None
        }
    }
}

fn text<'a>(
    value: &'a RawValue,
    field: &str,
    min: usize,
    max: usize,
    errors: &mut Vec<String>,
) -> Option<&'a str> {
    let s = string(value, field, errors)?;
    let chars = s.chars().count();
    if chars < min || chars > max {
        errors.push(format!(
            "{field}: must be {min} to {max} characters, got {chars}"
        ));
        return None;
    }
    Some(s)
}

fn choose<T>(
    value: &RawValue,
    field: &str,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
    errors: &mut Vec<String>,
) -> Option<T> {
    let s = string(value, field, errors)?;
    match parse(s) {
        Some(v) => Some(v),
        None => {
            errors.push(format!("{}, got {s:?}", expected()));
            None
        }
    }
}

fn timestamp(value: &RawValue, now_micros: i64, errors: &mut Vec<String>) -> Option<i64> {
    let s = string(value, "ts", errors)?;
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => {
            let micros = time::beijing_micros(&t);
            if micros > now_micros + MAX_FUTURE_MICROS {
                errors.push(format!(
                    "ts: {s} is more than 5 minutes ahead of the server clock ({})",
                    time::rfc3339_secs(now_micros)
                ));
                None
            } else {
                Some(micros)
            }
        }
        Err(_) => {
            errors.push(format!(
                "ts: {s:?} is not an RFC 3339 time with an offset, e.g. 2017-06-28T10:59:58+08:00"
            ));
            None
        }
    }
}

fn boolean(value: &RawValue, errors: &mut Vec<String>) -> Option<bool> {
    match value {
        RawValue::Bool(b) => Some(*b),
        // CSV carries no types: its text true/false (or 1/0) is the boolean.
        RawValue::Str(s) if matches!(s.as_str(), "true" | "1") => Some(true),
        RawValue::Str(s) if matches!(s.as_str(), "false" | "0") => Some(false),
        RawValue::Missing => {
            errors.push("value: missing (true or false)".to_string());
            None
        }
        RawValue::Str(s) => {
            errors.push(format!("value: must be true or false, got {s:?}"));
            None
        }
        RawValue::Other(kind) => {
            errors.push(format!("value: must be true or false, got {kind}"));
            None
        }
    }
}

/// Raw personal identifiers never enter the store: the person must be a
/// pseudonym. Whether it is one.
fn person(value: &RawValue, errors: &mut Vec<String>) -> bool {
    impersonal(text(value, "person", 6, 128, errors), "person", errors).is_some()
}

/// `found`, unless it looks like a phone or identity-card number (then
/// the field is named, the value never echoed: it may be a real number).
fn impersonal<'a>(
    found: Option<&'a str>,
    field: &str,
    errors: &mut Vec<String>,
) -> Option<&'a str> {
    let s = found?;
    let Some(kind) = crate::personal::identifier(s) else {
        return Some(s);
    };
    let instead = match field {
        "person" => "send the pseudonymous person id instead",
        "id" => "send the partner system's own event id instead",
        _ => "no personal numbers here",
    };
    errors.push(format!("{field}: looks like {kind}; {instead}"));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region::load("beijing").unwrap()
    }

    fn now() -> i64 {
        time::beijing_micros(&DateTime::parse_from_rfc3339("2017-06-28T11:00:00+08:00").unwrap())
    }

    fn raw(pairs: &[(&str, &str)]) -> RawEvent {
        let mut r = RawEvent::default();
        for (k, v) in pairs {
            *r.field_mut(k).unwrap() = RawValue::Str(v.to_string());
        }
        r
    }

    fn base(kind: &str) -> Vec<(&'static str, String)> {
        vec![
            ("id", "e-1".into()),
            ("ts", "2017-06-28T10:59:58+08:00".into()),
            ("kind", kind.into()),
            ("district", "110106".into()),
            ("person", "p-7f3a9c21".into()),
        ]
    }

    fn check(kind: &str, extra: &[(&str, &str)]) -> Result<Event, String> {
        let base = base(kind);
        let mut pairs: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs.extend_from_slice(extra);
        validate(&mut raw(&pairs), &region(), now())
    }

    /// A valid record given its text back reads as it was sent.
    #[test]
    fn an_event_gives_its_text_back_to_its_record() {
        let region = Region::load("beijing").unwrap();
        for line in [
            r#"{"id":"s","ts":"2017-06-28T10:00:00+08:00","kind":"scan","district":"110106","person":"p-00000001","channel":"hall"}"#,
            r#"{"id":"e","ts":"2017-06-28T10:00:00+08:00","kind":"enroll","district":"110106","person":"p-00000001","team":"t-1"}"#,
            r#"{"id":"v","ts":"2017-06-28T10:00:00+08:00","kind":"service","district":"110106","person":"p-00000001","team":"t-1","category":"health_management"}"#,
        ] {
            let sent: RawEvent = serde_json::from_str(line).unwrap();
            let mut raw = sent.clone();
            let event = validate(&mut raw, &region, 1_498_651_200_000_000).unwrap();
            assert_ne!(raw, sent);
            give_back(&mut raw, event);
            assert_eq!(raw, sent);
        }
    }

    #[test]
    fn a_team_name_is_at_most_64_characters() {
        let base = [
            ("id", "e-team"),
            ("ts", "2017-06-28T03:00:03Z"),
            ("kind", "enroll"),
            ("district", "110106"),
            ("person", "p-00000001"),
        ];
        let with_team = |team: &str| {
            let mut pairs = base.to_vec();
            pairs.push(("team", team));
            validate(&mut raw(&pairs), &region(), now())
        };
        assert!(with_team(&"队".repeat(64)).is_ok());
        assert_eq!(
            with_team(&"队".repeat(65)).unwrap_err(),
            "team: must be 1 to 64 characters, got 65"
        );
    }

    #[test]
    fn eighteen_bytes_cut_inside_a_character_are_no_identity_card() {
        // Found by the fuzzer: 15 ASCII bytes and a 3-byte character.
        assert_eq!(crate::personal::identifier("000000000000000区"), None);
        assert_eq!(
            crate::personal::identifier("12345678901234567X"),
            Some("an 18-character resident identity card number")
        );
    }

    #[test]
    fn a_scan_by_district_name_is_stored_under_its_code() {
        let mut r = raw(&[
            ("id", "e-000002"),
            ("ts", "2017-06-28T03:00:03Z"),
            ("kind", "assess"),
            ("district", "丰台区"),
            ("person", "p-7f3a9c21"),
            ("colour", "粉色"),
        ]);
        let e = validate(&mut r.clone(), &region(), now()).unwrap();
        assert_eq!(e.district, 3);
        assert_eq!(
            e.detail,
            Detail::Assess {
                colour: Colour::Pink
            }
        );
        assert_eq!(time::rfc3339_secs(e.ts), "2017-06-28T11:00:03+08:00");
        r.colour = RawValue::Str("purple".into());
        assert_eq!(
            validate(&mut r.clone(), &region(), now()).unwrap_err(),
            format!("{}, got \"purple\"", Colour::expected())
        );
    }

    #[test]
    fn every_rule_names_its_field() {
        let bad_kind = format!("{}, got \"visit\"", Kind::expected());
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![("ts", "2017-06-28 10:59:58")],
                "ts: \"2017-06-28 10:59:58\" is not an RFC 3339 time with an offset, e.g. 2017-06-28T10:59:58+08:00",
            ),
            (
                vec![("ts", "2017-06-28T11:05:01+08:00")],
                "ts: 2017-06-28T11:05:01+08:00 is more than 5 minutes ahead of the server clock (2017-06-28T11:00:00+08:00)",
            ),
            (vec![("kind", "visit")], &bad_kind),
            (
                vec![("district", "110100")],
                "district: \"110100\" is not a district of the region; send its code (e.g. 110101) or its exact name (e.g. 东城区)",
            ),
            (
                vec![("person", "p-1")],
                "person: must be 6 to 128 characters, got 3",
            ),
            (
                vec![("person", "13812345678")],
                "person: looks like an 11-digit mobile phone number; send the pseudonymous person id instead",
            ),
            (
                vec![("person", "+86 138-1234-5678")],
                "person: looks like an 11-digit mobile phone number; send the pseudonymous person id instead",
            ),
            (
                vec![("person", "11010619900101123X")],
                "person: looks like an 18-character resident identity card number; send the pseudonymous person id instead",
            ),
            (vec![("id", "")], "id: must be 1 to 128 characters, got 0"),
        ];
        for (overrides, expected) in cases {
            let mut pairs: Vec<(&str, String)> = base("scan");
            for (k, v) in &overrides {
                pairs.retain(|(name, _)| name != k);
                pairs.push((k, v.to_string()));
            }
            let r = raw(&pairs
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>());
            assert_eq!(
                validate(&mut r.clone(), &region(), now()).unwrap_err(),
                expected
            );
        }
        // Exactly 5 minutes ahead is still accepted.
        let mut pairs = base("scan");
        pairs[1].1 = "2017-06-28T11:05:00+08:00".into();
        let r = raw(&pairs
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>());
        assert!(validate(&mut r.clone(), &region(), now()).is_ok());
    }

    /// A bad record stays as sent (it is kept as rejected); a good one
    /// gives its text to the event.
    #[test]
    fn a_rejected_record_is_left_as_sent_and_a_valid_one_gives_up_its_text() {
        let mut sent = raw(&[
            ("id", "e-9"),
            ("ts", "2017-06-28T10:59:58+08:00"),
            ("kind", "service"),
            ("district", "110105"),
            ("person", "p-000009"),
            ("team", "t-3"),
            ("category", "treatment"),
        ]);
        let mut bad = sent.clone();
        bad.category = RawValue::Str("sauna".into());
        let before = bad.clone();
        assert!(validate(&mut bad, &region(), now()).is_err());
        assert_eq!(bad, before);
        let e = validate(&mut sent, &region(), now()).unwrap();
        assert_eq!((e.id.as_str(), e.person.as_str()), ("e-9", "p-000009"));
        assert_eq!(
            e.detail,
            Detail::Service {
                team: "t-3".into(),
                category: Category::Treatment
            }
        );
        assert_eq!(
            (&sent.id, &sent.person, &sent.team),
            (&RawValue::Missing, &RawValue::Missing, &RawValue::Missing)
        );
        assert_eq!(sent.category, RawValue::Str("treatment".into()));
    }

    #[test]
    fn kind_specific_fields_are_required() {
        assert_eq!(check("assess", &[]).unwrap_err(), "colour: missing");
        assert_eq!(check("enroll", &[]).unwrap_err(), "team: missing");
        assert_eq!(
            check("service", &[("team", "ft-youanmen-hypertension")]).unwrap_err(),
            "category: missing"
        );
        assert_eq!(
            check("train", &[("stage", "graduated")]).unwrap_err(),
            format!("{}, got \"graduated\"", Stage::expected())
        );
        assert_eq!(
            check("outcome", &[("rate", "control"), ("value", "yes")]).unwrap_err(),
            "value: must be true or false, got \"yes\""
        );
        assert_eq!(
            check("outcome", &[("rate", "control"), ("value", "true")])
                .unwrap()
                .detail,
            Detail::Outcome {
                rate: Rate::Control,
                value: true
            }
        );
        assert_eq!(
            check(
                "service",
                &[("team", "t-1"), ("category", "health_management")]
            )
            .unwrap()
            .detail,
            Detail::Service {
                team: "t-1".into(),
                category: Category::HealthManagement
            }
        );
    }

    #[test]
    fn several_bad_fields_are_all_named() {
        let mut r = raw(&[("id", "e-9"), ("kind", "scan"), ("person", "p-12345678")]);
        r.district = RawValue::Other("a number");
        assert_eq!(
            validate(&mut r.clone(), &region(), now()).unwrap_err(),
            "ts: missing; district: must be a string, got a number"
        );
    }

    #[test]
    fn a_record_without_text_is_kept_as_its_fields() {
        let mut r = RawEvent::default();
        *r.field_mut("id").unwrap() = RawValue::Str("e-1".into());
        *r.field_mut("value").unwrap() = RawValue::Bool(true);
        *r.field_mut("person").unwrap() = RawValue::Other("a number");
        assert!(r.field_mut("extra").is_none());
        assert_eq!(
            r.to_json(),
            r#"{"id":"e-1","person":"(a number)","value":true}"#
        );
    }
}
