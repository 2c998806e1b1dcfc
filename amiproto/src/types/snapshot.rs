//! The channel and bridge snapshots: the header blocks Asterisk (12 and
//! later) writes for every channel or bridge an event is about, each under
//! a prefix (`Channel…` for the event's own channel, `DestChannel…` for a
//! dial's callee, `LocalOneChannel…`, `TransfererChannel…`,
//! `OrigBridgeUniqueid…`).
//!
//! One view type per kind, whatever the prefix: an event's accessor returns
//! it already bound to its prefix.

use std::borrow::Cow;
use std::fmt;

use crate::packet::Packet;

use super::field::{self, key_is};
use super::values::{BridgeVideoSourceMode, ChannelState};

/// The header names of a channel snapshot, without prefix, in the order
/// Asterisk writes them (`ChanVariable` repeats; it may also be written
/// `ChanVariable(<channel>)`).
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

/// The header names of a bridge snapshot, without prefix, in the order
/// Asterisk writes them.
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

/// Which kind of snapshot a prefix introduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotKind {
    /// A [`ChannelSnapshot`].
    Channel,
    /// A [`BridgeSnapshot`].
    Bridge,
}

impl SnapshotKind {
    /// The header names of this kind, without prefix.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            SnapshotKind::Channel => &CHANNEL_FIELDS,
            SnapshotKind::Bridge => &BRIDGE_FIELDS,
        }
    }

    /// Whether `key` is one of this kind's headers under `prefix`.
    pub fn covers(self, prefix: &str, key: &[u8]) -> bool {
        self.fields().iter().any(|f| key_is(key, prefix, f))
            || (self == SnapshotKind::Channel && is_chan_variable_form(key, prefix))
    }
}

/// `{prefix}ChanVariable(<channel>)`.
fn is_chan_variable_form(key: &[u8], prefix: &str) -> bool {
    let n = prefix.len() + "ChanVariable".len();
    key.len() > n + 1
        && key[n] == b'('
        && key.ends_with(b")")
        && key_is(&key[..n], prefix, "ChanVariable")
}

/// A channel snapshot inside an event, read lazily from the packet.
///
/// Every accessor is `None` when the header is absent or empty: an event
/// about an originated call has no `Channel…` block for the caller side,
/// and Asterisk 11 writes only some of these headers.
#[derive(Clone, Copy)]
pub struct ChannelSnapshot<'a> {
    packet: &'a Packet,
    prefix: &'static str,
}

impl<'a> ChannelSnapshot<'a> {
    /// The snapshot of `packet` under `prefix` (`""`, `"Dest"`…).
    pub fn new(packet: &'a Packet, prefix: &'static str) -> ChannelSnapshot<'a> {
        ChannelSnapshot { packet, prefix }
    }

    /// The prefix of its headers (`""` for `Channel`, `"Dest"` for
    /// `DestChannel`).
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    /// Whether the packet has any header of this snapshot.
    pub fn is_present(&self) -> bool {
        self.packet
            .headers()
            .any(|h| !h.is_bare() && SnapshotKind::Channel.covers(self.prefix, h.key().as_bytes()))
    }

    fn text(&self, name: &str) -> Option<Cow<'a, str>> {
        field::get(self.packet, self.prefix, name)
    }

    /// `Channel`: the channel's name (`PJSIP/alice-00000001`).
    pub fn name(&self) -> Option<Cow<'a, str>> {
        self.text("Channel")
    }

    /// `ChannelState`: the state code; when absent, read from
    /// `ChannelStateDesc`.
    pub fn state(&self) -> Option<ChannelState> {
        field::get(self.packet, self.prefix, "ChannelState").or_else(|| self.state_desc())
    }

    /// `ChannelStateDesc`: the state's text (`Up`, `Ringing`…), parsed.
    pub fn state_desc(&self) -> Option<ChannelState> {
        field::get(self.packet, self.prefix, "ChannelStateDesc")
    }

    /// `CallerIDNum`.
    pub fn caller_id_num(&self) -> Option<Cow<'a, str>> {
        self.text("CallerIDNum")
    }

    /// `CallerIDName`.
    pub fn caller_id_name(&self) -> Option<Cow<'a, str>> {
        self.text("CallerIDName")
    }

    /// `ConnectedLineNum`.
    pub fn connected_line_num(&self) -> Option<Cow<'a, str>> {
        self.text("ConnectedLineNum")
    }

    /// `ConnectedLineName`.
    pub fn connected_line_name(&self) -> Option<Cow<'a, str>> {
        self.text("ConnectedLineName")
    }

    /// `Language`.
    pub fn language(&self) -> Option<Cow<'a, str>> {
        self.text("Language")
    }

    /// `AccountCode`.
    pub fn account_code(&self) -> Option<Cow<'a, str>> {
        self.text("AccountCode")
    }

    /// `Context`: the dialplan context.
    pub fn context(&self) -> Option<Cow<'a, str>> {
        self.text("Context")
    }

    /// `Exten`: the dialplan extension.
    pub fn exten(&self) -> Option<Cow<'a, str>> {
        self.text("Exten")
    }

    /// `Priority`: the dialplan priority.
    pub fn priority(&self) -> Option<u32> {
        field::get(self.packet, self.prefix, "Priority")
    }

    /// `Uniqueid`.
    pub fn unique_id(&self) -> Option<Cow<'a, str>> {
        self.text("Uniqueid")
    }

    /// `Linkedid`: the unique id of the call's oldest channel.
    pub fn linked_id(&self) -> Option<Cow<'a, str>> {
        self.text("Linkedid")
    }

    /// `Tenantid` (Asterisk 22 when set on the channel).
    pub fn tenant_id(&self) -> Option<Cow<'a, str>> {
        self.text("Tenantid")
    }

    /// `ChanVariable`: the variables manager.conf's `channelvars` asks
    /// for, as `(name, value)` in wire order.
    pub fn variables(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
        field::pairs(self.packet, self.prefix, "ChanVariable")
    }
}

impl fmt::Debug for ChannelSnapshot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_block(f, self.packet, self.prefix, SnapshotKind::Channel)
    }
}

/// A bridge snapshot inside an event, read lazily from the packet.
#[derive(Clone, Copy)]
pub struct BridgeSnapshot<'a> {
    packet: &'a Packet,
    prefix: &'static str,
}

impl<'a> BridgeSnapshot<'a> {
    /// The snapshot of `packet` under `prefix` (`""`, `"Orig"`…).
    pub fn new(packet: &'a Packet, prefix: &'static str) -> BridgeSnapshot<'a> {
        BridgeSnapshot { packet, prefix }
    }

    /// The prefix of its headers (`""` for `BridgeUniqueid`, `"Orig"` for
    /// `OrigBridgeUniqueid`).
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    /// Whether the packet has any header of this snapshot.
    pub fn is_present(&self) -> bool {
        self.packet
            .headers()
            .any(|h| !h.is_bare() && SnapshotKind::Bridge.covers(self.prefix, h.key().as_bytes()))
    }

    fn text(&self, name: &str) -> Option<Cow<'a, str>> {
        field::get(self.packet, self.prefix, name)
    }

    /// `BridgeUniqueid`.
    pub fn unique_id(&self) -> Option<Cow<'a, str>> {
        self.text("BridgeUniqueid")
    }

    /// `BridgeType` (`basic`, `stasis`…).
    pub fn bridge_type(&self) -> Option<Cow<'a, str>> {
        self.text("BridgeType")
    }

    /// `BridgeTechnology` (`simple_bridge`, `softmix`…).
    pub fn technology(&self) -> Option<Cow<'a, str>> {
        self.text("BridgeTechnology")
    }

    /// `BridgeCreator`.
    pub fn creator(&self) -> Option<Cow<'a, str>> {
        self.text("BridgeCreator")
    }

    /// `BridgeName`.
    pub fn name(&self) -> Option<Cow<'a, str>> {
        self.text("BridgeName")
    }

    /// `BridgeNumChannels`.
    pub fn num_channels(&self) -> Option<u32> {
        field::get(self.packet, self.prefix, "BridgeNumChannels")
    }

    /// `BridgeVideoSourceMode`.
    pub fn video_source_mode(&self) -> Option<BridgeVideoSourceMode> {
        field::get(self.packet, self.prefix, "BridgeVideoSourceMode")
    }

    /// `BridgeVideoSource`: the channel whose video is shown (single-source
    /// mode only).
    pub fn video_source(&self) -> Option<Cow<'a, str>> {
        self.text("BridgeVideoSource")
    }
}

impl fmt::Debug for BridgeSnapshot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_block(f, self.packet, self.prefix, SnapshotKind::Bridge)
    }
}

/// Debug output of a snapshot: its headers present in the packet, as sent.
fn debug_block(
    f: &mut fmt::Formatter<'_>,
    packet: &Packet,
    prefix: &str,
    kind: SnapshotKind,
) -> fmt::Result {
    let mut m = f.debug_map();
    for h in packet.headers() {
        if !h.is_bare() && kind.covers(prefix, h.key().as_bytes()) {
            m.entry(&h.key(), &h.value());
        }
    }
    m.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_views_read_their_own_headers() {
        let p = Packet::builder()
            .header("Event", "DialBegin")
            .header("Channel", "PJSIP/a-1")
            .header("ChannelState", "6")
            .header("ChannelStateDesc", "Up")
            .header("Priority", "1")
            .header("DestChannel", "PJSIP/b-2")
            .header("DestChannelStateDesc", "Ring")
            .header("DestCallerIDName", b"Jos\xe9")
            .header("DestChanVariable", "X=1")
            .build()
            .unwrap();
        let own = ChannelSnapshot::new(&p, "");
        let dest = ChannelSnapshot::new(&p, "Dest");
        assert_eq!(own.name().unwrap(), "PJSIP/a-1");
        assert_eq!(own.state(), Some(ChannelState::Up));
        assert_eq!(own.priority(), Some(1));
        assert_eq!(own.variables().count(), 0);
        assert_eq!(dest.name().unwrap(), "PJSIP/b-2");
        assert_eq!(dest.state(), Some(ChannelState::Ring), "from the text");
        assert_eq!(dest.caller_id_name().unwrap(), "José");
        assert_eq!(
            dest.variables().collect::<Vec<_>>(),
            [("X".into(), "1".into())]
        );
        assert!(dest.is_present());
        assert!(!ChannelSnapshot::new(&p, "Parkee").is_present());
        assert!(SnapshotKind::Channel.covers("Dest", b"destchanvariable(PJSIP/b-2)"));
        assert!(!SnapshotKind::Channel.covers("", b"DestChannel"));
        let dbg = format!("{dest:?}");
        assert!(
            dbg.contains("DestChannel") && !dbg.contains("\"Channel\""),
            "{dbg}"
        );
    }
}
