//! A body into what to store and what to answer: decoded and validated
//! record by record (`POST /api/v1/events` is `http::ingest`).

use std::borrow::Cow;
use std::collections::HashSet;

use foldhash::quality::RandomState;
use serde::Serialize;

use super::bounds::Bounds;
use super::decode::{self, DecodeError};
use super::event::{self, RawEvent};
use super::teams::Teams;
use crate::model::Format;
use crate::personal;
use crate::store::{Batch, Rejected};
use crate::time;

/// Errors listed in an answer at most; every rejected record is stored anyway.
pub const MAX_ERRORS: usize = 100;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Answer {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    /// Of the rejected, how many were counted but not kept whole (beyond the
    /// first of the request, or the key's allowance for the day: [`crate::ingest::bounds`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub not_kept: usize,
    pub errors: Vec<LineError>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub error: String,
}

/// A body refused whole, and why (it is kept as one rejected record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It cannot be split into records.
    BadBody(String),
    /// Its records would hold more text than the bound.
    TooMuchText(String),
}

/// The refused body's batch is boxed: the common answer stays small.
type Prepared = Result<(Batch, Answer), Box<(Batch, Refusal)>>;

/// Decodes and validates a body into what to store and what to answer,
/// record by record as it is read: a valid record's fields move into its
/// event, and its text is copied only if it is rejected.
pub fn prepare(
    bytes: &[u8],
    format: Format,
    region: &crate::region::Region,
    source: &str,
    bounds: &Bounds,
    teams: &Teams,
) -> Prepared {
    let mut check = Check {
        region,
        teams,
        now: time::now_beijing_micros(),
        events: Vec::new(),
        rejected: Vec::new(),
        keep: bounds.rejected_per_request,
        not_kept: 0,
        errors: Vec::new(),
    };
    let decoded = decode::decode_each(
        format,
        bytes,
        bounds.max_decoded_bytes,
        &mut |line, raw, fields| check.record(line, raw, fields),
    );
    if let Err(e) = decoded {
        return Err(Box::new(refused(bytes, format, source, &e)));
    }
    let Check {
        mut events,
        rejected,
        not_kept,
        errors,
        ..
    } = check;
    // An id the request repeats is stored once: the first one wins.
    let before = events.len();
    let mut ids: HashSet<&str, RandomState> =
        HashSet::with_capacity_and_hasher(before, RandomState::default());
    let first: Vec<bool> = events.iter().map(|e| ids.insert(e.id.as_str())).collect();
    drop(ids);
    let mut keep = first.into_iter();
    events.retain(|_| keep.next().unwrap_or(false));
    let repeats = before - events.len();
    let answer = Answer {
        accepted: 0,
        duplicates: repeats,
        rejected: rejected.len() + not_kept,
        not_kept,
        errors,
    };
    Ok((
        Batch {
            source: source.to_string(),
            format,
            events,
            rejected,
            not_kept,
            repeats,
        },
        answer,
    ))
}

/// The events of a body, and its records rejected, as they are checked.
struct Check<'r> {
    region: &'r crate::region::Region,
    teams: &'r Teams,
    now: i64,
    events: Vec<crate::model::Event>,
    /// The first `keep` rejected records...
    rejected: Vec<Rejected>,
    keep: usize,
    /// ...and how many more there were.
    not_kept: usize,
    /// The first [`MAX_ERRORS`], for the answer.
    errors: Vec<LineError>,
}

impl Check<'_> {
    /// Validates one record: a valid one becomes an event, any other is
    /// kept as sent (`raw`; an Arrow row's fields written out) with why.
    fn record(&mut self, line: u64, raw: Option<Cow<'_, str>>, fields: Result<RawEvent, String>) {
        let (reason, fields) = match fields {
            Ok(mut fields) => match event::validate(&mut fields, self.region, self.now) {
                Ok(event) => {
                    let admitted = event
                        .team()
                        .map_or(Ok(()), |t| self.teams.admit(self.region, event.district, t));
                    match admitted {
                        Ok(()) => {
                            self.events.push(event);
                            return;
                        }
                        Err(reason) => {
                            event::give_back(&mut fields, event);
                            (reason, Some(fields))
                        }
                    }
                }
                Err(reason) => (reason, Some(fields)),
            },
            Err(reason) => (reason, None),
        };
        let listed = self.errors.len() < MAX_ERRORS;
        let kept = self.rejected.len() < self.keep;
        if !(listed || kept) {
            // Counted only.
            self.not_kept += 1;
            return;
        }
        // Nothing kept about a refused record (the answer, the rejected
        // table, the ingest log, backups) holds a phone or identity-card
        // number: each is masked first (docs/privacy.md).
        let id = fields
            .as_ref()
            .and_then(|f| f.id_text())
            .map(|id| personal::mask(id).into_owned());
        let reason = personal::mask(&reason).into_owned();
        if listed {
            self.errors.push(LineError {
                line,
                id: id.clone(),
                error: reason.clone(),
            });
        }
        if !kept {
            self.not_kept += 1;
            return;
        }
        let raw = raw
            .map(|raw| personal::mask(&raw).into_owned())
            .or_else(|| {
                fields
                    .as_ref()
                    .map(|f| personal::mask(&f.to_json()).into_owned())
            })
            .unwrap_or_default();
        self.rejected.push(Rejected {
            line,
            event_id: id,
            reason,
            raw,
        });
    }
}

/// A body that cannot be split into records: kept whole as one rejected
/// record, and the request refused.
fn refused(bytes: &[u8], format: Format, source: &str, e: &DecodeError) -> (Batch, Refusal) {
    let raw = match (format, e) {
        (Format::Arrow, DecodeError::TooMuchText(..)) => format!(
            "({} bytes of an Arrow stream whose records would hold more text than the limit)",
            bytes.len()
        ),
        (Format::Arrow, _) => format!(
            "({} bytes of binary data that are not a readable Arrow stream)",
            bytes.len()
        ),
        _ => personal::mask(&String::from_utf8_lossy(bytes)).into_owned(),
    };
    let message = match e {
        DecodeError::MissingColumns(_) | DecodeError::TooMuchText(..) => e.to_string(),
        DecodeError::Body(m) => m.clone(),
    };
    let message = personal::mask(&message).into_owned();
    let batch = Batch {
        source: source.to_string(),
        format,
        events: Vec::new(),
        rejected: vec![Rejected {
            line: 0,
            event_id: None,
            reason: message.clone(),
            raw,
        }],
        not_kept: 0,
        repeats: 0,
    };
    let error = match e {
        DecodeError::TooMuchText(..) => Refusal::TooMuchText(message),
        _ => Refusal::BadBody(message),
    };
    (batch, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;

    fn no_teams(region: &Region) -> Teams {
        Teams::new(
            Bounds::default().teams_per_district,
            region.districts.len(),
            [],
        )
    }

    /// NDJSON is checked as it is read: each rejected line keeps its text
    /// as sent (a line that is not UTF-8 with the bad bytes replaced), the
    /// valid ones become events in order, a repeated id counts once.
    #[test]
    fn ndjson_lines_are_checked_as_read_and_the_rejected_kept_as_sent() {
        let region = Region::load("beijing").unwrap();
        let scan = |id: &str, district: &str| {
            format!(
                r#"{{"id":"{id}","ts":"2026-11-30T09:00:00+08:00","kind":"scan","district":"{district}","person":"p-0000000{}"}}"#,
                id.len()
            )
        };
        let mut body = Vec::new();
        body.extend(format!("{}\r\n", scan("a", "110106")).bytes());
        body.extend(b"\n   \n");
        body.extend(format!("{}\r\n", scan("bb", "110100")).bytes());
        body.extend(b"{\"id\":\"c\xff\"}\n");
        body.extend(b"not json\n");
        body.extend(format!("{}\n", scan("a", "110108")).bytes());
        body.extend(scan("dddd", "110108").bytes());
        let (batch, answer) = prepare(
            &body,
            Format::Ndjson,
            &region,
            "k",
            &Bounds::default(),
            &no_teams(&region),
        )
        .unwrap();
        let ids: Vec<&str> = batch.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "dddd"]);
        assert_eq!(
            batch.events[1].district,
            region.district_index("110108").unwrap()
        );
        assert_eq!(
            (batch.repeats, answer.duplicates, answer.rejected),
            (1, 1, 3)
        );
        let rejected: Vec<(u64, Option<&str>, &str)> = batch
            .rejected
            .iter()
            .map(|r| (r.line, r.event_id.as_deref(), r.raw.as_str()))
            .collect();
        assert_eq!(
            rejected,
            [
                (4, Some("bb"), scan("bb", "110100").as_str()),
                (5, None, "{\"id\":\"c\u{fffd}\"}"),
                (6, None, "not json"),
            ]
        );
        assert_eq!(answer.errors[1].error, "line is not valid UTF-8 (byte 9)");
        assert!(answer.errors[0].error.starts_with("district: \"110100\""));
        assert_eq!(
            answer.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [4, 5, 6]
        );
    }

    /// A request keeps its first `rejected_per_request` rejected records
    /// whole and counts the rest; the answer lists up to [`MAX_ERRORS`] of
    /// them either way, and the valid records around them are stored.
    #[test]
    fn a_request_keeps_its_first_rejected_records_and_counts_the_rest() {
        let region = Region::load("beijing").unwrap();
        let bounds = Bounds {
            rejected_per_request: 2,
            ..Bounds::default()
        };
        let good = r#"{"id":"g","ts":"2026-11-30T09:00:00+08:00","kind":"scan","district":"110106","person":"p-00000001"}"#;
        let mut body = String::new();
        for line in 1..=150 {
            body.push_str(if line == 75 { good } else { "{}" });
            body.push('\n');
        }
        let (batch, answer) = prepare(
            body.as_bytes(),
            Format::Ndjson,
            &region,
            "k",
            &bounds,
            &no_teams(&region),
        )
        .unwrap();
        assert_eq!(batch.events.len(), 1);
        assert_eq!(
            batch.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(
            (batch.not_kept, answer.not_kept, answer.rejected),
            (147, 147, 149)
        );
        // The answer lists the first hundred, kept or not.
        assert_eq!(answer.errors.len(), MAX_ERRORS);
        assert_eq!(answer.errors[99].line, 101);
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["not_kept"], 147);
        // An answer with everything kept does not name `not_kept`.
        let (_, all) = prepare(
            b"{}\n",
            Format::Ndjson,
            &region,
            "k",
            &bounds,
            &no_teams(&region),
        )
        .unwrap();
        let json = serde_json::to_value(&all).unwrap();
        assert_eq!(json.get("not_kept"), None);
        assert_eq!(json["rejected"], 1);
    }

    /// An Arrow stream broken after its first batch is refused whole: the
    /// first batch's rows, checked as they were read, are not stored.
    #[test]
    fn an_arrow_stream_broken_after_a_batch_is_refused_whole() {
        use arrow::array::{ArrayRef, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        use std::sync::Arc;

        let region = Region::load("beijing").unwrap();
        let fields = ["id", "ts", "kind", "district", "person"];
        let schema = Arc::new(Schema::new(
            fields
                .iter()
                .map(|f| Field::new(*f, DataType::Utf8, false))
                .collect::<Vec<_>>(),
        ));
        let batch = |id: &str| {
            let values = [
                id,
                "2026-11-30T09:00:00+08:00",
                "scan",
                "110106",
                "p-00000001",
            ];
            let columns: Vec<ArrayRef> = values
                .iter()
                .map(|v| Arc::new(StringArray::from(vec![*v])) as ArrayRef)
                .collect();
            arrow::record_batch::RecordBatch::try_new(schema.clone(), columns).unwrap()
        };
        let mut body = Vec::new();
        let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut body, &schema).unwrap();
        writer.write(&batch("a1")).unwrap();
        writer.flush().unwrap();
        let first = writer.get_ref().len();
        writer.write(&batch("a2")).unwrap();
        writer.finish().unwrap();
        drop(writer);

        let (whole, answer) = prepare(
            &body,
            Format::Arrow,
            &region,
            "k",
            &Bounds::default(),
            &no_teams(&region),
        )
        .unwrap();
        assert_eq!(whole.events.len(), 2);
        assert_eq!(answer.rejected, 0);

        let cut = &body[..first + 40];
        let refused = prepare(
            cut,
            Format::Arrow,
            &region,
            "k",
            &Bounds::default(),
            &no_teams(&region),
        )
        .map(|_| ())
        .unwrap_err();
        let (refused, error) = *refused;
        let Refusal::BadBody(message) = error else {
            panic!("{error:?}")
        };
        assert!(message.starts_with("Arrow stream broken"), "{message}");
        assert!(refused.events.is_empty());
        assert_eq!(refused.rejected.len(), 1);
        assert_eq!(refused.rejected[0].reason, message);
    }
}
