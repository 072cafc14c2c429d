//! Open websockets, bounded three ways: per client address (a runaway
//! script, a reconnect loop), per credential (one share link forwarded to
//! everyone must not take every slot) and in all (the server's memory). The
//! per-address bound is generous, since a hall's Wi-Fi or a carrier's NAT
//! puts many phones behind one address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The bounds (`--max-sockets-per-address`, `--max-sockets-per-link`,
/// `--max-sockets`).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub per_address: usize,
    pub per_credential: usize,
    pub total: usize,
    /// `resync`s one socket is answered in a minute (`--resyncs-per-minute`).
    pub resyncs_per_minute: usize,
}

#[derive(Debug)]
pub struct SocketLimit {
    bounds: Bounds,
    // A std Mutex: held to bump a few counters, never across an await.
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    by_address: HashMap<String, usize>,
    by_credential: HashMap<String, usize>,
    total: usize,
}

/// Which bound a refused socket met, in words for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Address,
    Credential,
    Total,
}

impl Full {
    pub fn message(self) -> &'static str {
        match self {
            Full::Address => "too many open websockets from this address; close some and retry",
            Full::Credential => {
                "too many open websockets with this link or wall token; ask for a link of your own"
            }
            Full::Total => "the server holds as many websockets as it may; retry in a minute",
        }
    }
}

/// One open socket; the counts go down when it is dropped.
#[derive(Debug)]
pub struct Slot {
    limit: Arc<SocketLimit>,
    address: String,
    credential: Option<String>,
}

impl SocketLimit {
    pub fn new(bounds: Bounds) -> Arc<SocketLimit> {
        Arc::new(SocketLimit {
            bounds,
            open: Mutex::default(),
        })
    }

    /// A slot for a socket of `address` opened with `credential` (a link's
    /// or wall token's id; staff have none), or the bound it meets.
    pub fn take(self: &Arc<Self>, address: &str, credential: Option<&str>) -> Result<Slot, Full> {
        let mut open = self.open.lock().expect("socket limit lock");
        if open.total >= self.bounds.total {
            return Err(Full::Total);
        }
        if open.by_address.get(address).copied().unwrap_or(0) >= self.bounds.per_address {
            return Err(Full::Address);
        }
        if let Some(c) = credential
            && open.by_credential.get(c).copied().unwrap_or(0) >= self.bounds.per_credential
        {
            return Err(Full::Credential);
        }
        open.total += 1;
        *open.by_address.entry(address.to_string()).or_default() += 1;
        if let Some(c) = credential {
            *open.by_credential.entry(c.to_string()).or_default() += 1;
        }
        Ok(Slot {
            limit: self.clone(),
            address: address.to_string(),
            credential: credential.map(str::to_string),
        })
    }

    pub fn open(&self, address: &str) -> usize {
        let open = self.open.lock().expect("socket limit lock");
        open.by_address.get(address).copied().unwrap_or(0)
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    pub fn total(&self) -> usize {
        self.open.lock().expect("socket limit lock").total
    }
}

fn release(map: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.limit.open.lock().expect("socket limit lock");
        open.total -= 1;
        release(&mut open.by_address, &self.address);
        if let Some(c) = &self.credential {
            release(&mut open.by_credential, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_address: usize, per_credential: usize, total: usize) -> Arc<SocketLimit> {
        SocketLimit::new(Bounds {
            per_address,
            per_credential,
            total,
            resyncs_per_minute: 10,
        })
    }

    #[test]
    fn an_address_holds_at_most_max_and_a_closed_one_frees_its_slot() {
        let limit = limit(2, 100, 100);
        let a = limit.take("10.0.0.1", None).unwrap();
        let _b = limit.take("10.0.0.1", None).unwrap();
        assert_eq!(limit.take("10.0.0.1", None).unwrap_err(), Full::Address);
        let _other = limit.take("10.0.0.2", None).unwrap();
        drop(a);
        assert_eq!(limit.open("10.0.0.1"), 1);
        assert!(limit.take("10.0.0.1", None).is_ok());
    }

    #[test]
    fn a_link_and_the_server_have_bounds_of_their_own() {
        let limit = limit(10, 2, 4);
        let one = limit.take("10.0.0.1", Some("link-a")).unwrap();
        let _two = limit.take("10.0.0.2", Some("link-a")).unwrap();
        assert_eq!(
            limit.take("10.0.0.3", Some("link-a")).unwrap_err(),
            Full::Credential
        );
        let _three = limit.take("10.0.0.3", Some("link-b")).unwrap();
        let _four = limit.take("10.0.0.4", None).unwrap();
        assert_eq!(limit.take("10.0.0.5", None).unwrap_err(), Full::Total);
        drop(one);
        assert_eq!(limit.total(), 3);
        assert!(limit.take("10.0.0.5", Some("link-a")).is_ok());
    }
}
