//! The integration tests, in one binary (one link of DuckDB): each module
//! starts the real server on 127.0.0.1:0 over a temporary database and talks
//! to it over HTTP and websockets. The slow suites are binaries of their own:
//! `faults` and `soak` (tests/*.rs) and `browser` (web/tests in Chromium).

#[path = "../common/mod.rs"]
mod common;

mod access;
mod backup;
mod bad_input;
mod durability;
mod handlers;
mod ingest;
mod limits;
mod openapi;
mod operations;
mod privacy;
mod resume;
mod review;
mod staff;
mod state;
mod websocket;
