//! Typed actions against real sessions: the builders write what the
//! captured clients wrote, and the typed replies read what the captured
//! Asterisk 22 answered, through the connection state machine.

#![allow(clippy::result_large_err)]

mod conn_support;

use std::collections::HashMap;

use amiproto::types::actions::{
    AOCMessage, CoreSettings, CoreShowChannels, CoreStatus, DeviceStateList, ExtensionStateList,
    Getvar, Hangup, ListCommands, Originate, PresenceStateList, QueueStatus, QueueSummary, Setvar,
    ShowDialPlan, Status, UpdateConfig,
};
use amiproto::types::events::{self, TypedEvent};
use amiproto::types::values::{ChannelState, DeviceState, ExtensionState, OriginateResult};
use amiproto::types::{ActionType, EventType, OriginateReply, ReplyError};
use amiproto::{
    Action, ActionError, AuthMethod, Config, EventMask, ListOutcome, Outcome, Packet, State,
};
use conn_support::*;

/// Headers of an action, keys lower-cased, sorted: the same action
/// whatever order its headers were written in.
fn headers(a: &Action) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = a
        .headers()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_vec()))
        .collect();
    v.push(("actionid".into(), a.get_action_id().unwrap_or("").into()));
    v.push(("action".into(), a.name().as_bytes().to_vec()));
    v.sort();
    v
}

/// The captured action with ActionID `id`.
fn captured(name: &str, id: &str) -> Action {
    let (_, client) = capture(A22, name);
    let p = decode_actions(&client)
        .into_iter()
        .find(|p| p.action_id().is_some_and(|v| v == id))
        .unwrap_or_else(|| panic!("{name}: no {id}"));
    action_of(&p)
}

#[test]
fn builders_write_what_a_real_client_wrote() {
    let same = |typed: Action, file: &str, id: &str| {
        let want = captured(file, id);
        assert_eq!(headers(&typed), headers(&want), "{id}");
    };
    // Where the header order is the captured one, the bytes are equal.
    let exact = |typed: Action, file: &str, id: &str| {
        let want = captured(file, id);
        assert_eq!(typed.to_bytes().unwrap(), want.to_bytes().unwrap(), "{id}");
    };
    exact(
        Originate::new("Local/100@ami-test")
            .context("ami-test")
            .exten("400")
            .priority(1)
            .timeout(10000)
            .caller_id("\"AMI Test\" <1000>")
            .variable("VAR_A", "1")
            .variable("VAR_B", "two")
            .action_id("orig-sync")
            .into(),
        "10-originate-events",
        "orig-sync",
    );
    exact(
        Originate::new("Local/600@ami-test")
            .application("Wait")
            .data(1)
            .timeout(2000)
            .async_("yes")
            .action_id("orig-noanswer")
            .into(),
        "10-originate-events",
        "orig-noanswer",
    );
    exact(
        Originate::new("Local/700@ami-test")
            .application("Wait")
            .data("30")
            .variables([("LISTTEST", "1")])
            .async_("yes")
            .action_id("orig-echo")
            .into(),
        "07-list-actions",
        "orig-echo",
    );
    exact(
        Setvar::new("DEVICE_STATE(Custom:lamp1)", "INUSE")
            .action_id("setdev-0")
            .into(),
        "07-list-actions",
        "setdev-0",
    );
    exact(
        Status::new()
            .all_variables("true")
            .action_id("status-vars")
            .into(),
        "07-list-actions",
        "status-vars",
    );
    exact(
        QueueStatus::new()
            .queue("testq")
            .action_id("qstatus-one")
            .into(),
        "07-list-actions",
        "qstatus-one",
    );
    exact(
        ShowDialPlan::new()
            .context("ami-test")
            .action_id("showdialplan")
            .into(),
        "07-list-actions",
        "showdialplan",
    );
    exact(
        Hangup::new(r"/^Local\/(700|301)@/")
            .action_id("hangup-all")
            .into(),
        "07-list-actions",
        "hangup-all",
    );
    exact(
        CoreShowChannels::new().action_id("csc-empty").into(),
        "07-list-actions",
        "csc-empty",
    );
    // Getvar's required Variable comes first; the capture wrote Channel
    // first: the same headers.
    same(
        Getvar::new("FOO")
            .channel("Local/none-000;1")
            .action_id("getvar-nochan")
            .into(),
        "09a-errors",
        "getvar-nochan",
    );
}

#[test]
fn setting_a_parameter_again_replaces_it() {
    let a: Action = Originate::new("Local/1@x")
        .exten("1")
        .context("c")
        .exten("2")
        .into();
    assert_eq!(
        a.to_bytes().unwrap(),
        &b"Action: Originate\r\nChannel: Local/1@x\r\nExten: 2\r\nContext: c\r\n\r\n"[..]
    );
    // Repeated and numbered families append.
    let a: Action = UpdateConfig::new("a.conf", "b.conf")
        .action(0, "NewCat")
        .cat(0, "general")
        .action(1, "Append")
        .cat(1, "general")
        .var(1, "x")
        .value(1, "1")
        .into();
    assert_eq!(
        a.to_bytes().unwrap(),
        &b"Action: UpdateConfig\r\nSrcFilename: a.conf\r\nDstFilename: b.conf\r\nAction-000000: NewCat\r\nCat-000000: general\r\nAction-000001: Append\r\nCat-000001: general\r\nVar-000001: x\r\nValue-000001: 1\r\n\r\n"[..]
    );
    let a: Action = AOCMessage::new("D")
        .unit_amount(0, 5)
        .unit_type(0, 1)
        .header("X-Mine", "y")
        .into();
    assert_eq!(a.get("UnitAmount(0)"), Some(&b"5"[..]));
    assert_eq!(a.get("UnitType(0)"), Some(&b"1"[..]));
    assert_eq!(a.get("x-mine"), Some(&b"y"[..]));
}

#[test]
fn variables_go_through_action_variable() {
    // Whatever rules Action::variable applies, the typed route applies
    // them too: the bytes (or the refusal) are the same.
    for (n, v) in [
        ("A", "1"),
        ("B", "x,y"),
        ("C", "k=v"),
        ("D", ""),
        ("E=F", "g"),
        ("H", "line\r\nAction: Hangup"),
    ] {
        let untyped = Action::new("Originate")
            .header("Channel", "Local/1@x")
            .variable(n, v);
        let typed: Action = Originate::new("Local/1@x").variable(n, v).into();
        assert_eq!(typed, untyped, "{n}={v}");
        assert_eq!(typed.to_bytes(), untyped.to_bytes(), "{n}={v}");
        let plural: Action = Originate::new("Local/1@x").variables([(n, v)]).into();
        assert_eq!(plural, untyped, "{n}={v}");
    }
}

/// A replay of a captured session through a connection (plain login):
/// every captured action sent untyped with its captured `ActionID`, the
/// server bytes fed, each outcome kept by `ActionID`.
fn replay(name: &str, events_on: bool) -> HashMap<String, Result<Outcome, ActionError>> {
    let (server, client) = capture(A22, name);
    let cfg = Config::new("admin", "amp111")
        .auth(AuthMethod::Plain)
        .action_id_prefix("rp-")
        .action_timeout(None)
        .events(if events_on {
            EventMask::On
        } else {
            EventMask::Off
        });
    let mut sim = Sim::new(cfg);
    let mut handles = HashMap::new();
    let actions = decode_actions(&client);
    for p in &actions {
        let name = p.action().map(|a| a.to_string()).unwrap_or_default();
        if name.is_empty()
            || ["Login", "Logoff"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
        {
            continue;
        }
        let Some(id) = p.action_id().map(|v| v.to_string()) else {
            continue;
        };
        if let Ok(h) = sim.conn.send(action_of(p), sim.now) {
            handles.insert(id, h);
        }
    }
    let n = handles.values().map(|h| h.seq() + 1).max().unwrap_or(0);
    let server = rewrite_ids(&server, &[("login", format!("rp-{n}"))]);
    sim.feed(&server);
    sim.eof();
    assert_eq!(sim.conn.state(), State::Closed);
    handles
        .into_iter()
        .map(|(id, h)| (id, done(&sim.events, h)))
        .collect()
}

fn list_len(o: &Outcome) -> usize {
    match o {
        Outcome::List(l) => l.announced_items().expect("ListItems"),
        _ => panic!("not a list: {o:?}"),
    }
}

#[test]
fn list_replies_from_a_real_asterisk() {
    let r = replay("07-list-actions", false);
    let ok = |id: &str| -> Outcome { r[id].clone().unwrap_or_else(|e| panic!("{id}: {e:?}")) };

    assert!(CoreShowChannels::reply(ok("csc-empty")).unwrap().is_empty());
    let chans = CoreShowChannels::reply(ok("csc-active")).unwrap();
    assert_eq!(chans.len(), list_len(&ok("csc-active")));
    assert!(chans.len() >= 2);
    for c in &chans {
        assert!(c.channel().name().unwrap().starts_with("Local/"), "{c:?}");
        assert!(c.channel().state().is_some_and(|s| s == ChannelState::Up));
        assert!(c.duration().is_some());
    }

    for id in ["status-empty", "status-all", "status-vars"] {
        let items = Status::reply(ok(id)).unwrap();
        assert_eq!(items.len(), list_len(&ok(id)), "{id}");
    }
    let with_vars = Status::reply(ok("status-vars")).unwrap();
    assert!(with_vars.iter().any(|s| s.variable().count() > 0));
    assert!(with_vars.iter().all(|s| s.seconds().is_some()));

    for id in ["qstatus", "qstatus-one"] {
        let queues = QueueStatus::reply(ok(id)).unwrap();
        let items: usize = queues
            .iter()
            .map(|q| 1 + q.members.len() + q.entries.len())
            .sum();
        assert_eq!(items, list_len(&ok(id)), "{id}");
        for q in &queues {
            let name = q.params.queue().unwrap();
            assert!(q
                .members
                .iter()
                .all(|m| m.queue().as_deref() == Some(&name)));
            assert!(q
                .entries
                .iter()
                .all(|e| e.queue().as_deref() == Some(&name)));
        }
    }
    let one = QueueStatus::reply(ok("qstatus-one")).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].params.queue().as_deref(), Some("testq"));

    let summary = QueueSummary::reply(ok("qsummary")).unwrap();
    assert_eq!(summary.len(), list_len(&ok("qsummary")));

    let devs = DeviceStateList::reply(ok("devstates")).unwrap();
    assert_eq!(devs.len(), list_len(&ok("devstates")));
    assert!(devs.iter().any(|d| d.state() == Some(DeviceState::InUse)));
    assert!(devs
        .iter()
        .all(|d| !matches!(d.state(), Some(DeviceState::Unknown(_)) | None)));

    let exts = ExtensionStateList::reply(ok("extstates")).unwrap();
    assert_eq!(exts.len(), list_len(&ok("extstates")));
    assert!(exts
        .iter()
        .all(|e| !matches!(e.status(), Some(ExtensionState::Unknown(_)) | None)));

    let pres = PresenceStateList::reply(ok("presstates")).unwrap();
    assert_eq!(pres.len(), list_len(&ok("presstates")));

    let plan = ShowDialPlan::reply(ok("showdialplan")).unwrap();
    assert_eq!(plan.len(), list_len(&ok("showdialplan")));
    assert!(plan
        .iter()
        .all(|e| e.context().as_deref() == Some("ami-test")));

    let hung = Hangup::reply(ok("hangup-all")).unwrap();
    assert_eq!(hung.len(), list_len(&ok("hangup-all")));
    assert!(hung.iter().all(|h| h.channel().is_some()));

    // One big response.
    let cmds = ListCommands::reply(ok("listcmds")).unwrap();
    assert!(cmds.get("Ping").is_some());
}

#[test]
fn core_settings_status_and_getvar() {
    let r = replay("04-events-off-ping-coresettings", false);
    let ok = |id: &str| r[id].clone().unwrap();
    let s = CoreSettings::reply(ok("cs1")).unwrap();
    assert_eq!(s.asterisk_version().as_deref(), Some("22.10.1"));
    assert_eq!(s.ami_version().as_deref(), Some("11.0.0"));
    assert_eq!(s.system_name(), None, "empty");
    assert_eq!(s.max_calls(), Some(0));
    assert_eq!(s.max_load_avg(), Some(0.0));
    assert_eq!(s.cdr_enabled(), Some(false));
    let st = CoreStatus::reply(ok("cst1")).unwrap();
    assert_eq!(st.startup_date().as_deref(), Some("2026-11-22"));
    assert_eq!(st.current_calls(), Some(0));
    assert_eq!(st.processed_calls(), Some(0));

    let r = replay("09a-errors", false);
    assert_eq!(
        Getvar::reply(r["getvar-unset"].clone().unwrap()).unwrap(),
        None
    );
    assert_eq!(
        Getvar::reply(r["getvar-global"].clone().unwrap())
            .unwrap()
            .as_deref(),
        Some("hello")
    );
    assert!(matches!(
        r["getvar-nochan"],
        Err(ActionError::Server { .. })
    ));
}

#[test]
fn async_originate_replies_with_its_event() {
    let r = replay("10-originate-events", true);
    let reply = |id: &str| Originate::reply(r[id].clone().unwrap()).unwrap();
    let OriginateReply::Done { event, .. } = reply("orig-dial") else {
        panic!()
    };
    assert_eq!(event.response(), Some(OriginateResult::Success));
    assert_eq!(event.reason(), Some(4));
    let OriginateReply::Done { event, .. } = reply("orig-busy") else {
        panic!()
    };
    assert_eq!(event.response(), Some(OriginateResult::Failure));
    assert_eq!(event.reason(), Some(5));
    assert!(matches!(reply("orig-sync"), OriginateReply::Response(_)));
}

#[test]
fn an_outcome_of_another_shape_comes_back_whole() {
    let response = Packet::builder()
        .header("Response", "Success")
        .header("Message", "Channels hungup")
        .build()
        .unwrap();
    // Hangup of a name (no regex) answers a plain response: no items.
    assert!(Hangup::reply(Outcome::Response(response.clone()))
        .unwrap()
        .is_empty());
    // CoreShowChannels always lists: a plain response is an error that
    // hands the outcome back.
    let e = CoreShowChannels::reply(Outcome::Response(response.clone())).unwrap_err();
    assert!(matches!(e, ReplyError::Shape { .. }), "{e}");
    assert_eq!(e.into_outcome(), Outcome::Response(response.clone()));
    // An item of another event.
    let item = |name: &str| {
        Packet::builder()
            .header("Event", name)
            .header("Channel", "x")
            .build()
            .unwrap()
    };
    let list = ListOutcome::new(
        response.clone(),
        vec![item("CoreShowChannel"), item("Newchannel")],
        item("CoreShowChannelsComplete"),
    );
    let e = CoreShowChannels::reply(Outcome::List(Box::new(list.clone()))).unwrap_err();
    assert!(matches!(e, ReplyError::Item { index: 1, .. }), "{e}");
    assert_eq!(e.into_outcome(), Outcome::from(list));
    // A QueueMember before any QueueParams.
    let list = ListOutcome::new(
        response.clone(),
        vec![item("QueueMember")],
        item("QueueStatusComplete"),
    );
    assert!(matches!(
        QueueStatus::reply(list.into()),
        Err(ReplyError::Item { index: 0, .. })
    ));
    // A response where command output was expected.
    assert!(matches!(
        <amiproto::types::actions::Command as ActionType>::reply(Outcome::Response(response)),
        Err(ReplyError::Shape { .. })
    ));
}

#[test]
fn list_items_are_typed_events_too() {
    // The items of a typed reply are the same values TypedEvent gives.
    let r = replay("07-list-actions", false);
    let Outcome::List(l) = r["csc-active"].clone().unwrap() else {
        panic!()
    };
    let typed = CoreShowChannels::reply(Outcome::List(l.clone())).unwrap();
    for (t, p) in typed.iter().zip(&l.items) {
        assert!(matches!(
            TypedEvent::parse(p),
            TypedEvent::CoreShowChannel(_)
        ));
        assert_eq!(t.packet(), p);
        assert!(events::CoreShowChannel::matches(p));
    }
}
