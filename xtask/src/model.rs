//! The three Asterisk versions' facts, merged: one entry per action and per
//! event name (case-insensitive), with what each version says of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// The versions read, newest first: the newest one's spelling and order win.
pub const VERSIONS: [&str; 3] = ["22.10.1", "13.38.3", "11.25.3"];

/// Headers of every event, read through the common accessors.
pub const FRAMING: [&str; 9] = [
    "Event",
    "Privilege",
    "ActionID",
    "Timestamp",
    "SequenceNumber",
    "File",
    "Line",
    "Func",
    "SystemName",
];

/// Field names of each snapshot kind (no prefix).
pub const CHANNEL_FIELDS: [&str; 16] = [
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
    "Tenantid",
    "ChanVariable",
];
pub const BRIDGE_FIELDS: [&str; 8] = [
    "BridgeUniqueid",
    "BridgeType",
    "BridgeTechnology",
    "BridgeCreator",
    "BridgeName",
    "BridgeNumChannels",
    "BridgeVideoSourceMode",
    "BridgeVideoSource",
];

/// How a version knows an event.
#[derive(Clone, Debug)]
pub struct EventPresence {
    pub version: usize,
    /// `installed`, `inline`, `installed+inline` or `undocumented`.
    pub doc: String,
    pub classes: Vec<String>,
    pub since: Vec<String>,
    pub modules: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    /// `channel` or `bridge`.
    pub kind: String,
    pub prefix: String,
}

#[derive(Clone, Debug)]
pub struct Field {
    pub key: String,
    pub enum_values: Vec<String>,
    pub repeat: bool,
    /// `printf` pattern of a numbered family (`Report%dSourceSSRC`).
    pub numbered: Option<String>,
    /// Versions that write it, and whether any documents it.
    pub versions: BTreeSet<usize>,
    pub documented: bool,
}

#[derive(Clone, Debug)]
pub struct Event {
    /// The documented name of the newest version that has it.
    pub name: String,
    /// The name on the wire.
    pub wire: String,
    pub presence: Vec<EventPresence>,
    pub snapshots: Vec<Snapshot>,
    pub fields: Vec<Field>,
    pub item_of: BTreeSet<String>,
    pub complete_of: BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct ActionPresence {
    pub version: usize,
    pub since: Vec<String>,
    pub privilege: String,
    pub registered: bool,
    pub modules: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub key: String,
    /// Required by the newest version listing it.
    pub required: bool,
    /// Versions where it is required.
    pub required_in: BTreeSet<usize>,
    pub enum_values: Vec<String>,
    pub default: Option<String>,
    pub repeatable: bool,
    pub numbered: Option<String>,
    pub versions: BTreeSet<usize>,
    /// Read by the handler but not documented.
    pub undocumented: bool,
}

#[derive(Clone, Debug)]
pub struct List {
    pub items: Vec<String>,
    pub complete: String,
    pub plain_success_possible: bool,
}

#[derive(Clone, Debug)]
pub struct Action {
    pub name: String,
    pub presence: Vec<ActionPresence>,
    pub params: Vec<Param>,
    pub list: Option<List>,
    pub async_event: Option<String>,
    pub reads_all_headers: bool,
}

#[derive(Debug)]
pub struct Api {
    pub events: Vec<Event>,
    pub actions: Vec<Action>,
    /// Enumerated values of the snapshot fields (`BridgeVideoSourceMode`).
    pub snapshot_enums: BTreeMap<String, Vec<String>>,
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn is_framing(key: &str) -> bool {
    FRAMING.iter().any(|f| f.eq_ignore_ascii_case(key))
}

fn union(into: &mut Vec<String>, more: &[String]) {
    for v in more {
        if !into.iter().any(|x| x == v) {
            into.push(v.clone());
        }
    }
}

impl Event {
    fn add_field(&mut self, version: usize, f: Field) {
        if is_framing(&f.key) {
            return;
        }
        match self
            .fields
            .iter_mut()
            .find(|x| x.key.eq_ignore_ascii_case(&f.key))
        {
            Some(x) => {
                union(&mut x.enum_values, &f.enum_values);
                x.repeat |= f.repeat;
                x.documented |= f.documented;
                x.versions.insert(version);
                if x.numbered.is_none() {
                    x.numbered = f.numbered;
                }
            }
            None => self.fields.push(f),
        }
    }

    /// Whether a snapshot of this event reads `key`.
    pub fn snapshot_covers(&self, key: &str) -> bool {
        self.snapshots.iter().any(|s| {
            let names: &[&str] = if s.kind == "channel" {
                &CHANNEL_FIELDS
            } else {
                &BRIDGE_FIELDS
            };
            names
                .iter()
                .any(|n| format!("{}{}", s.prefix, n).eq_ignore_ascii_case(key))
        })
    }

    pub fn versions(&self) -> BTreeSet<usize> {
        self.presence.iter().map(|p| p.version).collect()
    }
}

fn field(version: usize, key: &str, doc: Option<&Value>, documented: bool) -> Field {
    let get = |k: &str| doc.and_then(|d| d.get(k));
    Field {
        key: key.to_string(),
        enum_values: get("enum").map(strs).unwrap_or_default(),
        repeat: get("multiple").and_then(Value::as_bool).unwrap_or(false),
        numbered: get("numbered").and_then(Value::as_str).map(str::to_string),
        versions: BTreeSet::from([version]),
        documented,
    }
}

fn merge_event(events: &mut Vec<Event>, version: usize, e: &Value, documented: bool) {
    let name = e["name"].as_str().expect("event name").to_string();
    let wire = e
        .get("source_name")
        .and_then(Value::as_str)
        .unwrap_or(&name)
        .to_string();
    let idx = match events
        .iter()
        .position(|x| x.wire.eq_ignore_ascii_case(&wire))
    {
        Some(i) => i,
        None => {
            events.push(Event {
                name: name.clone(),
                wire: wire.clone(),
                presence: Vec::new(),
                snapshots: Vec::new(),
                fields: Vec::new(),
                item_of: BTreeSet::new(),
                complete_of: BTreeSet::new(),
            });
            events.len() - 1
        }
    };
    let ev = &mut events[idx];
    let classes = if e.get("source_classes").is_some() {
        strs(&e["source_classes"])
    } else {
        strs(&e["classes"])
    };
    ev.presence.push(EventPresence {
        version,
        doc: if documented {
            e["doc"].as_str().unwrap_or("installed").to_string()
        } else {
            "undocumented".to_string()
        },
        classes,
        since: strs(&e["since"]),
        modules: strs(&e["modules"]),
    });
    for s in e["snapshots"].as_array().into_iter().flatten() {
        let kind = s["kind"].as_str().unwrap().to_string();
        let prefix = s["prefix"].as_str().unwrap().to_string();
        if !ev
            .snapshots
            .iter()
            .any(|x| x.kind == kind && x.prefix == prefix)
        {
            ev.snapshots.push(Snapshot { kind, prefix });
        }
    }
    if documented {
        for f in e["fields"].as_array().into_iter().flatten() {
            let key = f["name"].as_str().unwrap();
            ev.add_field(version, field(version, key, Some(f), true));
        }
    } else {
        for key in strs(&e["fields"]) {
            ev.add_field(version, field(version, &key, None, false));
        }
    }
    for key in strs(&e["source_fields_not_in_doc"]) {
        ev.add_field(version, field(version, &key, None, false));
    }
    ev.item_of.extend(strs(&e["list_item_of"]));
    ev.complete_of.extend(strs(&e["list_complete_of"]));
}

fn merge_action(actions: &mut Vec<Action>, version: usize, a: &Value) {
    let name = a["name"].as_str().expect("action name").to_string();
    let idx = match actions
        .iter()
        .position(|x| x.name.eq_ignore_ascii_case(&name))
    {
        Some(i) => i,
        None => {
            actions.push(Action {
                name: name.clone(),
                presence: Vec::new(),
                params: Vec::new(),
                list: None,
                async_event: None,
                reads_all_headers: false,
            });
            actions.len() - 1
        }
    };
    let act = &mut actions[idx];
    act.presence.push(ActionPresence {
        version,
        since: strs(&a["since"]),
        privilege: a["privilege"].as_str().unwrap_or("").to_string(),
        registered: a["registered"].as_bool().unwrap_or(true),
        modules: strs(&a["modules"]),
    });
    act.reads_all_headers |= a
        .get("reads_all_headers")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if act.async_event.is_none() {
        act.async_event = a
            .get("async_event")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    if act.list.is_none() {
        if let Some(l) = a.get("list").filter(|l| !l.is_null()) {
            act.list = Some(List {
                items: strs(&l["items"]),
                complete: l["complete"].as_str().unwrap_or("").to_string(),
                plain_success_possible: l["framing"]
                    .get("plain_success_possible")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            });
        }
    }
    let mut add = |p: Param| {
        if p.key.eq_ignore_ascii_case("ActionID") {
            return;
        }
        match act
            .params
            .iter_mut()
            .find(|x| x.key.eq_ignore_ascii_case(&p.key))
        {
            Some(x) => {
                union(&mut x.enum_values, &p.enum_values);
                x.versions.insert(version);
                x.required_in.extend(p.required_in);
                x.repeatable |= p.repeatable;
                if x.default.is_none() {
                    x.default = p.default;
                }
            }
            None => act.params.push(p),
        }
    };
    for p in a["parameters"].as_array().into_iter().flatten() {
        let required = p["required"].as_bool().unwrap_or(false);
        let mut key = p["name"].as_str().unwrap().to_string();
        let mut numbered = p
            .get("numbered")
            .and_then(Value::as_str)
            .map(str::to_string);
        // Asterisk 11 names the numbered families `Cat-XXXXXX` (no
        // pattern); later versions `Cat-000000` with `Cat-%06d`.
        if let Some(stem) = key.strip_suffix("-XXXXXX") {
            numbered = Some(format!("{stem}-%06d"));
            key = format!("{stem}-000000");
        }
        add(Param {
            key,
            required: required && numbered.is_none(),
            required_in: if required {
                BTreeSet::from([version])
            } else {
                BTreeSet::new()
            },
            enum_values: strs(&p["enum"]),
            default: p.get("default").and_then(Value::as_str).map(str::to_string),
            repeatable: p
                .get("repeatable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            numbered,
            versions: BTreeSet::from([version]),
            undocumented: false,
        });
    }
    for key in strs(&a["source_headers_not_in_doc"]) {
        add(Param {
            key,
            required: false,
            required_in: BTreeSet::new(),
            enum_values: Vec::new(),
            default: None,
            repeatable: false,
            numbered: None,
            versions: BTreeSet::from([version]),
            undocumented: true,
        });
    }
}

/// Read and merge the three versions' files in `dir`.
pub fn load(dir: &Path) -> Result<Api, String> {
    let mut events = Vec::new();
    let mut actions = Vec::new();
    let mut snapshot_enums = BTreeMap::new();
    for (version, v) in VERSIONS.iter().enumerate() {
        let path = dir.join(format!("asterisk-{v}.json"));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if doc["asterisk"].as_str() != Some(v) {
            return Err(format!("{}: not Asterisk {v}", path.display()));
        }
        for e in doc["events"].as_array().into_iter().flatten() {
            merge_event(&mut events, version, e, true);
        }
        for e in doc["events_undocumented"].as_array().into_iter().flatten() {
            merge_event(&mut events, version, e, false);
        }
        for a in doc["actions"].as_array().into_iter().flatten() {
            merge_action(&mut actions, version, a);
        }
        if let Some(snaps) = doc["snapshots"].as_object() {
            for s in snaps.values() {
                for f in s["fields"].as_array().into_iter().flatten() {
                    let values = strs(&f["enum"]);
                    if !values.is_empty() {
                        let e = snapshot_enums
                            .entry(f["name"].as_str().unwrap().to_string())
                            .or_insert_with(Vec::new);
                        union(e, &values);
                    }
                }
            }
        }
    }
    // Fields a snapshot reads are the snapshot's, whichever version wrote
    // them out one by one (Asterisk 11 has no snapshots).
    for ev in &mut events {
        let covered: Vec<bool> = ev
            .fields
            .iter()
            .map(|f| ev.snapshot_covers(&f.key))
            .collect();
        let mut i = 0;
        ev.fields.retain(|_| {
            i += 1;
            !covered[i - 1]
        });
    }
    Ok(Api {
        events,
        actions,
        snapshot_enums,
    })
}
