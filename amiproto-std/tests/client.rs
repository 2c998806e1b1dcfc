//! The blocking client against a scripted std server and capture replays.
#![allow(clippy::result_large_err)]

mod common;

use std::time::{Duration, Instant};

use amiproto::{Action, ActionError, CloseReason, ConnectionError, Outcome};
use amiproto_std::{Client, ClientConfig, Error, EventItem, Overflow};
use common::{capture, captured_actions, client_capture, header, serve, BANNER};

fn event(n: usize) -> String {
    format!("Event: Test\r\nN: {n}\r\n\r\n")
}

fn number(item: &EventItem) -> usize {
    item.packet()
        .and_then(|p| p.get_str("N"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a numbered event: {item:?}"))
}

/// The numbers of the next `count` events, each waited for up to 5 s.
fn next_numbers(client: &mut Client, count: usize) -> Vec<usize> {
    (0..count)
        .map(|_| {
            let item = client.next_event(Some(Duration::from_secs(5))).unwrap();
            number(&item.expect("an event within 5 s"))
        })
        .collect()
}

fn fast(url: &str) -> ClientConfig {
    ClientConfig::from_url(url)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .map_config(|c| {
            c.banner_timeout(Duration::from_secs(5))
                .login_timeout(Duration::from_secs(5))
                .action_timeout(Some(Duration::from_secs(10)))
        })
}

#[test]
fn client_is_send() {
    fn is_send<T: Send>() {}
    is_send::<Client>();
    is_send::<Error>();
}

#[test]
fn ping_returns_the_round_trip_time() {
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.login();
        let ping = peer.read_packet().unwrap();
        let id = header(&ping, "ActionID").unwrap();
        std::thread::sleep(Duration::from_millis(80));
        peer.write(format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n").as_bytes());
        peer.drain();
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    let rtt: Duration = client.ping().unwrap();
    assert!(
        rtt >= Duration::from_millis(80) && rtt < Duration::from_secs(10),
        "{rtt:?}"
    );
    drop(client);
    server.join().unwrap();
}

#[test]
fn plain_login_then_logoff() {
    let (url, server) = serve("?auth=plain", |mut peer| {
        let login = peer.login();
        assert_eq!(header(&login, "Username").as_deref(), Some("admin"));
        assert_eq!(header(&login, "Secret").as_deref(), Some("amp111"));
        let logoff = peer.read_packet().unwrap();
        let id = header(&logoff, "ActionID").unwrap();
        peer.write(
            format!(
                "Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n"
            )
            .as_bytes(),
        );
    });
    let client = Client::connect(fast(&url)).unwrap();
    assert_eq!(client.banner().unwrap().version().unwrap().major, 11);
    client.logoff().unwrap();
    server.join().unwrap();
}

#[test]
fn md5_login_never_sends_the_secret() {
    let (url, server) = serve("?auth=md5", |mut peer| {
        peer.write(BANNER);
        let challenge = peer.read_packet().unwrap();
        assert_eq!(header(&challenge, "AuthType").as_deref(), Some("MD5"));
        let id = header(&challenge, "ActionID").unwrap();
        peer.write(
            format!("Response: Success\r\nActionID: {id}\r\nChallenge: 112527728\r\n\r\n")
                .as_bytes(),
        );
        let login = peer.read_packet().unwrap();
        assert!(!login.contains("amp111"), "{login}");
        assert_eq!(
            header(&login, "Key").unwrap(),
            amiproto::md5_key("112527728", "amp111")
        );
        let id = header(&login, "ActionID").unwrap();
        peer.write(
            format!(
                "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
            )
            .as_bytes(),
        );
        peer.drain();
    });
    let client = Client::connect(fast(&url)).unwrap();
    assert_eq!(client.state(), amiproto::State::Ready);
    drop(client);
    server.join().unwrap();
}

#[test]
fn login_failure_is_typed_with_the_server_message() {
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.write(BANNER);
        let login = peer.read_packet().unwrap();
        let id = header(&login, "ActionID").unwrap();
        peer.write(
            format!("Response: Error\r\nActionID: {id}\r\nMessage: Authentication failed\r\n\r\n")
                .as_bytes(),
        );
    });
    let err = Client::connect(fast(&url)).unwrap_err();
    assert!(err.is_auth_failed(), "{err:?}");
    assert_eq!(err.server_message(), Some("Authentication failed"));
    server.join().unwrap();
}

#[test]
fn banner_timeout_and_not_ami() {
    let (url, server) = serve("", |mut peer| {
        std::thread::sleep(Duration::from_millis(400));
        peer.write(BANNER);
    });
    let t = Instant::now();
    let err =
        Client::connect(fast(&url).map_config(|c| c.banner_timeout(Duration::from_millis(100))))
            .unwrap_err();
    assert!(
        matches!(err, Error::Connection(ConnectionError::BannerTimeout)),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_millis(350));
    server.join().unwrap();

    let (url, server) = serve("", |mut peer| peer.write(b"SSH-2.0-OpenSSH_9.6\r\n"));
    let err = Client::connect(fast(&url)).unwrap_err();
    assert!(
        matches!(err, Error::Connection(ConnectionError::NotAmi { .. })),
        "{err:?}"
    );
    server.join().unwrap();
}

#[test]
fn connect_refused_is_typed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = amiproto_std::connect(&format!("ami://a:b@127.0.0.1:{port}")).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let err = amiproto_std::connect("http://a:b@h").unwrap_err();
    assert!(matches!(err, Error::Url(_)), "{err:?}");
}

#[test]
fn events_in_the_login_read_are_not_lost() {
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.write(BANNER);
        let login = peer.read_packet().unwrap();
        let id = header(&login, "ActionID").unwrap();
        let mut burst = format!(
            "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
        );
        for n in 0..3 {
            burst.push_str(&event(n));
        }
        peer.write(burst.as_bytes());
        peer.drain();
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    for n in 0..3 {
        let item = client
            .next_event(Some(Duration::from_secs(5)))
            .unwrap()
            .unwrap();
        assert_eq!(number(&item), n);
    }
    assert_eq!(
        client.next_event(Some(Duration::from_millis(20))).unwrap(),
        None
    );
    drop(client);
    server.join().unwrap();
}

/// One read brings several events: after `next_event` hands out the first,
/// `try_next_event` hands out the rest at once (they were read already),
/// and a call that takes in more (here `send`) keeps them ahead of newer
/// events.
#[test]
fn events_of_one_read_come_in_order_through_every_call() {
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.login();
        // Later than the login's read: the client is waiting in
        // `next_event` when the burst arrives.
        std::thread::sleep(Duration::from_millis(100));
        let burst: String = (0..5).map(event).collect();
        peer.write(burst.as_bytes());
        let ping = peer.read_packet().unwrap();
        let id = header(&ping, "ActionID").unwrap();
        let mut more: String = (5..8).map(event).collect();
        more.push_str(&format!(
            "Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n"
        ));
        peer.write(more.as_bytes());
        peer.drain();
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    let first = client.next_event(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(first.as_ref().map(number), Some(0));
    // The same read's next two, without waiting for another.
    for n in 1..3 {
        assert_eq!(client.try_next_event().as_ref().map(number), Some(n));
    }
    let pong = client.send(Action::ping()).unwrap();
    assert_eq!(pong.packet().get_str("Ping"), Some("Pong"));
    let rest = next_numbers(&mut client, 5);
    assert_eq!(rest, (3..8).collect::<Vec<_>>());
    assert_eq!(client.try_next_event(), None);
    drop(client);
    server.join().unwrap();
}

#[test]
fn events_during_send_are_queued_in_order() {
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.login();
        let ping = peer.read_packet().unwrap();
        let id = header(&ping, "ActionID").unwrap();
        for n in 0..5 {
            peer.write(event(n).as_bytes());
        }
        peer.write(format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n").as_bytes());
        peer.write(event(5).as_bytes());
        peer.drain();
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    let pong = client.send(Action::ping()).unwrap();
    assert_eq!(pong.packet().get_str("Ping"), Some("Pong"));
    let got = next_numbers(&mut client, 6);
    assert_eq!(got, (0..6).collect::<Vec<_>>());
    drop(client);
    server.join().unwrap();
}

/// A server that answers each ping as it reads it and blocks writing when
/// the client does not read: without reading while writing, a large
/// pipeline deadlocks.
#[test]
fn pipelined_10000_pings_do_not_deadlock() {
    const N: usize = 10_000;
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.login();
        let mut answered = 0;
        while let Some(ping) = peer.read_packet() {
            if ping.starts_with("Action: Logoff") {
                break;
            }
            let id = header(&ping, "ActionID").unwrap();
            // Padding makes the answers outweigh the actions several times.
            peer.write(format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\nTimestamp: 1700000000.000000\r\nPadding: {}\r\n\r\n", "x".repeat(600)).as_bytes());
            answered += 1;
        }
        assert_eq!(answered, N + 100);
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    // ~6 MB each way: more than the socket buffers hold while neither side
    // reads, so this only finishes if the client reads while it writes.
    let pad = "y".repeat(600);
    let outcomes = client.send_all((0..N).map(|_| Action::ping().header("Padding", pad.clone())));
    assert_eq!(outcomes.len(), N);
    for (i, o) in outcomes.into_iter().enumerate() {
        let p = o
            .unwrap_or_else(|e| panic!("ping {i}: {e}"))
            .into_response()
            .unwrap();
        assert_eq!(p.get_str("Ping"), Some("Pong"));
    }
    // submit / wait in reverse order works too.
    let handles: Vec<_> = (0..100)
        .map(|_| client.submit(Action::ping()).unwrap())
        .collect();
    for h in handles.into_iter().rev() {
        client.wait(h).unwrap();
    }
    let _ = client.send_no_reply(Action::logoff());
    server.join().unwrap();
}

#[test]
fn wait_on_an_unknown_or_taken_handle_is_an_error() {
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.login();
        let ping = peer.read_packet().unwrap();
        let id = header(&ping, "ActionID").unwrap();
        peer.write(format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n").as_bytes());
        peer.drain();
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    let h = client.submit(Action::ping()).unwrap();
    client.wait(h).unwrap();
    assert!(matches!(client.wait(h), Err(Error::UnknownHandle)));
    drop(client);
    server.join().unwrap();
}

fn replay_test(
    version: &'static str,
    name: &'static str,
) -> (Client, Vec<amiproto::Action>, std::thread::JoinHandle<()>) {
    let client_bytes = client_capture(version, name);
    let actions: Vec<_> = captured_actions(&client_bytes)
        .into_iter()
        .filter(|a| !a.is("Logoff"))
        .collect();
    // Log in with the capture's own event mask. With events off, an async
    // Originate is refused before it is written: the server reads the rest.
    let events_off = memchr::memmem::find(&client_bytes, b"\r\nEvents: off\r\n").is_some();
    let n = actions
        .iter()
        .filter(|a| !(events_off && a.is("Originate") && a.flag("Async")))
        .count();
    let server_bytes = capture(version, name);
    let query = if events_off {
        "?auth=plain&events=off"
    } else {
        "?auth=plain&events=on"
    };
    let (url, server) = serve(query, move |mut peer| {
        peer.replay_after_login(&server_bytes, n);
        peer.drain();
    });
    let client = Client::connect(fast(&url).events(Overflow::Lossless)).unwrap();
    (client, actions, server)
}

#[test]
fn command_output_in_both_formats() {
    for version in ["22.10.1", "13.38.3"] {
        let (mut client, actions, server) = replay_test(version, "06-command");
        let handles: Vec<_> = actions
            .iter()
            .map(|a| client.submit(a.clone()).unwrap())
            .collect();
        let mut results = handles.into_iter().map(|h| client.wait(h));
        let v = results.next().unwrap().unwrap().into_command().unwrap();
        assert!(v.text().starts_with("Asterisk "), "{version}: {}", v.text());
        let channels = results.next().unwrap().unwrap().into_command().unwrap();
        assert!(channels.lines.len() >= 3, "{version}");
        match (version, results.next().unwrap()) {
            ("22.10.1", Err(Error::Action(ActionError::Server { .. }))) => {}
            ("13.38.3", Ok(Outcome::Command(c))) => assert!(c.text().contains("No such command")),
            (v, other) => panic!("{v}: unknown command gave {other:?}"),
        }
        let help = results.next().unwrap().unwrap().into_command().unwrap();
        assert!(help.lines.len() > 100, "{version}: {}", help.lines.len());
        let mgr = results.next().unwrap().unwrap().into_command().unwrap();
        assert!(mgr.lines.len() > 50, "{version}");
        assert!(matches!(
            results.next().unwrap(),
            Err(Error::Action(ActionError::Server { .. }))
        ));
        drop(results);
        drop(client);
        server.join().unwrap();
    }
}

#[test]
fn lists_from_the_capture() {
    let (mut client, actions, server) = replay_test("22.10.1", "07-list-actions");
    let ids: Vec<String> = actions
        .iter()
        .map(|a| a.get_action_id().unwrap().to_owned())
        .collect();
    // With events off (as captured), the async originates'
    // OriginateResponse never comes: they are refused at submit.
    let handles: Vec<_> = actions.into_iter().map(|a| client.submit(a)).collect();
    let mut lists = 0;
    for (id, h) in ids.iter().zip(handles) {
        if id.starts_with("orig-") {
            assert!(
                matches!(
                    h,
                    Err(Error::Send(amiproto::SendError::Unanswerable(
                        amiproto::Unanswerable::EventMaskExcludesCall { .. }
                    )))
                ),
                "{id}: {h:?}"
            );
            continue;
        }
        let result = client.wait(h.unwrap());
        match id.as_str() {
            "sippeers" | "pjsip-eps" => assert!(
                matches!(result, Err(Error::Action(ActionError::Server { .. }))),
                "{id}"
            ),
            "csc-active" | "status-all" | "qstatus" | "devstates" | "showdialplan" => {
                let list = result
                    .unwrap()
                    .into_list()
                    .unwrap_or_else(|| panic!("{id} not a list"));
                assert_eq!(list.announced_items(), Some(list.items.len()), "{id}");
                assert!(!list.items.is_empty(), "{id}");
                lists += 1;
            }
            _ => {
                result.unwrap_or_else(|e| panic!("{id}: {e}"));
            }
        }
    }
    assert_eq!(lists, 5);
    drop(client);
    server.join().unwrap();
}

#[test]
fn async_originate_from_the_capture() {
    let (mut client, actions, server) = replay_test("22.10.1", "10-originate-events");
    let ids: Vec<String> = actions
        .iter()
        .map(|a| a.get_action_id().unwrap().to_owned())
        .collect();
    let handles: Vec<_> = actions
        .into_iter()
        .map(|a| client.submit(a).unwrap())
        .collect();
    for (id, h) in ids.iter().zip(handles) {
        let result = client.wait(h);
        match id.as_str() {
            "orig-dial" => {
                let o = result.unwrap().into_originate().unwrap();
                assert!(o.is_success());
                assert_eq!(o.reason(), Some(4));
            }
            "orig-busy" | "orig-noanswer" => {
                let o = result.unwrap().into_originate().unwrap();
                assert!(!o.is_success(), "{id}");
            }
            "orig-badtech" => assert!(result.is_err(), "{id}"),
            _ => {}
        }
    }
    // The call's events were queued meanwhile.
    let mut events = 0;
    while let Ok(Some(_)) = client.next_event(Some(Duration::from_millis(50))) {
        events += 1;
    }
    assert!(events > 100, "{events}");
    drop(client);
    server.join().unwrap();
}

fn flood_then_pong(count: usize) -> impl FnOnce(common::Peer) + Send + 'static {
    move |mut peer| {
        peer.login();
        let ping = peer.read_packet().unwrap();
        let id = header(&ping, "ActionID").unwrap();
        let mut burst = String::new();
        for n in 0..count {
            burst.push_str(&event(n));
        }
        burst.push_str(&format!(
            "Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n"
        ));
        peer.write(burst.as_bytes());
        peer.drain();
    }
}

#[test]
fn lossy_queue_reports_the_exact_lag() {
    let (url, server) = serve("?auth=plain", flood_then_pong(1000));
    let mut client = Client::connect(fast(&url).events(Overflow::Lossy { capacity: 100 })).unwrap();
    client.ping().unwrap();
    assert_eq!(
        client.next_event(None).unwrap(),
        Some(EventItem::Lagged(900))
    );
    for n in 900..1000 {
        assert_eq!(number(&client.next_event(None).unwrap().unwrap()), n);
    }
    assert_eq!(client.lagged_events(), 900);
    drop(client);
    server.join().unwrap();
}

#[test]
fn streamed_list_items_are_never_dropped_by_a_lossy_queue() {
    const ITEMS: usize = 1000;
    const EVENTS: usize = 500;
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.login();
        let list = peer.read_packet().unwrap();
        let id = header(&list, "ActionID").unwrap();
        let mut burst = format!(
            "Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
        );
        for n in 0..ITEMS {
            burst.push_str(&format!(
                "Event: CoreShowChannel\r\nActionID: {id}\r\nN: {n}\r\n\r\n"
            ));
        }
        burst.push_str(&format!(
            "Event: CoreShowChannelsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: {ITEMS}\r\n\r\n"
        ));
        // Unrelated events after the list: these may be dropped.
        for n in 0..EVENTS {
            burst.push_str(&event(n));
        }
        peer.write(burst.as_bytes());
        let ping = peer.read_packet().unwrap();
        let id = header(&ping, "ActionID").unwrap();
        peer.write(format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n").as_bytes());
        peer.drain();
    });
    let mut client = Client::connect(fast(&url).events(Overflow::Lossy { capacity: 100 })).unwrap();
    let h = client
        .submit_with(
            Action::new("CoreShowChannels"),
            amiproto::SendOptions::new().stream_list(),
        )
        .unwrap();
    let list = client.wait(h).unwrap().into_list().unwrap();
    assert!(list.items.is_empty());
    // The events after the list have arrived too.
    client.ping().unwrap();
    let mut items = Vec::new();
    let mut events = 0;
    let mut lagged = 0;
    while let Some(item) = client.next_event(Some(Duration::from_millis(100))).unwrap() {
        match item {
            EventItem::ListItem { handle, item } => {
                assert_eq!(handle, h);
                items.push(item.get_str("N").unwrap().parse::<usize>().unwrap());
            }
            EventItem::Event(_) => events += 1,
            EventItem::Lagged(n) => lagged += n,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(items, (0..ITEMS).collect::<Vec<_>>(), "list items lost");
    assert_eq!(events, 100);
    assert_eq!(lagged, (EVENTS - 100) as u64);
    assert_eq!(client.lagged_events(), lagged);
    drop(client);
    server.join().unwrap();
}

#[test]
fn lossless_queue_keeps_a_flood() {
    const N: usize = 100_000;
    let (url, server) = serve("?auth=plain", flood_then_pong(N));
    let mut client = Client::connect(fast(&url).events(Overflow::Lossless)).unwrap();
    client.ping().unwrap();
    assert_eq!(client.queued_events(), N);
    for n in 0..N {
        assert_eq!(number(&client.next_event(None).unwrap().unwrap()), n);
    }
    drop(client);
    server.join().unwrap();
}

#[test]
fn keepalive_detects_a_dead_peer_while_idle() {
    let (url, server) = serve("?auth=plain&keepalive=100ms", |mut peer| {
        peer.login();
        // Read the keepalive ping and never answer.
        let ping = peer.read_packet().unwrap();
        assert!(ping.starts_with("Action: Ping\r\n"), "{ping}");
        peer.drain();
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    let t = Instant::now();
    let err = client.next_event(None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Closed(CloseReason::Error(ConnectionError::KeepaliveTimeout))
        ),
        "{err:?}"
    );
    assert!(t.elapsed() >= Duration::from_millis(190) && t.elapsed() < Duration::from_secs(2));
    drop(client);
    server.join().unwrap();
}

#[test]
fn keepalive_keeps_a_live_peer() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    let (url, server) = serve("?auth=plain&keepalive=50ms", move |mut peer| {
        peer.login();
        while let Some(ping) = peer.read_packet() {
            let id = header(&ping, "ActionID").unwrap();
            peer.write(
                format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n").as_bytes(),
            );
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    // Keepalive answers are consumed by the core: no events, no error, while
    // the client idles long enough for three keepalive rounds (however slow
    // a loaded machine makes each wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while answered.load(Ordering::SeqCst) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "keepalive pings stopped"
        );
        assert_eq!(
            client.next_event(Some(Duration::from_millis(100))).unwrap(),
            None
        );
    }
    assert!(!client.is_closed());
    drop(client);
    server.join().unwrap();
    assert!(answered.load(Ordering::SeqCst) >= 3);
}

#[test]
fn mid_packet_disconnect_fails_every_pending_action() {
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.login();
        let a = peer.read_packet().unwrap();
        let _b = peer.read_packet().unwrap();
        let id = header(&a, "ActionID").unwrap();
        peer.write(format!("Response: Success\r\nActionID: {id}\r\nPing: Po").as_bytes());
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    let a = client.submit(Action::ping()).unwrap();
    let b = client.submit(Action::ping()).unwrap();
    let closed = CloseReason::Error(ConnectionError::PeerClosed { mid_packet: true });
    for h in [a, b] {
        match client.wait(h) {
            Err(Error::Action(ActionError::Closed(r))) => assert_eq!(r, closed),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(client.close_reason(), Some(&closed));
    assert!(matches!(
        client.submit(Action::ping()),
        Err(Error::Closed(_))
    ));
    let mut it = client.events();
    assert!(matches!(it.next(), Some(Err(Error::Closed(_)))));
    assert!(it.next().is_none());
    server.join().unwrap();
}

#[test]
fn action_timeout_is_honoured() {
    let (url, server) = serve("?auth=plain&timeout=100ms", |mut peer| {
        peer.login();
        peer.drain();
    });
    let mut client = Client::connect(
        fast(&url).map_config(|c| c.action_timeout(Some(Duration::from_millis(100)))),
    )
    .unwrap();
    let t = Instant::now();
    let err = client.ping().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(1));
    drop(client);
    server.join().unwrap();
}

#[test]
fn zero_timeout_polls_what_has_arrived() {
    let (url, server) = serve("?auth=plain", |mut peer| {
        peer.login();
        std::thread::sleep(Duration::from_millis(100));
        for n in 0..3 {
            peer.write(event(n).as_bytes());
        }
        peer.drain();
    });
    let mut client = Client::connect(fast(&url)).unwrap();
    assert_eq!(client.next_event(Some(Duration::ZERO)).unwrap(), None);
    let t = Instant::now();
    let mut got = Vec::new();
    while got.len() < 3 && t.elapsed() < Duration::from_secs(5) {
        match client.next_event(Some(Duration::ZERO)).unwrap() {
            Some(item) => got.push(number(&item)),
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    assert_eq!(got, vec![0, 1, 2]);
    drop(client);
    server.join().unwrap();
}

#[cfg(not(feature = "tls"))]
#[test]
fn amis_needs_the_tls_feature() {
    let err = amiproto_std::connect("amis://a:b@127.0.0.1:1").unwrap_err();
    assert!(matches!(err, Error::TlsUnavailable), "{err:?}");
}

/// A server that neither reads nor writes: the action times out on time
/// even though its bytes cannot all be written.
#[test]
fn action_timeout_holds_while_writes_are_stalled() {
    let (done, wait_done) = std::sync::mpsc::channel::<()>();
    let (url, server) = serve("?auth=plain", move |mut peer| {
        peer.login();
        let _ = wait_done.recv();
    });
    let mut client = Client::connect(
        fast(&url).map_config(|c| c.action_timeout(Some(Duration::from_millis(200)))),
    )
    .unwrap();
    let pad = "z".repeat(900);
    let handles: Vec<_> = (0..8_000)
        .map(|_| {
            client
                .submit(Action::ping().header("Padding", pad.clone()))
                .unwrap()
        })
        .collect();
    // 7 MB cannot all be written; waiting must not wait for that.
    let t = Instant::now();
    let err = client.wait(handles[0]).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let err = client.wait(handles[7_999]).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        t.elapsed() < Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
    done.send(()).unwrap();
    drop(client);
    server.join().unwrap();
}
