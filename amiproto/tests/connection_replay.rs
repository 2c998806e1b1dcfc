//! Replays of real Asterisk sessions through the connection state machine.
//!
//! For each capture: the captured client actions are decoded (independently,
//! with a `Decoder` in `BannerMode::Absent`) and submitted to a fresh
//! [`Connection`] *before* the banner, with their captured `ActionID`s; the
//! connection does the login itself (configured like the captured one). The
//! captured server bytes are then fed at several chunkings. The only change
//! made to the server bytes is the `ActionID` of the login exchange (`login`,
//! `ch-1`, `md5-login`), rewritten to the ids the connection generated, since
//! those are the connection's own. `Logoff` is submitted once the connection
//! is `Ready` (a `Logoff` before login closes at once, without writing).
//!
//! Checked on every replay: every submitted action ends with exactly one
//! `Done`; the events are identical at every chunking; nothing follows
//! `Closed`; what the connection wrote equals the captured client bytes (the
//! login modulo its `ActionID`).

// Outcomes are compared whole; their size does not matter here.
#![allow(clippy::result_large_err)]

mod conn_support;

use std::collections::HashMap;

use amiproto::{
    md5_key, ActionError, ActionHandle, AuthMethod, CloseReason, Config, ConnectionError,
    EncodeError, Event, EventMask, Outcome, Packet, PacketKind, ResponseStatus, SendError, State,
    Unanswerable,
};
use conn_support::*;

const CHUNKINGS: [usize; 4] = [1, 7, 1500, usize::MAX];

struct Replayed {
    events: Vec<Event>,
    handles: HashMap<String, ActionHandle>,
    refused: HashMap<String, SendError>,
}

impl Replayed {
    fn result(&self, id: &str) -> Result<Outcome, ActionError> {
        let h = *self
            .handles
            .get(id)
            .unwrap_or_else(|| panic!("no action {id}"));
        done(&self.events, h)
    }

    fn ok(&self, id: &str) -> Outcome {
        self.result(id)
            .unwrap_or_else(|e| panic!("{id}: want success, got {e:?}"))
    }

    fn response(&self, id: &str) -> Packet {
        match self.ok(id) {
            Outcome::Response(p) => p,
            other => panic!("{id}: want a single response, got {other:?}"),
        }
    }

    fn server_error(&self, id: &str) -> (String, Packet) {
        match self.result(id) {
            Err(ActionError::Server { message, response }) => (message, response),
            other => panic!("{id}: want a server error, got {other:?}"),
        }
    }

    fn unsolicited(&self) -> Vec<Packet> {
        unsolicited(&self.events)
    }
}

/// How the captured session logged in.
#[derive(Clone, Copy, PartialEq)]
enum Login {
    /// Plain `Login`, with an `Events:` header (the mask configured).
    Plain(bool),
    /// Plain `Login` without an `Events:` header (01, 02): the connection
    /// always sends one, so it is left out of the comparison.
    PlainNoEvents,
    /// `Challenge` + MD5 `Login`.
    Md5,
}

fn config(login: Login, events_on: bool) -> Config {
    let c = Config::new("admin", "amp111")
        .action_id_prefix("rp-")
        .action_timeout(None)
        .events(if events_on {
            EventMask::On
        } else {
            EventMask::Off
        });
    match login {
        Login::Md5 => c.auth(AuthMethod::Md5),
        _ => c.auth(AuthMethod::Plain),
    }
}

fn replace_line(raw: &[u8], from: &str, to: &str) -> Vec<u8> {
    let from = format!("\r\nActionID: {from}\r\n");
    let to = format!("\r\nActionID: {to}\r\n");
    let i = find(raw, from.as_bytes()).expect("ActionID line");
    [&raw[..i], to.as_bytes(), &raw[i + from.len()..]].concat()
}

/// Replay `name` from `dir` at every chunking; returns the (identical)
/// outcome. `login` says how the capture logged in; `events_on` its mask.
fn replay(dir: &str, name: &str, login: Login, events_on: bool) -> Replayed {
    replay_with(dir, name, login, events_on, config(login, events_on))
}

fn replay_with(dir: &str, name: &str, login: Login, events_on: bool, cfg: Config) -> Replayed {
    let _ = events_on;
    let mut first: Option<Replayed> = None;
    for chunk in CHUNKINGS {
        let r = replay_once(dir, name, login, cfg.clone(), chunk);
        match &first {
            None => first = Some(r),
            Some(f) => assert_eq!(
                f.events, r.events,
                "{name}: events differ between chunkings (chunk {chunk})"
            ),
        }
    }
    first.unwrap()
}

fn replay_once(dir: &str, name: &str, login: Login, cfg: Config, chunk: usize) -> Replayed {
    let (server, client) = capture(dir, name);
    let captured = decode_actions(&client);
    let is = |p: &Packet, n: &str| p.action().is_some_and(|a| a.eq_ignore_case(n));
    let id_of = |p: &Packet| p.action_id().unwrap().to_str().unwrap().to_owned();

    let mut sim = Sim::new(cfg);
    let mut handles = HashMap::new();
    let mut refused = HashMap::new();
    let mut logoff = None;
    // Submit every user action before the banner: all are held until login.
    for p in &captured {
        if is(p, "Login") || is(p, "Challenge") {
            continue;
        }
        if is(p, "Logoff") {
            logoff = Some(p.clone());
            continue;
        }
        match sim.conn.send(action_of(p), sim.now) {
            Ok(h) => {
                handles.insert(id_of(p), h);
            }
            Err(e) => {
                refused.insert(id_of(p), e);
            }
        }
    }
    sim.pump();
    assert!(sim.wire.is_empty(), "{name}: wrote before the banner");
    assert_eq!(sim.conn.queued_actions(), handles.len());

    // The connection numbers its own actions after the user's.
    let n = handles.values().map(|h| h.seq() + 1).max().unwrap_or(0);
    let mut map = Vec::new();
    let cap_login = captured.iter().find(|p| is(p, "Login")).unwrap();
    match login {
        Login::Md5 => {
            let ch = captured
                .iter()
                .find(|p| is(p, "Challenge") && p.get("AuthType").is_some_and(|v| v == "MD5"))
                .unwrap();
            map.push((id_of(ch), format!("rp-{n}")));
            map.push((id_of(cap_login), format!("rp-{}", n + 1)));
        }
        _ => map.push((id_of(cap_login), format!("rp-{n}"))),
    }
    let map_ref: Vec<(&str, String)> = map.iter().map(|(a, b)| (a.as_str(), b.clone())).collect();
    let server = rewrite_ids(&server, &map_ref);

    // Split after the login's answer: Logoff goes in between.
    let login_id = &map.last().unwrap().1;
    let at = find(&server, format!("ActionID: {login_id}\r\n").as_bytes()).unwrap();
    let split = at + find(&server[at..], b"\r\n\r\n").unwrap() + 4;
    sim.feed_chunked(&server[..split], chunk);
    if sim.conn.state() == State::Ready {
        if let Some(p) = &logoff {
            let h = sim.send(action_of(p));
            handles.insert(id_of(p), h);
        }
    }
    sim.feed_chunked(&server[split..], chunk);
    sim.eof();
    assert_eq!(sim.conn.state(), State::Closed, "{name}");
    assert!(matches!(sim.events.last(), Some(Event::Closed(_))));

    // Exactly one outcome per submitted action.
    let all = dones(&sim.events);
    assert_eq!(all.len(), handles.len(), "{name}: {all:#?}");
    for (id, h) in &handles {
        assert_eq!(
            all.iter().filter(|(hh, _)| hh == h).count(),
            1,
            "{name}: {id}"
        );
    }
    assert!(
        !sim.events.iter().any(|e| matches!(e, Event::Skipped(_))),
        "{name}: nothing is skipped with default limits"
    );

    // What was written: the login, then the captured actions in order.
    let written = decode_actions(&sim.wire);
    let mut wi = written.iter();
    if login == Login::Md5 {
        let ch = wi.next().unwrap();
        assert_eq!(
            &ch.raw()[..],
            format!("Action: Challenge\r\nActionID: rp-{n}\r\nAuthType: MD5\r\n\r\n").as_bytes()
        );
    }
    let my_login = wi.next().unwrap();
    let mut mine = replace_line(my_login.raw(), login_id, &id_of(cap_login));
    if login == Login::PlainNoEvents {
        let i = find(&mine, b"Events: on\r\n").expect("Events header");
        mine.drain(i..i + 12);
    }
    assert_eq!(
        String::from_utf8_lossy(&mine),
        String::from_utf8_lossy(cap_login.raw()),
        "{name}: login bytes"
    );
    let login_end: usize = written
        .iter()
        .take(if login == Login::Md5 { 2 } else { 1 })
        .map(|p| p.raw().len())
        .sum();
    let mut expected = Vec::new();
    for p in &captured {
        if is(p, "Login") || is(p, "Challenge") || refused.contains_key(&id_of(p)) {
            continue;
        }
        // The encoder always writes `Key: Value` with one space and the
        // ActionID second; a captured action spelled otherwise (11's
        // `Empty:`/`NoSpace:tight`) is compared in that canonical form.
        let canonical = action_of(p).to_bytes().unwrap();
        if canonical != p.raw() {
            assert!(
                NON_CANONICAL.contains(&(name, id_of(p).as_str())),
                "{name}: {} differs from its canonical encoding",
                id_of(p)
            );
        }
        expected.extend_from_slice(&canonical);
    }
    assert_eq!(
        String::from_utf8_lossy(&sim.wire[login_end..]),
        String::from_utf8_lossy(&expected),
        "{name}: written bytes after login"
    );

    Replayed {
        events: sim.events,
        handles,
        refused,
    }
}

/// Captured actions whose bytes are not the encoder's canonical form.
const NON_CANONICAL: &[(&str, &str)] = &[("11-userevent", "ue-1")];

/// Independent split of an all-CRLF server stream into packets (banner
/// dropped, empty packets dropped).
fn raw_packets(server: &[u8]) -> Vec<Vec<u8>> {
    let body = &server[find(server, b"\r\n").unwrap() + 2..];
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = find(rest, b"\r\n\r\n") {
        let p = &rest[..i + 4];
        rest = &rest[i + 4..];
        // QueueRule's extra blank line starts the next piece with CRLF.
        let p = p.strip_prefix(b"\r\n").unwrap_or(p);
        if p.len() > 2 {
            out.push(p.to_vec());
        }
    }
    out
}

fn has_line(p: &[u8], line: &str) -> bool {
    p.starts_with(format!("{line}\r\n").as_bytes())
        || find(p, format!("\r\n{line}\r\n").as_bytes()).is_some()
}

fn banner_and_ready(r: &Replayed, version: &str) {
    match &r.events[0] {
        Event::Banner(b) => {
            assert_eq!(
                &b.raw()[..],
                format!("Asterisk Call Manager/{version}").as_bytes()
            );
            assert_eq!(b.version_str(), version);
            assert_eq!(b.version().unwrap().to_string(), version);
        }
        other => panic!("first event {other:?}"),
    }
    assert_eq!(r.events[1], Event::Ready);
}

fn logged_off(r: &Replayed) {
    let bye = r.response("logoff");
    assert_eq!(bye.response_status(), Some(ResponseStatus::Goodbye));
    assert_eq!(
        r.events.last(),
        Some(&Event::Closed(CloseReason::LoggedOff))
    );
}

#[test]
fn replay_01_login_logoff() {
    let r = replay(A22, "01-login-logoff", Login::PlainNoEvents, true);
    banner_and_ready(&r, "11.0.0");
    let names: Vec<_> = r
        .unsolicited()
        .iter()
        .map(|p| p.event().unwrap().to_string())
        .collect();
    assert_eq!(names, ["FullyBooted", "SuccessfulAuth"]);
    assert_eq!(r.events.len(), 6, "{:#?}", r.events);
    logged_off(&r);
}

#[test]
fn replay_02_bad_secret_fails_queued_actions() {
    let (server, client) = capture(A22, "02-login-bad-secret");
    let captured = decode_actions(&client);
    assert_eq!(captured.len(), 1);
    for chunk in CHUNKINGS {
        let mut cfg = config(Login::Plain(false), false).action_id_prefix("x");
        cfg.secret = "wrong-secret".into();
        let mut sim = Sim::new(cfg);
        let p1 = sim.send(amiproto::Action::ping());
        let p2 = sim.send(amiproto::Action::command("core show version"));
        let server = rewrite_ids(&server, &[("bad-login", "x2".to_owned())]);
        // The server answers the login only once it has it: the banner goes
        // in (and the login out) first. A connection that fails drops what
        // it has not yet handed to the transport, so feeding the answer in
        // the same call as the banner would also drop the login.
        let banner_end = find(&server, b"\r\n").unwrap() + 2;
        sim.feed_chunked(&server[..banner_end], chunk);
        assert_eq!(decode_actions(&sim.wire).len(), 1, "login written");
        sim.feed_chunked(&server[banner_end..], chunk);
        let mine = decode_actions(&sim.wire);
        assert_eq!(mine.len(), 1, "only the login is written");
        let mut raw = replace_line(mine[0].raw(), "x2", "bad-login");
        let i = find(&raw, b"Events: off\r\n").unwrap();
        raw.drain(i..i + 13);
        assert_eq!(&raw[..], &captured[0].raw()[..]);
        let want = CloseReason::Error(ConnectionError::AuthFailed {
            message: "Authentication failed".into(),
        });
        assert_eq!(sim.conn.state(), State::Closed);
        assert_eq!(sim.conn.close_reason(), Some(&want));
        for h in [p1, p2] {
            assert_eq!(done(&sim.events, h), Err(ActionError::Closed(want.clone())));
        }
        assert_eq!(sim.events.last(), Some(&Event::Closed(want.clone())));
        assert_eq!(sim.events.len(), 4, "{:#?}", sim.events);
        sim.eof(); // the server closes after the error: nothing more happens
        assert_eq!(sim.events.len(), 4);
    }
}

#[test]
fn replay_03_md5_challenge() {
    let (server, client) = capture(A22, "03-challenge-md5");
    // Recompute the key from the captured challenge and secret `amp111`.
    let challenge = {
        let i = find(&server, b"Challenge: ").unwrap() + 11;
        let end = i + find(&server[i..], b"\r\n").unwrap();
        std::str::from_utf8(&server[i..end]).unwrap().to_owned()
    };
    assert_eq!(challenge, "112527728");
    let captured = decode_actions(&client);
    let login = captured
        .iter()
        .find(|p| p.action().unwrap() == "Login")
        .unwrap();
    assert_eq!(
        md5_key(&challenge, "amp111"),
        login.get_str("Key").unwrap(),
        "Key = lowercase hex md5(challenge + secret)"
    );

    for auth in [AuthMethod::Md5, AuthMethod::Md5WithFallback] {
        let r = replay_with(
            A22,
            "03-challenge-md5",
            Login::Md5,
            false,
            config(Login::Md5, false).auth(auth),
        );
        // The answer to the capture's first Challenge (`AuthType: plain`),
        // which this connection never sent, carries an unknown ActionID: it
        // comes out as it arrived, between the banner and the login's end.
        let u = r.unsolicited();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].action_id().unwrap(), "ch-bad");
        assert_eq!(u[0].kind(), PacketKind::Response);
        assert_eq!(u[0].get_str("Message"), Some("Must specify AuthType"));
        assert!(matches!(&r.events[0], Event::Banner(b) if b.version_str() == "11.0.0"));
        assert_eq!(r.events[1], Event::Unsolicited(u[0].clone()));
        assert_eq!(r.events[2], Event::Ready);
        let pong = r.response("ping-1");
        assert_eq!(pong.get_str("Ping"), Some("Pong"));
        logged_off(&r);
    }
}

#[test]
fn replay_04_events_off_ping_coresettings() {
    let r = replay(
        A22,
        "04-events-off-ping-coresettings",
        Login::Plain(false),
        false,
    );
    banner_and_ready(&r, "11.0.0");
    assert_eq!(r.response("p1").get_str("Ping"), Some("Pong"));
    let cs = r.response("cs1");
    assert_eq!(cs.get_str("AsteriskVersion"), Some("22.10.1"));
    assert_eq!(cs.get("SystemName").unwrap().as_bytes(), b"");
    assert_eq!(r.response("cst1").get_str("CoreCurrentCalls"), Some("0"));
    assert!(r.unsolicited().is_empty());
    logged_off(&r);
}

#[test]
fn replay_05_pipelined_200_pings() {
    let r = replay(A22, "05-pipelined-200-pings", Login::Plain(false), false);
    banner_and_ready(&r, "11.0.0");
    let all = dones(&r.events);
    assert_eq!(all.len(), 201);
    for (i, (handle, _)) in all.iter().take(200).enumerate() {
        let id = format!("ping-{i:03}");
        let p = r.response(&id);
        assert_eq!(p.action_id().unwrap(), id.as_str());
        assert_eq!(p.get_str("Ping"), Some("Pong"));
        // Outcomes come out in the order the server answered, which is the
        // order they were sent.
        assert_eq!(*handle, r.handles[&id]);
    }
    assert!(r.unsolicited().is_empty());
    logged_off(&r);
}

/// Independent view of a Command answer: the `Output:` values (AMI ≥ 2.x
/// style) or the raw lines before `--END COMMAND--` (Asterisk ≤ 13).
fn command_lines(server: &[u8], id: &str) -> Vec<Vec<u8>> {
    let at = find(server, format!("\r\nActionID: {id}\r\n").as_bytes()).unwrap();
    let start = server[..at]
        .windows(4)
        .rposition(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    let head = &server[start..];
    if head.starts_with(b"Response: Follows\r\n") {
        let body_start = at + 2 + format!("ActionID: {id}\r\n").len();
        let end = body_start + find(&server[body_start..], b"--END COMMAND--").unwrap();
        let body = &server[body_start..end];
        let body = body.strip_suffix(b"\n").unwrap_or(body);
        body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
    } else {
        let end = start + find(head, b"\r\n\r\n").unwrap();
        server[start..end]
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter_map(|l| l.strip_prefix(b"Output: ").map(<[u8]>::to_vec))
            .collect()
    }
}

fn check_commands(dir: &str, version: &str, counts: &[(&str, usize)]) -> Replayed {
    let r = replay(dir, "06-command", Login::Plain(false), false);
    banner_and_ready(&r, version);
    let (server, _) = capture(dir, "06-command");
    for &(id, n) in counts {
        let want = command_lines(&server, id);
        assert_eq!(want.len(), n, "{id}: independent count");
        match r.result(id) {
            Ok(Outcome::Command(out)) => {
                let got: Vec<Vec<u8>> = out.lines.iter().map(|l| l.to_vec()).collect();
                assert_eq!(got, want, "{id}: lines byte-exact");
            }
            // Asterisk 22 answers an unknown command with Response: Error;
            // its Output: lines are in the response.
            Err(ActionError::Server { response, .. }) => {
                let got: Vec<Vec<u8>> = response
                    .get_all("Output")
                    .map(|v| v.as_bytes().to_vec())
                    .collect();
                assert_eq!(got, want, "{id}: error output");
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    let (msg, _) = r.server_error("cmd-empty");
    assert_eq!(msg, "No command provided");
    assert!(r.unsolicited().is_empty());
    logged_off(&r);
    r
}

#[test]
fn replay_06_command_asterisk_22() {
    let r = check_commands(
        A22,
        "11.0.0",
        &[
            ("cmd-version", 1),
            ("cmd-channels", 4),
            ("cmd-unknown", 1),
            ("cmd-help", 229),
            ("cmd-mgr", 102),
        ],
    );
    // The explanation is in `Output:`; `Message` is only a placeholder.
    let (msg, response) = r.server_error("cmd-unknown");
    assert_eq!(
        msg,
        "No such command 'no such command here' (type 'core show help no such' for other possible commands)"
    );
    assert_eq!(response.get_str("Message"), Some("Command output follows"));
    // An error without `Output:` keeps its `Message`.
    assert_eq!(r.server_error("cmd-empty").0, "No command provided");
    let out = r.ok("cmd-version").into_command().unwrap();
    assert!(out.text().starts_with("Asterisk 22.10.1 built by"));
}

#[test]
fn replay_06_command_asterisk_13() {
    let r = check_commands(
        A13,
        "2.10.6",
        &[
            ("cmd-version", 1),
            ("cmd-channels", 4),
            ("cmd-unknown", 1),
            ("cmd-help", 200),
            ("cmd-mgr", 98),
        ],
    );
    // Asterisk 13 answers an unknown command with Follows: it is output.
    let out = r.ok("cmd-unknown").into_command().unwrap();
    assert!(out
        .text()
        .starts_with("No such command 'no such command here'"));
    let out = r.ok("cmd-mgr").into_command().unwrap();
    // Trailing spaces survive.
    assert_eq!(
        &out.lines[2][..],
        b"  AbsoluteTimeout                 Set absolute timeout. "
    );
    // Same output shape as Asterisk 22 for `core show channels`.
    let out22 = replay(A22, "06-command", Login::Plain(false), false)
        .ok("cmd-channels")
        .into_command()
        .unwrap();
    let out13 = r.ok("cmd-channels").into_command().unwrap();
    assert_eq!(out13.lines.len(), out22.lines.len());
    assert_eq!(&out13.lines[1..], &out22.lines[1..]);
}

#[test]
fn replay_07_list_actions() {
    let r = replay(A22, "07-list-actions", Login::Plain(false), false);
    banner_and_ready(&r, "11.0.0");
    let (server, _) = capture(A22, "07-list-actions");
    let packets = raw_packets(&server);
    let lists = [
        ("csc-empty", "CoreShowChannelsComplete"),
        ("status-empty", "StatusComplete"),
        ("csc-active", "CoreShowChannelsComplete"),
        ("status-all", "StatusComplete"),
        ("status-vars", "StatusComplete"),
        ("qstatus", "QueueStatusComplete"),
        ("qstatus-one", "QueueStatusComplete"),
        ("qsummary", "QueueSummaryComplete"),
        ("devstates", "DeviceStateListComplete"),
        ("extstates", "ExtensionStateListComplete"),
        ("presstates", "PresenceStateListComplete"),
        ("showdialplan", "ShowDialPlanComplete"),
        ("hangup-all", "ChannelsHungupListComplete"),
    ];
    let mut total = 0;
    for (id, complete) in lists {
        let l = r.ok(id).into_list().unwrap_or_else(|| panic!("{id}: list"));
        assert!(l.complete.is_event(complete), "{id}");
        assert_eq!(l.announced_items(), Some(l.items.len()), "{id}");
        // Independent: the item events with this ActionID, in order.
        let want: Vec<&Vec<u8>> = packets
            .iter()
            .filter(|p| {
                p.starts_with(b"Event: ")
                    && has_line(p, &format!("ActionID: {id}"))
                    && !has_line(p, "EventList: Complete")
            })
            .collect();
        let got: Vec<&[u8]> = l.items.iter().map(|p| &p.raw()[..]).collect();
        assert_eq!(got, want.iter().map(|v| &v[..]).collect::<Vec<_>>(), "{id}");
        assert!(l.response.get("EventList").unwrap().eq_ignore_case("start"));
        total += l.items.len();
    }
    assert_eq!(total, 4 + 4 + 4 + 4 + 2 + 2 + 6 + 3 + 45 + 4);
    for id in ["sippeers", "pjsip-eps"] {
        let (msg, _) = r.server_error(id);
        assert!(!msg.is_empty(), "{id}");
    }
    // ListCommands is one big response, not a list.
    let lc = r.response("listcmds");
    assert!(lc.len() > 100);
    assert!(lc
        .get_str("Ping")
        .is_some_and(|v| v.starts_with("Keepalive command.")));
    for id in ["setdev-0", "setdev-1"] {
        r.response(id);
    }
    // Async originates with `Events: off`: the capture shows that no
    // OriginateResponse ever arrives, so the connection refuses them at
    // submit, saying why, instead of leaving them pending until Logoff.
    // The capture's answers to them are then answers to nothing.
    for id in ["orig-echo", "orig-queue"] {
        assert_eq!(
            r.refused.get(id),
            Some(&SendError::Unanswerable(
                Unanswerable::EventMaskExcludesCall { mask: "off".into() }
            )),
            "{id}"
        );
    }
    let strays: Vec<_> = r
        .unsolicited()
        .iter()
        .map(|p| p.action_id().unwrap().to_string())
        .collect();
    assert_eq!(strays, ["orig-echo", "orig-queue"]);
    logged_off(&r);
}

#[test]
fn replay_08_queuerule() {
    let r = replay(A22, "08-queuerule", Login::Plain(false), false);
    banner_and_ready(&r, "11.0.0");
    let all = r.response("qr-all");
    let rules: Vec<_> = all.get_all("Rule").map(|v| v.to_string()).collect();
    assert_eq!(rules, ["10,+2,+0", "20,+4,+1", "30,10,5", "60,-1,0"]);
    let lists: Vec<_> = all.get_all("RuleList").map(|v| v.to_string()).collect();
    assert_eq!(lists, ["testrule", "otherrule"]);
    assert_eq!(r.response("qr-one").get_all("Rule").count(), 3);
    let none = r.response("qr-none");
    assert_eq!(none.len(), 2);
    let (msg, _) = r.server_error("queues-raw");
    assert!(msg.starts_with("Invalid/unknown command: Queues."));
    assert_eq!(r.response("after-queues").get_str("Ping"), Some("Pong"));
    // The empty packets after each QueueRule answer are not events.
    assert!(r.unsolicited().is_empty(), "{:#?}", r.unsolicited());
    logged_off(&r);
}

#[test]
fn replay_10_originate_events() {
    let r = replay(A22, "10-originate-events", Login::Plain(true), true);
    banner_and_ready(&r, "11.0.0");
    let sync = r.response("orig-sync");
    assert_eq!(
        sync.get_str("Message"),
        Some("Originate successfully queued")
    );
    let (msg, _) = r.server_error("orig-badtech");
    assert!(!msg.is_empty());
    for (id, success, reason) in [
        ("orig-dial", true, 4),
        ("orig-queue", true, 4),
        ("orig-noanswer", false, 3),
        ("orig-busy", false, 5),
        ("orig-badexten", false, 0),
    ] {
        let o = r.ok(id).into_originate().unwrap_or_else(|| panic!("{id}"));
        assert!(o.event.is_event("OriginateResponse"), "{id}");
        assert_eq!(o.event.action_id().unwrap(), id);
        assert_eq!(o.response.action_id().unwrap(), id);
        assert_eq!(
            o.response.get_str("Message"),
            Some("Originate successfully queued")
        );
        assert_eq!(o.is_success(), success, "{id}");
        assert_eq!(o.reason(), Some(reason), "{id}");
    }
    // Every other event comes out, in order, byte for byte. Independent
    // count: packets starting with `Event:` minus the 5 OriginateResponses.
    let (server, _) = capture(A22, "10-originate-events");
    let want: Vec<Vec<u8>> = raw_packets(&server)
        .into_iter()
        .filter(|p| p.starts_with(b"Event: ") && !p.starts_with(b"Event: OriginateResponse\r\n"))
        .collect();
    assert_eq!(want.len(), 234 - 5);
    let got: Vec<Vec<u8>> = r.unsolicited().iter().map(|p| p.raw().to_vec()).collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "unsolicited events differ from the capture's");
    logged_off(&r);
}

#[test]
fn replay_11_userevent() {
    let r = replay(A22, "11-userevent", Login::Plain(true), true);
    banner_and_ready(&r, "11.0.0");
    assert_eq!(r.response("ue-1").get_str("Message"), Some("Event Sent"));
    r.response("ue-2");
    let u = r.unsolicited();
    let names: Vec<_> = u.iter().map(|p| p.event().unwrap().to_string()).collect();
    assert_eq!(
        names,
        ["FullyBooted", "SuccessfulAuth", "UserEvent", "UserEvent"]
    );
    // The UserEvent echoes its action's ActionID; that action is finished,
    // so the event is unsolicited with every header intact.
    let ue = &u[2];
    assert_eq!(ue.action_id().unwrap(), "ue-1");
    let dups: Vec<_> = ue.get_all("Dup").map(|v| v.to_string()).collect();
    assert_eq!(dups, ["first", "second"]);
    assert_eq!(ue.get("Spaced").unwrap().as_bytes(), b"   padded value   ");
    assert_eq!(ue.get_str("NoSpace"), Some("tight"));
    assert_eq!(u[3].action_id().unwrap(), "ue-2");
    logged_off(&r);
}

#[test]
fn replay_12a_filter_action() {
    let r = replay(A22, "12a-filter-action", Login::Plain(true), true);
    banner_and_ready(&r, "11.0.0");
    assert_eq!(r.response("f-add").get_str("Message"), Some("Success"));
    for (id, msg) in [
        (
            "f-badre",
            "Filter did not compile.  Check the syntax of the filter given.",
        ),
        (
            "f-badcrit",
            "Filter was formatted incorrectly.  Check the syntax of the filter given.",
        ),
        ("f-badop", "Unknown operation"),
    ] {
        assert_eq!(r.server_error(id).0, msg);
    }
    r.response("ue-unwanted");
    r.response("ue-wanted");
    let names: Vec<_> = r
        .unsolicited()
        .iter()
        .map(|p| {
            format!(
                "{}{}",
                p.event().unwrap(),
                p.get_str("UserEvent")
                    .map(|u| format!(":{u}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(names, ["FullyBooted", "SuccessfulAuth", "UserEvent:Wanted"]);
    // The filter keeps the OriginateResponse out: still pending at Logoff.
    assert_eq!(
        r.result("orig-f"),
        Err(ActionError::Closed(CloseReason::LoggedOff))
    );
    logged_off(&r);
}

#[test]
fn replay_13_event_flood() {
    let (server, client) = capture(A22, "13-event-flood");
    // Independent: every event but the 50 OriginateResponses, byte for byte.
    let want: Vec<Vec<u8>> = raw_packets(&server)
        .into_iter()
        .filter(|p| p.starts_with(b"Event: ") && !p.starts_with(b"Event: OriginateResponse\r\n"))
        .collect();
    assert_eq!(want.len(), 2190 - 50);
    let captured = decode_actions(&client);
    for chunk in [1500, usize::MAX] {
        let mut sim = Sim::new(config(Login::Plain(true), true));
        let mut hs = Vec::new();
        for p in &captured {
            if p.action().unwrap() == "Originate" {
                hs.push(sim.send(action_of(p)));
            }
        }
        assert_eq!(hs.len(), 50);
        let n = hs.len();
        let server = rewrite_ids(&server, &[("login", format!("rp-{n}"))]);
        // The capture's Logoff was sent after 10 s of events, just before
        // its Goodbye: send it there.
        let bye = find(&server, b"Response: Goodbye\r\n").unwrap();
        sim.feed_chunked(&server[..bye], chunk);
        assert_eq!(sim.conn.state(), State::Ready);
        let logoff = captured
            .iter()
            .find(|p| p.action().unwrap() == "Logoff")
            .unwrap();
        let lh = sim.send(action_of(logoff));
        sim.feed_chunked(&server[bye..], chunk);
        sim.eof();
        let d = dones(&sim.events);
        assert_eq!(d.len(), 51);
        for h in &hs {
            let o = done(&sim.events, *h).unwrap().into_originate().unwrap();
            assert!(o.event.is_event("OriginateResponse"));
        }
        let bye = done(&sim.events, lh).unwrap().into_response().unwrap();
        assert_eq!(bye.response_status(), Some(ResponseStatus::Goodbye));
        let got: Vec<Vec<u8>> = unsolicited(&sim.events)
            .iter()
            .map(|p| p.raw().to_vec())
            .collect();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "unsolicited events differ from the capture's");
        assert_eq!(
            sim.events.last(),
            Some(&Event::Closed(CloseReason::LoggedOff))
        );
    }
}

#[test]
fn replay_14b_line_too_long() {
    let r = replay(A22, "14b-line-too-long", Login::Plain(false), false);
    banner_and_ready(&r, "11.0.0");
    // The encoder refuses what the server would refuse: nothing is written.
    let mut refused: Vec<_> = r.refused.keys().cloned().collect();
    refused.sort();
    assert_eq!(refused, ["id-after-long", "ping-10k", "set2000"]);
    for e in r.refused.values() {
        assert!(
            matches!(
                e,
                SendError::Encode(EncodeError::LineTooLong { max: 1022, .. })
            ),
            "{e:?}"
        );
    }
    let get = r.response("get2000");
    assert_eq!(get.get("Value").unwrap().as_bytes(), b"");
    for id in ["ping-after", "ping-final"] {
        assert_eq!(r.response(id).get_str("Ping"), Some("Pong"));
    }
    // The server's replies to the actions this client never sent carry
    // unknown ActionIDs: unsolicited, in order, never dropped.
    let ids: Vec<_> = r
        .unsolicited()
        .iter()
        .map(|p| p.action_id().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["set2000", "ping-10k", "id-after-long"]);
    for p in r.unsolicited() {
        assert_eq!(
            p.get_str("Message"),
            Some("Failed to parse message: line too long")
        );
    }
    logged_off(&r);
}

#[test]
fn replay_14c_too_many_headers() {
    let r = replay(A22, "14c-too-many-headers", Login::Plain(true), true);
    banner_and_ready(&r, "11.0.0");
    assert_eq!(r.refused.len(), 1);
    assert!(matches!(
        r.refused["hdr140"],
        SendError::Encode(EncodeError::TooManyLines {
            count: 140,
            max: 128
        })
    ));
    r.response("hdr128");
    assert_eq!(r.response("ping-after").get_str("Ping"), Some("Pong"));
    let u = r.unsolicited();
    let desc: Vec<_> = u
        .iter()
        .map(|p| match p.event() {
            Some(e) => e.to_string(),
            None => format!("{}:{}", p.response().unwrap(), p.action_id().unwrap()),
        })
        .collect();
    assert_eq!(
        desc,
        ["FullyBooted", "SuccessfulAuth", "UserEvent", "Error:hdr140"]
    );
    assert_eq!(u[2].get_all("").count(), 0);
    assert_eq!(
        u[2].headers()
            .filter(|h| h.key_str().starts_with("X-H"))
            .count(),
        125
    );
    logged_off(&r);
}
