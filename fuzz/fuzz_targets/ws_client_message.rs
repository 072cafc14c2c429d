#![no_main]

use libfuzzer_sys::fuzz_target;

// The server reads text frames only; a binary frame is answered before parsing.
fuzz_target!(|frame: &[u8]| {
    if let Ok(text) = std::str::from_utf8(frame) {
        weibing_fuzz::no_escaping_panic(|| {
            let _ = weibing_fuzz::publish::protocol::parse_client(text);
        });
    }
});
