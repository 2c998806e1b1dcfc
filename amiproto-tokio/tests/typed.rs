//! Typed actions and subscriptions (feature `types`) against the test
//! kit's simulated Asterisk 22.

use amiproto::types::actions::{
    CoreSettings, CoreShowChannels, Getvar, Originate, Ping, Setvar, Status,
};
use amiproto::types::events::{Hangup, Newchannel, TypedEvent};
use amiproto::types::values::Cause;
use amiproto::types::{OriginateReply, ReplyError};
use amiproto::{Outcome, Packet};
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, Error, EventItem};

fn event(name: &str, channel: &str, extra: &[(&str, &str)]) -> Packet {
    let mut b = Packet::builder()
        .header("Event", name)
        .header("Privilege", "call,all")
        .header("Channel", channel);
    for (k, v) in extra {
        b = b.header(k, v);
    }
    b.build().unwrap()
}

#[tokio::test]
async fn events_of_yields_only_that_event_typed() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start(SimConfig::default()).await?;
    let (client, _events) = connect(ClientConfig::from_url(&sim.url())?).await?;
    let mut hangups = client.events_of::<Hangup>();
    let mut news = client.events_of::<Newchannel>();
    let mut all =
        client.events_matching(amiproto_tokio::EventFilter::names(["Hangup", "Newchannel"]));
    client.ping().await?; // the subscriptions are in place

    sim.push_event(event("Newchannel", "PJSIP/a-1", &[("ChannelState", "4")]));
    sim.push_event(event("Hangup", "PJSIP/a-1", &[("Cause", "17")]));
    sim.push_event(event("hangup", "PJSIP/b-2", &[("Cause", "16")]));

    let h = hangups.next_event().await.unwrap();
    assert_eq!(h.channel().name().as_deref(), Some("PJSIP/a-1"));
    assert_eq!(h.cause(), Some(Cause::UserBusy));
    // Names match ASCII case-insensitively, as Asterisk's keys do.
    let h = hangups.next_event().await.unwrap();
    assert_eq!(h.cause(), Some(Cause::NormalClearing));
    let n = news.next_event().await.unwrap();
    assert_eq!(n.channel().name().as_deref(), Some("PJSIP/a-1"));
    // The typed subscriptions took nothing from the others.
    let mut names = Vec::new();
    for _ in 0..3 {
        let p = all.next_event().await.unwrap();
        match TypedEvent::from_packet(p) {
            TypedEvent::Hangup(h) => names.push(format!("Hangup {:?}", h.cause())),
            TypedEvent::Newchannel(_) => names.push("Newchannel".into()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        names,
        [
            "Newchannel",
            "Hangup Some(UserBusy)",
            "Hangup Some(NormalClearing)"
        ]
    );
    assert!(hangups.stream().is_empty());

    // recv() also reports what is not an event; the stream ends with the
    // client.
    client.logoff().await?;
    while let Some(item) = news.recv().await {
        assert!(
            !matches!(item, Ok(_) | Err(EventItem::Event(_))),
            "{item:?}"
        );
    }
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn request_types_the_outcome() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start(SimConfig::default()).await?;
    let (client, _events) = connect(ClientConfig::from_url(&sim.url())?).await?;

    let pong = client.request(Ping::new()).await?;
    assert_eq!(pong.get_str("Ping"), Some("Pong"));
    client.request(Setvar::new("TYPED_VAR", "v1")).await?;
    assert_eq!(
        client.request(Getvar::new("TYPED_VAR")).await?.as_deref(),
        Some("v1")
    );
    assert_eq!(client.request(Getvar::new("UNSET_VAR")).await?, None);
    let settings = client.request(CoreSettings::new()).await?;
    assert_eq!(settings.asterisk_version().as_deref(), Some("22.10.1"));

    // An async originate waits for its OriginateResponse.
    let reply = client
        .request(
            Originate::new("Local/100@default")
                .application("Wait")
                .data(5)
                .async_(true),
        )
        .await?;
    let OriginateReply::Done { event, .. } = reply else {
        panic!("{reply:?}")
    };
    let unique_id = event.unique_id().expect("Uniqueid");
    // The call is up: the lists type it.
    let channels = client.request(CoreShowChannels::new()).await?;
    assert!(!channels.is_empty());
    assert!(channels.iter().all(|c| c.channel().name().is_some()));
    let status = client.request(Status::new()).await?;
    assert!(status
        .iter()
        .any(|s| s.channel().unique_id().as_deref() == Some(&*unique_id)));

    // A server error stays an action error.
    let e = client
        .request(Getvar::new("X").channel("PJSIP/nobody-00000000"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Action(_)), "{e}");
    client.logoff().await?;
    sim.shutdown().await;
    Ok(())
}

#[test]
fn reply_errors_hold_the_outcome() {
    let p = Packet::builder()
        .header("Response", "Success")
        .build()
        .unwrap();
    let e = Error::from(
        <CoreShowChannels as amiproto::types::ActionType>::reply(Outcome::Response(p.clone()))
            .unwrap_err(),
    );
    let Error::Reply(r) = e else { panic!() };
    assert!(matches!(r, ReplyError::Shape { .. }));
    assert_eq!(r.into_outcome(), Outcome::Response(p));
}
