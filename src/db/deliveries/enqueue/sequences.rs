//! Per-task sequence numbers for one intake batch: every task the batch
//! names is locked, bumped by its count of events in one statement, and
//! created (numbered from 1) when new.

use super::{task_of, NewDelivery};
use crate::db::deliveries::{lock_tasks, Task};
use crate::db::dialect::insert_chunked;
use crate::db::raw::{self, Param};
use crate::db::schema::agent_tasks;
use crate::db::{now, DbConnection};
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// A task's sequence numbers for this batch: the next one to hand out and
/// its head's.
pub struct Sequences {
    pub next: i64,
    pub head: i64,
}

#[derive(QueryableByName)]
struct Bumped {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_sequence: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    head_sequence: i64,
}

/// Takes as many sequence numbers from each task as the batch has events
/// for it, creating the tasks that do not exist yet.
pub fn take_sequences(
    conn: &mut DbConnection,
    batch: &[&NewDelivery],
) -> QueryResult<HashMap<String, Sequences>> {
    let mut counts: BTreeMap<&str, (i64, &NewDelivery)> = BTreeMap::new();
    for new in batch.iter().copied() {
        if let Some(task) = task_of(new) {
            counts.entry(task).or_insert((0, new)).0 += 1;
        }
    }
    let mut sequences = HashMap::with_capacity(counts.len());
    if counts.is_empty() {
        return Ok(sequences);
    }
    let ids: Vec<String> = counts.keys().map(|id| id.to_string()).collect();
    lock_tasks(conn, &ids)?;
    let mut params = Vec::with_capacity(counts.len() * 2);
    for (id, (n, _)) in &counts {
        params.extend([Param::from(*id), Param::Int(*n)]);
    }
    let bump = format!(
        "{} UPDATE agent_tasks SET last_sequence = last_sequence + v.n, \
         head_sequence = COALESCE(head_sequence, last_sequence + 1) FROM v \
         WHERE agent_tasks.id = v.id RETURNING agent_tasks.id, last_sequence, head_sequence",
        raw::values_table("v", &["id", "n"], counts.len())
    );
    for row in raw::load::<Bumped>(conn, &bump, &params)? {
        let n = counts.get(row.id.as_str()).map_or(0, |(n, _)| *n);
        let next = row.last_sequence - n + 1;
        let head = row.head_sequence;
        sequences.insert(row.id, Sequences { next, head });
    }
    let created = new_tasks(&counts, &sequences);
    insert_chunked::<_, Task>(conn, agent_tasks::table, &created, 256)?;
    sequences.extend(
        created
            .into_iter()
            .map(|task| (task.id, Sequences { next: 1, head: 1 })),
    );
    Ok(sequences)
}

/// The batch's tasks that do not exist yet, numbered from 1.
fn new_tasks(
    counts: &BTreeMap<&str, (i64, &NewDelivery)>,
    existing: &HashMap<String, Sequences>,
) -> Vec<Task> {
    counts
        .iter()
        .filter(|(id, _)| !existing.contains_key(**id))
        .map(|(id, (n, new))| Task {
            id: id.to_string(),
            agent_id: new.agent_id.clone(),
            name: new
                .task
                .as_ref()
                .map(|(_, name)| name.clone())
                .unwrap_or_default(),
            last_sequence: *n,
            created_on_agent_at: None,
            created_at: now(),
            head_sequence: Some(1),
            held_since: None,
        })
        .collect()
}
