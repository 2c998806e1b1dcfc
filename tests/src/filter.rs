//! Per-session event filters (`Action: Filter`, `Operation: Add`).
//!
//! Supported, as Asterisk 22 does it:
//! - legacy filters: `Filter: <regex>` includes events whose text matches,
//!   `Filter: !<regex>` excludes them. The regex (`regex-lite` syntax, close
//!   to POSIX extended for what filters use) is searched in the whole event,
//!   so `Event: Newchannel` and `!Event: VarSet` work as in Asterisk;
//! - advanced filters: `MatchCriteria: action(include|exclude),name(Event),
//!   header(Key),method(regex|exact|starts_with|ends_with|contains|none)`
//!   with `Filter:` the value to match (the header's value when `header()` is
//!   given, else the whole event). An empty `Filter:` with a criterion
//!   matches on the criterion alone.
//!
//! With include filters, an event must match one of them; then any matching
//! exclude filter drops it.

use amiproto::Packet;
use regex_lite::Regex;

/// Why a filter was refused (the texts are Asterisk's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FilterError {
    /// `Filter did not compile.  Check the syntax of the filter given.`
    Compile,
    /// `Filter was formatted incorrectly.  Check the syntax of the filter given.`
    Format,
}

impl FilterError {
    /// The `Message:` Asterisk answers with.
    pub(crate) fn message(self) -> &'static str {
        match self {
            FilterError::Compile => {
                "Filter did not compile.  Check the syntax of the filter given."
            }
            FilterError::Format => {
                "Filter was formatted incorrectly.  Check the syntax of the filter given."
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Method {
    Regex(Regex),
    Exact(Vec<u8>),
    StartsWith(Vec<u8>),
    EndsWith(Vec<u8>),
    Contains(Vec<u8>),
    Any,
}

impl Method {
    fn matches(&self, text: &[u8]) -> bool {
        match self {
            Method::Regex(re) => re.is_match(&String::from_utf8_lossy(text)),
            Method::Exact(v) => text == &v[..],
            Method::StartsWith(v) => text.starts_with(v),
            Method::EndsWith(v) => text.ends_with(v),
            Method::Contains(v) => {
                text.windows(v.len().max(1)).any(|w| w == &v[..]) || v.is_empty()
            }
            Method::Any => true,
        }
    }
}

/// One filter.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    exclude: bool,
    name: Option<String>,
    header: Option<String>,
    method: Method,
}

impl Filter {
    /// Parse a `Filter` action's `MatchCriteria` (may be empty) and `Filter`.
    pub(crate) fn parse(criteria: &str, filter: &str) -> Result<Filter, FilterError> {
        let compile = |s: &str| {
            Regex::new(s)
                .map(Method::Regex)
                .map_err(|_| FilterError::Compile)
        };
        if criteria.is_empty() {
            let (exclude, pattern) = match filter.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, filter),
            };
            return Ok(Filter {
                exclude,
                name: None,
                header: None,
                method: compile(pattern)?,
            });
        }
        let mut f = Filter {
            exclude: false,
            name: None,
            header: None,
            method: Method::Any,
        };
        let mut method = "none".to_owned();
        for part in criteria.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, arg) = part
                .strip_suffix(')')
                .and_then(|p| p.split_once('('))
                .ok_or(FilterError::Format)?;
            match key.trim() {
                "action" => match arg {
                    "include" => f.exclude = false,
                    "exclude" => f.exclude = true,
                    _ => return Err(FilterError::Format),
                },
                "name" => f.name = Some(arg.to_owned()),
                "header" => f.header = Some(arg.to_owned()),
                "method" => method = arg.to_owned(),
                _ => return Err(FilterError::Format),
            }
        }
        let v = filter.as_bytes().to_vec();
        f.method = match method.as_str() {
            _ if filter.is_empty() => Method::Any,
            "regex" | "none" => compile(filter)?,
            "exact" => Method::Exact(v),
            "starts_with" => Method::StartsWith(v),
            "ends_with" => Method::EndsWith(v),
            "contains" => Method::Contains(v),
            _ => return Err(FilterError::Format),
        };
        Ok(f)
    }

    fn matches(&self, event: &Packet) -> bool {
        if let Some(name) = &self.name {
            if !event.event().is_some_and(|e| e.eq_ignore_case(name)) {
                return false;
            }
        }
        match &self.header {
            Some(h) => event.get_all(h).any(|v| self.method.matches(v.as_bytes())),
            None => self.method.matches(event.raw()),
        }
    }
}

/// Whether `event` passes `filters` (`should_send_event`).
pub(crate) fn passes(filters: &[Filter], event: &Packet) -> bool {
    let mut includes = filters.iter().filter(|f| !f.exclude).peekable();
    if includes.peek().is_some() && !includes.any(|f| f.matches(event)) {
        return false;
    }
    !filters
        .iter()
        .filter(|f| f.exclude)
        .any(|f| f.matches(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str) -> Packet {
        Packet::builder()
            .header("Event", name)
            .header("Privilege", "user,all")
            .header("UserEvent", "Wanted")
            .build()
            .unwrap()
    }

    #[test]
    fn legacy_and_advanced() {
        let inc = Filter::parse("", "Event: UserEvent").unwrap();
        let exc = Filter::parse("", "!Event: VarSet").unwrap();
        assert!(passes(std::slice::from_ref(&inc), &ev("UserEvent")));
        assert!(!passes(&[inc], &ev("Newchannel")));
        assert!(!passes(std::slice::from_ref(&exc), &ev("VarSet")));
        assert!(passes(&[exc], &ev("Newchannel")));
        let adv = Filter::parse(
            "action(include),name(UserEvent),header(UserEvent),method(exact)",
            "Wanted",
        )
        .unwrap();
        assert!(passes(std::slice::from_ref(&adv), &ev("UserEvent")));
        assert!(!passes(&[adv], &ev("Other")));
        assert_eq!(
            Filter::parse("", "Event: (unclosed").unwrap_err(),
            FilterError::Compile
        );
        assert_eq!(
            Filter::parse("nosuch(x)", "x").unwrap_err(),
            FilterError::Format
        );
        assert!(passes(&[], &ev("Anything")));
    }
}
