#![no_main]

use libfuzzer_sys::fuzz_target;
use weibing_fuzz::ingest::decode::Format;

fuzz_target!(|body: &[u8]| {
    weibing_fuzz::decode_and_validate(Format::Csv, body);
});
