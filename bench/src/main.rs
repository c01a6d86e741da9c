//! `p2pfaas-bench`: picks the subcommand and hands it the rest of the command line; each
//! subcommand's flags, help lines and run live in its module's `cli.rs`. Invalid flags exit with
//! status 64 and a message naming the flag, a failed run with 1.

use std::ffi::OsString;
use std::process::ExitCode;

use p2pfaas_bench::{chaos, experiment, fleet, load, relay, sim, theory};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let command = args.next();
    let rest: Vec<OsString> = args.collect();
    match command.as_ref().and_then(|c| c.to_str()) {
        Some("theory") => theory::cli::main(rest),
        Some("load") => load::cli::main(rest),
        Some("run") if rest.iter().any(|a| a == "--fleet") => fleet::cli::run(rest),
        Some("run") => experiment::cli::main(rest),
        Some("fleet") => fleet::cli::main(rest),
        Some("demo") => experiment::cli::demo(rest),
        Some("soak") => experiment::cli::soak(rest),
        Some("simulate") => sim::cli::simulate(rest),
        Some("compare") => sim::cli::compare(rest),
        Some("chaos") => chaos::cli::main(rest),
        Some("relay") => relay::cli::main(rest),
        Some("-h" | "--help" | "help") => {
            print!(
                "usage:\n{}{}{}{}{}{}{}",
                theory::cli::USAGE,
                load::cli::USAGE,
                experiment::cli::USAGE,
                sim::cli::USAGE,
                chaos::cli::USAGE,
                fleet::cli::USAGE,
                relay::cli::USAGE
            );
            ExitCode::SUCCESS
        }
        Some(other) => usage_error(&format!("unknown command {other:?}")),
        None => usage_error("a command is needed"),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("p2pfaas-bench: {message}\n(`p2pfaas-bench help` lists the commands and flags)");
    ExitCode::from(64)
}
