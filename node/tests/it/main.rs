//! Process integration tests: each starts the real `p2pfaas-node` binary on `127.0.0.1:0`, reads the
//! `listening <addr>` line, and talks raw HTTP/1.1 to it over std sockets. Every test that needs a node
//! runs twice, once per io driver (io_uring and epoll), through the `nodetest!` macro.

mod harness;

mod admin_access;
mod admission;
mod at_most_once;
mod auth;
mod bad_input;
mod dashboard;
mod discovery;
#[cfg(feature = "ebpf")]
mod ebpf;
mod external_agent;
mod http_backend;
mod learning;
mod lifecycle;
mod load;
mod netns_cluster;
mod peers;
mod process_backend;
mod protocol;
mod registry;
