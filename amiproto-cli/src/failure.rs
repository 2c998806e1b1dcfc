//! Why `ami` stopped, and the exit status that tells it.

use std::fmt;
use std::process::ExitCode;

use amiproto_tokio::Error;

/// A reason to exit with a non-zero status.
#[derive(Debug)]
pub enum Failure {
    /// The command line cannot work (bad URL, no secret, unreadable file):
    /// nothing was sent. Exit status 2.
    Usage(String),
    /// The server refused, failed or was unreachable. Exit status 1.
    Server(String),
}

impl Failure {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Usage(_) => ExitCode::from(2),
            Failure::Server(_) => ExitCode::from(1),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Server(m) => f.write_str(m),
        }
    }
}

impl From<Error> for Failure {
    /// A client error, worded with a hint where one helps.
    fn from(e: Error) -> Failure {
        let text = match &e {
            Error::Connect { host, port, source } => format!(
                "cannot connect to {host}:{port}: {source} (is Asterisk running with the manager enabled?)"
            ),
            Error::Connection(amiproto::ConnectionError::ChallengeRefused { message }) => format!(
                "the server refused the MD5 challenge ({message}); add ?auth=plain to the URL \
                 to send the secret in the clear instead"
            ),
            e if e.is_auth_failed() => format!(
                "login refused: {} (check the user and secret in manager.conf)",
                e.server_message().unwrap_or("authentication failed")
            ),
            e => e.to_string(),
        };
        Failure::Server(text)
    }
}
