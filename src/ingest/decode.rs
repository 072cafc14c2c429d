//! Body decoders: NDJSON, JSON, CSV and Arrow IPC, record by record
//! ([`decode_each`]: ingest checks each record as it is read).
//!
//! A decoder never gives up on a whole body for one bad record: each record
//! carries its own result, its 1-based line (or array index) and the text as
//! sent, so the rejected ones can be kept. Only a body that cannot be split
//! into records at all (a CSV header without the required columns, a JSON
//! document that does not parse, a stream that is not Arrow) is refused whole.

use std::borrow::Cow;
use std::io::Cursor;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::ipc::reader::StreamReader;

use super::event::{FIELDS, REQUIRED, RawEvent, RawValue};
use crate::model::Format;

/// One record of a body (what the tests read).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line (NDJSON, CSV) or array index (JSON), or row (Arrow).
    pub line: u64,
    /// The record as sent; `None` for an Arrow row, which has no text of its
    /// own: [`RawEvent::to_json`] writes its fields out when it is kept as
    /// rejected (most rows never need it).
    pub raw: Option<String>,
    pub event: Result<RawEvent, String>,
}

/// A body that cannot be split into records.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("the CSV header lacks the required column(s): {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    #[error("{0}")]
    Body(String),
    /// The body's records would hold more text than the bound (an Arrow
    /// dictionary or view column repeats a long value for many rows): what
    /// the body would decode to, and the bound.
    #[error(
        "the body's records would hold {0} bytes of text, more than the limit of {1}: an Arrow dictionary or view column repeats its values; send them plain or in smaller requests"
    )]
    TooMuchText(u64, u64),
}

/// The record's line, its text as sent (`None` for an Arrow row) and its
/// fields or why they cannot be read.
pub type Each<'e> = dyn FnMut(u64, Option<Cow<'_, str>>, Result<RawEvent, String>) + 'e;

/// Every record of a body, in order (what the tests read).
#[cfg(test)]
pub fn decode(format: Format, body: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let mut records = Vec::new();
    decode_each(format, body, u64::MAX, &mut |line, raw, event| {
        records.push(Record {
            line,
            raw: raw.map(Cow::into_owned),
            event,
        })
    })?;
    Ok(records)
}

/// Reads a body record by record, calling `each` with every one, in order,
/// as it is read: nothing of a record is kept here, and its text is borrowed
/// from the body where it can be. A body refused whole (the error) may have
/// given some records first (an Arrow stream broken after its first batch).
///
/// `max_text` bounds the text the records may hold in all. A text format's
/// records hold at most its own bytes; an Arrow stream's can hold far more
/// than it (a dictionary column whose keys all name one long value, or view
/// columns pointing at one string): its size is counted batch by batch
/// before a column is decoded, and a body beyond the bound is refused whole.
pub fn decode_each(
    format: Format,
    body: &[u8],
    max_text: u64,
    each: &mut Each<'_>,
) -> Result<(), DecodeError> {
    match format {
        Format::Ndjson => {
            ndjson(body, each);
            Ok(())
        }
        Format::Json => json(body, each),
        Format::Csv => csv(body, each),
        // The Arrow IPC reader can panic on malformed streams (the fuzzer
        // found two in arrow-ipc 60.1) instead of returning an error: such a
        // body is refused like any unreadable stream (what `each` was given
        // before is thrown away with the body).
        Format::Arrow => {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| arrow(body, max_text, each)))
                .unwrap_or_else(|_| {
                    Err(DecodeError::Body(
                        "body is not a readable Arrow IPC stream: its buffers are malformed".into(),
                    ))
                })
        }
    }
}

/// Lines are records; blank lines are skipped.
fn ndjson(body: &[u8], each: &mut Each<'_>) {
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let number = i as u64 + 1;
        match std::str::from_utf8(line) {
            Ok(text) => each(number, Some(Cow::Borrowed(text)), from_json_text(text)),
            Err(e) => each(
                number,
                Some(String::from_utf8_lossy(line)),
                Err(format!(
                    "line is not valid UTF-8 (byte {})",
                    e.valid_up_to() + 1
                )),
            ),
        }
    }
}

fn from_json_text(text: &str) -> Result<RawEvent, String> {
    // The common case, an object, straight into the fields; anything else
    // goes through a JSON value to be described exactly.
    if let Ok(raw) = serde_json::from_str::<RawEvent>(text) {
        return Ok(raw);
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => from_json_value(&value),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

fn from_json_value(value: &serde_json::Value) -> Result<RawEvent, String> {
    let serde_json::Value::Object(map) = value else {
        return Err(format!("expected a JSON object, got {}", json_type(value)));
    };
    let mut raw = RawEvent::default();
    for (key, value) in map {
        // Unknown extra fields are ignored.
        if let Some(field) = raw.field_mut(key) {
            *field = match value {
                serde_json::Value::String(s) => RawValue::Str(s.clone()),
                serde_json::Value::Bool(b) => RawValue::Bool(*b),
                other => RawValue::Other(json_type(other)),
            };
        }
    }
    Ok(raw)
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn json(body: &[u8], each: &mut Each<'_>) -> Result<(), DecodeError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        DecodeError::Body(format!(
            "body is not valid UTF-8 (byte {})",
            e.valid_up_to() + 1
        ))
    })?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        // Keep each element's own text for the rejected table.
        let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(text)
            .map_err(|e| DecodeError::Body(format!("body is not a valid JSON array: {e}")))?;
        for (i, item) in items.into_iter().enumerate() {
            let text = item.get();
            each(
                i as u64 + 1,
                Some(Cow::Borrowed(text)),
                from_json_text(text),
            );
        }
    } else {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| DecodeError::Body(format!("body is not valid JSON: {e}")))?;
        each(1, Some(Cow::Borrowed(text.trim())), from_json_value(&value));
    }
    Ok(())
}

fn csv(body: &[u8], each: &mut Each<'_>) -> Result<(), DecodeError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(body);
    let header = reader
        .byte_headers()
        .map_err(|e| DecodeError::Body(format!("the CSV header cannot be read: {e}")))?
        .clone();
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|r| !names.iter().any(|n| n == *r))
        .map(|r| r.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(DecodeError::MissingColumns(missing));
    }

    let mut row = csv::ByteRecord::new();
    // Newlines in `body[..counted]`.
    let (mut newlines, mut counted) = (0u64, 0usize);
    loop {
        let start = reader.position().byte() as usize;
        let line = reader.position().line();
        let more = match reader.read_byte_record(&mut row) {
            Ok(more) => more,
            Err(e) => {
                // A broken row (e.g. an unclosed quote) ends what can be read.
                each(
                    line,
                    Some(String::from_utf8_lossy(&body[start.min(body.len())..])),
                    Err(format!("CSV row cannot be read: {e}")),
                );
                break;
            }
        };
        if !more {
            break;
        }
        let end = (reader.position().byte() as usize).min(body.len());
        // The csv crate may stop between the \r and \n of a CRLF, and its
        // line count then lags: the row starts after any line ends, and its
        // line is counted here from the bytes.
        let start = start.min(end);
        let start = start
            + body[start..end]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
        newlines += body[counted..start].iter().filter(|&&b| b == b'\n').count() as u64;
        counted = start;
        let line = newlines + 1;
        let raw = match String::from_utf8_lossy(&body[start..end]) {
            Cow::Borrowed(text) => Cow::Borrowed(text.trim_end_matches(['\r', '\n'])),
            Cow::Owned(text) => Cow::Owned(text.trim_end_matches(['\r', '\n']).to_string()),
        };
        let event = if row.len() != names.len() {
            Err(format!(
                "row has {} fields, the header has {}",
                row.len(),
                names.len()
            ))
        } else {
            csv_row(&names, &row)
        };
        each(line, Some(raw), event);
    }
    Ok(())
}

fn csv_row(names: &[String], row: &csv::ByteRecord) -> Result<RawEvent, String> {
    let mut raw = RawEvent::default();
    for (name, value) in names.iter().zip(row.iter()) {
        if let Some(field) = raw.field_mut(name) {
            let text =
                std::str::from_utf8(value).map_err(|_| format!("{name}: not valid UTF-8"))?;
            *field = if text.is_empty() {
                RawValue::Missing
            } else {
                RawValue::Str(text.to_string())
            };
        }
    }
    Ok(raw)
}

fn arrow(body: &[u8], max_text: u64, each: &mut Each<'_>) -> Result<(), DecodeError> {
    let reader = StreamReader::try_new(Cursor::new(body), None)
        .map_err(|e| DecodeError::Body(format!("body is not an Arrow IPC stream: {e}")))?;
    let schema = reader.schema();
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|r| schema.field_with_name(r).is_err())
        .map(|r| r.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(DecodeError::Body(format!(
            "the Arrow schema lacks the required column(s): {}",
            missing.join(", ")
        )));
    }
    for field in schema.fields() {
        let name = field.name().as_str();
        if !FIELDS.contains(&name) {
            continue;
        }
        let ok = match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
            DataType::Dictionary(_, v) => {
                matches!(
                    **v,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
            }
            DataType::Boolean => name == "value",
            DataType::Timestamp(_, Some(_)) => name == "ts",
            _ => false,
        };
        if !ok {
            let wanted = match name {
                "value" => "Boolean or Utf8 (true/false)",
                "ts" => "Utf8 (RFC 3339) or Timestamp with a time zone",
                _ => "Utf8",
            };
            return Err(DecodeError::Body(format!(
                "Arrow column {name} has type {}, expected {wanted}",
                field.data_type()
            )));
        }
    }

    let mut row_number = 0u64;
    let mut text = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| DecodeError::Body(format!("Arrow stream broken: {e}")))?;
        // What the batch's text columns hold once decoded, counted before
        // any is decoded.
        for name in FIELDS {
            if let Some(column) = batch.column_by_name(name) {
                text = text.saturating_add(text_bytes(column.as_ref()));
            }
        }
        if text > max_text {
            return Err(DecodeError::TooMuchText(text, max_text));
        }
        // Every known column as text (or booleans for `value`).
        let mut columns: Vec<(&str, Column)> = Vec::new();
        for name in FIELDS {
            let Some(column) = batch.column_by_name(name) else {
                continue;
            };
            let column = if column.data_type() == &DataType::Boolean {
                Column::Bool(column.as_boolean().clone())
            } else {
                let text = arrow::compute::cast(column, &DataType::Utf8).map_err(|e| {
                    DecodeError::Body(format!("Arrow column {name} cannot be read as text: {e}"))
                })?;
                Column::Text(text.as_string::<i32>().clone())
            };
            columns.push((name, column));
        }
        for i in 0..batch.num_rows() {
            row_number += 1;
            let mut raw = RawEvent::default();
            for (name, column) in &columns {
                *raw.field_mut(name).expect("a known field") = column.value(i);
            }
            each(row_number, None, Ok(raw));
        }
    }
    Ok(())
}

/// The bytes of text a column holds once every row is decoded (nulls
/// count nothing; a dictionary's value counts once for every row naming it).
fn text_bytes(column: &dyn Array) -> u64 {
    fn each_row<O: arrow::array::OffsetSizeTrait>(a: &arrow::array::GenericStringArray<O>) -> u64 {
        let offsets = a.value_offsets();
        (offsets[offsets.len() - 1].as_usize() - offsets[0].as_usize()) as u64
    }
    fn value_lengths(values: &dyn Array) -> Vec<u64> {
        match values.data_type() {
            DataType::Utf8 => values.as_string::<i32>().iter().map(len_of).collect(),
            DataType::LargeUtf8 => values.as_string::<i64>().iter().map(len_of).collect(),
            DataType::Utf8View => values.as_string_view().iter().map(len_of).collect(),
            _ => Vec::new(),
        }
    }
    fn len_of(value: Option<&str>) -> u64 {
        value.map_or(0, |v| v.len() as u64)
    }
    use arrow::datatypes::ArrowNativeType;
    match column.data_type() {
        DataType::Utf8 => each_row(column.as_string::<i32>()),
        DataType::LargeUtf8 => each_row(column.as_string::<i64>()),
        DataType::Utf8View => {
            let views = column.as_string_view();
            (0..views.len())
                .filter(|&i| views.is_valid(i))
                .map(|i| u64::from(views.views()[i] as u32))
                .sum()
        }
        DataType::Dictionary(_, _) => arrow::array::downcast_dictionary_array!(
            column => {
                let lengths = value_lengths(column.values().as_ref());
                column
                    .keys()
                    .iter()
                    .flatten()
                    .map(|k| lengths.get(k.as_usize()).copied().unwrap_or(0))
                    .sum()
            }
            _ => 0
        ),
        _ => 0,
    }
}

enum Column {
    Text(arrow::array::StringArray),
    Bool(arrow::array::BooleanArray),
}

impl Column {
    fn value(&self, i: usize) -> RawValue {
        match self {
            Column::Text(a) if a.is_valid(i) => RawValue::Str(a.value(i).to_string()),
            Column::Bool(a) if a.is_valid(i) => RawValue::Bool(a.value(i)),
            _ => RawValue::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> RawValue {
        RawValue::Str(v.to_string())
    }

    /// An Arrow stream of `rows` rows whose `kind` is a dictionary naming
    /// one long value for every row but the first (null), and whose
    /// `district` is a view column pointing every row at one string.
    fn expanding_stream(rows: usize, long: usize) -> Vec<u8> {
        use arrow::array::{DictionaryArray, StringArray, StringViewArray};
        use arrow::datatypes::{Field, Int8Type, Schema};
        use std::sync::Arc;
        let kind: DictionaryArray<Int8Type> = (0..rows)
            .map(|i| (i > 0).then(|| "k".repeat(long)))
            .map(|v| v.map(|v| v.to_string()))
            .collect::<Vec<_>>()
            .iter()
            .map(Option::as_deref)
            .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("ts", DataType::Utf8, false),
            Field::new("kind", kind.data_type().clone(), true),
            Field::new("district", DataType::Utf8View, false),
            Field::new("person", DataType::Utf8, false),
        ]));
        let ids: StringArray = (0..rows).map(|i| Some(format!("e-{i:04}"))).collect();
        let ts: StringArray = (0..rows)
            .map(|_| Some("2026-11-30T09:00:00+08:00"))
            .collect();
        let district: StringViewArray = (0..rows).map(|_| Some("110106-and-more-text")).collect();
        let person: StringArray = (0..rows).map(|_| Some("p")).collect();
        let batch = arrow::record_batch::RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(ids),
                Arc::new(ts),
                Arc::new(kind),
                Arc::new(district),
                Arc::new(person),
            ],
        )
        .unwrap();
        let mut body = Vec::new();
        let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut body, &schema).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        drop(writer);
        body
    }

    /// The text an Arrow body decodes to is counted before it is decoded:
    /// a dictionary's value once for each row naming it, a view's string
    /// once for each row pointing at it.
    #[test]
    fn an_arrow_body_is_bounded_by_the_text_it_decodes_to() {
        let (rows, long) = (1_000, 100_000);
        let body = expanding_stream(rows, long);
        assert!(body.len() < 200_000, "{} bytes on the wire", body.len());
        // id 6 bytes, ts 25, kind 100,000 (but the first row's is null),
        // district 20, person 1.
        let text = (rows * (6 + 25 + 20 + 1) + (rows - 1) * long) as u64;
        assert_eq!(text, 99_952_000);
        let mut seen = 0;
        let refused = decode_each(Format::Arrow, &body, text - 1, &mut |_, _, _| seen += 1);
        assert_eq!(refused, Err(DecodeError::TooMuchText(text, text - 1)));
        assert_eq!(seen, 0, "nothing decoded before the count");
        assert!(refused.unwrap_err().to_string().starts_with(
            "the body's records would hold 99952000 bytes of text, more than the limit of 99951999"
        ));
        let mut kinds = Vec::new();
        decode_each(Format::Arrow, &body, text, &mut |_, _, fields| {
            kinds.push(fields.unwrap().kind.clone())
        })
        .unwrap();
        assert_eq!(kinds.len(), rows);
        assert_eq!(kinds[0], RawValue::Missing);
        assert_eq!(kinds[1], RawValue::Str("k".repeat(long)));
    }

    #[test]
    fn ndjson_keeps_each_line_apart() {
        let records = decode(
            Format::Ndjson,
            b"{\"id\":\"a\",\"person\":7}\n\nnot json\n\xff\xfe\n[1]\r\n",
        )
        .unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(records[0].line, 1);
        let first = records[0].event.as_ref().unwrap();
        assert_eq!(first.id, s("a"));
        assert_eq!(first.person, RawValue::Other("a number"));
        assert_eq!(records[1].line, 3);
        assert!(
            records[1]
                .event
                .as_ref()
                .unwrap_err()
                .starts_with("not valid JSON: ")
        );
        assert_eq!(records[2].line, 4);
        assert_eq!(
            records[2].event,
            Err("line is not valid UTF-8 (byte 1)".to_string())
        );
        assert_eq!(records[3].line, 5);
        assert_eq!(records[3].raw.as_deref(), Some("[1]"));
        assert_eq!(
            records[3].event,
            Err("expected a JSON object, got an array".to_string())
        );
    }

    #[test]
    fn an_object_reads_the_same_straight_or_through_a_value() {
        // A repeated field makes the direct path give up; the value path
        // keeps the last one, as before.
        let text = r#"{"id":"a","id":"b","team":null,"x":[1,{"y":2}],"value":false,"channel":{"k":1},"ts":1.5}"#;
        let raw = from_json_text(text).unwrap();
        assert_eq!(raw.id, s("b"));
        assert_eq!(raw.team, RawValue::Other("null"));
        assert_eq!(raw.value, RawValue::Bool(false));
        assert_eq!(raw.channel, RawValue::Other("an object"));
        assert_eq!(raw.ts, RawValue::Other("a number"));
        assert_eq!(raw.kind, RawValue::Missing);
        // Without the repeat, the direct path reads the same fields.
        let direct: RawEvent = serde_json::from_str(
            r#"{"id":"b","team":null,"x":[1,{"y":2}],"value":false,"channel":{"k":1},"ts":1.5}"#,
        )
        .unwrap();
        assert_eq!(direct, raw);
        assert!(serde_json::from_str::<RawEvent>(r#"["a"]"#).is_err());
    }

    #[test]
    fn json_arrays_number_their_elements_from_one() {
        let records = decode(
            Format::Json,
            br#"[{"id":"a"}, 5, {"id":"b","extra":{"x":1}}]"#,
        )
        .unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].line, 2);
        assert_eq!(records[1].raw.as_deref(), Some("5"));
        assert_eq!(records[2].event.as_ref().unwrap().id, s("b"));
        assert_eq!(
            decode(Format::Json, br#"{"id":"only"}"#).unwrap()[0]
                .event
                .as_ref()
                .unwrap()
                .id,
            s("only")
        );
        assert!(matches!(
            decode(Format::Json, b"[{\"id\":"),
            Err(DecodeError::Body(_))
        ));
    }

    #[test]
    fn csv_header_must_name_the_required_columns() {
        assert_eq!(
            decode(Format::Csv, b"id,kind,person\n1,scan,p-123456\n"),
            Err(DecodeError::MissingColumns(vec![
                "ts".into(),
                "district".into()
            ]))
        );
    }

    #[test]
    fn csv_handles_bom_quotes_and_ragged_rows() {
        let body = "\u{feff}id,ts,kind,district,person,channel\n\
                    e1,2017-06-28T10:00:00+08:00,scan,110106,p-000001,\"hall,\nnorth\"\n\
                    e2,2017-06-28T10:00:00+08:00,scan,110106\n\
                    e3,2017-06-28T10:00:00+08:00,scan,110106,p-000003,,extra\n";
        let records = decode(Format::Csv, body.as_bytes()).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].line, 2);
        let first = records[0].event.as_ref().unwrap();
        assert_eq!(first.id, s("e1"));
        assert_eq!(first.channel, s("hall,\nnorth"));
        assert_eq!(records[1].line, 4);
        assert_eq!(
            records[1].raw.as_deref(),
            Some("e2,2017-06-28T10:00:00+08:00,scan,110106")
        );
        assert_eq!(
            records[1].event,
            Err("row has 4 fields, the header has 6".to_string())
        );
        assert_eq!(
            records[2].event,
            Err("row has 7 fields, the header has 6".to_string())
        );
    }

    #[test]
    fn csv_lines_count_crlf_and_quoted_newlines() {
        let body = "id,ts,kind,district,person\r\n\
                    e1,2017-06-28T10:00:00+08:00,scan,110106,\"p-0\r\n01\"\r\n\
                    e2,2017-06-28T10:00:00+08:00,scan\r\n\r\n\
                    e3,2017-06-28T10:00:00+08:00,scan,110106,p-000003\r\n";
        let records = decode(Format::Csv, body.as_bytes()).unwrap();
        let lines: Vec<(u64, &str)> = records
            .iter()
            .map(|r| (r.line, r.raw.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(
            lines,
            [
                (2, "e1,2017-06-28T10:00:00+08:00,scan,110106,\"p-0\r\n01\""),
                (4, "e2,2017-06-28T10:00:00+08:00,scan"),
                (6, "e3,2017-06-28T10:00:00+08:00,scan,110106,p-000003"),
            ]
        );
    }

    #[test]
    fn content_types_pick_formats() {
        assert_eq!(
            Format::from_content_type("application/x-ndjson"),
            Some(Format::Ndjson)
        );
        assert_eq!(
            Format::from_content_type("text/csv; charset=utf-8"),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_content_type("Application/JSON"),
            Some(Format::Json)
        );
        assert_eq!(Format::from_content_type("text/plain"), None);
    }
}
