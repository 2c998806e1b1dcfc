//! Which events the server will send this session, as far as the
//! connection can know for certain: the event mask and the filters the
//! server accepted. Used to refuse an async `Originate` whose
//! `OriginateResponse` could never arrive.
//!
//! Facts from `main/manager.c` (Asterisk 11.25.3, 13.38.3 and 22.10.1 alike):
//! - a session starts with every event class on (`send_events = -1`); the
//!   login's `Events:` header and the `Events` action's `EventMask:` set it
//!   through `strings_to_mask`: an empty value changes nothing, digits are
//!   an integer mask, `ast_false` words are 0, `ast_true` words are every
//!   class, anything else is a comma list read by `get_perm`/`ast_instring`
//!   (a list item other than the last matches a class name it is a prefix
//!   of, `c,system` included; the last item must equal it; `all` is every
//!   class). The `Events` action answers `Response: Success` once applied.
//! - an event reaches a session only if `(send_events & class) == class`;
//!   `OriginateResponse` is sent in the `call` class.
//! - `Filter` (`Operation: Add`, answered `Success` once added) without
//!   `MatchCriteria` is a regular expression searched in the whole event
//!   text, `!` in front making it an exclude filter; an event matching any
//!   exclude filter is never sent, whatever else is configured. Every event
//!   text starts `Event: <name>\r\nPrivilege: <classes>,all\r\n`.
//!
//! What stays unknown, so never causes a refusal: the user's read classes
//! (`manager.conf`), filters configured for the user in `manager.conf`,
//! include filters (one of them, or a `manager.conf` one, may match), and
//! filters with `MatchCriteria` (servers before 18.26/20.11/21.6/22.1
//! ignore the header and read `Filter:` as a legacy regex, and the AMI
//! version of the banner does not tell them apart).

use crate::action::Action;
use crate::error::Unanswerable;

/// What an action does to the session's event scope once the server
/// accepts it (most actions: nothing, and no [`Effect`] at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// An `Events` action: its `EventMask` and what it does to `call`.
    Mask(MaskChange),
    /// A `Filter` that, once accepted, drops every `OriginateResponse`
    /// (the filter as sent). Other filters are not tracked.
    DropsOriginateResponse(Box<str>),
}

/// A mask as sent, and whether it lets `call` events through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MaskChange {
    /// The value sent, for error messages.
    pub(crate) text: Box<str>,
    /// `Some(yes)` once applied; `None`: the value leaves the mask as it
    /// was (empty), or its effect cannot be known (an integer too large
    /// for Asterisk's `atoi`).
    pub(crate) calls: Option<bool>,
    /// The value is empty: the server keeps the mask (and answers an
    /// `Events` action with an error).
    pub(crate) keeps: bool,
}

impl MaskChange {
    /// The change a mask value makes, read as `strings_to_mask` reads it.
    pub(crate) fn of(value: &[u8]) -> MaskChange {
        let text: Box<str> = String::from_utf8_lossy(value).into();
        // `astman_get_header` skips leading bytes below 33.
        let start = value.iter().take_while(|&&b| b < 33).count();
        let v = &value[start..];
        let (calls, keeps) = match v {
            [] => (None, true),
            _ if v.iter().all(u8::is_ascii_digit) => {
                // `atoi`: fine below 10 digits; beyond, C leaves it undefined.
                let n = (v.len() < 10)
                    .then(|| std::str::from_utf8(v).ok()?.parse::<u32>().ok())
                    .flatten();
                (n.map(|n| n & CALL != 0), false)
            }
            _ if is_false(v) => (Some(false), false),
            _ if is_true(v) => (Some(true), false),
            _ => (Some(in_list(v, b"call") || in_list(v, b"all")), false),
        };
        MaskChange { text, calls, keeps }
    }
}

/// The `call` class bit (`EVENT_FLAG_CALL`).
const CALL: u32 = 1 << 1;

/// `ast_true` (`1` never gets here: digits are read first).
fn is_true(v: &[u8]) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t.as_bytes()))
}

/// `ast_false`.
fn is_false(v: &[u8]) -> bool {
    ["no", "false", "n", "f", "0", "off"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t.as_bytes()))
}

/// `ast_instring(list, label, ',')` of main/manager.c: every item but the
/// last matches when it is a prefix of `label` (the empty item included);
/// the last item must equal it. Case-sensitive.
fn in_list(list: &[u8], label: &[u8]) -> bool {
    let mut items = list.split(|&b| b == b',').peekable();
    while let Some(item) = items.next() {
        let last = items.peek().is_none();
        if last {
            // A trailing comma ends the loop before an empty last item.
            return !item.is_empty() && item == label;
        }
        if label.starts_with(item) {
            return true;
        }
    }
    false
}

/// What `action` does to the scope, decided when it is submitted.
pub(crate) fn effect_of(action: &Action) -> Option<Effect> {
    if action.is("Events") {
        let value = action.get("EventMask").unwrap_or(b"");
        return Some(Effect::Mask(MaskChange::of(value)));
    }
    if action.is("Filter") && drops_originate_response(action) {
        let filter = String::from_utf8_lossy(action.get("Filter").unwrap_or(b""));
        return Some(Effect::DropsOriginateResponse(filter.into()));
    }
    None
}

/// The start of every `OriginateResponse` event's text, in 11, 13 and 22.
const ORIGINATE_RESPONSE_HEAD: [&[u8]; 2] = [b"Event: OriginateResponse", b"Privilege: call,all"];

/// Whether a `Filter` action, once accepted, certainly drops every
/// `OriginateResponse`: `Operation: Add`, no `MatchCriteria`, and a
/// `Filter: !<literal>` whose literal (no regex metacharacter, basic or
/// extended) is part of the text every such event starts with.
fn drops_originate_response(action: &Action) -> bool {
    let add = action
        .get("Operation")
        .is_some_and(|o| o.eq_ignore_ascii_case(b"Add"));
    let criteria = action
        .get("MatchCriteria")
        .is_some_and(|c| c.iter().any(|&b| b >= 33));
    if !add || criteria {
        return false;
    }
    let filter = action.get("Filter").unwrap_or(b"");
    let filter = &filter[filter.iter().take_while(|&&b| b < 33).count()..];
    let Some(literal) = filter.strip_prefix(b"!") else {
        return false;
    };
    const META: &[u8] = b".[]()*+?{}|^$\\";
    !literal.is_empty()
        && !literal.iter().any(|b| META.contains(b))
        && ORIGINATE_RESPONSE_HEAD
            .iter()
            .any(|line| line.windows(literal.len()).any(|w| w == literal))
}

/// The session's event scope as the server accepted it.
#[derive(Debug)]
pub(crate) struct Scope {
    /// Whether `call` events pass the mask: `None` when unknown.
    calls: Option<bool>,
    /// The mask in force, as sent.
    mask: Box<str>,
    /// `Events` actions submitted, not answered, that may let `call`
    /// events through.
    opening: usize,
    /// An accepted filter that drops every `OriginateResponse`.
    dropping: Option<Box<str>>,
}

impl Scope {
    /// A session that logs in with `Events: <login_mask>`.
    pub(crate) fn new(login_mask: &str) -> Scope {
        let change = MaskChange::of(login_mask.as_bytes());
        // Every class is on until the login sets the mask.
        let calls = if change.keeps {
            Some(true)
        } else {
            change.calls
        };
        Scope {
            calls,
            mask: change.text,
            opening: 0,
            dropping: None,
        }
    }

    /// Whether an `Events` action with this change, answered or not,
    /// leaves room for `call` events.
    fn may_open(change: &MaskChange) -> bool {
        change.calls != Some(false) && !change.keeps
    }

    /// An action with `effect` was submitted.
    pub(crate) fn submitted(&mut self, effect: &Effect) {
        if let Effect::Mask(change) = effect {
            if Scope::may_open(change) {
                self.opening += 1;
            }
        }
    }

    /// The server answered an action with `effect`; `accepted` when it
    /// answered `Success`.
    pub(crate) fn answered(&mut self, effect: &Effect, accepted: bool) {
        match effect {
            Effect::Mask(change) => {
                if Scope::may_open(change) {
                    self.opening -= 1;
                }
                if accepted && !change.keeps {
                    self.calls = change.calls;
                    self.mask = change.text.clone();
                }
            }
            Effect::DropsOriginateResponse(filter) => {
                if accepted && self.dropping.is_none() {
                    self.dropping = Some(filter.clone());
                }
            }
        }
    }

    /// An action with `effect` was forgotten without an answer; `written`
    /// when the server may have applied it.
    pub(crate) fn unanswered(&mut self, effect: &Effect, written: bool) {
        if let Effect::Mask(change) = effect {
            if Scope::may_open(change) {
                self.opening -= 1;
            }
            if written && !change.keeps && change.calls != self.calls {
                self.calls = None;
            }
        }
    }

    /// Why an async `Originate` submitted now could never finish, if that
    /// is certain.
    pub(crate) fn refuses_async_originate(&self) -> Option<Unanswerable> {
        if let Some(filter) = &self.dropping {
            return Some(Unanswerable::FilterDropsOriginateResponse {
                filter: filter.to_string(),
            });
        }
        (self.calls == Some(false) && self.opening == 0).then(|| {
            Unanswerable::EventMaskExcludesCall {
                mask: self.mask.to_string(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(v: &str) -> Option<bool> {
        MaskChange::of(v.as_bytes()).calls
    }

    #[test]
    fn masks_read_as_strings_to_mask() {
        for on in [
            "on",
            "ON",
            "yes",
            "true",
            "t",
            "y",
            "all",
            "call",
            "system,call",
        ] {
            assert_eq!(calls(on), Some(true), "{on}");
        }
        for off in [
            "off",
            "no",
            "0",
            "false",
            "none",
            "system",
            "system,agent",
            "Call",
            "call ",
        ] {
            assert_eq!(calls(off), Some(false), "{off}");
        }
        // Digits are an integer mask: 2 is `call`, 1 is `system` only.
        assert_eq!(calls("2"), Some(true));
        assert_eq!(calls("1"), Some(false));
        assert_eq!(calls("3"), Some(true));
        assert_eq!(calls("99999999999"), None, "atoi overflow");
        // Leading blanks are skipped, as astman_get_header does.
        assert_eq!(calls("  call"), Some(true));
        // ast_instring: an item before a comma matches when it is a prefix.
        assert_eq!(calls("c,system"), Some(true));
        assert_eq!(calls(",system"), Some(true), "the empty item matches all");
        assert_eq!(calls("system,"), Some(false));
        assert_eq!(calls("calls,system"), Some(false));
        assert_eq!(
            calls("system,cal"),
            Some(false),
            "the last item must be exact"
        );
        assert!(MaskChange::of(b"").keeps);
        assert!(MaskChange::of(b"  ").keeps);
    }

    fn filter(f: &str) -> bool {
        drops_originate_response(&Action::filter_add(f.to_owned()))
    }

    #[test]
    fn only_certain_exclude_filters_count() {
        assert!(filter("!Event: OriginateResponse"));
        assert!(filter("!OriginateResponse"));
        assert!(filter("!Privilege: call"));
        assert!(filter("!call"));
        assert!(!filter("Event: OriginateResponse"), "an include filter");
        assert!(!filter("!Event: Originate.*"), "a regex");
        assert!(!filter("!Event: Hangup"));
        assert!(!filter("!originateresponse"), "case-sensitive");
        assert!(!filter("!"));
        let advanced = Action::filter_add("!Event: OriginateResponse")
            .header("MatchCriteria", "action(exclude)");
        assert!(!drops_originate_response(&advanced));
        let remove = Action::new("Filter")
            .header("Operation", "Remove")
            .header("Filter", "!Event: OriginateResponse");
        assert!(!drops_originate_response(&remove));
    }

    #[test]
    fn pending_mask_changes_make_it_uncertain() {
        let mut s = Scope::new("off");
        assert!(s.refuses_async_originate().is_some());
        let on = effect_of(&Action::events(&crate::EventMask::On)).unwrap();
        s.submitted(&on);
        assert!(s.refuses_async_originate().is_none());
        s.answered(&on, true);
        assert!(s.refuses_async_originate().is_none());
        let off = effect_of(&Action::events(&crate::EventMask::Off)).unwrap();
        s.submitted(&off);
        s.answered(&off, true);
        assert!(s.refuses_async_originate().is_some());
        // Refused by the server: nothing changes.
        s.submitted(&on);
        s.answered(&on, false);
        assert!(s.refuses_async_originate().is_some());
        // Written, never answered: the server may have applied it.
        s.submitted(&on);
        s.unanswered(&on, true);
        assert!(s.refuses_async_originate().is_none());
        // An empty login mask leaves every class on.
        assert!(Scope::new("").refuses_async_originate().is_none());
    }
}
