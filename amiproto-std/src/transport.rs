//! The byte pipe under a client: a TCP stream, or rustls over one.
//!
//! Reads and writes are kept independent, even over TLS: a read never
//! waits for pending TLS records to be written and a write never reads,
//! so the client can alternate between them while the send buffer is full
//! (see the crate docs on deadlock freedom).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// A connected transport.
#[derive(Debug)]
pub(crate) enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => &s.sock,
        }
    }

    /// Read plaintext: `Ok(0)` is the end of the stream; a read timeout
    /// comes back as `WouldBlock`/`TimedOut`.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => tls_read(s, buf),
        }
    }

    /// Write some plaintext; `Ok(0)` or `WouldBlock`/`TimedOut` mean the
    /// send path is full right now.
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => tls_write(s, buf),
        }
    }

    /// Whether bytes accepted by [`Transport::write`] still wait to go out
    /// (TLS records).
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.conn.wants_write(),
        }
    }

    /// Push out buffered TLS records; `WouldBlock` when the socket is full.
    pub(crate) fn write_pending(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => {
                while s.conn.wants_write() {
                    if s.conn.write_tls(&mut s.sock)? == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                }
                Ok(())
            }
        }
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(t)
    }

    /// Best effort: say goodbye (TLS `close_notify`) and shut the socket.
    pub(crate) fn shutdown(&mut self) {
        #[cfg(feature = "tls")]
        if let Transport::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = s.sock.set_write_timeout(Some(Duration::from_millis(50)));
            let _ = s.conn.write_tls(&mut s.sock);
        }
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

pub(crate) fn is_would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(feature = "tls")]
fn tls_read(
    s: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match s.conn.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // The peer closed without close_notify: Asterisk does; an end of
            // stream all the same (the core tells a cut packet from a clean
            // end by itself).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) => return Err(e),
        }
        match s.conn.read_tls(&mut s.sock) {
            Ok(0) => return Ok(0),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
        if let Err(e) = s.conn.process_new_packets() {
            // Tell the peer why, best effort, then fail.
            let _ = s.conn.write_tls(&mut s.sock);
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
    }
}

#[cfg(feature = "tls")]
fn tls_write(
    s: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    buf: &[u8],
) -> io::Result<usize> {
    // Records already made go first; if they cannot, report a full pipe.
    while s.conn.wants_write() {
        if s.conn.write_tls(&mut s.sock)? == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    let n = s.conn.writer().write(buf)?;
    while s.conn.wants_write() {
        match s.conn.write_tls(&mut s.sock) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_would_block(&e) => break,
            // Accepted bytes are the caller's no more; the error shows on the
            // next call.
            Err(_) => break,
        }
    }
    Ok(n)
}
