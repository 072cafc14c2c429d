//! Ingest: partner systems' events in, validated, to the store.
//!
//! [`decode`] splits a body into records, [`event`] validates each one, and
//! [`http`] is the endpoint that answers only after the store committed.

pub mod bounds;
pub mod decode;
pub mod event;
pub mod http;
pub mod teams;
