//! A tiny scripted AMI server on a std thread, for tests that must control
//! every byte (and for replaying captures after a real login).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;

pub const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";

/// Serve one connection with `script`; returns the URL to reach it and the
/// thread (join it to see the script's assertions).
pub fn serve<F>(query: &str, script: F) -> (String, JoinHandle<()>)
where
    F: FnOnce(Peer) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        script(Peer {
            stream,
            buf: Vec::new(),
        });
    });
    (format!("ami://admin:amp111@{addr}{query}"), handle)
}

/// The server's side of one connection.
pub struct Peer {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    pub fn new(stream: TcpStream) -> Peer {
        let _ = stream.set_nodelay(true);
        Peer {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// The next packet the client sent (text up to the blank line), or
    /// `None` at end of stream.
    pub fn read_packet(&mut self) -> Option<String> {
        loop {
            if let Some(at) = memchr::memmem::find(&self.buf, b"\r\n\r\n") {
                let packet: Vec<u8> = self.buf.drain(..at + 4).collect();
                return Some(String::from_utf8(packet).unwrap());
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Banner, then accept a plain `Login` (answering with its ActionID).
    pub fn login(&mut self) -> String {
        self.write(BANNER);
        let login = self.read_packet().expect("login");
        assert!(login.starts_with("Action: Login\r\n"), "{login}");
        let id = header(&login, "ActionID").unwrap();
        self.write(
            format!(
                "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
            )
            .as_bytes(),
        );
        login
    }

    /// Log in, read `actions` packets, then write the capture's bytes that
    /// follow its own login answer (the test sends actions with the
    /// capture's ActionIDs, so they correlate).
    pub fn replay_after_login(&mut self, capture: &[u8], actions: usize) -> Vec<String> {
        self.login();
        let received: Vec<String> = (0..actions).map(|_| self.read_packet().unwrap()).collect();
        self.write(after_login(capture));
        received
    }

    /// Read until the client closes.
    pub fn drain(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.read_packet()).collect()
    }
}

/// The bytes of a server capture after its banner and first message (the
/// login answer).
pub fn after_login(capture: &[u8]) -> &[u8] {
    let banner_end = memchr::memmem::find(capture, b"\r\n").unwrap() + 2;
    let rest = &capture[banner_end..];
    let first = memchr::memmem::find(rest, b"\r\n\r\n").unwrap() + 4;
    &rest[first..]
}

pub fn header(packet: &str, key: &str) -> Option<String> {
    packet.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.eq_ignore_ascii_case(key)
            .then(|| v.trim_start().to_owned())
    })
}

pub fn capture(version: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/data/asterisk-{version}/{name}.server.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn client_capture(version: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/data/asterisk-{version}/{name}.client.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The actions of a client capture after its login, as (name, ActionID,
/// other headers).
pub fn captured_actions(client: &[u8]) -> Vec<amiproto::Action> {
    let text = String::from_utf8_lossy(client).replace("\r\n", "\n");
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .skip(1)
        .filter_map(|p| {
            let mut name = None;
            let mut id = None;
            let mut headers = Vec::new();
            for line in p.lines() {
                let (k, v) = line.split_once(':')?;
                let v = v.strip_prefix(' ').unwrap_or(v).to_owned();
                match k {
                    "Action" => name = Some(v),
                    "ActionID" => id = Some(v),
                    _ => headers.push((k.to_owned(), v)),
                }
            }
            let mut a = amiproto::Action::new(name?).action_id(id?);
            for (k, v) in headers {
                a = a.header(k, v);
            }
            Some(a)
        })
        .collect()
}
