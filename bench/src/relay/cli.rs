//! `p2pfaas-bench relay --listen ADDR --to ADDR`: runs a [`Relay`] until killed (64 on bad flags).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use lexopt::{Arg, Parser};

use super::Relay;
use crate::cli::{execute, number};

/// Usage lines for the binary's help.
pub const USAGE: &str = "  p2pfaas-bench relay --listen ADDR --to ADDR
      relays bytes between each client and ADDR, nothing parsed: the floor of a proxy hop
";

/// Runs the `relay` command with the arguments after it.
pub fn main(args: Vec<OsString>) -> ExitCode {
    execute(parse(args), run)
}

fn run((listen, to): (SocketAddr, SocketAddr)) -> Result<()> {
    let relay = Relay::bind(listen, to).with_context(|| format!("--listen {listen}"))?;
    // Scripts wait for this line before sending.
    println!("listening on {}", relay.local_addr()?);
    relay.serve().context("accepting connections")
}

fn parse(args: Vec<OsString>) -> Result<(SocketAddr, SocketAddr)> {
    let mut parser = Parser::from_args(args);
    let (mut listen, mut to) = (None, None);
    while let Some(arg) = parser.next()? {
        match arg {
            Arg::Long("listen") => listen = Some(number(&mut parser, "--listen")?),
            Arg::Long("to") => to = Some(number(&mut parser, "--to")?),
            other => return Err(other.unexpected().into()),
        }
    }
    Ok((
        listen.context("--listen is needed")?,
        to.context("--to is needed")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn flags_name_what_is_wrong() {
        let ok =
            parse(args(&["--listen", "127.0.0.1:1", "--to", "127.0.0.1:2"])).expect("valid flags");
        assert_eq!(ok.1.port(), 2);
        let missing = parse(args(&["--listen", "127.0.0.1:1"])).expect_err("--to missing");
        assert!(missing.to_string().contains("--to"), "{missing}");
        let bad =
            parse(args(&["--listen", "nowhere", "--to", "127.0.0.1:2"])).expect_err("bad address");
        assert!(bad.to_string().contains("--listen"), "{bad}");
    }
}
