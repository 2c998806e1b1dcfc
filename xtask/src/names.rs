//! Rust identifiers from Asterisk's names.

/// Words of a name: split at non-alphanumerics, at lower→upper, at the end
/// of an acronym (`IDNum` → `ID`, `Num`) and after digits before a capital.
fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match",
    "mod", "move", "mut", "priv", "pub", "ref", "return", "self", "static", "struct", "super",
    "trait", "true", "try", "type", "typeof", "unsafe", "use", "where", "while", "yield",
];

/// `CallerIDNum` → `caller_id_num`, `Cause-txt` → `cause_txt`,
/// `Uniqueid` → `unique_id`, `type` → `type_`.
pub fn snake(s: &str) -> String {
    let mut name = words(s)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    for (from, to) in [("uniqueid", "unique_id"), ("linkedid", "linked_id")] {
        name = name.replace(from, to);
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        // `100rel` → `rel_100`.
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        name = format!(
            "{}_{}",
            name[digits.len()..].trim_start_matches('_'),
            digits
        );
    }
    if KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// A type name: the name as Asterisk writes it when it is a valid
/// camel-case identifier (`PJSIPShowEndpoints`, `DTMFBegin`), otherwise
/// its words title-cased (`AOC-D` → `AocD`, `CEL` → `Cel`).
pub fn type_name(s: &str) -> String {
    let alnum = s.chars().all(|c| c.is_ascii_alphanumeric());
    let all_upper = !s.chars().any(|c| c.is_ascii_lowercase());
    if alnum && !all_upper && s.starts_with(|c: char| c.is_ascii_uppercase()) {
        return s.to_string();
    }
    camel(s)
}

/// Words title-cased and joined: `NO ANSWER` → `NoAnswer`,
/// `InUse&Ringing` → `InUseRinging`, `extension_state` → `ExtensionState`.
pub fn camel(s: &str) -> String {
    let mut out = String::new();
    for w in words(s) {
        let all_upper = w.len() > 1 && !w.chars().any(|c| c.is_ascii_lowercase());
        let mut cs = w.chars();
        let first = cs.next().unwrap().to_ascii_uppercase();
        out.push(first);
        if all_upper {
            out.extend(cs.map(|c| c.to_ascii_lowercase()));
        } else {
            out.extend(cs);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_names() {
        assert_eq!(snake("CallerIDNum"), "caller_id_num");
        assert_eq!(snake("Cause-txt"), "cause_txt");
        assert_eq!(snake("CID-CallingPres"), "cid_calling_pres");
        assert_eq!(snake("BridgeID"), "bridge_id");
        assert_eq!(snake("Uniqueid"), "unique_id");
        assert_eq!(snake("DestUniqueID"), "dest_unique_id");
        assert_eq!(snake("ServicelevelPerf2"), "servicelevel_perf2");
        assert_eq!(snake("T38UdptlEc"), "t38_udptl_ec");
        assert_eq!(snake("100rel"), "rel_100");
        assert_eq!(snake("Type"), "type_");
        assert_eq!(snake("Async"), "async_");
        assert_eq!(snake("DNID"), "dnid");
    }

    #[test]
    fn type_names() {
        assert_eq!(type_name("PJSIPShowEndpoints"), "PJSIPShowEndpoints");
        assert_eq!(type_name("AOC-D"), "AocD");
        assert_eq!(type_name("CEL"), "Cel");
        assert_eq!(type_name("NewExten"), "NewExten");
        assert_eq!(camel("NO ANSWER"), "NoAnswer");
        assert_eq!(camel("InUse&Ringing"), "InUseRinging");
        assert_eq!(camel("V.21"), "V21");
        assert_eq!(camel("extension_state"), "ExtensionState");
        assert_eq!(camel("AGENT_LOGGEDOFF"), "AgentLoggedoff");
    }
}
