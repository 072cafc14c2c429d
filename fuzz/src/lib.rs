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

#[path = "../../src/model.rs"]
pub mod model;

#[path = "../../src/region.rs"]
pub mod region;

// On an inline module, `path` names the folder its own modules are read from.
#[path = "../../src/ingest"]
pub mod ingest {
    pub mod decode;
    pub mod event;
}

#[path = "../../src/personal.rs"]
pub mod personal;

#[path = "../../src/publish"]
pub mod publish {
    pub mod delta;
    pub mod protocol;
}

use ingest::decode::decode_each;
use ingest::event::validate;
use model::Format;

/// The server's default bound on a body's decoded text (64 MiB).
pub const MAX_TEXT: u64 = 64 << 20;

/// A fixed "now" (2017-06-28 12:00 Beijing), so a run repeats exactly.
pub const NOW_MICROS: i64 = 1_498_651_200_000_000;

/// Decode a body as the server does, then validate every record: no panic
/// may escape, whatever the bytes.
pub fn decode_and_validate(format: Format, body: &[u8]) {
    no_escaping_panic(|| decode_and_validate_inner(format, body));
}

fn decode_and_validate_inner(format: Format, body: &[u8]) {
    thread_local! {
        static REGION: region::Region = region::Region::load("beijing").expect("the built-in region");
    }
    // As `prepare` does: each record validated as it is decoded.
    REGION.with(|region| {
        let _ = decode_each(format, body, MAX_TEXT, &mut |_, _, fields| {
            if let Ok(mut raw) = fields {
                let _ = validate(&mut raw, region, NOW_MICROS);
            }
        });
    });
}

thread_local! {
    /// The last panic's message and backtrace, kept by the hook below.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f`; a panic that escapes it is printed with its backtrace and
/// aborts the process, which libFuzzer records as a crash.
///
/// libfuzzer-sys's own panic hook aborts on every panic, even one that the
/// server's code catches on purpose (`decode_each` runs the Arrow reader under
/// `catch_unwind`, since arrow-ipc can panic on a malformed stream). This hook
/// only keeps the message, so a caught panic is, as in the server, an answer
/// and not a failure.
pub fn no_escaping_panic(f: impl FnOnce() + std::panic::UnwindSafe) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let report = format!("{info}\n{}", std::backtrace::Backtrace::force_capture());
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(report));
        }));
    });
    if std::panic::catch_unwind(f).is_err() {
        let report = LAST_PANIC.with(|last| last.borrow_mut().take());
        eprintln!(
            "panic escaped: {}",
            report.as_deref().unwrap_or("(no message)")
        );
        std::process::abort();
    }
}
