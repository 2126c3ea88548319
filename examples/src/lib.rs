//! Embedding pyzor-rs in a mail filter: runnable programs over the
//! published libraries (`pyzor-client`, `pyzor-digest`, `pyzord`).
//!
//! * `mail_filter`: checks messages against Pyzor servers with
//!   [`pyzor_client::Filter`] and prints each server's counts and
//!   SpamAssassin's verdict (`cargo run -p pyzor-examples --example
//!   mail_filter -- --server 127.0.0.1:24441 message.eml`).
//! * `async_filter`: digests every message of a directory and checks them
//!   concurrently over one [`pyzor_client::AsyncClient`] on tokio
//!   (`cargo run -p pyzor-examples --example async_filter -- --server
//!   127.0.0.1:24441 DIR`).
//! * `embedded_server`: a pyzord in the same process, with a filter
//!   reporting and checking (`cargo run -p pyzor-examples --example
//!   embedded_server`).
//!
//! The tests of this crate run the filters against a real pyzord on
//! loopback.

use std::net::SocketAddr;
use std::sync::Arc;

use pyzor_client::ServerAddr;
use pyzord::handler::NoHooks;
use pyzord::server::{Options, Server, ServerHandle};
use pyzord::stats::Stats;
use pyzord::store::memory::MemoryStore;

/// A pyzord on the memory store, on a free loopback port, in this process
/// (for the tests and examples of this crate). Its access file lets
/// anonymous users whitelist too (the default rules do not). Stopped on
/// drop.
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    _home: tempfile::TempDir,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl LocalServer {
    /// Starts one with two workers; panics if it cannot (a test set-up).
    pub fn start() -> LocalServer {
        let home = tempfile::tempdir().expect("a temporary homedir");
        let access = home.path().join("pyzord.access");
        std::fs::write(&access, "all : anonymous : allow\n").expect("the access file");
        let server = Server::bind(
            Options {
                address: "127.0.0.1:0".parse().expect("an address"),
                workers: 2,
                passwd: None,
                access: Some(access),
                cleanup_age: 0,
                guard: Default::default(),
            },
            Arc::new(MemoryStore::new()),
            Arc::new(NoHooks),
            Arc::new(Stats::new()),
        )
        .expect("pyzord binds a loopback port");
        let addr = server.local_addr().expect("its address");
        let handle = server.handle();
        let thread = Some(std::thread::spawn(move || server.run()));
        LocalServer {
            addr,
            _home: home,
            handle,
            thread,
        }
    }

    /// Its address as a client names it.
    pub fn server(&self) -> ServerAddr {
        server_addr(self.addr)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A socket address as a client names a server.
pub fn server_addr(a: SocketAddr) -> ServerAddr {
    ServerAddr::new(a.ip().to_string(), a.port())
}
