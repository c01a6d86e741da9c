//! Everything that is not a function call: version, health, readiness, metrics, the load probe and the
//! compatible run-time configuration routes. Changes (`POST`) are admin-only — loopback callers, until a
//! cluster key exists — validated field by field (400 naming the field), then merged, persisted and
//! applied in one step on the blocking pool.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::Request;
use super::invoke::{VERSION, header};
use super::respond::Response;
use super::route::Route;
use crate::error::Error;
use crate::metrics::{self, Gauges};
use crate::node::{Node, UpdateError};
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
            }
            resp.json(
                200,
                &Hello {
                    name: "p2pfaas-node",
                    version: VERSION,
                    version_commit: COMMIT,
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
            require_admin(req)?;
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
            require_admin(req)?;
            let desc = parse_descriptor(req.body)?;
            let shared = Arc::clone(node);
            let applied = desc.clone();
            blocking(move || shared.set_scheduler(applied)).await?;
            tracing::info!(name = %desc.name, parameters = ?desc.parameters, "scheduler changed");
            resp.json(200, &desc);
        }
        Route::Invoke { .. } => return Err(Error::NoRoute),
    }
    Ok(())
}

/// Runs a configuration change on the blocking pool (it writes files).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UpdateError> + Send + 'static,
) -> Result<T, Error> {
    match monoio::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(UpdateError::Invalid(msg))) => Err(Error::BadInput(msg)),
        Ok(Err(UpdateError::Persist(e))) => Err(Error::Persist(e)),
        Err(_canceled) => Err(Error::Persist(std::io::Error::other(
            "configuration task was cancelled",
        ))),
    }
}

/// Without a cluster key only loopback callers may change the node.
fn require_admin(req: &Request<'_>) -> Result<(), Error> {
    let ip = req.peer.ip();
    let loopback = match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    if loopback {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// `GET /monitoring/load`: the original's three headers plus a JSON body with the detail.
fn load(node: &Node, resp: &mut Response) {
    let a = &node.admission;
    let (running, queued, slots) = (a.running(), a.queued(), a.slots());
    resp.header_fmt("X-P2pfaas-Load", format_args!("{running}"));
    resp.header_fmt("X-P2pfaas-Maxload", format_args!("{slots}"));
    resp.header_fmt("X-P2pfog-Queue-Length", format_args!("{queued}"));
    resp.header(header::VERSION, VERSION.as_bytes());
    let functions: Vec<Value> = node
        .functions
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.config.name,
                "running": f.running.load(std::sync::atomic::Ordering::Relaxed),
                "queued": f.queued.load(std::sync::atomic::Ordering::Relaxed),
            })
        })
        .collect();
    let task_types: Vec<Value> = node
        .task_types
        .iter()
        .map(|t| {
            serde_json::json!({
                "running": t.running.load(std::sync::atomic::Ordering::Relaxed),
                "queued": t.queued.load(std::sync::atomic::Ordering::Relaxed),
            })
        })
        .collect();
    resp.json(
        200,
        &serde_json::json!({
            "running": running,
            "queued": queued,
            "load": running + queued,
            "slots": slots,
            "queue_len": a.queue_len(),
            "functions": functions,
            "task_types": task_types,
        }),
    );
}

fn render_metrics(w: &Worker) -> String {
    let node = &w.node;
    let all: Vec<&metrics::WorkerMetrics> = node.metrics.iter().map(AsRef::as_ref).collect();
    let names: Vec<&str> = node
        .functions
        .iter()
        .map(|f| f.config.name.as_str())
        .collect();
    let (driver, flags) = node
        .driver
        .get()
        .map_or(("unknown", ""), |d| (d.name, d.flags.as_str()));
    let a = &node.admission;
    metrics::render(
        &all,
        &names,
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
    )
}

/// A partial `/configuration` update.
#[derive(Debug, Clone, Copy, Default)]
struct SettingsPatch {
    slots: Option<usize>,
    queue_len: Option<usize>,
    enabled: Option<bool>,
}

/// Parses a JSON object, naming the first bad field.
fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Error> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::BadInput("expected a JSON object".into())),
        Err(e) => Err(Error::BadInput(format!("malformed JSON: {e}"))),
    }
}

fn parse_settings_patch(body: &[u8]) -> Result<SettingsPatch, Error> {
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

fn parse_descriptor(body: &[u8]) -> Result<Descriptor, Error> {
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
