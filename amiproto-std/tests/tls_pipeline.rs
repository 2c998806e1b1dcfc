//! A large pipeline over TLS against a server that blocks writing answers
//! and stops reading meanwhile: finishes only if the client keeps reading
//! TLS records while its own writes are stalled.
#![cfg(feature = "tls")]
#![allow(clippy::result_large_err)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use amiproto::Action;
use amiproto_std::{Client, ClientConfig, TlsConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const N: usize = 20_000;

#[test]
fn tls_pipeline_outgrowing_the_buffers_does_not_deadlock() {
    let key =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_der: CertificateDer<'static> = key.cert.der().clone();
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert_der.clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key_pair.serialize_der())),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        s.write_all(b"Asterisk Call Manager/11.0.0\r\n").unwrap();
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut answered = 0;
        let pad = "x".repeat(1000);
        loop {
            while let Some(at) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                let packet = String::from_utf8(buf.drain(..at + 4).collect()).unwrap();
                let id = packet
                    .lines()
                    .find_map(|l| l.strip_prefix("ActionID: "))
                    .unwrap()
                    .to_owned();
                if packet.starts_with("Action: Login") {
                    s.write_all(format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n").as_bytes()).unwrap();
                    continue;
                }
                // Blocks while the client does not read; nothing is read
                // meanwhile.
                s.write_all(
                    format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\nPadding: {pad}\r\n\r\n")
                        .as_bytes(),
                )
                .unwrap();
                answered += 1;
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return answered,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    });
    let cfg = ClientConfig::from_url(&format!("amis://admin:amp111@{addr}?auth=plain"))
        .unwrap()
        .tls(TlsConfig::accept_self_signed(cert_der.to_vec()));
    let mut client = Client::connect(cfg).unwrap();
    let pad = "y".repeat(1000);
    let outcomes = client.send_all((0..N).map(|_| Action::ping().header("Padding", pad.clone())));
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), N);
    drop(client);
    assert_eq!(server.join().unwrap(), N);
}
