//! What `/readyz` reports beside the database: whether the intake writer
//! and the dispatcher are running, and whether shutdown has begun. Each
//! part marks itself; the health route only reads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A dispatcher that has not polled for this long is stuck, whatever its
/// poll interval (seconds, not its 500 ms, so a busy machine is not
/// reported down).
const DISPATCHER_STALE: Duration = Duration::from_secs(30);

/// Shared by the parts that mark themselves and the route that reads them.
#[derive(Debug)]
pub struct Readiness {
    started: Instant,
    draining: AtomicBool,
    intake_running: AtomicBool,
    dispatcher_running: AtomicBool,
    /// Milliseconds after `started` of the dispatcher's last poll.
    dispatcher_beat_ms: AtomicU64,
}

/// Why hookgate is not ready, in the words `/readyz` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    Draining,
    IntakeStopped,
    DispatcherStopped,
    DispatcherStalled,
}

impl NotReady {
    pub fn detail(self) -> &'static str {
        match self {
            Self::Draining => "draining: hookgate is shutting down",
            Self::IntakeStopped => "the intake writer is not running",
            Self::DispatcherStopped => "the delivery dispatcher is not running",
            Self::DispatcherStalled => "the delivery dispatcher has not polled for 30 s",
        }
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            draining: AtomicBool::new(false),
            intake_running: AtomicBool::new(false),
            dispatcher_running: AtomicBool::new(false),
            dispatcher_beat_ms: AtomicU64::new(0),
        }
    }
}

impl Readiness {
    /// Shutdown has begun: load balancers should send traffic elsewhere.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Held by the intake writer's thread; dropping it (the loop ended or
    /// panicked) marks intake stopped.
    pub fn intake_running(self: &std::sync::Arc<Self>) -> RunningGuard {
        RunningGuard::new(self.clone(), |r| &r.intake_running)
    }

    /// Held by the dispatcher actor; dropped when it stops.
    pub fn dispatcher_running(self: &std::sync::Arc<Self>) -> RunningGuard {
        self.dispatcher_beat();
        RunningGuard::new(self.clone(), |r| &r.dispatcher_running)
    }

    /// The dispatcher polled.
    pub fn dispatcher_beat(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.dispatcher_beat_ms.store(ms, Ordering::Relaxed);
    }

    /// Every reason hookgate is not ready now, first the most telling.
    pub fn problems(&self) -> Vec<NotReady> {
        let mut problems = Vec::new();
        if self.draining.load(Ordering::SeqCst) {
            problems.push(NotReady::Draining);
        }
        if !self.intake_running.load(Ordering::SeqCst) {
            problems.push(NotReady::IntakeStopped);
        }
        if !self.dispatcher_running.load(Ordering::SeqCst) {
            problems.push(NotReady::DispatcherStopped);
        } else if self.dispatcher_silent_for() > DISPATCHER_STALE {
            problems.push(NotReady::DispatcherStalled);
        }
        problems
    }

    fn dispatcher_silent_for(&self) -> Duration {
        let beat = Duration::from_millis(self.dispatcher_beat_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(beat)
    }
}

/// Marks a part running while it lives.
pub struct RunningGuard {
    readiness: std::sync::Arc<Readiness>,
    flag: fn(&Readiness) -> &AtomicBool,
}

impl RunningGuard {
    fn new(readiness: std::sync::Arc<Readiness>, flag: fn(&Readiness) -> &AtomicBool) -> Self {
        flag(&readiness).store(true, Ordering::SeqCst);
        Self { readiness, flag }
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        (self.flag)(&self.readiness).store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn parts_not_started_are_reported() {
        let readiness = Readiness::default();
        assert_eq!(
            readiness.problems(),
            [NotReady::IntakeStopped, NotReady::DispatcherStopped]
        );
    }

    #[test]
    fn running_parts_are_ready_until_their_guard_drops() {
        let readiness = Arc::new(Readiness::default());
        let intake = readiness.intake_running();
        let dispatcher = readiness.dispatcher_running();
        assert!(readiness.problems().is_empty());
        drop(intake);
        assert_eq!(readiness.problems(), [NotReady::IntakeStopped]);
        drop(dispatcher);
        assert_eq!(
            readiness.problems(),
            [NotReady::IntakeStopped, NotReady::DispatcherStopped]
        );
    }

    #[test]
    fn a_silent_dispatcher_is_stalled() {
        let readiness = Arc::new(Readiness {
            started: Instant::now() - DISPATCHER_STALE - Duration::from_secs(1),
            ..Readiness::default()
        });
        let _intake = readiness.intake_running();
        let _dispatcher = readiness.dispatcher_running();
        assert!(readiness.problems().is_empty());
        readiness.dispatcher_beat_ms.store(0, Ordering::Relaxed);
        assert_eq!(readiness.problems(), [NotReady::DispatcherStalled]);
        readiness.start_draining();
        assert_eq!(
            readiness.problems(),
            [NotReady::Draining, NotReady::DispatcherStalled]
        );
    }
}
