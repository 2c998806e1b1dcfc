//! What the documentation does not say and the generator must know: which
//! fields are numbers, which enumerations are flags or a hand-written type,
//! names for values that are not words, headers seen on the wire but in
//! neither the documentation nor a format string, and which actions have a
//! hand-written reply.
//!
//! Every entry is a fact checked against Asterisk's source (the format
//! string that writes the header) or the captures in `tests/data`.

/// The Rust type of a field's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    Text,
    U32,
    I64,
    F64,
    Bool,
    /// A type of `amiproto::types::values` (hand-written or generated).
    Named(String),
}

impl Ty {
    pub fn rust(&self) -> String {
        match self {
            Ty::Text => "Cow<'_, str>".into(),
            Ty::U32 => "u32".into(),
            Ty::I64 => "i64".into(),
            Ty::F64 => "f64".into(),
            Ty::Bool => "bool".into(),
            Ty::Named(n) => n.clone(),
        }
    }
}

/// Fields written with `%d`/`%u`/`%ld` (or `%f`), or with the values of a
/// hand-written type: `(event or "*", field, type)`, names compared ASCII
/// case-insensitively.
pub const NUMBERS: &[(&str, &str, &str)] = &[
    // List framing (`astman_send_list_complete_start`: `ListItems: %d`).
    ("*", "ListItems", "u32"),
    ("StatusComplete", "Items", "u32"),
    ("ShowDialPlanComplete", "ListExtensions", "u32"),
    ("ShowDialPlanComplete", "ListPriorities", "u32"),
    ("ShowDialPlanComplete", "ListContexts", "u32"),
    // app_queue.
    ("*", "Position", "u32"),
    ("*", "OriginalPosition", "u32"),
    ("*", "Count", "u32"),
    ("*", "HoldTime", "i64"),
    ("*", "TalkTime", "i64"),
    ("*", "RingTime", "i64"),
    ("QueueEntry", "Wait", "i64"),
    ("*", "LastCall", "i64"),
    ("*", "LastPause", "i64"),
    ("*", "LoginTime", "i64"),
    ("*", "Penalty", "i64"),
    ("*", "Wrapuptime", "i64"),
    ("*", "CallsTaken", "u32"),
    // QueueStatus' QueueMember (undocumented): like QueueMemberStatus.
    ("QueueMember", "Status", "DeviceState"),
    ("QueueMember", "Paused", "bool"),
    ("QueueMember", "InCall", "bool"),
    ("QueueParams", "Max", "u32"),
    ("QueueParams", "Calls", "u32"),
    ("QueueParams", "Completed", "u32"),
    ("QueueParams", "Abandoned", "u32"),
    ("QueueParams", "ServiceLevel", "u32"),
    ("QueueParams", "ServiceLevelPerf", "f64"),
    ("QueueParams", "ServiceLevelPerf2", "f64"),
    ("QueueParams", "Weight", "u32"),
    ("QueueSummary", "LoggedIn", "u32"),
    ("QueueSummary", "Available", "u32"),
    ("QueueSummary", "Callers", "u32"),
    ("QueueSummary", "LongestHoldTime", "i64"),
    // main/manager.c, main/channel.c.
    ("Status", "Seconds", "i64"),
    ("OriginateResponse", "Reason", "u32"),
    ("Hangup", "Cause", "Cause"),
    ("HangupRequest", "Cause", "Cause"),
    ("SoftHangupRequest", "Cause", "Cause"),
    ("DeviceStateChange", "State", "DeviceState"),
];

/// Enumerations read as a flag (`ast_true` / `ast_false` spellings).
pub const FLAG_SETS: &[&[&str]] = &[
    &["Yes", "No"],
    &["yes", "no"],
    &["0", "1"],
    &["on", "off"],
    &["On", "Off"],
    &["True", "False"],
    &["true", "false"],
];

/// Enumerations that are a hand-written type: `(values, type)`.
pub const NAMED_SETS: &[(&[&str], &str)] = &[
    (
        &["0", "1", "2", "3", "4", "5", "6", "7", "8"],
        "DeviceState",
    ),
    (
        &["-2", "-1", "0", "1", "2", "4", "8", "9", "16", "17"],
        "ExtensionState",
    ),
    (
        &[
            "Idle",
            "InUse",
            "Busy",
            "Unavailable",
            "Ringing",
            "InUse&Ringing",
            "Hold",
            "InUse&Hold",
            "Unknown",
        ],
        "ExtensionState",
    ),
    (
        &[
            "Down",
            "Rsrvd",
            "OffHook",
            "Dialing",
            "Ring",
            "Ringing",
            "Up",
            "Busy",
            "Dialing Offhook",
            "Pre-ring",
            "Unknown",
        ],
        "ChannelState",
    ),
];

/// Enumerations whose generated type gets a chosen name: `(event, field,
/// type)` (the first event listing the set decides).
pub const ENUM_NAMES: &[(&str, &str, &str)] = &[
    ("Reload", "Status", "ReloadResult"),
    ("AOC-D", "Multiplier", "AocMultiplier"),
    ("AOC-D", "BillingID", "AocBillingId"),
    ("AOC-D", "TotalType", "AocTotalType"),
    ("AOC-D", "Type", "AocChargeType"),
    ("AOC-S", "RateType", "AocRateType"),
    ("AOC-S", "Unit", "AocVolumeUnit"),
    ("RTCPReceived", "PT", "RtcpPacketType"),
    ("Bridge", "Bridgestate", "BridgeLinkState"),
    ("Bridge", "Bridgetype", "BridgeLinkType"),
    ("ContactStatus", "ContactStatus", "ContactState"),
    ("DNDState", "Status", "EnabledStatus"),
    ("AttendedTransfer", "DestType", "TransferDestType"),
    ("AttendedTransfer", "Result", "TransferResult"),
    ("DialEnd", "DialStatus", "DialStatus"),
    ("DialState", "DialStatus", "DialProgress"),
    ("DTMFBegin", "Direction", "DtmfDirection"),
    ("Cdr", "Disposition", "CdrDisposition"),
    ("CEL", "EventName", "CelEventName"),
    ("FAXSession", "Operation", "FaxOperation"),
    ("FAXStatus", "Operation", "FaxStatusOperation"),
    ("FAXSession", "State", "FaxState"),
    ("FAXSessionsEntry", "SessionType", "FaxSessionType"),
    ("Load", "Status", "ModuleLoadStatus"),
    ("Unload", "Status", "ModuleUnloadStatus"),
    ("QueueMemberAdded", "Membership", "QueueMembership"),
    ("OriginateResponse", "Response", "OriginateResult"),
    ("OutboundRegistrationDetail", "Status", "RegistrationStatus"),
    ("PeerStatus", "PeerStatus", "PeerState"),
    ("AgentComplete", "Reason", "AgentCompleteReason"),
    ("Shutdown", "Shutdown", "ShutdownKind"),
    ("SessionTimeout", "Source", "SessionTimeoutSource"),
    ("Dial", "SubEvent", "DialSubEvent"),
    ("BridgeAction", "Response", "BridgeActionResult"),
    ("ContactList", "Status", "ContactListStatus"),
];

/// Variant names for values that are not words: `(value, variant)`.
pub const VARIANT_NAMES: &[(&str, &str)] = &[
    // `enum ast_module_reload_result`.
    ("Reload:0", "Success"),
    ("Reload:1", "Queued"),
    ("Reload:2", "NotFound"),
    ("Reload:3", "Error"),
    ("Reload:4", "InProgress"),
    ("Reload:5", "Uninitialized"),
    ("Reload:6", "NotImplemented"),
    // `enum ast_aoc_currency_multiplier`.
    ("1/1000", "OneThousandth"),
    ("1/100", "OneHundredth"),
    ("1/10", "OneTenth"),
    ("1", "One"),
    ("10", "Ten"),
    ("100", "Hundred"),
    ("1000", "Thousand"),
    // RTCP packet types.
    ("200(SR)", "SenderReport"),
    ("201(RR)", "ReceiverReport"),
    // Clashes with the `Unknown(String)` arm.
    ("Unknown", "UnknownState"),
];

/// Headers neither documented nor in a format string the generator's data
/// lists, written by Asterisk's source (and seen in the captures):
/// `(event, field, kind)`; kind `pairs` is a repeated `name=value`.
pub const EXTRA_FIELDS: &[(&str, &str, &str)] = &[
    // `Status` with `Variables`/`AllVariables`: `Variable: name=value`.
    ("Status", "Variable", "pairs"),
    // ShowDialPlan's items, written by separate appends (main/pbx.c
    // manager_show_dialplan_helper): `Priority` may be `hint`.
    ("ListDialplan", "Context", "text"),
    ("ListDialplan", "Extension", "text"),
    ("ListDialplan", "ExtensionLabel", "text"),
    ("ListDialplan", "Priority", "text"),
    ("ListDialplan", "Application", "text"),
    ("ListDialplan", "AppData", "text"),
    ("ListDialplan", "Registrar", "text"),
    ("ListDialplan", "IncludeContext", "text"),
    ("ListDialplan", "IgnorePattern", "text"),
    ("ListDialplan", "Switch", "text"),
    // StatusComplete: `Items: %d` beside `ListItems`.
    ("StatusComplete", "Items", "u32"),
    // Every list's end event: astman_send_list_complete_start().
    (LIST_END, "EventList", "text"),
    (LIST_END, "ListItems", "u32"),
];

/// Stands for every event that ends an action's list.
pub const LIST_END: &str = "<list end>";

/// Repeated fields whose values are `name=value`.
pub const PAIR_FIELDS: &[&str] = &["Variable", "ChanVariable"];

/// Action parameters that are placeholders, not headers.
pub const PLACEHOLDER_PARAMS: &[(&str, &str)] =
    &[("UserEvent", "Header1"), ("UserEvent", "HeaderN")];

/// Actions with a hand-written reply: `(action, reply type)`.
pub const REPLIES: &[(&str, &str)] = &[
    ("Getvar", "Option<String>"),
    ("CoreSettings", "crate::types::CoreSettings"),
    ("CoreStatus", "crate::types::CoreStatus"),
    ("QueueStatus", "Vec<crate::types::QueueStatusEntry>"),
    ("Originate", "crate::types::OriginateReply"),
    ("Command", "crate::CommandOutput"),
    ("WaitEvent", "crate::Outcome"),
];

fn matches_event(pattern: &str, event: &str) -> bool {
    pattern == "*" || pattern.eq_ignore_ascii_case(event)
}

/// The type of `event`'s field `key` with documented values `values`
/// (`None` when it is a generated enumeration, named later).
pub fn field_type(event: &str, key: &str, values: &[String]) -> Option<Ty> {
    for (e, f, t) in NUMBERS {
        if matches_event(e, event) && f.eq_ignore_ascii_case(key) {
            return Some(match *t {
                "u32" => Ty::U32,
                "i64" => Ty::I64,
                "f64" => Ty::F64,
                "bool" => Ty::Bool,
                other => Ty::Named(other.to_string()),
            });
        }
    }
    if values.is_empty() {
        return Some(Ty::Text);
    }
    let same = |set: &[&str]| {
        set.len() == values.len() && set.iter().all(|s| values.iter().any(|v| v == s))
    };
    if FLAG_SETS.iter().any(|s| same(s)) {
        return Some(Ty::Bool);
    }
    for (set, name) in NAMED_SETS {
        if same(set) {
            return Some(Ty::Named(name.to_string()));
        }
    }
    None
}

pub fn extra_fields(event: &str, list_end: bool) -> Vec<(&'static str, &'static str)> {
    EXTRA_FIELDS
        .iter()
        .filter(|(e, _, _)| {
            if *e == LIST_END {
                list_end
            } else {
                matches_event(e, event)
            }
        })
        .map(|(_, f, k)| (*f, *k))
        .collect()
}

pub fn variant_name(event: &str, value: &str) -> Option<&'static str> {
    let scoped = format!("{event}:{value}");
    VARIANT_NAMES
        .iter()
        .find(|(v, _)| *v == scoped)
        .or_else(|| VARIANT_NAMES.iter().find(|(v, _)| *v == value))
        .map(|(_, n)| *n)
}
