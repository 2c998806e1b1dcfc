//! Typed actions and events (feature `types`), generated from the
//! documentation Asterisk 22.10.1, 13.38.3 and 11.25.3 install.
//!
//! [`Packet`](crate::Packet) stays the one representation that flows: a
//! typed event is the packet plus accessors that read it when called, so
//! the untyped event stream costs the same with or without this module,
//! and nothing an older or newer Asterisk sends is lost.
//!
//! - [`events`]: one type per event (owning its packet, `Deref` to it),
//!   [`events::TypedEvent`] with one variant each and `Other(Packet)`,
//!   and the [`EventType`] trait. Channel and bridge blocks are read
//!   through one [`ChannelSnapshot`] / [`BridgeSnapshot`] view bound to
//!   their prefix (`channel()`, `dest()`, …).
//! - [`actions`]: one builder per action (required parameters in `new`,
//!   the others as methods), each an [`Action`](crate::Action) and an
//!   [`ActionType`] whose [`ActionType::reply`] types the outcome (list
//!   actions give their items).
//! - [`values`]: enumerated header values, each with an `Unknown(String)`
//!   arm.
//!
//! Every doc comment states facts only: which Asterisk versions document
//! the action or event, since which release (22.10.1's documentation), and
//! the class it needs or is sent under.
//!
//! ```
//! use amiproto::types::events::TypedEvent;
//! use amiproto::types::values::{Cause, ChannelState};
//! use amiproto::types::EventType;
//! use amiproto::Packet;
//!
//! let packet = Packet::builder()
//!     .header("Event", "Hangup")
//!     .header("Privilege", "call,all")
//!     .header("Channel", "PJSIP/alice-00000001")
//!     .header("ChannelState", "6")
//!     .header("Uniqueid", "1700000000.1")
//!     .header("Cause", "16")
//!     .header("Cause-txt", "Normal Clearing")
//!     .header("X-Extra", "kept")
//!     .build()
//!     .unwrap();
//! match TypedEvent::from_packet(packet) {
//!     TypedEvent::Hangup(h) => {
//!         assert_eq!(h.channel().name().as_deref(), Some("PJSIP/alice-00000001"));
//!         assert_eq!(h.channel().state(), Some(ChannelState::Up));
//!         assert_eq!(h.cause(), Some(Cause::NormalClearing));
//!         assert_eq!(h.cause_txt().as_deref(), Some("Normal Clearing"));
//!         assert_eq!(h.privilege().as_deref(), Some("call,all"));
//!         // Anything else is still in the packet.
//!         assert_eq!(h.get_str("x-extra"), Some("kept"));
//!         assert_eq!(h.extra_headers().count(), 1);
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

mod action;
pub(crate) mod event;
pub(crate) mod field;
mod reply;
mod snapshot;
pub mod values;

#[path = "generated/actions.rs"]
pub mod actions;
#[path = "generated/events.rs"]
pub mod events;

pub use action::{ActionKind, ActionOf, ActionType, FromOutcome, ParamValue};
pub use event::{
    EventKind, EventOf, EventType, FieldKind, FieldSpec, Schema, SnapshotSpec, FRAMING_HEADERS,
};
pub use field::numbered_key;
pub use reply::{CoreSettings, CoreStatus, OriginateReply, QueueStatusEntry, ReplyError};
pub use snapshot::{BridgeSnapshot, ChannelSnapshot, SnapshotKind, BRIDGE_FIELDS, CHANNEL_FIELDS};

#[cfg(test)]
mod tests {
    use super::events::TypedEvent;

    #[test]
    fn the_name_index_is_sorted_and_unique() {
        let names = TypedEvent::NAMES;
        for w in names.windows(2) {
            assert!(
                w[0].to_ascii_lowercase() < w[1].to_ascii_lowercase(),
                "{} before {}",
                w[0],
                w[1]
            );
        }
        for n in names {
            let typed = |name: &str| {
                let p = crate::Packet::builder()
                    .header("Event", name)
                    .build()
                    .unwrap();
                let t = TypedEvent::from_packet(p);
                t.schema().map(|s| s.name)
            };
            assert_eq!(typed(n), Some(*n));
            assert_eq!(typed(&n.to_ascii_uppercase()), Some(*n));
            assert_eq!(typed(&n.to_ascii_lowercase()), Some(*n));
            assert_eq!(typed(&format!("{n}x")), None);
            assert_eq!(TypedEvent::schema_of(n).map(|s| s.name), Some(*n));
        }
    }
}
