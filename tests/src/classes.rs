//! Asterisk's permission and event classes (`system`, `call`, …) as bit
//! masks, with the parsing and printing rules of `main/manager.c`.

/// `system` class bit.
pub(crate) const SYSTEM: u32 = 1 << 0;
/// `call` class bit.
pub(crate) const CALL: u32 = 1 << 1;
/// `command` class bit.
pub(crate) const COMMAND: u32 = 1 << 4;
/// `agent` class bit.
pub(crate) const AGENT: u32 = 1 << 5;
/// `user` class bit.
pub(crate) const USER: u32 = 1 << 6;
/// `reporting` class bit.
pub(crate) const REPORTING: u32 = 1 << 9;
/// `dialplan` class bit.
pub(crate) const DIALPLAN: u32 = 1 << 11;
/// `originate` class bit.
pub(crate) const ORIGINATE: u32 = 1 << 12;
/// `security` class bit.
pub(crate) const SECURITY: u32 = 1 << 18;
/// `all`: Asterisk uses `INT_MAX`.
pub(crate) const ALL: u32 = i32::MAX as u32;

/// Class names in Asterisk's order (`perms[]` in manager.c).
const CLASSES: [(&str, u32); 20] = [
    ("system", SYSTEM),
    ("call", CALL),
    ("log", 1 << 2),
    ("verbose", 1 << 3),
    ("command", COMMAND),
    ("agent", AGENT),
    ("user", USER),
    ("config", 1 << 7),
    ("dtmf", 1 << 8),
    ("reporting", REPORTING),
    ("cdr", 1 << 10),
    ("dialplan", DIALPLAN),
    ("originate", ORIGINATE),
    ("agi", 1 << 13),
    ("hookresponse", 1 << 14),
    ("cc", 1 << 15),
    ("aoc", 1 << 16),
    ("test", 1 << 17),
    ("security", SECURITY),
    ("message", 1 << 19),
];

/// `get_perm`: a case-sensitive comma list of class names (`all`, `none`
/// included); unknown names count for nothing.
pub(crate) fn parse_perm(list: &str) -> u32 {
    list.split(',').map(str::trim).fold(0, |acc, name| {
        acc | match name {
            "all" => ALL,
            _ => CLASSES
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, b)| *b),
        }
    })
}

/// The category of an event from its `Privilege:` value (`call,all` ->
/// `call`): the named classes, `all` left out.
pub(crate) fn category_of(privilege: &str) -> u32 {
    privilege
        .split(',')
        .map(str::trim)
        .filter(|n| *n != "all")
        .fold(0, |acc, n| acc | parse_perm(n))
}

/// `authority_to_str`: the names of the set classes then `all`, or `<none>`.
pub(crate) fn to_str(mask: u32) -> String {
    let mut names: Vec<&str> = CLASSES
        .iter()
        .filter(|(_, b)| mask & b != 0)
        .map(|(n, _)| *n)
        .collect();
    if mask != 0 {
        names.push("all");
    }
    if names.is_empty() {
        "<none>".to_owned()
    } else {
        names.join(",")
    }
}

/// Asterisk's `ast_true`.
pub(crate) fn is_true(v: &str) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
}

/// Asterisk's `ast_false`.
pub(crate) fn is_false(v: &str) -> bool {
    ["no", "false", "n", "f", "0", "off"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
}

/// `strings_to_mask`: `None` for an empty value (mask left unchanged),
/// digits as an integer, `ast_false` as 0, `ast_true` as everything, else a
/// class list.
pub(crate) fn event_mask(value: &str) -> Option<u32> {
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            value
                .parse::<u64>()
                .map_or(ALL, |n| n.min(ALL as u64) as u32),
        );
    }
    if is_false(value) {
        return Some(0);
    }
    if is_true(value) {
        return Some(ALL);
    }
    Some(parse_perm(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_manager_c() {
        assert_eq!(to_str(CALL), "call,all");
        assert_eq!(
            to_str(SYSTEM | CALL | REPORTING),
            "system,call,reporting,all"
        );
        assert_eq!(to_str(0), "<none>");
        assert_eq!(category_of("call,all"), CALL);
        assert_eq!(parse_perm("system,call"), SYSTEM | CALL);
        assert_eq!(parse_perm("Call"), 0, "class names are case-sensitive");
        assert_eq!(event_mask("on"), Some(ALL));
        assert_eq!(event_mask("off"), Some(0));
        assert_eq!(event_mask("1"), Some(SYSTEM), "digits are an integer mask");
        assert_eq!(event_mask(""), None);
        assert_eq!(event_mask("user,call"), Some(USER | CALL));
    }
}
