//! Every stored event id, kept in memory as a 64-bit hash, so that a new id
//! is known to be new without asking DuckDB.
//!
//! `events.id` had a primary key; DuckDB checked each appended id against an
//! ART index of every stored id, and wrote that index at each checkpoint:
//! with a million stored events an append cost 5.8 µs an event with the key
//! and 2.0 µs without, a commit 6.9 µs and 3.4 µs
//! (docs/decisions/0010-stored-ids-kept-as-hashes-not-a-primary-key.md). The
//! writer now decides with this set: a hash it has never seen is a new id; a
//! hash it holds is only a *candidate* — two ids may share a hash — and
//! DuckDB is asked which candidates are really stored ([`CANDIDATES_SQL`]).
//! So the answer stays exact, and only a request that repeats stored ids
//! (a resend) pays for a scan of the id column.
//!
//! Memory: 9 bytes a slot (the hash and hashbrown's control byte), in a
//! table between 7/16 and 7/8 full: 10–21 bytes a stored id (some 150 MiB
//! at ten million).

use std::hash::BuildHasher;

use duckdb::Connection;
use foldhash::quality::RandomState;
use hashbrown::HashTable;

use super::StoreError;

/// The per-connection table the candidates go to, and the question asked.
pub(super) const CANDIDATES_TABLE_SQL: &str =
    "CREATE TEMP TABLE IF NOT EXISTS candidates (id VARCHAR NOT NULL)";

/// Which candidates are stored: DuckDB builds its hash table on the few
/// candidates and reads the id column once.
const CANDIDATES_SQL: &str = "SELECT id FROM events WHERE id IN (SELECT id FROM candidates)";

pub(super) struct StoredIds {
    table: HashTable<u64>,
    /// Seeded per process: nobody outside can choose ids that collide.
    hasher: RandomState,
    /// Bits of the hash kept: all of them, except in tests that want
    /// collisions.
    mask: u64,
}

impl StoredIds {
    /// Every id stored in `events`, which holds `stored` rows (the writer
    /// counts them when it opens the file; the table is sized for them).
    pub(super) fn load(conn: &Connection, stored: u64) -> Result<StoredIds, StoreError> {
        StoredIds::load_masked(conn, stored, u64::MAX)
    }

    fn load_masked(conn: &Connection, stored: u64, mask: u64) -> Result<StoredIds, StoreError> {
        use arrow::array::AsArray;
        use arrow::datatypes::DataType;

        let mut ids = StoredIds {
            table: HashTable::with_capacity(stored as usize),
            hasher: RandomState::default(),
            mask,
        };
        let mut hashes = Vec::with_capacity(stored as usize);
        let mut stmt = conn.prepare("SELECT id FROM events")?;
        for batch in stmt.query_arrow([])? {
            let column = arrow::compute::cast(batch.column(0), &DataType::Utf8)
                .map_err(|e| StoreError::Transaction(format!("reading the stored ids: {e}")))?;
            hashes.extend(
                column
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .map(|id| ids.hash(id)),
            );
        }
        // In the order of their place in the table (see crate::hashing).
        let place = crate::hashing::first_place_mask(ids.table.capacity());
        hashes.sort_unstable_by_key(|h| h & place);
        for hash in hashes {
            ids.insert(hash);
        }
        Ok(ids)
    }

    /// Like [`load`](StoredIds::load), keeping only the low `bits` of each
    /// hash: many ids then share one, as two ids rarely do in earnest.
    #[cfg(test)]
    pub(super) fn load_colliding(conn: &Connection, stored: u64, bits: u32) -> StoredIds {
        StoredIds::load_masked(conn, stored, (1 << bits) - 1).unwrap()
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id) & self.mask
    }

    /// Whether an id with this hash may be stored.
    pub(super) fn may_hold(&self, hash: u64) -> bool {
        self.table.find(hash, |&h| h == hash).is_some()
    }

    /// Records a stored id's hash (a hash already there is kept once).
    pub(super) fn insert(&mut self, hash: u64) {
        // One probe, where a lookup then an insert would take two.
        if let hashbrown::hash_table::Entry::Vacant(place) =
            self.table.entry(hash, |&h| h == hash, |&h| h)
        {
            place.insert(hash);
        }
    }
}

/// Which of `candidates` are stored in `events`.
pub(super) fn stored_among(
    conn: &Connection,
    candidates: &[&str],
) -> Result<std::collections::HashSet<String>, StoreError> {
    conn.execute_batch("DELETE FROM candidates")?;
    {
        let mut app = conn.appender_to_catalog_and_db("candidates", "temp", "main")?;
        for id in candidates {
            app.append_row([id])?;
        }
        app.flush()?;
    }
    let mut stmt = conn.prepare_cached(CANDIDATES_SQL)?;
    let stored = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(stored)
}
