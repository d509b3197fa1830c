//! Order statistics of benchmark samples: min, median, p90 and max.
//!
//! Percentiles use the nearest-rank method (the smallest sample at or above the given share of
//! samples), so every reported number is a time that was actually measured. Means are left
//! out on purpose: latency distributions are skewed and a mean hides the tail.

use std::time::Duration;

use serde::Serialize;

/// The summary of one set of samples, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub samples: usize,
    pub min_us: u64,
    pub median_us: u64,
    pub p90_us: u64,
    pub max_us: u64,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        let mut sorted: Vec<u64> = samples.iter().map(|d| micros(*d)).collect();
        sorted.sort_unstable();
        let first = *sorted.first()?;
        let last = *sorted.last()?;
        Some(Summary {
            samples: sorted.len(),
            min_us: first,
            median_us: nearest_rank(&sorted, 50),
            p90_us: nearest_rank(&sorted, 90),
            max_us: last,
        })
    }
}

/// Whole microseconds, saturating (a sample longer than 584 000 years is not expected).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The nearest-rank `percent` percentile of `samples` in nanoseconds; 0 for no samples.
pub fn percentile_ns(samples: &[Duration], percent: usize) -> u64 {
    let mut sorted: Vec<u64> =
        samples.iter().map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).collect();
    sorted.sort_unstable();
    if sorted.is_empty() { 0 } else { nearest_rank(&sorted, percent) }
}

/// Milliseconds with three decimals, for tables.
pub fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// The nearest-rank `percent` percentile of a sorted, non-empty slice.
pub fn nearest_rank(sorted: &[u64], percent: usize) -> u64 {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_micros(*v)).collect()
    }

    #[test]
    fn no_samples_have_no_summary() {
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn one_sample_is_every_statistic() {
        let s = Summary::of(&us(&[7])).unwrap();
        assert_eq!((s.min_us, s.median_us, s.p90_us, s.max_us), (7, 7, 7, 7));
    }

    #[test]
    fn percentiles_are_measured_values_by_nearest_rank() {
        // Ten samples 1..=10 in shuffled order: the median is the 5th, p90 the 9th.
        let s = Summary::of(&us(&[10, 3, 1, 9, 2, 8, 4, 7, 5, 6])).unwrap();
        assert_eq!((s.min_us, s.median_us, s.p90_us, s.max_us), (1, 5, 9, 10));
        assert_eq!(s.samples, 10);
    }

    #[test]
    fn twenty_samples_put_p90_at_the_eighteenth() {
        let values: Vec<u64> = (1..=20).collect();
        let s = Summary::of(&us(&values)).unwrap();
        assert_eq!((s.median_us, s.p90_us), (10, 18));
    }

    #[test]
    fn milliseconds_keep_three_decimals() {
        assert_eq!(ms(1_234_567), "1234.567");
        assert_eq!(ms(5), "0.005");
    }
}
