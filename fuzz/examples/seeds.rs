//! Writes the seed corpus of each target, from the synthetic fixture
//! `fixtures/events-launch-small.ndjson` only. Run from `fuzz/`:
//!
//!     cargo run --example seeds
//!
//! Files are named `seed-*`; the fuzzer grows the corpora from them.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Int64Array, LargeStringArray, StringArray,
    StringViewArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use weibing_fuzz::NOW_MICROS;
use weibing_fuzz::ingest::decode::decode_each;
use weibing_fuzz::ingest::event::validate;
use weibing_fuzz::model::Format;
use weibing_fuzz::publish::protocol::parse_client;
use weibing_fuzz::region::Region;

const FIXTURE: &str = include_str!("../../fixtures/events-launch-small.ndjson");

const KINDS: [&str; 6] = ["scan", "assess", "enroll", "service", "train", "outcome"];

/// Writes one seed and says what the server's decoder and validator make of it.
fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    let format = match target {
        "ndjson" => Format::Ndjson,
        "json" => Format::Json,
        "csv" => Format::Csv,
        "arrow" => Format::Arrow,
        _ => {
            let text = std::str::from_utf8(bytes).unwrap();
            println!("{target}/{name}: {:?}", parse_client(text));
            return;
        }
    };
    let region = Region::load("beijing").unwrap();
    let (mut records, mut valid) = (0, 0);
    let decoded = decode_each(
        format,
        bytes,
        weibing_fuzz::MAX_TEXT,
        &mut |_, _, fields| {
            records += 1;
            if let Ok(mut raw) = fields
                && validate(&mut raw, &region, NOW_MICROS).is_ok()
            {
                valid += 1;
            }
        },
    );
    match decoded {
        Err(e) => println!("{target}/{name}: refused whole: {e}"),
        Ok(()) => println!("{target}/{name}: {records} records, {valid} valid"),
    }
}

/// The first fixture line of each kind, then the next few lines.
fn fixture_lines() -> Vec<&'static str> {
    let mut lines: Vec<&str> = KINDS
        .iter()
        .map(|k| {
            FIXTURE
                .lines()
                .find(|l| l.contains(&format!("\"kind\": \"{k}\"")))
                .expect("each kind is in the fixture")
        })
        .collect();
    lines.extend(FIXTURE.lines().take(6));
    lines
}

fn csv_field(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) if s.contains([',', '"', '\n', '\r']) => {
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

const CSV_HEADER: [&str; 12] = [
    "id", "ts", "kind", "district", "person", "channel", "colour", "team", "category", "stage",
    "rate", "value",
];

fn csv_rows(lines: &[&str]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            CSV_HEADER.map(|k| csv_field(&v[k])).join(",")
        })
        .collect()
}

/// One batch of `rows` events of every kind, with `person` and `ts`/`value`
/// columns of the given types (some of them wrong on purpose).
fn batch(rows: usize, person: &DataType, ts: &DataType, value: &DataType) -> RecordBatch {
    let text = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let pick = |f: &dyn Fn(usize) -> Option<&'static str>| {
        text((0..rows).map(|i| f(i).map(str::to_string)).collect())
    };
    let strings = |f: &dyn Fn(usize) -> Option<String>, t: &DataType| -> ArrayRef {
        let v: Vec<Option<String>> = (0..rows).map(f).collect();
        match t {
            DataType::LargeUtf8 => Arc::new(LargeStringArray::from(v)),
            DataType::Utf8View => Arc::new(StringViewArray::from(v)),
            DataType::Dictionary(_, _) => Arc::new(
                v.iter()
                    .map(|s| s.as_deref())
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
            _ => Arc::new(StringArray::from(v)),
        }
    };
    let person_column: ArrayRef = match person {
        DataType::Int64 => Arc::new(Int64Array::from((0..rows as i64).collect::<Vec<_>>())),
        t => strings(&|i| Some(format!("p-arrow-{i:04}")), t),
    };
    let ts_column: ArrayRef = match ts {
        DataType::Timestamp(TimeUnit::Microsecond, tz) => Arc::new(
            TimestampMicrosecondArray::from(
                (0..rows as i64)
                    .map(|i| 1_498_618_798_000_000 + i * 1_000_000)
                    .collect::<Vec<_>>(),
            )
            .with_timezone_opt(tz.clone()),
        ),
        DataType::Int64 => Arc::new(Int64Array::from(vec![1_498_618_798_i64; rows])),
        t => strings(
            &|i| (i % 7 != 6).then(|| "2017-06-28T10:59:58+08:00".to_string()),
            t,
        ),
    };
    let value_column: ArrayRef = match value {
        DataType::Boolean => Arc::new(BooleanArray::from(
            (0..rows)
                .map(|i| (i % 6 == 5).then_some(i % 2 == 0))
                .collect::<Vec<_>>(),
        )),
        t => strings(
            &|i| (i % 6 == 5).then(|| ["true", "0", "yes"][i % 3].to_string()),
            t,
        ),
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("ts", ts_column.data_type().clone(), true),
        Field::new("kind", DataType::Utf8, true),
        Field::new("district", DataType::Utf8, true),
        Field::new("person", person_column.data_type().clone(), true),
        Field::new("colour", DataType::Utf8, true),
        Field::new("team", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("stage", DataType::Utf8, true),
        Field::new("rate", DataType::Utf8, true),
        Field::new("value", value_column.data_type().clone(), true),
        Field::new("extra", DataType::Int64, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            text((0..rows).map(|i| Some(format!("ar-{i}"))).collect()),
            ts_column,
            pick(&|i| Some(KINDS[i % 6])),
            pick(&|i| Some(["110106", "丰台区", "110100"][i % 3])),
            person_column,
            pick(&|i| (i % 6 == 1).then_some("pink")),
            pick(&|i| (i % 6 == 2 || i % 6 == 3).then_some("ft-youanmen-hypertension")),
            pick(&|i| (i % 6 == 3).then_some("health_management")),
            pick(&|i| (i % 6 == 4).then_some("certified")),
            pick(&|i| (i % 6 == 5).then_some("control")),
            value_column,
            Arc::new(Int64Array::from(vec![7_i64; rows])),
        ],
    )
    .unwrap()
}

fn stream(batches: &[RecordBatch]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = StreamWriter::try_new(&mut out, &batches[0].schema()).unwrap();
        for b in batches {
            writer.write(b).unwrap();
        }
        writer.finish().unwrap();
    }
    out
}

fn main() {
    let lines = fixture_lines();

    // NDJSON: valid events, then broken lines among good ones.
    write("ndjson", "fixture", lines.join("\n").as_bytes());
    write("ndjson", "one", lines[0].as_bytes());
    write(
        "ndjson",
        "mixed",
        format!(
            "{}\r\n{{\"id\":null,\"ts\":[1],\"kind\":{{}}}}\n\n  \n\u{0}\n[1]\n\"s\"\n{}\n{{\"id\":\"x\"",
            lines[1], lines[5]
        )
        .as_bytes(),
    );
    let mut invalid_utf8 = lines[2].as_bytes().to_vec();
    invalid_utf8.extend_from_slice(b"\n\xff\xfe{\"id\":\"a\"}\n");
    write("ndjson", "invalid-utf8", &invalid_utf8);
    write(
        "ndjson",
        "bad-fields",
        r#"{"id":"e-1","ts":"2017-06-28T11:05:01+08:00","kind":"outcome","district":"110106","person":"+86 138-1234-5678","rate":"control","value":"yes"}
{"id":"","ts":"2017-06-28 10:59:58","kind":"visit","district":"110100","person":"11010619900101123X"}
{"id":"e-2","ts":"2017-06-28T03:00:03Z","kind":"assess","district":"丰台区","person":"p-7f3a9c21","colour":"粉色","extra":{"x":[1,2]}}"#
            .as_bytes(),
    );

    // JSON: an array of events, a single object, mixed elements.
    write(
        "json",
        "fixture",
        format!("[{}]", lines.join(",")).as_bytes(),
    );
    write("json", "one-object", lines[3].as_bytes());
    write(
        "json",
        "mixed",
        format!(
            " \n[{}, 5, null, [], \"x\", {{\"id\":true}}, {}]",
            lines[4], lines[5]
        )
        .as_bytes(),
    );

    // CSV: the fixture, a BOM with quoted newlines and ragged rows, missing columns.
    let rows = csv_rows(&lines);
    write(
        "csv",
        "fixture",
        format!("{}\n{}\n", CSV_HEADER.join(","), rows.join("\n")).as_bytes(),
    );
    write(
        "csv",
        "fixture-crlf",
        format!("{}\r\n{}\r\n", CSV_HEADER.join(","), rows.join("\r\n")).as_bytes(),
    );
    write(
        "csv",
        "bom-quotes-ragged",
        "\u{feff}id,ts,kind,district,person,channel\r\n\
         c1,2017-06-28T10:00:00+08:00,scan,110106,p-csv-01,\"hall,\nnorth \"\"A\"\"\"\r\n\
         c2,2017-06-28T10:00:00+08:00,scan,110106\r\n\r\n\
         c3,2017-06-28T10:00:00+08:00,scan,110106,p-csv-03,,extra\r\n\
         c4,2017-06-28T10:00:00+08:00,scan,丰台区,\"p-0\r\n04\"\r\n\
         c5,2017-06-28T10:00:00+08:00,scan,110106,\"unclosed\n"
            .as_bytes(),
    );
    write(
        "csv",
        "missing-columns",
        b"id,kind,person\n1,scan,p-123456\n",
    );
    write(
        "csv",
        "extra-columns",
        b" id , ts ,kind,district,person,rate,value,note\n\
          o1,2017-06-28T10:00:00+08:00,outcome,110106,p-000001,control,1,x\n\
          o2,2017-06-28T10:00:00+08:00,outcome,110106,p-000002,control,\xff,y\n",
    );

    // Arrow IPC streams: good, several batches, other string types, wrong types.
    let utf8 = DataType::Utf8;
    let ts_tz = DataType::Timestamp(TimeUnit::Microsecond, Some("+08:00".into()));
    let ts_utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let ts_naive = DataType::Timestamp(TimeUnit::Microsecond, None);
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let b = DataType::Boolean;
    write(
        "arrow",
        "six-kinds",
        &stream(&[batch(12, &utf8, &utf8, &b)]),
    );
    write("arrow", "one-row", &stream(&[batch(1, &utf8, &utf8, &b)]));
    write(
        "arrow",
        "three-batches",
        &stream(&[
            batch(2, &utf8, &utf8, &b),
            batch(0, &utf8, &utf8, &b),
            batch(6, &utf8, &utf8, &b),
        ]),
    );
    write(
        "arrow",
        "ts-timestamp-tz",
        &stream(&[batch(6, &utf8, &ts_tz, &b)]),
    );
    write(
        "arrow",
        "ts-timestamp-utc",
        &stream(&[batch(6, &utf8, &ts_utc, &b)]),
    );
    write(
        "arrow",
        "value-utf8",
        &stream(&[batch(6, &utf8, &utf8, &utf8)]),
    );
    write(
        "arrow",
        "person-large-utf8",
        &stream(&[batch(6, &DataType::LargeUtf8, &utf8, &b)]),
    );
    write(
        "arrow",
        "person-utf8-view",
        &stream(&[batch(6, &DataType::Utf8View, &utf8, &b)]),
    );
    write(
        "arrow",
        "person-dictionary",
        &stream(&[batch(6, &dict, &dict, &b)]),
    );
    // Wrong column types: refused whole.
    write(
        "arrow",
        "person-int64",
        &stream(&[batch(4, &DataType::Int64, &utf8, &b)]),
    );
    write(
        "arrow",
        "ts-int64",
        &stream(&[batch(4, &utf8, &DataType::Int64, &b)]),
    );
    write(
        "arrow",
        "ts-timestamp-naive",
        &stream(&[batch(4, &utf8, &ts_naive, &b)]),
    );
    // A schema without the required columns.
    let partial = batch(3, &utf8, &utf8, &b).project(&[0, 2, 4]).unwrap();
    write("arrow", "missing-columns", &stream(&[partial]));
    // A stream cut short after its first batch.
    let whole = stream(&[batch(3, &utf8, &utf8, &b), batch(3, &utf8, &utf8, &b)]);
    write("arrow", "truncated", &whole[..whole.len() * 3 / 4]);

    // Websocket client messages.
    write("ws_client_message", "resync", br#"{"type":"resync"}"#);
    write(
        "ws_client_message",
        "resync-extra-field",
        br#"{"type":"resync","since":12}"#,
    );
    write(
        "ws_client_message",
        "unknown-type",
        br#"{"type":"subscribe","to":"110106"}"#,
    );
    write("ws_client_message", "array", b"[1,2,{\"type\":\"resync\"}]");
    write(
        "ws_client_message",
        "escaped",
        b" {\"t\\u0079pe\" : \"re\\u0073ync\" } ",
    );
}
