//! What the subcommands' flag parsers share: reading a number or a positive number from a flag, the
//! results-directory timestamp, an error and its causes on one line, and the exit-code wrapper (64
//! when the flags are invalid, 1 when the command fails). Each subcommand's own flags live in its
//! module's `cli.rs`; this module holds no subcommand.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use lexopt::{Parser, ValueExt as _};

/// Runs a parsed subcommand: exit 64 when its flags are invalid, 1 when it fails.
pub(crate) fn execute<A>(parsed: Result<A>, run: fn(A) -> Result<()>) -> ExitCode {
    let args = match parsed {
        Ok(a) => a,
        Err(e) => {
            eprintln!("p2pfaas-bench: {e:#}\n(`p2pfaas-bench help` lists the commands and flags)");
            return ExitCode::from(64);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p2pfaas-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line (`a: b: c`).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Seconds since the Unix epoch, for default results paths.
pub(crate) fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The next value of `flag`, parsed as a `T`.
pub(crate) fn number<T: std::str::FromStr>(parser: &mut Parser, flag: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let raw = parser
        .value()
        .with_context(|| format!("{flag} needs a value"))?
        .string()
        .with_context(|| format!("{flag}: not UTF-8"))?;
    raw.parse::<T>()
        .map_err(|e| anyhow!("invalid value for {flag}: {raw:?}: {e}"))
}

/// `value` if it is finite and > 0, else an error naming `flag`.
pub(crate) fn positive(value: f64, flag: &str) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        bail!("{flag} must be a finite number > 0, got {value}")
    }
}
