//! The original learner's API (contract §2.2) served by the node's own agent: `/learner/…` on the main
//! port, and the original paths on the learner port (19020) when `learner.listen` is set.
//!
//! Differences from the original, all on the side of clear errors: bad input is a 400 with a JSON
//! `{code, message}` naming the header, index or key (the original answered 500 with an empty body); a
//! `/train_batch` with one bad entry records none of it; parameter changes apply at once. `/train` and
//! `/train_batch` are open like invocations (external trainers run on client machines); changing
//! parameters and resetting are admin routes.

use std::sync::Arc;

use serde_json::Value;

use super::Request;
use super::access::require_admin;
use super::change::{blocking, json_object};
use super::invoke::VERSION;
use super::respond::Response;
use super::route::LearnerRoute;
use crate::error::Error;
use crate::learning::{Entry, LearnError};
use crate::node::UpdateError;
use crate::worker::Worker;

/// Request headers of the original's `/act` and `/train` (also what the node sends an external learner).
pub(crate) mod header {
    pub(crate) const STATE: &str = "X-P2pfaas-Learning-State";
    pub(super) const EID: &str = "X-P2pfaas-Learning-Eid";
    pub(super) const ACTION: &str = "X-P2pfaas-Learning-Action";
    pub(super) const REWARD: &str = "X-P2pfaas-Learning-Reward";
    pub(crate) const EPS: &str = "X-P2pfaas-Eps";
}

/// Serves one learner route.
pub async fn handle(
    w: &Worker,
    req: &Request<'_>,
    route: LearnerRoute,
    resp: &mut Response,
) -> Result<(), Error> {
    let agent = &w.node.agent;
    match route {
        LearnerRoute::Hello => {
            resp.header("Content-Type", b"text/html; charset=utf-8");
            resp.body.extend_from_slice(
                format!("This is p2pfaas-learner (p2pfaas-node {VERSION}).").as_bytes(),
            );
        }
        LearnerRoute::Act => {
            let state = parse_state(header_text(req, header::STATE)?)
                .map_err(|m| Error::BadInput(format!("{}: {m}", header::STATE)))?;
            let mut rng = w.rng.borrow_mut();
            let (action, eps) = agent.act(&state, &mut *rng).ok_or_else(|| {
                Error::BadInput(format!(
                    "{}: expected {} values, got {}",
                    header::STATE,
                    agent.dims(),
                    state.len()
                ))
            })?;
            resp.header_fmt(header::EPS, format_args!("{eps}"));
            resp.header("Content-Type", b"text/plain; charset=utf-8");
            resp.body.extend_from_slice(action.to_string().as_bytes());
        }
        LearnerRoute::Train => {
            let entry = train_headers(req)?;
            agent
                .learn(entry.eid, &entry.state, entry.action, entry.reward)
                .map_err(|e| Error::BadInput(e.to_string()))?;
            ok_text(resp);
        }
        LearnerRoute::TrainBatch => {
            let entries = parse_batch(req.body)?;
            agent.learn_batch(&entries).map_err(|(i, e)| {
                let field = match e {
                    LearnError::StateLength { .. } => "state",
                    LearnError::Action { .. } | LearnError::Parameter(_) => "action",
                };
                Error::BadInput(format!("[{i}].{field}: {e}"))
            })?;
            ok_text(resp);
        }
        LearnerRoute::GetParameters => resp.json(200, &parameters_body(w)),
        LearnerRoute::SetParameters => {
            require_admin(w, req)?;
            let patch = json_object(req.body)?;
            let node = Arc::clone(&w.node);
            let applied = blocking(move || node.set_learner_parameters(&patch)).await?;
            tracing::info!(?applied, "learner parameters changed");
            resp.json(200, &parameters_body(w));
        }
        LearnerRoute::Stats => resp.json(200, &agent.stats()),
        LearnerRoute::Weights => resp.json(200, &agent.weights()),
        LearnerRoute::AcceptanceWeights => resp.json(200, &w.node.acceptance.weights()),
        LearnerRoute::LoadWeights => {
            require_admin(w, req)?;
            // Both agents' file (or a lone agent's, for the decision agent); nothing changes unless
            // the whole file fits, and a mismatch names the agent, the field and both values.
            p2pfaas_core::learning::weights::decode(agent, &w.node.acceptance, req.body)
                .map_err(|e| Error::BadInput(format!("weights: {e}")))?;
            tracing::info!(bytes = req.body.len(), "learner weights loaded");
            resp.json(200, &agent.stats());
        }
        LearnerRoute::WeightFile => weight_file(w, req, resp)?,
        LearnerRoute::Reset => {
            require_admin(w, req)?;
            let node = Arc::clone(&w.node);
            // Both agents: a reset starts the double decision's acceptance agent over too.
            blocking(move || {
                node.agent
                    .reset()
                    .and_then(|()| node.acceptance.reset())
                    .map_err(|e| UpdateError::Invalid(e.to_string()))
            })
            .await?;
            tracing::info!("learner reset");
            resp.json(200, &agent.stats());
        }
    }
    Ok(())
}

/// The learned values as a weight file (`POST /learner/weights` takes it back: a fleet run restores a
/// node's table with it). An admin route: the file is the node's whole learned policy, more than the
/// open `GET /learner/weights` summary shows (tile coding lists no states there).
fn weight_file(w: &Worker, req: &Request<'_>, resp: &mut Response) -> Result<(), Error> {
    require_admin(w, req)?;
    resp.header("Content-Type", b"application/octet-stream");
    // Both agents, as the node saves them at shutdown: what `POST weights` takes back whole.
    resp.body
        .extend_from_slice(&p2pfaas_core::learning::weights::encode(
            &w.node.agent,
            &w.node.acceptance,
        ));
    Ok(())
}

fn ok_text(resp: &mut Response) {
    resp.header("Content-Type", b"text/plain; charset=utf-8");
    resp.body.extend_from_slice(b"ok");
}

/// `{"name": "SarsaQTable", "parameters": {...}}`, the original's shape.
fn parameters_body(w: &Worker) -> Value {
    serde_json::json!({"name": "SarsaQTable", "parameters": w.node.agent.parameters()})
}

/// A header as text, or a 400 naming it.
fn header_text<'a>(req: &'a Request<'_>, name: &str) -> Result<&'a str, Error> {
    let raw = req
        .header(name)
        .ok_or_else(|| Error::BadInput(format!("{name}: required")))?;
    std::str::from_utf8(raw).map_err(|_| Error::BadInput(format!("{name}: not UTF-8")))
}

/// `"v1,v2,..."` (quotes optional, as the original's Go client sent them) into floats.
fn parse_state(text: &str) -> Result<Vec<f32>, String> {
    let text = text.trim().trim_matches('"');
    if text.is_empty() {
        return Err("expected comma-separated numbers, got nothing".into());
    }
    text.split(',')
        .map(|v| {
            v.trim()
                .parse::<f32>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("expected comma-separated numbers, got {text:?}"))
        })
        .collect()
}

/// An action: a non-negative number, truncated to an integer as the original did (`"1.000000"` → 1).
fn parse_action(v: f64) -> Option<u32> {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked non-negative and below 2^32; truncation is the original's rule"
    )]
    (v.is_finite() && (0.0..4_294_967_296.0).contains(&v)).then_some(v as u32)
}

/// An EID: a non-negative integer (or an integral float).
fn parse_eid(v: f64) -> Option<u64> {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked integral, non-negative and below 2^53"
    )]
    (v.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&v)).then_some(v as u64)
}

/// The four headers of `/train`.
fn train_headers(req: &Request<'_>) -> Result<Entry, Error> {
    let number = |name: &str| -> Result<f64, Error> {
        let text = header_text(req, name)?;
        text.trim()
            .trim_matches('"')
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| Error::BadInput(format!("{name}: expected a number, got {text:?}")))
    };
    let eid = parse_eid(number(header::EID)?).ok_or_else(|| {
        Error::BadInput(format!("{}: expected a non-negative integer", header::EID))
    })?;
    let state = parse_state(header_text(req, header::STATE)?)
        .map_err(|m| Error::BadInput(format!("{}: {m}", header::STATE)))?;
    let action = parse_action(number(header::ACTION)?).ok_or_else(|| {
        Error::BadInput(format!(
            "{}: expected a non-negative number",
            header::ACTION
        ))
    })?;
    let reward = narrow(number(header::REWARD)?)
        .ok_or_else(|| Error::BadInput(format!("{}: out of range for a reward", header::REWARD)))?;
    Ok(Entry {
        eid,
        state,
        action,
        reward,
    })
}

/// The original's `/train_batch` body: `[{"eid", "state", "action", "reward"}]`, where `eid` and
/// `action` may be numbers or numeric strings and `state` is a comma-joined string (an array of numbers
/// is accepted too). Errors name the index and the field.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Entry>, Error> {
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(_) => return Err(Error::BadInput("expected a JSON array of entries".into())),
        Err(e) => return Err(Error::BadInput(format!("malformed JSON: {e}"))),
    };
    if items.is_empty() {
        return Err(Error::BadInput("expected at least one entry".into()));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let bad = |field: &str, want: &str| {
                let got = item.get(field).map_or("nothing".into(), Value::to_string);
                Error::BadInput(format!("[{i}].{field}: expected {want}, got {got}"))
            };
            let Value::Object(map) = item else {
                return Err(Error::BadInput(format!("[{i}]: expected an object")));
            };
            if let Some(key) = map
                .keys()
                .find(|k| !matches!(k.as_str(), "eid" | "state" | "action" | "reward"))
            {
                return Err(Error::BadInput(format!("[{i}].{key}: unknown field")));
            }
            let eid = map
                .get("eid")
                .and_then(number)
                .and_then(parse_eid)
                .ok_or_else(|| bad("eid", "a non-negative integer"))?;
            let state = match map.get("state") {
                Some(Value::String(s)) => parse_state(s).ok(),
                Some(Value::Array(values)) => {
                    values.iter().map(|v| v.as_f64().and_then(narrow)).collect()
                }
                _ => None,
            }
            .ok_or_else(|| bad("state", "comma-separated numbers"))?;
            let action = map
                .get("action")
                .and_then(number)
                .and_then(parse_action)
                .ok_or_else(|| bad("action", "a non-negative number"))?;
            let reward = map
                .get("reward")
                .and_then(number)
                .and_then(narrow)
                .ok_or_else(|| bad("reward", "a number within f32 range"))?;
            Ok(Entry {
                eid,
                state,
                action,
                reward,
            })
        })
        .collect()
}

/// `v` as an `f32`, if it stays finite (`1e300` would become infinity and poison the table).
fn narrow(v: f64) -> Option<f32> {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the learner works in f32; overflow is checked"
    )]
    let f = v as f32;
    f.is_finite().then_some(f)
}

/// A JSON number, or a string holding one (the original's Go benchmark sent strings).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<Vec<Entry>, Error>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(v) => format!("ok: {v:?}"),
        }
    }

    #[test]
    fn batch_accepts_the_originals_shapes() {
        let entries = parse_batch(
            br#"[{"eid":"7","state":"0.0000,1.0000,2.0000","action":"1.000000","reward":1},
                 {"eid":8,"state":[1,0,2],"action":0,"reward":-0.5}]"#,
        )
        .unwrap_or_default();
        assert_eq!(
            entries,
            vec![
                Entry {
                    eid: 7,
                    state: vec![0.0, 1.0, 2.0],
                    action: 1,
                    reward: 1.0
                },
                Entry {
                    eid: 8,
                    state: vec![1.0, 0.0, 2.0],
                    action: 0,
                    reward: -0.5
                },
            ]
        );
    }

    #[test]
    fn batch_errors_name_index_and_field() {
        assert_eq!(
            message(parse_batch(
                br#"[{"eid":1,"state":"0","action":1,"reward":1},{"eid":2,"state":"a,b","action":1,"reward":1}]"#
            )),
            "[1].state: expected comma-separated numbers, got \"a,b\""
        );
        assert_eq!(
            message(parse_batch(
                br#"[{"eid":-1,"state":"0","action":1,"reward":1}]"#
            )),
            "[0].eid: expected a non-negative integer, got -1"
        );
        assert_eq!(
            message(parse_batch(br#"[{"eid":1,"state":"0","action":1}]"#)),
            "[0].reward: expected a number within f32 range, got nothing"
        );
        assert_eq!(
            message(parse_batch(
                br#"[{"eid":1,"state":"0","action":1,"reward":1e300}]"#
            )),
            "[0].reward: expected a number within f32 range, got 1e+300"
        );
        assert_eq!(
            message(parse_batch(
                br#"[{"eid":1,"state":"0","action":1,"reward":1,"x":2}]"#
            )),
            "[0].x: unknown field"
        );
        assert_eq!(message(parse_batch(b"[]")), "expected at least one entry");
        assert!(message(parse_batch(b"{")).starts_with("malformed JSON"));
    }

    #[test]
    fn state_parsing() {
        assert_eq!(parse_state("\"1,2.5\""), Ok(vec![1.0, 2.5]));
        assert!(parse_state("").is_err());
        assert!(parse_state("1,,2").is_err());
        assert!(parse_state("1,NaN").is_err());
    }
}
