//! Person ids to dense numbers, for millions of persons.
//!
//! The ids are kept end to end in one string and the table holds where each
//! is and its number (16 bytes a slot): no allocation per person, and
//! nothing to free one by one; finding an id reads the table and the text
//! once each. A map of boxed
//! strings cost a heap allocation and 40 bytes per person, and most of the
//! time of a start over millions of persons went to them.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

/// Where an id is in the text, and its number.
#[derive(Clone, Copy)]
struct Slot {
    start: usize,
    len: u32,
    n: u32,
}

#[derive(Default)]
pub struct Interner {
    /// Every id, end to end, in number order.
    text: String,
    /// Where each id ends in `text`.
    ends: Vec<usize>,
    table: HashTable<Slot>,
    /// Seeded per process, like the standard maps.
    hasher: RandomState,
}

impl Interner {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The id numbered `n`.
    pub fn get(&self, n: u32) -> &str {
        slice(&self.text, &self.ends, n)
    }

    /// Numbers `ids` 0, 1, 2… in order; `None` if one repeats.
    ///
    /// Millions of inserts at random places of a table far larger than the
    /// caches cost a cache and TLB miss each; inserted in the order of their
    /// place in the table instead, they walk it from start to end.
    pub fn from_ids(ids: &[&str]) -> Option<Interner> {
        let mut new = Interner::default();
        let bytes = ids.iter().map(|id| id.len()).sum();
        new.text.reserve_exact(bytes);
        new.ends.reserve_exact(ids.len());
        for id in ids {
            new.text.push_str(id);
            new.ends.push(new.text.len());
        }
        new.table.reserve(ids.len(), |_| unreachable!("empty"));
        let place = crate::hashing::first_place_mask(new.table.capacity());
        let shift = place.count_ones().saturating_sub(16);
        let hashes: Vec<u64> = ids.iter().map(|id| new.hasher.hash_one(id)).collect();
        // A counting sort on the top 16 bits of the place.
        let bin = |h: u64| ((h & place) >> shift) as usize;
        let mut starts = vec![0usize; (1 << 16) + 1];
        for &h in &hashes {
            starts[bin(h) + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut order = vec![0u32; ids.len()];
        for (n, &h) in hashes.iter().enumerate() {
            let b = bin(h);
            order[starts[b]] = n as u32;
            starts[b] += 1;
        }
        let (text, hasher) = (&new.text, &new.hasher);
        for n in order {
            let (hash, start) = (
                hashes[n as usize],
                new.ends[n as usize] - ids[n as usize].len(),
            );
            let slot = Slot {
                start,
                len: u32::try_from(ids[n as usize].len()).ok()?,
                n,
            };
            if new
                .table
                .find(hash, |s| at(text, s) == at(text, &slot))
                .is_some()
            {
                return None;
            }
            new.table
                .insert_unique(hash, slot, |s| hasher.hash_one(at(text, s)));
        }
        Some(new)
    }

    /// The number of `id`, and whether it is new (numbered `len()` before).
    pub fn intern(&mut self, id: &str) -> (u32, bool) {
        let hash = self.hasher.hash_one(id);
        let text = &self.text;
        if let Some(slot) = self.table.find(hash, |s| at(text, s) == id) {
            return (slot.n, false);
        }
        let n = u32::try_from(self.ends.len()).expect("fewer than 2^32 persons");
        let len = u32::try_from(id.len()).expect("an id shorter than 4 GiB");
        let slot = Slot {
            start: self.text.len(),
            len,
            n,
        };
        self.text.push_str(id);
        self.ends.push(self.text.len());
        let (text, hasher) = (&self.text, &self.hasher);
        self.table
            .insert_unique(hash, slot, |s| hasher.hash_one(at(text, s)));
        (n, true)
    }
}

fn at<'a>(text: &'a str, slot: &Slot) -> &'a str {
    &text[slot.start..slot.start + slot.len as usize]
}

fn slice<'a>(text: &'a str, ends: &[usize], n: u32) -> &'a str {
    let n = n as usize;
    let start = if n == 0 { 0 } else { ends[n - 1] };
    &text[start..ends[n]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_ids_densely_and_finds_them_again() {
        let mut ids = Interner::default();
        assert_eq!(ids.intern("p-1"), (0, true));
        assert_eq!(ids.intern(""), (1, true));
        assert_eq!(ids.intern("患者-𠀀"), (2, true));
        assert_eq!(ids.intern("p-1"), (0, false));
        assert_eq!(ids.intern(""), (1, false));
        assert_eq!(ids.intern("患者-𠀀"), (2, false));
        assert_eq!(ids.len(), 3);
        assert_eq!((ids.get(0), ids.get(1), ids.get(2)), ("p-1", "", "患者-𠀀"));
        // Past several growths of the table, every id keeps its number.
        for i in 0..10_000 {
            assert_eq!(ids.intern(&format!("x{i}")), (3 + i, true));
        }
        for i in (0..10_000).rev() {
            assert_eq!(ids.intern(&format!("x{i}")), (3 + i, false));
            assert_eq!(ids.get(3 + i), format!("x{i}"));
        }
    }

    #[test]
    fn from_ids_numbers_them_in_order_and_refuses_repeats() {
        let names: Vec<String> = (0..50_000).map(|i| format!("p-{i:08x}")).collect();
        let mut list: Vec<&str> = names.iter().map(String::as_str).collect();
        list.push("患者-𠀀");
        list.push("");
        let mut ids = Interner::from_ids(&list).expect("no repeats");
        assert_eq!(ids.len(), list.len());
        for (n, id) in list.iter().enumerate() {
            assert_eq!(ids.get(n as u32), *id);
            assert_eq!(ids.intern(id), (n as u32, false));
        }
        assert_eq!(ids.intern("new"), (list.len() as u32, true));
        assert!(Interner::from_ids(&[]).is_some_and(|i| i.len() == 0));
        list.push("p-00000007");
        assert!(Interner::from_ids(&list).is_none());
    }
}
