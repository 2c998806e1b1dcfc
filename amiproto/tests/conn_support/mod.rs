//! Helpers shared by the connection tests: a simulated clock and wire around
//! one [`Connection`], builders for server packets, and capture loading.
//!
//! Time is simulated: `base` is one `Instant` taken at start and every other
//! instant is `base + duration`; the connection never reads a clock.
#![allow(dead_code, clippy::result_large_err)]

use std::time::{Duration, Instant};

use amiproto::{
    Action, ActionError, ActionHandle, AuthMethod, BannerMode, Config, Connection, Decoder, Event,
    EventMask, Frame, Outcome, Packet, SendError, SendOptions, State,
};
use bytes::{Bytes, BytesMut};

/// Directory of the Asterisk 22.10.1 captures.
pub const A22: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/asterisk-22.10.1"
);
/// Directory of the Asterisk 13.38.3 captures.
pub const A13: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/asterisk-13.38.3"
);

/// `(server bytes, client bytes)` of one capture.
pub fn capture(dir: &str, name: &str) -> (Vec<u8>, Vec<u8>) {
    let read = |side: &str| {
        let path = format!("{dir}/{name}.{side}.bin");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    (read("server"), read("client"))
}

/// Every packet of a client-to-server byte stream, decoded independently of
/// any connection.
pub fn decode_actions(bytes: &[u8]) -> Vec<Packet> {
    let mut dec = Decoder::new().banner_mode(BannerMode::Absent);
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    loop {
        match dec.decode_eof(&mut buf) {
            Ok(Some(Frame::Packet(p))) => out.push(p),
            Ok(Some(frame)) => panic!("not an action packet in client bytes: {frame:?}"),
            Ok(None) => return out,
            Err(e) => panic!("client bytes do not decode: {e}"),
        }
    }
}

/// The [`Action`] a captured action packet was: name, `ActionID`, and every
/// other header in order.
pub fn action_of(p: &Packet) -> Action {
    let name = p.action().expect("an action").to_str().unwrap().to_owned();
    let mut a = Action::new(name);
    for h in p.headers() {
        if h.is("Action") {
            continue;
        }
        if h.is("ActionID") {
            a = a.action_id(h.value().to_str().unwrap().to_owned());
            continue;
        }
        a.push_header(
            h.key_str().into_owned(),
            Bytes::copy_from_slice(h.value().as_bytes()),
        );
    }
    a
}

/// One server packet from `Key: Value` pairs, CRLF-terminated as Asterisk
/// writes it.
pub fn pkt(lines: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in lines {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `Response: Success` for `id`, plus `extra` headers.
pub fn ok(id: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut l = vec![("Response", "Success"), ("ActionID", id)];
    l.extend_from_slice(extra);
    pkt(&l)
}

/// `Response: Error` for `id` with `message`.
pub fn err(id: &str, message: &str) -> Vec<u8> {
    pkt(&[
        ("Response", "Error"),
        ("ActionID", id),
        ("Message", message),
    ])
}

/// An event named `name` with optional `ActionID` and extra headers.
pub fn event(name: &str, id: Option<&str>, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut l = vec![("Event", name)];
    if let Some(id) = id {
        l.push(("ActionID", id));
    }
    l.extend_from_slice(extra);
    pkt(&l)
}

pub const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";

/// A config with plain login and no default action timeout: the scripted
/// tests switch on exactly what they test.
pub fn plain() -> Config {
    Config::new("admin", "amp111")
        .auth(AuthMethod::Plain)
        .events(EventMask::Off)
        .action_timeout(None)
}

/// A connection with a simulated clock, what it wrote, and what it reported.
pub struct Sim {
    pub conn: Connection,
    pub base: Instant,
    pub now: Instant,
    /// Everything written so far (drained from `poll_transmit`).
    pub wire: Vec<u8>,
    /// Everything reported and not yet taken.
    pub events: Vec<Event>,
    /// Bytes of `wire` already handed out by [`Sim::take_sent`].
    taken: usize,
}

impl Sim {
    pub fn new(config: Config) -> Sim {
        Sim::with_generation(config, 0)
    }

    pub fn with_generation(config: Config, generation: u32) -> Sim {
        let base = Instant::now();
        let mut s = Sim {
            conn: Connection::with_generation(config, generation, base),
            base,
            now: base,
            wire: Vec::new(),
            events: Vec::new(),
            taken: 0,
        };
        s.pump();
        s
    }

    /// Banner in, plain login answered: the connection is `Ready` and every
    /// event so far (`Banner`, `Ready`) has been taken.
    pub fn ready(config: Config) -> Sim {
        let mut s = Sim::new(config);
        s.feed(BANNER);
        let login = s.take_sent();
        assert_eq!(login.len(), 1, "{login:?}");
        let id = login[0].action_id().unwrap().to_str().unwrap().to_owned();
        s.feed(&ok(&id, &[("Message", "Authentication accepted")]));
        assert_eq!(s.conn.state(), State::Ready);
        let ev = s.take_events();
        assert!(matches!(ev[0], Event::Banner(_)), "{ev:?}");
        assert!(ev.contains(&Event::Ready), "{ev:?}");
        s
    }

    /// Drain transmit and events, quinn-style, checking that nothing is
    /// reported after `Closed` and that the timer never points at the past.
    pub fn pump(&mut self) {
        while let Some(b) = self.conn.poll_transmit() {
            assert!(!b.is_empty(), "poll_transmit returned an empty buffer");
            self.wire.extend_from_slice(&b);
        }
        if let Some(t) = self.conn.poll_timeout() {
            assert!(
                self.conn.state() != State::Closed,
                "a closed connection asks for a timer"
            );
            let _ = t;
        }
        while let Some(e) = self.conn.poll_event() {
            if let Some(Event::Closed(_)) = self.events.last() {
                panic!("event after Closed: {e:?}");
            }
            self.events.push(e);
        }
    }

    pub fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    /// Milliseconds of `t` since `base`.
    pub fn ms(&self, t: Instant) -> u128 {
        t.duration_since(self.base).as_millis()
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.conn.handle_input(self.now, bytes);
        self.pump();
    }

    /// Feed `bytes` cut into pieces of `chunk` bytes.
    pub fn feed_chunked(&mut self, bytes: &[u8], chunk: usize) {
        for c in bytes.chunks(chunk.max(1)) {
            self.feed(c);
        }
    }

    pub fn eof(&mut self) {
        self.conn.handle_eof(self.now);
        self.pump();
    }

    /// Move the clock to `base + ms` and run the timer.
    pub fn advance_to(&mut self, ms: u64) {
        let t = self.at(ms);
        assert!(t >= self.now, "time goes forward");
        self.now = t;
        self.conn.handle_timeout(t);
        self.pump();
    }

    /// Jump to the next deadline (if any) and fire it; returns it.
    pub fn fire_next(&mut self) -> Option<Instant> {
        let t = self.conn.poll_timeout()?;
        if t > self.now {
            self.now = t;
        }
        self.conn.handle_timeout(self.now);
        self.pump();
        if let Some(next) = self.conn.poll_timeout() {
            assert!(
                next > self.now,
                "deadline {next:?} not after handle_timeout({:?})",
                self.now
            );
        }
        Some(t)
    }

    pub fn send(&mut self, a: Action) -> ActionHandle {
        let h = self.conn.send(a, self.now).expect("send");
        self.pump();
        h
    }

    pub fn send_with(&mut self, a: Action, o: SendOptions) -> ActionHandle {
        let h = self.conn.send_with(a, o, self.now).expect("send");
        self.pump();
        h
    }

    pub fn try_send(&mut self, a: Action) -> Result<ActionHandle, SendError> {
        let r = self.conn.send(a, self.now);
        self.pump();
        r
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Packets written since the last call.
    pub fn take_sent(&mut self) -> Vec<Packet> {
        let new = &self.wire[self.taken..];
        self.taken = self.wire.len();
        decode_actions(new)
    }

    /// Bytes written since the last `take_sent`/`take_sent_bytes`.
    pub fn take_sent_bytes(&mut self) -> Vec<u8> {
        let new = self.wire[self.taken..].to_vec();
        self.taken = self.wire.len();
        new
    }

    /// The wire ActionID of the last packet written with action `name`.
    pub fn id_of(&self, name: &str) -> String {
        decode_actions(&self.wire)
            .iter()
            .rev()
            .find(|p| p.action().is_some_and(|a| a.eq_ignore_case(name)))
            .and_then(|p| p.action_id().map(|v| v.to_str().unwrap().to_owned()))
            .unwrap_or_else(|| panic!("no {name} written"))
    }
}

/// The `Done` results in `events`, in order.
pub fn dones(events: &[Event]) -> Vec<(ActionHandle, Result<Outcome, ActionError>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Done { handle, result } => Some((*handle, result.clone())),
            _ => None,
        })
        .collect()
}

/// The one `Done` result for `h` in `events` (panics if none or several).
pub fn done(events: &[Event], h: ActionHandle) -> Result<Outcome, ActionError> {
    let mut found: Vec<_> = dones(events)
        .into_iter()
        .filter(|(hh, _)| *hh == h)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "want exactly one Done for {h:?}: {events:#?}"
    );
    found.pop().unwrap()
}

/// The unsolicited packets in `events`, in order.
pub fn unsolicited(events: &[Event]) -> Vec<Packet> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Unsolicited(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// Replace whole `ActionID: <from>` lines in a server stream.
pub fn rewrite_ids(server: &[u8], map: &[(&str, String)]) -> Vec<u8> {
    let mut out = server.to_vec();
    for (from, to) in map {
        let pat = format!("\r\nActionID: {from}\r\n");
        let rep = format!("\r\nActionID: {to}\r\n");
        let mut next = Vec::with_capacity(out.len());
        let mut rest = &out[..];
        let mut hits = 0;
        while let Some(i) = find(rest, pat.as_bytes()) {
            next.extend_from_slice(&rest[..i]);
            next.extend_from_slice(rep.as_bytes());
            rest = &rest[i + pat.len()..];
            hits += 1;
        }
        next.extend_from_slice(rest);
        assert!(hits > 0, "ActionID {from} not in the capture");
        out = next;
    }
    out
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
