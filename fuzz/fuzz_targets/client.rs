//! Drive the client state machine with fuzz-chosen server bytes (raw, or
//! well-formed answers to the actions it actually wrote), chunk boundaries,
//! time steps, sends and cancels. After EOF every submitted action has had
//! exactly one outcome (none if cancelled), nothing is left pending, and
//! nothing panicked.
#![no_main]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use amiproto::{
    Action, ActionHandle, AuthMethod, BannerMode, Config, Connection, Decoder, Event, Frame,
    SendOptions, State,
};
use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Whether a handle expects an outcome, and how many it got.
#[derive(Default)]
struct Expect {
    wants: bool,
    done: usize,
}

struct Harness {
    conn: Connection,
    now: Instant,
    /// ActionIDs the client wrote, in order.
    ids: Vec<String>,
    tx: BytesMut,
    tx_dec: Decoder,
    handles: HashMap<ActionHandle, Expect>,
    events: usize,
}

impl Harness {
    /// Feed server bytes cut at fuzz-chosen points.
    fn feed(&mut self, u: &mut Unstructured, bytes: &[u8]) -> Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = if u.is_empty() {
                rest.len()
            } else {
                u.int_in_range(1..=rest.len())?
            };
            self.conn.handle_input(self.now, &rest[..n]);
            rest = &rest[n..];
            self.drain();
        }
        Ok(())
    }

    /// Collect what the connection wrote and reported.
    fn drain(&mut self) {
        while let Some(b) = self.conn.poll_transmit() {
            self.tx.extend_from_slice(&b);
            while let Ok(Some(Frame::Packet(p))) = self.tx_dec.decode(&mut self.tx) {
                if let Some(id) = p.action_id() {
                    self.ids.push(id.to_string());
                }
            }
        }
        while let Some(e) = self.conn.poll_event() {
            self.events += 1;
            if std::env::var_os("FUZZ_DEBUG").is_some() {
                eprintln!("event {e:?}");
            }
            if let Event::Done { handle, .. } = e {
                let x = self.handles.entry(handle).or_default();
                x.done += 1;
                assert!(x.done <= 1, "two outcomes for {handle:?}");
            }
        }
        // Exactly the submitted actions still owed an outcome are pending,
        // and what is held is bounded by what was submitted.
        let open = self
            .handles
            .values()
            .filter(|x| x.wants && x.done == 0)
            .count();
        assert_eq!(self.conn.pending_actions(), open);
        assert!(self.conn.queued_actions() <= self.handles.len());
    }

    fn pick_id(&self, u: &mut Unstructured) -> Result<String> {
        if self.ids.is_empty() || u.ratio(1, 16)? {
            return Ok("unknown-id".into());
        }
        Ok(self.ids[u.choose_index(self.ids.len())?].clone())
    }
}

const BANNERS: &[&[u8]] = &[
    b"Asterisk Call Manager/2.10.4\r\n",
    b"Asterisk Call Manager/1.3\r\n",
    b"Asterisk Call Manager/1.1\r\n",
    b"Asterisk Call Manager/9.0.0\r\n",
    b"Not AMI at all\r\n",
];

fn reply(u: &mut Unstructured, id: &str) -> Result<Vec<u8>> {
    let mut r = Vec::new();
    match u.int_in_range(0..=10)? {
        0 => r.extend_from_slice(format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n").as_bytes()),
        1 => r.extend_from_slice(format!("Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n").as_bytes()),
        2 => r.extend_from_slice(format!("Response: Success\r\nActionID: {id}\r\nChallenge: 123456789\r\n\r\n").as_bytes()),
        3 => r.extend_from_slice(format!("Response: Follows\r\nPrivilege: Command\r\nActionID: {id}\r\nline\n\nmore\n--END COMMAND--\r\n\r\n").as_bytes()),
        4 => {
            r.extend_from_slice(format!("Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: will follow\r\n\r\n").as_bytes());
            for i in 0..u.int_in_range(0..=3)? {
                r.extend_from_slice(format!("Event: Item\r\nActionID: {id}\r\nN: {i}\r\n\r\n").as_bytes());
            }
            if u.arbitrary()? {
                r.extend_from_slice(format!("Event: ItemComplete\r\nActionID: {id}\r\nEventList: Complete\r\n\r\n").as_bytes());
            }
        }
        5 => r.extend_from_slice(format!("Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n").as_bytes()),
        6 => r.extend_from_slice(format!("Event: OriginateResponse\r\nActionID: {id}\r\nResponse: Failure\r\nReason: 0\r\n\r\n").as_bytes()),
        7 => r.extend_from_slice(format!("Response: Success\r\nActionID: {id}\r\nOutput: a\r\nOutput: b\r\n\r\n").as_bytes()),
        8 => r.extend_from_slice(format!("Response: Success\r\nActionID: {id}\r\nX: {}\r\n\r\n", "y".repeat(u.int_in_range(0..=3000)?)).as_bytes()),
        9 => {
            // Asterisk 11's Parkinglots: items without ActionID.
            r.extend_from_slice(format!("Response: Success\r\nActionID: {id}\r\nMessage: Parking lots will follow\r\n\r\n").as_bytes());
            for i in 0..u.int_in_range(0..=3)? {
                r.extend_from_slice(format!("Event: Parkinglot\r\nName: lot{i}\r\n\r\n").as_bytes());
            }
            if u.arbitrary()? {
                r.extend_from_slice(format!("Event: ParkinglotsComplete\r\nActionID: {id}\r\n\r\n").as_bytes());
            }
        }
        _ => r.extend_from_slice(b"Response: Error\r\nMessage: Missing action in request\r\n\r\n"),
    }
    Ok(r)
}

fn action(u: &mut Unstructured) -> Result<Action> {
    Ok(match u.int_in_range(0..=11)? {
        0 => Action::ping(),
        1 => Action::command("core show version"),
        2 => Action::new("CoreShowChannels"),
        3 => Action::originate("Local/100@default").async_originate(),
        4 => Action::logoff(),
        5 => Action::ping().action_id(u.arbitrary::<String>()?),
        6 => Action::new("Status"),
        7 => Action::events(&amiproto::EventMask::parse(if u.arbitrary()? {
            "on"
        } else {
            "off"
        })),
        8 => Action::filter_add("!Event: OriginateResponse"),
        9 => Action::new("Parkinglots"),
        10 => Action::new("Queues"),
        _ => {
            let name: String = u.arbitrary()?;
            let key: String = u.arbitrary()?;
            let value: Vec<u8> = u.arbitrary()?;
            Action::new(name).header(key, value)
        }
    })
}

fn run(input: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(input);
    let mut config = Config::new("admin", "amp111")
        .auth(if u.arbitrary()? {
            AuthMethod::Md5
        } else {
            AuthMethod::Plain
        })
        .limits(common::limits(&mut u)?);
    if u.arbitrary()? {
        config = config.max_in_flight(Some(u.int_in_range(1..=3)?));
    }
    if u.arbitrary()? {
        config = config.keepalive(Duration::from_secs(5), Duration::from_secs(2));
    }
    if u.arbitrary()? {
        config = config.action_timeout(None);
    }
    let now = Instant::now();
    let mut h = Harness {
        conn: Connection::new(config, now),
        now,
        ids: Vec::new(),
        tx: BytesMut::new(),
        tx_dec: Decoder::new().banner_mode(BannerMode::Absent),
        handles: HashMap::new(),
        events: 0,
    };
    h.drain();
    // Out of fuzz bytes mid-way is fine: EOF and the checks happen anyway.
    let _ = ops(&mut h, &mut u);
    finish(h);
    Ok(())
}

fn ops(h: &mut Harness, u: &mut Unstructured) -> Result<()> {
    for _ in 0..64 {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0..=8)? {
            0 => {
                let bytes: Vec<u8> = u.arbitrary()?;
                h.feed(u, &bytes)?;
            }
            1 => {
                let b = *u.choose(BANNERS)?;
                h.feed(u, b)?;
            }
            2 | 3 => {
                let id = h.pick_id(u)?;
                let r = reply(u, &id)?;
                h.feed(u, &r)?;
            }
            4 => {
                let e = format!(
                    "Event: Newchannel\r\nChannel: PJSIP/1-{}\r\n\r\n",
                    u.arbitrary::<u16>()?
                );
                h.feed(u, e.as_bytes())?;
            }
            5 => {
                h.now += Duration::from_millis(u.int_in_range(0..=20_000)?);
                h.conn.handle_timeout(h.now);
                h.drain();
            }
            6 => {
                if let Some(at) = h.conn.poll_timeout() {
                    h.now = h.now.max(at);
                    h.conn.handle_timeout(h.now);
                    h.drain();
                }
            }
            7 => {
                let a = action(u)?;
                let (opts, wants) = match u.int_in_range(0..=3)? {
                    0 => (SendOptions::new(), true),
                    1 => (SendOptions::new().no_reply(), false),
                    2 => (SendOptions::new().stream_list(), true),
                    _ => (
                        SendOptions::new()
                            .timeout(Some(Duration::from_millis(u.int_in_range(1..=5000)?))),
                        true,
                    ),
                };
                if std::env::var_os("FUZZ_DEBUG").is_some() {
                    eprintln!("send {a:?} {opts:?} state {:?}", h.conn.state());
                }
                if let Ok(handle) = h.conn.send_with(a, opts, h.now) {
                    let x = h.handles.entry(handle).or_default();
                    x.wants = wants;
                }
                h.drain();
            }
            _ => {
                let open: Vec<ActionHandle> = h
                    .handles
                    .iter()
                    .filter(|(_, x)| x.wants && x.done == 0)
                    .map(|(k, _)| *k)
                    .collect();
                if !open.is_empty() {
                    let handle = open[u.choose_index(open.len())?];
                    if h.conn.cancel(handle, h.now) {
                        h.handles.get_mut(&handle).unwrap().wants = false;
                    }
                    h.drain();
                }
            }
        }
    }
    Ok(())
}

fn finish(mut h: Harness) {
    h.conn.handle_eof(h.now);
    h.drain();
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.pending_actions(), 0);
    assert_eq!(h.conn.queued_actions(), 0);
    for (handle, x) in &h.handles {
        let want = usize::from(x.wants);
        assert_eq!(x.done, want, "{handle:?}");
    }
    // Events are bounded by the input (no event storm from nothing).
    assert!(h.events <= 100_000);
}

fuzz_target!(|input: &[u8]| {
    let _ = run(input);
});
