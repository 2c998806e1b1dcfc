//! Which actions requesters may send through the bridge.

use std::collections::BTreeSet;

/// Actions that only read state: the default allow-list. Each is checked
/// against Asterisk 22's action list; none changes calls, configuration or
/// the session.
pub const READ_ONLY: &[&str] = &[
    "Agents",
    "BridgeInfo",
    "BridgeList",
    "BridgeTechnologyList",
    "ConfbridgeList",
    "ConfbridgeListRooms",
    "CoreSettings",
    "CoreShowChannelMap",
    "CoreShowChannels",
    "CoreStatus",
    "DeviceStateList",
    "ExtensionState",
    "ExtensionStateList",
    "FAXSession",
    "FAXSessions",
    "FAXStats",
    "Getvar",
    "IAXnetstats",
    "IAXpeerlist",
    "IAXpeers",
    "IAXregistry",
    "ListCategories",
    "ListCommands",
    "MailboxCount",
    "MailboxStatus",
    "MeetmeList",
    "MeetmeListRooms",
    "MWIGet",
    "ParkedCalls",
    "Parkinglots",
    "Ping",
    "PJSIPShowAors",
    "PJSIPShowAuths",
    "PJSIPShowContacts",
    "PJSIPShowEndpoint",
    "PJSIPShowEndpoints",
    "PJSIPShowRegistrationInboundContactStatuses",
    "PJSIPShowRegistrationsInbound",
    "PJSIPShowRegistrationsOutbound",
    "PJSIPShowResourceLists",
    "PJSIPShowSubscriptionsInbound",
    "PJSIPShowSubscriptionsOutbound",
    "PresenceState",
    "PresenceStateList",
    "QueueRule",
    "QueueStatus",
    "QueueSummary",
    "ShowDialPlan",
    "SIPpeers",
    "SIPpeerstatus",
    "SIPshowpeer",
    "SIPshowregistry",
    "Status",
    "VoicemailBoxSummary",
    "VoicemailUsersList",
    "VoicemailUserStatus",
];

/// Actions never sent for a requester, even with `allow = ["*"]`: they
/// would change or end the one AMI session every requester shares.
pub const SESSION_ACTIONS: &[&str] = &["Login", "Logoff", "Challenge", "Events", "Filter"];

/// An allow-list of action names (compared ASCII case-insensitively).
///
/// ```
/// use amiproto_bridge::AllowList;
///
/// let ro = AllowList::read_only();
/// assert!(ro.allows("coreshowchannels"));
/// assert!(!ro.allows("Originate"));
///
/// let all = AllowList::from_names(&["*".to_owned()]).unwrap();
/// assert!(all.allows("Originate"));
/// assert!(!all.allows("Logoff")); // never: it would end the shared session
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowList {
    /// Lower-cased names; `None`: every action but the session ones.
    names: Option<BTreeSet<String>>,
}

impl AllowList {
    /// [`READ_ONLY`].
    pub fn read_only() -> AllowList {
        AllowList {
            names: Some(READ_ONLY.iter().map(|n| n.to_ascii_lowercase()).collect()),
        }
    }

    /// Exactly these names; `"*"` alone allows every action but
    /// [`SESSION_ACTIONS`], and `"@read-only"` adds [`READ_ONLY`].
    pub fn from_names(names: &[String]) -> Result<AllowList, String> {
        if names.iter().any(|n| n == "*") {
            if names.len() > 1 {
                return Err("\"*\" must be the only entry".to_owned());
            }
            return Ok(AllowList { names: None });
        }
        let mut set = BTreeSet::new();
        for n in names {
            if n == "@read-only" {
                set.extend(READ_ONLY.iter().map(|n| n.to_ascii_lowercase()));
                continue;
            }
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("{n:?} is not an action name"));
            }
            if is_session_action(n) {
                return Err(format!(
                    "{n:?} cannot be allowed: it would change the shared AMI session"
                ));
            }
            set.insert(n.to_ascii_lowercase());
        }
        Ok(AllowList { names: Some(set) })
    }

    /// Whether `action` may be sent.
    pub fn allows(&self, action: &str) -> bool {
        if is_session_action(action) {
            return false;
        }
        match &self.names {
            None => true,
            Some(set) => set.contains(&action.to_ascii_lowercase()),
        }
    }
}

fn is_session_action(name: &str) -> bool {
    SESSION_ACTIONS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let l = AllowList::from_names(&["@read-only".into(), "Originate".into()]).unwrap();
        assert!(l.allows("ORIGINATE") && l.allows("Ping"));
        assert!(!l.allows("Hangup"));
        assert!(AllowList::from_names(&["Logoff".into()]).is_err());
        assert!(AllowList::from_names(&["*".into(), "Ping".into()]).is_err());
        assert!(AllowList::from_names(&["Bad Name".into()]).is_err());
        assert!(!AllowList::read_only().allows("Command"));
    }
}
