//! Weibing: the live command center of a city's preventive-health program.
//!
//! The data flows through these modules, in this order (ARCHITECTURE.md has
//! the code map and the invariants; `src/layers.rs` the order of imports):
//!
//! - The core every stage uses: [`model`] (the kinds, the fixed lists, an
//!   [`model::Event`]), [`personal`] (phone and identity-card numbers),
//!   [`region`] (the region's files), [`time`] (Beijing time).
//! - [`ingest`]: decodes NDJSON, JSON, CSV and Arrow bodies into records
//!   ([`ingest::decode`]), validates each one ([`ingest::event`]) and makes a
//!   body's batch and answer ([`ingest::prepare`]) within its bounds.
//! - [`store`]: the only module that opens DuckDB. A writer thread commits
//!   each group of requests to the ingest log ([`store::log`]) before they are
//!   answered, and a loader thread takes the groups into DuckDB;
//!   [`store::index`] runs `sql/index.sql`, the index's definition, which the
//!   tests check the tick's formula against.
//! - [`aggregate`]: the live figures kept incrementally in memory
//!   ([`aggregate::Aggregator`]), the tick that folds new events in
//!   ([`aggregate::tick`]) and the state document it builds ([`aggregate::state`]).
//! - [`publish`]: the hub that turns each state into a delta (changed leaves,
//!   and RFC 6902 operations for changes of shape) or a heartbeat, serialized
//!   once for every websocket.
//! - [`web`]: the embedded pages: the wall, the staff console and the
//!   leaders' view.
//!
//! Wiring them: [`live`] runs the tick on its own thread and hands the views
//! to the hubs, [`http`] holds the routes and every handler, [`server`]
//! starts and stops it all, [`serving`] holds the HTTP connections, [`cli`]
//! is the command line. Around them: [`access`] checks credentials,
//! [`settings`] the settings staff change, [`wall`] the wall's launch
//! moment, [`simulate`] replays a launch morning through the ingest API,
//! [`config`] the server's settings, [`metrics`] the telemetry behind
//! `/metrics` and `/readyz`, and [`hashing`] says where a hash lands in a
//! table.

pub mod access;
pub mod aggregate;
pub mod cli;
pub mod config;
pub mod edge;
pub mod hashing;
pub mod http;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod model;
pub mod personal;
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
