//! Limits on guessing: sign-ins per address and per account name, failed
//! tokens per address, and password checks running at once (docs/api.md,
//! "Limits").
//!
//! A sign-in is counted *before* its password is checked ([`LoginLimiter::begin`]
//! reserves a failure, a success clears it), so attempts sent in parallel
//! cannot all pass the count while the first ones are still being checked.
//! At most [`MAX_CHECKS`] argon2 checks (about 19 MiB and a blocking thread
//! each) run at once; beyond that a sign-in is refused at once.
//!
//! Addresses are counted by host, IPv6 addresses by /64 (one customer's
//! prefix). Every map is bounded: expired entries are dropped when it is
//! full, then the least recently failing tenth of the entries that hold no
//! lock; a locked account is never forgotten.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How many failures within how long, and what then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max: usize,
    pub window: Duration,
    /// `Some`: the key is locked this long once `max` failures are in the
    /// window. `None`: it waits until the oldest failure leaves the window.
    pub lockout: Option<Duration>,
}

/// Failed sign-ins from one address (any name).
pub const ADDRESS: Policy = Policy {
    max: 5,
    window: Duration::from_secs(15 * 60),
    lockout: None,
};
/// Failed sign-ins for one name (from any address): the account is locked.
pub const ACCOUNT: Policy = Policy {
    max: 10,
    window: Duration::from_secs(15 * 60),
    lockout: Some(Duration::from_secs(15 * 60)),
};
/// Tokens (bearer or `?token=`) that matched no credential, per address.
pub const TOKENS: Policy = Policy {
    max: 100,
    window: Duration::from_secs(15 * 60),
    lockout: None,
};
/// One audit row for refused sign-ins per address in this long.
const REFUSALS: Policy = Policy {
    max: 1,
    window: Duration::from_secs(15 * 60),
    lockout: None,
};
/// Password checks running at once (each holds about 19 MiB).
pub const MAX_CHECKS: usize = 8;
/// Keys a map remembers at most.
pub const MAX_KEYS: usize = 100_000;
/// Characters of a name kept as its key (names are at most 40).
const NAME_KEY_CHARS: usize = 64;

/// Why a sign-in or a token was refused before it was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many failed sign-ins from this address.
    Address(Duration),
    /// The name is locked after too many failed sign-ins.
    Account(Duration),
    /// [`MAX_CHECKS`] password checks are running.
    Busy,
    /// The limiter cannot remember another name (every one it holds is locked).
    Full,
    /// Too many unknown tokens from this address.
    Tokens(Duration),
}

impl Refused {
    /// Whole seconds until a retry may pass (at least 1).
    pub fn retry_after(&self) -> u64 {
        match self {
            Refused::Address(d) | Refused::Account(d) | Refused::Tokens(d) => {
                d.as_secs_f64().ceil().max(1.0) as u64
            }
            Refused::Busy => 1,
            Refused::Full => 60,
        }
    }

    /// The reason, for the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            Refused::Address(_) => "too many failures from this address",
            Refused::Account(_) => "name locked",
            Refused::Busy => "too many sign-ins being checked",
            Refused::Full => "too many names locked",
            Refused::Tokens(_) => "too many unknown tokens from this address",
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.retry_after();
        match self {
            Refused::Address(_) => write!(
                f,
                "too many failed sign-ins from this address: try again in {secs} s"
            ),
            Refused::Account(_) => write!(
                f,
                "too many failed sign-ins for this name: it is locked; try again in {secs} s, or ask an admin to unlock it"
            ),
            Refused::Busy => write!(
                f,
                "too many sign-ins are being checked at once: try again in {secs} s"
            ),
            Refused::Full => write!(
                f,
                "too many names are locked after failed sign-ins: try again in {secs} s"
            ),
            Refused::Tokens(_) => write!(
                f,
                "too many unknown tokens from this address: try again in {secs} s"
            ),
        }
    }
}

/// The key an address is counted under: IPv6 by its /64, anything else as it is.
pub fn address_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{prefix}/64")
        }
        Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped().expect("mapped").to_string(),
        _ => address.to_string(),
    }
}

fn name_key(name: &str) -> String {
    name.chars().take(NAME_KEY_CHARS).collect()
}

#[derive(Debug)]
struct Entry {
    /// Failures (and reserved attempts) in the window, oldest first.
    times: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

impl Entry {
    fn last(&self) -> Option<Instant> {
        self.times.back().copied()
    }
}

/// Failures per key under one policy, at most `cap` keys.
#[derive(Debug)]
struct Failures {
    policy: Policy,
    cap: usize,
    map: HashMap<String, Entry>,
}

impl Failures {
    fn new(policy: Policy, cap: usize) -> Failures {
        Failures {
            policy,
            cap,
            map: HashMap::new(),
        }
    }

    /// Drops what left the window and a lock that passed; whether anything is left.
    fn prune(policy: &Policy, entry: &mut Entry, now: Instant) -> bool {
        while entry
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= policy.window)
        {
            entry.times.pop_front();
        }
        if entry.locked_until.is_some_and(|u| u <= now) {
            entry.locked_until = None;
        }
        !entry.times.is_empty() || entry.locked_until.is_some()
    }

    /// `Some(wait)` while `key` may not try.
    fn wait(&mut self, key: &str, now: Instant) -> Option<Duration> {
        let policy = self.policy;
        let entry = self.map.get_mut(key)?;
        if !Self::prune(&policy, entry, now) {
            self.map.remove(key);
            return None;
        }
        if let Some(until) = entry.locked_until {
            return Some(until - now);
        }
        (entry.times.len() >= policy.max).then(|| {
            let oldest = *entry.times.front().expect("not empty");
            policy.window - now.duration_since(oldest)
        })
    }

    /// Counts a failure; false if the map is full of locked keys.
    fn add(&mut self, key: &str, now: Instant) -> bool {
        if !self.map.contains_key(key) && !self.make_room(now) {
            return false;
        }
        let entry = self.map.entry(key.to_string()).or_insert(Entry {
            times: VecDeque::new(),
            locked_until: None,
        });
        entry.times.push_back(now);
        true
    }

    /// Locks `key` if the policy locks and its failures reached the limit.
    fn lock_if_due(&mut self, key: &str, now: Instant) {
        let Some(lockout) = self.policy.lockout else {
            return;
        };
        let max = self.policy.max;
        if let Some(entry) = self.map.get_mut(key)
            && entry.locked_until.is_none()
            && entry.times.len() >= max
        {
            entry.locked_until = Some(now + lockout);
            entry.times.clear();
        }
    }

    fn clear(&mut self, key: &str) -> bool {
        self.map.remove(key).is_some()
    }

    fn locked_until(&mut self, key: &str, now: Instant) -> Option<Instant> {
        let policy = self.policy;
        let entry = self.map.get_mut(key)?;
        Self::prune(&policy, entry, now);
        entry.locked_until
    }

    /// Room for one more key: expired keys go first, then the least recently
    /// failing tenth of the unlocked ones. False if every key is locked.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.map.len() < self.cap {
            return true;
        }
        let policy = self.policy;
        self.map.retain(|_, e| Self::prune(&policy, e, now));
        if self.map.len() < self.cap {
            return true;
        }
        let mut unlocked: Vec<(Instant, String)> = self
            .map
            .iter()
            .filter(|(_, e)| e.locked_until.is_none())
            .filter_map(|(k, e)| Some((e.last()?, k.clone())))
            .collect();
        if unlocked.is_empty() {
            return false;
        }
        let drop = (self.cap / 10).clamp(1, unlocked.len());
        if drop < unlocked.len() {
            unlocked.select_nth_unstable(drop - 1);
        }
        for (_, key) in unlocked.into_iter().take(drop) {
            self.map.remove(&key);
        }
        true
    }
}

#[derive(Debug)]
struct Maps {
    addresses: Failures,
    accounts: Failures,
    tokens: Failures,
    refusals: Failures,
}

/// A sign-in let through to its password check. Its failure is counted
/// already: only [`LoginLimiter::succeeded`] gives it back. Dropped without
/// either call (the client went away), it stays counted.
#[derive(Debug)]
pub struct Attempt {
    address: String,
    name: String,
}

#[derive(Debug)]
pub struct LoginLimiter {
    // A std Mutex: held for a few map operations, never across an await.
    maps: Mutex<Maps>,
    checks: Arc<Semaphore>,
}

impl Default for LoginLimiter {
    fn default() -> LoginLimiter {
        LoginLimiter::with_capacity(MAX_KEYS, MAX_CHECKS)
    }
}

impl LoginLimiter {
    /// A limiter remembering at most `keys` keys per map, running at most
    /// `checks` password checks at once.
    pub fn with_capacity(keys: usize, checks: usize) -> LoginLimiter {
        LoginLimiter {
            maps: Mutex::new(Maps {
                addresses: Failures::new(ADDRESS, keys),
                accounts: Failures::new(ACCOUNT, keys),
                tokens: Failures::new(TOKENS, keys),
                refusals: Failures::new(REFUSALS, keys),
            }),
            checks: Arc::new(Semaphore::new(checks)),
        }
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.lock().expect("limiter lock")
    }

    /// Lets a sign-in of `name` from `address` through to its password check,
    /// counting it as a failure until it succeeds, or says why not. The
    /// permit is to be held for as long as the check runs.
    pub fn begin(
        &self,
        address: &str,
        name: &str,
        now: Instant,
    ) -> Result<(Attempt, OwnedSemaphorePermit), Refused> {
        let (address, name) = (address_key(address), name_key(name));
        let mut maps = self.maps();
        if let Some(wait) = maps.addresses.wait(&address, now) {
            return Err(Refused::Address(wait));
        }
        if let Some(wait) = maps.accounts.wait(&name, now) {
            return Err(Refused::Account(wait));
        }
        let permit = self
            .checks
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Busy)?;
        if !maps.accounts.add(&name, now) {
            return Err(Refused::Full);
        }
        // Addresses are never all locked: there is always room.
        maps.addresses.add(&address, now);
        Ok((Attempt { address, name }, permit))
    }

    /// The password was wrong: the attempt stays counted, and the name is
    /// locked if that was one failure too many.
    pub fn failed(&self, attempt: Attempt, now: Instant) {
        self.maps().accounts.lock_if_due(&attempt.name, now);
    }

    /// The password was right: the address's and the name's failures are cleared.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut maps = self.maps();
        maps.addresses.clear(&attempt.address);
        maps.accounts.clear(&attempt.name);
    }

    /// Clears a name's lock and failures (an admin's unlock); whether it was locked.
    pub fn unlock(&self, name: &str, now: Instant) -> bool {
        let key = name_key(name);
        let mut maps = self.maps();
        let locked = maps.accounts.locked_until(&key, now).is_some();
        maps.accounts.clear(&key);
        locked
    }

    /// How long `name` stays locked, if it is.
    pub fn locked_for(&self, name: &str, now: Instant) -> Option<Duration> {
        self.maps()
            .accounts
            .locked_until(&name_key(name), now)
            .map(|until| until - now)
    }

    /// Whether a refused sign-in from `address` is the first in its window,
    /// so that a flood writes one audit row, not one per attempt.
    pub fn first_refusal(&self, address: &str, now: Instant) -> bool {
        let key = address_key(address);
        let mut maps = self.maps();
        if maps.refusals.wait(&key, now).is_some() {
            return false;
        }
        maps.refusals.add(&key, now);
        true
    }

    /// `Some(wait)` while `address` sent too many unknown tokens.
    pub fn token_wait(&self, address: &str, now: Instant) -> Option<Duration> {
        self.maps().tokens.wait(&address_key(address), now)
    }

    /// A token from `address` matched no credential.
    pub fn token_failed(&self, address: &str, now: Instant) {
        self.maps().tokens.add(&address_key(address), now);
    }

    /// Keys held: (addresses, names, token addresses), for tests.
    pub fn held(&self) -> (usize, usize, usize) {
        let maps = self.maps();
        (
            maps.addresses.map.len(),
            maps.accounts.map.len(),
            maps.tokens.map.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn fail(limiter: &LoginLimiter, address: &str, name: &str) -> Result<(), Refused> {
        let (attempt, _permit) = limiter.begin(address, name, Instant::now())?;
        limiter.failed(attempt, Instant::now());
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn the_sixth_try_waits_until_the_first_failure_leaves_the_window() {
        let limiter = LoginLimiter::default();
        let start = Instant::now();
        for i in 0..ADDRESS.max {
            assert_eq!(fail(&limiter, "10.0.0.1", &format!("n{i}")), Ok(()));
            tokio::time::advance(MINUTE).await;
        }
        // Five failures, at 0, 1, 2, 3 and 4 minutes; now it is 5 minutes.
        assert_eq!(
            fail(&limiter, "10.0.0.1", "n9"),
            Err(Refused::Address(10 * MINUTE))
        );
        // Another address is not affected.
        assert_eq!(fail(&limiter, "10.0.0.2", "n9"), Ok(()));
        tokio::time::advance(10 * MINUTE).await;
        assert_eq!(Instant::now() - start, 15 * MINUTE);
        assert_eq!(fail(&limiter, "10.0.0.1", "n9"), Ok(()));
        assert_eq!(
            fail(&limiter, "10.0.0.1", "n9"),
            Err(Refused::Address(MINUTE))
        );
        let (attempt, _) = limiter
            .begin("10.0.0.3", "n9", Instant::now())
            .expect("another address");
        limiter.succeeded(attempt);
        assert_eq!(fail(&limiter, "10.0.0.3", "n9"), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_count_before_their_check_ends() {
        let limiter = LoginLimiter::default();
        // Five begun, none finished: the sixth is refused all the same.
        let held: Vec<_> = (0..ADDRESS.max)
            .map(|_| limiter.begin("10.0.0.1", "admin", Instant::now()).unwrap())
            .collect();
        assert_eq!(
            limiter.begin("10.0.0.1", "admin", Instant::now()).err(),
            Some(Refused::Address(ADDRESS.window))
        );
        // One succeeds: the address's count is given back.
        let mut held = held.into_iter();
        let (first, _permit) = held.next().unwrap();
        limiter.succeeded(first);
        assert!(limiter.begin("10.0.0.1", "admin", Instant::now()).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn checks_beyond_the_bound_are_refused_at_once() {
        let limiter = LoginLimiter::with_capacity(MAX_KEYS, 2);
        let a = limiter.begin("10.0.0.1", "a", Instant::now()).unwrap();
        let _b = limiter.begin("10.0.0.2", "b", Instant::now()).unwrap();
        assert_eq!(
            limiter.begin("10.0.0.3", "c", Instant::now()).err(),
            Some(Refused::Busy)
        );
        // A refusal for being busy is not counted against the address.
        drop(a.1);
        for _ in 0..ADDRESS.max {
            let (attempt, permit) = limiter.begin("10.0.0.3", "c", Instant::now()).unwrap();
            drop(permit);
            limiter.failed(attempt, Instant::now());
        }
        assert!(matches!(
            limiter.begin("10.0.0.3", "c", Instant::now()),
            Err(Refused::Address(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_name_is_locked_after_ten_failures_from_any_address() {
        let limiter = LoginLimiter::default();
        for i in 0..ACCOUNT.max {
            assert_eq!(fail(&limiter, &format!("10.0.1.{i}"), "admin"), Ok(()));
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        // Locked for 15 minutes at the tenth failure (at 90 s); it is 100 s now.
        let wait = ACCOUNT.lockout.unwrap() - Duration::from_secs(10);
        assert_eq!(
            fail(&limiter, "10.0.2.1", "admin"),
            Err(Refused::Account(wait))
        );
        assert_eq!(limiter.locked_for("admin", Instant::now()), Some(wait));
        // A name that no account has is locked the same way (shown elsewhere):
        // another name is not affected.
        assert_eq!(fail(&limiter, "10.0.2.1", "zhang"), Ok(()));
        // The lock passes...
        tokio::time::advance(wait).await;
        assert_eq!(limiter.locked_for("admin", Instant::now()), None);
        assert_eq!(fail(&limiter, "10.0.2.2", "admin"), Ok(()));
        // ...and an admin may clear it earlier.
        for i in 0..ACCOUNT.max - 1 {
            fail(&limiter, &format!("10.0.3.{i}"), "admin").unwrap();
        }
        assert!(limiter.locked_for("admin", Instant::now()).is_some());
        assert!(limiter.unlock("admin", Instant::now()));
        assert!(!limiter.unlock("admin", Instant::now()));
        assert_eq!(fail(&limiter, "10.0.4.1", "admin"), Ok(()));
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        assert_eq!(address_key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            address_key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(address_key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(address_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address_key("192.0.2.7"), "192.0.2.7");
        assert_eq!(address_key("-"), "-");
    }

    #[tokio::test(start_paused = true)]
    async fn the_maps_stay_bounded() {
        let limiter = LoginLimiter::with_capacity(20, MAX_CHECKS);
        for i in 0..20 {
            fail(&limiter, &format!("10.1.0.{i}"), &format!("n{i}")).unwrap();
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(limiter.held(), (20, 20, 0));
        // Full: a new key makes room by forgetting the two (a tenth) that
        // failed longest ago.
        fail(&limiter, "10.1.1.1", "m").unwrap();
        assert_eq!(limiter.held(), (19, 19, 0));
        assert_eq!(
            limiter.maps().addresses.map.get("10.1.0.0").map(|_| ()),
            None
        );
        assert_eq!(
            limiter.maps().addresses.map.get("10.1.0.1").map(|_| ()),
            None
        );
        assert!(limiter.maps().addresses.map.contains_key("10.1.0.2"));
        // Once they left the window, every expired key goes at the next need of room.
        tokio::time::advance(ADDRESS.window).await;
        fail(&limiter, "10.1.1.2", "m2").unwrap();
        assert_eq!(limiter.held(), (20, 20, 0));
        fail(&limiter, "10.1.1.3", "m3").unwrap();
        assert_eq!(limiter.held(), (2, 2, 0));
        // Unknown tokens are bounded the same way.
        for i in 0..50 {
            limiter.token_failed(&format!("10.2.0.{i}"), Instant::now());
        }
        // (twenty, then nineteen after each eviction of two: the fiftieth fills it)
        assert_eq!(limiter.held().2, 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_map_full_of_locked_names_refuses_new_names_and_forgets_no_lock() {
        let limiter = LoginLimiter::with_capacity(3, MAX_CHECKS);
        for name in ["a", "b", "c"] {
            for i in 0..ACCOUNT.max {
                fail(&limiter, &format!("10.3.{i}.1"), name).unwrap();
            }
        }
        assert_eq!(limiter.held().1, 3);
        assert_eq!(fail(&limiter, "10.4.0.1", "d"), Err(Refused::Full));
        for name in ["a", "b", "c"] {
            assert!(limiter.locked_for(name, Instant::now()).is_some());
        }
        // Once the locks pass, new names are counted again.
        tokio::time::advance(ACCOUNT.lockout.unwrap()).await;
        assert_eq!(fail(&limiter, "10.4.0.1", "d"), Ok(()));
        assert_eq!(limiter.held().1, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_refusals_is_audited_once_per_window() {
        let limiter = LoginLimiter::default();
        assert!(limiter.first_refusal("10.0.0.1", Instant::now()));
        assert!(!limiter.first_refusal("10.0.0.1", Instant::now()));
        assert!(limiter.first_refusal("10.0.0.2", Instant::now()));
        tokio::time::advance(REFUSALS.window).await;
        assert!(limiter.first_refusal("10.0.0.1", Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_tokens_are_limited_per_address() {
        let limiter = LoginLimiter::default();
        for _ in 0..TOKENS.max {
            assert_eq!(limiter.token_wait("2001:db8::1", Instant::now()), None);
            limiter.token_failed("2001:db8::1", Instant::now());
        }
        assert_eq!(
            limiter.token_wait("2001:db8::2", Instant::now()),
            Some(TOKENS.window)
        );
        assert_eq!(limiter.token_wait("2001:db8:0:1::1", Instant::now()), None);
    }
}
