//! The answers that differ by Asterisk version: `QueueSummary`,
//! `Parkinglots`, `Queues`, and Asterisk 11's `Status` and `QueueStatus`
//! layouts.
//!
//! Sources, at the tags named: `astman_send_response_full` and
//! `action_status` in main/manager.c (11.25.3: no `EventList` headers,
//! `StatusComplete` with `Items: N`), `manager_queues_status`,
//! `manager_queues_summary` and `manager_queues_show` in apps/app_queue.c
//! (11.25.3, 13.38.3, 22.10.1), `manager_parkinglot_list` in
//! main/features.c (11.25.3: `Parkinglot` items without `ActionID`) and
//! `manager_parking_lot_list` in res/parking/parking_manager.c (13.38.3,
//! 22.10.1).

use bytes::Bytes;

use crate::config::{QueueConfig, SimConfig};
use crate::input::Request;
use crate::pbx::{Channel, QueueCaller};
use crate::wire::Lines;

/// Asterisk's `ActionID:` line, when the action had one.
fn id(l: &mut Lines, req: &Request) {
    l.h_opt("ActionID", req.action_id());
}

/// The response that opens one of the lists Asterisk 11 leaves unmarked
/// (`Status`, `QueueStatus`, `QueueSummary`, `Parkinglots`):
/// `astman_send_listack` (with `EventList: start`), or on Asterisk 11
/// `astman_send_ack`.
pub(crate) fn start(cfg: &SimConfig, req: &Request, message: &str) -> Bytes {
    let mut l = Lines::new();
    l.h("Response", "Success");
    id(&mut l, req);
    if !cfg.asterisk11_lists() {
        l.h("EventList", "start");
    }
    l.h("Message", message);
    l.end()
}

/// The event that closes one of those lists:
/// `astman_send_list_complete_start` (with `EventList: Complete` and
/// `ListItems`), or on Asterisk 11 the bare `Event:` and `ActionID`.
pub(crate) fn end(cfg: &SimConfig, req: &Request, event: &str, items: usize) -> Bytes {
    let mut l = Lines::new();
    l.h("Event", event);
    id(&mut l, req);
    if !cfg.asterisk11_lists() {
        l.h("EventList", "Complete")
            .h("ListItems", items.to_string());
    }
    l.end()
}

/// `<unknown>` for an empty caller field, as `S_COR(…, "<unknown>")`.
fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "<unknown>"
    } else {
        s
    }
}

/// One `Status` item as Asterisk 11 writes it for a channel in the
/// dialplan, requested `Variables:` after `Uniqueid` (an unset one prints
/// as C's `(null)`), then the `ActionID`.
pub(crate) fn status_item_11(c: &Channel, wanted: &[String], req: &Request) -> Bytes {
    let mut l = Lines::new();
    l.h("Event", "Status")
        .h("Privilege", "Call")
        .h("Channel", &c.name)
        .h("CallerIDNum", or_unknown(&c.cid_num))
        .h("CallerIDName", or_unknown(&c.cid_name))
        .h("ConnectedLineNum", or_unknown(&c.conn_num))
        .h("ConnectedLineName", or_unknown(&c.conn_name))
        .h("Accountcode", &c.accountcode)
        .h("ChannelState", c.state.to_string())
        .h("ChannelStateDesc", c.state_desc())
        .h("Context", &c.context)
        .h("Extension", &c.exten)
        .h("Priority", c.priority.to_string())
        .h("Seconds", c.created.elapsed().as_secs().to_string())
        .h("Uniqueid", &c.uniqueid);
    for name in wanted {
        let value = c
            .vars
            .iter()
            .find(|(k, _)| k == name)
            .map_or("(null)", |(_, v)| v.as_str());
        l.h("Variable", format!("{name}={value}"));
    }
    id(&mut l, req);
    l.end()
}

/// Asterisk 11's `StatusComplete`: `Items: N`, no `EventList`.
pub(crate) fn status_end_11(req: &Request, items: usize) -> Bytes {
    let mut l = Lines::new();
    l.h("Event", "StatusComplete");
    id(&mut l, req);
    l.h("Items", items.to_string());
    l.end()
}

/// Asterisk 11's `QueueStatus` items for one queue: `QueueParams`, a
/// `QueueMember` per member, a `QueueEntry` per caller.
pub(crate) fn queue_status_11(
    q: &QueueConfig,
    callers: &[&QueueCaller],
    req: &Request,
) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut l = Lines::new();
    l.h("Event", "QueueParams")
        .h("Queue", &q.name)
        .h("Max", "0")
        .h("Strategy", &q.strategy)
        .h("Calls", callers.len().to_string())
        .h("Holdtime", "0")
        .h("TalkTime", "0")
        .h("Completed", "0")
        .h("Abandoned", "0")
        .h("ServiceLevel", "0")
        .h("ServicelevelPerf", "0.0")
        .h("Weight", "0");
    id(&mut l, req);
    out.push(l.end());
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
            .h("IsInCall", "0")
            .h("Status", "1")
            .h("Paused", "0");
        id(&mut l, req);
        out.push(l.end());
    }
    for (i, c) in callers.iter().enumerate() {
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
            .h("Wait", c.joined.elapsed().as_secs().to_string());
        id(&mut l, req);
        out.push(l.end());
    }
    out
}

/// `QueueSummary`'s item for one queue (the same layout in 11, 13, 22):
/// members that can take calls, callers waiting, the longest wait.
pub(crate) fn queue_summary_item(
    q: &QueueConfig,
    callers: &[&QueueCaller],
    req: &Request,
) -> Bytes {
    let longest = callers
        .iter()
        .map(|c| c.joined.elapsed().as_secs())
        .max()
        .unwrap_or(0);
    let mut l = Lines::new();
    l.h("Event", "QueueSummary")
        .h("Queue", &q.name)
        .h("LoggedIn", q.members.len().to_string())
        .h("Available", q.members.len().to_string())
        .h("Callers", callers.len().to_string())
        .h("HoldTime", "0")
        .h("TalkTime", "0")
        .h("LongestHoldTime", longest.to_string());
    id(&mut l, req);
    l.end()
}

/// `Queues` (Asterisk ≤ 14): the text of `queue show`, each line ending
/// in CRLF (`do_print`), a blank line after each queue, then `\r\n\r\n`.
/// No `Response:`, no `ActionID`.
pub(crate) fn queues_text(queues: &[QueueConfig], callers: &[QueueCaller]) -> Bytes {
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push_str("\r\n");
    };
    for q in queues {
        let waiting: Vec<_> = callers.iter().filter(|c| c.queue == q.name).collect();
        line(&format!(
            "{} has {} calls (max unlimited) in '{}' strategy (0s holdtime, 0s talktime), W:0, C:0, A:0, SL:0.0% within 0s",
            q.name,
            waiting.len(),
            q.strategy
        ));
        if q.members.is_empty() {
            line("   No Members");
        } else {
            line("   Members: ");
            for m in &q.members {
                line(&format!(
                    "      {} ({} from {}) (ringinuse enabled) (Not in use) has taken no calls yet",
                    m.name, m.location, m.state_interface
                ));
            }
        }
        if waiting.is_empty() {
            line("   No Callers");
        } else {
            line("   Callers: ");
            for (i, c) in waiting.iter().enumerate() {
                let wait = c.joined.elapsed().as_secs();
                line(&format!(
                    "      {}. {} (wait: {}:{:02}, prio: 0)",
                    i + 1,
                    c.channel,
                    wait / 60,
                    wait % 60
                ));
            }
        }
        line("");
    }
    if queues.is_empty() {
        line("No queues.");
    }
    out.push_str("\r\n\r\n");
    Bytes::from(out)
}

/// `Parkinglots`: the opening response, one `Parkinglot` per lot (on
/// Asterisk 11 without `ActionID`, with `StartExten`/`StopExten`; later
/// with it, and `StartSpace`/`StopSpace`), and `ParkinglotsComplete`.
pub(crate) fn parking_lots(cfg: &SimConfig, req: &Request) -> Vec<Bytes> {
    let eleven = cfg.asterisk11_lists();
    let mut out = vec![start(cfg, req, "Parking lots will follow")];
    for lot in &cfg.parking_lots {
        let mut l = Lines::new();
        l.h("Event", "Parkinglot");
        if !eleven {
            id(&mut l, req);
        }
        let (first, last) = if eleven {
            ("StartExten", "StopExten")
        } else {
            ("StartSpace", "StopSpace")
        };
        l.h("Name", &lot.name)
            .h(first, lot.start.to_string())
            .h(last, lot.stop.to_string())
            .h("Timeout", lot.timeout.to_string());
        out.push(l.end());
    }
    out.push(end(cfg, req, "ParkinglotsComplete", cfg.parking_lots.len()));
    out
}
