//! NATS subjects: checked configuration tokens and sanitized event names.
//!
//! | subject | what | in the stream |
//! |---|---|---|
//! | `PREFIX.PBX.event.NAME` | one AMI event as JSON | yes |
//! | `PREFIX.PBX.gap` | events the bridge could not keep | yes |
//! | `PREFIX.PBX.session` | a new AMI session began (start, reconnect) | yes |
//! | `PREFIX.PBX.action` | request-reply: run an action | no |
//! | `PREFIX.PBX.status` | request-reply and periodic: health | no |

/// Longest event-name token (longer names are cut).
pub const MAX_EVENT_TOKEN: usize = 64;

/// Whether `token` is usable as one configured subject token (a PBX name, a
/// prefix part, the stream name): ASCII letters, digits, `-` and `_`.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if token.len() > 64 {
        return Err(format!("{token:?} is longer than 64 characters"));
    }
    if let Some(c) = token
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "{token:?} has {c:?}: use only ASCII letters, digits, '-' and '_'"
        ));
    }
    Ok(())
}

/// An event name made safe as one subject token: bytes other than ASCII
/// letters, digits, `-` and `_` become `_`, at most [`MAX_EVENT_TOKEN`]
/// bytes, and an empty name is `_`. Names are not case-folded (`Newchannel`
/// stays `Newchannel`).
///
/// ```
/// use amiproto_bridge::subject::event_token;
/// assert_eq!(event_token(b"Newchannel"), "Newchannel");
/// assert_eq!(event_token(b"a.b *>"), "a_b___");
/// assert_eq!(event_token(b""), "_");
/// ```
pub fn event_token(name: &[u8]) -> String {
    if name.is_empty() {
        return "_".to_owned();
    }
    name.iter()
        .take(MAX_EVENT_TOKEN)
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                b as char
            } else {
                '_'
            }
        })
        .collect()
}

/// The subjects of one PBX.
#[derive(Clone, Debug)]
pub struct PbxSubjects {
    base: String,
}

impl PbxSubjects {
    /// Subjects under `prefix.pbx`.
    pub fn new(prefix: &str, pbx: &str) -> PbxSubjects {
        PbxSubjects {
            base: format!("{prefix}.{pbx}"),
        }
    }

    /// `PREFIX.PBX.event.NAME` for an event named `name` (sanitized).
    pub fn event(&self, name: &[u8]) -> String {
        format!("{}.event.{}", self.base, event_token(name))
    }

    /// `PREFIX.PBX.gap`.
    pub fn gap(&self) -> String {
        format!("{}.gap", self.base)
    }

    /// `PREFIX.PBX.session`.
    pub fn session(&self) -> String {
        format!("{}.session", self.base)
    }

    /// `PREFIX.PBX.action`.
    pub fn action(&self) -> String {
        format!("{}.action", self.base)
    }

    /// `PREFIX.PBX.status`.
    pub fn status(&self) -> String {
        format!("{}.status", self.base)
    }
}

/// The subjects the stream captures for every PBX under `prefix`.
pub fn stream_subjects(prefix: &str) -> Vec<String> {
    vec![
        format!("{prefix}.*.event.>"),
        format!("{prefix}.*.gap"),
        format!("{prefix}.*.session"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(check_token("pbx-1_A").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", "é"] {
            assert!(check_token(bad).is_err(), "{bad:?}");
        }
        assert_eq!(event_token(&[0xe9, b'x']), "_x");
        assert_eq!(event_token(&[b'a'; 100]).len(), MAX_EVENT_TOKEN);
        let s = PbxSubjects::new("acme.ami", "p1");
        assert_eq!(s.event(b"Hangup"), "acme.ami.p1.event.Hangup");
        assert_eq!(s.gap(), "acme.ami.p1.gap");
    }
}
