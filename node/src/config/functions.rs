//! `[functions.<name>]`: the functions a node serves — built-in, a process per call, an HTTP function
//! or an OpenFaaS gateway — with their limits; the validation of one table (also used for
//! registrations through the API), and the function-name and `http://` URL rules.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{self, RawFunction};
use super::{ConfigError, MAX_SLOTS, bounded, field_err, millis, nonzero};

/// How a built-in function draws its service time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Always the mean.
    Fixed,
    /// Exponential with the given mean (for M/M/K experiments).
    Exponential,
}

/// The built-in functions, which need nothing outside the node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Builtin {
    /// Returns the request body with its `Content-Type`.
    Echo,
    /// Waits a sampled time without using CPU.
    Sleep {
        /// Mean service time.
        mean: Duration,
        /// Distribution of the service time.
        distribution: Distribution,
    },
    /// Burns a sampled amount of CPU time on the blocking pool (the original's "exponential-loop").
    CpuLoop {
        /// Mean CPU time.
        mean: Duration,
        /// Distribution of the CPU time.
        distribution: Distribution,
    },
}

/// A command run once per call (classic OpenFaaS watchdog semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// Program and arguments (`argv`); never passed through a shell.
    pub command: Vec<String>,
    /// Extra environment variables (the request metadata `Http_*` is added per call).
    pub env: Vec<(String, String)>,
    /// Working directory (the node's own when absent).
    pub workdir: Option<PathBuf>,
}

/// Where an HTTP function (OpenFaaS watchdog or gateway) listens: `http://host:port/base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// `host:port` as written (resolved when connecting).
    pub authority: String,
    /// Host name or address, for the `Host` header and resolution.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path prefix without a trailing `/` (empty for the root).
    pub base_path: String,
}

/// An OpenFaaS gateway serving `/function/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFaasConfig {
    /// The gateway.
    pub gateway: HttpTarget,
    /// Function name at the gateway.
    pub function: String,
    /// File holding `user:password` for basic auth (no default credentials).
    pub basic_auth_file: Option<PathBuf>,
}

/// Which backend runs a function.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendConfig {
    /// In-process test functions.
    Builtin(Builtin),
    /// A local command per call.
    Process(ProcessConfig),
    /// An OpenFaaS-watchdog-compatible HTTP function.
    Http(HttpTarget),
    /// A function behind an OpenFaaS gateway.
    OpenFaas(OpenFaasConfig),
}

/// One `[functions.<name>]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    /// Name used in `/function/<name>`.
    pub name: String,
    /// Backend.
    pub backend: BackendConfig,
    /// Per-function concurrency cap on top of the node-wide K.
    pub max_inflight: Option<NonZeroUsize>,
    /// Execution time limit (504 when exceeded).
    pub timeout: Duration,
    /// Largest request body this function accepts (413), at most the node's `http.max_body_bytes`.
    pub max_body_bytes: Option<usize>,
    /// Deadline for the learning reward when a request carries no `X-P2pfaas-Deadline-Ms`.
    pub deadline: Option<Duration>,
    /// The raw table it was built from (listed and persisted by the registry).
    pub raw: raw::RawFunction,
}

/// Validates one `[functions.<name>]` table (also used for registrations through the API).
pub fn function(
    name: &str,
    raw: &RawFunction,
    node_max_body: usize,
) -> Result<FunctionConfig, ConfigError> {
    let at = |key: &str| format!("functions.{name}.{key}");
    if !is_valid_function_name(name) {
        return Err(field_err(
            format!("functions.{name}"),
            "a function name is 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'",
        ));
    }
    let backend = match raw.backend.as_deref() {
        Some("builtin") => {
            let mean = || -> Result<Duration, ConfigError> {
                let ms = raw
                    .mean_ms
                    .ok_or_else(|| field_err(at("mean_ms"), "required for this builtin"))?;
                if !(0.0..=86_400_000.0).contains(&ms) {
                    return Err(field_err(
                        at("mean_ms"),
                        format!("must be 0..=86400000, got {ms}"),
                    ));
                }
                Ok(Duration::from_secs_f64(ms / 1000.0))
            };
            let distribution = || match raw.distribution.as_deref().unwrap_or("exponential") {
                "exponential" => Ok(Distribution::Exponential),
                "fixed" | "deterministic" => Ok(Distribution::Fixed),
                other => Err(field_err(
                    at("distribution"),
                    format!("expected exponential or fixed, got {other:?}"),
                )),
            };
            let builtin = match raw.builtin.as_deref() {
                Some("echo") => Builtin::Echo,
                Some("sleep") => Builtin::Sleep {
                    mean: mean()?,
                    distribution: distribution()?,
                },
                Some("cpu-loop") => Builtin::CpuLoop {
                    mean: mean()?,
                    distribution: distribution()?,
                },
                Some(other) => {
                    return Err(field_err(
                        at("builtin"),
                        format!("expected echo, sleep or cpu-loop, got {other:?}"),
                    ));
                }
                None => {
                    return Err(field_err(
                        at("builtin"),
                        "required when backend = \"builtin\"",
                    ));
                }
            };
            BackendConfig::Builtin(super::speed::scaled(
                builtin,
                super::speed::checked(&at("speed"), raw.speed)?,
            ))
        }
        Some("process") => {
            let command = raw
                .command
                .clone()
                .filter(|c| c.first().is_some_and(|p| !p.is_empty()))
                .ok_or_else(|| {
                    field_err(
                        at("command"),
                        "required: the program and its arguments, e.g. [\"cat\"]",
                    )
                })?;
            let env = raw
                .env
                .iter()
                .flatten()
                .map(|(k, v)| {
                    if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
                        Err(field_err(at("env"), format!("invalid variable {k:?}")))
                    } else {
                        Ok((k.clone(), v.clone()))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            BackendConfig::Process(ProcessConfig {
                command,
                env,
                workdir: raw.workdir.as_ref().map(PathBuf::from),
            })
        }
        Some("http") => {
            let url = raw
                .url
                .as_deref()
                .ok_or_else(|| field_err(at("url"), "required, e.g. \"http://127.0.0.1:8080/\""))?;
            BackendConfig::Http(parse_http_url(url).map_err(|p| field_err(at("url"), p))?)
        }
        Some("openfaas") => {
            let url = raw.url.as_deref().ok_or_else(|| {
                field_err(
                    at("url"),
                    "required: the gateway, e.g. \"http://127.0.0.1:8080\"",
                )
            })?;
            let function = raw
                .gateway_function
                .clone()
                .unwrap_or_else(|| name.to_owned());
            if !is_valid_function_name(&function) {
                return Err(field_err(
                    at("gateway_function"),
                    "not a valid function name",
                ));
            }
            BackendConfig::OpenFaas(OpenFaasConfig {
                gateway: parse_http_url(url).map_err(|p| field_err(at("url"), p))?,
                function,
                basic_auth_file: raw.basic_auth_file.as_ref().map(PathBuf::from),
            })
        }
        Some(other) => {
            return Err(field_err(
                at("backend"),
                format!("unknown backend {other:?} (expected builtin, process, http or openfaas)"),
            ));
        }
        None => return Err(field_err(at("backend"), "required")),
    };
    let max_inflight = match raw.max_inflight {
        None => None,
        Some(n) => Some(nonzero(bounded(&at("max_inflight"), n, 1, MAX_SLOTS)?)),
    };
    let max_body_bytes = match raw.max_body_bytes {
        None => None,
        Some(n) => Some(bounded(&at("max_body_bytes"), n, 0, node_max_body)?),
    };
    Ok(FunctionConfig {
        name: name.to_owned(),
        backend,
        max_inflight,
        timeout: millis(&at("timeout_ms"), raw.timeout_ms.unwrap_or(30_000))?,
        deadline: raw
            .deadline_ms
            .map(|ms| millis(&at("deadline_ms"), ms))
            .transpose()?,
        max_body_bytes,
        raw: raw.clone(),
    })
}

/// Parses `http://host:port[/base]` (plain HTTP only: functions run next to the node).
pub fn parse_http_url(url: &str) -> Result<HttpTarget, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("expected http://host:port[/path], got {url:?}"))?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (
            h,
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("invalid port in {url:?}"))?,
        ),
        _ if !authority.is_empty() && !authority.contains(':') => (authority, 80),
        _ => return Err(format!("missing host in {url:?}")),
    };
    if host.bytes().any(|b| b.is_ascii_whitespace() || b == b'@')
        || path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!("invalid characters in {url:?}"));
    }
    Ok(HttpTarget {
        authority: format!("{host}:{port}"),
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        base_path: path.trim_end_matches('/').to_owned(),
    })
}

/// Function names appear in URL paths and metric labels, so they are restricted to a safe alphabet.
pub fn is_valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
