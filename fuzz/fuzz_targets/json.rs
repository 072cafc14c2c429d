#![no_main]

use libfuzzer_sys::fuzz_target;
use weibing_fuzz::model::Format;

fuzz_target!(|body: &[u8]| {
    weibing_fuzz::decode_and_validate(Format::Json, body);
});
