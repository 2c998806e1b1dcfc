//! The simulator's behaviour, driven by the core `amiproto::Connection`
//! over a tokio socket, or by raw bytes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use amiproto::{
    Action, ActionError, ActionHandle, AuthMethod, BannerMode, CloseReason, Config, Connection,
    Decoder, Event, Frame, Outcome, Packet, State,
};
use amiproto_testkit::{BlockingSimulator, CallOutcome, Faults, Replay, SimConfig, Simulator};
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(10);

/// A client: the core state machine over a tokio socket.
struct Client {
    conn: Connection,
    sock: TcpStream,
    done: HashMap<ActionHandle, Result<Outcome, ActionError>>,
    events: Vec<Packet>,
    closed: Option<CloseReason>,
}

impl Client {
    async fn connect(sim: &Simulator, config: Config) -> Client {
        let sock = TcpStream::connect(sim.addr()).await.unwrap();
        let mut c = Client {
            conn: Connection::new(config, Instant::now()),
            sock,
            done: HashMap::new(),
            events: Vec::new(),
            closed: None,
        };
        tokio::time::timeout(T, async {
            while c.conn.state() != State::Ready {
                assert!(c.closed.is_none(), "closed: {:?}", c.closed);
                c.turn().await;
            }
        })
        .await
        .expect("login");
        c
    }

    async fn admin(sim: &Simulator) -> Client {
        Client::connect(sim, Config::new("admin", "amp111").auth(AuthMethod::Md5)).await
    }

    /// One turn of the run loop: write, wait for bytes or the deadline,
    /// then collect events.
    async fn turn(&mut self) {
        while let Some(b) = self.conn.poll_transmit() {
            self.sock.write_all(&b).await.unwrap();
        }
        let deadline = self.conn.poll_timeout();
        let mut buf = [0u8; 16384];
        let wait = deadline.map_or(Duration::from_millis(50), |d| {
            d.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50))
        });
        match tokio::time::timeout(wait, self.sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => self.conn.handle_eof(Instant::now()),
            Ok(Ok(n)) => self.conn.handle_input(Instant::now(), &buf[..n]),
            Err(_) => self.conn.handle_timeout(Instant::now()),
        }
        while let Some(b) = self.conn.poll_transmit() {
            self.sock.write_all(&b).await.unwrap();
        }
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                Event::Done { handle, result } => {
                    self.done.insert(handle, result);
                }
                Event::Unsolicited(p) => self.events.push(p),
                Event::Closed(r) => self.closed = Some(r),
                _ => {}
            }
        }
    }

    async fn run(&mut self, action: Action) -> Result<Outcome, ActionError> {
        let h = self.conn.send(action, Instant::now()).unwrap();
        tokio::time::timeout(T, async {
            loop {
                if let Some(r) = self.done.remove(&h) {
                    return r;
                }
                assert!(self.closed.is_none(), "closed: {:?}", self.closed);
                self.turn().await;
            }
        })
        .await
        .expect("no answer")
    }

    async fn wait_event(&mut self, pred: impl Fn(&Packet) -> bool) -> Packet {
        tokio::time::timeout(T, async {
            loop {
                if let Some(i) = self.events.iter().position(&pred) {
                    return self.events.remove(i);
                }
                self.turn().await;
            }
        })
        .await
        .expect("event did not come")
    }

    fn names(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|p| p.event().map(|e| e.to_string()))
            .collect()
    }
}

fn response(o: Result<Outcome, ActionError>) -> Packet {
    o.expect("action failed").packet().clone()
}

async fn sim() -> Simulator {
    Simulator::start(SimConfig::default().auth_failure_delay(Duration::ZERO))
        .await
        .unwrap()
}

#[tokio::test]
async fn async_originate_raises_call_events_and_fills_lists() {
    let sim = sim().await;
    let mut c = Client::admin(&sim).await;
    let out = c
        .run(
            Action::originate("Local/200@ami-test")
                .header("Application", "Wait")
                .header("Data", "5")
                .variable("MYVAR", "42")
                .async_originate(),
        )
        .await
        .unwrap();
    let Outcome::Originate(o) = out else {
        panic!("{out:?}")
    };
    assert!(o.is_success());
    assert_eq!(o.reason(), Some(4));
    assert_eq!(
        o.event.get_str("Channel"),
        Some("Local/200@ami-test-00000000;1")
    );
    for name in [
        "Newchannel",
        "Newexten",
        "VarSet",
        "LocalBridge",
        "DialBegin",
        "DialEnd",
        "BridgeEnter",
    ] {
        assert!(
            c.names().iter().any(|n| n == name),
            "{name} missing: {:?}",
            c.names()
        );
    }
    // The events carry the real channel snapshot.
    let newchan = c.events.iter().find(|p| p.is_event("Newchannel")).unwrap();
    assert_eq!(newchan.get_str("ChannelStateDesc"), Some("Down"));
    assert_eq!(newchan.get_str("AccountCode"), Some(""));

    let list = c.run(Action::new("CoreShowChannels")).await.unwrap();
    let Outcome::List(list) = list else { panic!() };
    assert_eq!(list.items.len(), 2);
    assert_eq!(list.announced_items(), Some(2));
    assert_eq!(list.items[0].get_str("Application"), Some("Wait"));
    assert_eq!(list.items[0].get_str("ApplicationData"), Some("5"));

    let status = c
        .run(Action::new("Status").header("Variables", "MYVAR"))
        .await
        .unwrap();
    let Outcome::List(status) = status else {
        panic!()
    };
    assert_eq!(status.items.len(), 2);
    assert_eq!(status.complete.get_str("Items"), Some("2"));
    assert_eq!(status.items[0].get_str("Variable"), Some("MYVAR=42"));

    let getvar = response(
        c.run(Action::getvar(
            "MYVAR",
            Some("Local/200@ami-test-00000000;2"),
        ))
        .await,
    );
    assert_eq!(getvar.get_str("Value"), Some("42"));

    // A caller waiting in a queue.
    c.run(
        Action::originate("Local/301@ami-test")
            .header("Application", "Wait")
            .header("Data", "5")
            .async_originate(),
    )
    .await
    .unwrap();
    let qs = c.run(Action::new("QueueStatus")).await.unwrap();
    let Outcome::List(qs) = qs else { panic!() };
    let entries: Vec<_> = qs
        .items
        .iter()
        .filter(|p| p.is_event("QueueEntry"))
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].get_str("Queue"), Some("emptyq"));
    assert_eq!(qs.announced_items(), Some(qs.items.len()));

    // Hang everything up with a regex.
    c.events.clear();
    let h = c
        .run(Action::hangup("/^Local\\/(200|301)@/"))
        .await
        .unwrap();
    let Outcome::List(h) = h else { panic!() };
    assert_eq!(h.items.len(), 4);
    assert!(sim.channels().is_empty());
    c.wait_event(|p| p.is_event("Hangup")).await;
    let again = c.run(Action::hangup("Local/200@ami-test-00000000;1")).await;
    assert!(again.is_err(), "{again:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn originate_failures() {
    let sim = sim().await;
    let mut c = Client::admin(&sim).await;
    let busy = c
        .run(
            Action::originate("Local/999@ami-test")
                .header("Application", "Wait")
                .header("Data", "1")
                .async_originate(),
        )
        .await
        .unwrap();
    let Outcome::Originate(busy) = busy else {
        panic!()
    };
    assert!(!busy.is_success());
    assert_eq!(busy.reason(), Some(5));
    let noanswer = c
        .run(
            Action::originate("Local/600@ami-test")
                .header("Application", "Wait")
                .header("Data", "1")
                .header("Timeout", "30")
                .async_originate(),
        )
        .await
        .unwrap();
    let Outcome::Originate(noanswer) = noanswer else {
        panic!()
    };
    assert_eq!(noanswer.reason(), Some(3));
    let sync_bad = c
        .run(Action::originate("NoSuchTech/foo").header("Application", "Wait"))
        .await;
    let Err(ActionError::Server { message, .. }) = sync_bad else {
        panic!("{sync_bad:?}")
    };
    assert_eq!(message, "Originate failed");
    // A sync originate that answers: the response comes before its events.
    c.events.clear();
    let ok = response(
        c.run(
            Action::originate("Local/100@ami-test")
                .header("Context", "ami-test")
                .header("Exten", "400")
                .header("Priority", "1"),
        )
        .await,
    );
    assert_eq!(ok.get_str("Message"), Some("Originate successfully queued"));
    c.wait_event(|p| p.is_event("BridgeEnter")).await;
    assert_eq!(sim.channels().len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn variables_permissions_and_events() {
    let sim = sim().await;
    let mut c = Client::admin(&sim).await;
    c.run(Action::setvar("G1", "v1", None)).await.unwrap();
    let g = response(c.run(Action::getvar("G1", None)).await);
    assert_eq!(g.get_str("Value"), Some("v1"));
    let missing = c.run(Action::getvar("X", Some("Local/nope-0;1"))).await;
    assert!(missing.is_err());
    let settings = response(c.run(Action::new("CoreSettings")).await);
    assert_eq!(settings.get_str("AsteriskVersion"), Some("22.10.1"));
    let st = response(c.run(Action::new("CoreStatus")).await);
    assert_eq!(st.get_str("CoreCurrentCalls"), Some("0"));
    let cmd = c.run(Action::command("core show version")).await.unwrap();
    let Outcome::Command(cmd) = cmd else { panic!() };
    assert!(cmd.text().starts_with("Asterisk 22.10.1"));

    // The limited user: system class only.
    let mut lim = Client::connect(
        &sim,
        Config::new("limited", "amp111").auth(AuthMethod::Plain),
    )
    .await;
    let denied = lim.run(Action::command("core show version")).await;
    let Err(ActionError::Server { message, .. }) = denied else {
        panic!("{denied:?}")
    };
    assert_eq!(message, "Permission denied");
    lim.wait_event(|p| p.is_event("FullyBooted")).await;
    assert!(!lim.names().iter().any(|n| n == "SuccessfulAuth"));
    // UserEvent: user class, so only admin sees it.
    c.events.clear();
    c.run(Action::user_event("Hello").header("X", "1"))
        .await
        .unwrap();
    let ev = c.wait_event(|p| p.is_event("UserEvent")).await;
    assert_eq!(ev.get_str("X"), Some("1"));
    lim.run(Action::ping()).await.unwrap();
    assert!(!lim.names().iter().any(|n| n == "UserEvent"));
    sim.shutdown().await;
}

fn pushed(n: u32, name: &str) -> Packet {
    Packet::builder()
        .header("Event", "UserEvent")
        .header("Privilege", "user,all")
        .header("UserEvent", name)
        .header("N", n.to_string())
        .build()
        .unwrap()
}

#[tokio::test]
async fn push_event_respects_filters_and_masks() {
    let sim = sim().await;
    let mut a = Client::admin(&sim).await;
    let mut b = Client::admin(&sim).await;
    a.run(
        Action::new("Filter")
            .header("Operation", "Add")
            .header("Filter", "UserEvent: Wanted"),
    )
    .await
    .unwrap();
    b.run(Action::new("Events").header("EventMask", "off"))
        .await
        .unwrap();
    a.events.clear();
    sim.push_event(pushed(1, "Unwanted"));
    sim.push_event(pushed(2, "Wanted"));
    let got = a.wait_event(|p| p.is_event("UserEvent")).await;
    assert_eq!(got.get_str("N"), Some("2"));
    b.run(Action::ping()).await.unwrap();
    assert!(
        !b.names().iter().any(|n| n == "UserEvent"),
        "{:?}",
        b.names()
    );
    let actions: Vec<String> = sim
        .received()
        .iter()
        .filter_map(|p| p.action().map(|a| a.to_string()))
        .collect();
    assert!(actions.iter().any(|a| a == "Filter"));
    assert!(actions.iter().any(|a| a == "Events"));
    sim.shutdown().await;
}

/// Log in raw with events on; returns the socket after the login reply.
async fn raw_login(sim: &Simulator) -> (TcpStream, Decoder, BytesMut) {
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\n\r\n")
        .await
        .unwrap();
    let mut dec = Decoder::new();
    let mut buf = BytesMut::new();
    loop {
        let p = next_packet(&mut s, &mut dec, &mut buf)
            .await
            .expect("login");
        if p.is_event("SuccessfulAuth") {
            return (s, dec, buf);
        }
    }
}

async fn next_packet(s: &mut TcpStream, dec: &mut Decoder, buf: &mut BytesMut) -> Option<Packet> {
    loop {
        match dec.decode(buf).unwrap() {
            Some(Frame::Packet(p)) => return Some(p),
            // The banner (or any other frame): not a packet.
            Some(_) => continue,
            None => {}
        }
        buf.reserve(65536);
        let n = tokio::time::timeout(T, s.read_buf(buf))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            return None;
        }
    }
}

#[tokio::test]
async fn flood_delivers_every_event_in_order() {
    let sim = sim().await;
    let (mut s, mut dec, mut buf) = raw_login(&sim).await;
    assert_eq!(sim.flood(100_000, None), 1);
    s.write_all(b"Action: Ping\r\nActionID: mid\r\n\r\n")
        .await
        .unwrap();
    let mut n = 0u64;
    let mut pong = false;
    while n < 100_000 {
        let p = next_packet(&mut s, &mut dec, &mut buf).await.unwrap();
        if p.is_event("UserEvent") {
            assert_eq!(p.get_str("Seq").unwrap().parse::<u64>().unwrap(), n);
            n += 1;
        } else {
            pong |= p.action_id().is_some_and(|a| a == "mid");
        }
    }
    if !pong {
        let p = next_packet(&mut s, &mut dec, &mut buf).await.unwrap();
        assert_eq!(p.action_id().unwrap(), "mid");
    }
    // Paced: 40 events at 2000/s take about 20 ms.
    let t0 = Instant::now();
    sim.flood(40, Some(2000));
    for _ in 0..40 {
        next_packet(&mut s, &mut dec, &mut buf).await.unwrap();
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(15),
        "{:?}",
        t0.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn replay_serves_a_capture_in_chunks() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/asterisk-22.10.1/13-event-flood.server.bin"
    ))
    .unwrap();
    let sim =
        Simulator::start(SimConfig::default().replay(Replay::new(bytes.clone()).chunk_size(777)))
            .await
            .unwrap();
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"Action: Ping\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, bytes);
    let mut dec = Decoder::new();
    let mut b = BytesMut::from(&got[..]);
    let mut msgs = 0;
    while let Some(f) = dec.decode(&mut b).unwrap() {
        msgs += matches!(f, Frame::Packet(_)) as usize;
    }
    assert_eq!(msgs, 2242);
    sim.shutdown().await;
}

/// A client that is still writing when the replay ends (and reads late)
/// gets every byte: the replay reads the client's input before closing, so
/// the close is a clean FIN and never a reset that discards unread data.
#[tokio::test]
async fn replay_end_does_not_reset_a_busy_client() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/asterisk-22.10.1/13-event-flood.server.bin"
    ))
    .unwrap();
    let sim = Simulator::start(SimConfig::default().replay(Replay::new(bytes.clone())))
        .await
        .unwrap();
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    // Write actions the replay will never answer, while not reading, until
    // well after the replay has written everything and half-closed.
    for _ in 0..20 {
        s.write_all(b"Action: Ping\r\n\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut got = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), bytes.len());
    assert!(got == bytes);
    drop(s);
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_cut_stall_and_refuse() {
    let sim = sim().await;
    // Cut mid-packet.
    sim.set_faults(Faults::default().close_after_bytes(40));
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"Action: Ping\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 40);
    let mut dec = Decoder::new().banner_mode(BannerMode::Required);
    let mut b = BytesMut::from(&got[..]);
    assert!(matches!(dec.decode(&mut b), Ok(Some(Frame::Banner(_)))));
    assert!(dec.is_mid_packet(&b));

    // Stall: nothing comes back until cleared.
    sim.set_faults(Faults::default());
    let (mut s, mut dec, mut buf) = raw_login(&sim).await;
    sim.set_faults(Faults::default().stall());
    s.write_all(b"Action: Ping\r\nActionID: st\r\n\r\n")
        .await
        .unwrap();
    let mut one = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(100), s.read(&mut one))
            .await
            .is_err()
    );
    sim.set_faults(Faults::default());
    let p = next_packet(&mut s, &mut dec, &mut buf).await.unwrap();
    assert_eq!(p.action_id().unwrap(), "st");

    // Refused before the banner.
    sim.set_faults(Faults::default().close_before_banner());
    let mut r = TcpStream::connect(sim.addr()).await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(T, r.read_to_end(&mut got))
        .await
        .unwrap();
    assert!(got.is_empty());
    sim.set_faults(Faults::default());

    // Garbage goes to every session as is.
    sim.push_raw(&b"\x00\xffgarbage without colon\r\n\r\n"[..]);
    let p = next_packet(&mut s, &mut dec, &mut buf).await.unwrap();
    assert!(p.raw().starts_with(b"\x00\xffgarbage"));
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_reader_is_dropped_after_write_timeout() {
    let sim = sim().await;
    let (s, _dec, _buf) = raw_login(&sim).await;
    sim.set_faults(Faults::default().write_timeout(Duration::from_millis(100)));
    sim.flood(5_000_000, None);
    let t0 = Instant::now();
    while sim.connection_count() > 0 {
        assert!(t0.elapsed() < T, "slow reader never dropped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(s);
    sim.shutdown().await;
}

#[tokio::test]
async fn restart_drops_clients_and_listens_on_the_same_port() {
    let sim = sim().await;
    let addr = sim.addr();
    let (mut s, mut dec, mut buf) = raw_login(&sim).await;
    assert_eq!(sim.connection_count(), 1);
    sim.stop_listening().await;
    assert!(TcpStream::connect(addr).await.is_err(), "not refused");
    sim.restart().await.unwrap();
    assert!(next_packet(&mut s, &mut dec, &mut buf).await.is_none());
    assert_eq!(sim.addr(), addr);
    let c = Client::admin(&sim).await;
    assert_eq!(c.conn.state(), State::Ready);
    assert_eq!(sim.connection_count(), 1);
    sim.shutdown().await;
    assert_eq!(sim.connection_count(), 0);
}

#[tokio::test]
async fn login_failure_and_auth_timeout_close() {
    let mut cfg = SimConfig::default().auth_failure_delay(Duration::from_millis(50));
    cfg.auth_timeout = Duration::from_millis(100);
    let sim = Simulator::start(cfg).await.unwrap();
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: nope\r\n\r\n")
        .await
        .unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(45));
    assert!(got.ends_with(b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"));
    let mut idle = TcpStream::connect(sim.addr()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(T, idle.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"Asterisk Call Manager/11.0.0\r\n");
    sim.shutdown().await;
}

#[tokio::test]
async fn call_outcomes_are_configurable() {
    let sim = Simulator::start(
        SimConfig::default()
            .call_outcome("700", CallOutcome::Busy)
            .call_duration(Duration::from_millis(50)),
    )
    .await
    .unwrap();
    let mut c = Client::admin(&sim).await;
    let out = c
        .run(
            Action::originate("Local/700@x")
                .header("Application", "Echo")
                .async_originate(),
        )
        .await
        .unwrap();
    let Outcome::Originate(o) = out else { panic!() };
    assert_eq!(o.reason(), Some(5));
    c.run(
        Action::originate("Local/701@x")
            .header("Application", "Echo")
            .async_originate(),
    )
    .await
    .unwrap();
    // Answered calls end after the configured duration.
    c.wait_event(|p| p.is_event("Hangup")).await;
    sim.shutdown().await;
}

#[test]
fn blocking_simulator_serves_plain_threads() {
    use std::io::{Read, Write};
    let sim = BlockingSimulator::start(SimConfig::default()).unwrap();
    let mut s = std::net::TcpStream::connect(sim.addr()).unwrap();
    s.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\nAction: Logoff\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(got.ends_with(b"Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n"));
    assert_eq!(sim.received().len(), 2);
    assert!(sim.url().starts_with("ami://admin:amp111@127.0.0.1:"));
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn tls_serves_the_same_session() {
    use std::sync::Arc;
    let sim = Simulator::start(SimConfig::default().tls()).await.unwrap();
    assert!(sim.url().starts_with("amis://"));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(sim.tls_cert_der().into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(sim.addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut s = conn.connect(name, tcp).await.unwrap();
    s.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\nAction: Logoff\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(T, s.read_to_end(&mut got))
        .await
        .unwrap();
    assert!(got.starts_with(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n"));
    assert!(got.ends_with(b"Message: Thanks for all the fish.\r\n\r\n"));
    sim.shutdown().await;
}

/// With tokio's paused clock, Asterisk's 1 s login-failure delay costs no
/// wall time, and timestamps follow the virtual clock.
#[tokio::test(start_paused = true)]
async fn paused_time_skips_the_login_failure_delay() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let wall = Instant::now();
    let virt = tokio::time::Instant::now();
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: nope\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert!(got.ends_with(b"Message: Authentication failed\r\n\r\n"));
    assert!(virt.elapsed() >= Duration::from_secs(1));
    assert!(
        wall.elapsed() < Duration::from_millis(900),
        "{:?}",
        wall.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn flood_from_a_capture_cycles_its_events() {
    let sim = sim().await;
    let (mut s, mut dec, mut buf) = raw_login(&sim).await;
    let capture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/asterisk-22.10.1/13-event-flood.server.bin"
    ))
    .unwrap();
    assert_eq!(sim.flood_from_capture(&capture, 5000, None), 1);
    let mut names = std::collections::BTreeSet::new();
    for _ in 0..5000 {
        let p = next_packet(&mut s, &mut dec, &mut buf).await.unwrap();
        names.insert(p.event().expect("only events").to_string());
    }
    assert!(
        names.contains("Newchannel") && names.contains("Hangup"),
        "{names:?}"
    );
    s.write_all(b"Action: Ping\r\nActionID: after\r\n\r\n")
        .await
        .unwrap();
    let p = next_packet(&mut s, &mut dec, &mut buf).await.unwrap();
    assert_eq!(
        p.action_id().unwrap(),
        "after",
        "more events than asked for"
    );
    sim.shutdown().await;
}

/// Odd client bytes echoed by `UserEvent` never take the simulator down.
#[tokio::test]
async fn odd_userevent_headers_are_echoed_or_survived() {
    let sim = sim().await;
    let (mut s, mut dec, mut buf) = raw_login(&sim).await;
    let odd: &[&[u8]] = &[
        b"NoColonAtAll",
        b"Nul: a\0b",
        b"Latin1: \xe9t\xe9",
        b"Cr: a\rb",
        b": empty key",
        b"Spaces :  x  ",
    ];
    for (i, line) in odd.iter().enumerate() {
        let mut m =
            format!("Action: UserEvent\r\nActionID: odd-{i}\r\nUserEvent: Odd\r\n").into_bytes();
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n\r\n");
        s.write_all(&m).await.unwrap();
    }
    s.write_all(b"Action: Ping\r\nActionID: last\r\n\r\n")
        .await
        .unwrap();
    let mut echoed = 0;
    loop {
        let p = next_packet(&mut s, &mut dec, &mut buf)
            .await
            .expect("still up");
        if p.is_event("UserEvent") {
            echoed += 1;
        }
        if p.action_id().is_some_and(|a| a == "last") && p.response().is_some() {
            break;
        }
    }
    assert_eq!(echoed, odd.len());
    sim.shutdown().await;
}
