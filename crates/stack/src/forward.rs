//! A TCP forwarder between the host's loopback and the loopback of a network namespace.
//!
//! A socket belongs to the network namespace of the thread that created it. So a thread that
//! has entered the namespace (`setns`) creates the sockets that must live there, and a thread
//! in the host's namespace creates the others; the bytes are then copied between the two
//! sockets whatever namespace the copying thread is in. Only `127.0.0.1` is ever bound or
//! dialled, on both sides.
//!
//! `carbon-e2e stack forward` runs [`run`]; the stack starts it as a service of its own.

use std::fs::File;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::StackError;

/// Where `ip netns add <name>` keeps the namespace.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new("/run/netns").join(name)
}

fn enter(ns: &File) -> io::Result<()> {
    move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network)).map_err(io::Error::from)
}

/// Copies both ways until either side closes.
fn pump(a: TcpStream, b: TcpStream) {
    let (Ok(mut a2), Ok(mut b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let back = std::thread::spawn(move || {
        let _ = io::copy(&mut b2, &mut a2);
        let _ = a2.shutdown(Shutdown::Write);
    });
    let (mut a, mut b) = (a, b);
    let _ = io::copy(&mut a, &mut b);
    let _ = b.shutdown(Shutdown::Write);
    let _ = back.join();
}

/// Accepts on `listener` forever; each connection is dialled to `127.0.0.1:port` from inside
/// `dial_in` (a namespace file).
fn serve(listener: TcpListener, dial_in: Arc<File>, port: u16) {
    for client in listener.incoming().flatten() {
        let ns = Arc::clone(&dial_in);
        std::thread::spawn(move || {
            if enter(&ns).is_err() {
                return;
            }
            if let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = upstream.set_nodelay(true);
                let _ = client.set_nodelay(true);
                pump(client, upstream);
            }
        });
    }
}

/// Forwards, until killed: for each port in `expose`, host `127.0.0.1:port` to the
/// namespace's `127.0.0.1:port`; for each port in `import`, the namespace's `127.0.0.1:port`
/// to the host's `127.0.0.1:port`.
///
/// # Errors
/// When the namespace cannot be opened or entered (that needs root), or a port cannot be bound.
pub fn run(netns: &str, expose: &[u16], import: &[u16]) -> Result<(), StackError> {
    let ns_path = netns_path(netns);
    let ns = Arc::new(File::open(&ns_path).map_err(crate::io_err("open", &ns_path))?);
    let host_path = Path::new("/proc/thread-self/ns/net");
    let host = Arc::new(File::open(host_path).map_err(crate::io_err("open", host_path))?);
    let mut threads = Vec::new();
    for &port in expose {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
            StackError::Other(format!("forward: cannot bind host 127.0.0.1:{port}: {e}"))
        })?;
        let ns = Arc::clone(&ns);
        threads.push(std::thread::spawn(move || serve(listener, ns, port)));
        println!("forward: host 127.0.0.1:{port} -> {netns} 127.0.0.1:{port}");
    }
    for &port in import {
        // The listener must be created inside the namespace: a thread of its own enters it.
        let (bound_tx, bound_rx) = mpsc::channel();
        let (ns, host) = (Arc::clone(&ns), Arc::clone(&host));
        threads.push(std::thread::spawn(move || {
            let listener = enter(&ns).and_then(|()| TcpListener::bind(("127.0.0.1", port)));
            match listener {
                Ok(l) => {
                    let _ = bound_tx.send(Ok(()));
                    serve(l, host, port);
                }
                Err(e) => {
                    let _ = bound_tx.send(Err(e));
                }
            }
        }));
        bound_rx
            .recv()
            .map_err(|e| StackError::Other(format!("forward: listener thread ended: {e}")))?
            .map_err(|e| {
                StackError::Other(format!(
                    "forward: cannot bind 127.0.0.1:{port} inside {netns}: {e}"
                ))
            })?;
        println!("forward: {netns} 127.0.0.1:{port} -> host 127.0.0.1:{port}");
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}
