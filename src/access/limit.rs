//! Failed logins are limited per address: after [`MAX_FAILURES`] failures
//! within [`WINDOW`], that address is refused (429) until the oldest of them
//! leaves the window. A success clears the address's failures.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at most; beyond it the oldest windows are dropped.
const MAX_ADDRESSES: usize = 100_000;

#[derive(Debug, Default)]
pub struct LoginLimiter {
    // A std Mutex: held for a few operations on one entry, never across an await.
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// `Some(wait)` if `address` must wait before trying again.
    pub fn check(&self, address: &str, now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().expect("limiter lock");
        let times = map.get_mut(address)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= MAX_FAILURES {
            let oldest = *times.front().expect("not empty");
            Some(WINDOW - now.duration_since(oldest))
        } else {
            None
        }
    }

    pub fn failed(&self, address: &str, now: Instant) {
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() >= MAX_ADDRESSES && !map.contains_key(address) {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        map.entry(address.to_string()).or_default().push_back(now);
    }

    pub fn succeeded(&self, address: &str) {
        self.failures.lock().expect("limiter lock").remove(address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_sixth_try_waits_until_the_first_failure_leaves_the_window() {
        let limiter = LoginLimiter::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert_eq!(limiter.check("10.0.0.1", Instant::now()), None);
            limiter.failed("10.0.0.1", Instant::now());
            tokio::time::advance(Duration::from_secs(60)).await;
        }
        // Five failures, at 0, 1, 2, 3 and 4 minutes; now it is 5 minutes.
        assert_eq!(
            limiter.check("10.0.0.1", Instant::now()),
            Some(Duration::from_secs(10 * 60))
        );
        // Another address is not affected.
        assert_eq!(limiter.check("10.0.0.2", Instant::now()), None);
        tokio::time::advance(Duration::from_secs(10 * 60)).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(15 * 60));
        assert_eq!(limiter.check("10.0.0.1", Instant::now()), None);
        limiter.failed("10.0.0.1", Instant::now());
        assert_eq!(
            limiter.check("10.0.0.1", Instant::now()),
            Some(Duration::from_secs(60))
        );
        limiter.succeeded("10.0.0.1");
        assert_eq!(limiter.check("10.0.0.1", Instant::now()), None);
    }
}
