//! A TCP relay on 127.0.0.1 in front of a real server (PostgreSQL) that a test can close —
//! every relayed connection cut, new ones accepted and closed at once, as a server that is
//! restarting looks to its clients — and open again.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The relay; it stops when dropped.
pub struct TcpGate {
    addr: SocketAddr,
    open: Arc<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpGate {
    /// Relays 127.0.0.1:<some port> to `upstream`, open.
    pub async fn start(upstream: SocketAddr) -> TcpGate {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(watch::Sender::new(true));
        let gate = open.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !*gate.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(relay(client, upstream, gate.subscribe()));
            }
        });
        TcpGate { addr, open, task }
    }

    /// `url` (postgres://user:pw@host:port/db) with its host and port replaced by the gate's.
    pub fn url(&self, url: &str) -> String {
        let (scheme_user, rest) = url.rsplit_once('@').unwrap();
        let (_, path) = rest.split_once('/').unwrap();
        format!("{scheme_user}@{}/{path}", self.addr)
    }

    /// Cuts every connection and refuses new ones until [`TcpGate::open`].
    pub fn close(&self) {
        self.open.send_replace(false);
    }

    /// Lets connections through again.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for TcpGate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, mut open: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = open.wait_for(|open| !*open) => {}
    }
}
