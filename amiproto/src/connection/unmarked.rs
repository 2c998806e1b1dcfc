//! List items a server writes without the list's `ActionID`.
//!
//! Asterisk 11's `Parkinglots` (`manager_parkinglot_list` in
//! main/features.c at 11.25.3, the same back to 1.8) writes
//!
//! ```text
//! Response: Success            ActionID: <id>   Message: Parking lots will follow
//! Event: Parkinglot            (no ActionID)    Name: …, StartExten: …, …
//! Event: ParkinglotsComplete   ActionID: <id>
//! ```
//!
//! (12 and later put the `ActionID` on every item.) Such an item is taken
//! as part of the list when all of this holds:
//!
//! - the server's banner is AMI 1.x (Asterisk ≤ 11): later servers mark
//!   every item, so an unmarked one is never theirs;
//! - the event carries no `ActionID` header at all, and is named exactly as
//!   the items of that action (`Parkinglot`): a `UserEvent`, the only event
//!   another session can shape, is always named `UserEvent` first, so it
//!   never qualifies;
//! - exactly one such list is open: its response is in and its end event
//!   is not. A session answers its actions one after the other and writes
//!   a list from the response to the end event without anything in between
//!   (queued events are written between actions), so several such lists
//!   may be pending at once, but only one is ever open. If a server breaks
//!   that and two are open together, an item cannot be attributed: it goes
//!   out as [`crate::Event::Unsolicited`], and each list still ends with
//!   its own end event.

use crate::action::Action;
use crate::packet::Packet;
use crate::version::AmiVersion;

/// `(action, item event)`: list actions whose items may come without the
/// `ActionID` (from `tests/data/asterisk-api/asterisk-11.25.3.json` and the
/// 11.25.3 source: the only list of 11 whose items omit it).
const UNMARKED_ITEMS: [(&str, &str); 1] = [("Parkinglots", "Parkinglot")];

/// The index of `action` in the table, if its items may be unmarked.
pub(crate) fn unmarked_items_of(action: &Action) -> Option<u8> {
    UNMARKED_ITEMS
        .iter()
        .position(|(name, _)| action.is(name))
        .and_then(|i| u8::try_from(i).ok())
}

/// Whether a server of `version` writes those items unmarked.
pub(crate) fn server_omits_ids(version: Option<AmiVersion>) -> bool {
    version.is_some_and(|v| v.major < 2)
}

/// Whether `event` is an item of the list action at `index`.
pub(crate) fn is_item(index: u8, event: &Packet) -> bool {
    UNMARKED_ITEMS
        .get(usize::from(index))
        .is_some_and(|(_, item)| event.event().is_some_and(|e| e == *item))
}
