//! The pool of UDP ports for External Media: hands out a free port from the configured
//! range (e.g. 30000-39999) with a socket already bound on the configured address, and takes
//! the port back when the [`PortLease`] drops. Exhaustion is a typed error.
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::UdpSocket;

/// Why no port could be leased.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortPoolError {
    /// The configured range holds no ports.
    #[error("the RTP port range is empty")]
    EmptyRange,
    /// Every port in the range is leased or could not be bound.
    #[error("no free RTP port in {start}-{end}")]
    Exhausted {
        /// First port of the range.
        start: u16,
        /// Last port of the range.
        end: u16,
    },
    /// The requested port is outside the range or already leased.
    #[error("RTP port {0} is not available in the pool")]
    PortUnavailable(u16),
    /// Binding the socket failed.
    #[error("binding RTP port {port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// The OS error.
        source: io::Error,
    },
    /// Leasing needs a tokio runtime (the socket registers with its reactor).
    #[error("port leases must be taken inside a tokio runtime")]
    NoRuntime,
}

struct PoolInner {
    bind_ip: IpAddr,
    range: RangeInclusive<u16>,
    free: Mutex<VecDeque<u16>>,
}

impl PoolInner {
    fn free(&self) -> MutexGuard<'_, VecDeque<u16>> {
        // The list stays consistent even if a holder panicked: take it back.
        self.free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Hands out per-call RTP ports. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PortPool {
    inner: Arc<PoolInner>,
}

impl std::fmt::Debug for PortPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortPool")
            .field("bind_ip", &self.inner.bind_ip)
            .field("range", &self.inner.range)
            .field("available", &self.available())
            .finish()
    }
}

impl PortPool {
    /// A pool binding on `bind_ip` with ports from `range`.
    pub fn new(bind_ip: IpAddr, range: RangeInclusive<u16>) -> Result<Self, PortPoolError> {
        if range.is_empty() {
            return Err(PortPoolError::EmptyRange);
        }
        Ok(PortPool {
            inner: Arc::new(PoolInner {
                bind_ip,
                free: Mutex::new(range.clone().collect()),
                range,
            }),
        })
    }

    /// Ports not leased right now.
    pub fn available(&self) -> usize {
        self.inner.free().len()
    }

    /// Leases the next free port, skipping ports some other process holds. Must be called
    /// inside a tokio runtime.
    pub fn lease(&self) -> Result<PortLease, PortPoolError> {
        tokio::runtime::Handle::try_current().map_err(|_| PortPoolError::NoRuntime)?;
        let attempts = self.available();
        for _ in 0..attempts {
            let Some(port) = self.inner.free().pop_front() else {
                break;
            };
            match self.bind(port) {
                Ok(socket) => return Ok(self.wrap(port, socket)),
                Err(_) => self.inner.free().push_back(port),
            }
        }
        Err(PortPoolError::Exhausted {
            start: *self.inner.range.start(),
            end: *self.inner.range.end(),
        })
    }

    /// Leases one particular port (to re-adopt a call after a restart).
    pub fn lease_port(&self, port: u16) -> Result<PortLease, PortPoolError> {
        tokio::runtime::Handle::try_current().map_err(|_| PortPoolError::NoRuntime)?;
        {
            let mut free = self.inner.free();
            let Some(index) = free.iter().position(|&p| p == port) else {
                return Err(PortPoolError::PortUnavailable(port));
            };
            free.remove(index);
        }
        match self.bind(port) {
            Ok(socket) => Ok(self.wrap(port, socket)),
            Err(source) => {
                self.inner.free().push_back(port);
                Err(PortPoolError::Bind { port, source })
            }
        }
    }

    fn bind(&self, port: u16) -> io::Result<UdpSocket> {
        let socket = std::net::UdpSocket::bind(SocketAddr::new(self.inner.bind_ip, port))?;
        socket.set_nonblocking(true)?;
        UdpSocket::from_std(socket)
    }

    fn wrap(&self, port: u16, socket: UdpSocket) -> PortLease {
        PortLease {
            socket,
            port,
            pool: Arc::clone(&self.inner),
        }
    }
}

/// A bound UDP socket on a leased port; the port returns to the pool when this drops.
pub struct PortLease {
    socket: UdpSocket,
    port: u16,
    pool: Arc<PoolInner>,
}

impl std::fmt::Debug for PortLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortLease")
            .field("port", &self.port)
            .finish()
    }
}

impl PortLease {
    /// The leased port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The socket's address (what External Media's `external_host` should name).
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::new(self.pool.bind_ip, self.port)
    }

    /// The bound socket.
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.free().push_back(self.port);
    }
}
