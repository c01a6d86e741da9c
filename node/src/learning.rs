//! The node's learning agent: [`p2pfaas_core::learning`] (re-exported whole), plus the file I/O the core
//! leaves to its shells — saving the agent's weights and loading them back.

use std::path::Path;

pub use p2pfaas_core::learning::*;

/// Writes the agent's Q-table to `path` (atomic, versioned; see the learner crate's `persist`).
pub fn save(agent: &Agent, path: &Path) -> Result<(), p2pfaas_learner::Error> {
    agent.with_table(|q| p2pfaas_learner::persist::save_qtable(q, path))
}

/// Loads a Q-table saved by [`save`]; a file of another shape is refused and changes nothing.
pub fn load(agent: &Agent, path: &Path) -> Result<(), p2pfaas_learner::Error> {
    agent.with_table_mut(|q| p2pfaas_learner::persist::load_qtable(q, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(params: Parameters) -> Agent {
        Agent::new(dims_for(1, 0), params).expect("valid")
    }

    #[test]
    fn weights_round_trip_through_a_file() {
        let dir = std::env::temp_dir().join(format!("p2pfaas-agent-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("w.bin");
        let a = agent(Parameters {
            window_size: 1,
            ..Parameters::default()
        });
        for eid in 1..=10 {
            a.learn(eid, &[0.0, 1.0, 0.0], 1, 1.0).expect("valid");
        }
        save(&a, &path).expect("saved");
        let b = agent(Parameters::default());
        load(&b, &path).expect("loaded");
        assert_eq!(b.values(&[0.0, 1.0, 0.0]), a.values(&[0.0, 1.0, 0.0]));
        let wrong = Agent::new(5, Parameters::default()).expect("valid");
        assert!(load(&wrong, &path).is_err(), "another shape is refused");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
