//! The server's own decoding code, compiled alone for fuzzing.
//!
//! The files are included from `../src` by path, in the same module tree as
//! in the server (so `crate::region`, `super::event` resolve unchanged),
//! rather than depending on the `weibing` crate: that crate links DuckDB,
//! whose C++ build takes most of an hour and would be redone under the
//! fuzzer's compiler flags. What is fuzzed is the very source the server runs.

#![allow(dead_code)]

#[path = "../../src/time.rs"]
pub mod time;

#[path = "../../src/region.rs"]
pub mod region;

// On an inline module, `path` names the folder its own modules are read from.
#[path = "../../src/ingest"]
pub mod ingest {
    pub mod decode;
    pub mod event;
}

#[path = "../../src/publish"]
pub mod publish {
    pub mod protocol;
}

use ingest::decode::{Format, decode};
use ingest::event::validate;

/// A fixed "now" (2017-06-28 12:00 Beijing), so a run repeats exactly.
pub const NOW_MICROS: i64 = 1_498_651_200_000_000;

/// Decode a body as the server does, then validate every record: must never
/// panic, whatever the bytes.
pub fn decode_and_validate(format: Format, body: &[u8]) {
    thread_local! {
        static REGION: region::Region = region::Region::load("beijing").expect("the built-in region");
    }
    let Ok(records) = decode(format, body) else {
        return;
    };
    REGION.with(|region| {
        for record in &records {
            if let Ok(raw) = &record.event {
                let _ = validate(raw, region, NOW_MICROS);
            }
        }
    });
}
