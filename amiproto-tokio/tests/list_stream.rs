//! Streamed lists: items reach the caller while the list is still coming,
//! none is ever dropped, and the end, errors and cancellation are typed.

use std::time::Duration;

use amiproto::{Action, ActionError, AuthMethod, Decoder, EventMask, Frame};
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, Error, EventItem, Overflow};
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(60);

/// A server whose `Status` list sends its response and `first` items, then
/// waits for the client's next `Ping` before sending the other `total -
/// first` items and the `StatusComplete`. Plain login only.
async fn two_part_list(first: usize, total: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.write_all(b"Asterisk Call Manager/11.0.0\r\n")
            .await
            .unwrap();
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        let mut list_id = None;
        let item = |id: &str, n: usize| {
            format!("Event: Status\r\nPrivilege: Call\r\nChannel: Local/{n}@test-00000000;1\r\nActionID: {id}\r\n\r\n")
        };
        loop {
            if sock.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
            while let Ok(Some(Frame::Packet(p))) = dec.decode(&mut buf) {
                let name = p.action().unwrap().decode_text().into_owned();
                let id = p.get_str("ActionID").unwrap_or("").to_owned();
                let mut out = String::new();
                match name.as_str() {
                    "Login" => out.push_str(&format!(
                        "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
                    )),
                    "Status" => {
                        out.push_str(&format!("Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channel status will follow\r\n\r\n"));
                        for n in 0..first {
                            out.push_str(&item(&id, n));
                        }
                        list_id = Some(id);
                    }
                    "Ping" => {
                        out.push_str(&format!(
                            "Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n"
                        ));
                        if let Some(lid) = list_id.take() {
                            sock.write_all(out.as_bytes()).await.unwrap();
                            out.clear();
                            for n in first..total {
                                out.push_str(&item(&lid, n));
                                if out.len() > 64 * 1024 {
                                    sock.write_all(out.as_bytes()).await.unwrap();
                                    out.clear();
                                }
                            }
                            out.push_str(&format!("Event: StatusComplete\r\nActionID: {lid}\r\nEventList: Complete\r\nListItems: {total}\r\nItems: {total}\r\n\r\n"));
                        }
                    }
                    "Logoff" => {
                        let g = format!("Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n");
                        let _ = sock.write_all(g.as_bytes()).await;
                        return;
                    }
                    _ => continue,
                }
                sock.write_all(out.as_bytes()).await.unwrap();
            }
        }
    });
    port
}

fn channel_number(p: &amiproto::Packet) -> usize {
    let c = p.get_str("Channel").unwrap();
    c["Local/".len()..c.find('@').unwrap()].parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_arrive_before_the_list_ends_and_none_is_dropped() {
    const TOTAL: usize = 100_000;
    let port = two_part_list(3, TOTAL).await;
    let mut config = ClientConfig::new("127.0.0.1", port, "admin", "amp111")
        .events_overflow(Overflow::Lossy { capacity: 1 })
        .action_timeout(Some(T));
    config.ami.auth = AuthMethod::Plain;
    let (client, mut events) = connect(config).await.unwrap();
    let mut list = client.list_stream(Action::new("Status"));
    // The first items, while the server holds back the rest of the list.
    for n in 0..3 {
        let item = timeout(T, list.next_item())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(channel_number(&item), n);
    }
    assert!(list.outcome().is_none());
    // The rest (far more than the lossy event queue's capacity of 1), in
    // order, none dropped, read while they come.
    client.ping().await.unwrap();
    let mut next = 3;
    while let Some(item) = timeout(T, list.next_item()).await.unwrap() {
        assert_eq!(channel_number(&item.unwrap()), next);
        next += 1;
    }
    assert_eq!(next, TOTAL);
    let outcome = list.outcome().expect("complete");
    assert_eq!(outcome.announced_items(), Some(TOTAL));
    assert!(outcome.items.is_empty());
    assert!(outcome.complete.is_event("StatusComplete"));
    assert!(list.next_item().await.is_none(), "ended for good");
    // Nothing of the list went to the event stream.
    while let Some(item) = events.try_recv() {
        assert!(
            !matches!(&item, EventItem::Event(p) if p.is_event("Status")),
            "{item:?}"
        );
        assert!(!matches!(item, EventItem::Lagged(_)), "{item:?}");
    }
    client.logoff().await.unwrap();
}

#[tokio::test]
async fn a_streamed_list_matches_the_collected_one() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let config = ClientConfig::from_url(&sim.url())
        .unwrap()
        .events(EventMask::Off);
    let (client, _events) = connect(config).await.unwrap();
    for n in 0..10 {
        let call = Action::originate(format!("Local/{}@default", 100 + n))
            .header("Application", "Wait")
            .header("Data", "60");
        client.send(call).await.unwrap();
    }
    let collected = client.list(Action::new("Status")).await.unwrap();
    assert_eq!(collected.items.len(), 20);
    let mut stream = client.list_stream(Action::new("Status"));
    let mut streamed = Vec::new();
    while let Some(item) = timeout(T, stream.next_item()).await.unwrap() {
        streamed.push(item.unwrap());
    }
    let names = |v: &[amiproto::Packet]| -> Vec<String> {
        v.iter()
            .map(|p| p.get_str("Channel").unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&streamed), names(&collected.items));
    assert_eq!(stream.outcome().unwrap().announced_items(), Some(20));
    assert!(stream.is_empty());
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn errors_end_the_stream_typed() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (client, _events) = connect(ClientConfig::from_url(&sim.url()).unwrap())
        .await
        .unwrap();
    // Refused by the server.
    let mut s = client.list_stream(Action::new("Status").header("Channel", "PJSIP/nobody"));
    let err = timeout(T, s.next_item())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Action(ActionError::Server { message, .. }) if message == "No such channel"),
        "{err:?}"
    );
    assert!(s.next_item().await.is_none());
    assert!(s.outcome().is_none());
    // Not a list.
    let mut s = client.list_stream(Action::ping());
    let err = timeout(T, s.next_item())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::UnexpectedOutcome { .. }), "{err:?}");
    assert!(s.next_item().await.is_none());
    client.logoff().await.unwrap();
    // On a closed client: the reason, at once.
    let mut s = client.list_stream(Action::new("Status"));
    let err = timeout(T, s.next_item())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_list_quietly() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (client, _first) = connect(ClientConfig::from_url(&sim.url()).unwrap())
        .await
        .unwrap();
    for n in 0..3 {
        let call = Action::originate(format!("Local/{}@default", 100 + n))
            .header("Application", "Wait")
            .header("Data", "60");
        client.send(call).await.unwrap();
    }
    let mut events = client.events_with(Overflow::Lossless);
    client.ping().await.unwrap();
    while events.try_recv().is_some() {}
    drop(client.list_stream(Action::new("CoreShowChannels")));
    // Its answer was consumed quietly: nothing leaked as events.
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.ping().await.unwrap();
    while let Some(item) = events.try_recv() {
        if let EventItem::Event(p) = item {
            assert!(
                p.response().is_none()
                    && !p.is_event("CoreShowChannel")
                    && !p.is_event("CoreShowChannelsComplete"),
                "leaked: {p:?}"
            );
        }
    }
    // A stream does not keep the client open.
    let stream = client.list_stream(Action::new("CoreShowChannels"));
    drop(client);
    drop(_first);
    drop(events);
    for _ in 0..200 {
        if sim.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.connection_count(), 0);
    drop(stream);
    sim.shutdown().await;
}
