//! The network seam: listen and dial.
//!
//! Servers accept connections from a [`Listener`] and clients open them with
//! [`Network::dial`]; neither names tokio's or turmoil's socket types. [`TokioNetwork`] is the
//! real implementation; [`TurmoilNetwork`] runs the same code over turmoil's simulated TCP, where
//! host names resolve to simulated hosts and partitions, latency and crashes apply.
//!
//! Only stream sockets are offered: every protocol here (HTTP, SSH) runs over TCP.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// A boxed connection, whatever network it came from.
pub type BoxStream = Pin<Box<dyn Stream>>;

/// Accepts inbound connections.
#[async_trait]
pub trait Listener: Send + fmt::Debug {
    /// The next connection and its peer's address.
    async fn accept(&mut self) -> io::Result<(BoxStream, SocketAddr)>;

    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// Opens listeners and outbound connections.
#[async_trait]
pub trait Network: Send + Sync + fmt::Debug {
    async fn listen(&self, addr: SocketAddr) -> io::Result<Box<dyn Listener>>;

    /// Connects to `addr`, a `host:port` pair; the host may be a name.
    async fn dial(&self, addr: &str) -> io::Result<BoxStream>;
}

pub type SharedNetwork = Arc<dyn Network>;

/// Real sockets through tokio.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioNetwork;

impl TokioNetwork {
    pub fn shared() -> SharedNetwork {
        Arc::new(TokioNetwork)
    }
}

#[derive(Debug)]
struct TokioListener(tokio::net::TcpListener);

#[async_trait]
impl Listener for TokioListener {
    async fn accept(&mut self) -> io::Result<(BoxStream, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        stream.set_nodelay(true)?;
        Ok((Box::pin(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

#[async_trait]
impl Network for TokioNetwork {
    #[allow(clippy::disallowed_methods)] // the real network seam itself
    async fn listen(&self, addr: SocketAddr) -> io::Result<Box<dyn Listener>> {
        Ok(Box::new(TokioListener(tokio::net::TcpListener::bind(addr).await?)))
    }

    #[allow(clippy::disallowed_methods)] // the real network seam itself
    async fn dial(&self, addr: &str) -> io::Result<BoxStream> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Box::pin(stream))
    }
}

/// Simulated sockets through turmoil. Must be used from inside a turmoil host.
#[derive(Debug, Default, Clone, Copy)]
pub struct TurmoilNetwork;

impl TurmoilNetwork {
    pub fn shared() -> SharedNetwork {
        Arc::new(TurmoilNetwork)
    }
}

struct TurmoilListener(turmoil::net::TcpListener);

impl fmt::Debug for TurmoilListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TurmoilListener").field(&self.0.local_addr().ok()).finish()
    }
}

#[async_trait]
impl Listener for TurmoilListener {
    async fn accept(&mut self) -> io::Result<(BoxStream, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        Ok((Box::pin(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

#[async_trait]
impl Network for TurmoilNetwork {
    async fn listen(&self, addr: SocketAddr) -> io::Result<Box<dyn Listener>> {
        Ok(Box::new(TurmoilListener(turmoil::net::TcpListener::bind(addr).await?)))
    }

    async fn dial(&self, addr: &str) -> io::Result<BoxStream> {
        Ok(Box::pin(turmoil::net::TcpStream::connect(addr).await?))
    }
}
