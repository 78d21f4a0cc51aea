//! The intake writer: one thread that commits accepted calls to the
//! deliveries table in batches (group commit). Handlers queue a delivery and
//! wait for its commit before answering 202; the queue is bounded, and a full
//! queue is answered 503 rather than held in memory.

use crate::db::deliveries::{self, Accepted, NewDelivery};
use crate::db::{self, Commits, DbError, DbPool};
use crate::readiness::RunningGuard;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use tokio::sync::oneshot;

/// Most deliveries committed in one transaction.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Accepted, DbError>>;

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct IntakeWriter {
    queue: SyncSender<(NewDelivery, Reply)>,
}

/// Why a delivery was not committed.
#[derive(Debug, thiserror::Error)]
pub enum IntakeFailure {
    #[error("the intake queue is full")]
    Busy,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the intake writer stopped")]
    Stopped,
}

impl IntakeWriter {
    /// Starts the writer; at most `capacity` deliveries wait for a commit.
    /// `running` marks it running for `/readyz` while its thread lives.
    pub fn start(
        pool: DbPool,
        commits: Commits,
        capacity: usize,
        dedup_window: chrono::Duration,
        running: RunningGuard,
    ) -> Self {
        let (queue, rx) = sync_channel(capacity);
        crate::db::blocking::spawn_loop("hookgate-intake", move || {
            // Dropped when the loop ends, even by a panic: `/readyz` fails.
            let _running = running;
            write_loop(&pool, commits, &rx, dedup_window)
        });
        Self { queue }
    }

    /// Commits `delivery` (or finds its first copy) and returns its ids.
    pub async fn enqueue(&self, delivery: NewDelivery) -> Result<Accepted, IntakeFailure> {
        let (tx, rx) = oneshot::channel();
        self.queue.try_send((delivery, tx)).map_err(|e| match e {
            TrySendError::Full(_) => IntakeFailure::Busy,
            TrySendError::Disconnected(_) => IntakeFailure::Stopped,
        })?;
        Ok(rx.await.map_err(|_| IntakeFailure::Stopped)??)
    }
}

fn write_loop(
    pool: &DbPool,
    commits: Commits,
    rx: &Receiver<(NewDelivery, Reply)>,
    dedup_window: chrono::Duration,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let connected = pool.get().map_err(DbError::from).and_then(|mut conn| {
            // The connection may be shared with the dispatcher, which
            // relaxes durability for its own commits.
            db::use_commits(&mut conn, commits)?;
            Ok(conn)
        });
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(e) => {
                let (message, outage) = (e.to_string(), e.is_outage());
                for (_, reply) in batch {
                    let told = match outage {
                        true => DbError::Unavailable(message.clone()),
                        false => DbError::Canceled(message.clone()),
                    };
                    let _ = reply.send(Err(told));
                }
                continue;
            }
        };
        let (items, replies): (Vec<NewDelivery>, Vec<Reply>) = batch.into_iter().unzip();
        let started = std::time::Instant::now();
        let committed = deliveries::enqueue_batch(&mut conn, &items);
        crate::metrics::intake_commit(items.len(), started.elapsed());
        match committed {
            Ok(accepted) => {
                for (reply, accepted) in replies.into_iter().zip(accepted) {
                    let _ = reply.send(Ok(accepted));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, size = items.len(), "batch conflict; committing one by one");
                for (item, reply) in items.iter().zip(replies) {
                    let _ = reply.send(deliveries::enqueue(&mut conn, item, dedup_window));
                }
            }
        }
    }
}
