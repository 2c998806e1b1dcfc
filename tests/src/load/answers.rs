//! What the load server answers, worded as Asterisk 22 words it.

use super::requests::Request;

/// The banner of Asterisk 22 (AMI 11.0.0).
pub(crate) const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";

/// Sent once, right after the login response, as Asterisk does.
pub(crate) const FULLY_BOOTED: &[u8] = b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 54\r\nLastReload: 47\r\nStatus: Fully Booted\r\n\r\n";

/// The MD5 challenge handed to every client.
const CHALLENGE: &str = "840716109";

/// What answering an action did to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Nothing changed.
    Continue,
    /// The client is logged in now (the first successful `Login`).
    LoggedIn,
    /// `Logoff`: the `Goodbye` is written, close the connection.
    Close,
}

/// Append the answer to `req` to `out`.
///
/// Any user and secret are accepted (plain, or MD5 after `Challenge`): the
/// load server measures clients, it does not check them. Before login every
/// other action gets `Permission denied`; after it, every action gets
/// `Response: Success` (`Ping` with Asterisk's `Ping: Pong` and
/// `Timestamp`).
pub(crate) fn answer(req: &Request<'_>, logged_in: bool, out: &mut Vec<u8>) -> After {
    if req.is("Login") {
        success(out, req, "Message: Authentication accepted");
        if logged_in {
            return After::Continue;
        }
        out.extend_from_slice(FULLY_BOOTED);
        return After::LoggedIn;
    }
    if req.is("Logoff") {
        start(out, "Goodbye", req);
        out.extend_from_slice(b"Message: Thanks for all the fish.\r\n\r\n");
        return After::Close;
    }
    if req.is("Challenge") {
        success(out, req, &format!("Challenge: {CHALLENGE}"));
    } else if !logged_in {
        start(out, "Error", req);
        out.extend_from_slice(b"Message: Permission denied\r\n\r\n");
    } else if req.is("Ping") {
        success(out, req, "Ping: Pong\r\nTimestamp: 1763803465.495123");
    } else {
        success(out, req, "Message: Success");
    }
    After::Continue
}

fn start(out: &mut Vec<u8>, status: &str, req: &Request<'_>) {
    out.extend_from_slice(b"Response: ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(id) = req.action_id {
        out.extend_from_slice(b"ActionID: ");
        out.extend_from_slice(id);
        out.extend_from_slice(b"\r\n");
    }
}

fn success(out: &mut Vec<u8>, req: &Request<'_>, body: &str) {
    start(out, "Success", req);
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(action: &'a str, id: Option<&'a str>) -> Request<'a> {
        Request {
            action: action.as_bytes(),
            action_id: id.map(str::as_bytes),
        }
    }

    #[test]
    fn login_then_fully_booted_once() {
        let mut out = Vec::new();
        assert_eq!(
            answer(&req("login", Some("l")), false, &mut out),
            After::LoggedIn
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("Response: Success\r\nActionID: l\r\nMessage: Authentication accepted\r\n\r\nEvent: FullyBooted\r\n"));
        let mut again = Vec::new();
        assert_eq!(
            answer(&req("Login", None), true, &mut again),
            After::Continue
        );
        assert!(!String::from_utf8(again).unwrap().contains("FullyBooted"));
    }

    #[test]
    fn ping_echoes_the_action_id_and_needs_a_login() {
        let mut out = Vec::new();
        answer(&req("Ping", Some("p-1")), true, &mut out);
        assert!(out.starts_with(b"Response: Success\r\nActionID: p-1\r\nPing: Pong\r\n"));
        out.clear();
        answer(&req("Ping", Some("p-2")), false, &mut out);
        assert_eq!(
            out,
            b"Response: Error\r\nActionID: p-2\r\nMessage: Permission denied\r\n\r\n"
        );
    }

    #[test]
    fn challenge_and_logoff() {
        let mut out = Vec::new();
        answer(&req("Challenge", Some("c")), false, &mut out);
        assert_eq!(
            out,
            b"Response: Success\r\nActionID: c\r\nChallenge: 840716109\r\n\r\n"
        );
        out.clear();
        assert_eq!(answer(&req("LOGOFF", None), true, &mut out), After::Close);
        assert!(out.starts_with(b"Response: Goodbye\r\n"));
    }
}
