//! Where hashbrown puts a hash, for filling a large table in order.
//!
//! Millions of inserts at random places of a table far larger than the
//! caches miss the cache at each; inserted in the order of their place they
//! walk the table from start to end (`aggregate/intern.rs` for persons,
//! `store/ids.rs` for stored event ids).

/// The bits of a hash that give its first place in a hashbrown table of
/// `capacity`: a power-of-two number of buckets holds the capacity at 7/8
/// full, and a hash is looked for first at `hash & (buckets - 1)`.
pub fn first_place_mask(capacity: usize) -> u64 {
    (capacity * 8 / 7).next_power_of_two().max(1) as u64 - 1
}
