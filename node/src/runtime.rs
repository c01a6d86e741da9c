//! Threads and runtimes: one monoio runtime per worker thread, each with its own `SO_REUSEPORT` listener
//! on the same address, so the kernel spreads connections across cores with no shared accept queue.
//! This is the only module that spawns threads or picks the io driver.
//!
//! Driver choice: io_uring with `SINGLE_ISSUER | DEFER_TASKRUN` (≈1.5× cheaper per request than default
//! flags on this VM type), then io_uring with default flags, then epoll. The choice is logged once and
//! exported in `/metrics`. CPU-bound and file work runs on one shared blocking pool, never on a worker.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{Config, DriverChoice};
use crate::http;
use crate::node::{DriverInfo, Node, RestoreError};
use crate::worker::Worker;

/// Why the node could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Persisted state could not be restored.
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// A worker runtime could not be built.
    #[error("worker {worker}: {message}")]
    Runtime {
        /// Worker index.
        worker: usize,
        /// What failed.
        message: String,
    },
    /// A thread could not be spawned.
    #[error("cannot spawn thread: {0}")]
    Spawn(io::Error),
    /// The SIGTERM/SIGINT handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(io::Error),
    /// The configured load source cannot be used.
    #[error(transparent)]
    Load(#[from] crate::load::SamplerError),
}

/// Binds one listener per worker on the same address (`SO_REUSEPORT`). With port 0 the first bind picks
/// the port and the others reuse it.
pub fn bind(addr: SocketAddr, count: usize) -> Result<Vec<TcpListener>, RunError> {
    let err = |source| RunError::Bind { addr, source };
    if addr.port() != 0 {
        // SO_REUSEPORT would let this node silently share a port another process (e.g. a second node)
        // already listens on, splitting its connections. A plain bind fails then; try one first.
        let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(err)?;
        probe.set_reuse_address(true).map_err(err)?;
        probe.bind(&addr.into()).map_err(err)?;
    }
    let mut out = Vec::with_capacity(count);
    let mut target = addr;
    for _ in 0..count {
        let socket = Socket::new(
            Domain::for_address(target),
            Type::STREAM,
            Some(Protocol::TCP),
        )
        .map_err(err)?;
        socket.set_reuse_address(true).map_err(err)?;
        socket.set_reuse_port(true).map_err(err)?;
        socket.set_nonblocking(true).map_err(err)?;
        socket.bind(&target.into()).map_err(err)?;
        socket.listen(1024).map_err(err)?;
        let listener: TcpListener = socket.into();
        target = listener.local_addr().map_err(err)?;
        out.push(listener);
    }
    Ok(out)
}

/// Starts the node and blocks until it has shut down. `on_ready` runs once every worker is serving,
/// with the main address and the compatible APIs' (`learner`, `discovery`) addresses,
/// with the bound address (the binary prints `listening <addr>` there).
pub fn run(
    config: Config,
    on_ready: impl FnOnce(SocketAddr, &[(&'static str, SocketAddr)]),
) -> Result<(), RunError> {
    let workers = config.node.workers.get();
    let listeners = bind(config.node.listen, workers)?;
    let addr = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .unwrap_or(config.node.listen);
    // The original learner's and discovery service's ports, served by the same workers with their own
    // routes only.
    let mut extra: Vec<Vec<(TcpListener, http::route::Router)>> =
        (0..workers).map(|_| Vec::new()).collect();
    let ports = [
        (
            config.learner.listen,
            http::route::learner_port as http::route::Router,
            "learner",
        ),
        (
            config.discovery.listen,
            http::route::discovery_port,
            "discovery",
        ),
    ];
    let mut extra_addrs = Vec::new();
    for (port, router, name) in ports {
        if let Some(port_addr) = port {
            let bound = bind(port_addr, workers)?;
            if let Some(a) = bound.first().and_then(|l| l.local_addr().ok()) {
                tracing::info!(addr = %a, api = name, "compatible API listening");
                extra_addrs.push((name, a));
            }
            for (slot, l) in extra.iter_mut().zip(bound) {
                slot.push((l, router));
            }
        }
    }
    let node = Arc::new(Node::new(config)?);
    node.set_bound(addr);
    // Installed before the workers start, so a signal during start-up is handled once they serve.
    let mut signals = Signals::new([SIGTERM, SIGINT]).map_err(RunError::Signals)?;
    let sampler = spawn_load_sampler(&node)?;
    let (ready_tx, ready_rx) = mpsc::channel::<Result<DriverInfo, RunError>>();

    let mut handles = Vec::with_capacity(workers);
    // The last worker to stop ends the main thread's wait for signals.
    let running = Arc::new(AtomicUsize::new(workers));
    for (index, listener) in listeners.into_iter().enumerate() {
        let node = Arc::clone(&node);
        let ready = ready_tx.clone();
        let extra = std::mem::take(&mut extra[index]);
        let (running, signals) = (Arc::clone(&running), signals.handle());
        let handle = thread::Builder::new()
            .name(format!("p2pfaas-w{index}"))
            .spawn(move || {
                worker_thread(index, &node, listener, extra, &ready);
                if running.fetch_sub(1, Ordering::AcqRel) == 1 {
                    signals.close();
                }
            })
            .map_err(RunError::Spawn)?;
        handles.push(handle);
    }
    drop(ready_tx);

    let mut first_error = None;
    let mut driver: Option<DriverInfo> = None;
    for _ in 0..workers {
        match ready_rx.recv() {
            Ok(Ok(info)) => {
                if driver.is_none() {
                    driver = Some(info);
                }
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => break,
        }
    }
    if let Some(e) = first_error {
        node.shutdown.trigger();
        for h in handles {
            let _joined = h.join();
        }
        let _joined = sampler.join();
        return Err(e);
    }
    if let Some(info) = driver {
        match &info.fallback_reason {
            None => {
                tracing::info!(driver = info.name, flags = %info.flags, workers, %addr, "runtime ready");
            }
            Some(reason) => {
                tracing::warn!(driver = info.name, %reason, workers, %addr, "using the epoll driver");
            }
        }
        let _already = node.driver.set(info);
    }
    on_ready(addr, &extra_addrs);
    handle_signals(&node, &mut signals);
    for h in handles {
        let _joined = h.join();
    }
    node.save_learner_weights();
    // The sampler notices shutdown within 50 ms and unpins its maps before the process exits.
    let _joined = sampler.join();
    tracing::info!("shut down");
    Ok(())
}

/// Chooses the load source (failing start-up only when a forced source is unusable) and runs the
/// sampler on its own thread until shutdown.
fn spawn_load_sampler(node: &Arc<Node>) -> Result<thread::JoinHandle<()>, RunError> {
    let sampler = crate::load::Worker::start(&node.config.load, Arc::clone(node.load_shared()))?;
    let node = Arc::clone(node);
    thread::Builder::new()
        .name("p2pfaas-load".into())
        .spawn(move || sampler.run(&node.shutdown, &node.admission))
        .map_err(RunError::Spawn)
}

/// SIGTERM/SIGINT fire the shutdown signal; a second one exits at once. Runs on the main thread, which has
/// nothing else to do, until the last worker has stopped and closed `signals` (a thread of its own cost
/// ~40 KiB of resident memory at idle: stack, allocator heap, glibc arena).
fn handle_signals(node: &Node, signals: &mut Signals) {
    let mut seen = 0;
    for sig in signals.forever() {
        seen += 1;
        if seen == 1 {
            tracing::info!(
                signal = sig,
                "shutting down: no new connections, finishing in-flight requests"
            );
            node.shutdown.trigger();
        } else {
            tracing::warn!(signal = sig, "second signal: exiting now");
            std::process::exit(130);
        }
    }
}

fn uring_builder(fast: bool) -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    if fast {
        b.setup_single_issuer().setup_defer_taskrun();
    }
    b
}

/// Builds this worker's runtime with the chosen driver, reports it, then serves until shutdown.
fn worker_thread(
    index: usize,
    node: &Arc<Node>,
    listener: TcpListener,
    extra: Vec<(TcpListener, http::route::Router)>,
    ready: &mpsc::Sender<Result<DriverInfo, RunError>>,
) {
    if node.config.node.pin_cpus {
        let cpus = thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        if let Err(e) = monoio::utils::bind_to_cpu_set([index % cpus]) {
            tracing::warn!(worker = index, error = %e, "cannot pin worker to a CPU");
        }
    }
    let fail = |message: String| {
        let _sent = ready.send(Err(RunError::Runtime {
            worker: index,
            message,
        }));
    };
    let attach = || Box::new(node.blocking_pool());
    let serve = |info: DriverInfo| {
        let _sent = ready.send(Ok(info));
        let worker = Worker::new(index, Arc::clone(node));
        worker_main(worker, listener, extra)
    };
    let mut uring_error = None;
    if node.config.node.driver != DriverChoice::Epoll {
        for (fast, flags) in [(true, "single_issuer,defer_taskrun"), (false, "")] {
            match monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .uring_builder(uring_builder(fast))
                .with_entries(1024)
                .enable_timer()
                .attach_thread_pool(attach())
                .build()
            {
                Ok(mut rt) => {
                    rt.block_on(serve(DriverInfo {
                        name: "io_uring",
                        flags: flags.into(),
                        fallback_reason: None,
                    }));
                    return;
                }
                Err(e) => uring_error = Some(e.to_string()),
            }
        }
        if node.config.node.driver == DriverChoice::IoUring {
            fail(format!(
                "io_uring requested but unavailable: {}",
                uring_error.unwrap_or_default()
            ));
            return;
        }
    }
    match monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .attach_thread_pool(attach())
        .build()
    {
        Ok(mut rt) => rt.block_on(serve(DriverInfo {
            name: "epoll",
            flags: String::new(),
            fallback_reason: uring_error
                .or_else(|| Some("epoll requested by configuration".into())),
        })),
        Err(e) => fail(format!("cannot build the epoll runtime: {e}")),
    }
}

async fn worker_main(
    worker: Rc<Worker>,
    listener: TcpListener,
    extra: Vec<(TcpListener, http::route::Router)>,
) {
    // One worker keeps the peer table's loads and functions fresh.
    if worker.index == 0 {
        let w = Rc::clone(&worker);
        monoio::spawn(async move { http::forward::refresh(&w).await });
        monoio::spawn(http::gossip::run(Rc::clone(&worker)));
        // And records this node's last five minutes for the dashboard.
        monoio::spawn(http::history::record(Rc::clone(&worker)));
    }
    if let Some(task) = worker.agent_task() {
        monoio::spawn(task);
    }
    for (l, router) in extra {
        match monoio::net::TcpListener::from_std(l) {
            Ok(l) => {
                monoio::spawn(http::serve(l, Rc::clone(&worker), router));
            }
            Err(e) => {
                tracing::error!(worker = worker.index, error = %e, "cannot register a compatible-API listener");
            }
        }
    }
    match monoio::net::TcpListener::from_std(listener) {
        Ok(listener) => http::serve(listener, worker, http::route::route).await,
        Err(e) => tracing::error!(worker = worker.index, error = %e, "cannot register listener"),
    }
}
