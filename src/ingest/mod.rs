//! Ingest: partner systems' events in, validated, to the store.
//!
//! [`decode`] splits a body into records, [`event`] validates each one,
//! [`prepare`] makes a body's batch and answer; `http::ingest` is the
//! endpoint, which answers only after the store committed.

pub mod bounds;
pub mod decode;
pub mod event;
pub mod prepare;
pub mod teams;
