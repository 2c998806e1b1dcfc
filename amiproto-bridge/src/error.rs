//! The bridge's error types.

use std::path::PathBuf;

use thiserror::Error;

/// A configuration mistake, naming the field, variable or file at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for the bridge (syntax, unknown key,
    /// wrong type); the message has the line and column.
    #[error("config file: {0}")]
    Parse(String),
    /// A value is out of range or inconsistent.
    #[error("config {field}: {reason}")]
    Invalid {
        /// The field (`publish.window`, `pbx "paris"`…).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// No `[[pbx]]` entry.
    #[error("config: no [[pbx]] entry: the bridge needs at least one PBX")]
    NoPbx,
    /// Two PBXs share a name (names compare case-insensitively).
    #[error("config: PBX name {0:?} is used twice")]
    DuplicatePbx(String),
    /// An override names a PBX that is not configured.
    #[error("unknown PBX {name:?} in {source_of} (configured PBX names are upper-cased there, `-` as `_`)")]
    UnknownPbx {
        /// The name as written in the override.
        name: String,
        /// Where it was found (the variable name).
        source_of: String,
    },
    /// A PBX's AMI URL is malformed.
    #[error("PBX {pbx:?}: bad AMI URL: {error}")]
    BadAmiUrl {
        /// The PBX.
        pbx: String,
        /// Why.
        error: amiproto::UrlError,
    },
    /// A NATS URL is malformed.
    #[error("bad NATS URL {url:?}: {reason}")]
    BadNatsUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A PBX has no secret (not in the URL, no `secret_env`, no
    /// `secret_file`).
    #[error(
        "PBX {pbx:?} has no secret: set secret_env, secret_file, or AMI_BRIDGE_PBX_<NAME>_SECRET"
    )]
    MissingSecret {
        /// The PBX.
        pbx: String,
    },
    /// A variable the config points to is not set.
    #[error("{what}: environment variable {var} is not set")]
    MissingEnv {
        /// Which setting wanted it.
        what: String,
        /// The variable.
        var: String,
    },
    /// A secret file could not be read.
    #[error("{what}: cannot read {}: {source}", path.display())]
    SecretFile {
        /// Which setting wanted it.
        what: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Why the bridge stopped or could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The stream exists with settings the bridge cannot use, or could not
    /// be created.
    #[error("JetStream stream {stream:?}: {reason}")]
    Stream {
        /// The stream.
        stream: String,
        /// Why.
        reason: String,
    },
    /// A spill file could not be opened.
    #[error("spill file {}: {source}", path.display())]
    Spill {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No PBX of that name is configured.
    #[error("unknown PBX {0:?}")]
    UnknownPbx(String),
}
