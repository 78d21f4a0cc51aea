//! What the dispatcher holds for each agent: attempts running, and claimed
//! heads waiting for a free slot (claimed one round ahead, so a slot is
//! refilled the moment an attempt ends instead of after the next claim).

use crate::db::deliveries::Claimed;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct AgentSlots {
    running: usize,
    waiting: VecDeque<(Instant, Claimed)>,
}

/// Every agent's slots, in the dispatcher's memory.
#[derive(Debug, Default)]
pub struct Slots {
    agents: HashMap<String, AgentSlots>,
}

/// What to do with a waiting claim that gets a slot.
pub enum Next {
    Send(Box<Claimed>),
    /// Held so long its lease may be near its end: give it back.
    Release(Box<Claimed>),
}

impl Slots {
    /// Running and waiting claims in all.
    pub fn held_total(&self) -> usize {
        self.agents
            .values()
            .map(|l| l.running + l.waiting.len())
            .sum()
    }

    pub fn running_total(&self) -> usize {
        self.agents.values().map(|l| l.running).sum()
    }

    /// Holds a newly claimed delivery until a slot is free.
    pub fn push(&mut self, claimed: Claimed) {
        let lane = self.agents.entry(claimed.agent.id.clone()).or_default();
        lane.waiting.push_back((Instant::now(), claimed));
    }

    /// The next waiting claim of `agent_id`, if fewer than `slots` run; a
    /// claim held longer than `max_wait` is handed back for release.
    pub fn next(&mut self, agent_id: &str, slots: usize, max_wait: Duration) -> Option<Next> {
        let lane = self.agents.get_mut(agent_id)?;
        if lane.running >= slots {
            return None;
        }
        let (since, claimed) = lane.waiting.pop_front()?;
        if since.elapsed() > max_wait {
            return Some(Next::Release(Box::new(claimed)));
        }
        lane.running += 1;
        Some(Next::Send(Box::new(claimed)))
    }

    /// An attempt of `agent_id` ended.
    pub fn finished(&mut self, agent_id: &str) {
        if let Some(lane) = self.agents.get_mut(agent_id) {
            lane.running = lane.running.saturating_sub(1);
            if lane.running == 0 && lane.waiting.is_empty() {
                self.agents.remove(agent_id);
            }
        }
    }

    /// Takes every waiting claim of `agent_id` (to release them).
    pub fn take_waiting(&mut self, agent_id: &str) -> Vec<Claimed> {
        self.agents
            .get_mut(agent_id)
            .map(|l| l.waiting.drain(..).map(|(_, c)| c).collect())
            .unwrap_or_default()
    }

    /// Agents with claims waiting.
    pub fn agents_waiting(&self) -> Vec<String> {
        self.agents
            .iter()
            .filter(|(_, l)| !l.waiting.is_empty())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Running attempts per agent, for the room plan.
    pub fn held_by_agent(&self) -> HashMap<String, usize> {
        self.agents
            .iter()
            .map(|(id, l)| (id.clone(), l.running + l.waiting.len()))
            .collect()
    }
}
