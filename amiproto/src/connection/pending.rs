//! Actions in progress, and how the `ActionID` on the wire maps back to them.

use std::time::{Duration, Instant};

use crate::action::Action;
use crate::packet::Packet;

use super::login::LoginStep;

pub(crate) use super::pending_table::PendingTable;

/// Who sent an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The user, through `send`.
    User,
    /// The login exchange.
    Login(LoginStep),
    /// An idle keepalive `Ping`.
    Keepalive,
}

/// What kind of answer ends an action, known when it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A response, or a list if the response opens one.
    Normal,
    /// A `Command` response (`Output:` headers or a `Follows` body).
    Command,
    /// A response, then the `OriginateResponse` event.
    AsyncOriginate,
    /// `Response: Goodbye`, then the connection closes.
    Logoff,
}

impl Expect {
    pub(crate) fn of(action: &Action) -> Expect {
        if action.is("Command") {
            Expect::Command
        } else if action.is("Originate") && action.flag("Async") {
            Expect::AsyncOriginate
        } else if action.is("Logoff") {
            Expect::Logoff
        } else {
            Expect::Normal
        }
    }
}

/// Where an action stands. Kept small (list and originate state are boxed;
/// a held action itself waits in the connection's queue) so that tracking
/// an action moves few bytes.
#[derive(Clone, Debug)]
pub(crate) enum Progress {
    /// Held until login completes or the in-flight window opens.
    Queued,
    /// Written; nothing back yet.
    Sent,
    /// A list is open: items so far.
    List(Box<ListProgress>),
    /// An async originate: its response and its event, in either order.
    Originate(Box<OriginateProgress>),
}

/// An open list.
#[derive(Clone, Debug)]
pub(crate) struct ListProgress {
    pub(crate) response: Packet,
    pub(crate) items: Vec<Packet>,
}

/// An async originate's halves so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct OriginateProgress {
    pub(crate) response: Option<Packet>,
    pub(crate) event: Option<Packet>,
}

/// One action the connection still tracks.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) role: Role,
    pub(crate) expect: Expect,
    pub(crate) progress: Progress,
    /// When it times out (or, once silent, when draining gives up).
    pub(crate) deadline: Option<Instant>,
    /// Its timeout, reused as the drain grace period.
    pub(crate) timeout: Option<Duration>,
    /// Nobody wants the outcome any more (cancelled, timed out, no-reply):
    /// the answer is consumed quietly.
    pub(crate) silent: bool,
    /// List items go out one by one instead of being collected.
    pub(crate) stream: bool,
    /// A caller-chosen `ActionID`.
    pub(crate) user_id: Option<Box<[u8]>>,
    /// It holds a slot of the in-flight window: a user action, written, its
    /// answer not yet in (an async originate frees its slot at its
    /// response, before the `OriginateResponse`).
    pub(crate) in_window: bool,
    /// What it does to the session's event scope once answered (an
    /// `Events` or `Filter` action; `None` for every other action).
    pub(crate) effect: Option<Box<super::scope::Effect>>,
    /// Its list items may come without its `ActionID` (an index into
    /// [`super::unmarked`]'s table).
    pub(crate) unmarked: Option<u8>,
}

impl Pending {
    pub(crate) fn is_written(&self) -> bool {
        !matches!(self.progress, Progress::Queued)
    }
}

/// What a finished action leaves behind for the connection to release or
/// report: taken from its entry in place, so that finishing an action
/// moves a few bytes, not the whole entry.
#[derive(Debug)]
pub(crate) struct Released {
    pub(crate) role: Role,
    pub(crate) silent: bool,
    /// It was written (not held when it finished).
    pub(crate) written: bool,
    pub(crate) in_window: bool,
    pub(crate) user_id: Option<Box<[u8]>>,
    pub(crate) effect: Option<Box<super::scope::Effect>>,
}

impl Released {
    pub(crate) fn of(p: &mut Pending) -> Released {
        Released {
            role: p.role,
            silent: p.silent,
            written: p.is_written(),
            in_window: p.in_window,
            user_id: p.user_id.take(),
            effect: p.effect.take(),
        }
    }
}

/// The decimal digits of a sequence number, formatted on the stack.
pub(crate) struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    pub(crate) fn of(seq: u64) -> Digits {
        let mut buf = [0u8; 20];
        let mut n = seq;
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Digits { buf, start: i }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Count one up, in place (the next sequence number's digits without
    /// a division per digit). Saturates at `u64::MAX`'s digit count.
    pub(crate) fn increment(&mut self) {
        let mut i = self.buf.len();
        while i > self.start {
            i -= 1;
            if self.buf[i] == b'9' {
                self.buf[i] = b'0';
            } else {
                self.buf[i] += 1;
                return;
            }
        }
        // All nines: one more digit.
        if self.start > 0 {
            self.start -= 1;
            self.buf[self.start] = b'1';
        }
    }
}

/// Generated `ActionID`s are `<prefix><decimal sequence number>`.
pub(crate) struct IdBuf {
    buf: [u8; 64],
    len: usize,
}

impl IdBuf {
    /// `prefix` followed by `seq`; `None` if it does not fit in 64 bytes.
    pub(crate) fn new(prefix: &str, seq: u64) -> Option<IdBuf> {
        let digits = Digits::of(seq);
        let digits = digits.as_bytes();
        let len = prefix.len() + digits.len();
        if len > 64 {
            return None;
        }
        let mut buf = [0u8; 64];
        buf[..prefix.len()].copy_from_slice(prefix.as_bytes());
        buf[prefix.len()..len].copy_from_slice(digits);
        Some(IdBuf { buf, len })
    }

    pub(crate) fn as_str(&self) -> &str {
        // Prefix is a &str and digits are ASCII.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// Characters of the per-connection tag: 12 of them carry 60 bits.
const TAG_ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// Length of the per-connection tag in generated ids.
pub(crate) const TAG_LEN: usize = 12;

/// The prefix of a connection's generated ids: the configured prefix, then
/// (with entropy) a tag of 60 of its bits in base 32 and a `-`.
pub(crate) fn id_prefix(configured: &str, entropy: Option<u64>) -> Box<str> {
    let Some(bits) = entropy else {
        return configured.into();
    };
    let mut out = String::with_capacity(configured.len() + TAG_LEN + 1);
    out.push_str(configured);
    for i in 0..TAG_LEN {
        let digit = (bits >> (5 * i)) & 31;
        out.push(char::from(TAG_ALPHABET[digit as usize]));
    }
    out.push('-');
    out.into_boxed_str()
}

/// The sequence number inside a generated id, if `id` is one.
pub(crate) fn parse_generated(prefix: &[u8], id: &[u8]) -> Option<u64> {
    let digits = id.strip_prefix(prefix)?;
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// Whether a response opens an event list: `EventList: start`
/// (case-insensitive), or, on servers older than 13.2, a `Message` ending in
/// `will follow`.
pub(crate) fn opens_list(response: &Packet) -> bool {
    // One pass over the headers (this runs for every plain response): the
    // first `EventList` decides; failing one, the first `Message`.
    let mut message: Option<bool> = None;
    for h in response.headers() {
        let key = h.key().as_bytes();
        if key.len() == 9 && key.eq_ignore_ascii_case(b"EventList") {
            return h.value().eq_ignore_case("start");
        }
        if message.is_none() && key.len() == 7 && key.eq_ignore_ascii_case(b"Message") {
            let m = h.value().as_bytes().trim_ascii_end();
            message = Some(m.len() >= 11 && m[m.len() - 11..].eq_ignore_ascii_case(b"will follow"));
        }
    }
    message.unwrap_or(false)
}

/// Whether an event closes a list: `EventList: Complete` (case-insensitive),
/// or, without an `EventList` header, an event named `…Complete`.
pub(crate) fn closes_list(event: &Packet) -> bool {
    if let Some(v) = event.get("EventList") {
        return v.eq_ignore_case("Complete");
    }
    event.event().is_some_and(|e| {
        let e = e.as_bytes();
        e.len() >= 8 && e[e.len() - 8..].eq_ignore_ascii_case(b"Complete")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for seq in [0, 1, 9, 10, 12345, u64::MAX] {
            let id = IdBuf::new("ami-", seq).unwrap();
            assert_eq!(parse_generated(b"ami-", id.as_str().as_bytes()), Some(seq));
        }
        assert_eq!(IdBuf::new("ami-", 42).unwrap().as_str(), "ami-42");
        assert_eq!(parse_generated(b"ami-", b"ami-"), None);
        assert_eq!(parse_generated(b"ami-", b"ami-1x"), None);
        assert_eq!(parse_generated(b"ami-", b"other-1"), None);
        assert_eq!(parse_generated(b"ami-", b"ami-99999999999999999999"), None);
        assert_eq!(parse_generated(b"ami-", b"ami-18446744073709551616"), None);
        assert_eq!(parse_generated(b"ami-", b"ami-28446744073709551615"), None);
        assert_eq!(
            parse_generated(b"ami-", b"ami-9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(parse_generated(b"ami-", b"ami-1:"), None);
        assert_eq!(parse_generated(b"ami-", b"ami-1/"), None);
        assert!(IdBuf::new(&"p".repeat(50), u64::MAX).is_none());
    }

    #[test]
    fn digits_count_up_in_place() {
        let mut d = Digits::of(0);
        for seq in 0..=100_000u64 {
            assert_eq!(d.as_bytes(), seq.to_string().as_bytes());
            d.increment();
        }
        for start in [999_999u64, 10u64.pow(19) - 1, 12_345_678_999] {
            let mut d = Digits::of(start);
            d.increment();
            assert_eq!(d.as_bytes(), (start + 1).to_string().as_bytes());
        }
    }

    #[test]
    fn tagged_prefixes() {
        assert_eq!(&*id_prefix("ami-", None), "ami-");
        assert_eq!(&*id_prefix("ami-", Some(0)), "ami-000000000000-");
        assert_eq!(&*id_prefix("x", Some(u64::MAX)), "xvvvvvvvvvvvv-");
        assert_eq!(&*id_prefix("", Some(1 | (31 << 55))), "10000000000v-");
        let p = id_prefix("ami-", Some(0x0123_4567_89ab_cdef));
        assert_eq!(p.len(), 4 + TAG_LEN + 1);
        // The longest configured prefix (32 bytes) still leaves room for
        // every sequence number within the 64-byte limit but the largest.
        let long = id_prefix(&"p".repeat(32), Some(7));
        assert!(IdBuf::new(&long, 10u64.pow(19) - 1).is_some());
        let id = IdBuf::new(&p, 42).unwrap();
        assert_eq!(
            parse_generated(p.as_bytes(), id.as_str().as_bytes()),
            Some(42)
        );
        assert_eq!(parse_generated(b"ami-", id.as_str().as_bytes()), None);
    }

    #[test]
    fn list_markers() {
        let p = |hs: &[(&str, &str)]| {
            let mut b = Packet::builder();
            for (k, v) in hs {
                b.push(k, v.as_bytes());
            }
            b.build().unwrap()
        };
        assert!(opens_list(&p(&[
            ("Response", "Success"),
            ("EventList", "Start")
        ])));
        assert!(!opens_list(&p(&[
            ("Response", "Success"),
            ("EventList", "Complete")
        ])));
        assert!(opens_list(&p(&[
            ("Response", "Success"),
            ("Message", "Channel status will follow")
        ])));
        assert!(!opens_list(&p(&[
            ("Response", "Success"),
            ("Message", "Originate successfully queued")
        ])));
        // EventList decides, wherever it is; only the first Message counts.
        assert!(!opens_list(&p(&[
            ("Message", "Channels will follow"),
            ("EventList", "Complete")
        ])));
        assert!(!opens_list(&p(&[
            ("Message", "Queued"),
            ("Message", "x will follow")
        ])));
        assert!(opens_list(&p(&[("Message", "Peers will follow  ")])));
        assert!(closes_list(&p(&[
            ("Event", "StatusComplete"),
            ("EventList", "complete")
        ])));
        assert!(closes_list(&p(&[("Event", "PeerlistComplete")])));
        assert!(!closes_list(&p(&[("Event", "Status")])));
        assert!(!closes_list(&p(&[
            ("Event", "AgentComplete"),
            ("EventList", "x")
        ])));
    }
}
