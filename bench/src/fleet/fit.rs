//! Which parts of an experiment spec a fleet can take. Deployed nodes keep their own machines, links
//! and start-up config: spec fields that would change the experiment's meaning there are errors, the
//! harmless ones warnings; both name the field. What the runner can set at run time (K, Q, scheduler,
//! learner parameters) it sets. Pure: a spec in, a plan out.

use serde_json::Value;

use crate::experiment::spec::{Network, Spec};

/// What the runner will do with a spec on a fleet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// `[learner.parameters]` of `cluster.node_config`, set through `/learner/parameters`.
    pub learner: Option<serde_json::Map<String, Value>>,
    /// Functions the nodes must serve: `work` and every `[[mix]] function`.
    pub functions: Vec<String>,
    /// Fields that do not apply, with why (printed; the run goes on).
    pub warnings: Vec<String>,
}

/// The plan for `spec`, or every field that stops it from running on a fleet.
pub fn plan(spec: &Spec) -> Result<Plan, Vec<String>> {
    let mut errors = Vec::new();
    let mut plan = Plan {
        functions: vec!["work".to_owned()],
        ..Plan::default()
    };
    let c = &spec.cluster;
    if c.link_delay_ms > 0.0 {
        errors.push(format!(
            "cluster.link_delay_ms = {}: a fleet's links are real; remove it (or measure them and \
             run `simulate` with it)",
            c.link_delay_ms
        ));
    }
    if spec.simulation.speed.iter().any(|&s| s != 1.0) {
        errors.push(
            "simulation.speed: per-node speeds are what the fleet's machines have, not a setting; \
             remove it for a fleet run"
                .to_owned(),
        );
    }
    // A fleet is configured alike through its admin API; only the traffic share can differ per node.
    for (i, n) in spec.nodes.iter().enumerate() {
        let set = [
            ("slots", n.slots.is_some()),
            ("queue_len", n.queue_len.is_some()),
            ("speed", n.speed.is_some()),
            ("node_config", !n.node_config.is_empty()),
            ("cpu_max", n.cpu_max.is_some()),
        ];
        for (key, _) in set.iter().filter(|(_, on)| *on) {
            errors.push(format!(
                "node[{i}].{key}: a fleet's nodes keep their own machines and config; only \
                 node[{i}].weight applies to a fleet run"
            ));
        }
    }
    if c.network == Network::Netns {
        plan.warnings.push(
            "cluster.network = \"netns\": ignored, the fleet's nodes are on their own network"
                .to_owned(),
        );
    }
    if c.workers != 1 {
        plan.warnings.push(format!(
            "cluster.workers = {}: not applied, each node keeps its own worker count",
            c.workers
        ));
    }
    for m in &spec.mix {
        if let Some(f) = &m.function
            && !plan.functions.contains(f)
        {
            plan.functions.push(f.clone());
        }
    }
    match node_config(&c.node_config) {
        Ok((learner, warnings)) => {
            plan.learner = learner;
            plan.warnings.extend(warnings);
        }
        Err(e) => errors.push(e),
    }
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(errors)
    }
}

type LearnerPatch = Option<serde_json::Map<String, Value>>;

/// `cluster.node_config`: its `[learner.parameters]` as a patch, and a warning for every other key
/// (the nodes were started with their own config).
fn node_config(text: &str) -> Result<(LearnerPatch, Vec<String>), String> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| format!("cluster.node_config: not TOML: {e}"))?;
    let mut learner = None;
    let mut warnings = Vec::new();
    let mut leaves = Vec::new();
    for (key, value) in &table {
        if key == "learner"
            && let Some(t) = value.as_table()
        {
            for (k, v) in t {
                if k == "parameters" {
                    let json = serde_json::to_value(v)
                        .map_err(|e| format!("cluster.node_config: learner.parameters: {e}"))?;
                    match json {
                        Value::Object(map) => learner = Some(map),
                        _ => {
                            return Err(
                                "cluster.node_config: learner.parameters: expected a table"
                                    .to_owned(),
                            );
                        }
                    }
                } else {
                    leaves.push(format!("learner.{k}"));
                }
            }
        } else if key == "functions"
            && let Some(t) = value.as_table()
        {
            for name in t.keys() {
                warnings.push(format!(
                    "cluster.node_config: functions.{name} is not registered by the runner; the \
                     preflight checks that every node serves {name}"
                ));
            }
        } else {
            match value.as_table() {
                Some(t) => leaves.extend(t.keys().map(|k| format!("{key}.{k}"))),
                None => leaves.push(key.clone()),
            }
        }
    }
    for leaf in leaves {
        warnings.push(format!(
            "cluster.node_config: {leaf} cannot be set on running nodes; the fleet's own config is \
             in effect"
        ));
    }
    Ok((learner, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra_cluster: &str, tail: &str) -> Spec {
        Spec::parse(&format!(
            r#"
            name = "t"
            [cluster]
            nodes = 3
            slots = 2
            {extra_cluster}
            [function]
            builtin = "sleep"
            mean_ms = 40
            [traffic]
            rho = [0.5]
            duration_s = 5
            [[scheduler]]
            name = "NoScheduler"
            {tail}
            "#
        ))
        .expect("valid spec")
    }

    #[test]
    fn a_plain_spec_fits() {
        let p = plan(&spec("", "")).expect("fits");
        assert_eq!(p.functions, ["work"]);
        assert!(p.warnings.is_empty() && p.learner.is_none(), "{p:?}");
    }

    #[test]
    fn learner_parameters_are_applied_and_the_rest_is_named() {
        let s = spec(
            "network = \"netns\"\nworkers = 2\nnode_config = \"\"\"\n[learner]\nreward_met = 1.0\n\
             [learner.parameters]\nactions_n = 3\nalpha = 0.1\n[functions.cpu]\nbackend = \"builtin\"\n\
             [peers]\nrefresh_interval_ms = 100\n\"\"\"",
            "[[mix]]\nfunction = \"cpu\"",
        );
        let p = plan(&s).expect("fits");
        let learner = p.learner.expect("parameters");
        assert_eq!(learner["actions_n"], 3);
        assert_eq!(p.functions, ["work", "cpu"]);
        let all = p.warnings.join("\n");
        for want in [
            "cluster.network",
            "cluster.workers = 2",
            "learner.reward_met cannot be set",
            "functions.cpu is not registered",
            "peers.refresh_interval_ms cannot be set",
        ] {
            assert!(all.contains(want), "{want}: {all}");
        }
    }

    #[test]
    fn link_delay_and_speeds_are_errors() {
        let s = spec("link_delay_ms = 5", "[simulation]\nspeed = [1.0, 2.0, 1.0]");
        let errors = plan(&s).expect_err("does not fit").join("\n");
        assert!(errors.contains("cluster.link_delay_ms = 5"), "{errors}");
        assert!(errors.contains("simulation.speed"), "{errors}");
    }

    #[test]
    fn node_tables_other_than_weight_are_errors() {
        let s = spec(
            "",
            "[[node]]\nweight = 2\n[[node]]\nspeed = 0.5\nslots = 1\n",
        );
        let errors = plan(&s).expect_err("does not fit").join("\n");
        assert!(errors.contains("node[1].slots"), "{errors}");
        assert!(errors.contains("node[1].speed"), "{errors}");
        assert!(!errors.contains("node[0]"), "{errors}");
        assert!(plan(&spec("", "[[node]]\nweight = 2\n")).is_ok());
    }
}
