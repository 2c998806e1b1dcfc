//! What every typed event shares: [`EventOf`], the [`EventType`] trait and
//! the [`Schema`] of each event.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use crate::packet::{Header, Packet};

use super::events::TypedEvent;
use super::field::{self, is_numbered, key_is};
use super::snapshot::SnapshotKind;

/// How a typed field reads its header(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// One value as text (`Option<Cow<str>>`).
    Text,
    /// One value converted to a number, a flag or an enum.
    Typed,
    /// A repeated key, every value as text.
    List,
    /// A repeated `name=value` key, split into pairs.
    Pairs,
    /// A numbered family `{key}{n}{suffix}` (`Report0SourceSSRC`), read by
    /// index.
    Numbered {
        /// Digits of `n`, zero-padded (0: as many as needed).
        width: usize,
        /// What follows the number.
        suffix: &'static str,
    },
}

/// One typed field of an event: its accessor and its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldSpec {
    /// The accessor's name (`cause_txt`).
    pub name: &'static str,
    /// The header key as documented (`Cause-txt`), matched ASCII
    /// case-insensitively; for a numbered family, the part before the
    /// number.
    pub key: &'static str,
    /// How it is read.
    pub kind: FieldKind,
}

impl FieldSpec {
    /// A field of kind `kind`.
    pub const fn new(name: &'static str, key: &'static str, kind: FieldKind) -> FieldSpec {
        FieldSpec { name, key, kind }
    }

    /// Whether header `key` is this field's.
    pub fn covers(&self, key: &[u8]) -> bool {
        match self.kind {
            FieldKind::Numbered { suffix, .. } => is_numbered(key, self.key, suffix),
            _ => key_is(key, "", self.key),
        }
    }
}

/// One snapshot of an event: its accessor, kind and prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotSpec {
    /// The accessor's name (`dest`).
    pub name: &'static str,
    /// Channel or bridge.
    pub kind: SnapshotKind,
    /// The prefix of its headers (`Dest`).
    pub prefix: &'static str,
}

impl SnapshotSpec {
    /// A channel snapshot.
    pub const fn channel(name: &'static str, prefix: &'static str) -> SnapshotSpec {
        SnapshotSpec {
            name,
            kind: SnapshotKind::Channel,
            prefix,
        }
    }

    /// A bridge snapshot.
    pub const fn bridge(name: &'static str, prefix: &'static str) -> SnapshotSpec {
        SnapshotSpec {
            name,
            kind: SnapshotKind::Bridge,
            prefix,
        }
    }
}

/// The typed layout of one event: what its accessors read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Schema {
    /// The `Event:` name as Asterisk sends it.
    pub name: &'static str,
    /// Its snapshots.
    pub snapshots: &'static [SnapshotSpec],
    /// Its other fields.
    pub fields: &'static [FieldSpec],
}

/// Headers every event may carry, read through [`EventType`]'s own
/// methods (`Event`, `Privilege`, `ActionID`, and the ones manager.conf's
/// `timestampevents`, the sequence numbers and `systemname` add).
pub const FRAMING_HEADERS: [&str; 9] = [
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

impl Schema {
    /// Whether header `key` is read by a typed accessor of this event
    /// (framing headers included).
    pub fn covers(&self, key: &[u8]) -> bool {
        FRAMING_HEADERS.iter().any(|f| key_is(key, "", f))
            || self.field_for(key).is_some()
            || self.snapshot_for(key).is_some()
    }

    /// The field that reads header `key`.
    pub fn field_for(&self, key: &[u8]) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.covers(key))
    }

    /// The snapshot that reads header `key`.
    pub fn snapshot_for(&self, key: &[u8]) -> Option<&'static SnapshotSpec> {
        self.snapshots.iter().find(|s| s.kind.covers(s.prefix, key))
    }
}

/// What the marker type of one event (in `events::kind`) knows: the
/// event's name and [`Schema`]. Implemented by the generated markers.
pub trait EventKind: 'static {
    /// The `Event:` name as Asterisk sends it (compared ASCII
    /// case-insensitively).
    const NAME: &'static str;
    /// What the event's accessors read.
    const SCHEMA: &'static Schema;
}

/// A typed event: one event [`Packet`], owned, with the accessors of the
/// event `K` (each `events::X` is `EventOf<events::kind::X>`).
///
/// Converting costs one name comparison; each accessor reads its header
/// when called (one lookup, one conversion). The packet stays whole:
/// headers no accessor knows (a newer Asterisk's, a `UserEvent`'s own) are
/// read through `Deref` ([`Packet::get`]) or [`EventType::extra_headers`].
pub struct EventOf<K> {
    pub(crate) packet: Packet,
    pub(crate) kind: PhantomData<fn() -> K>,
}

impl<K: EventKind> EventOf<K> {
    /// The typed view of `packet`, or the packet back if it is not this
    /// event.
    #[inline]
    pub fn from_packet(packet: Packet) -> Result<EventOf<K>, Packet> {
        if packet.is_event(K::NAME) {
            Ok(EventOf::wrap(packet))
        } else {
            Err(packet)
        }
    }

    /// The typed view of a copy of `packet` (a reference count and a copy
    /// of its header index), if it is this event.
    #[inline]
    pub fn parse(packet: &Packet) -> Option<EventOf<K>> {
        packet
            .is_event(K::NAME)
            .then(|| EventOf::wrap(packet.clone()))
    }
}

impl<K> EventOf<K> {
    #[inline]
    pub(crate) fn wrap(packet: Packet) -> EventOf<K> {
        EventOf {
            packet,
            kind: PhantomData,
        }
    }

    /// The packet.
    #[inline]
    pub fn packet(&self) -> &Packet {
        &self.packet
    }

    /// The packet, owned.
    #[inline]
    pub fn into_packet(self) -> Packet {
        self.packet
    }
}

impl<K> std::ops::Deref for EventOf<K> {
    type Target = Packet;
    #[inline]
    fn deref(&self) -> &Packet {
        &self.packet
    }
}

impl<K> AsRef<Packet> for EventOf<K> {
    #[inline]
    fn as_ref(&self) -> &Packet {
        &self.packet
    }
}

impl<K> From<EventOf<K>> for Packet {
    #[inline]
    fn from(event: EventOf<K>) -> Packet {
        event.packet
    }
}

impl<K> Clone for EventOf<K> {
    #[inline]
    fn clone(&self) -> EventOf<K> {
        EventOf::wrap(self.packet.clone())
    }
}

impl<K> PartialEq for EventOf<K> {
    /// Equal when the packets' bytes are.
    #[inline]
    fn eq(&self, other: &EventOf<K>) -> bool {
        self.packet == other.packet
    }
}

impl<K> Eq for EventOf<K> {}

impl<K: EventKind> fmt::Debug for EventOf<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_event(f, K::SCHEMA, &self.packet)
    }
}

/// A typed event (every `events::X`): what generic code, such as a typed
/// subscription, needs.
pub trait EventType: Sized + std::ops::Deref<Target = Packet> {
    /// The `Event:` name as Asterisk sends it (compared ASCII
    /// case-insensitively).
    const NAME: &'static str;
    /// What its accessors read.
    const SCHEMA: &'static Schema;

    /// The typed view of `packet`, or the packet back if it is not this
    /// event.
    fn from_packet(packet: Packet) -> Result<Self, Packet>;

    /// The packet.
    fn into_packet(self) -> Packet;

    /// Whether `packet` is this event (its `Event:` name, nothing else is
    /// read).
    fn matches(packet: &Packet) -> bool {
        packet.is_event(Self::NAME)
    }

    /// `Privilege`: the classes the event was sent under (`call,all`).
    fn privilege(&self) -> Option<Cow<'_, str>> {
        field::get(self, "", "Privilege")
    }

    /// `Timestamp` (manager.conf `timestampevents`), as sent
    /// (`1795339413.495718`).
    fn timestamp(&self) -> Option<Cow<'_, str>> {
        field::get(self, "", "Timestamp")
    }

    /// `SequenceNumber` (Asterisk 12 and later, when enabled).
    fn sequence_number(&self) -> Option<u64> {
        field::get(self, "", "SequenceNumber")
    }

    /// `SystemName` (manager.conf `systemname`).
    fn system_name(&self) -> Option<Cow<'_, str>> {
        field::get(self, "", "SystemName")
    }

    /// Headers no typed accessor reads, in wire order (a `UserEvent`'s
    /// own headers, what a newer Asterisk adds, bare lines).
    fn extra_headers(&self) -> impl Iterator<Item = Header<'_>> {
        self.headers()
            .filter(|h| h.is_bare() || !Self::SCHEMA.covers(h.key().as_bytes()))
    }
}

impl<K: EventKind> EventType for EventOf<K> {
    const NAME: &'static str = K::NAME;
    const SCHEMA: &'static Schema = K::SCHEMA;

    #[inline]
    fn from_packet(packet: Packet) -> Result<EventOf<K>, Packet> {
        EventOf::from_packet(packet)
    }

    #[inline]
    fn into_packet(self) -> Packet {
        self.packet
    }
}

/// Debug output of a typed event: its name, snapshots, present fields (as
/// sent) and extra headers.
pub(crate) fn debug_event(
    f: &mut fmt::Formatter<'_>,
    schema: &Schema,
    packet: &Packet,
) -> fmt::Result {
    use super::snapshot::{BridgeSnapshot, ChannelSnapshot};
    let mut s = f.debug_struct(schema.name);
    for snap in schema.snapshots {
        match snap.kind {
            SnapshotKind::Channel => s.field(snap.name, &ChannelSnapshot::new(packet, snap.prefix)),
            SnapshotKind::Bridge => s.field(snap.name, &BridgeSnapshot::new(packet, snap.prefix)),
        };
    }
    for spec in schema.fields {
        let mut values = packet
            .headers()
            .filter(|h| !h.is_bare() && spec.covers(h.key().as_bytes()));
        if let Some(first) = values.next() {
            match spec.kind {
                FieldKind::Text | FieldKind::Typed => s.field(spec.name, &first.value()),
                _ => s.field(
                    spec.name,
                    &std::iter::once(first)
                        .chain(values)
                        .map(|h| (h.key(), h.value()))
                        .collect::<Vec<_>>(),
                ),
            };
        }
    }
    let extra: Vec<Header<'_>> = packet
        .headers()
        .filter(|h| h.is_bare() || !schema.covers(h.key().as_bytes()))
        .collect();
    if !extra.is_empty() {
        s.field("extra", &extra);
    }
    s.finish()
}

impl TypedEvent {
    /// The typed view of a copy of `packet` (a reference count and a copy
    /// of its header index).
    pub fn parse(packet: &Packet) -> TypedEvent {
        TypedEvent::from_packet(packet.clone())
    }

    /// The schema of a known event (`None` for `Other`).
    pub fn schema(&self) -> Option<&'static Schema> {
        match self {
            TypedEvent::Other(_) => None,
            known => known
                .packet()
                .event()
                .and_then(|e| TypedEvent::schema_of(&e.decode_text())),
        }
    }
}

impl From<Packet> for TypedEvent {
    fn from(packet: Packet) -> TypedEvent {
        TypedEvent::from_packet(packet)
    }
}

impl From<TypedEvent> for Packet {
    fn from(event: TypedEvent) -> Packet {
        event.into_packet()
    }
}

impl Clone for TypedEvent {
    fn clone(&self) -> TypedEvent {
        match self {
            TypedEvent::Other(p) => TypedEvent::Other(p.clone()),
            known => TypedEvent::from_packet(known.packet().clone()),
        }
    }
}

impl PartialEq for TypedEvent {
    /// Equal when both are the same variant over equal packets.
    fn eq(&self, other: &TypedEvent) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.packet() == other.packet()
    }
}

impl Eq for TypedEvent {}

impl fmt::Debug for TypedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.schema()) {
            (TypedEvent::Other(p), _) => f.debug_tuple("Other").field(p).finish(),
            (known, Some(schema)) => debug_event(f, schema, known.packet()),
            (known, None) => f.debug_tuple("TypedEvent").field(known.packet()).finish(),
        }
    }
}

/// FNV-1a (64 bits) of `name` in ASCII lower case: the key of the event
/// name index (the generator computes the same for every known name).
#[inline]
pub(crate) const fn name_hash(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < name.len() {
        h ^= name[i].to_ascii_lowercase() as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hash_ignores_case_only() {
        assert_eq!(name_hash(b"Newexten"), name_hash(b"NewExten"));
        assert_eq!(name_hash(b"AOC-D"), name_hash(b"aoc-d"));
        assert_ne!(name_hash(b"Hangup"), name_hash(b"Hangu"));
        // FNV-1a's published value for "a".
        assert_eq!(name_hash(b"A"), 0xaf63_dc4c_8601_ec8c);
    }
}
