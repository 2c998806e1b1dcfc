//! From the merged facts to what is emitted: Rust names, types, enums and
//! doc lines (facts only: versions, classes, modules, keys, values).

use std::collections::{BTreeMap, BTreeSet};

use crate::curate::{self, Ty};
use crate::model::{Action, Api, Event, VERSIONS};
use crate::names::{camel, snake, type_name};

#[derive(Debug)]
pub struct EnumDef {
    pub name: String,
    /// `(variant, wire value)`.
    pub values: Vec<(String, String)>,
    /// `(event type, accessor)` using it.
    pub used_by: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Text,
    List,
    Pairs,
    Typed(Ty),
    Numbered {
        ty: Ty,
        width: usize,
        suffix: String,
    },
}

#[derive(Debug)]
pub struct PField {
    pub name: String,
    /// The key (for a numbered family, the part before the number).
    pub key: String,
    pub kind: Kind,
    pub doc: Vec<String>,
}

#[derive(Debug)]
pub struct PSnapshot {
    pub name: String,
    pub kind: &'static str,
    pub prefix: String,
    pub doc: String,
}

#[derive(Debug)]
pub struct PEvent {
    pub ty: String,
    pub wire: String,
    pub doc: Vec<String>,
    pub snapshots: Vec<PSnapshot>,
    pub fields: Vec<PField>,
}

#[derive(Debug)]
pub enum PKind {
    Value,
    Variables,
    Numbered { width: usize, suffix: String },
}

#[derive(Debug)]
pub struct PParam {
    pub name: String,
    pub key: String,
    pub kind: PKind,
    pub doc: Vec<String>,
}

#[derive(Debug)]
pub struct PAction {
    pub ty: String,
    pub wire: String,
    pub doc: Vec<String>,
    pub required: Vec<PParam>,
    pub optional: Vec<PParam>,
    pub reply: String,
    pub empty_list_ok: bool,
}

#[derive(Debug)]
pub struct Plan {
    pub events: Vec<PEvent>,
    pub actions: Vec<PAction>,
    pub enums: Vec<EnumDef>,
}

fn version_list(vs: &BTreeSet<usize>) -> String {
    vs.iter()
        .map(|&v| VERSIONS[v])
        .collect::<Vec<_>>()
        .join(", ")
}

fn code_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Report%dSourceSSRC` → (`Report`, 0, `SourceSSRC`); `Action-%06d` →
/// (`Action-`, 6, ``).
fn split_pattern(p: &str) -> Result<(String, usize, String), String> {
    let at = p.find('%').ok_or_else(|| format!("numbered pattern {p}"))?;
    let rest = &p[at + 1..];
    let end = rest
        .find(['d', 'u'])
        .ok_or_else(|| format!("numbered pattern {p}"))?;
    let width = rest[..end].trim_start_matches('0');
    let width = if width.is_empty() {
        0
    } else {
        width.parse().map_err(|_| format!("numbered pattern {p}"))?
    };
    Ok((p[..at].to_string(), width, rest[end + 1..].to_string()))
}

fn value_set(values: &[String]) -> Vec<String> {
    let mut v: Vec<String> = values.to_vec();
    v.sort();
    v
}

/// Generated enumerations: one per distinct set of values, named after the
/// field (or event and field when two sets share a field name).
/// Enum type names by `(event, field)`, lower case.
type EnumNames = BTreeMap<(String, String), String>;

/// A set of values: sorted, in first-seen order, and its `(event, field)`
/// users.
type ValueGroup = (Vec<String>, Vec<String>, Vec<(String, String)>);

fn plan_enums(api: &Api) -> Result<(Vec<EnumDef>, EnumNames), String> {
    let mut groups: Vec<ValueGroup> = Vec::new();
    for ev in &api.events {
        for f in &ev.fields {
            if f.enum_values.is_empty()
                || curate::field_type(&ev.name, &f.key, &f.enum_values).is_some()
            {
                continue;
            }
            let set = value_set(&f.enum_values);
            match groups.iter_mut().find(|g| g.0 == set) {
                Some(g) => g.2.push((ev.name.clone(), f.key.clone())),
                None => groups.push((
                    set,
                    f.enum_values.clone(),
                    vec![(ev.name.clone(), f.key.clone())],
                )),
            }
        }
    }
    let mut by_field: BTreeMap<String, usize> = BTreeMap::new();
    for g in &groups {
        *by_field.entry(camel(&g.2[0].1)).or_default() += 1;
    }
    let mut enums = Vec::new();
    let mut names = BTreeMap::new();
    for (_, values, members) in groups {
        let (first_event, first_field) = &members[0];
        let chosen = curate::ENUM_NAMES.iter().find(|(e, f, _)| {
            members
                .iter()
                .any(|(me, mf)| me.eq_ignore_ascii_case(e) && mf.eq_ignore_ascii_case(f))
        });
        let name = match chosen {
            Some((_, _, n)) => n.to_string(),
            None if by_field[&camel(first_field)] == 1 => camel(first_field),
            None => format!("{}{}", type_name(first_event), camel(first_field)),
        };
        let values = variants(first_event, &values)?;
        for (e, f) in &members {
            names.insert(
                (e.to_ascii_lowercase(), f.to_ascii_lowercase()),
                name.clone(),
            );
        }
        enums.push(EnumDef {
            name,
            values,
            used_by: members,
        });
    }
    for (field, values) in &api.snapshot_enums {
        if curate::field_type("", field, values).is_none() {
            enums.push(EnumDef {
                name: field.clone(),
                values: variants("", values)?,
                used_by: vec![("bridge snapshot".into(), field.clone())],
            });
        }
    }
    enums.sort_by(|a, b| a.name.cmp(&b.name));
    for w in enums.windows(2) {
        if w[0].name == w[1].name {
            return Err(format!("two enumerations named {}", w[0].name));
        }
    }
    Ok((enums, names))
}

fn variants(event: &str, values: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for v in values {
        let name = match curate::variant_name(event, v) {
            Some(n) => n.to_string(),
            None => {
                let c = camel(v);
                if c.is_empty() || c.starts_with(|ch: char| ch.is_ascii_digit()) {
                    return Err(format!("{event}: no variant name for value {v:?}"));
                }
                c
            }
        };
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("{event}: two values named {name}"));
        }
        out.push((name, v.clone()));
    }
    Ok(out)
}

fn event_doc(ev: &Event, api: &Api, action_types: &BTreeMap<String, String>) -> Vec<String> {
    let mut doc = vec![format!("The `{}` event.", ev.wire), String::new()];
    let mut lines = Vec::new();
    for p in &ev.presence {
        let how = match p.doc.as_str() {
            "installed" => "documented".to_string(),
            "inline" => "documented inline".to_string(),
            "installed+inline" => "documented".to_string(),
            _ => "undocumented; fields from the source".to_string(),
        };
        let since = if p.since.is_empty() {
            String::new()
        } else {
            format!(", since {}", p.since.join(" / "))
        };
        lines.push(format!("{} ({how}{since})", VERSIONS[p.version]));
    }
    doc.push(format!("- Asterisk {}", lines.join(", ")));
    let classes: BTreeSet<&String> = ev.presence.iter().flat_map(|p| &p.classes).collect();
    if !classes.is_empty() {
        doc.push(format!(
            "- Class: {}",
            code_list(&classes.into_iter().cloned().collect::<Vec<_>>())
        ));
    }
    let modules: BTreeSet<&String> = ev.presence.iter().flat_map(|p| &p.modules).collect();
    if !modules.is_empty() {
        doc.push(format!(
            "- Module: {}",
            code_list(&modules.into_iter().cloned().collect::<Vec<_>>())
        ));
    }
    let link = |names: &BTreeSet<String>| {
        names
            .iter()
            .filter_map(|n| {
                let a = api
                    .actions
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(n))?;
                let ty = &action_types[&a.name];
                Some(format!("[`{n}`](crate::types::actions::{ty})"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !ev.item_of.is_empty() {
        doc.push(format!("- List item of {}", link(&ev.item_of)));
    }
    if !ev.complete_of.is_empty() {
        doc.push(format!("- Ends the list of {}", link(&ev.complete_of)));
    }
    doc
}

fn field_doc(ev: &Event, key: &str, versions: &BTreeSet<usize>, documented: bool) -> Vec<String> {
    let mut doc = vec![format!("`{key}`.")];
    let all = ev.versions();
    if versions != &all {
        doc.push(String::new());
        doc.push(format!("Asterisk {} only.", version_list(versions)));
    }
    if !documented {
        doc.push(String::new());
        doc.push("Not documented; written by Asterisk's source.".into());
    }
    doc
}

fn plan_event(
    ev: &Event,
    api: &Api,
    enum_names: &EnumNames,
    action_types: &BTreeMap<String, String>,
) -> Result<PEvent, String> {
    let ty = type_name(&ev.name);
    let mut snapshots = Vec::new();
    for s in &ev.snapshots {
        let (kind, name) = match (s.kind.as_str(), s.prefix.as_str()) {
            ("channel", "") => ("Channel", "channel".to_string()),
            ("bridge", "") => ("Bridge", "bridge".to_string()),
            ("channel", p) => ("Channel", snake(p)),
            (_, p) => ("Bridge", format!("{}_bridge", snake(p))),
        };
        let doc = if s.prefix.is_empty() {
            format!(
                "The {} snapshot (`{}…`).",
                s.kind,
                if kind == "Channel" {
                    "Channel"
                } else {
                    "Bridge"
                }
            )
        } else {
            format!(
                "The {} snapshot prefixed `{}` (`{}{}…`).",
                s.kind,
                s.prefix,
                s.prefix,
                if kind == "Channel" {
                    "Channel"
                } else {
                    "Bridge"
                }
            )
        };
        snapshots.push(PSnapshot {
            name,
            kind,
            prefix: s.prefix.clone(),
            doc,
        });
    }
    let mut fields = Vec::new();
    let same = |a: &PField, b: &PField| {
        let suffix = |k: &Kind| match k {
            Kind::Numbered { suffix, .. } => Some(suffix.to_ascii_lowercase()),
            _ => None,
        };
        a.key.eq_ignore_ascii_case(&b.key) && suffix(&a.kind) == suffix(&b.kind)
    };
    let mut add = |f: PField| -> Result<(), String> {
        if fields.iter().any(|x: &PField| same(x, &f)) {
            return Ok(());
        }
        fields.push(f);
        Ok(())
    };
    for f in &ev.fields {
        let ty = match curate::field_type(&ev.name, &f.key, &f.enum_values) {
            Some(t) => t,
            None => Ty::Named(
                enum_names
                    .get(&(ev.name.to_ascii_lowercase(), f.key.to_ascii_lowercase()))
                    .ok_or_else(|| format!("{}: {} has no enum", ev.name, f.key))?
                    .clone(),
            ),
        };
        let doc = field_doc(ev, &f.key, &f.versions, f.documented);
        let (name, key, kind) = if let Some(p) = &f.numbered {
            let (prefix, width, suffix) = split_pattern(p)?;
            (
                snake(&format!("{prefix}{suffix}")),
                prefix,
                Kind::Numbered { ty, width, suffix },
            )
        } else if f.repeat
            && curate::PAIR_FIELDS
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&f.key))
        {
            (snake(&f.key), f.key.clone(), Kind::Pairs)
        } else if f.repeat {
            (snake(&f.key), f.key.clone(), Kind::List)
        } else if ty == Ty::Text {
            (snake(&f.key), f.key.clone(), Kind::Text)
        } else {
            (snake(&f.key), f.key.clone(), Kind::Typed(ty))
        };
        add(PField {
            name,
            key,
            kind,
            doc,
        })?;
    }
    let list_end = !ev.complete_of.is_empty()
        || api.actions.iter().any(|a| {
            a.list
                .as_ref()
                .is_some_and(|l| l.complete.eq_ignore_ascii_case(&ev.wire))
        });
    for (key, kind) in curate::extra_fields(&ev.name, list_end) {
        let kind = match kind {
            "pairs" => Kind::Pairs,
            "text" => Kind::Text,
            "u32" => Kind::Typed(Ty::U32),
            other => return Err(format!("extra field kind {other}")),
        };
        let doc = vec![
            format!("`{key}`."),
            String::new(),
            "Not documented; written by Asterisk's source.".into(),
        ];
        add(PField {
            name: snake(key),
            key: key.to_string(),
            kind,
            doc,
        })?;
    }
    // Accessor names must not clash with each other, the snapshots or the
    // trait's methods.
    const RESERVED: &[&str] = &[
        "privilege",
        "timestamp",
        "sequence_number",
        "system_name",
        "extra_headers",
        "matches",
        "from_packet",
        "into_packet",
        "packet",
        "parse",
        "wrap",
        "new",
        // Trait methods an inherent method would hide.
        "clone",
        "eq",
        "ne",
        "fmt",
        "deref",
        "as_ref",
        "into",
        "from",
        "to_owned",
        "to_string",
        "borrow",
        "hash",
        "cmp",
        "partial_cmp",
    ];
    let mut seen: BTreeSet<String> = snapshots.iter().map(|s| s.name.clone()).collect();
    for f in &mut fields {
        if RESERVED.contains(&f.name.as_str()) || seen.contains(&f.name) {
            let renamed = format!("{}_", f.name);
            if seen.contains(&renamed) {
                return Err(format!("{}: accessor {} clashes", ev.name, f.name));
            }
            f.name = renamed;
        }
        seen.insert(f.name.clone());
    }
    Ok(PEvent {
        ty,
        wire: ev.wire.clone(),
        doc: event_doc(ev, api, action_types),
        snapshots,
        fields,
    })
}

fn classes(privilege: &str) -> String {
    let parts: Vec<String> = privilege
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "all" && *p != "<none>")
        .map(str::to_string)
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        code_list(&parts)
    }
}

fn action_doc(a: &Action, reply: &str) -> Vec<String> {
    let mut doc = vec![format!("The `{}` action.", a.name), String::new()];
    let mut lines = Vec::new();
    for p in &a.presence {
        let mut notes = Vec::new();
        if !p.since.is_empty() {
            notes.push(format!("since {}", p.since.join(" / ")));
        }
        if !p.registered {
            notes.push("documented but not registered: the server refuses it".into());
        }
        if notes.is_empty() {
            lines.push(VERSIONS[p.version].to_string());
        } else {
            lines.push(format!("{} ({})", VERSIONS[p.version], notes.join("; ")));
        }
    }
    doc.push(format!("- Asterisk {}", lines.join(", ")));
    let privs: BTreeSet<&String> = a.presence.iter().map(|p| &p.privilege).collect();
    if privs.len() == 1 {
        doc.push(format!(
            "- Class needed: {}",
            classes(&a.presence[0].privilege)
        ));
    } else {
        let per: Vec<String> = a
            .presence
            .iter()
            .map(|p| format!("{} in {}", classes(&p.privilege), VERSIONS[p.version]))
            .collect();
        doc.push(format!("- Class needed: {}", per.join("; ")));
    }
    let modules: BTreeSet<&String> = a.presence.iter().flat_map(|p| &p.modules).collect();
    if !modules.is_empty() {
        doc.push(format!(
            "- Module: {}",
            code_list(&modules.into_iter().cloned().collect::<Vec<_>>())
        ));
    }
    doc.push(format!("- Reply: {reply}"));
    if a.reads_all_headers {
        doc.push("- Reads every header sent: add your own with `header`.".into());
    }
    doc
}

fn plan_action(
    a: &Action,
    api: &Api,
    event_types: &BTreeMap<String, String>,
) -> Result<PAction, String> {
    let ty = type_name(&a.name);
    let all: BTreeSet<usize> = a.presence.iter().map(|p| p.version).collect();
    let mut required = Vec::new();
    let mut optional = Vec::new();
    let mut has_variables = false;
    for p in &a.params {
        if curate::PLACEHOLDER_PARAMS
            .iter()
            .any(|(an, pn)| an.eq_ignore_ascii_case(&a.name) && pn.eq_ignore_ascii_case(&p.key))
        {
            continue;
        }
        let mut doc = vec![format!("`{}`.", p.key.replace("-000000", "-NNNNNN"))];
        let mut notes = Vec::new();
        if let Some(d) = &p.default {
            notes.push(format!("Default `{d}`."));
        }
        if !p.enum_values.is_empty() {
            notes.push(format!("Values: {}.", code_list(&p.enum_values)));
        }
        if p.versions != all {
            notes.push(format!("Asterisk {} only.", version_list(&p.versions)));
        }
        let req_elsewhere: BTreeSet<usize> = p.required_in.iter().copied().collect();
        if !p.required && !req_elsewhere.is_empty() {
            notes.push(format!("Required by {}.", version_list(&req_elsewhere)));
        }
        if p.undocumented {
            notes.push("Not documented; read by the handler.".into());
        }
        if !notes.is_empty() {
            doc.push(String::new());
            doc.push(notes.join(" "));
        }
        let (name, key, kind) = if let Some(pat) = &p.numbered {
            let (prefix, width, suffix) = split_pattern(pat)?;
            (
                snake(&format!("{prefix}{suffix}")),
                prefix,
                PKind::Numbered { width, suffix },
            )
        } else if p.repeatable {
            has_variables = true;
            (snake(&p.key), p.key.clone(), PKind::Variables)
        } else {
            (snake(&p.key), p.key.clone(), PKind::Value)
        };
        let param = PParam {
            name,
            key,
            kind,
            doc,
        };
        if p.required && matches!(param.kind, PKind::Value) {
            required.push(param);
        } else {
            optional.push(param);
        }
    }
    let mut reserved: Vec<&str> = vec!["new", "action_id", "header", "as_action", "into_action"];
    if has_variables {
        reserved.push("variables");
    }
    let mut seen = BTreeSet::new();
    for p in required.iter_mut().chain(optional.iter_mut()) {
        if reserved.contains(&p.name.as_str()) {
            p.name = format!("{}_param", p.name);
        }
        if !seen.insert(p.name.clone()) {
            return Err(format!("{}: two parameters named {}", a.name, p.name));
        }
    }
    let (reply, empty_list_ok, reply_doc) = reply_kind(a, api, event_types)?;
    Ok(PAction {
        ty,
        wire: a.name.clone(),
        doc: action_doc(a, &reply_doc),
        required,
        optional,
        reply,
        empty_list_ok,
    })
}

/// The reply type, whether a plain response is an empty list, and the
/// reply's doc.
fn reply_kind(
    a: &Action,
    api: &Api,
    event_types: &BTreeMap<String, String>,
) -> Result<(String, bool, String), String> {
    if let Some((_, r)) = curate::REPLIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&a.name))
    {
        let shown = r.replace("crate::types::", "").replace("crate::", "");
        let doc = match shown.as_str() {
            "Outcome" => "the untyped [`Outcome`](crate::Outcome).".to_string(),
            "Option<String>" => {
                "the value, `Option<String>` (`None` when empty or unset).".to_string()
            }
            "Vec<QueueStatusEntry>" => {
                "one [`QueueStatusEntry`](crate::types::QueueStatusEntry) per queue.".to_string()
            }
            other => {
                let path = r.trim_start_matches("crate::");
                format!("[`{other}`](crate::{path}).")
            }
        };
        return Ok((r.to_string(), false, doc));
    }
    let Some(list) = &a.list else {
        return Ok((
            "crate::Packet".into(),
            false,
            "the response [`Packet`](crate::Packet).".into(),
        ));
    };
    let empty_doc = if list.plain_success_possible {
        " (none when the server answers with a plain response)"
    } else {
        ""
    };
    let known: Vec<&String> = list
        .items
        .iter()
        .filter_map(|i| {
            api.events
                .iter()
                .find(|e| e.wire.eq_ignore_ascii_case(i) || e.name.eq_ignore_ascii_case(i))
                .map(|e| &event_types[&e.name])
        })
        .collect();
    if list.items.len() == 1 && known.len() == 1 {
        let t = known[0];
        return Ok((
            format!("Vec<crate::types::events::{t}>"),
            list.plain_success_possible,
            format!("the items, `Vec<`[`{t}`](crate::types::events::{t})`>`{empty_doc}; the list ends with `{}`.", list.complete),
        ));
    }
    Ok((
        "Vec<crate::types::events::TypedEvent>".into(),
        list.plain_success_possible,
        format!(
            "the items, `Vec<`[`TypedEvent`](crate::types::events::TypedEvent)`>` ({}){empty_doc}; the list ends with `{}`.",
            code_list(&list.items),
            list.complete
        ),
    ))
}

pub fn plan(api: &Api) -> Result<Plan, String> {
    let (enums, enum_names) = plan_enums(api)?;
    let event_types: BTreeMap<String, String> = api
        .events
        .iter()
        .map(|e| (e.name.clone(), type_name(&e.name)))
        .collect();
    let action_types: BTreeMap<String, String> = api
        .actions
        .iter()
        .map(|a| (a.name.clone(), type_name(&a.name)))
        .collect();
    let mut events = api
        .events
        .iter()
        .map(|e| plan_event(e, api, &enum_names, &action_types))
        .collect::<Result<Vec<_>, _>>()?;
    events.sort_by_key(|e| e.wire.to_ascii_lowercase());
    let mut actions = api
        .actions
        .iter()
        .map(|a| plan_action(a, api, &event_types))
        .collect::<Result<Vec<_>, _>>()?;
    actions.sort_by_key(|a| a.wire.to_ascii_lowercase());
    for list in [
        events.iter().map(|e| &e.ty).collect::<Vec<_>>(),
        actions.iter().map(|a| &a.ty).collect(),
    ] {
        let mut seen = BTreeSet::new();
        for t in list {
            if !seen.insert(t.to_ascii_lowercase()) {
                return Err(format!("two types named {t}"));
            }
        }
    }
    Ok(Plan {
        events,
        actions,
        enums,
    })
}
