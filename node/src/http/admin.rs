//! Everything that is not a function call: version, health, readiness, metrics, the load probe and the
//! compatible run-time configuration routes, and the function registry (`/system/functions`). Changes (`POST`) are admin-only — loopback callers, until a
//! cluster key exists — validated field by field (400 naming the field), then merged, persisted and
//! applied in one step on the blocking pool.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::Request;
use super::access::require_admin;
use super::change::{blocking, json_object};
use super::invoke::VERSION;
use super::job::header;
use super::respond::Response;
use super::route::Route;
use crate::config::BackendConfig;
use crate::config::raw::RawFunction;
use crate::error::Error;
use crate::metrics::{self, Gauges};
use crate::node::Node;
use crate::registry::{Function, RegistryError};
use crate::scheduler::Descriptor;
use crate::worker::Worker;

/// Commit the binary was built from (set by `build.rs`).
pub const COMMIT: &str = env!("P2PFAAS_COMMIT");

/// Serves a non-invocation route.
pub async fn handle(
    w: &Worker,
    req: &Request<'_>,
    route: Route<'_>,
    resp: &mut Response,
) -> Result<(), Error> {
    let node = &w.node;
    match route {
        Route::Hello => {
            #[derive(Serialize)]
            struct Hello {
                name: &'static str,
                version: &'static str,
                version_commit: &'static str,
                /// The node's clock, so a client can measure its offset (fleet preflight).
                unix_ms: u64,
            }
            resp.json(
                200,
                &Hello {
                    name: "p2pfaas-node",
                    version: VERSION,
                    version_commit: COMMIT,
                    unix_ms: crate::auth::unix_ms(std::time::SystemTime::now()),
                },
            );
        }
        Route::Healthz => resp.json(200, &serde_json::json!({"status": "ok"})),
        Route::Readyz => {
            if node.shutdown.is_triggered() {
                resp.json(503, &serde_json::json!({"status": "draining"}));
            } else {
                resp.json(200, &serde_json::json!({"status": "ready"}));
            }
        }
        Route::Metrics => {
            let text = render_metrics(w);
            resp.header("Content-Type", b"text/plain; version=0.0.4; charset=utf-8");
            resp.body.extend_from_slice(text.as_bytes());
        }
        Route::Load => load(node, resp),
        Route::GetConfiguration => resp.json(200, &node.settings()),
        Route::SetConfiguration => {
            require_admin(w, req)?;
            let patch = parse_settings_patch(req.body)?;
            let shared = Arc::clone(node);
            let updated = blocking(move || {
                shared.update_settings(|s| {
                    if let Some(k) = patch.slots {
                        s.parallel_running_functions_max = k;
                    }
                    if let Some(q) = patch.queue_len {
                        s.queue_length_max = q;
                    }
                    if let Some(e) = patch.enabled {
                        s.queue_enabled = e;
                    }
                })
            })
            .await?;
            tracing::info!(?updated, "queue settings changed");
            resp.json(200, &updated);
        }
        Route::GetScheduler => resp.json(200, &node.scheduler().1),
        Route::SetScheduler => {
            require_admin(w, req)?;
            let desc = parse_descriptor(req.body)?;
            let shared = Arc::clone(node);
            let applied = desc.clone();
            blocking(move || shared.set_scheduler(applied)).await?;
            tracing::info!(name = %desc.name, parameters = ?desc.parameters, "scheduler changed");
            resp.json(200, &desc);
        }
        Route::ListFunctions => {
            let table = w.functions();
            let list: Vec<Value> = table.iter().map(|f| describe(f)).collect();
            resp.json(200, &list);
        }
        Route::GetFunction(name) => {
            let function = w.function(name).ok_or(Error::UnknownFunction)?;
            resp.json(200, &describe(&function));
        }
        Route::RegisterFunction => {
            require_admin(w, req)?;
            let (name, raw) = parse_registration(req.body)?;
            let shared = Arc::clone(node);
            let function = registry_change(move || {
                shared
                    .registry
                    .register(&name, raw, |o| shared.store.save_functions(o))
            })
            .await?;
            tracing::info!(name = function.name(), "function registered");
            resp.json(200, &describe(&function));
        }
        Route::RemoveFunction(name) => {
            require_admin(w, req)?;
            let shared = Arc::clone(node);
            let owned = name.to_owned();
            let removed = registry_change(move || {
                shared
                    .registry
                    .remove(&owned, |o| shared.store.save_functions(o))
            })
            .await?;
            // New calls already get 404; wait for the calls in flight to finish (bounded by the
            // function's own timeout plus a margin, and by the request deadline).
            let limit = (Instant::now() + removed.config.timeout + Duration::from_secs(1))
                .min(req.deadline);
            while removed.inflight.load(Relaxed) > 0 && Instant::now() < limit {
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
            let drained = removed.inflight.load(Relaxed) == 0;
            tracing::info!(name, drained, "function removed");
            resp.json(
                200,
                &serde_json::json!({"removed": name, "drained": drained}),
            );
        }
        Route::Invoke { .. }
        | Route::PeerInvoke { .. }
        | Route::Learner(_)
        | Route::Discovery(_)
        | Route::Gossip
        | Route::Ui(_)
        | Route::Events
        | Route::Snapshot
        | Route::ClusterFrame
        | Route::History
        | Route::ClusterHistory
        | Route::Relay { .. }
        | Route::PeerCancel => {
            return Err(Error::NoRoute);
        }
    }
    Ok(())
}

/// Runs a registry change on the blocking pool (it writes the overlay file).
async fn registry_change<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, Error> {
    match monoio::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(RegistryError::Invalid(e))) => Err(Error::BadInput(e.to_string())),
        Ok(Err(RegistryError::NotFound(_))) => Err(Error::UnknownFunction),
        Ok(Err(RegistryError::Persist(e))) => Err(Error::Persist(e)),
        Err(_canceled) => Err(Error::Persist(std::io::Error::other(
            "registry task was cancelled",
        ))),
    }
}

/// A function as `/system/functions` lists it.
fn describe(f: &Function) -> Value {
    let c = &f.config;
    let backend = match &c.backend {
        BackendConfig::Builtin(_) => "builtin",
        BackendConfig::Process(_) => "process",
        BackendConfig::Http(_) => "http",
        BackendConfig::OpenFaas(_) => "openfaas",
    };
    serde_json::json!({
        "name": c.name,
        "backend": backend,
        "source": f.source,
        "max_inflight": c.max_inflight,
        "timeout_ms": u64::try_from(c.timeout.as_millis()).unwrap_or(u64::MAX),
        "max_body_bytes": c.max_body_bytes,
        "running": f.running.load(Relaxed),
        "queued": f.queued.load(Relaxed),
        "config": c.raw,
    })
}

/// `POST /system/functions` body: the config file's function table as JSON, plus `name` (public for
/// fuzzing).
pub fn parse_registration(body: &[u8]) -> Result<(String, RawFunction), Error> {
    let mut map = json_object(body)?;
    let name = match map.remove("name") {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(Error::BadInput(format!(
                "name: expected a string, got {other}"
            )));
        }
        None => return Err(Error::BadInput("name: required".into())),
    };
    if !crate::config::is_valid_function_name(&name) {
        return Err(Error::BadInput(format!(
            "name: {name:?} is not 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'"
        )));
    }
    let raw: RawFunction = serde_json::from_value(Value::Object(map))
        .map_err(|e| Error::BadInput(format!("functions.{name}: {e}")))?;
    Ok((name, raw))
}

/// `GET /monitoring/load`: the original's three headers plus a JSON body with the detail.
fn load(node: &Node, resp: &mut Response) {
    let a = &node.admission;
    let (running, queued, slots) = (a.running(), a.queued(), a.slots());
    resp.header_u64("X-P2pfaas-Load", running as u64);
    resp.header_u64("X-P2pfaas-Maxload", slots as u64);
    resp.header_u64("X-P2pfog-Queue-Length", queued as u64);
    resp.header(header::VERSION, VERSION.as_bytes());
    resp.header(
        crate::peers::wire::header::PROTOCOL,
        crate::peers::wire::header::NATIVE.as_bytes(),
    );
    let table = node.registry.snapshot().1;
    let functions: Vec<Value> = table
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name(),
                "running": f.running.load(Relaxed),
                "queued": f.queued.load(Relaxed),
            })
        })
        .collect();
    let task_types: Vec<Value> = node
        .task_types
        .iter()
        .map(|t| {
            serde_json::json!({
                "running": t.running.load(Relaxed),
                "queued": t.queued.load(Relaxed),
            })
        })
        .collect();
    resp.json(
        200,
        &serde_json::json!({
            "machine_id": node.peers.own().id,
            "group_name": node.group(),
            "running": running,
            "queued": queued,
            "load": running + queued,
            "slots": slots,
            "speed": node.config.node.speed,
            "queue_len": a.queue_len(),
            "functions": functions,
            "task_types": task_types,
            "sample": node.load(),
        }),
    );
}

fn render_metrics(w: &Worker) -> String {
    let mut text = render_core_metrics(w);
    let node = &w.node;
    crate::load::render_metrics(&mut text, &node.load(), node.load_shared().info());
    text
}

fn render_core_metrics(w: &Worker) -> String {
    let node = &w.node;
    let all: Vec<&metrics::WorkerMetrics> = node.metrics.iter().map(AsRef::as_ref).collect();
    let table = w.functions();
    let functions: Vec<metrics::FunctionShards<'_>> = table
        .iter()
        .map(|f| (f.name(), f.all_metrics().collect()))
        .collect();
    let (driver, flags) = node
        .driver
        .get()
        .map_or(("unknown", ""), |d| (d.name, d.flags.as_str()));
    let a = &node.admission;
    let mut text = metrics::render(
        &all,
        &functions,
        &Gauges {
            running: a.running(),
            queued: a.queued(),
            slots: a.slots(),
            queue_len: a.queue_len(),
            driver,
            driver_flags: flags,
            workers: node.config.node.workers.get(),
            scheduler: &w.scheduler_name(),
            uptime_seconds: node.started.elapsed().as_secs_f64(),
        },
    );
    metrics::render_learner(&mut text, &node.agent.stats());
    let peers = w.peers();
    let up = peers
        .peers()
        .iter()
        .filter(|p| p.is_up() && p.has_answered())
        .count();
    let failures = node.auth.failures();
    let by_reason: Vec<(&str, u64)> = crate::auth::AuthError::ALL
        .iter()
        .zip(failures)
        .map(|(e, n)| (e.label(), n))
        .collect();
    metrics::render_peers(
        &mut text,
        up,
        peers.peers().len(),
        node.peers.identity_conflicts(),
        &by_reason,
    );
    text
}

/// A partial `/configuration` update.
#[derive(Debug, Clone, Copy, Default)]
pub struct SettingsPatch {
    /// New K (`parallel_running_functions_max`).
    pub slots: Option<usize>,
    /// New Q (`queue_length_max`).
    pub queue_len: Option<usize>,
    /// Queue on or off (`queue_enabled`).
    pub enabled: Option<bool>,
}

/// Parses a `POST /configuration` body (the original's keys); errors name the key (public for fuzzing).
pub fn parse_settings_patch(body: &[u8]) -> Result<SettingsPatch, Error> {
    let mut patch = SettingsPatch::default();
    for (key, value) in json_object(body)? {
        let bad = |want: &str| Error::BadInput(format!("{key}: expected {want}, got {value}"));
        match key.as_str() {
            "parallel_running_functions_max" => {
                patch.slots = Some(as_usize(&value).ok_or_else(|| bad("a non-negative integer"))?);
            }
            "queue_length_max" => {
                patch.queue_len =
                    Some(as_usize(&value).ok_or_else(|| bad("a non-negative integer"))?);
            }
            "queue_enabled" => {
                patch.enabled = Some(value.as_bool().ok_or_else(|| bad("true or false"))?);
            }
            other => {
                return Err(Error::BadInput(format!(
                    "unknown field {other:?} (expected parallel_running_functions_max, queue_length_max, queue_enabled)"
                )));
            }
        }
    }
    Ok(patch)
}

fn as_usize(v: &Value) -> Option<usize> {
    v.as_u64().and_then(|n| usize::try_from(n).ok())
}

/// Parses a `POST /configuration/scheduler` body `{name, parameters}` (public for fuzzing).
pub fn parse_descriptor(body: &[u8]) -> Result<Descriptor, Error> {
    let map = json_object(body)?;
    let mut name = None;
    let mut parameters = Vec::new();
    for (key, value) in map {
        match key.as_str() {
            "name" => match value {
                Value::String(s) => name = Some(s),
                other => {
                    return Err(Error::BadInput(format!(
                        "name: expected a string, got {other}"
                    )));
                }
            },
            "parameters" => match value {
                Value::Array(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        match item {
                            Value::String(s) => parameters.push(s),
                            other => {
                                return Err(Error::BadInput(format!(
                                    "parameters[{i}]: expected a string (all parameters are strings), got {other}"
                                )));
                            }
                        }
                    }
                }
                Value::Null => {}
                other => {
                    return Err(Error::BadInput(format!(
                        "parameters: expected an array of strings, got {other}"
                    )));
                }
            },
            other => {
                return Err(Error::BadInput(format!(
                    "unknown field {other:?} (expected name, parameters)"
                )));
            }
        }
    }
    let name = name.ok_or_else(|| Error::BadInput("name: required".into()))?;
    Ok(Descriptor { name, parameters })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(e: Result<impl std::fmt::Debug, Error>) -> String {
        e.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn settings_patch_names_the_bad_field() {
        let p = parse_settings_patch(br#"{"parallel_running_functions_max": 8}"#).ok();
        assert_eq!(p.and_then(|p| p.slots), Some(8));
        assert!(
            msg(parse_settings_patch(br#"{"queue_length_max": -1}"#))
                .starts_with("queue_length_max: expected")
        );
        assert!(
            msg(parse_settings_patch(br#"{"queue_enabled": "yes"}"#))
                .starts_with("queue_enabled: expected")
        );
        assert!(msg(parse_settings_patch(br#"{"slots": 1}"#)).contains("unknown field \"slots\""));
        assert!(msg(parse_settings_patch(b"{nope")).starts_with("malformed JSON"));
        assert!(msg(parse_settings_patch(b"[1]")).contains("JSON object"));
    }

    #[test]
    fn descriptor_requires_string_parameters() {
        let d = parse_descriptor(br#"{"name":"NoScheduler","parameters":["true"]}"#).ok();
        assert_eq!(d.map(|d| d.parameters), Some(vec!["true".to_owned()]));
        assert!(
            msg(parse_descriptor(
                br#"{"name":"NoScheduler","parameters":[true]}"#
            ))
            .starts_with("parameters[0]")
        );
        assert!(msg(parse_descriptor(br#"{"parameters":[]}"#)).starts_with("name: required"));
    }
}
