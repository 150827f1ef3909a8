//! When to try again: a fixed schedule of growing waits with full jitter, unless the receiver
//! says when (`Retry-After` on 429 and 503).

use std::time::Duration;

use rand::Rng;
use regulars_domain::Timestamp;

/// The waits after the first to seventh failed attempt; after the eighth, the message fails.
pub const DEFAULT_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The longest wait a `Retry-After` can ask for; a later date is treated as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// A uniformly random wait between zero and the scheduled one ("full jitter"), so
    /// receivers that failed together are not retried together.
    Full,
    /// Exactly the scheduled wait (for tests).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    pub schedule: Vec<Duration>,
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            schedule: DEFAULT_SCHEDULE.to_vec(),
            jitter: Jitter::Full,
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1 for the first), or `None` when that
    /// was the last one.
    pub fn delay(&self, attempt: i64) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        let base = *self.schedule.get(index)?;
        Some(match self.jitter {
            Jitter::None => base,
            Jitter::Full => {
                let millis = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
                Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
            }
        })
    }

    /// How many attempts a message gets in all.
    pub fn max_attempts(&self) -> usize {
        self.schedule.len() + 1
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP date, as a wait from `now` (never negative,
/// at most [`MAX_RETRY_AFTER`]). `None` when it is neither.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let millis = at.timestamp_millis().saturating_sub(now.0).max(0);
        Duration::from_millis(millis as u64)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_grows_then_ends() {
        let b = Backoff {
            jitter: Jitter::None,
            ..Backoff::default()
        };
        let waits: Vec<u64> = (1..=7).map(|n| b.delay(n).unwrap().as_secs()).collect();
        assert_eq!(waits, [5, 30, 120, 600, 3600, 21600, 86400]);
        assert_eq!(b.delay(8), None);
        assert_eq!(b.delay(0), None);
        assert_eq!(b.max_attempts(), 8);
    }

    #[test]
    fn full_jitter_stays_within_the_scheduled_wait() {
        let b = Backoff::default();
        let waits: Vec<Duration> = (0..200).map(|_| b.delay(2).unwrap()).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(30)));
        // 200 draws from 30,001 values: all equal would mean no jitter at all.
        assert!(waits.iter().any(|w| *w != waits[0]));
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = Timestamp(1_700_000_000_000);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        // 2023-11-14T22:13:20Z is `now`; ninety seconds later:
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:14:50 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
