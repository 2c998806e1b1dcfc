//! The default login never sends the secret in the clear: MD5 challenge
//! only, whatever the peer answers; plaintext is an explicit opt-in.

mod conn_support;

use amiproto::{AuthMethod, CloseReason, Config, ConnectionError, EventMask, State};
use conn_support::*;

/// Default settings but for the event mask and timeout, which do not matter
/// here.
fn defaults() -> Config {
    Config::new("admin", "amp111")
        .events(EventMask::Off)
        .action_timeout(None)
}

fn wire_has_secret(sim: &Sim) -> bool {
    find(&sim.wire, b"amp111").is_some() || find(&sim.wire, b"Secret").is_some()
}

#[test]
fn the_default_is_md5_only() {
    assert_eq!(Config::new("u", "s").auth, AuthMethod::Md5);
    assert_eq!(AuthMethod::default(), AuthMethod::Md5);
    let (_, from_url) = Config::from_url("ami://u:s@h").unwrap();
    assert_eq!(from_url.auth, AuthMethod::Md5);
}

#[test]
fn a_peer_refusing_the_challenge_never_gets_the_secret_by_default() {
    let mut sim = Sim::new(defaults());
    sim.feed(BANNER);
    let sent = sim.take_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].action().unwrap(), "Challenge");
    assert_eq!(sent[0].get_str("AuthType"), Some("MD5"));
    let id = sent[0].action_id().unwrap().to_str().unwrap().to_owned();
    // A peer posing as Asterisk refuses the challenge, hoping for plaintext.
    sim.feed(&err(&id, "Must specify AuthType"));
    assert_eq!(sim.conn.state(), State::Closed);
    assert_eq!(
        sim.conn.close_reason(),
        Some(&CloseReason::Error(ConnectionError::ChallengeRefused {
            message: "Must specify AuthType".into()
        }))
    );
    assert!(
        sim.take_sent().is_empty(),
        "nothing written after the refusal"
    );
    assert!(!wire_has_secret(&sim));
}

#[test]
fn the_default_login_answers_the_challenge_with_a_key() {
    let mut sim = Sim::new(defaults());
    sim.feed(BANNER);
    let id = sim.id_of("Challenge");
    sim.feed(&ok(&id, &[("Challenge", "112527728")]));
    let login = sim.take_sent().pop().unwrap();
    assert_eq!(login.action().unwrap(), "Login");
    assert_eq!(
        login.get_str("Key"),
        Some(amiproto::md5_key("112527728", "amp111").as_str())
    );
    assert!(!wire_has_secret(&sim));
}

#[test]
fn plaintext_is_an_explicit_opt_in() {
    // Plain: the secret goes out at once.
    let mut sim = Sim::new(defaults().auth(AuthMethod::Plain));
    sim.feed(BANNER);
    assert_eq!(sim.take_sent()[0].get_str("Secret"), Some("amp111"));
    // MD5 with fallback: only after the challenge was refused.
    let mut sim = Sim::new(defaults().auth(AuthMethod::Md5WithFallback));
    sim.feed(BANNER);
    let id = sim.id_of("Challenge");
    assert!(!wire_has_secret(&sim));
    sim.feed(&err(&id, "Must specify AuthType"));
    assert_eq!(
        sim.take_sent().pop().unwrap().get_str("Secret"),
        Some("amp111")
    );
    // And the URL spellings.
    for (q, want) in [
        ("plain", AuthMethod::Plain),
        ("md5-fallback", AuthMethod::Md5WithFallback),
        ("md5", AuthMethod::Md5),
    ] {
        let (_, c) = Config::from_url(&format!("ami://u:s@h?auth={q}")).unwrap();
        assert_eq!(c.auth, want, "{q}");
    }
}
