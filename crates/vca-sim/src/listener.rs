//! A TCP listener for axum that can be closed and re-opened on the same address, so a
//! simulated restart refuses connections (FINDINGS 18) and then comes back.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Accepts while the gate is `true`; closes the socket while it is `false`.
pub(crate) struct GatedListener {
    inner: Option<TcpListener>,
    addr: SocketAddr,
    gate: watch::Receiver<bool>,
}

impl GatedListener {
    pub(crate) fn new(inner: TcpListener, gate: watch::Receiver<bool>) -> io::Result<Self> {
        let addr = inner.local_addr()?;
        Ok(GatedListener {
            inner: Some(inner),
            addr,
            gate,
        })
    }
}

impl axum::serve::Listener for GatedListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if !*self.gate.borrow_and_update() {
                self.inner = None;
                if self.gate.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                continue;
            }
            let listener = match self.inner.take() {
                Some(l) => l,
                None => match TcpListener::bind(self.addr).await {
                    Ok(l) => l,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
            };
            let accepted = tokio::select! {
                r = listener.accept() => Some(r),
                _ = self.gate.changed() => None,
            };
            self.inner = Some(listener);
            match accepted {
                Some(Ok(pair)) => return pair,
                Some(Err(_)) => tokio::time::sleep(Duration::from_millis(5)).await,
                None => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
