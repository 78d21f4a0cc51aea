//! The intake writer: one thread that commits accepted calls to the
//! deliveries table in batches (group commit). Handlers queue a delivery and
//! wait for its commit before answering 202; the queue is bounded, and a full
//! queue is answered 503 rather than held in memory. When the database
//! cannot take a batch, the batch goes to the [`Spool`] (synced to disk
//! like a commit) and is answered 202 all the same; while anything is
//! spooled, every batch is, so the order of arrival holds.

use crate::db::deliveries::{self, Accepted, NewDelivery};
use crate::db::{self, Commits, DbError, DbPool, DbPooled};
use crate::queue::spool::{Spool, SpoolError};
use crate::readiness::RunningGuard;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::Duration;
use tokio::sync::oneshot;

/// Most deliveries committed in one transaction.
const MAX_BATCH: usize = 256;

/// How long a batch waits for a connection before it is spooled (a
/// provider such as GitHub gives up on a call after 10 s).
const SPOOL_AFTER: Duration = Duration::from_secs(3);

type Reply = oneshot::Sender<Result<Accepted, IntakeFailure>>;

/// A call waiting for its commit, and where its answer goes.
type Item = (NewDelivery, Reply);

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct IntakeWriter {
    queue: SyncSender<Item>,
}

/// Why a delivery was not committed.
#[derive(Debug, thiserror::Error)]
pub enum IntakeFailure {
    #[error("the intake queue is full")]
    Busy,
    #[error(transparent)]
    Db(#[from] DbError),
    /// The database is away and the spool cannot take the call either.
    #[error("the database is unavailable and {0}")]
    Spool(String),
    #[error("the intake writer stopped")]
    Stopped,
}

/// What the writer thread needs.
pub struct Writer {
    pub pool: DbPool,
    pub commits: Commits,
    pub dedup_window: chrono::Duration,
    /// None when spooling is off (`HOOKGATE_SPOOL_MAX_BYTES=0`).
    pub spool: Option<Spool>,
}

impl IntakeWriter {
    /// Starts the writer; at most `capacity` deliveries wait for a commit.
    /// `running` marks it running for `/readyz` while its thread lives.
    pub fn start(writer: Writer, capacity: usize, running: RunningGuard) -> Self {
        let (queue, rx) = sync_channel(capacity);
        crate::db::blocking::spawn_loop("hookgate-intake", move || {
            // Dropped when the loop ends, even by a panic: `/readyz` fails.
            let _running = running;
            writer.run(&rx)
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
        rx.await.map_err(|_| IntakeFailure::Stopped)?
    }
}

impl Writer {
    fn run(&self, rx: &Receiver<Item>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            self.take(batch);
        }
    }

    /// Commits or spools one batch: while anything is spooled, everything
    /// is (arrival order); what an outage leaves uncommitted is spooled,
    /// or refused without a spool.
    fn take(&self, batch: Vec<Item>) {
        match &self.spool {
            Some(spool) if spool.is_spooling() => spool_batch(spool, batch, None),
            Some(spool) => {
                if let Some((left, e)) = self.commit(batch) {
                    spool_batch(spool, left, Some(e));
                }
            }
            None => {
                if let Some((left, e)) = self.commit(batch) {
                    fail(left, &e);
                }
            }
        }
    }

    /// Commits the batch; returns what an outage left uncommitted.
    fn commit(&self, batch: Vec<Item>) -> Option<(Vec<Item>, DbError)> {
        let mut conn = match self.connect() {
            Ok(conn) => conn,
            Err(e) if e.is_outage() => return Some((batch, e)),
            Err(e) => {
                fail(batch, &DbError::Canceled(e.to_string()));
                return None;
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
                None
            }
            Err(e) if db::is_outage(&e) => {
                Some((items.into_iter().zip(replies).collect(), e.into()))
            }
            Err(e) => {
                tracing::debug!(error = %e, size = items.len(), "batch conflict; committing one by one");
                self.one_by_one(&mut conn, items.into_iter().zip(replies).collect())
            }
        }
    }

    /// Commits each call alone (a redelivery finds its first copy); an
    /// outage leaves the rest, in order.
    fn one_by_one(&self, conn: &mut DbPooled, batch: Vec<Item>) -> Option<(Vec<Item>, DbError)> {
        let mut rest = batch.into_iter();
        while let Some((item, reply)) = rest.next() {
            match deliveries::enqueue(conn, &item, self.dedup_window) {
                Err(e) if e.is_outage() => {
                    let left = std::iter::once((item, reply)).chain(rest).collect();
                    return Some((left, e));
                }
                answer => {
                    let _ = reply.send(answer.map_err(IntakeFailure::Db));
                }
            }
        }
        None
    }

    fn connect(&self) -> Result<DbPooled, DbError> {
        let mut conn = match self.spool {
            // A spool takes the batch sooner than a provider gives up.
            Some(_) => self.pool.get_timeout(SPOOL_AFTER)?,
            None => self.pool.get()?,
        };
        // The connection may be shared with the dispatcher, which
        // relaxes durability for its own commits.
        db::use_commits(&mut conn, self.commits)?;
        Ok(conn)
    }
}

/// Appends the batch to the spool and answers each call with the ids
/// intake made for it (`outage`: why it is spooled when spooling begins).
fn spool_batch(spool: &Spool, batch: Vec<Item>, outage: Option<DbError>) {
    if let Some(e) = &outage {
        tracing::warn!(error = %e, "the database cannot take events: spooling them to disk");
    }
    let items: Vec<&NewDelivery> = batch.iter().map(|(d, _)| d).collect();
    match spool.append(&items) {
        Ok(()) => {
            for (delivery, reply) in batch {
                let _ = reply.send(Ok(Accepted {
                    task_id: delivery.task.map(|(id, _)| id),
                    event_id: delivery.id,
                    duplicate: false,
                    held: false,
                }));
            }
        }
        Err(e) => {
            if let SpoolError::Io(e) = &e {
                tracing::error!(error = %e, "cannot write to the spool");
            }
            for (_, reply) in batch {
                let _ = reply.send(Err(IntakeFailure::Spool(e.to_string())));
            }
        }
    }
}

/// Tells every call of the batch it was not committed.
fn fail(batch: Vec<Item>, error: &DbError) {
    for (_, reply) in batch {
        let told = match error.is_outage() {
            true => DbError::Unavailable(error.to_string()),
            false => DbError::Canceled(error.to_string()),
        };
        let _ = reply.send(Err(IntakeFailure::Db(told)));
    }
}
