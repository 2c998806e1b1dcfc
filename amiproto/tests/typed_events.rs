//! Typed events against real traffic and against every documented field
//! list.
//!
//! - Every event of every capture in `tests/data` (and of the directories
//!   in `AMIPROTO_CORPUS`, `:`-separated, e.g. a shared corpus) is decoded
//!   both ways: untyped [`Packet`] and [`TypedEvent`]. Every typed accessor
//!   is called (through the generated `typed/visit.rs`), and each value it
//!   returns must equal the raw header it reads. Every header of every
//!   captured event must be read by some typed accessor (`UserEvent`'s own
//!   headers excepted: they are the sender's).
//! - Packets built from the field lists Asterisk 13.38.3 and 11.25.3
//!   document (and write without documenting) decode without panicking,
//!   every field reachable by its typed name; so do random packets.
//! - The serde route (`amiproto::serde::from_packet`) agrees with the
//!   typed accessors.

#[path = "typed/visit.rs"]
mod visit;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use amiproto::types::events::{self, TypedEvent};
use amiproto::types::values::{self, Cause, ChannelState, DeviceState, ExtensionState};
use amiproto::types::{BridgeSnapshot, ChannelSnapshot, EventType, FRAMING_HEADERS};
use amiproto::{Decoder, Frame, Packet};
use bytes::BytesMut;
use proptest::prelude::*;

/// What the generated visitor hands over: every typed value with its key.
pub trait Visitor {
    fn one<T: Check>(&mut self, key: &'static str, value: Option<T>);
    fn list(&mut self, key: &'static str, values: Vec<Cow<'_, str>>);
    fn pairs(&mut self, key: &'static str, values: Vec<(Cow<'_, str>, Cow<'_, str>)>);
    fn numbered<T: Check>(
        &mut self,
        prefix: &'static str,
        suffix: &'static str,
        get: &dyn Fn(u32) -> Option<T>,
    );
    fn channel(&mut self, s: ChannelSnapshot<'_>);
    fn bridge(&mut self, s: BridgeSnapshot<'_>);
}

/// A typed value compared with the raw text it was read from.
pub trait Check {
    fn matches_raw(&self, raw: &str) -> bool;
}

impl Check for Cow<'_, str> {
    fn matches_raw(&self, raw: &str) -> bool {
        self == raw
    }
}

macro_rules! number_check {
    ($($t:ty),*) => {$(
        impl Check for $t {
            fn matches_raw(&self, raw: &str) -> bool {
                raw.trim().parse::<$t>().is_ok_and(|n| n == *self)
            }
        }
    )*};
}
number_check!(u32, u64, i64, f64);

fn ast_bool(raw: &str) -> Option<bool> {
    let t = raw.trim().to_ascii_lowercase();
    match t.as_str() {
        "yes" | "true" | "y" | "t" | "1" | "on" => Some(true),
        "no" | "false" | "n" | "f" | "0" | "off" => Some(false),
        _ => None,
    }
}

impl Check for bool {
    fn matches_raw(&self, raw: &str) -> bool {
        ast_bool(raw) == Some(*self)
    }
}

macro_rules! coded_check {
    ($($t:ty),*) => {$(
        impl Check for $t {
            fn matches_raw(&self, raw: &str) -> bool {
                match raw.trim().parse::<i64>() {
                    Ok(n) => self.code() == Some(n) || self.as_str() == n.to_string(),
                    Err(_) => self.as_str().eq_ignore_ascii_case(raw),
                }
            }
        }
    )*};
}
coded_check!(ChannelState, Cause, DeviceState, ExtensionState);

/// Implemented for every generated enumeration (the list is checked below
/// against what the generated file uses, by compiling).
macro_rules! word_check {
    ($($t:ident),* $(,)?) => {$(
        impl Check for values::$t {
            fn matches_raw(&self, raw: &str) -> bool {
                self.as_str().eq_ignore_ascii_case(raw)
            }
        }
    )*};
}
word_check!(
    AgentCompleteReason,
    AgentsStatus,
    AmaFlags,
    AocBillingId,
    AocChargeType,
    AocMultiplier,
    AocRateType,
    AocTotalType,
    AocVolumeUnit,
    BridgeActionResult,
    BridgeLinkState,
    BridgeLinkType,
    BridgeVideoSourceMode,
    CdrDisposition,
    CelEventName,
    ContactListStatus,
    ContactState,
    DialProgress,
    DialStatus,
    DialSubEvent,
    DtmfDirection,
    EnabledStatus,
    FaxOperation,
    FaxSessionType,
    FaxState,
    FaxStatusOperation,
    ModuleLoadStatus,
    ModuleSelection,
    ModuleUnloadStatus,
    OriginateResult,
    PeerState,
    QueueMembership,
    RegistrationStatus,
    RegistryStatus,
    ReloadResult,
    RtcpPacketType,
    SessionTimeoutSource,
    Severity,
    ShutdownKind,
    SubscriptionType,
    TransferDestType,
    TransferResult,
);

/// Records, for one packet, which keys the typed accessors read and every
/// disagreement between a typed value and its raw header.
struct Recorder<'p> {
    packet: &'p Packet,
    covered: BTreeSet<String>,
    problems: Vec<String>,
}

impl<'p> Recorder<'p> {
    fn new(packet: &'p Packet) -> Recorder<'p> {
        Recorder {
            packet,
            covered: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    /// Every raw value of `key` (ASCII case-insensitive).
    fn raw_all(&self, key: &str) -> Vec<String> {
        self.packet
            .headers()
            .filter(|h| h.is(key))
            .map(|h| h.value().decode_text().into_owned())
            .collect()
    }

    fn check_one<T: Check>(&mut self, key: &str, value: Option<T>) {
        self.covered.insert(key.to_ascii_lowercase());
        let raw = self.raw_all(key).into_iter().next();
        match (raw.as_deref(), &value) {
            (None, None) | (Some(""), None) => {}
            (Some(r), Some(v)) if v.matches_raw(r) => {}
            (r, _) => self.problems.push(format!(
                "{key}: raw {r:?}, typed {}",
                if value.is_some() { "differs" } else { "None" }
            )),
        }
    }

    fn check_pairs(&mut self, key: &str, values: &[(Cow<'_, str>, Cow<'_, str>)]) {
        self.covered.insert(key.to_ascii_lowercase());
        let raw: Vec<String> = self
            .packet
            .headers()
            .filter(|h| {
                h.is(key) || {
                    let k = h.key().to_string().to_ascii_lowercase();
                    k.starts_with(&format!("{}(", key.to_ascii_lowercase()))
                }
            })
            .map(|h| h.value().decode_text().into_owned())
            .filter(|v| !v.is_empty())
            .collect();
        let typed: Vec<String> = values.iter().map(|(n, v)| format!("{n}={v}")).collect();
        // A value without `=` is a name with an empty value.
        let raw: Vec<String> = raw
            .into_iter()
            .map(|r| if r.contains('=') { r } else { format!("{r}=") })
            .collect();
        if raw != typed {
            self.problems
                .push(format!("{key}: raw {raw:?}, typed {typed:?}"));
        }
        for h in self.packet.headers() {
            let k = h.key().to_string().to_ascii_lowercase();
            if k.starts_with(&format!("{}(", key.to_ascii_lowercase())) {
                self.covered.insert(k);
            }
        }
    }
}

impl Visitor for Recorder<'_> {
    fn one<T: Check>(&mut self, key: &'static str, value: Option<T>) {
        self.check_one(key, value);
    }

    fn list(&mut self, key: &'static str, values: Vec<Cow<'_, str>>) {
        self.covered.insert(key.to_ascii_lowercase());
        let raw: Vec<String> = self
            .raw_all(key)
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect();
        let typed: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        if raw != typed {
            self.problems
                .push(format!("{key}: raw {raw:?}, typed {typed:?}"));
        }
    }

    fn pairs(&mut self, key: &'static str, values: Vec<(Cow<'_, str>, Cow<'_, str>)>) {
        self.check_pairs(key, &values);
    }

    fn numbered<T: Check>(
        &mut self,
        prefix: &'static str,
        suffix: &'static str,
        get: &dyn Fn(u32) -> Option<T>,
    ) {
        let keys: Vec<(String, u32)> = self
            .packet
            .headers()
            .filter_map(|h| {
                let k = h.key().to_string();
                if k.len() <= prefix.len() + suffix.len()
                    || !k[..prefix.len()].eq_ignore_ascii_case(prefix)
                    || !k[k.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                {
                    return None;
                }
                let n = k[prefix.len()..k.len() - suffix.len()].parse().ok()?;
                Some((k, n))
            })
            .collect();
        for (key, n) in keys {
            self.check_one(&key, get(n));
        }
    }

    fn channel(&mut self, s: ChannelSnapshot<'_>) {
        let p = s.prefix();
        let k = |name: &str| format!("{p}{name}");
        self.check_one(&k("Channel"), s.name());
        // `state` falls back to the text when the code is absent.
        if self.raw_all(&k("ChannelState")).is_empty() {
            self.covered.insert(k("ChannelState").to_ascii_lowercase());
            if s.state() != s.state_desc() {
                self.problems.push(format!("{p}: state without a code"));
            }
        } else {
            self.check_one(&k("ChannelState"), s.state());
        }
        self.check_one(&k("ChannelStateDesc"), s.state_desc());
        self.check_one(&k("CallerIDNum"), s.caller_id_num());
        self.check_one(&k("CallerIDName"), s.caller_id_name());
        self.check_one(&k("ConnectedLineNum"), s.connected_line_num());
        self.check_one(&k("ConnectedLineName"), s.connected_line_name());
        self.check_one(&k("Language"), s.language());
        self.check_one(&k("AccountCode"), s.account_code());
        self.check_one(&k("Context"), s.context());
        self.check_one(&k("Exten"), s.exten());
        self.check_one(&k("Priority"), s.priority());
        self.check_one(&k("Uniqueid"), s.unique_id());
        self.check_one(&k("Linkedid"), s.linked_id());
        self.check_one(&k("Tenantid"), s.tenant_id());
        let vars: Vec<_> = s.variables().collect();
        self.check_pairs(&k("ChanVariable"), &vars);
    }

    fn bridge(&mut self, s: BridgeSnapshot<'_>) {
        let p = s.prefix();
        let k = |name: &str| format!("{p}{name}");
        self.check_one(&k("BridgeUniqueid"), s.unique_id());
        self.check_one(&k("BridgeType"), s.bridge_type());
        self.check_one(&k("BridgeTechnology"), s.technology());
        self.check_one(&k("BridgeCreator"), s.creator());
        self.check_one(&k("BridgeName"), s.name());
        self.check_one(&k("BridgeNumChannels"), s.num_channels());
        self.check_one(&k("BridgeVideoSourceMode"), s.video_source_mode());
        self.check_one(&k("BridgeVideoSource"), s.video_source());
    }
}

/// What checking one event found.
struct Checked {
    /// Headers no typed accessor read (framing headers excluded).
    uncovered: Vec<String>,
    problems: Vec<String>,
}

/// Decode `packet` typed, call every accessor, compare with the raw
/// headers.
fn check_event(packet: &Packet) -> Checked {
    let typed = TypedEvent::parse(packet);
    let mut rec = Recorder::new(packet);
    visit::visit(&typed, &mut rec);
    let mut problems = rec.problems;
    let uncovered: Vec<String> = packet
        .headers()
        .filter(|h| !h.is_bare())
        .map(|h| h.key().to_string())
        .filter(|k| {
            !FRAMING_HEADERS.iter().any(|f| f.eq_ignore_ascii_case(k))
                && !rec.covered.contains(&k.to_ascii_lowercase())
        })
        .collect();
    // The schema tells the same story as the accessors.
    if let Some(schema) = typed.schema() {
        for h in packet.headers().filter(|h| !h.is_bare()) {
            let k = h.key().to_string();
            if schema.covers(k.as_bytes()) == uncovered.contains(&k) {
                problems.push(format!("schema and accessors disagree on {k}"));
            }
        }
    }
    Checked {
        uncovered,
        problems,
    }
}

fn capture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let mut dirs = vec![root];
    if let Ok(extra) = std::env::var("AMIPROTO_CORPUS") {
        dirs.extend(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    dirs
}

/// Every event packet of every server capture, with its file name.
fn captured_events() -> Vec<(String, Packet)> {
    let mut out = Vec::new();
    for dir in capture_dirs() {
        let mut files = Vec::new();
        for version in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        {
            let version = version.unwrap().path();
            if !version.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&version).unwrap() {
                let f = f.unwrap().path();
                if f.to_string_lossy().ends_with(".server.bin") {
                    files.push(f);
                }
            }
        }
        files.sort();
        assert!(!files.is_empty(), "no captures in {}", dir.display());
        for f in files {
            let mut buf = BytesMut::from(&std::fs::read(&f).unwrap()[..]);
            let mut dec = Decoder::new();
            while let Some(frame) = dec.decode_eof(&mut buf).unwrap() {
                if let Frame::Packet(p) = frame {
                    if p.event().is_some() {
                        out.push((f.display().to_string(), p));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_captured_event_is_typed_and_every_field_reachable() {
    let events = captured_events();
    assert!(events.len() > 2500, "{}", events.len());
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (file, p) in &events {
        let name = p.event().unwrap().to_string();
        *names.entry(name.clone()).or_default() += 1;
        let typed = TypedEvent::parse(p);
        if matches!(typed, TypedEvent::Other(_)) {
            failures.push(format!("{file}: {name} is not typed"));
            continue;
        }
        assert_eq!(typed.packet(), p);
        let c = check_event(p);
        for problem in c.problems {
            failures.push(format!("{file}: {name}: {problem}"));
        }
        // A UserEvent carries its sender's own headers.
        if !c.uncovered.is_empty() && name != "UserEvent" {
            failures.push(format!("{file}: {name}: untyped {:?}", c.uncovered));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(names.len() >= 46, "{names:?}");
}

#[test]
fn extra_headers_are_the_untyped_ones() {
    for (_, p) in captured_events() {
        let TypedEvent::UserEvent(u) = TypedEvent::parse(&p) else {
            continue;
        };
        let extra: Vec<String> = u.extra_headers().map(|h| h.key().to_string()).collect();
        let c = check_event(&p);
        assert_eq!(extra, c.uncovered);
        assert_eq!(
            u.user_event().as_deref(),
            p.get_str("UserEvent").filter(|s| !s.is_empty()),
            "{p:?}"
        );
    }
}

/// A packet with `Event: name` and `fields`, in order.
fn packet(name: &str, fields: &[(String, Vec<u8>)]) -> Packet {
    let mut b = Packet::builder();
    b.push("Event", name.as_bytes());
    b.push("Privilege", b"call,all");
    for (k, v) in fields {
        b.push(k, v);
    }
    b.build().unwrap()
}

fn api(version: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../tests/data/asterisk-api/asterisk-{version}.json"
    ));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every event a version documents or writes, as a packet whose fields
/// carry a valid value: the first documented one for an enumeration, `1`
/// otherwise (a number, a flag and a text all at once). Numbered families
/// get members 0 and 1.
/// Header lines `(key, value)`.
type Fields = Vec<(String, Vec<u8>)>;

fn documented_packets(version: &str) -> Vec<(String, Fields)> {
    let doc = api(version);
    let mut out = Vec::new();
    let str_list = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    for e in doc["events"].as_array().unwrap() {
        let name = e
            .get("source_name")
            .and_then(|n| n.as_str())
            .unwrap_or_else(|| e["name"].as_str().unwrap());
        let mut fields = Vec::new();
        let by_name: BTreeMap<String, &serde_json::Value> = e["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap().to_string(), f))
            .collect();
        let mut keys = str_list(&e["expanded_fields"]);
        keys.extend(str_list(&e["source_fields_not_in_doc"]));
        for key in keys {
            let f = by_name.get(&key);
            if let Some(pattern) = f.and_then(|f| f["numbered"].as_str()) {
                for n in 0..2 {
                    let k = pattern
                        .replace("%d", &n.to_string())
                        .replace("%u", &n.to_string());
                    fields.push((k, b"1".to_vec()));
                }
                continue;
            }
            let value = f
                .and_then(|f| f["enum"].as_array())
                .and_then(|v| v.first())
                .and_then(|v| v.as_str())
                .unwrap_or("1");
            let value = if key.ends_with("ChanVariable") || key == "Variable" {
                "NAME=1"
            } else {
                value
            };
            fields.push((key, value.as_bytes().to_vec()));
        }
        out.push((name.to_string(), fields));
    }
    for e in doc["events_undocumented"].as_array().unwrap() {
        let fields = str_list(&e["fields"])
            .into_iter()
            .map(|k| (k, b"1".to_vec()))
            .collect();
        out.push((e["name"].as_str().unwrap().to_string(), fields));
    }
    out
}

fn check_documented(version: &str) {
    let mut failures = Vec::new();
    let all = documented_packets(version);
    assert!(all.len() > 100, "{version}: {}", all.len());
    for (name, fields) in &all {
        let p = packet(name, fields);
        if matches!(TypedEvent::parse(&p), TypedEvent::Other(_)) {
            failures.push(format!("{name} is not typed"));
            continue;
        }
        let c = check_event(&p);
        failures.extend(c.problems.into_iter().map(|x| format!("{name}: {x}")));
        // Placeholder names of documented families are not headers.
        let uncovered: Vec<_> = c
            .uncovered
            .into_iter()
            .filter(|k| !k.contains("XSource") && !k.starts_with("ReportX"))
            .collect();
        if !uncovered.is_empty() {
            failures.push(format!("{name}: untyped {uncovered:?}"));
        }
        // Latin-1 everywhere: no panic, text fields keep every byte.
        let latin: Vec<_> = fields
            .iter()
            .map(|(k, _)| (k.clone(), b"Jos\xe9".to_vec()))
            .collect();
        let lp = packet(name, &latin);
        let typed = TypedEvent::parse(&lp);
        visit::visit(&typed, &mut Recorder::new(&lp));
        let _ = format!("{typed:?}");
    }
    assert!(failures.is_empty(), "{version}:\n{}", failures.join("\n"));
}

#[test]
fn asterisk_22_documented_fields_decode() {
    check_documented("22.10.1");
}

#[test]
fn asterisk_13_documented_fields_decode() {
    check_documented("13.38.3");
}

#[test]
fn asterisk_11_documented_fields_decode() {
    check_documented("11.25.3");
}

#[test]
fn names_match_case_insensitively() {
    // The wire spells QueueParams' `ServicelevelPerf` where the docs say
    // `ServiceLevelPerf`, and Newexten where they say NewExten.
    let p = packet("newexten", &[("APPLICATION".into(), b"Dial".to_vec())]);
    let TypedEvent::NewExten(e) = TypedEvent::parse(&p) else {
        panic!()
    };
    assert_eq!(e.application().as_deref(), Some("Dial"));
    let p = packet(
        "QueueParams",
        &[("ServicelevelPerf".into(), b"87.5".to_vec())],
    );
    let q = events::QueueParams::from_packet(p).unwrap();
    assert_eq!(q.service_level_perf(), Some(87.5));
}

#[test]
fn unknown_events_and_other_packets_stay_whole() {
    let p = packet("BrandNewEvent", &[("X".into(), b"1".to_vec())]);
    assert_eq!(TypedEvent::parse(&p), TypedEvent::Other(p.clone()));
    let r = Packet::builder()
        .header("Response", "Success")
        .build()
        .unwrap();
    assert_eq!(TypedEvent::from(r.clone()).into_packet(), r);
    assert!(events::Hangup::from_packet(r.clone()).is_err());
}

#[test]
fn debug_shows_typed_names_and_extras() {
    let p = packet(
        "Hangup",
        &[
            ("Channel".into(), b"PJSIP/a-1".to_vec()),
            ("Cause".into(), b"16".to_vec()),
            ("X-Mine".into(), b"y".to_vec()),
        ],
    );
    let s = format!("{:?}", TypedEvent::parse(&p));
    assert!(s.starts_with("Hangup {"), "{s}");
    assert!(s.contains("cause: \"16\""), "{s}");
    assert!(s.contains("X-Mine"), "{s}");
}

/// Hand-written serde shapes of a few events, read both ways.
#[cfg(feature = "serde")]
mod serde_agrees {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Hangup {
        channel: Option<String>,
        uniqueid: Option<String>,
        cause: Option<i64>,
        #[serde(rename = "Cause-txt")]
        cause_txt: Option<String>,
    }

    #[derive(Deserialize)]
    struct DialBegin {
        #[serde(rename = "DestChannel")]
        dest_channel: Option<String>,
        #[serde(rename = "DestCallerIDNum")]
        dest_caller_id_num: Option<String>,
        dial_string: Option<String>,
    }

    #[derive(Deserialize)]
    struct QueueMember {
        queue: Option<String>,
        name: Option<String>,
        penalty: Option<i64>,
        calls_taken: Option<u32>,
        paused: Option<bool>,
        status: Option<i64>,
    }

    #[derive(Deserialize)]
    struct OriginateResponse {
        response: Option<String>,
        reason: Option<u32>,
        uniqueid: Option<String>,
    }

    #[derive(Deserialize)]
    struct Status {
        #[serde(default)]
        variable: Vec<String>,
        seconds: Option<i64>,
    }

    #[test]
    fn serde_and_typed_read_the_same_values() {
        use amiproto::serde::from_packet;
        let mut seen = BTreeMap::<&str, usize>::new();
        for (_, p) in captured_events() {
            match TypedEvent::parse(&p) {
                TypedEvent::Hangup(h) => {
                    let s: Hangup = from_packet(&p).unwrap();
                    assert_eq!(s.channel.as_deref(), h.channel().name().as_deref());
                    assert_eq!(s.uniqueid.as_deref(), h.channel().unique_id().as_deref());
                    assert_eq!(s.cause, h.cause().and_then(|c| c.code()));
                    assert_eq!(s.cause_txt.as_deref(), h.cause_txt().as_deref());
                    *seen.entry("Hangup").or_default() += 1;
                }
                TypedEvent::DialBegin(d) => {
                    let s: DialBegin = from_packet(&p).unwrap();
                    assert_eq!(s.dest_channel.as_deref(), d.dest().name().as_deref());
                    assert_eq!(
                        s.dest_caller_id_num.as_deref(),
                        d.dest().caller_id_num().as_deref()
                    );
                    assert_eq!(s.dial_string.as_deref(), d.dial_string().as_deref());
                    *seen.entry("DialBegin").or_default() += 1;
                }
                TypedEvent::QueueMember(m) => {
                    let s: QueueMember = from_packet(&p).unwrap();
                    assert_eq!(s.queue.as_deref(), m.queue().as_deref());
                    assert_eq!(s.name.as_deref(), m.name().as_deref());
                    assert_eq!(s.penalty, m.penalty());
                    assert_eq!(s.calls_taken, m.calls_taken());
                    assert_eq!(s.paused, m.paused());
                    assert_eq!(s.status, m.status().and_then(|st| st.code()));
                    *seen.entry("QueueMember").or_default() += 1;
                }
                TypedEvent::OriginateResponse(o) => {
                    let s: OriginateResponse = from_packet(&p).unwrap();
                    assert_eq!(
                        s.response.as_deref(),
                        o.response().as_ref().map(|r| r.as_str())
                    );
                    assert_eq!(s.reason, o.reason());
                    assert_eq!(s.uniqueid.as_deref(), o.unique_id().as_deref());
                    *seen.entry("OriginateResponse").or_default() += 1;
                }
                TypedEvent::Status(st) => {
                    let s: Status = from_packet(&p).unwrap();
                    let typed: Vec<String> =
                        st.variable().map(|(n, v)| format!("{n}={v}")).collect();
                    assert_eq!(s.variable, typed);
                    assert_eq!(s.seconds, st.seconds());
                    *seen.entry("Status").or_default() += 1;
                }
                _ => {}
            }
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
    }

    #[test]
    fn serde_maps_agree_with_every_text_field() {
        use amiproto::serde::from_packet;
        use amiproto::types::FieldKind;
        for (_, p) in captured_events() {
            let typed = TypedEvent::parse(&p);
            let Some(schema) = typed.schema() else {
                continue;
            };
            let map: BTreeMap<String, serde_json::Value> = from_packet(&p).unwrap();
            let first = |key: &str| -> Option<String> {
                let (_, v) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?;
                match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Array(a) => a.first()?.as_str().map(str::to_string),
                    _ => None,
                }
            };
            for f in schema.fields.iter().filter(|f| f.kind == FieldKind::Text) {
                let raw = first(f.key).filter(|s| !s.is_empty());
                let via_packet = p
                    .get(f.key)
                    .map(|v| v.decode_text().into_owned())
                    .filter(|s| !s.is_empty());
                assert_eq!(raw, via_packet, "{} {}", schema.name, f.key);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any known event name with any of its keys (and others) and any
    /// bytes: every accessor returns without panicking.
    #[test]
    fn random_packets_never_panic(
        which in 0usize..TypedEvent::NAMES.len(),
        values in proptest::collection::vec((0usize..64, proptest::collection::vec(any::<u8>(), 0..12)), 0..24),
    ) {
        let name = TypedEvent::NAMES[which];
        let schema = TypedEvent::schema_of(name).unwrap();
        let mut keys: Vec<String> = schema.fields.iter().map(|f| f.key.to_string()).collect();
        for s in schema.snapshots {
            keys.extend(s.kind.fields().iter().map(|f| format!("{}{f}", s.prefix)));
        }
        keys.push("Report7SourceSSRC".into());
        keys.push("ChanVariable(x)".into());
        let fields: Vec<(String, Vec<u8>)> = values
            .into_iter()
            .map(|(k, mut v)| {
                v.retain(|b| !matches!(b, b'\r' | b'\n' | 0));
                (keys[k % keys.len()].clone(), v)
            })
            .collect();
        let p = packet(name, &fields);
        let typed = TypedEvent::parse(&p);
        prop_assert!(!matches!(typed, TypedEvent::Other(_)));
        visit::visit(&typed, &mut Recorder::new(&p));
        let _ = format!("{typed:?}");
    }
}
