//! The one way a fake is served: an axum router on a loopback listener, stopped when the
//! handle is dropped. Every fake provider's server is one of these.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::FakeEnginesError;

/// A running server; dropping it stops accepting (requests in flight finish).
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Server {
    /// Binds `listen` (loopback only: fakes hold test keys and answer anyone) and serves
    /// `app` on it.
    pub(crate) async fn start(listen: SocketAddr, app: Router) -> Result<Server, FakeEnginesError> {
        if !listen.ip().is_loopback() {
            return Err(FakeEnginesError::NotLoopback(listen));
        }
        let bind_error = |source| FakeEnginesError::Bind {
            addr: listen,
            source,
        };
        let tcp = TcpListener::bind(listen).await.map_err(bind_error)?;
        let addr = tcp.local_addr().map_err(bind_error)?;
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(tcp, app)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await;
        });
        Ok(Server { addr, stop })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// `127.0.0.1:0`, where the tests' fakes listen.
pub(crate) fn any_loopback_port() -> SocketAddr {
    SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0))
}
