//! A local command per call, with the classic OpenFaaS watchdog's contract: the body goes to stdin,
//! stdout is the reply, request metadata and headers arrive as `Http_*` environment variables, exit 0
//! means 200 and anything else is a failure carrying the tail of stderr.
//!
//! This module owns the async side: it builds the environment, hands the call to the blocking pool
//! (`process/child.rs` spawns, feeds, reads, waits and reaps) and maps the result. It must not block the
//! I/O thread: nothing here spawns, reads, writes or waits. The caller enforces the function timeout by
//! dropping the `invoke` future; a drop guard then SIGKILLs the child's whole process group, and the
//! blocking task still reaps it, so neither zombies nor orphans remain. Not covered: a function that
//! leaves its process group on purpose (`setsid`); containing those needs a cgroup.

mod child;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use super::{BackendError, Call, Context, FunctionBackend, Output};
use crate::config::ProcessConfig;
use crate::http::codec::is_hop_by_hop;
use child::{Failure, Finished, Group, Job, MAX_OUTPUT};

/// Content type of a reply when the request had none (what the classic watchdog sends).
const DEFAULT_CONTENT_TYPE: &[u8] = b"text/plain; charset=utf-8";

/// A function run as a fresh process per call (fork/exec of `command`, no shell).
#[derive(Debug, Clone)]
pub struct Process {
    /// Shared so a call hands it to the blocking task without copying the argv and env.
    config: Arc<ProcessConfig>,
}

impl Process {
    /// A backend that runs `config.command` for each call.
    pub fn new(config: ProcessConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }
}

/// Kills the call's process group when the `invoke` future is dropped (timeout, client gone, shutdown).
/// After a normal end the group is already marked reaped and this does nothing.
struct KillOnDrop(Arc<Group>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl FunctionBackend for Process {
    async fn invoke(
        &self,
        _ctx: &Context<'_>,
        call: &Call<'_>,
        out: &mut Output,
    ) -> Result<(), BackendError> {
        let job = Job {
            config: Arc::clone(&self.config),
            env: environment(call, call.headers.iter(), &self.config.env),
            body: call.body.to_vec(),
        };
        let group = Arc::new(Group::default());
        let guard = KillOnDrop(Arc::clone(&group));
        let result = monoio::spawn_blocking(move || child::run(&job, &group))
            .await
            .map_err(|_| BackendError::Failed("process task was cancelled".into()))?;
        drop(guard);
        finish(result, self.program(), call, out)
    }
}

impl Process {
    fn program(&self) -> &str {
        self.config.command.first().map_or("", String::as_str)
    }
}

/// Turns the blocking task's result into the reply or a backend error.
fn finish(
    result: Result<Finished, Failure>,
    program: &str,
    call: &Call<'_>,
    out: &mut Output,
) -> Result<(), BackendError> {
    let done = match result {
        Ok(done) => done,
        Err(Failure::Spawn(e)) => {
            return Err(BackendError::Unreachable(format!(
                "cannot start {program}: {e}"
            )));
        }
        Err(Failure::NoCommand) => {
            return Err(BackendError::Unreachable("no command configured".into()));
        }
        Err(Failure::Cancelled) => return Err(BackendError::Timeout),
        Err(Failure::TooLarge) => {
            return Err(BackendError::Failed(format!(
                "output too large (over {MAX_OUTPUT} bytes)"
            )));
        }
        Err(Failure::Io(e)) => {
            return Err(BackendError::Failed(format!("process i/o failed: {e}")));
        }
    };
    if !done.status.success() {
        return Err(BackendError::Failed(failure_detail(
            done.status,
            &done.stderr_tail,
        )));
    }
    out.status = 200;
    out.content_type
        .extend_from_slice(call.content_type.unwrap_or(DEFAULT_CONTENT_TYPE));
    out.body = done.stdout;
    Ok(())
}

/// `exit status N: <stderr tail>` or `killed by signal N: <stderr tail>`.
fn failure_detail(status: std::process::ExitStatus, stderr_tail: &[u8]) -> String {
    use std::os::unix::process::ExitStatusExt;
    let what = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => format!("ended with {status}"),
    };
    let tail = String::from_utf8_lossy(stderr_tail);
    let tail = tail.trim();
    if tail.is_empty() {
        what
    } else {
        format!("{what}: {tail}")
    }
}

/// The variables a call adds to the node's environment, in the classic watchdog's shape: each request
/// header as `Http_<Canonical_Name>` (first value wins; hop-by-hop and `Host` skipped, as Go's server
/// does), then the function's configured `env`, then the metadata (`Http_Method`, `Http_Path`,
/// `Http_Query`, `Http_Content_Type`, `Http_Content_Length`), which a header cannot override.
pub(crate) fn environment<'h>(
    call: &Call<'_>,
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    configured: &[(String, String)],
) -> Vec<(String, Vec<u8>)> {
    let mut vars: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, value) in headers {
        // A NUL cannot be passed in an environment value; such a header is dropped, not the call.
        if is_hop_by_hop(name) || name.eq_ignore_ascii_case("host") || value.contains(&0) {
            continue;
        }
        let var = header_var(name);
        if !vars.iter().any(|(n, _)| *n == var) {
            vars.push((var, value.to_vec()));
        }
    }
    for (name, value) in configured {
        set(&mut vars, name.clone(), value.as_bytes().to_vec());
    }
    set(
        &mut vars,
        "Http_Method".into(),
        call.method.as_bytes().to_vec(),
    );
    let path = if call.path.is_empty() { "/" } else { call.path };
    set(&mut vars, "Http_Path".into(), path.as_bytes().to_vec());
    if let Some(query) = call.query.filter(|q| !q.is_empty()) {
        set(&mut vars, "Http_Query".into(), query.as_bytes().to_vec());
    }
    if let Some(ct) = call.content_type.filter(|ct| !ct.contains(&0)) {
        set(&mut vars, "Http_Content_Type".into(), ct.to_vec());
    }
    if let Some(id) = call.job_id {
        set(
            &mut vars,
            header_var("X-P2pfaas-Job-Id"),
            id.as_bytes().to_vec(),
        );
    }
    set(
        &mut vars,
        "Http_Content_Length".into(),
        call.body.len().to_string().into_bytes(),
    );
    vars
}

fn set(vars: &mut Vec<(String, Vec<u8>)>, name: String, value: Vec<u8>) {
    match vars.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => vars.push((name, value)),
    }
}

/// `x-custom-id` → `Http_X_Custom_Id`: Go's canonical header form (first letter and each letter after
/// a dash upper-case, the rest lower-case) with dashes as underscores, as the classic watchdog names them.
pub(crate) fn header_var(name: &str) -> String {
    let mut var = String::with_capacity(5 + name.len());
    var.push_str("Http_");
    let mut upper = true;
    for c in name.chars() {
        if c == '-' {
            var.push('_');
            upper = true;
        } else {
            var.push(if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            });
            upper = false;
        }
    }
    var
}
