//! Weibing: the live command center of a city's preventive-health program.
//!
//! The data flows through these modules, in this order:
//!
//! - [`ingest`]: `POST /api/v1/events`. Decodes NDJSON, JSON, CSV and Arrow
//!   bodies into records ([`ingest::decode`]), validates each one
//!   ([`ingest::event`]), answers after the store committed ([`ingest::http`]).
//! - [`store`]: the only module that touches DuckDB. A writer thread owns the
//!   events database (group commit, duplicates by id, rejected events kept);
//!   [`store::index`] runs `sql/index.sql` for the tick.
//! - [`aggregate`]: the live figures kept incrementally in memory
//!   ([`aggregate::Aggregator`]), the tick that folds new events in
//!   ([`aggregate::tick`]) and the state document it builds ([`aggregate::state`]).
//! - [`publish`]: the hub that turns each state into a delta (changed leaves,
//!   and RFC 6902 operations for changes of shape) or a heartbeat, serialized
//!   once for every websocket ([`publish::ws`]).
//! - [`web`]: the embedded wall screen.
//!
//! Around them: [`server`] wires the stages and the HTTP routes, [`cli`] is the
//! command line, [`simulate`] replays a launch morning through the ingest API,
//! [`region`] reads the region's files, [`access`] checks credentials, [`wall`] holds
//! the wall's launch moment, [`time`] is Beijing time, [`config`] the settings, [`metrics`] the
//! telemetry behind `/metrics` and `/readyz`.

pub mod access;
pub mod aggregate;
pub mod cli;
pub mod config;
pub mod console;
pub mod hashing;
pub mod ingest;
pub mod metrics;
pub mod publish;
pub mod region;
pub mod server;
pub mod serving;
pub mod settings;
pub mod simulate;
pub mod store;
pub mod time;
pub mod wall;
pub mod web;

#[cfg(test)]
mod layers;
