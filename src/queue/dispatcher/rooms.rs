//! How many lanes a claim may take for each agent: `PREFETCH` times its
//! concurrency less what it holds, as its circuit allows, and a fair share
//! of the process's total.

use super::super::circuit::Gate;
use crate::db::agents::Agent;
use crate::db::deliveries::Room;
use std::collections::HashMap;

/// Claims an agent may hold per delivery slot: one running, the rest
/// waiting, so its slots stay busy between two claims.
pub const PREFETCH: usize = 4;

/// Decided in memory when a claim starts, applied to the agents the
/// database says are deliverable.
#[derive(Debug, Clone)]
pub struct RoomPlan {
    /// Claims the process may still hold.
    pub total: usize,
    pub per_agent: usize,
    /// Claims held (running or waiting) per agent.
    pub held: HashMap<String, usize>,
    /// Agents whose circuit is not closed.
    pub gates: HashMap<String, Gate>,
    /// Rotates which agent is offered room first when room is short.
    pub rotation: usize,
}

impl RoomPlan {
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Each agent's room: what its circuit and its held claims allow, and
    /// when that exceeds the process's total, a fair share of it (small
    /// wants met in full, the rest split evenly, the odd units going to
    /// agents in rotation), so no agent waits for others' turns.
    pub fn rooms(&self, mut agents: Vec<Agent>) -> Vec<Room> {
        if !agents.is_empty() {
            let start = self.rotation % agents.len();
            agents.rotate_left(start);
        }
        let wants: Vec<usize> = agents.iter().map(|a| self.want(&a.id)).collect();
        let mut order: Vec<usize> = (0..agents.len()).collect();
        order.sort_by_key(|&i| wants[i]);
        let mut slots = vec![0; agents.len()];
        let mut left = self.total;
        for (n, &i) in order.iter().enumerate() {
            let share = left.div_ceil(agents.len() - n);
            slots[i] = wants[i].min(share);
            left -= slots[i];
        }
        agents
            .into_iter()
            .zip(slots)
            .filter(|(_, slots)| *slots > 0)
            .map(|(agent, slots)| Room { agent, slots })
            .collect()
    }

    /// How many more claims the agent may hold.
    fn want(&self, agent_id: &str) -> usize {
        let cap = match self.gates.get(agent_id).copied().unwrap_or(Gate::Closed) {
            Gate::Closed => self.per_agent * PREFETCH,
            Gate::Probe => 1,
            Gate::Open => 0,
        };
        cap.saturating_sub(self.held.get(agent_id).copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str) -> Agent {
        let at = chrono::NaiveDateTime::default();
        Agent {
            id: id.to_owned(),
            name: id.to_owned(),
            description: None,
            acp_url: Some("http://127.0.0.1:9".into()),
            acp_type: "async".into(),
            status: "Ready".into(),
            status_reason: None,
            registration_metadata: None,
            agent_input_type: None,
            created_at: at,
            updated_at: at,
            registered_at: None,
            deliveries_paused_at: None,
            account_id: None,
            identities: None,
            protocol: "acp".into(),
            agent_card_url: None,
            a2a_url: None,
            a2a_version: None,
            card_read_at: None,
        }
    }

    fn plan(total: usize) -> RoomPlan {
        RoomPlan {
            total,
            per_agent: 8,
            held: HashMap::new(),
            gates: HashMap::new(),
            rotation: 0,
        }
    }

    #[test]
    fn a_short_total_is_shared_by_every_agent() {
        let agents: Vec<Agent> = (0..50).map(|i| agent(&format!("a{i:02}"))).collect();
        let rooms = plan(512).rooms(agents);
        assert_eq!(rooms.len(), 50, "every agent gets room");
        assert_eq!(rooms.iter().map(|r| r.slots).sum::<usize>(), 512);
        let (min, max) = rooms.iter().fold((usize::MAX, 0), |(lo, hi), r| {
            (lo.min(r.slots), hi.max(r.slots))
        });
        assert!(max - min <= 1, "shares differ by at most one: {min}..{max}");
    }

    #[test]
    fn small_wants_are_met_and_the_rest_goes_to_the_others() {
        let mut plan = plan(40);
        plan.gates.insert("probing".into(), Gate::Probe);
        plan.gates.insert("open".into(), Gate::Open);
        plan.held.insert("busy".into(), 8 * PREFETCH - 2);
        let names = ["probing", "open", "busy", "idle-1", "idle-2"];
        let rooms = plan.rooms(names.iter().map(|n| agent(n)).collect());
        let room = |id: &str| rooms.iter().find(|r| r.agent.id == id).map(|r| r.slots);
        assert_eq!(room("open"), None);
        assert_eq!(room("probing"), Some(1));
        assert_eq!(room("busy"), Some(2));
        assert_eq!(room("idle-1").unwrap() + room("idle-2").unwrap(), 37);
    }
}
