//! Forwarders run by the stack as services of their own: a TCP forwarder between the host's
//! loopback and the loopback of a network namespace ([`run`]), and a TLS-terminating forwarder
//! ([`run_tls`]) that puts a private-CA certificate in front of a plain-HTTP service.
//!
//! A socket belongs to the network namespace of the thread that created it. So a thread that
//! has entered the namespace (`setns`) creates the sockets that must live there, and a thread
//! in the host's namespace creates the others; the bytes are then copied between the two
//! sockets whatever namespace the copying thread is in. Only `127.0.0.1` is ever bound or
//! dialled, on both sides.
//!
//! `carbon-e2e stack forward` runs [`run`]; the stack starts it as a service of its own.
//! [`cli_program`] finds that program for the services that start it.

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

/// The running `carbon-e2e` program, for services that run one of its hidden `stack` verbs.
///
/// # Errors
/// When the running program is not `carbon-e2e` (e.g. a test binary calling `up`).
pub(crate) fn cli_program(what: &str) -> Result<PathBuf, StackError> {
    let exe = std::env::current_exe()
        .map_err(|e| StackError::Other(format!("cannot find the running program: {e}")))?;
    // Rebuilt while running (cargo replaced the file): Linux reports the old inode as
    // "<path> (deleted)"; the new build at the same path is the program to start.
    let exe = match exe.to_str().and_then(|p| p.strip_suffix(" (deleted)")) {
        Some(rebuilt) if !exe.exists() => PathBuf::from(rebuilt),
        _ => exe,
    };
    let is_cli = exe
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("carbon-e2e"));
    if is_cli {
        Ok(exe)
    } else {
        Err(StackError::Other(format!(
            "{what} is started by the carbon-e2e program, not {}",
            exe.display()
        )))
    }
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

/// Terminates TLS on host `127.0.0.1:listen` with the certificate chain in `cert` and the key in
/// `key` (PEM), and forwards the plain bytes to `127.0.0.1:upstream`, until killed. The stack's
/// TLS front (`services/tls_front.rs`) runs it as `carbon-e2e stack tls-forward`.
///
/// # Errors
/// When the certificate or key cannot be read, or the port cannot be bound.
pub async fn run_tls(
    listen: u16,
    upstream: u16,
    cert: &Path,
    key: &Path,
) -> Result<(), StackError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        StackError::Other(format!(
            "tls-forward: cannot read the {what} {}: {e}",
            path.display()
        ))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad("certificate", cert, &e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key", key, &e))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key_der))
    .map_err(|e| StackError::Other(format!("tls-forward: invalid certificate or key: {e}")))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", listen))
        .await
        .map_err(|e| {
            StackError::Other(format!("tls-forward: cannot bind 127.0.0.1:{listen}: {e}"))
        })?;
    println!("tls-forward: https 127.0.0.1:{listen} -> http 127.0.0.1:{upstream}");
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            // A client that refuses our certificate ends its handshake here; nothing to do.
            let Ok(mut tls) = acceptor.accept(client).await else {
                return;
            };
            if let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await {
                let _ = plain.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            }
        });
    }
}
