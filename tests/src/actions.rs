//! What a session does with each action, in Asterisk 22's words.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use md5::{Digest, Md5};

use crate::classes::{self, CALL, COMMAND, ORIGINATE, REPORTING, SECURITY, SYSTEM, USER};
use crate::config::{SimConfig, User};
use crate::filter::Filter;
use crate::input::{Parse, Request};
use crate::lists;
use crate::pbx::{self, Channel, Originate};
use crate::server::{lock, Link, Shared};
use crate::wire::{Lines, SimEvent};

/// One client session's protocol state.
pub(crate) struct Session {
    shared: Arc<Shared>,
    link: Arc<Link>,
    peer: SocketAddr,
    user: Option<User>,
    challenge: Option<String>,
    write_perm: u32,
}

/// `Response: <status>` and `ActionID:` when the request had one.
fn resp(status: &str, req: &Request) -> Lines {
    let mut l = Lines::new();
    l.h("Response", status).h_opt("ActionID", req.action_id());
    l
}

fn ok_msg(req: &Request, msg: &str) -> Bytes {
    let mut l = resp("Success", req);
    l.h("Message", msg);
    l.end()
}

fn err_msg(req: &Request, msg: &str) -> Bytes {
    let mut l = resp("Error", req);
    l.h("Message", msg);
    l.end()
}

/// The actions simulated: name as `ListCommands` spells it, its synopsis
/// and the write classes it needs (0: none), in Asterisk's order.
const ACTIONS: &[(&str, &str, u32)] = &[
    ("Challenge", "Generate Challenge for MD5 Auth.", 0),
    ("Command", "Execute Asterisk CLI Command.", COMMAND),
    (
        "CoreSettings",
        "Show PBX core settings (version etc).",
        SYSTEM | REPORTING,
    ),
    (
        "CoreShowChannels",
        "List currently active channels.",
        SYSTEM | REPORTING,
    ),
    (
        "CoreStatus",
        "Show PBX core status variables.",
        SYSTEM | REPORTING,
    ),
    ("Events", "Control Event Flow.", 0),
    (
        "Filter",
        "Dynamically add filters for the current manager session.",
        SYSTEM,
    ),
    (
        "Getvar",
        "Gets a channel variable or function value.",
        CALL | REPORTING,
    ),
    ("Hangup", "Hangup channel.", SYSTEM | CALL),
    ("ListCommands", "List available manager commands.", 0),
    ("Login", "Login Manager.", 0),
    ("Logoff", "Logoff Manager.", 0),
    ("Originate", "Originate a call.", ORIGINATE),
    ("Parkinglots", "Get a list of parking lots", CALL),
    ("Ping", "Keepalive command.", 0),
    ("QueueRule", "Queue Rules.", 0),
    ("Queues", "Queues.", 0),
    ("QueueStatus", "Show queue status.", 0),
    ("QueueSummary", "Show queue summary.", 0),
    ("Setvar", "Sets a channel variable or function value.", CALL),
    ("Status", "List channel status.", SYSTEM | CALL | REPORTING),
    ("UserEvent", "Send an arbitrary event.", USER),
];

/// Whether a server configured as `cfg` has `action` (`Queues` went away
/// in Asterisk 15).
fn exists(cfg: &SimConfig, action: &str) -> bool {
    !action.eq_ignore_ascii_case("Queues") || cfg.has_queues_action()
}

/// The write classes `action` (any case) needs, if it is simulated
/// (`Parkinglots` needs none before Asterisk 12).
fn authority(cfg: &SimConfig, action: &str) -> Option<u32> {
    ACTIONS
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(action) && exists(cfg, name))
        .map(|(name, _, a)| match *name {
            "Parkinglots" if cfg.asterisk11_lists() => 0,
            _ => *a,
        })
}

fn unknown(s: &str) -> String {
    if s.is_empty() {
        "<unknown>".to_owned()
    } else {
        s.to_owned()
    }
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, link: Arc<Link>, peer: SocketAddr) -> Session {
        Session {
            shared,
            link,
            peer,
            user: None,
            challenge: None,
            write_perm: 0,
        }
    }

    /// Logged in.
    pub(crate) fn authed(&self) -> bool {
        self.user.is_some()
    }

    fn send(&self, b: Bytes) {
        self.link.send(b);
    }

    fn legacy(&self) -> bool {
        self.shared.cfg.follows_command()
    }

    /// Answer one message; `Break` closes the connection.
    pub(crate) async fn handle(&mut self, req: Request) -> ControlFlow<()> {
        match req.parse {
            Parse::LineTooLong => {
                self.send(err_msg(&req, "Failed to parse message: line too long"));
                return ControlFlow::Continue(());
            }
            Parse::TooManyLines => {
                self.send(err_msg(
                    &req,
                    "Too many lines in message or allocation failure",
                ));
                return ControlFlow::Continue(());
            }
            Parse::Ok => {}
        }
        let action = req.get_str("Action").to_ascii_lowercase();
        if action.is_empty() {
            self.send(err_msg(&req, "Missing action in request"));
            return ControlFlow::Continue(());
        }
        if !self.authed() && !matches!(action.as_str(), "login" | "challenge" | "logoff") {
            self.send(err_msg(&req, "Permission denied"));
            return ControlFlow::Continue(());
        }
        let Some(needed) = authority(&self.shared.cfg, &action) else {
            let msg = format!(
                "Invalid/unknown command: {}. Use Action: ListCommands to show available commands.",
                req.get_str("Action")
            );
            self.send(err_msg(&req, &msg));
            return ControlFlow::Continue(());
        };
        if needed != 0 && self.write_perm & needed == 0 {
            self.send(err_msg(&req, "Permission denied"));
            return ControlFlow::Continue(());
        }
        match action.as_str() {
            "login" => return self.login(&req).await,
            "logoff" => {
                let mut l = resp("Goodbye", &req);
                l.h("Message", "Thanks for all the fish.");
                self.send(l.end());
                return ControlFlow::Break(());
            }
            "challenge" => self.challenge(&req),
            "ping" => {
                let mut l = resp("Success", &req);
                l.h("Ping", "Pong")
                    .h("Timestamp", self.shared.clock.timestamp());
                self.send(l.end());
            }
            "events" => self.events(&req),
            "filter" => self.filter(&req),
            "command" => self.command(&req),
            "getvar" => self.getvar(&req),
            "setvar" => self.setvar(&req),
            "userevent" => self.userevent(&req),
            "coresettings" => self.coresettings(&req),
            "corestatus" => self.corestatus(&req),
            "originate" => self.originate(&req).await,
            "coreshowchannels" => self.coreshowchannels(&req),
            "status" => self.status(&req),
            "hangup" => self.hangup(&req),
            "queuestatus" => self.queuestatus(&req),
            "queuesummary" => self.queuesummary(&req),
            "queuerule" => self.queuerule(&req),
            "parkinglots" => {
                for b in lists::parking_lots(&self.shared.cfg, &req) {
                    self.send(b);
                }
            }
            "queues" => {
                let callers = lock(&self.shared.pbx).queue_callers.clone();
                self.send(lists::queues_text(&self.shared.cfg.queues, &callers));
            }
            "listcommands" => {
                let cfg = &self.shared.cfg;
                let mut l = resp("Success", &req);
                for (name, synopsis, _) in ACTIONS.iter().filter(|a| exists(cfg, a.0)) {
                    let auth = authority(cfg, name).unwrap_or(0);
                    l.h(
                        name,
                        format!("{synopsis}  (Priv: {})", classes::to_str(auth)),
                    );
                }
                self.send(l.end());
            }
            _ => unreachable!("every action with an authority is handled"),
        }
        ControlFlow::Continue(())
    }

    async fn login(&mut self, req: &Request) -> ControlFlow<()> {
        if self.authed() {
            self.send(ok_msg(req, "Already authenticated"));
            return ControlFlow::Continue(());
        }
        let name = req.get_str("Username");
        let user = self
            .shared
            .cfg
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(&name))
            .cloned();
        let ok = user.as_ref().is_some_and(|u| {
            if req.get_str("AuthType").eq_ignore_ascii_case("md5") {
                match &self.challenge {
                    Some(ch) => {
                        let mut h = Md5::new();
                        h.update(ch.as_bytes());
                        h.update(u.secret.as_bytes());
                        let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
                        key.eq_ignore_ascii_case(&req.get_str("Key"))
                    }
                    None => false,
                }
            } else {
                !u.secret.is_empty() && req.get("Secret") == u.secret.as_bytes()
            }
        });
        let Some(user) = user.filter(|_| ok) else {
            tokio::time::sleep(self.shared.cfg.auth_failure_delay).await;
            self.send(err_msg(req, "Authentication failed"));
            return ControlFlow::Break(());
        };
        let read_perm = classes::parse_perm(&user.read);
        self.write_perm = classes::parse_perm(&user.write);
        let mask = classes::event_mask(&req.get_str("Events")).unwrap_or(classes::ALL);
        self.send(ok_msg(req, "Authentication accepted"));
        {
            let mut st = lock(&self.link.st);
            st.authed = true;
            st.read_perm = read_perm;
            st.event_mask = mask;
        }
        // FullyBooted goes to this session only; SuccessfulAuth is a
        // security event every allowed session sees.
        let up = self.shared.clock.uptime().as_secs().to_string();
        let (mut l, cat) = SimEvent::start("FullyBooted", SYSTEM);
        if !self.shared.cfg.asterisk11_lists() {
            // Asterisk 11 writes only the status.
            l.h("Uptime", &up).h("LastReload", &up);
        }
        l.h("Status", "Fully Booted");
        let fb = SimEvent::finish((l, cat));
        if lock(&self.link.st).wants(fb.category, &fb.packet) {
            self.send(fb.packet.raw().clone());
        }
        let tv = self.shared.clock.event_tv();
        let local = *lock(&self.shared.local);
        let (mut l, cat) = SimEvent::start("SuccessfulAuth", SECURITY);
        l.h("EventTV", &tv)
            .h("Severity", "Informational")
            .h("Service", "AMI")
            .h("EventVersion", "1")
            .h("AccountID", &user.username)
            .h(
                "SessionID",
                format!("0x7fad{:08x}", 0x2c00_11a0 + self.link.id * 0x60),
            )
            .h(
                "LocalAddress",
                format!("IPV4/TCP/{}/{}", local.ip(), local.port()),
            )
            .h(
                "RemoteAddress",
                format!("IPV4/TCP/{}/{}", self.peer.ip(), self.peer.port()),
            )
            .h("UsingPassword", "0")
            .h("SessionTV", &tv);
        self.user = Some(user);
        self.shared.publish(SimEvent::finish((l, cat)));
        ControlFlow::Continue(())
    }

    fn challenge(&mut self, req: &Request) {
        if !req.get_str("AuthType").eq_ignore_ascii_case("md5") {
            self.send(err_msg(req, "Must specify AuthType"));
            return;
        }
        let ch = self
            .challenge
            .get_or_insert_with(|| (self.shared.clock.random() % 1_000_000_000).to_string())
            .clone();
        let mut l = resp("Success", req);
        l.h("Challenge", ch);
        self.send(l.end());
    }

    fn events(&mut self, req: &Request) {
        let Some(mask) = classes::event_mask(&req.get_str("EventMask")) else {
            self.send(err_msg(req, "Invalid event mask"));
            return;
        };
        lock(&self.link.st).event_mask = mask;
        let mut l = resp("Success", req);
        l.h("Events", if mask != 0 { "On" } else { "Off" });
        self.send(l.end());
    }

    fn filter(&mut self, req: &Request) {
        if !req.get_str("Operation").eq_ignore_ascii_case("add") {
            self.send(err_msg(req, "Unknown operation"));
            return;
        }
        match Filter::parse(&req.get_str("MatchCriteria"), &req.get_str("Filter")) {
            Ok(f) => {
                lock(&self.link.st).filters.push(f);
                self.send(ok_msg(req, "Success"));
            }
            Err(e) => self.send(err_msg(req, e.message())),
        }
    }

    fn command(&mut self, req: &Request) {
        let cmd = req.get_str("Command");
        if cmd.is_empty() {
            self.send(err_msg(req, "No command provided"));
            return;
        }
        let key = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
        let (ok, text) = match self.shared.cfg.commands.get(&key) {
            Some(t) => (true, t.clone()),
            None if key == "core show channels" || key == "core show calls" => {
                (true, self.show_channels(key.ends_with("calls")))
            }
            None => {
                let words: Vec<&str> = key.split(' ').collect();
                let hint = words[..words.len().div_ceil(2)].join(" ");
                (
                    false,
                    format!(
                        "No such command '{cmd}' (type 'core show help {hint}' for other possible commands)\n"
                    ),
                )
            }
        };
        if self.legacy() {
            let mut l = Lines::new();
            l.h("Response", "Follows")
                .h("Privilege", "Command")
                .h_opt("ActionID", req.action_id());
            let mut body = text.replace("--END COMMAND--", "--END COMMAND -");
            if !body.is_empty() && !body.ends_with('\n') {
                body.push('\n');
            }
            l.raw(body.as_bytes()).line(b"--END COMMAND--");
            self.send(l.end());
            return;
        }
        let mut l = resp(if ok { "Success" } else { "Error" }, req);
        l.h("Message", "Command output follows");
        for line in text.strip_suffix('\n').unwrap_or(&text).split('\n') {
            l.h("Output", line.strip_suffix('\r').unwrap_or(line));
        }
        self.send(l.end());
    }

    fn show_channels(&self, calls_only: bool) -> String {
        let pbx = lock(&self.shared.pbx);
        let w = if self.legacy() { 20 } else { 64 };
        let lw = if self.legacy() { 20 } else { 32 };
        let mut out = String::new();
        if !calls_only {
            out.push_str(&format!(
                "{:<w$.w$} {:<lw$.lw$} {:<7.7} {:<30.30}\n",
                "Channel", "Location", "State", "Application(Data)"
            ));
            for c in &pbx.channels {
                out.push_str(&format!(
                    "{:<w$.w$} {:<lw$.lw$} {:<7.7} {:<30.30}\n",
                    c.name,
                    format!("{}@{}:{}", c.exten, c.context, c.priority),
                    c.state_desc(),
                    format!("{}({})", c.app, c.data)
                ));
            }
            let n = pbx.channels.len();
            out.push_str(&format!(
                "{n} active channel{}\n",
                if n == 1 { "" } else { "s" }
            ));
        }
        let calls = pbx.active_calls();
        out.push_str(&format!(
            "{calls} active call{}\n",
            if calls == 1 { "" } else { "s" }
        ));
        let p = pbx.processed;
        out.push_str(&format!(
            "{p} call{} processed\n",
            if p == 1 { "" } else { "s" }
        ));
        out
    }

    fn getvar(&mut self, req: &Request) {
        let var = req.get_str("Variable");
        if var.is_empty() {
            self.send(err_msg(req, "No variable specified"));
            return;
        }
        let chan = req.get_str("Channel");
        let value = {
            let pbx = lock(&self.shared.pbx);
            if chan.is_empty() {
                pbx.globals.get(&var).cloned().unwrap_or_default()
            } else {
                match pbx.channel(&chan) {
                    Some(c) => channel_var(c, &var),
                    None => {
                        drop(pbx);
                        self.send(err_msg(req, "No such channel"));
                        return;
                    }
                }
            }
        };
        let mut value = value.into_bytes();
        value.truncate(1023);
        let mut l = resp("Success", req);
        l.h("Variable", &var).h("Value", value);
        self.send(l.end());
    }

    fn setvar(&mut self, req: &Request) {
        let var = req.get_str("Variable");
        if var.is_empty() {
            self.send(err_msg(req, "No variable specified"));
            return;
        }
        let value = req.get_str("Value");
        let chan = req.get_str("Channel");
        {
            let mut pbx = lock(&self.shared.pbx);
            if chan.is_empty() {
                pbx.globals.insert(var, value);
            } else if pbx.channel(&chan).is_some() {
                self.shared.set_channel_var(&mut pbx, &chan, &var, &value);
            } else {
                drop(pbx);
                self.send(err_msg(req, "No such channel"));
                return;
            }
        }
        self.send(ok_msg(req, "Variable Set"));
    }

    fn userevent(&mut self, req: &Request) {
        self.send(ok_msg(req, "Event Sent"));
        let (mut l, cat) = SimEvent::start("UserEvent", USER);
        l.h("UserEvent", req.get("UserEvent"));
        for line in req.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with(b"action:") || lower.starts_with(b"userevent:") {
                continue;
            }
            l.line(line);
        }
        self.shared.publish(SimEvent::finish((l, cat)));
    }

    fn coresettings(&mut self, req: &Request) {
        let c = &self.shared.cfg;
        let mut l = resp("Success", req);
        l.h("AMIversion", &c.ami_version)
            .h("AsteriskVersion", &c.asterisk_version)
            .h("SystemName", &c.system_name)
            .h("CoreMaxCalls", "0")
            .h("CoreMaxLoadAvg", "0.000000")
            .h("CoreRunUser", "")
            .h("CoreRunGroup", "")
            .h("CoreMaxFilehandles", "0")
            .h("CoreRealTimeEnabled", "No")
            .h("CoreCDRenabled", "No")
            .h("CoreHTTPenabled", "No")
            .h("SoundsSearchCustomDir", "No");
        self.send(l.end());
    }

    fn corestatus(&mut self, req: &Request) {
        let (date, time) = self.shared.clock.start_date_time();
        let (calls, processed) = {
            let pbx = lock(&self.shared.pbx);
            (pbx.active_calls(), pbx.processed)
        };
        let mut l = resp("Success", req);
        l.h("CoreStartupDate", &date)
            .h("CoreStartupTime", &time)
            .h("CoreReloadDate", &date)
            .h("CoreReloadTime", &time)
            .h("CoreCurrentCalls", calls.to_string())
            .h("CoreProcessedCalls", processed.to_string());
        self.send(l.end());
    }

    async fn originate(&mut self, req: &Request) {
        let channel = req.get_str("Channel");
        if channel.is_empty() {
            self.send(err_msg(req, "Channel not specified"));
            return;
        }
        let prio = req.get_str("Priority");
        let priority = if prio.is_empty() {
            1
        } else {
            match prio.trim().parse::<u32>() {
                Ok(p) => p,
                Err(_) => {
                    self.send(err_msg(req, "Invalid priority"));
                    return;
                }
            }
        };
        let timeout = req
            .get_str("Timeout")
            .trim()
            .parse::<u64>()
            .map_or(Duration::from_secs(30), Duration::from_millis);
        let (cid_name, cid_num) = parse_callerid(&req.get_str("CallerID"));
        let mut vars = Vec::new();
        for v in req.get_all("Variable") {
            // As Asterisk reads them (a `\` as the last byte, where
            // Asterisk reads past the string, sets nothing here).
            for (k, val) in crate::app_args::variables_from_header(v).unwrap_or_default() {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                vars.push((text(&k), text(&val)));
            }
        }
        let o = Originate {
            action_id: req.action_id().map(Bytes::copy_from_slice),
            channel: channel.clone(),
            context: req.get_str("Context"),
            exten: req.get_str("Exten"),
            priority,
            app: req.get_str("Application"),
            data: req.get_str("Data"),
            timeout,
            cid_num,
            cid_name,
            account: req.get_str("Account"),
            vars,
            is_async: classes::is_true(&req.get_str("Async")),
        };
        let sh = self.shared.clone();
        if o.is_async {
            self.send(ok_msg(req, "Originate successfully queued"));
            sh.spawn_call(pbx::run_call(sh.clone(), o, None));
            return;
        }
        if self.will_answer(&channel) {
            self.send(ok_msg(req, "Originate successfully queued"));
            sh.spawn_call(pbx::run_call(sh.clone(), o, None));
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        sh.spawn_call(pbx::run_call(sh.clone(), o, Some(tx)));
        if rx.await.unwrap_or(false) {
            self.send(ok_msg(req, "Originate successfully queued"));
        } else {
            self.send(err_msg(req, "Originate failed"));
        }
    }

    /// Whether a call to `channel` is answered (so a sync originate can
    /// answer before the call's events, as Asterisk does).
    fn will_answer(&self, channel: &str) -> bool {
        let Some((tech, data)) = channel.split_once('/') else {
            return false;
        };
        if !tech.eq_ignore_ascii_case("Local") || data.is_empty() {
            return false;
        }
        let exten = data.split_once('@').map_or(data, |(e, _)| e);
        matches!(
            self.shared
                .cfg
                .call_outcomes
                .get(exten)
                .unwrap_or(&self.shared.cfg.default_outcome),
            crate::config::CallOutcome::Answer | crate::config::CallOutcome::Queue(_)
        )
    }

    fn list_start(&self, req: &Request, msg: &str) {
        let mut l = resp("Success", req);
        l.h("EventList", "start").h("Message", msg);
        self.send(l.end());
    }

    fn list_end(&self, req: &Request, event: &str, n: usize, extra: &[(&str, String)]) {
        let mut l = Lines::new();
        l.h("Event", event)
            .h_opt("ActionID", req.action_id())
            .h("EventList", "Complete")
            .h("ListItems", n.to_string());
        for (k, v) in extra {
            l.h(k, v);
        }
        self.send(l.end());
    }

    fn coreshowchannels(&mut self, req: &Request) {
        self.list_start(req, "Channels will follow");
        let chans = lock(&self.shared.pbx).channels.clone();
        for c in &chans {
            let mut l = Lines::new();
            l.h("Event", "CoreShowChannel")
                .h_opt("ActionID", req.action_id());
            c.snapshot(&mut l, "");
            l.h("Application", &c.app)
                .h("ApplicationData", &c.data)
                .h("Duration", c.duration())
                .h("BridgeId", &c.bridge);
            self.send(l.end());
        }
        self.list_end(req, "CoreShowChannelsComplete", chans.len(), &[]);
    }

    fn status(&mut self, req: &Request) {
        let name = req.get_str("Channel");
        let chans: Vec<Channel> = {
            let pbx = lock(&self.shared.pbx);
            if name.is_empty() {
                pbx.channels.clone()
            } else {
                match pbx.channel(&name) {
                    Some(c) => vec![c.clone()],
                    None => {
                        drop(pbx);
                        self.send(err_msg(req, "No such channel"));
                        return;
                    }
                }
            }
        };
        let all_vars = classes::is_true(&req.get_str("AllVariables"));
        let wanted: Vec<String> = req
            .get_str("Variables")
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if self.shared.cfg.asterisk11_lists() {
            self.send(lists::start(
                &self.shared.cfg,
                req,
                "Channel status will follow",
            ));
            for c in &chans {
                self.send(lists::status_item_11(c, &wanted, req));
            }
            self.send(lists::status_end_11(req, chans.len()));
            return;
        }
        self.list_start(req, "Channel status will follow");
        for c in &chans {
            let mut l = Lines::new();
            l.h("Event", "Status").h("Privilege", "Call");
            c.snapshot(&mut l, "");
            l.h("Type", "Local")
                .h("DNID", "")
                .h("EffectiveConnectedLineNum", unknown(&c.conn_num))
                .h("EffectiveConnectedLineName", unknown(&c.conn_name))
                .h("TimeToHangup", "0")
                .h("BridgeID", &c.bridge)
                .h("Application", &c.app)
                .h("Data", &c.data)
                .h("Nativeformats", "(slin)")
                .h("Readformat", "slin")
                .h("Readtrans", "")
                .h("Writeformat", "slin")
                .h("Writetrans", "")
                .h("Callgroup", "0")
                .h("Pickupgroup", "0")
                .h("Seconds", c.created.elapsed().as_secs().to_string());
            for (k, v) in &c.vars {
                if all_vars || wanted.iter().any(|w| w == k) {
                    l.h("Variable", format!("{k}={v}"));
                }
            }
            l.h_opt("ActionID", req.action_id());
            self.send(l.end());
        }
        let n = chans.len();
        self.list_end(req, "StatusComplete", n, &[("Items", n.to_string())]);
    }

    fn hangup(&mut self, req: &Request) {
        let name = req.get_str("Channel");
        if name.is_empty() {
            self.send(err_msg(req, "No channel specified"));
            return;
        }
        let cause = req.get_str("Cause").trim().parse::<u32>().unwrap_or(16);
        if name.len() > 1 && name.starts_with('/') && name.ends_with('/') {
            let Ok(re) = regex_lite::Regex::new(&name[1..name.len() - 1]) else {
                self.send(err_msg(req, "Invalid regex"));
                return;
            };
            self.list_start(req, "Channels hung up will follow");
            let mut pbx = lock(&self.shared.pbx);
            let names: Vec<String> = pbx
                .channels
                .iter()
                .filter(|c| re.is_match(&c.name))
                .map(|c| c.name.clone())
                .collect();
            for n in &names {
                let mut l = Lines::new();
                l.h("Event", "ChannelHungup")
                    .h("Channel", n)
                    .h_opt("ActionID", req.action_id());
                self.send(l.end());
            }
            for n in &names {
                self.shared.hangup_channel(&mut pbx, n, cause);
            }
            drop(pbx);
            self.list_end(req, "ChannelsHungupListComplete", names.len(), &[]);
            return;
        }
        let mut pbx = lock(&self.shared.pbx);
        if self.shared.hangup_channel(&mut pbx, &name, cause) {
            drop(pbx);
            self.send(ok_msg(req, "Channel Hungup"));
        } else {
            drop(pbx);
            self.send(err_msg(req, "No such channel"));
        }
    }

    /// `QueueRule`: one message with `RuleList:` and repeated `Rule:`,
    /// followed (as Asterisk 22 does) by an extra blank line.
    fn queuerule(&mut self, req: &Request) {
        let only = req.get_str("Rule");
        let mut l = resp("Success", req);
        for (name, rules) in &self.shared.cfg.queue_rules {
            if only.is_empty() || only.eq_ignore_ascii_case(name) {
                l.h("RuleList", name);
                for r in rules {
                    l.h("Rule", r);
                }
            }
        }
        let mut out = l.end_mut();
        out.extend_from_slice(b"\r\n");
        self.send(out.freeze());
    }

    fn queuesummary(&mut self, req: &Request) {
        let cfg = &self.shared.cfg;
        let only = req.get_str("Queue");
        let callers = lock(&self.shared.pbx).queue_callers.clone();
        let mut out = vec![lists::start(cfg, req, "Queue summary will follow")];
        for q in cfg
            .queues
            .iter()
            .filter(|q| only.is_empty() || q.name.eq_ignore_ascii_case(&only))
        {
            let waiting: Vec<_> = callers.iter().filter(|c| c.queue == q.name).collect();
            out.push(lists::queue_summary_item(q, &waiting, req));
        }
        let n = out.len() - 1;
        out.push(lists::end(cfg, req, "QueueSummaryComplete", n));
        for b in out {
            self.send(b);
        }
    }

    fn queuestatus(&mut self, req: &Request) {
        let only = req.get_str("Queue");
        let callers = lock(&self.shared.pbx).queue_callers.clone();
        if self.shared.cfg.asterisk11_lists() {
            let cfg = &self.shared.cfg;
            let mut out = vec![lists::start(cfg, req, "Queue status will follow")];
            for q in cfg
                .queues
                .iter()
                .filter(|q| only.is_empty() || q.name.eq_ignore_ascii_case(&only))
            {
                let waiting: Vec<_> = callers.iter().filter(|c| c.queue == q.name).collect();
                out.extend(lists::queue_status_11(q, &waiting, req));
            }
            out.push(lists::end(cfg, req, "QueueStatusComplete", 0));
            for b in out {
                self.send(b);
            }
            return;
        }
        self.list_start(req, "Queue status will follow");
        let login = self.shared.clock.start_secs().saturating_sub(2).to_string();
        let mut n = 0;
        for q in self
            .shared
            .cfg
            .queues
            .iter()
            .filter(|q| only.is_empty() || q.name == only)
        {
            let waiting: Vec<_> = callers.iter().filter(|c| c.queue == q.name).collect();
            let mut l = Lines::new();
            l.h("Event", "QueueParams")
                .h("Queue", &q.name)
                .h("Max", "0")
                .h("Strategy", &q.strategy)
                .h("Calls", waiting.len().to_string())
                .h("Holdtime", "0")
                .h("TalkTime", "0")
                .h("Completed", "0")
                .h("Abandoned", "0")
                .h("ServiceLevel", "0")
                .h("ServicelevelPerf", "0.0")
                .h("ServicelevelPerf2", "0.0")
                .h("Weight", "0")
                .h_opt("ActionID", req.action_id());
            self.send(l.end());
            n += 1;
            for m in &q.members {
                let mut l = Lines::new();
                l.h("Event", "QueueMember")
                    .h("Queue", &q.name)
                    .h("Name", &m.name)
                    .h("Location", &m.location)
                    .h("StateInterface", &m.state_interface)
                    .h("Membership", "static")
                    .h("Penalty", "0")
                    .h("CallsTaken", "0")
                    .h("LastCall", "0")
                    .h("LastPause", "0")
                    .h("LoginTime", &login)
                    .h("InCall", "0")
                    .h("Status", "1")
                    .h("Paused", "0")
                    .h("PausedReason", "")
                    .h("Wrapuptime", "0")
                    .h_opt("ActionID", req.action_id());
                self.send(l.end());
                n += 1;
            }
            for (i, c) in waiting.iter().enumerate() {
                let mut l = Lines::new();
                l.h("Event", "QueueEntry")
                    .h("Queue", &q.name)
                    .h("Position", (i + 1).to_string())
                    .h("Channel", &c.channel)
                    .h("Uniqueid", &c.uniqueid)
                    .h("CallerIDNum", "unknown")
                    .h("CallerIDName", "unknown")
                    .h("ConnectedLineNum", "unknown")
                    .h("ConnectedLineName", "unknown")
                    .h("Wait", c.joined.elapsed().as_secs().to_string())
                    .h("Priority", "0")
                    .h_opt("ActionID", req.action_id());
                self.send(l.end());
                n += 1;
            }
        }
        self.list_end(req, "QueueStatusComplete", n, &[]);
    }
}

fn channel_var(c: &Channel, var: &str) -> String {
    match var {
        "CHANNEL" => c.name.clone(),
        "UNIQUEID" => c.uniqueid.clone(),
        "CONTEXT" => c.context.clone(),
        "EXTEN" => c.exten.clone(),
        _ => c
            .vars
            .iter()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
    }
}

/// `"Name" <num>` → (name, num); a bare value is a number.
fn parse_callerid(s: &str) -> (String, String) {
    let s = s.trim();
    if let (Some(lt), true) = (s.rfind('<'), s.ends_with('>')) {
        let num = s[lt + 1..s.len() - 1].trim().to_owned();
        let name = s[..lt].trim().trim_matches('"').to_owned();
        (name, num)
    } else {
        (String::new(), s.to_owned())
    }
}
