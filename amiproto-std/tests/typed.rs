//! Typed actions and events (feature `types`) against the test kit's
//! simulated Asterisk 22.

use std::time::Duration;

use amiproto::types::actions::{CoreSettings, CoreShowChannels, Getvar, Originate, Setvar};
use amiproto::types::events::{Hangup, Newchannel};
use amiproto::types::values::Cause;
use amiproto::types::OriginateReply;
use amiproto::Packet;
use amiproto_std::{Client, ClientConfig, EventItem};
use amiproto_testkit::{BlockingSimulator, SimConfig};

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

const WAIT: Option<Duration> = Some(Duration::from_secs(10));

#[test]
fn next_event_of_and_events_of() -> Result<(), Box<dyn std::error::Error>> {
    let sim = BlockingSimulator::start(SimConfig::default())?;
    let mut client = Client::connect(ClientConfig::from_url(&sim.url())?)?;
    // Login's own events (FullyBooted, SuccessfulAuth) first.
    while client
        .next_event(Some(Duration::from_millis(200)))?
        .is_some()
    {}

    sim.push_event(event("Newchannel", "PJSIP/a-1", &[]));
    sim.push_event(event("Hangup", "PJSIP/a-1", &[("Cause", "17")]));
    sim.push_event(event("Newchannel", "PJSIP/b-2", &[]));
    let h = client.next_event_of::<Hangup>(WAIT)?.expect("a Hangup");
    assert_eq!(h.channel().name().as_deref(), Some("PJSIP/a-1"));
    assert_eq!(h.cause(), Some(Cause::UserBusy));
    // The Newchannel before it was dropped; the one after is still there.
    let n = client
        .next_event_of::<Newchannel>(WAIT)?
        .expect("a Newchannel");
    assert_eq!(n.channel().name().as_deref(), Some("PJSIP/b-2"));
    // Nothing more of that type: the time runs out.
    assert!(client
        .next_event_of::<Hangup>(Some(Duration::from_millis(100)))?
        .is_none());

    sim.push_event(event("Hangup", "PJSIP/c-3", &[("Cause", "16")]));
    let first = client.events_of::<Hangup>().next().expect("one")?;
    assert_eq!(first.cause(), Some(Cause::NormalClearing));

    // Untyped items stay available through next_event.
    sim.push_event(event("Hangup", "PJSIP/d-4", &[]));
    let item = client.next_event(WAIT)?.expect("an item");
    assert!(matches!(item, EventItem::Event(ref p) if p.is_event("Hangup")));
    client.logoff()?;
    Ok(())
}

#[test]
fn request_types_the_outcome() -> Result<(), Box<dyn std::error::Error>> {
    let sim = BlockingSimulator::start(SimConfig::default())?;
    let mut client = Client::connect(ClientConfig::from_url(&sim.url())?)?;
    client.request(Setvar::new("TYPED_VAR", "v1"))?;
    assert_eq!(
        client.request(Getvar::new("TYPED_VAR"))?.as_deref(),
        Some("v1")
    );
    let settings = client.request(CoreSettings::new())?;
    assert_eq!(settings.asterisk_version().as_deref(), Some("22.10.1"));
    let reply = client.request(
        Originate::new("Local/100@default")
            .application("Wait")
            .data(5)
            .async_(true),
    )?;
    assert!(matches!(reply, OriginateReply::Done { .. }), "{reply:?}");
    let channels = client.request(CoreShowChannels::new())?;
    assert!(!channels.is_empty());
    client.logoff()?;
    Ok(())
}
