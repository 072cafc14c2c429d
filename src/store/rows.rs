//! The one mapping between an [`Event`] and a row of `events`
//! (sql/schema.sql): the Arrow columns the writer logs and the loader
//! appends, and the detail read back from a stored row.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::{Batch, StoreError};
use crate::model::{Detail, Fields, Kind};
use crate::region::Region;

/// The columns of `events` (sql/schema.sql) as Arrow fields, in order. The
/// five fixed lists go as text: DuckDB's appender casts them to their ENUM
/// types (an append whose types differ from the table's is cast column by
/// column, the others passed as they are).
pub(super) fn events_schema() -> SchemaRef {
    static SCHEMA: std::sync::OnceLock<SchemaRef> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let text = |name| Field::new(name, DataType::Utf8, true);
            let time =
                |name| Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, None), true);
            Arc::new(Schema::new(vec![
                Field::new("seq", DataType::Int64, true),
                text("id"),
                time("ts"),
                text("kind"),
                text("district"),
                text("person"),
                text("channel"),
                text("colour"),
                text("team"),
                text("category"),
                text("stage"),
                text("rate"),
                Field::new("value", DataType::Boolean, true),
                time("received_at"),
                text("source"),
            ]))
        })
        .clone()
}

/// The new events of a group's requests (each with its events' seqs,
/// `None`: not stored) as the columns of `events`.
pub(super) fn events_batch<'b>(
    region: &Region,
    batches: impl Iterator<Item = &'b Batch>,
    seqs: &[Vec<Option<i64>>],
    received: i64,
) -> Result<RecordBatch, StoreError> {
    let rows = seqs.iter().flatten().flatten().count();
    let text = || StringBuilder::with_capacity(rows, rows * 8);
    let time = || TimestampMicrosecondBuilder::with_capacity(rows);
    let mut seq = Int64Builder::with_capacity(rows);
    let (mut ts, mut received_at) = (time(), time());
    let (mut id, mut kind, mut district, mut person) = (text(), text(), text(), text());
    let (mut channel, mut colour, mut team, mut category) = (text(), text(), text(), text());
    let (mut stage, mut rate, mut source) = (text(), text(), text());
    let mut value = BooleanBuilder::with_capacity(rows);
    for (batch, seqs) in batches.zip(seqs) {
        for (e, s) in batch.events.iter().zip(seqs) {
            let Some(s) = s else { continue };
            let f = e.detail.fields();
            seq.append_value(*s);
            id.append_value(&e.id);
            ts.append_value(e.ts);
            kind.append_value(e.kind().code());
            district.append_value(&region.districts[e.district as usize].code);
            person.append_value(&e.person);
            channel.append_option(f.channel);
            colour.append_option(f.colour);
            team.append_option(f.team);
            category.append_option(f.category);
            stage.append_option(f.stage);
            rate.append_option(f.rate);
            value.append_option(f.value);
            received_at.append_value(received);
            source.append_value(&batch.source);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(seq.finish()),
        Arc::new(id.finish()),
        Arc::new(ts.finish()),
        Arc::new(kind.finish()),
        Arc::new(district.finish()),
        Arc::new(person.finish()),
        Arc::new(channel.finish()),
        Arc::new(colour.finish()),
        Arc::new(team.finish()),
        Arc::new(category.finish()),
        Arc::new(stage.finish()),
        Arc::new(rate.finish()),
        Arc::new(value.finish()),
        Arc::new(received_at.finish()),
        Arc::new(source.finish()),
    ];
    RecordBatch::try_new(events_schema(), columns)
        .map_err(|e| StoreError::Transaction(format!("preparing the events: {e}")))
}

pub(super) fn get(a: &arrow::array::StringArray, i: usize) -> Option<&str> {
    use arrow::array::Array;
    a.is_valid(i).then(|| a.value(i))
}

/// The detail of a stored row of `kind` ([`Detail::from_fields`]).
pub(super) fn detail_of(kind: &str, row: Fields<'_>) -> Option<Detail> {
    Detail::from_fields(Kind::parse(kind)?, row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Colour, Event, Format, Rate, Stage};
    use arrow::array::{Array, AsArray};

    /// Every kind's detail goes into its columns and comes back the same:
    /// the two directions are one mapping.
    #[test]
    fn each_detail_round_trips_through_its_row() {
        let region = Region::load("beijing").unwrap();
        let details = [
            Detail::Scan {
                channel: Some("hall".into()),
            },
            Detail::Scan { channel: None },
            Detail::Assess {
                colour: Colour::Pink,
            },
            Detail::Enroll { team: "t-1".into() },
            Detail::Service {
                team: "t-2".into(),
                category: Category::Treatment,
            },
            Detail::Train {
                stage: Stage::Certified,
            },
            Detail::Outcome {
                rate: Rate::Control,
                value: false,
            },
        ];
        let events: Vec<Event> = details
            .iter()
            .enumerate()
            .map(|(i, detail)| Event {
                id: format!("e-{i}"),
                ts: 1_498_615_200_000_000,
                district: 5,
                person: "p-00000001".into(),
                detail: detail.clone(),
            })
            .collect();
        let batch = Batch {
            source: "k".into(),
            format: Format::Ndjson,
            events,
            rejected: Vec::new(),
            not_kept: 0,
            repeats: 0,
        };
        let seqs = vec![(1..=details.len() as i64).map(Some).collect()];
        let rows = events_batch(&region, std::iter::once(&batch), &seqs, 7).unwrap();
        assert_eq!(rows.schema(), events_schema());
        let text = |name: &str| {
            rows.column_by_name(name)
                .unwrap()
                .as_string::<i32>()
                .clone()
        };
        let (kind, channel, colour, team) =
            (text("kind"), text("channel"), text("colour"), text("team"));
        let (category, stage, rate) = (text("category"), text("stage"), text("rate"));
        let value = rows.column_by_name("value").unwrap().as_boolean().clone();
        for (i, detail) in details.iter().enumerate() {
            let row = Fields {
                channel: get(&channel, i),
                colour: get(&colour, i),
                team: get(&team, i),
                category: get(&category, i),
                stage: get(&stage, i),
                rate: get(&rate, i),
                value: value.is_valid(i).then(|| value.value(i)),
            };
            assert_eq!(
                detail_of(kind.value(i), row).as_ref(),
                Some(detail),
                "row {i}"
            );
        }
        assert_eq!(text("district").value(0), region.districts[5].code);
    }
}
