//! The `ami://user:secret@host[:port][?param=value&…]` URL form (and
//! `amis://` for TLS), shared by every adapter.
//!
//! Strict on purpose: a parameter this crate does not know, a bad value, a
//! repeated parameter or one that contradicts the scheme is an error, never
//! silently ignored (`ami://…?tls=true` must not connect in plaintext with
//! the secret in it). Errors name the part of the URL and the byte position,
//! and never quote the user, the secret or the whole URL.

use std::fmt;
use std::time::Duration;

use crate::action::{is_true, EventMask};

use super::config::{AuthMethod, Config, Endpoint, Keepalive};

/// The query parameters [`Config::from_url`] knows.
const PARAMS: [&str; 6] = ["events", "auth", "timeout", "keepalive", "prefix", "tls"];

/// Longest `prefix=` accepted (generated ids must stay within 64 bytes).
const MAX_PREFIX: usize = 32;

/// Which part of an AMI URL an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UrlPart {
    /// `ami` / `amis`, before `://`.
    Scheme,
    /// The user name, before `:` (or `@`).
    User,
    /// The secret, between `:` and `@`.
    Secret,
    /// The host name or address.
    Host,
    /// The port after the host.
    Port,
    /// Anything between the host (and port) and `?`.
    Path,
    /// The `?param=value&…` query.
    Query,
}

impl fmt::Display for UrlPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlPart::Scheme => "scheme",
            UrlPart::User => "user name",
            UrlPart::Secret => "secret",
            UrlPart::Host => "host",
            UrlPart::Port => "port",
            UrlPart::Path => "path",
            UrlPart::Query => "query",
        })
    }
}

/// What is wrong with an AMI URL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlProblem {
    /// No `://` after the scheme.
    MissingSeparator,
    /// A scheme other than `ami` or `amis`.
    UnsupportedScheme,
    /// A part that must be there is missing or empty (the user name before
    /// `@`, the host).
    Missing,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// Percent-escapes that decode to bytes that are not UTF-8.
    NotUtf8,
    /// An IPv6 literal `[` without its `]`.
    UnclosedBracket,
    /// A byte that cannot be in a host name (whitespace, control, `:` outside
    /// brackets…).
    BadHost,
    /// Not a port number from 1 to 65535.
    BadPort,
    /// A path other than `/` after the host.
    UnexpectedPath,
    /// A query parameter this crate does not know. Carries its name when
    /// that is a plain word (letters, digits, `-`, `_`, at most 32 bytes).
    UnknownParam(Option<String>),
    /// A value the parameter does not accept.
    BadValue(&'static str),
    /// The parameter appears twice.
    Repeated(&'static str),
    /// The parameter contradicts the scheme (`amis://…?tls=false`).
    Contradiction(&'static str),
}

/// Why an `ami://` URL was refused: what is wrong, in which part, at which
/// byte. Its text never quotes the user, the secret, a query value or the
/// whole URL.
///
/// ```
/// use amiproto::{Config, UrlPart, UrlProblem};
///
/// let e = Config::from_url("ami://admin:50%off@pbx").unwrap_err();
/// assert_eq!((e.part(), e.position(), e.problem()), (UrlPart::Secret, 14, &UrlProblem::BadEscape));
/// assert!(!e.to_string().contains("off"));
/// assert_eq!(e.to_string(), "bad percent-escape in the secret at byte 14 (want %XX with two hex digits)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlError {
    part: UrlPart,
    position: usize,
    problem: UrlProblem,
}

impl UrlError {
    fn new(part: UrlPart, position: usize, problem: UrlProblem) -> UrlError {
        UrlError {
            part,
            position,
            problem,
        }
    }

    /// The part of the URL at fault.
    pub fn part(&self) -> UrlPart {
        self.part
    }

    /// Byte offset in the URL where the fault is (where the part starts when
    /// the whole part is at fault).
    pub fn position(&self) -> usize {
        self.position
    }

    /// What is wrong.
    pub fn problem(&self) -> &UrlProblem {
        &self.problem
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (part, at) = (self.part, self.position);
        match &self.problem {
            UrlProblem::MissingSeparator => write!(
                f,
                "no \"://\" after the scheme (byte {at}): want ami://user:secret@host[:port] or amis://…"
            ),
            UrlProblem::UnsupportedScheme => {
                write!(f, "unsupported scheme at byte {at}: use ami:// or amis://")
            }
            UrlProblem::Missing => match part {
                UrlPart::User => write!(
                    f,
                    "missing user name at byte {at}: want ami://user:secret@host \
                     (percent-escape @ ? # in the secret)"
                ),
                _ => write!(f, "missing {part} at byte {at}"),
            },
            UrlProblem::BadEscape => write!(
                f,
                "bad percent-escape in the {part} at byte {at} (want %XX with two hex digits)"
            ),
            UrlProblem::NotUtf8 => write!(
                f,
                "percent-escapes in the {part} at byte {at} do not decode to UTF-8"
            ),
            UrlProblem::UnclosedBracket => {
                write!(f, "IPv6 host at byte {at} has no closing \"]\"")
            }
            UrlProblem::BadHost => write!(f, "invalid byte in the host at byte {at}"),
            UrlProblem::BadPort => {
                write!(f, "invalid port at byte {at}: want a number from 1 to 65535")
            }
            UrlProblem::UnexpectedPath => write!(
                f,
                "unexpected path at byte {at}: nothing may follow host[:port] but \"/\" and the query"
            ),
            UrlProblem::UnknownParam(name) => {
                f.write_str("unknown query parameter ")?;
                if let Some(name) = name {
                    write!(f, "{name:?} ")?;
                }
                write!(f, "at byte {at} (known: {})", PARAMS.join(", "))
            }
            UrlProblem::BadValue(name) => {
                let want = match *name {
                    "events" => "on, off, or a list of classes like system,call",
                    "auth" => "md5, plain or md5-fallback",
                    "timeout" | "keepalive" => "a duration like 10s, 500ms, 1m, or 0",
                    "prefix" => "1 to 32 printable ASCII bytes, no space",
                    "tls" => "true or false",
                    _ => "see Config::from_url",
                };
                write!(
                    f,
                    "invalid value for query parameter {name:?} at byte {at}: want {want}"
                )
            }
            UrlProblem::Repeated(name) => {
                write!(f, "query parameter {name:?} repeated at byte {at}")
            }
            UrlProblem::Contradiction(name) => write!(
                f,
                "query parameter {name:?} at byte {at} contradicts the scheme"
            ),
        }
    }
}

impl std::error::Error for UrlError {}

/// Percent-decode `s`, which starts at byte `start` of the URL.
fn percent_decode(s: &str, start: usize, part: UrlPart) -> Result<String, UrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| UrlError::new(part, start + i, UrlProblem::BadEscape))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::new(part, start, UrlProblem::NotUtf8))
}

/// `10s`, `500ms`, `1.5`, `2m`; `None` for anything else (or out of range).
fn parse_duration(v: &str) -> Option<Duration> {
    let (num, unit) = v.split_at(
        v.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(v.len()),
    );
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// Asterisk's `ast_false` spellings.
fn is_false(v: &str) -> bool {
    ["no", "false", "n", "f", "0", "off"]
        .iter()
        .any(|f| v.eq_ignore_ascii_case(f))
}

/// A parameter name safe to quote back: a plain short word.
fn quotable(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then(|| name.to_owned())
}

/// Every class name a plain word (Asterisk's classes are lower-case words;
/// an integer mask is digits).
fn valid_mask(mask: &EventMask) -> bool {
    match mask {
        EventMask::On | EventMask::Off => true,
        EventMask::Classes(c) => {
            !c.is_empty()
                && c.iter().all(|c| {
                    !c.is_empty()
                        && c.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                })
        }
    }
}

/// Parse an AMI URL; see [`Config::from_url`].
pub(crate) fn parse(url: &str) -> Result<(Endpoint, Config), UrlError> {
    use UrlPart as P;
    use UrlProblem as E;

    let sep = url
        .find("://")
        .ok_or(UrlError::new(P::Scheme, 0, E::MissingSeparator))?;
    let scheme_tls = match url[..sep].to_ascii_lowercase().as_str() {
        "ami" => false,
        "amis" => true,
        _ => return Err(UrlError::new(P::Scheme, 0, E::UnsupportedScheme)),
    };
    let rest_at = sep + 3;
    let rest = &url[rest_at..];
    let (authority, query) = match rest.find('?') {
        Some(q) => (&rest[..q], Some((rest_at + q + 1, &rest[q + 1..]))),
        None => (rest, None),
    };

    // user[:secret]@
    let at = authority
        .rfind('@')
        .ok_or(UrlError::new(P::User, rest_at, E::Missing))?;
    let userinfo = &authority[..at];
    let (user, secret) = match userinfo.find(':') {
        Some(c) => (&userinfo[..c], Some((rest_at + c + 1, &userinfo[c + 1..]))),
        None => (userinfo, None),
    };
    let user = percent_decode(user, rest_at, P::User)?;
    if user.is_empty() {
        return Err(UrlError::new(P::User, rest_at, E::Missing));
    }
    let secret = match secret {
        Some((start, s)) => percent_decode(s, start, P::Secret)?,
        None => String::new(),
    };

    // host[:port][/]
    let host_at = rest_at + at + 1;
    let mut hostport = &authority[at + 1..];
    if let Some(slash) = hostport.find('/') {
        if &hostport[slash..] != "/" {
            return Err(UrlError::new(P::Path, host_at + slash, E::UnexpectedPath));
        }
        hostport = &hostport[..slash];
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let close = v6
            .find(']')
            .ok_or(UrlError::new(P::Host, host_at, E::UnclosedBracket))?;
        let after = &v6[close + 1..];
        let port_at = host_at + 1 + close + 1;
        let port = match after.strip_prefix(':') {
            Some(p) => Some((port_at + 1, p)),
            None if after.is_empty() => None,
            None => return Err(UrlError::new(P::Port, port_at, E::BadPort)),
        };
        (&v6[..close], port)
    } else {
        match hostport.find(':') {
            Some(c) => (&hostport[..c], Some((host_at + c + 1, &hostport[c + 1..]))),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::new(P::Host, host_at, E::Missing));
    }
    if let Some(i) = host
        .bytes()
        .position(|b| b <= b' ' || b == 0x7f || b"[]@#?\\/".contains(&b))
    {
        let offset = host_at + usize::from(hostport.starts_with('['));
        return Err(UrlError::new(P::Host, offset + i, E::BadHost));
    }
    let port = match port {
        None => None,
        Some((start, p)) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(UrlError::new(P::Port, start, E::BadPort)),
        },
    };

    let mut config = Config::new(user, secret);
    let mut tls = scheme_tls;
    let mut seen = [false; PARAMS.len()];
    if let Some((query_at, query)) = query {
        let mut offset = query_at;
        for pair in query.split('&') {
            let pair_at = offset;
            offset += pair.len() + 1;
            if pair.is_empty() {
                continue;
            }
            let (name, value, value_at) = match pair.find('=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..], pair_at + eq + 1),
                None => (pair, "", pair_at + pair.len()),
            };
            let Some(slot) = PARAMS.iter().position(|p| *p == name) else {
                return Err(UrlError::new(
                    P::Query,
                    pair_at,
                    E::UnknownParam(quotable(name)),
                ));
            };
            let name = PARAMS[slot];
            if std::mem::replace(&mut seen[slot], true) {
                return Err(UrlError::new(P::Query, pair_at, E::Repeated(name)));
            }
            let value = percent_decode(value, value_at, P::Query)?;
            let bad = || UrlError::new(P::Query, value_at, E::BadValue(name));
            match name {
                "events" => {
                    let mask = EventMask::parse(&value);
                    if !valid_mask(&mask) {
                        return Err(bad());
                    }
                    config.events = mask;
                }
                "auth" => {
                    config.auth = match value.to_ascii_lowercase().as_str() {
                        "md5" => AuthMethod::Md5,
                        "plain" => AuthMethod::Plain,
                        "md5-fallback" => AuthMethod::Md5WithFallback,
                        _ => return Err(bad()),
                    }
                }
                "timeout" => {
                    let d = parse_duration(&value).ok_or_else(bad)?;
                    config.action_timeout = (!d.is_zero()).then_some(d);
                }
                "keepalive" => {
                    let d = parse_duration(&value).ok_or_else(bad)?;
                    config.keepalive = (!d.is_zero()).then_some(Keepalive {
                        interval: d,
                        timeout: d,
                    });
                }
                "prefix" => {
                    let ok = !value.is_empty()
                        && value.len() <= MAX_PREFIX
                        && value.bytes().all(|b| (0x21..=0x7e).contains(&b));
                    if !ok {
                        return Err(bad());
                    }
                    config.action_id_prefix = value;
                }
                "tls" => {
                    let on = if is_true(value.as_bytes()) {
                        true
                    } else if is_false(&value) {
                        false
                    } else {
                        return Err(bad());
                    };
                    if scheme_tls && !on {
                        return Err(UrlError::new(P::Query, pair_at, E::Contradiction(name)));
                    }
                    tls = on;
                }
                _ => return Err(bad()),
            }
        }
    }
    let port = port.unwrap_or(if tls { 5039 } else { 5038 });
    config.tls = tls;
    let endpoint = Endpoint {
        host: host.to_owned(),
        port,
        tls,
    };
    Ok((endpoint, config))
}
