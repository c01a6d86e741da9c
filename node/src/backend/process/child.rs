//! The blocking half of the process backend: starts one child per call in its own process group, feeds it
//! the body on stdin, collects stdout (bounded) and the tail of stderr, waits for it and reaps it.
//! Everything here blocks, so it runs only on the blocking pool, never on an I/O thread.
//!
//! [`Group`] is the hand-over between this task and the async side's drop guard. Whoever learns first
//! that the call is over kills the whole group, and the group is never signalled after its leader was
//! reaped (so a recycled pid cannot be hit).

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use crate::config::ProcessConfig;

/// Largest stdout accepted; beyond it the group is killed and the call fails.
pub(super) const MAX_OUTPUT: usize = 16 << 20;
/// How much of stderr is kept (its end) for the error message.
pub(super) const STDERR_TAIL: usize = 4096;
/// Bodies up to this size are written before anything is read: a pipe always holds at least one page,
/// so the write cannot block and no writer thread is needed.
const INLINE_STDIN: usize = 4096;

/// One call, owned: the task runs on another thread and outlives the borrowed request.
pub(super) struct Job {
    pub(super) config: Arc<ProcessConfig>,
    /// Variables added to the node's environment (later entries win).
    pub(super) env: Vec<(String, Vec<u8>)>,
    pub(super) body: Vec<u8>,
}

/// A child that ran to its end (or was killed) and was reaped.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr_tail: Vec<u8>,
}

/// Why no [`Finished`] came back.
#[derive(Debug)]
pub(super) enum Failure {
    /// The program could not be started (not found, not executable, bad workdir).
    Spawn(io::Error),
    /// The config has no program (validation should have refused it).
    NoCommand,
    /// The call was dropped before the child was started; nothing ran.
    Cancelled,
    /// stdout passed [`MAX_OUTPUT`]; the group was killed.
    TooLarge,
    /// A pipe or wait failed; the group was killed and the child reaped.
    Io(io::Error),
}

/// Where the child's process group stands.
#[derive(Debug, Default, Clone, Copy)]
enum State {
    /// Not spawned yet.
    #[default]
    Starting,
    /// Spawned; its pid is the group id and it is not reaped yet.
    Running(Pid),
    /// The call was dropped; the group (if any) was killed.
    Cancelled,
    /// The leader is about to be or has been reaped: the id must not be signalled any more.
    Reaped,
}

/// Shared between the drop guard (on the I/O thread) and the blocking task. A mutex and not atomics:
/// "check the state, then signal" must be one step, or the task could reap the leader (freeing the pid
/// for reuse) between the guard's check and its `killpg`. It is per call, held only around one
/// non-blocking syscall, and contended at most by two threads.
#[derive(Debug, Default)]
pub(super) struct Group {
    state: Mutex<State>,
}

impl Group {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding it cannot leave the state half-written (it is a Copy enum).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The call is over from the caller's side: kill the group if it runs, and make sure it never starts.
    pub(super) fn cancel(&self) {
        let mut state = self.lock();
        match *state {
            State::Running(pid) => {
                kill_group(pid);
                *state = State::Cancelled;
            }
            State::Starting => *state = State::Cancelled,
            State::Cancelled | State::Reaped => {}
        }
    }

    fn is_cancelled(&self) -> bool {
        matches!(*self.lock(), State::Cancelled)
    }

    /// Records the spawned leader; kills it at once if the call was dropped meanwhile.
    fn started(&self, pid: Pid) {
        let mut state = self.lock();
        match *state {
            State::Starting => *state = State::Running(pid),
            _ => kill_group(pid),
        }
    }

    /// Kills the group if its leader is not reaped yet (output over the limit, pipe errors).
    fn kill(&self) {
        if let State::Running(pid) = *self.lock() {
            kill_group(pid);
        }
    }

    /// The leader has exited and is still a zombie, so its pid cannot be reused yet: kill whatever it
    /// left behind in its group (no orphans), then forbid any further signal before reaping.
    fn leader_exited(&self, pid: Pid) {
        let mut state = self.lock();
        kill_group(pid);
        *state = State::Reaped;
    }
}

fn kill_group(pgid: Pid) {
    // ESRCH (nobody left) is the normal case after the leader and its children are gone.
    let _ = killpg(pgid, Signal::SIGKILL);
}

/// Runs one call to its end. Always reaps the child it started, whatever happens.
pub(super) fn run(job: &Job, group: &Group) -> Result<Finished, Failure> {
    if group.is_cancelled() {
        return Err(Failure::Cancelled);
    }
    let (program, args) = job.config.command.split_first().ok_or(Failure::NoCommand)?;
    let mut command = Command::new(program);
    command
        .args(args)
        // Its own group, so one killpg reaches every process it starts.
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in &job.env {
        command.env(name, OsStr::from_bytes(value));
    }
    if let Some(dir) = &job.config.workdir {
        command.current_dir(dir);
    }
    let mut child = command.spawn().map_err(Failure::Spawn)?;
    let pid = Pid::from_raw(
        i32::try_from(child.id()).expect("invariant: pids fit in i32 (PID_MAX_LIMIT is 2^22)"),
    );
    group.started(pid);

    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        // All three were requested as pipes, so this does not happen; still, never leave a zombie.
        group.leader_exited(pid);
        let _ = child.wait();
        return Err(Failure::Io(io::Error::other("a child pipe is missing")));
    };
    let body = &job.body;
    let small = body.len() <= INLINE_STDIN;
    if small {
        // EPIPE just means the function does not read its input.
        let _ = stdin.write_all(body);
    }
    thread::scope(|s| {
        // Large bodies are written from their own thread so that a child writing a large reply before
        // reading all its input cannot deadlock against us.
        let writer = if small {
            drop(stdin);
            Ok(None)
        } else {
            thread::Builder::new()
                .name("p2pfaas-stdin".into())
                .spawn_scoped(s, move || {
                    let _ = stdin.write_all(body);
                })
                .map(Some)
        };
        let err_reader = thread::Builder::new()
            .name("p2pfaas-stderr".into())
            .spawn_scoped(s, move || read_tail(stderr, STDERR_TAIL));
        let out_reader = thread::Builder::new()
            .name("p2pfaas-stdout".into())
            .spawn_scoped(s, move || read_bounded(stdout, MAX_OUTPUT, group));
        if writer.is_err() || err_reader.is_err() || out_reader.is_err() {
            // Without every helper the call cannot complete; end it now instead of risking a hang.
            group.kill();
        }
        // The call ends when the leader exits (not when stdout closes: a background child could keep
        // it open). Everything left in the group is then killed, which also closes the pipes.
        let waited = wait_exit(pid);
        if waited.is_err() {
            group.kill();
        }
        group.leader_exited(pid);
        let status = child.wait();
        let stdout = match out_reader {
            Ok(h) => h
                .join()
                .unwrap_or(Err(Failure::Io(io::Error::other("stdout reader panicked")))),
            Err(e) => Err(Failure::Io(e)),
        };
        let stderr_tail = match err_reader {
            Ok(h) => h.join().unwrap_or_default(),
            Err(e) => return Err(Failure::Io(e)),
        };
        if let Ok(Some(h)) = writer {
            let _ = h.join();
        } else if let Err(e) = writer {
            return Err(Failure::Io(e));
        }
        waited.map_err(|e| Failure::Io(e.into()))?;
        Ok(Finished {
            status: status.map_err(Failure::Io)?,
            stdout: stdout?,
            stderr_tail,
        })
    })
}

/// Blocks until the leader exits, without reaping it (`WNOWAIT`): while it is a zombie its pid, which
/// is the group id, cannot be reused, so the group can still be killed safely.
fn wait_exit(pid: Pid) -> nix::Result<()> {
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Err(Errno::EINTR) => {}
            other => return other.map(drop),
        }
    }
}

/// Reads stdout to its end, up to `limit` bytes; past it, kills the group and gives up.
fn read_bounded(mut pipe: ChildStdout, limit: usize, group: &Group) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                if out.len() + n > limit {
                    group.kill();
                    return Err(Failure::TooLarge);
                }
                out.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                group.kill();
                return Err(Failure::Io(e));
            }
        }
    }
}

/// Reads stderr to its end, keeping only the last `limit` bytes.
fn read_tail(mut pipe: ChildStderr, limit: usize) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => return tail,
            Ok(n) => keep_tail(&mut tail, &chunk[..n], limit),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return tail,
        }
    }
}

/// Appends `chunk` to `tail` and drops the front so at most `limit` bytes remain.
pub(super) fn keep_tail(tail: &mut Vec<u8>, chunk: &[u8], limit: usize) {
    if chunk.len() >= limit {
        tail.clear();
        tail.extend_from_slice(&chunk[chunk.len() - limit..]);
        return;
    }
    tail.extend_from_slice(chunk);
    if tail.len() > limit {
        let excess = tail.len() - limit;
        tail.drain(..excess);
    }
}
