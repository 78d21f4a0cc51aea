//! Lines a stranger can cause (a refused forward call) are logged at most
//! so many a second; the rest are counted and summed up in one line when
//! the next second's first line is written, so a flood cannot fill disks
//! or drown the log pipeline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct LogLimit {
    per_second: u64,
    /// The current second (high 32 bits) and lines written in it (low 32).
    window: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimit {
    pub const fn new(per_second: u64) -> Self {
        Self {
            per_second,
            window: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether to write a line now; `Some(n)`: yes, and `n` earlier lines
    /// were left out (say so).
    pub fn admit(&self) -> Option<u64> {
        let second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            & 0xffff_ffff;
        let mut current = self.window.load(Ordering::Relaxed);
        loop {
            let (window, written) = (current >> 32, current & 0xffff_ffff);
            let next = if window == second {
                if written >= self.per_second {
                    self.suppressed.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                current + 1
            } else {
                (second << 32) | 1
            };
            match self.window.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.suppressed.swap(0, Ordering::Relaxed)),
                Err(seen) => current = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_the_rate_and_counts_the_rest() {
        let limit = LogLimit::new(5);
        let admitted = (0..1000).filter(|_| limit.admit().is_some()).count();
        // The loop may straddle a second boundary: at most two windows.
        assert!((5..=10).contains(&admitted), "{admitted}");
        assert!(limit.suppressed.load(Ordering::Relaxed) > 0);
    }
}
