//! Open websockets per client address, bounded: one address cannot hold the
//! server's sockets (a runaway script, a reconnect loop). The bound is
//! generous, since a hall's Wi-Fi or a carrier's NAT puts many phones behind
//! one address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct SocketLimit {
    max: usize,
    // A std Mutex: held to bump one counter, never across an await.
    open: Mutex<HashMap<String, usize>>,
}

/// One open socket of an address; the count goes down when it is dropped.
#[derive(Debug)]
pub struct Slot {
    limit: Arc<SocketLimit>,
    address: String,
}

impl SocketLimit {
    pub fn new(max: usize) -> Arc<SocketLimit> {
        Arc::new(SocketLimit {
            max,
            open: Mutex::default(),
        })
    }

    /// A slot for `address`, or None when it already holds `max` sockets.
    pub fn take(self: &Arc<Self>, address: &str) -> Option<Slot> {
        let mut open = self.open.lock().expect("socket limit lock");
        let n = open.entry(address.to_string()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            limit: self.clone(),
            address: address.to_string(),
        })
    }

    pub fn open(&self, address: &str) -> usize {
        let open = self.open.lock().expect("socket limit lock");
        open.get(address).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.limit.open.lock().expect("socket limit lock");
        if let Some(n) = open.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_max_and_a_closed_one_frees_its_slot() {
        let limit = SocketLimit::new(2);
        let a = limit.take("10.0.0.1").unwrap();
        let _b = limit.take("10.0.0.1").unwrap();
        assert!(limit.take("10.0.0.1").is_none());
        let _other = limit.take("10.0.0.2").unwrap();
        drop(a);
        assert_eq!(limit.open("10.0.0.1"), 1);
        assert!(limit.take("10.0.0.1").is_some());
    }
}
