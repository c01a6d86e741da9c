//! The least a proxy hop can do: relay bytes between a client and a target, both ways, one blocking
//! thread per direction, nothing parsed. `bench/forward.sh` puts one in front of a node to show what a
//! user-space hop costs on the machine at all (the floor under nginx's hop and the node's forward).

pub mod cli;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;

/// A bound relay, not yet serving.
pub struct Relay {
    listener: TcpListener,
    target: SocketAddr,
}

impl Relay {
    /// Binds `listen`; each connection accepted there is relayed to `target`.
    pub fn bind(listen: SocketAddr, target: SocketAddr) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(listen)?,
            target,
        })
    }

    /// The address it listens on (where port 0 was asked for, the one the kernel chose).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until accepting fails; a connection the target refuses is closed and the next accepted.
    pub fn serve(self) -> io::Result<()> {
        loop {
            let (client, _) = self.listener.accept()?;
            match TcpStream::connect(self.target) {
                Ok(target) => {
                    if let Err(e) = relay_both_ways(client, target) {
                        eprintln!("relay: cannot set up a connection: {e}");
                    }
                }
                Err(e) => eprintln!("relay: {} refused: {e}", self.target),
            }
        }
    }
}

/// Starts the two copying threads of one connection.
fn relay_both_ways(client: TcpStream, target: TcpStream) -> io::Result<()> {
    // Small request/answer pairs: Nagle's wait would be the largest cost of the hop.
    client.set_nodelay(true)?;
    target.set_nodelay(true)?;
    let (client_in, target_in) = (client.try_clone()?, target.try_clone()?);
    thread::spawn(move || copy_until_eof(client_in, target));
    thread::spawn(move || copy_until_eof(target_in, client));
    Ok(())
}

/// Copies `from` to `to` until `from` ends (or either fails), then ends `to`'s writing side, so the
/// other end sees the close as it would without the relay.
fn copy_until_eof(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    /// An echo server that answers each read with the same bytes and closes when its peer does.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 1024];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => s.write_all(&buf[..n]).expect("echo"),
                }
            }
        });
        addr
    }

    fn loopback_any_port() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }

    #[test]
    fn bytes_go_both_ways_and_a_close_reaches_the_other_end() {
        let relay = Relay::bind(loopback_any_port(), echo_server()).expect("bind relay");
        let addr = relay.local_addr().expect("addr");
        thread::spawn(move || relay.serve());
        let mut client = TcpStream::connect(addr).expect("connect");
        let mut answer = [0u8; 5];
        for round in 0..3u8 {
            let sent = [b'a' + round; 5];
            client.write_all(&sent).expect("send");
            client.read_exact(&mut answer).expect("answer");
            assert_eq!(answer, sent);
        }
        // The client ends its side: the relay passes that on, the echo server closes, and the close
        // comes back through the relay as end of stream.
        client.shutdown(Shutdown::Write).expect("shutdown");
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).expect("read to the end");
        assert!(rest.is_empty());
    }

    #[test]
    fn a_refused_target_closes_that_connection_and_the_relay_goes_on() {
        // A port nothing listens on: bind one and drop it.
        let closed = TcpListener::bind(loopback_any_port())
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let relay = Relay::bind(loopback_any_port(), closed).expect("bind relay");
        let addr = relay.local_addr().expect("addr");
        thread::spawn(move || relay.serve());
        for _ in 0..2 {
            let mut client = TcpStream::connect(addr).expect("connect");
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).expect("closed, not hung");
            assert!(rest.is_empty());
        }
    }
}
