//! How many lanes a claim may take for each agent: twice its concurrency
//! (one slot running, one waiting) less what it holds, as its circuit
//! allows, within the process's total.

use super::super::circuit::Gate;
use crate::db::agents::Agent;
use crate::db::deliveries::Room;
use std::collections::HashMap;

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

    pub fn rooms(&self, mut agents: Vec<Agent>) -> Vec<Room> {
        if !agents.is_empty() {
            let start = self.rotation % agents.len();
            agents.rotate_left(start);
        }
        let mut left = self.total;
        let mut rooms = Vec::new();
        for agent in agents {
            let cap = match self.gates.get(&agent.id).copied().unwrap_or(Gate::Closed) {
                Gate::Closed => self.per_agent * 2,
                Gate::Probe => 1,
                Gate::Open => 0,
            };
            let held = self.held.get(&agent.id).copied().unwrap_or(0);
            let slots = cap.saturating_sub(held).min(left);
            if slots > 0 {
                left -= slots;
                rooms.push(Room { agent, slots });
            }
        }
        rooms
    }
}
