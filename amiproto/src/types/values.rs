//! Enumerated header values: the hand-written ones with a numeric code
//! ([`ChannelState`], [`Cause`], [`DeviceState`], [`ExtensionState`]) and
//! the ones generated from the values Asterisk documents.
//!
//! Every enum has an `Unknown(String)` arm: a value this version of the
//! crate does not know (a newer Asterisk, a typo on a peer) is kept as sent,
//! never an error and never lost.

/// Defines an enum whose values are documented words: `Variant = "wire"`.
/// Parsing is ASCII case-insensitive; anything else is `Unknown`.
macro_rules! value_enum {
    ($(
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),* $(,)? }
    )*) => {$(
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", $wire, "`.")] $variant,)*
            /// A value not listed above, as sent.
            Unknown(String),
        }

        impl $name {
            /// Parse a value (ASCII case-insensitive).
            #[inline]
            pub fn parse(value: &str) -> $name {
                $(if value.eq_ignore_ascii_case($wire) {
                    return $name::$variant;
                })*
                $name::Unknown(value.to_owned())
            }

            /// The value as Asterisk spells it.
            #[inline]
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $name::Unknown(s) => s,
                }
            }
        }

        impl $crate::types::field::FieldValue<'_> for $name {
            #[inline]
            fn decode(value: $crate::packet::Value<'_>) -> Option<$name> {
                Some($name::parse(&value.decode_text()))
            }
        }

        impl ::std::fmt::Display for $name {
            #[inline]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
pub(crate) use value_enum;

#[path = "generated/values.rs"]
mod generated;
pub use generated::*;

/// Defines an enum of numeric codes with a text spelling each:
/// `Variant = code, "text"`. It parses from either form.
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal, $text:literal;)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", stringify!($code), "`, `", $text, "`.")] $variant,)*
            /// A code or text not listed above, as sent.
            Unknown(String),
        }

        impl $name {
            /// The value for a numeric code.
            pub fn from_code(code: i64) -> $name {
                match code {
                    $($code => $name::$variant,)*
                    other => $name::Unknown(other.to_string()),
                }
            }

            /// Parse a value: a numeric code, or the text (ASCII
            /// case-insensitive).
            pub fn parse(value: &str) -> $name {
                if let Ok(code) = value.trim().parse::<i64>() {
                    return $name::from_code(code);
                }
                $(if value.eq_ignore_ascii_case($text) {
                    return $name::$variant;
                })*
                $name::Unknown(value.to_owned())
            }

            /// The numeric code (`None` for `Unknown`).
            pub fn code(&self) -> Option<i64> {
                match self {
                    $($name::$variant => Some($code),)*
                    $name::Unknown(_) => None,
                }
            }

            /// The text (for `Unknown`, the value as sent).
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Unknown(s) => s,
                }
            }
        }

        impl $crate::types::field::FieldValue<'_> for $name {
            #[inline]
            fn decode(value: $crate::packet::Value<'_>) -> Option<$name> {
                Some($name::parse(&value.decode_text()))
            }
        }

        impl ::std::fmt::Display for $name {
            #[inline]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

coded_enum! {
    /// A channel's state (`ChannelState` is the code, `ChannelStateDesc`
    /// the text; Asterisk's `enum ast_channel_state`).
    ChannelState {
        Down = 0, "Down";
        Reserved = 1, "Rsrvd";
        OffHook = 2, "OffHook";
        Dialing = 3, "Dialing";
        Ring = 4, "Ring";
        Ringing = 5, "Ringing";
        Up = 6, "Up";
        Busy = 7, "Busy";
        DialingOffhook = 8, "Dialing Offhook";
        PreRing = 9, "Pre-ring";
    }
}

coded_enum! {
    /// A device's state (Asterisk's `enum ast_device_state`): the code in
    /// queue member events, the text in `DeviceStateChange`.
    DeviceState {
        UnknownState = 0, "UNKNOWN";
        NotInUse = 1, "NOT_INUSE";
        InUse = 2, "INUSE";
        Busy = 3, "BUSY";
        Invalid = 4, "INVALID";
        Unavailable = 5, "UNAVAILABLE";
        Ringing = 6, "RINGING";
        RingInUse = 7, "RINGINUSE";
        OnHold = 8, "ONHOLD";
    }
}

coded_enum! {
    /// An extension's hint state (Asterisk's `enum ast_extension_states`;
    /// the text is `ExtensionStatus`' `StatusText` spelling).
    ExtensionState {
        Removed = -2, "Removed";
        Deactivated = -1, "Deactivated";
        Idle = 0, "Idle";
        InUse = 1, "InUse";
        Busy = 2, "Busy";
        Unavailable = 4, "Unavailable";
        Ringing = 8, "Ringing";
        InUseRinging = 9, "InUse&Ringing";
        OnHold = 16, "Hold";
        InUseOnHold = 17, "InUse&Hold";
    }
}

coded_enum! {
    /// A hangup cause (ITU-T Q.850, Asterisk's `AST_CAUSE_*`): the `Cause`
    /// code of `Hangup`, `HangupRequest` and `SoftHangupRequest`. The text
    /// is the name of Asterisk's constant.
    Cause {
        NotDefined = 0, "NOTDEFINED";
        Unallocated = 1, "UNALLOCATED";
        NoRouteTransitNet = 2, "NO_ROUTE_TRANSIT_NET";
        NoRouteDestination = 3, "NO_ROUTE_DESTINATION";
        MisdialledTrunkPrefix = 5, "MISDIALLED_TRUNK_PREFIX";
        ChannelUnacceptable = 6, "CHANNEL_UNACCEPTABLE";
        CallAwardedDelivered = 7, "CALL_AWARDED_DELIVERED";
        PreEmpted = 8, "PRE_EMPTED";
        NumberPortedNotHere = 14, "NUMBER_PORTED_NOT_HERE";
        NormalClearing = 16, "NORMAL_CLEARING";
        UserBusy = 17, "USER_BUSY";
        NoUserResponse = 18, "NO_USER_RESPONSE";
        NoAnswer = 19, "NO_ANSWER";
        SubscriberAbsent = 20, "SUBSCRIBER_ABSENT";
        CallRejected = 21, "CALL_REJECTED";
        NumberChanged = 22, "NUMBER_CHANGED";
        RedirectedToNewDestination = 23, "REDIRECTED_TO_NEW_DESTINATION";
        AnsweredElsewhere = 26, "ANSWERED_ELSEWHERE";
        DestinationOutOfOrder = 27, "DESTINATION_OUT_OF_ORDER";
        InvalidNumberFormat = 28, "INVALID_NUMBER_FORMAT";
        FacilityRejected = 29, "FACILITY_REJECTED";
        ResponseToStatusEnquiry = 30, "RESPONSE_TO_STATUS_ENQUIRY";
        NormalUnspecified = 31, "NORMAL_UNSPECIFIED";
        NormalCircuitCongestion = 34, "NORMAL_CIRCUIT_CONGESTION";
        NetworkOutOfOrder = 38, "NETWORK_OUT_OF_ORDER";
        NormalTemporaryFailure = 41, "NORMAL_TEMPORARY_FAILURE";
        SwitchCongestion = 42, "SWITCH_CONGESTION";
        AccessInfoDiscarded = 43, "ACCESS_INFO_DISCARDED";
        RequestedChanUnavail = 44, "REQUESTED_CHAN_UNAVAIL";
        FacilityNotSubscribed = 50, "FACILITY_NOT_SUBSCRIBED";
        OutgoingCallBarred = 52, "OUTGOING_CALL_BARRED";
        IncomingCallBarred = 54, "INCOMING_CALL_BARRED";
        BearerCapabilityNotAuth = 57, "BEARERCAPABILITY_NOTAUTH";
        BearerCapabilityNotAvail = 58, "BEARERCAPABILITY_NOTAVAIL";
        BearerCapabilityNotImpl = 65, "BEARERCAPABILITY_NOTIMPL";
        ChanNotImplemented = 66, "CHAN_NOT_IMPLEMENTED";
        FacilityNotImplemented = 69, "FACILITY_NOT_IMPLEMENTED";
        InvalidCallReference = 81, "INVALID_CALL_REFERENCE";
        IncompatibleDestination = 88, "INCOMPATIBLE_DESTINATION";
        InvalidMsgUnspecified = 95, "INVALID_MSG_UNSPECIFIED";
        MandatoryIeMissing = 96, "MANDATORY_IE_MISSING";
        MessageTypeNonexist = 97, "MESSAGE_TYPE_NONEXIST";
        WrongMessage = 98, "WRONG_MESSAGE";
        IeNonexist = 99, "IE_NONEXIST";
        InvalidIeContents = 100, "INVALID_IE_CONTENTS";
        WrongCallState = 101, "WRONG_CALL_STATE";
        RecoveryOnTimerExpire = 102, "RECOVERY_ON_TIMER_EXPIRE";
        MandatoryIeLengthError = 103, "MANDATORY_IE_LENGTH_ERROR";
        ProtocolError = 111, "PROTOCOL_ERROR";
        Interworking = 127, "INTERWORKING";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_values_parse_from_code_or_text() {
        assert_eq!(ChannelState::parse("6"), ChannelState::Up);
        assert_eq!(ChannelState::parse("up"), ChannelState::Up);
        assert_eq!(
            ChannelState::parse("Dialing Offhook"),
            ChannelState::DialingOffhook
        );
        assert_eq!(ChannelState::Up.code(), Some(6));
        assert_eq!(ChannelState::Reserved.as_str(), "Rsrvd");
        assert_eq!(
            ChannelState::parse("65536"),
            ChannelState::Unknown("65536".into())
        );
        assert_eq!(
            ChannelState::parse("Mute"),
            ChannelState::Unknown("Mute".into())
        );
        assert_eq!(DeviceState::parse("NOT_INUSE"), DeviceState::NotInUse);
        assert_eq!(DeviceState::parse("1"), DeviceState::NotInUse);
        assert_eq!(ExtensionState::parse("-2"), ExtensionState::Removed);
        assert_eq!(
            ExtensionState::parse("InUse&Hold"),
            ExtensionState::InUseOnHold
        );
        assert_eq!(Cause::parse("16"), Cause::NormalClearing);
        assert_eq!(Cause::parse(" 17 "), Cause::UserBusy);
        assert_eq!(Cause::parse("4"), Cause::Unknown("4".into()));
        assert_eq!(Cause::parse("busy"), Cause::Unknown("busy".into()));
        assert_eq!(Cause::NoAnswer.to_string(), "NO_ANSWER");
    }

    value_enum! {
        /// Test enum.
        Sample { Yes = "Yes", NotPermitted = "Not Permitted" }
    }

    #[test]
    fn value_enums_parse_case_insensitively_and_keep_unknowns() {
        assert_eq!(Sample::parse("yes"), Sample::Yes);
        assert_eq!(Sample::parse("not permitted"), Sample::NotPermitted);
        assert_eq!(Sample::parse("other"), Sample::Unknown("other".into()));
        assert_eq!(Sample::Unknown("x".into()).as_str(), "x");
        assert_eq!(Sample::NotPermitted.to_string(), "Not Permitted");
    }
}
