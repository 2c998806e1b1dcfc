//! `amis://` against the simulator's self-signed TLS endpoint.
#![cfg(feature = "tls")]
#![allow(clippy::result_large_err)]

use std::time::Duration;

use amiproto::Action;
use amiproto_std::{Client, ClientConfig, Error, EventItem, TlsConfig};
use amiproto_testkit::{BlockingSimulator, SimConfig};

fn tls_sim() -> BlockingSimulator {
    BlockingSimulator::start(SimConfig::default().tls()).unwrap()
}

#[test]
fn tls_login_actions_events_logoff() {
    let sim = tls_sim();
    let url = sim.url();
    assert!(url.starts_with("amis://"), "{url}");
    let cfg = ClientConfig::from_url(&format!("{url}?auth=md5&events=user"))
        .unwrap()
        .tls(TlsConfig::accept_self_signed(sim.tls_cert_der()));
    let mut c = Client::connect(cfg).unwrap();
    let pong = c.send(Action::ping()).unwrap();
    assert_eq!(pong.packet().get_str("Ping"), Some("Pong"));
    // A pipeline over TLS, with events arriving meanwhile.
    sim.flood(2_000, None);
    let outcomes = c.send_all((0..2_000).map(|_| Action::ping()));
    assert!(outcomes.iter().all(|o| o.is_ok()));
    let mut seen = 0;
    while let Some(item) = c.next_event(Some(Duration::from_millis(300))).unwrap() {
        if let EventItem::Event(p) = item {
            assert_eq!(p.get_str("Seq").unwrap().parse::<u64>().unwrap(), seen);
            seen += 1;
        }
    }
    assert_eq!(seen, 2_000);
    c.logoff().unwrap();
}

#[test]
fn tls_refuses_an_untrusted_certificate() {
    let sim = tls_sim();
    let cfg = ClientConfig::from_url(&sim.url())
        .unwrap()
        .tls(TlsConfig::accept_self_signed(
            b"not this certificate".to_vec(),
        ));
    let err = Client::connect(cfg).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}

#[test]
fn plain_client_on_a_tls_port_fails_typed() {
    let sim = tls_sim();
    let url = sim.url().replace("amis://", "ami://");
    let cfg = ClientConfig::from_url(&url)
        .unwrap()
        .map_config(|c| c.banner_timeout(Duration::from_millis(300)));
    let err = Client::connect(cfg).unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
}
