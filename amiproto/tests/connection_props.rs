//! Properties of the connection state machine over generated sessions:
//! arbitrary (mostly plausible) server bytes cut at arbitrary points,
//! interleaved with sends, cancels, logoffs and time steps, ended by EOF.
//!
//! - After `handle_timeout(t)`, `poll_timeout()` is `None` or later than `t`
//!   (an adapter never spins).
//! - Every action sent with an outcome wanted, and not cancelled, ends with
//!   exactly one `Done`; no other handle ever gets one; nothing follows
//!   `Closed`; after EOF nothing is pending.

mod conn_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use amiproto::{
    Action, ActionHandle, AuthMethod, Config, Connection, Event, EventMask, SendOptions, State,
};
use conn_support::{err, event, ok, pkt};
use proptest::prelude::*;

/// One step of a generated session.
#[derive(Clone, Debug)]
enum Op {
    /// Submit an action: kind, stream, no_reply, timeout (ms, 0 = none).
    Send(u8, bool, bool, Option<u16>),
    /// Server bytes, delivered in pieces of the given size.
    Feed(Vec<u8>, usize),
    /// Move the clock forward and fire the timer if due.
    Advance(u16),
    /// Cancel the n-th submitted action (modulo the count).
    Cancel(usize),
    /// Log off, wanting its outcome or not.
    Logoff(bool),
}

fn id_strategy() -> BoxedStrategy<String> {
    prop_oneof![
        (0u64..12).prop_map(|n| format!("ami-{n}")),
        Just("mine".to_owned()),
        Just("ami-".to_owned()),
        Just("x".to_owned()),
    ]
    .boxed()
}

/// A server packet, plausible enough to reach the interesting states.
fn packet_strategy() -> impl Strategy<Value = Vec<u8>> {
    let id = id_strategy();
    prop_oneof![
        (id.clone(), any::<bool>()).prop_map(|(id, good): (String, bool)| if good {
            ok(
                &id,
                &[("Message", "Authentication accepted"), ("Challenge", "12")],
            )
        } else {
            err(&id, "Authentication failed")
        }),
        id.clone().prop_map(|id: String| ok(
            &id,
            &[("EventList", "start"), ("Message", "x will follow")]
        )),
        id.clone()
            .prop_map(|id: String| event("Status", Some(&id), &[])),
        id.clone().prop_map(|id: String| event(
            "StatusComplete",
            Some(&id),
            &[("EventList", "Complete")]
        )),
        id.clone()
            .prop_map(|id: String| event("PeerlistComplete", Some(&id), &[])),
        id.clone().prop_map(|id: String| event(
            "OriginateResponse",
            Some(&id),
            &[("Response", "Success"), ("Reason", "4")]
        )),
        id.clone()
            .prop_map(|id: String| pkt(&[("Response", "Goodbye"), ("ActionID", &id)])),
        id.clone().prop_map(|id: String| format!(
            "Response: Follows\r\nActionID: {id}\r\nline one\n\n--END COMMAND--\r\n\r\n"
        )
        .into_bytes()),
        Just(event("Newchannel", None, &[])),
        Just(b"Asterisk Call Manager/11.0.0\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..6, any::<bool>(), any::<bool>(), proptest::option::of(0u16..3000))
            .prop_map(|(k, s, n, t)| Op::Send(k, s, n, t)),
        6 => (proptest::collection::vec(packet_strategy(), 1..4), 1usize..64)
            .prop_map(|(ps, c)| Op::Feed(ps.concat(), c)),
        3 => (0u16..4000).prop_map(Op::Advance),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => any::<bool>().prop_map(Op::Logoff),
    ]
}

fn config_strategy() -> impl Strategy<Value = Config> {
    (
        0u8..3,
        proptest::option::of(1u64..3000),
        proptest::option::of(1usize..4),
        any::<bool>(),
        1usize..4,
    )
        .prop_map(|(auth, timeout, window, keepalive, cap)| {
            let auth = [
                AuthMethod::Plain,
                AuthMethod::Md5,
                AuthMethod::Md5WithFallback,
            ][auth as usize];
            let mut c = Config::new("admin", "amp111")
                .auth(auth)
                .events(EventMask::On)
                .action_timeout(timeout.map(Duration::from_millis))
                .banner_timeout(Duration::from_millis(5000))
                .login_timeout(Duration::from_millis(5000))
                .max_in_flight(window)
                .max_list_items(cap);
            if keepalive {
                c = c.keepalive(Duration::from_millis(1500), Duration::from_millis(700));
            }
            c
        })
}

fn action(kind: u8, n: usize) -> Action {
    match kind {
        0 => Action::ping(),
        1 => Action::new("Status"),
        2 => Action::command("core show uptime"),
        3 => Action::originate("Local/1@x").async_originate(),
        4 => Action::ping().action_id(if n % 2 == 0 { "mine" } else { "x" }),
        _ => Action::new("SIPpeers"),
    }
}

struct Run {
    conn: Connection,
    now: Instant,
    done: HashMap<ActionHandle, usize>,
    closed: bool,
}

impl Run {
    fn drain(&mut self) -> Result<(), TestCaseError> {
        while self.conn.poll_transmit().is_some() {}
        while let Some(e) = self.conn.poll_event() {
            prop_assert!(!self.closed, "event after Closed: {:?}", e);
            match e {
                Event::Done { handle, .. } => *self.done.entry(handle).or_default() += 1,
                Event::Closed(_) => self.closed = true,
                _ => {}
            }
        }
        Ok(())
    }

    fn timer(&mut self) -> Result<(), TestCaseError> {
        self.conn.handle_timeout(self.now);
        self.drain()?;
        if let Some(next) = self.conn.poll_timeout() {
            prop_assert!(
                next > self.now,
                "poll_timeout {:?} not after handle_timeout at {:?}",
                next,
                self.now
            );
        }
        Ok(())
    }
}

fn run(config: Config, ops: Vec<Op>, eof_tail: Vec<u8>) -> Result<(), TestCaseError> {
    let base = Instant::now();
    let mut r = Run {
        conn: Connection::new(config, base),
        now: base,
        done: HashMap::new(),
        closed: false,
    };
    // Handles that must end with exactly one Done (`true`) or none (`false`).
    let mut sent: Vec<(ActionHandle, bool)> = Vec::new();
    r.conn
        .handle_input(r.now, b"Asterisk Call Manager/11.0.0\r\n");
    r.drain()?;
    for op in ops {
        match op {
            Op::Send(kind, stream, no_reply, timeout) => {
                let mut o = SendOptions::new();
                if stream {
                    o = o.stream_list();
                }
                if no_reply {
                    o = o.no_reply();
                }
                if let Some(t) = timeout {
                    o = o.timeout((t > 0).then(|| Duration::from_millis(u64::from(t))));
                }
                if let Ok(h) = r.conn.send_with(action(kind, sent.len()), o, r.now) {
                    sent.push((h, !no_reply));
                }
                r.drain()?;
            }
            Op::Feed(bytes, chunk) => {
                for c in bytes.chunks(chunk) {
                    r.conn.handle_input(r.now, c);
                    r.drain()?;
                }
            }
            Op::Advance(ms) => {
                r.now += Duration::from_millis(u64::from(ms));
                r.timer()?;
            }
            Op::Cancel(n) => {
                if !sent.is_empty() {
                    let i = n % sent.len();
                    let before = r.done.get(&sent[i].0).copied().unwrap_or(0);
                    if r.conn.cancel(sent[i].0, r.now) {
                        prop_assert_eq!(before, 0, "cancelled an action already done");
                        sent[i].1 = false;
                    }
                    r.drain()?;
                }
            }
            Op::Logoff(no_reply) => {
                let o = if no_reply {
                    SendOptions::new().no_reply()
                } else {
                    SendOptions::new()
                };
                if let Ok(h) = r.conn.send_with(Action::logoff(), o, r.now) {
                    sent.push((h, !no_reply));
                }
                r.drain()?;
            }
        }
        // Whatever is due now has been handled: the timer never points back.
        if let Some(t) = r.conn.poll_timeout() {
            if t <= r.now {
                r.timer()?;
            }
        }
    }
    r.conn.handle_input(r.now, &eof_tail);
    r.drain()?;
    r.conn.handle_eof(r.now);
    r.drain()?;
    prop_assert_eq!(r.conn.state(), State::Closed);
    prop_assert!(r.closed);
    prop_assert_eq!(r.conn.pending_actions(), 0);
    prop_assert_eq!(r.conn.poll_timeout(), None);
    for (h, wants) in &sent {
        let n = r.done.get(h).copied().unwrap_or(0);
        prop_assert_eq!(n, usize::from(*wants), "{:?}", h);
    }
    prop_assert_eq!(r.done.len(), sent.iter().filter(|(_, w)| *w).count());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_action_ends_once_and_timers_move_forward(
        config in config_strategy(),
        ops in proptest::collection::vec(op_strategy(), 0..40),
        tail in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        run(config, ops, tail)?;
    }

    #[test]
    fn raw_bytes_never_break_the_machine(
        config in config_strategy(),
        sends in 0usize..6,
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        chunk in 1usize..50,
    ) {
        let mut ops: Vec<Op> = (0..sends).map(|k| Op::Send(k as u8, false, false, None)).collect();
        ops.push(Op::Feed(bytes, chunk));
        run(config, ops, Vec::new())?;
    }
}
