//! Answers of real Asterisk versions as a user expects them, end to end
//! through both clients against the simulator: a cut before `Goodbye`,
//! errors explained by `Output:`, permission refusals, `Items:` counts and
//! unmarked lists of Asterisk 11, actions that could never finish refused
//! at once.

use std::time::Duration;

use amiproto::{Action, ConnectionError, EventItem, EventMask, SendError, Unanswerable};
use amiproto_testkit::{BlockingSimulator, Faults, SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, ConnectionState, Error, Reconnect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(20);

const NO_SUCH: &str =
    "No such command 'no such command here' (type 'core show help no such' for other possible commands)";

fn config(url: &str) -> ClientConfig {
    ClientConfig::from_url(url)
        .unwrap()
        .action_timeout(Some(Duration::from_secs(30)))
}

fn logins(sim: &Simulator) -> usize {
    sim.received()
        .iter()
        .filter(|p| p.action().is_some_and(|a| a.eq_ignore_case("Login")))
        .count()
}

#[tokio::test]
async fn a_cut_before_goodbye_is_a_cut_even_with_a_logoff_pipelined() {
    let big = "x".repeat(100) + "\n";
    let sim = Simulator::start(SimConfig::default().command("big", big.repeat(500)))
        .await
        .unwrap();
    let config = config(&format!("{}?events=off", sim.url())).reconnect(
        Reconnect::default().delays(Duration::from_millis(20), Duration::from_millis(100)),
    );
    let (client, _events) = connect(config).await.unwrap();
    // The server's writes stop inside the command's answer, before Goodbye.
    sim.set_faults(Faults::default().close_after_bytes(2000));
    let (out, bye) = timeout(T, async {
        tokio::join!(client.command("big"), client.logoff())
    })
    .await
    .unwrap();
    let cut = ConnectionError::PeerClosed { mid_packet: true };
    for e in [out.unwrap_err(), bye.unwrap_err()] {
        assert_eq!(e.connection_error(), Some(&cut), "{e}");
    }
    timeout(T, client.closed()).await.unwrap();
    let status = client.status();
    assert_eq!(status.state, ConnectionState::Closed);
    assert_eq!(
        status.last_close,
        Some(amiproto::CloseReason::Error(cut.clone()))
    );
    // The user asked for the end: no reconnect.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(logins(&sim), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_command_says_no_such_command() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (client, _events) = connect(config(&sim.url())).await.unwrap();
    let e = client.command("no such command here").await.unwrap_err();
    assert_eq!(e.server_message(), Some(NO_SUCH));
    assert_eq!(e.to_string(), format!("server error: {NO_SUCH}"));
    // Asterisk 13 answers it as output: there it is no error.
    let legacy = Simulator::start(SimConfig::legacy()).await.unwrap();
    let (old, _events) = connect(config(&legacy.url())).await.unwrap();
    let out = old.command("no such command here").await.unwrap();
    assert_eq!(out.text(), NO_SUCH);
    client.logoff().await.unwrap();
    old.logoff().await.unwrap();
    sim.shutdown().await;
    legacy.shutdown().await;
}

#[test]
fn the_blocking_client_says_no_such_command_too() {
    let sim = BlockingSimulator::start(SimConfig::default()).unwrap();
    let mut client = amiproto_std::Client::connect_url(&sim.url()).unwrap();
    let e = client.command("no such command here").unwrap_err();
    assert_eq!(e.server_message(), Some(NO_SUCH));
    client.logoff().unwrap();
}

#[tokio::test]
async fn permission_denied_is_typed() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = format!("ami://limited:amp111@{}", sim.addr());
    let (client, _events) = connect(config(&url)).await.unwrap();
    // `limited` may write `system` only.
    let e = client
        .send(Action::originate("Local/100@default").header("Application", "Wait"))
        .await
        .unwrap_err();
    assert!(e.is_permission_denied(), "{e}");
    let e = client.command("no such command here").await.unwrap_err();
    assert!(e.is_permission_denied(), "{e}");
    // Other refusals are not.
    let e = client.send(Action::new("NoSuchAction")).await.unwrap_err();
    assert!(!e.is_permission_denied(), "{e}");
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

/// An async originate to an answering extension, for the lists to show.
async fn call(client: &amiproto_tokio::Client) {
    let o = client
        .originate(
            Action::originate("Local/100@default")
                .header("Application", "Wait")
                .header("Data", "30")
                .variable("LISTTEST", "1"),
        )
        .await
        .unwrap();
    assert!(o.is_success());
}

#[tokio::test]
async fn asterisk_11_lists_are_complete_and_counted() {
    let sim = Simulator::start(SimConfig::asterisk11()).await.unwrap();
    let (client, mut events) = connect(config(&sim.url())).await.unwrap();
    assert_eq!(client.status().version.unwrap().to_string(), "1.3");
    call(&client).await;

    let status = client
        .list(Action::new("Status").header("Variables", "LISTTEST,NOPE"))
        .await
        .unwrap();
    assert!(status.response.get("EventList").is_none(), "unmarked");
    assert_eq!(status.items.len(), 2);
    assert_eq!(status.announced_items(), Some(2), "Items: of Asterisk 11");
    let vars: Vec<_> = status.items[0]
        .get_all("Variable")
        .map(|v| v.to_string())
        .collect();
    assert_eq!(vars, ["LISTTEST=1", "NOPE=(null)"]);

    let queues = client.list(Action::new("QueueStatus")).await.unwrap();
    let names: Vec<_> = queues
        .items
        .iter()
        .map(|p| p.event().unwrap().to_string())
        .collect();
    assert_eq!(names, ["QueueParams", "QueueMember", "QueueParams"]);
    assert!(queues.items[1].contains("IsInCall"), "11's QueueMember");
    assert_eq!(queues.announced_items(), None);

    let summary = client.list(Action::new("QueueSummary")).await.unwrap();
    assert_eq!(summary.items.len(), 2);
    assert!(summary.complete.is_event("QueueSummaryComplete"));

    // Parking lots come without ActionID on 11: still the list's.
    let lots = client.list(Action::new("Parkinglots")).await.unwrap();
    assert_eq!(lots.items.len(), 1);
    assert_eq!(lots.items[0].get_str("Name"), Some("default"));
    assert_eq!(lots.items[0].get_str("StartExten"), Some("701"));
    assert!(lots.items[0].action_id().is_none());
    client.ping().await.unwrap();
    while let Some(item) = events.try_recv() {
        if let EventItem::Event(p) = item {
            assert!(!p.is_event("Parkinglot"), "leaked: {p:?}");
        }
    }
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[test]
fn the_blocking_client_collects_asterisk_11_parking_lots() {
    let sim = BlockingSimulator::start(SimConfig::asterisk11()).unwrap();
    let mut client = amiproto_std::Client::connect_url(&sim.url()).unwrap();
    let lots = client.list(Action::new("Parkinglots")).unwrap();
    assert_eq!(lots.items.len(), 1);
    let status = client.list(Action::new("Status")).unwrap();
    assert_eq!(status.announced_items(), Some(0));
    client.logoff().unwrap();
}

#[tokio::test]
async fn later_servers_mark_their_parking_lots() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (client, _events) = connect(config(&sim.url())).await.unwrap();
    let lots = client.list(Action::new("Parkinglots")).await.unwrap();
    assert_eq!(lots.items.len(), 1);
    assert_eq!(lots.items[0].get_str("StartSpace"), Some("701"));
    assert_eq!(lots.announced_items(), Some(1));
    let summary = client.list(Action::new("QueueSummary")).await.unwrap();
    assert_eq!(summary.announced_items(), Some(2));
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

fn refused_by_mask(e: &Error, mask: &str) {
    match e {
        Error::Send(SendError::Unanswerable(Unanswerable::EventMaskExcludesCall { mask: m })) => {
            assert_eq!(m, mask)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_async_originate_that_could_never_finish_is_refused_at_once() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let originate = || Action::originate("Local/100@default").header("Application", "Wait");
    // Events off at login.
    let (client, _events) = connect(config(&format!("{}?events=off", sim.url())))
        .await
        .unwrap();
    let e = timeout(Duration::from_secs(5), client.originate(originate()))
        .await
        .expect("refused at once, not after the action timeout")
        .unwrap_err();
    refused_by_mask(&e, "off");
    client.logoff().await.unwrap();

    // Events turned off later, then on again.
    let (client, _events) = connect(config(&sim.url())).await.unwrap();
    client.set_event_mask(EventMask::Off).await.unwrap();
    let e = client.originate(originate()).await.unwrap_err();
    refused_by_mask(&e, "off");
    client
        .set_event_mask(EventMask::Classes(vec!["call".into()]))
        .await
        .unwrap();
    assert!(client.originate(originate()).await.unwrap().is_success());

    // A filter the server accepted that drops every OriginateResponse.
    client
        .add_filter("!Event: OriginateResponse")
        .await
        .unwrap();
    let e = timeout(Duration::from_secs(5), client.originate(originate()))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Send(SendError::Unanswerable(
                Unanswerable::FilterDropsOriginateResponse { .. }
            ))
        ),
        "{e:?}"
    );
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[test]
fn the_blocking_client_refuses_it_too() {
    let sim = BlockingSimulator::start(SimConfig::default()).unwrap();
    let mut client =
        amiproto_std::Client::connect_url(&format!("{}?events=off", sim.url())).unwrap();
    let e = client
        .originate(Action::originate("Local/100@default").header("Application", "Wait"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Send(SendError::Unanswerable(
                Unanswerable::EventMaskExcludesCall { .. }
            ))
        ),
        "{e:?}"
    );
    client.logoff().unwrap();
}

/// Log in on a raw socket and send `actions`; what the server wrote
/// until it went quiet for 300 ms.
async fn raw_session(sim: &Simulator, actions: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\n")
        .await
        .unwrap();
    s.write_all(actions.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = timeout(Duration::from_millis(300), s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn queues_is_refused_where_it_answers_bare_text() {
    for sim_config in [SimConfig::legacy(), SimConfig::asterisk11()] {
        let sim = Simulator::start(sim_config).await.unwrap();
        // What such a server answers: text, no Response, no ActionID.
        let wire = raw_session(
            &sim,
            "Action: Queues\r\nActionID: q-1\r\n\r\nAction: Ping\r\nActionID: p-1\r\n\r\n",
        )
        .await;
        let after_login = wire
            .split_once("Authentication accepted\r\n\r\n")
            .unwrap()
            .1;
        let after_login = after_login.trim_start_matches(|c| c != 't');
        assert!(
            after_login.starts_with(
                "testq has 0 calls (max unlimited) in 'ringall' strategy (0s holdtime, 0s talktime), W:0, C:0, A:0, SL:0.0% within 0s\r\n   Members: \r\n"
            ),
            "{wire}"
        );
        assert!(!wire.contains("ActionID: q-1"), "{wire}");
        assert!(
            wire.contains("   No Callers\r\n\r\n\r\n\r\nResponse: Success\r\nActionID: p-1\r\n"),
            "{wire}"
        );

        // The client refuses it, naming what to use instead.
        let (client, _events) = connect(config(&sim.url())).await.unwrap();
        let e = timeout(Duration::from_secs(5), client.send(Action::new("Queues")))
            .await
            .expect("refused at once")
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Send(SendError::Unanswerable(Unanswerable::QueuesUnframed { .. }))
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("QueueStatus"), "{e}");
        client.ping().await.unwrap();
        client.logoff().await.unwrap();
        sim.shutdown().await;
    }
    // Asterisk 15 and later have no Queues action.
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (client, _events) = connect(config(&sim.url())).await.unwrap();
    let e = client.send(Action::new("Queues")).await.unwrap_err();
    assert!(
        e.server_message()
            .unwrap()
            .starts_with("Invalid/unknown command: Queues."),
        "{e}"
    );
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn actions_from_pairs_and_packets_as_text() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (client, _events) = connect(config(&sim.url())).await.unwrap();
    let pong = client
        .send(Action::from_pairs([
            ("Action", "Ping"),
            ("ActionID", "mine-1"),
        ]))
        .await
        .unwrap();
    let pong = pong.packet();
    assert_eq!(pong.to_string().as_bytes(), &pong.raw()[..]);
    assert!(pong
        .to_string()
        .starts_with("Response: Success\r\nActionID: mine-1\r\nPing: Pong\r\n"));
    client.logoff().await.unwrap();
    sim.shutdown().await;
}
