//! `p2pfaas-node`: parses flags, loads and validates the configuration (exit 64 naming the field on any
//! problem), sets up logging, then runs the node until SIGTERM/SIGINT. When every worker is serving it
//! prints one line on stdout, `listening <addr:port>`, which scripts and tests read (then one
//! `<api> listening <addr:port>` line per compatible API port enabled: `learner`, `discovery`).

use std::io::Write as _;
use std::process::ExitCode;

use p2pfaas_node::config::{Config, Flags, LogFormat, source::Env};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `EX_USAGE` from sysexits.h: the configuration or the command line is wrong.
const EX_USAGE: u8 = 64;

const HELP: &str = "\
p2pfaas-node: a peer-to-peer FaaS edge node

USAGE: p2pfaas-node [--config FILE] [OPTIONS]
       p2pfaas-node load [--pin-dir DIR] [--interval-ms N] [--count N]   (live eBPF load; see `load --help`)

OPTIONS (override P2PFAAS_* environment variables, which override the file):
  --config FILE        TOML configuration file
  --listen ADDR        listen address host:port (port 0 picks a free port)   [P2PFAAS_LISTEN]
  --data-dir DIR       directory for persisted run-time settings             [P2PFAAS_DATA_PATH]
  --workers N          worker threads, one io runtime each (default: cores)  [P2PFAAS_WORKERS]
  --driver D           auto | io-uring | epoll                               [P2PFAAS_DRIVER]
  --slots K            parallel execution slots                              [P2PFAAS_SLOTS]
  --queue-len Q        wait-queue length (0 = no queue)                      [P2PFAAS_QUEUE_LEN]
  --seed N             seed of the node's random generators                  [P2PFAAS_SEED]
  --log-format F       text | json                                           [P2PFAAS_LOG_FORMAT]
  --log-level L        e.g. info, debug, p2pfaas_node=trace                  [P2PFAAS_LOG_LEVEL]
  --check              validate the configuration and exit
  -h, --help           this text
  -V, --version        version
";

fn parse_flags() -> Result<(Flags, bool), lexopt::Error> {
    use lexopt::prelude::*;
    let mut flags = Flags::default();
    let mut check = false;
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        let value = |parser: &mut lexopt::Parser| -> Result<Option<String>, lexopt::Error> {
            Ok(Some(parser.value()?.string()?))
        };
        match arg {
            Long("config") => flags.config = value(&mut parser)?,
            Long("listen") => flags.listen = value(&mut parser)?,
            Long("data-dir") => flags.data_dir = value(&mut parser)?,
            Long("workers") => flags.workers = value(&mut parser)?,
            Long("driver") => flags.driver = value(&mut parser)?,
            Long("slots") => flags.slots = value(&mut parser)?,
            Long("queue-len") => flags.queue_len = value(&mut parser)?,
            Long("seed") => flags.seed = value(&mut parser)?,
            Long("log-format") => flags.log_format = value(&mut parser)?,
            Long("log-level") => flags.log_level = value(&mut parser)?,
            Long("check") => check = true,
            Short('h') | Long("help") => {
                print!("{HELP}");
                std::process::exit(0);
            }
            Short('V') | Long("version") => {
                println!("p2pfaas-node {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    Ok((flags, check))
}

/// `p2pfaas-node load`: the live load sample from a running node's pinned maps.
fn load_command() -> ExitCode {
    use p2pfaas_node::load::cli;
    let rest: Vec<String> = std::env::args().skip(2).collect();
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        print!("{}", cli::HELP);
        return ExitCode::SUCCESS;
    }
    let result = cli::parse(rest).and_then(|args| cli::run(&args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ cli::Error::Usage(_)) => {
            eprintln!("p2pfaas-node load: {e}");
            ExitCode::from(EX_USAGE)
        }
        Err(e) => {
            eprintln!("p2pfaas-node load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("load") {
        return load_command();
    }
    let (flags, check) = match parse_flags() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("p2pfaas-node: {e}\n\n{HELP}");
            return ExitCode::from(EX_USAGE);
        }
    };
    let config = match Config::load(&flags, &Env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("p2pfaas-node: {e}");
            return ExitCode::from(EX_USAGE);
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&config.log.level).is_err() {
        eprintln!(
            "p2pfaas-node: invalid config: log.level: not a valid filter: {:?}",
            config.log.level
        );
        return ExitCode::from(EX_USAGE);
    }
    if check {
        println!("configuration ok");
        return ExitCode::SUCCESS;
    }
    init_logging(config.log.format, &config.log.level);
    if config.auth.cluster_key.is_none() && !config.node.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %config.node.listen,
            "no cluster key: admin routes accept loopback callers only, peer routes are unauthenticated"
        );
    }
    let result = p2pfaas_node::runtime::run(config, |addr, extra| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening {addr}");
        for (api, a) in extra {
            let _ = writeln!(out, "{api} listening {a}");
        }
        let _ = out.flush();
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ p2pfaas_node::runtime::RunError::Restore(_)) => {
            eprintln!("p2pfaas-node: {e}");
            ExitCode::from(EX_USAGE)
        }
        Err(e) => {
            eprintln!("p2pfaas-node: {e}");
            ExitCode::FAILURE
        }
    }
}
