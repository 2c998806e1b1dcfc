//! The login exchange: plaintext `Login`, or `Challenge` then MD5 `Login`.

use md5::{Digest, Md5};

use super::config::{AuthMethod, Config};
use crate::action::Action;

/// Where the login exchange stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoginStep {
    /// `Challenge` sent.
    Challenge,
    /// `Login` sent.
    Login,
}

/// `md5(challenge + secret)` as lowercase hex: the `Key` of an MD5 login.
///
/// ```
/// // Captured from a real Asterisk 22: challenge 112527728, secret amp111.
/// assert_eq!(amiproto::md5_key("112527728", "amp111").len(), 32);
/// ```
pub fn md5_key(challenge: &str, secret: &str) -> String {
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(secret.as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(32);
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).expect("nibble"));
        out.push(char::from_digit(u32::from(b & 15), 16).expect("nibble"));
    }
    out
}

/// The first action of the login exchange for this config.
pub(crate) fn first_step(config: &Config) -> (LoginStep, Action) {
    match config.auth {
        AuthMethod::Plain => (LoginStep::Login, plain_login(config)),
        AuthMethod::Md5 | AuthMethod::Md5WithFallback => (
            LoginStep::Challenge,
            Action::new("Challenge").header("AuthType", "MD5"),
        ),
    }
}

fn with_events(action: Action, config: &Config) -> Action {
    action.header("Events", config.events.as_value())
}

/// `Login` with the secret in the clear.
pub(crate) fn plain_login(config: &Config) -> Action {
    let a = Action::new("Login")
        .header("Username", config.username.clone())
        .header("Secret", config.secret.expose().to_owned());
    with_events(a, config)
}

/// `Login` answering an MD5 challenge.
pub(crate) fn md5_login(config: &Config, challenge: &str) -> Action {
    // Lower case, as recorded from a real client (Asterisk compares it
    // case-insensitively).
    let a = Action::new("Login")
        .header("AuthType", "md5")
        .header("Username", config.username.clone())
        .header("Key", md5_key(challenge, config.secret.expose()));
    with_events(a, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_key_matches_rfc1321_vector() {
        // md5("abc") from RFC 1321.
        assert_eq!(md5_key("a", "bc"), "900150983cd24fb0d6963f7d28e17f72");
    }
}
