//! Actions over request-reply: concurrent requesters share one AMI session;
//! the allow-list holds; a PBX restart fails pending requests with a typed
//! error and re-sends none; the reconnect is marked in the stream.

mod common;

use std::time::Duration;

use amiproto_bridge::Bridge;
use amiproto_testkit::{Faults, SimConfig, Simulator};
use bytes::Bytes;
use common::*;
use serde_json::{json, Value};

async fn request(nc: &async_nats::Client, subject: &str, body: Value) -> (Value, Option<String>) {
    let reply = tokio::time::timeout(
        Duration::from_secs(60),
        nc.request(subject.to_owned(), Bytes::from(body.to_string())),
    )
    .await
    .expect("reply in time")
    .expect("reply");
    let code = reply
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Service-Error-Code"))
        .map(|v| v.as_str().to_owned());
    (serde_json::from_slice(&reply.payload).unwrap(), code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_requesters_under_load_and_the_allow_list() {
    init_logs();
    let nats = Nats::start();
    let mut cfg = SimConfig::default().command(
        "core show uptime",
        "System uptime: 1 hour\nLast reload: 5 minutes",
    );
    for i in 0..10 {
        cfg = cfg.global(format!("G{i}"), format!("value-{i}"));
    }
    let sim = Simulator::start(cfg).await.unwrap();
    let extra = "[actions]\nallow = [\"@read-only\", \"Command\"]\n";
    let bridge = Bridge::start(config(&nats.url(), &[("pbx-a", sim.url())], extra))
        .await
        .unwrap();
    wait_up(&bridge).await;
    let nc = client(&nats.url()).await;
    // Load: events flow while the requests run.
    sim.flood(20_000, Some(4_000));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let nc = nc.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..20 {
                if k % 5 == 4 {
                    let (r, code) = request(
                        &nc,
                        "ami.pbx-a.action",
                        json!({"Action": "CoreShowChannels"}),
                    )
                    .await;
                    assert_eq!(code, None, "{r}");
                    assert_eq!(r["kind"], "list", "{r}");
                    assert_eq!(r["complete"]["Event"], "CoreShowChannelsComplete", "{r}");
                    continue;
                }
                let (r, code) = request(
                    &nc,
                    "ami.pbx-a.action",
                    json!({"Action": "Getvar", "Variable": format!("G{i}")}),
                )
                .await;
                assert_eq!(code, None, "{r}");
                assert_eq!(r["kind"], "response", "{r}");
                assert_eq!(r["response"]["Variable"], format!("G{i}"), "{r}");
                assert_eq!(r["response"]["Value"], format!("value-{i}"), "{r}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (r, code) = request(
        &nc,
        "ami.pbx-a.action",
        json!({"Action": "Command", "Command": "core show uptime"}),
    )
    .await;
    assert_eq!(code, None, "{r}");
    assert_eq!(r["kind"], "command");
    assert_eq!(
        r["output"],
        json!(["System uptime: 1 hour", "Last reload: 5 minutes"])
    );

    // Packets keep their wire order in replies.
    let raw = nc
        .request(
            "ami.pbx-a.action",
            Bytes::from(r#"{"Action":"Getvar","Variable":"G3"}"#),
        )
        .await
        .unwrap();
    let text = String::from_utf8(raw.payload.to_vec()).unwrap();
    let at = |k: &str| text.find(k).unwrap_or_else(|| panic!("{k} in {text}"));
    assert!(
        at("\"Response\"") < at("\"ActionID\"")
            && at("\"ActionID\"") < at("\"Variable\"")
            && at("\"Variable\"") < at("\"Value\""),
        "{text}"
    );

    // Refused: not on the list, and the session's own actions.
    for (body, kind, want_code) in [
        (
            json!({"Action": "Originate", "Channel": "Local/100@default", "Application": "Wait", "Data": "1"}),
            "not_allowed",
            "403",
        ),
        (json!({"Action": "Logoff"}), "not_allowed", "403"),
        (
            json!({"Action": "Ping", "ActionID": "mine"}),
            "bad_request",
            "400",
        ),
        (json!({"Channel": "x"}), "bad_request", "400"),
    ] {
        let (r, code) = request(&nc, "ami.pbx-a.action", body.clone()).await;
        assert_eq!(r["error"]["kind"], kind, "{body}: {r}");
        assert_eq!(code.as_deref(), Some(want_code), "{body}: {r}");
    }
    // A server error is typed too, with the response.
    let (r, code) = request(&nc, "ami.pbx-a.action", json!({"Action": "Getvar"})).await;
    assert_eq!(r["error"]["kind"], "server", "{r}");
    assert_eq!(code.as_deref(), Some("400"));
    assert_eq!(r["error"]["response"]["Response"], "Error", "{r}");

    let received = sim.received();
    assert!(!received
        .iter()
        .any(|p| p.get_str("Action") == Some("Originate")));
    assert!(!received
        .iter()
        .any(|p| p.get_str("Action") == Some("Logoff")));
    let getvars = received
        .iter()
        .filter(|p| p.get_str("Action") == Some("Getvar"))
        .count();
    assert_eq!(getvars, 10 * 16 + 2);

    // Status by request.
    let status = nc.request("ami.pbx-a.status", Bytes::new()).await.unwrap();
    let s: Value = serde_json::from_slice(&status.payload).unwrap();
    assert_eq!(s["pbx"], "pbx-a");
    assert_eq!(s["state"], "ready");
    assert!(s["actions"].as_u64().unwrap() >= 206, "{s}");
    bridge.shutdown(Duration::from_secs(20)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pbx_restart_mid_flood_marks_the_session_and_fails_pending_actions() {
    init_logs();
    let nats = Nats::start();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let bridge = Bridge::start(config(&nats.url(), &[("p1", sim.url())], ""))
        .await
        .unwrap();
    wait_up(&bridge).await;
    let first_session = bridge.status("p1").unwrap().session.unwrap();
    let nc = client(&nats.url()).await;
    sim.flood(1_000_000, Some(5_000));
    wait_status(&bridge, "flood flowing", Duration::from_secs(30), |s| {
        s[0].events_out > 2_000
    })
    .await;
    // Three actions the PBX reads and never answers before it restarts.
    sim.set_faults(Faults::default().stall());
    let mut pending = Vec::new();
    for _ in 0..3 {
        let nc = nc.clone();
        pending.push(tokio::spawn(async move {
            request(&nc, "ami.p1.action", json!({"Action": "Ping"})).await
        }));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sim
        .received()
        .iter()
        .filter(|p| p.get_str("Action") == Some("Ping"))
        .count()
        < 3
    {
        assert!(
            std::time::Instant::now() < deadline,
            "pings never reached the PBX"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The PBX goes away with the pings unanswered, and comes back.
    sim.stop_listening().await;
    sim.drop_clients().await;
    sim.set_faults(Faults::default());
    sim.restart().await.unwrap();
    for p in pending {
        let (r, code) = p.await.unwrap();
        assert_eq!(r["error"]["kind"], "connection_lost", "{r}");
        assert_eq!(code.as_deref(), Some("503"));
    }
    wait_status(
        &bridge,
        "second AMI session",
        Duration::from_secs(30),
        |s| s[0].sessions == 2 && s[0].state == "ready",
    )
    .await;
    let second_session = bridge.status("p1").unwrap().session.unwrap();
    assert_ne!(first_session, second_session);
    assert_eq!(sim.flood(1_000, None), 1);
    let got = read_stream(&nats.url(), "AMI", Duration::from_secs(120), |g| {
        g.iter()
            .filter(|g| g.session == second_session && g.subject == "ami.p1.event.UserEvent")
            .count()
            >= 1_000
    })
    .await;
    check_coverage(&got, "p1");
    let markers: Vec<Value> = got
        .iter()
        .filter(|g| g.is_session())
        .map(|g| g.json())
        .collect();
    assert_eq!(markers.len(), 2, "{markers:?}");
    assert_eq!(markers[0]["reason"], "start");
    assert_eq!(markers[1]["reason"], "reconnect");
    assert_eq!(markers[1]["previous_session"], first_session.as_str());
    assert_eq!(markers[1]["session"], second_session.as_str());
    let first_events = got
        .iter()
        .filter(|g| g.session == first_session && g.is_event())
        .count() as u64;
    assert_eq!(markers[1]["previous_last_seq"], first_events);
    // The new session's flood restarts at Seq 0, in order.
    let seqs: Vec<u64> = got
        .iter()
        .filter(|g| g.session == second_session && g.subject == "ami.p1.event.UserEvent")
        .map(|g| g.json()["Seq"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (0..1_000).collect::<Vec<_>>());
    // None of the failed pings was sent again.
    let pings = sim
        .received()
        .iter()
        .filter(|p| p.get_str("Action") == Some("Ping"))
        .count();
    assert_eq!(pings, 3);
    bridge.shutdown(Duration::from_secs(20)).await.unwrap();
}
