//! The simulated PBX: channels, calls, queues and the events they raise.
//!
//! A call is a `Local/<exten>@<context>` pair (`;1` runs the originate's
//! application, `;2` the "dialplan"), driven by one task from creation to
//! hangup. Every state change publishes the events Asterisk 22 raises for
//! it, with the header sets of capture 10 (`Newchannel`, `Newexten`,
//! `VarSet`, `LocalBridge`, `DialBegin`, `Newstate`, `DialEnd`,
//! `OriginateResponse`, `BridgeCreate`/`BridgeEnter`/`BridgeLeave`/
//! `BridgeDestroy`, `SoftHangupRequest`, `HangupRequest`, `Hangup`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::classes::{AGENT, CALL, DIALPLAN};
use crate::config::CallOutcome;
use crate::server::Shared;
use crate::wire::{Lines, SimEvent};

/// One simulated channel.
#[derive(Clone, Debug)]
pub(crate) struct Channel {
    pub(crate) name: String,
    pub(crate) uniqueid: String,
    pub(crate) linkedid: String,
    pub(crate) state: u8,
    pub(crate) cid_num: String,
    pub(crate) cid_name: String,
    pub(crate) conn_num: String,
    pub(crate) conn_name: String,
    pub(crate) accountcode: String,
    pub(crate) context: String,
    pub(crate) exten: String,
    pub(crate) priority: u32,
    pub(crate) app: String,
    pub(crate) data: String,
    pub(crate) vars: Vec<(String, String)>,
    pub(crate) bridge: String,
    pub(crate) created: Instant,
    call: u64,
}

impl Channel {
    /// `ast_state2str`.
    pub(crate) fn state_desc(&self) -> &'static str {
        match self.state {
            0 => "Down",
            1 => "Rsrvd",
            2 => "OffHook",
            3 => "Dialing",
            4 => "Ring",
            5 => "Ringing",
            6 => "Up",
            7 => "Busy",
            8 => "Dialing Offhook",
            9 => "Pre-ring",
            _ => "Unknown",
        }
    }

    /// Write the channel snapshot block (`Channel` … `Linkedid`), keys
    /// prefixed (`Dest`, `LocalOne`…).
    pub(crate) fn snapshot(&self, l: &mut Lines, prefix: &str) {
        let unknown = |s: &str| {
            if s.is_empty() {
                "<unknown>".to_owned()
            } else {
                s.to_owned()
            }
        };
        l.hp(prefix, "Channel", &self.name)
            .hp(prefix, "ChannelState", self.state.to_string())
            .hp(prefix, "ChannelStateDesc", self.state_desc())
            .hp(prefix, "CallerIDNum", unknown(&self.cid_num))
            .hp(prefix, "CallerIDName", unknown(&self.cid_name))
            .hp(prefix, "ConnectedLineNum", unknown(&self.conn_num))
            .hp(prefix, "ConnectedLineName", unknown(&self.conn_name))
            .hp(prefix, "Language", "en")
            .hp(prefix, "AccountCode", &self.accountcode)
            .hp(prefix, "Context", &self.context)
            .hp(prefix, "Exten", &self.exten)
            .hp(prefix, "Priority", self.priority.to_string())
            .hp(prefix, "Uniqueid", &self.uniqueid)
            .hp(prefix, "Linkedid", &self.linkedid);
    }

    /// `HH:MM:SS` since creation.
    pub(crate) fn duration(&self) -> String {
        let s = self.created.elapsed().as_secs();
        format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    }
}

/// A call: a Local channel pair (names of `;1` and `;2`).
#[derive(Debug)]
struct Call {
    chans: [String; 2],
    bridge: Option<String>,
    queue: Option<String>,
    /// Dropped when the call is hung up: wakes its task.
    _end: oneshot::Sender<()>,
}

/// A caller waiting in a queue.
#[derive(Clone, Debug)]
pub(crate) struct QueueCaller {
    pub(crate) queue: String,
    pub(crate) channel: String,
    pub(crate) uniqueid: String,
    pub(crate) joined: Instant,
}

/// The PBX state, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Pbx {
    /// Live channels, oldest first.
    pub(crate) channels: Vec<Channel>,
    calls: HashMap<u64, Call>,
    /// Queue callers, in arrival order.
    pub(crate) queue_callers: Vec<QueueCaller>,
    /// Global variables.
    pub(crate) globals: BTreeMap<String, String>,
    /// Calls ever created (`calls processed`).
    pub(crate) processed: u64,
    next_uid: u64,
    next_local: u64,
    next_call: u64,
}

impl Pbx {
    /// A PBX with these globals.
    pub(crate) fn new(globals: BTreeMap<String, String>) -> Pbx {
        Pbx {
            globals,
            ..Pbx::default()
        }
    }

    /// The channel named `name`, case-insensitively like Asterisk.
    pub(crate) fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    fn channel_mut(&mut self, name: &str) -> Option<&mut Channel> {
        self.channels
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Number of calls up (pairs count once).
    pub(crate) fn active_calls(&self) -> usize {
        self.calls.len()
    }
}

/// A parsed `Originate` action.
#[derive(Clone, Debug, Default)]
pub(crate) struct Originate {
    pub(crate) action_id: Option<Bytes>,
    pub(crate) channel: String,
    pub(crate) context: String,
    pub(crate) exten: String,
    pub(crate) priority: u32,
    pub(crate) app: String,
    pub(crate) data: String,
    pub(crate) timeout: Duration,
    pub(crate) cid_num: String,
    pub(crate) cid_name: String,
    pub(crate) account: String,
    pub(crate) vars: Vec<(String, String)>,
    pub(crate) is_async: bool,
}

fn chan_event(name: &str, category: u32, ch: &Channel) -> (Lines, u32) {
    let mut ev = SimEvent::start(name, category);
    ch.snapshot(&mut ev.0, "");
    ev
}

fn cause_txt(cause: u32) -> &'static str {
    match cause {
        16 => "Normal Clearing",
        17 => "User busy",
        19 => "No user responding",
        21 => "Call Rejected",
        _ => "Unknown",
    }
}

impl Shared {
    fn emit(&self, ev: (Lines, u32)) {
        self.publish(SimEvent::finish(ev));
    }

    fn emit_chan(&self, pbx: &Pbx, name: &str, event: &str, category: u32, extra: &[(&str, &str)]) {
        if let Some(ch) = pbx.channel(name) {
            let mut ev = chan_event(event, category, ch);
            for (k, v) in extra {
                ev.0.h(k, v);
            }
            self.emit(ev);
        }
    }

    fn set_state(&self, pbx: &mut Pbx, name: &str, state: u8) {
        if let Some(ch) = pbx.channel_mut(name) {
            ch.state = state;
        }
        self.emit_chan(pbx, name, "Newstate", CALL, &[]);
    }

    fn newexten(&self, pbx: &mut Pbx, name: &str, priority: u32, app: &str, data: &str) {
        if let Some(ch) = pbx.channel_mut(name) {
            ch.priority = priority;
            ch.app = app.to_owned();
            ch.data = data.to_owned();
            let mut ev = chan_event("Newexten", DIALPLAN, ch);
            ev.0.h("Extension", &ch.exten)
                .h("Application", app)
                .h("AppData", data);
            self.emit(ev);
        }
    }

    /// Set a channel variable and raise `VarSet`.
    pub(crate) fn set_channel_var(&self, pbx: &mut Pbx, name: &str, var: &str, value: &str) {
        if let Some(ch) = pbx.channel_mut(name) {
            match ch.vars.iter_mut().find(|(k, _)| k == var) {
                Some(slot) => slot.1 = value.to_owned(),
                None => ch.vars.push((var.to_owned(), value.to_owned())),
            }
        }
        self.emit_chan(
            pbx,
            name,
            "VarSet",
            DIALPLAN,
            &[("Variable", var), ("Value", value)],
        );
    }

    fn dial_event(&self, pbx: &Pbx, dest: &str, event: &str, tail: (&str, &str)) {
        if let Some(ch) = pbx.channel(dest) {
            let mut ev = SimEvent::start(event, CALL);
            ch.snapshot(&mut ev.0, "Dest");
            ev.0.h(tail.0, tail.1);
            self.emit(ev);
        }
    }

    fn bridge_event(&self, event: &str, bridge: &str, members: usize, ch: Option<&Channel>) {
        let mut ev = SimEvent::start(event, CALL);
        ev.0.h("BridgeUniqueid", bridge)
            .h("BridgeType", "basic")
            .h("BridgeTechnology", "simple_bridge")
            .h("BridgeCreator", "<unknown>")
            .h("BridgeName", "<unknown>")
            .h("BridgeNumChannels", members.to_string())
            .h("BridgeVideoSourceMode", "none");
        if let Some(ch) = ch {
            ch.snapshot(&mut ev.0, "");
        }
        self.emit(ev);
    }

    fn new_uniqueid(&self, pbx: &mut Pbx) -> String {
        let n = pbx.next_uid;
        pbx.next_uid += 1;
        format!("{}.{n}", self.clock.start_secs())
    }

    fn bridge_id(&self) -> String {
        let a = self.clock.random();
        let b = self.clock.random();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    /// Hang up the call that `channel` belongs to, raising the bridge-leave
    /// and hangup events; `false` when there is no such channel.
    pub(crate) fn hangup_channel(&self, pbx: &mut Pbx, channel: &str, cause: u32) -> bool {
        let Some(ch) = pbx.channel(channel) else {
            return false;
        };
        let (call, name) = (ch.call, ch.name.clone());
        self.hangup_call(pbx, call, cause, &name);
        true
    }

    fn hangup_call(&self, pbx: &mut Pbx, call_id: u64, cause: u32, initiator: &str) {
        let Some(call) = pbx.calls.remove(&call_id) else {
            return;
        };
        let [one, two] = &call.chans;
        if let Some(bridge) = &call.bridge {
            for (i, name) in [one, two].into_iter().enumerate() {
                if let Some(ch) = pbx.channel(name) {
                    self.bridge_event("BridgeLeave", bridge, 1 - i, Some(ch));
                }
            }
            self.bridge_event("BridgeDestroy", bridge, 0, None);
        }
        if let Some(queue) = &call.queue {
            if let Some(pos) = pbx.queue_callers.iter().position(|q| &q.channel == two) {
                pbx.queue_callers.remove(pos);
                let count = pbx
                    .queue_callers
                    .iter()
                    .filter(|q| &q.queue == queue)
                    .count();
                self.emit_chan(
                    pbx,
                    two,
                    "QueueCallerLeave",
                    AGENT,
                    &[
                        ("Queue", queue),
                        ("Count", &count.to_string()),
                        ("Position", "1"),
                    ],
                );
            }
        }
        let other = if initiator.eq_ignore_ascii_case(one) {
            two
        } else {
            one
        };
        let cause_s = cause.to_string();
        self.emit_chan(
            pbx,
            initiator,
            "SoftHangupRequest",
            CALL,
            &[("Cause", &cause_s)],
        );
        self.emit_chan(pbx, other, "HangupRequest", CALL, &[("Cause", &cause_s)]);
        for name in [two, one] {
            self.emit_chan(
                pbx,
                name,
                "Hangup",
                CALL,
                &[("Cause", &cause_s), ("Cause-txt", cause_txt(cause))],
            );
        }
        pbx.channels.retain(|c| c.call != call_id);
    }

    fn originate_response(
        &self,
        o: &Originate,
        success: bool,
        channel: &str,
        reason: u32,
        uniqueid: &str,
    ) {
        if !o.is_async {
            return;
        }
        let unknown = |s: &str| {
            if s.is_empty() {
                "<unknown>".to_owned()
            } else {
                s.to_owned()
            }
        };
        let mut ev = SimEvent::start("OriginateResponse", CALL);
        let l = &mut ev.0;
        l.h_opt("ActionID", o.action_id.as_deref())
            .h("Response", if success { "Success" } else { "Failure" })
            .h("Channel", channel);
        if o.app.is_empty() {
            l.h("Context", &o.context).h("Exten", &o.exten);
        } else {
            l.h("Application", &o.app).h("Data", &o.data);
        }
        l.h("Reason", reason.to_string())
            .h("Uniqueid", uniqueid)
            .h("CallerIDNum", unknown(&o.cid_num))
            .h("CallerIDName", unknown(&o.cid_name));
        self.emit(ev);
    }
}

/// Where a call is: told to a waiting synchronous `Originate`.
type SyncReply = Option<oneshot::Sender<bool>>;

fn reply(tx: &mut SyncReply, ok: bool) {
    if let Some(tx) = tx.take() {
        let _ = tx.send(ok);
    }
}

/// Run one originated call from creation to hangup.
pub(crate) async fn run_call(shared: Arc<Shared>, o: Originate, mut sync: SyncReply) {
    let (tech, data) = o.channel.split_once('/').unwrap_or((&o.channel, ""));
    if !tech.eq_ignore_ascii_case("Local") || data.is_empty() {
        shared.originate_response(&o, false, &o.channel, 0, "<unknown>");
        return reply(&mut sync, false);
    }
    let (exten, context) = data.split_once('@').unwrap_or((data, "default"));
    let context = context.split('/').next().unwrap_or(context);
    let outcome = shared
        .cfg
        .call_outcomes
        .get(exten)
        .unwrap_or(&shared.cfg.default_outcome)
        .clone();
    let (end_tx, mut end_rx) = oneshot::channel();
    let (one, two, call_id, uid_one) = {
        let mut pbx = shared.pbx.lock().expect("pbx");
        let call_id = pbx.next_call;
        pbx.next_call += 1;
        pbx.processed += 1;
        let local = pbx.next_local;
        pbx.next_local += 1;
        let base = format!("Local/{exten}@{context}-{local:08x}");
        let uid1 = shared.new_uniqueid(&mut pbx);
        let uid2 = shared.new_uniqueid(&mut pbx);
        let mk = |suffix: &str, uid: &str, state: u8| Channel {
            name: format!("{base};{suffix}"),
            uniqueid: uid.to_owned(),
            linkedid: uid1.clone(),
            state,
            cid_num: String::new(),
            cid_name: String::new(),
            conn_num: String::new(),
            conn_name: String::new(),
            accountcode: o.account.clone(),
            context: context.to_owned(),
            exten: exten.to_owned(),
            priority: 1,
            app: String::new(),
            data: String::new(),
            vars: Vec::new(),
            bridge: String::new(),
            created: Instant::now(),
            call: call_id,
        };
        let (c1, c2) = (mk("1", &uid1, 0), mk("2", &uid2, 4));
        let (one, two) = (c1.name.clone(), c2.name.clone());
        pbx.channels.push(c1);
        pbx.channels.push(c2);
        pbx.calls.insert(
            call_id,
            Call {
                chans: [one.clone(), two.clone()],
                bridge: None,
                queue: None,
                _end: end_tx,
            },
        );
        shared.emit_chan(&pbx, &one, "Newchannel", CALL, &[]);
        shared.emit_chan(&pbx, &two, "Newchannel", CALL, &[]);
        shared.newexten(&mut pbx, &one, 1, "AppDial2", "(Outgoing Line)");
        if outcome == CallOutcome::NoSuchExtension {
            for name in [&two, &one] {
                shared.emit_chan(
                    &pbx,
                    name,
                    "Hangup",
                    CALL,
                    &[("Cause", "0"), ("Cause-txt", "Unknown")],
                );
            }
            pbx.channels.retain(|c| c.call != call_id);
            pbx.calls.remove(&call_id);
            shared.originate_response(&o, false, &o.channel, 0, "<unknown>");
            drop(pbx);
            return reply(&mut sync, false);
        }
        for (k, v) in o.vars.iter().rev() {
            shared.set_channel_var(&mut pbx, &one, k, v);
        }
        for (k, v) in &o.vars {
            shared.set_channel_var(&mut pbx, &two, k, v);
        }
        if !o.cid_num.is_empty() || !o.cid_name.is_empty() {
            for name in [&one, &two] {
                if let Some(ch) = pbx.channel_mut(name) {
                    ch.cid_num = o.cid_num.clone();
                    ch.cid_name = o.cid_name.clone();
                }
                shared.emit_chan(
                    &pbx,
                    name,
                    "NewCallerid",
                    CALL,
                    &[("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
                );
                if let Some(ch) = pbx.channel_mut(name) {
                    ch.conn_num = o.cid_num.clone();
                    ch.conn_name = o.cid_name.clone();
                }
                shared.emit_chan(&pbx, name, "NewConnectedLine", CALL, &[]);
            }
        }
        if let (Some(a), Some(b)) = (pbx.channel(&one), pbx.channel(&two)) {
            let mut ev = SimEvent::start("LocalBridge", CALL);
            a.snapshot(&mut ev.0, "LocalOne");
            b.snapshot(&mut ev.0, "LocalTwo");
            ev.0.h("Context", context)
                .h("Exten", exten)
                .h("LocalOptimization", "Yes");
            shared.emit(ev);
        }
        shared.dial_event(
            &pbx,
            &one,
            "DialBegin",
            ("DialString", &format!("{exten}@{context}")),
        );
        (one, two, call_id, uid1)
    };

    let ring = if outcome == CallOutcome::NoAnswer {
        o.timeout
    } else {
        shared.cfg.ring_time
    };
    if outcome == CallOutcome::NoAnswer {
        let mut pbx = shared.pbx.lock().expect("pbx");
        shared.set_state(&mut pbx, &two, 5);
    }
    tokio::select! {
        _ = tokio::time::sleep(ring) => {}
        _ = &mut end_rx => {
            shared.originate_response(&o, false, &o.channel, 1, "<unknown>");
            return reply(&mut sync, false);
        }
    }

    let duration = {
        let mut pbx = shared.pbx.lock().expect("pbx");
        match &outcome {
            CallOutcome::Busy | CallOutcome::NoAnswer => {
                let (reason, status, cause) = if outcome == CallOutcome::Busy {
                    shared.newexten(&mut pbx, &two, 1, "Busy", "5");
                    shared.set_state(&mut pbx, &two, 7);
                    (5, "BUSY", 17)
                } else {
                    (3, "NOANSWER", 16)
                };
                if outcome == CallOutcome::Busy {
                    shared.originate_response(&o, false, &o.channel, reason, "<unknown>");
                }
                shared.dial_event(&pbx, &one, "DialEnd", ("DialStatus", status));
                shared.emit_chan(&pbx, &two, "HangupRequest", CALL, &[("Cause", "0")]);
                if outcome == CallOutcome::NoAnswer {
                    shared.originate_response(&o, false, &o.channel, reason, "<unknown>");
                }
                shared.emit_chan(&pbx, &two, "SoftHangupRequest", CALL, &[("Cause", "16")]);
                let c = cause.to_string();
                shared.emit_chan(
                    &pbx,
                    &two,
                    "Hangup",
                    CALL,
                    &[("Cause", &c), ("Cause-txt", cause_txt(cause))],
                );
                shared.emit_chan(
                    &pbx,
                    &one,
                    "Hangup",
                    CALL,
                    &[("Cause", "0"), ("Cause-txt", "Unknown")],
                );
                pbx.channels.retain(|c| c.call != call_id);
                pbx.calls.remove(&call_id);
                drop(pbx);
                return reply(&mut sync, false);
            }
            CallOutcome::Answer | CallOutcome::Queue(_) | CallOutcome::NoSuchExtension => {
                shared.newexten(&mut pbx, &two, 1, "Answer", "");
                shared.set_state(&mut pbx, &two, 6);
                shared.set_state(&mut pbx, &one, 6);
                shared.dial_event(&pbx, &one, "DialEnd", ("DialStatus", "ANSWER"));
                shared.originate_response(&o, true, &one, 4, &uid_one);
                if o.app.is_empty() {
                    if let Some(ch) = pbx.channel_mut(&one) {
                        ch.context = o.context.clone();
                        ch.exten = o.exten.clone();
                    }
                    shared.newexten(&mut pbx, &one, o.priority.max(1), "Answer", "");
                } else {
                    shared.newexten(&mut pbx, &one, 1, &o.app, &o.data);
                }
                if let CallOutcome::Queue(queue) = &outcome {
                    shared.newexten(&mut pbx, &two, 2, "Queue", &format!("{queue},,,,60"));
                    let count = 1 + pbx
                        .queue_callers
                        .iter()
                        .filter(|q| &q.queue == queue)
                        .count();
                    let uniqueid = pbx
                        .channel(&two)
                        .map(|c| c.uniqueid.clone())
                        .unwrap_or_default();
                    pbx.queue_callers.push(QueueCaller {
                        queue: queue.clone(),
                        channel: two.clone(),
                        uniqueid,
                        joined: Instant::now(),
                    });
                    if let Some(call) = pbx.calls.get_mut(&call_id) {
                        call.queue = Some(queue.clone());
                    }
                    let c = count.to_string();
                    shared.emit_chan(
                        &pbx,
                        &two,
                        "QueueCallerJoin",
                        AGENT,
                        &[("Queue", queue), ("Position", &c), ("Count", &c)],
                    );
                } else {
                    shared.newexten(&mut pbx, &two, 2, "Echo", "");
                    let bridge = shared.bridge_id();
                    shared.bridge_event("BridgeCreate", &bridge, 0, None);
                    for (i, name) in [&one, &two].into_iter().enumerate() {
                        if let Some(ch) = pbx.channel_mut(name) {
                            ch.bridge = bridge.clone();
                        }
                        if let Some(ch) = pbx.channel(name) {
                            shared.bridge_event("BridgeEnter", &bridge, i + 1, Some(ch));
                        }
                    }
                    if let Some(call) = pbx.calls.get_mut(&call_id) {
                        call.bridge = Some(bridge);
                    }
                }
                match o
                    .app
                    .eq_ignore_ascii_case("Wait")
                    .then(|| o.data.trim().parse::<f64>())
                {
                    Some(Ok(secs)) if secs >= 0.0 => Duration::from_secs_f64(secs),
                    _ => shared.cfg.call_duration,
                }
            }
        }
    };
    reply(&mut sync, true);
    tokio::select! {
        _ = tokio::time::sleep(duration) => {
            let mut pbx = shared.pbx.lock().expect("pbx");
            shared.hangup_call(&mut pbx, call_id, 16, &one);
        }
        _ = &mut end_rx => {}
    }
}
