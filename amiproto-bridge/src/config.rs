//! The bridge's settings: a TOML file, then environment overrides, then
//! checks that turn every mistake into a [`ConfigError`] naming the field.
//!
//! ```
//! use amiproto_bridge::config::{BridgeConfig, Env};
//!
//! let toml = r#"
//!     [nats]
//!     urls = ["nats://127.0.0.1:4222"]
//!
//!     [[pbx]]
//!     name = "paris"
//!     url = "ami://bridge@10.0.0.5:5038"
//!     secret_env = "PARIS_SECRET"
//! "#;
//! let env = Env::from_pairs([("PARIS_SECRET", "s3cret")]);
//! let config = BridgeConfig::from_toml(toml, &env).unwrap();
//! assert_eq!(config.pbxs[0].name, "paris");
//! assert_eq!(config.stream.name, "AMI");
//! assert_eq!(config.stream.prefix, "ami");
//!
//! // A mistake is a typed error that names the culprit.
//! let err = BridgeConfig::from_toml(toml, &Env::default()).unwrap_err();
//! assert!(err.to_string().contains("PARIS_SECRET"), "{err}");
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use amiproto::EventMask;
use amiproto_tokio::{ClientConfig, Overflow, Reconnect};
use serde::Deserialize;

use crate::allow::AllowList;
use crate::error::ConfigError;
use crate::subject::check_token;

/// Prefix of every environment override.
pub const ENV_PREFIX: &str = "AMI_BRIDGE_";

/// Environment variables, as the config loader sees them (a snapshot, so
/// tests need not touch the process environment).
#[derive(Clone, Debug, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The process environment now (variables that are not UTF-8 are
    /// skipped).
    pub fn from_process() -> Env {
        Env(std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect())
    }

    /// Given pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env(pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect())
    }

    /// One variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The whole configuration, checked.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BridgeConfig {
    /// Where NATS is and how to log in.
    pub nats: NatsConfig,
    /// The JetStream stream and the subject prefix.
    pub stream: StreamConfig,
    /// The publishing pipeline.
    pub publish: PublishConfig,
    /// The per-PBX buffer used while NATS is slow or away.
    pub buffer: BufferConfig,
    /// The request-reply action service.
    pub actions: ActionsConfig,
    /// How often each PBX's status is published.
    pub status_interval: Duration,
    /// The PBXs, in file order.
    pub pbxs: Vec<PbxConfig>,
}

/// NATS connection settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NatsConfig {
    /// Server URLs (`nats://host:port`, `tls://…`); tried in turn.
    pub urls: Vec<String>,
    /// Credentials.
    pub auth: NatsAuth,
    /// Client name shown by the server.
    pub name: String,
    /// Limit on one connection attempt.
    pub connect_timeout: Duration,
    /// First delay between connection attempts (doubles up to
    /// `max_retry_delay`).
    pub retry_delay: Duration,
    /// Cap on the delay between connection attempts.
    pub max_retry_delay: Duration,
}

/// How the bridge logs in to NATS.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum NatsAuth {
    /// No credentials.
    #[default]
    None,
    /// User and password.
    UserPassword {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// A token.
    Token(String),
    /// A `.creds` file (JWT and NKey seed).
    CredsFile(PathBuf),
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatsAuth::None => f.write_str("None"),
            NatsAuth::UserPassword { user, .. } => write!(f, "UserPassword({user}, ***)"),
            NatsAuth::Token(_) => f.write_str("Token(***)"),
            NatsAuth::CredsFile(p) => write!(f, "CredsFile({})", p.display()),
        }
    }
}

/// Where JetStream keeps messages.
///
/// Deliberately exhaustive: these are JetStream's two storage types, the
/// same two values its stream configuration takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// On disk (default).
    File,
    /// In memory.
    Memory,
}

/// The stream and subjects.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StreamConfig {
    /// Stream name (default `AMI`).
    pub name: String,
    /// Subject prefix, one or more tokens (default `ami`).
    pub prefix: String,
    /// Storage when the bridge creates the stream.
    pub storage: Storage,
    /// Replicas when the bridge creates the stream (1, 3 or 5).
    pub replicas: usize,
    /// Oldest message kept (`None`: no age limit). Default 7 days.
    pub max_age: Option<Duration>,
    /// Most bytes kept (`None`: no limit). Default 10 GiB.
    pub max_bytes: Option<i64>,
    /// Most messages kept (`None`: no limit).
    pub max_messages: Option<i64>,
    /// How long the server remembers a `Nats-Msg-Id` to drop re-published
    /// copies. Default 2 minutes; make it longer than the longest NATS
    /// outage you want to ride through without duplicates.
    pub duplicate_window: Duration,
}

/// The publishing pipeline.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PublishConfig {
    /// Publishes awaiting their JetStream ack, per PBX. Default 512.
    pub window: usize,
    /// How long to wait for one ack before the publish counts as failed.
    pub ack_timeout: Duration,
}

/// The per-PBX buffer.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BufferConfig {
    /// Most events held in memory. Default 100 000.
    pub max_events: usize,
    /// Most payload bytes held in memory. Default 64 MiB.
    pub max_bytes: usize,
    /// Directory for spill files (one per PBX); `None`: no spilling.
    pub spill_dir: Option<PathBuf>,
    /// Most bytes in one PBX's spill file. Default 1 GiB.
    pub spill_max_bytes: u64,
    /// Capacity of the AMI client's event queue in front of the buffer (a
    /// last resort: it only fills when the bridge's reader is starved of
    /// CPU, and what it drops is reported as a gap too). Default 65 536.
    pub ami_queue: usize,
}

/// The action service.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ActionsConfig {
    /// Which actions requesters may send.
    pub allow: AllowList,
    /// Default timeout for one action.
    pub timeout: Duration,
    /// Most actions of one PBX running at once (more wait their turn).
    pub max_concurrent: usize,
}

/// One PBX.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PbxConfig {
    /// Name: one subject token (letters, digits, `-`, `_`).
    pub name: String,
    /// The AMI client's settings (endpoint, login, mask, reconnects).
    pub client: ClientConfig,
    /// Server-side `Filter` expressions, applied after login and on every
    /// reconnect.
    pub filters: Vec<String>,
}

// ---------------------------------------------------------------- raw file

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    nats: RawNats,
    #[serde(default)]
    stream: RawStream,
    #[serde(default)]
    publish: RawPublish,
    #[serde(default)]
    buffer: RawBuffer,
    #[serde(default)]
    actions: RawActions,
    #[serde(default)]
    status: RawStatus,
    #[serde(default)]
    pbx: Vec<RawPbx>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNats {
    urls: Option<Vec<String>>,
    user: Option<String>,
    password: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    creds_file: Option<PathBuf>,
    name: Option<String>,
    connect_timeout_ms: Option<u64>,
    retry_delay_ms: Option<u64>,
    max_retry_delay_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStream {
    name: Option<String>,
    prefix: Option<String>,
    storage: Option<Storage>,
    replicas: Option<usize>,
    max_age_secs: Option<u64>,
    max_bytes: Option<i64>,
    max_messages: Option<i64>,
    duplicate_window_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    window: Option<usize>,
    ack_timeout_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBuffer {
    max_events: Option<usize>,
    max_bytes: Option<usize>,
    spill_dir: Option<PathBuf>,
    spill_max_bytes: Option<u64>,
    ami_queue: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawActions {
    allow: Option<Vec<String>>,
    timeout_ms: Option<u64>,
    max_concurrent: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    interval_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPbx {
    name: String,
    url: String,
    secret_env: Option<String>,
    secret_file: Option<PathBuf>,
    events: Option<String>,
    #[serde(default)]
    filters: Vec<String>,
    action_timeout_ms: Option<u64>,
    keepalive_secs: Option<u64>,
}

// ---------------------------------------------------------------- loading

impl BridgeConfig {
    /// Read `path`, apply overrides from the process environment, check.
    pub fn load(path: &Path) -> Result<BridgeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        BridgeConfig::from_toml(&text, &Env::from_process())
    }

    /// Parse TOML text, apply overrides from `env`, check.
    ///
    /// Overrides: `AMI_BRIDGE_NATS_URL` (comma-separated), `…_NATS_USER`,
    /// `…_NATS_PASSWORD`, `…_NATS_TOKEN`, `…_NATS_CREDS`, `…_STREAM`,
    /// `…_PREFIX`, and per PBX `AMI_BRIDGE_PBX_<NAME>_URL` /
    /// `AMI_BRIDGE_PBX_<NAME>_SECRET` (`<NAME>` upper-cased, `-` as `_`);
    /// a PBX override naming no configured PBX is an error.
    pub fn from_toml(text: &str, env: &Env) -> Result<BridgeConfig, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        build(raw, env)
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn ms(v: Option<u64>, default: u64) -> Duration {
    Duration::from_millis(v.unwrap_or(default))
}

fn positive(field: &str, v: Option<usize>, default: usize) -> Result<usize, ConfigError> {
    match v {
        Some(0) => Err(invalid(field, "must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

fn read_secret_file(path: &Path, what: &str) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
        what: what.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

fn env_var(env: &Env, var: &str, what: &str) -> Result<String, ConfigError> {
    env.get(var)
        .map(str::to_owned)
        .ok_or_else(|| ConfigError::MissingEnv {
            what: what.to_owned(),
            var: var.to_owned(),
        })
}

/// `paris-1` → `PARIS_1`.
fn env_name(pbx: &str) -> String {
    pbx.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn build(raw: RawFile, env: &Env) -> Result<BridgeConfig, ConfigError> {
    let nats = build_nats(raw.nats, env)?;
    let stream = build_stream(raw.stream, env)?;
    let publish = PublishConfig {
        window: positive("publish.window", raw.publish.window, 512)?,
        ack_timeout: ms(raw.publish.ack_timeout_ms, 5_000),
    };
    let buffer = BufferConfig {
        max_events: positive("buffer.max_events", raw.buffer.max_events, 100_000)?,
        max_bytes: positive("buffer.max_bytes", raw.buffer.max_bytes, 64 << 20)?,
        spill_dir: raw.buffer.spill_dir,
        spill_max_bytes: raw.buffer.spill_max_bytes.unwrap_or(1 << 30),
        ami_queue: positive("buffer.ami_queue", raw.buffer.ami_queue, 65_536)?,
    };
    let allow = match raw.actions.allow {
        Some(names) => AllowList::from_names(&names).map_err(|r| invalid("actions.allow", r))?,
        None => AllowList::read_only(),
    };
    let actions = ActionsConfig {
        allow,
        timeout: ms(raw.actions.timeout_ms, 10_000),
        max_concurrent: positive("actions.max_concurrent", raw.actions.max_concurrent, 64)?,
    };
    let status_interval = Duration::from_secs(raw.status.interval_secs.unwrap_or(10).max(1));

    if raw.pbx.is_empty() {
        return Err(ConfigError::NoPbx);
    }
    let mut seen = HashSet::new();
    let mut env_names = BTreeMap::new();
    for p in &raw.pbx {
        check_token(&p.name).map_err(|r| invalid(&format!("pbx name {:?}", p.name), r))?;
        if !seen.insert(p.name.to_ascii_lowercase()) {
            return Err(ConfigError::DuplicatePbx(p.name.clone()));
        }
        env_names.insert(env_name(&p.name), p.name.clone());
    }
    // Every per-PBX override must name a configured PBX.
    let pbx_prefix = format!("{ENV_PREFIX}PBX_");
    for (var, _) in env.with_prefix(&pbx_prefix) {
        let rest = &var[pbx_prefix.len()..];
        let name = ["_URL", "_SECRET"]
            .iter()
            .find_map(|suffix| rest.strip_suffix(suffix))
            .unwrap_or(rest);
        if !env_names.contains_key(name) {
            return Err(ConfigError::UnknownPbx {
                name: name.to_owned(),
                source_of: var.to_owned(),
            });
        }
    }
    let mut pbxs = Vec::with_capacity(raw.pbx.len());
    for p in raw.pbx {
        pbxs.push(build_pbx(p, env, &buffer)?);
    }
    Ok(BridgeConfig {
        nats,
        stream,
        publish,
        buffer,
        actions,
        status_interval,
        pbxs,
    })
}

fn build_nats(raw: RawNats, env: &Env) -> Result<NatsConfig, ConfigError> {
    let mut urls = raw
        .urls
        .unwrap_or_else(|| vec!["nats://127.0.0.1:4222".to_owned()]);
    if let Some(v) = env.get(&format!("{ENV_PREFIX}NATS_URL")) {
        urls = v.split(',').map(|s| s.trim().to_owned()).collect();
    }
    if urls.is_empty() {
        return Err(invalid("nats.urls", "at least one URL is needed"));
    }
    for u in &urls {
        check_nats_url(u)?;
    }
    let user = env
        .get(&format!("{ENV_PREFIX}NATS_USER"))
        .map(str::to_owned)
        .or(raw.user);
    let password = match (
        env.get(&format!("{ENV_PREFIX}NATS_PASSWORD")),
        raw.password,
        raw.password_env,
        raw.password_file,
    ) {
        (Some(p), ..) => Some(p.to_owned()),
        (None, Some(p), None, None) => Some(p),
        (None, None, Some(var), None) => Some(env_var(env, &var, "nats.password_env")?),
        (None, None, None, Some(path)) => Some(read_secret_file(&path, "nats.password_file")?),
        (None, None, None, None) => None,
        _ => {
            return Err(invalid(
                "nats.password",
                "give only one of password, password_env, password_file",
            ))
        }
    };
    let token = match (
        env.get(&format!("{ENV_PREFIX}NATS_TOKEN")),
        raw.token_env,
        raw.token_file,
    ) {
        (Some(t), ..) => Some(t.to_owned()),
        (None, Some(var), None) => Some(env_var(env, &var, "nats.token_env")?),
        (None, None, Some(path)) => Some(read_secret_file(&path, "nats.token_file")?),
        (None, None, None) => None,
        _ => {
            return Err(invalid(
                "nats.token",
                "give only one of token_env, token_file",
            ))
        }
    };
    let creds = env
        .get(&format!("{ENV_PREFIX}NATS_CREDS"))
        .map(PathBuf::from)
        .or(raw.creds_file);
    let auth = match (user, password, token, creds) {
        (None, None, None, None) => NatsAuth::None,
        (Some(user), Some(password), None, None) => NatsAuth::UserPassword { user, password },
        (Some(_), None, None, None) => {
            return Err(invalid("nats.user", "a user needs a password"));
        }
        (None, Some(_), None, None) => {
            return Err(invalid("nats.password", "a password needs a user"));
        }
        (None, None, Some(t), None) => NatsAuth::Token(t),
        (None, None, None, Some(path)) => {
            if !path.is_file() {
                return Err(invalid(
                    "nats.creds_file",
                    format!("{} is not a readable file", path.display()),
                ));
            }
            NatsAuth::CredsFile(path)
        }
        _ => {
            return Err(invalid(
                "nats",
                "choose one login: user/password, token, or creds_file",
            ))
        }
    };
    Ok(NatsConfig {
        urls,
        auth,
        name: raw.name.unwrap_or_else(|| "amiproto-bridge".to_owned()),
        connect_timeout: ms(raw.connect_timeout_ms, 5_000),
        retry_delay: ms(raw.retry_delay_ms, 250),
        max_retry_delay: ms(raw.max_retry_delay_ms, 10_000),
    })
}

/// A NATS server URL: `nats://`, `tls://`, `ws://`, `wss://` or a bare
/// `host[:port]`.
fn check_nats_url(url: &str) -> Result<(), ConfigError> {
    let addr: async_nats::ServerAddr =
        url.parse()
            .map_err(|e: std::io::Error| ConfigError::BadNatsUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
    if addr.host().is_empty() {
        return Err(ConfigError::BadNatsUrl {
            url: url.to_owned(),
            reason: "no host".to_owned(),
        });
    }
    Ok(())
}

fn build_stream(raw: RawStream, env: &Env) -> Result<StreamConfig, ConfigError> {
    let name = env
        .get(&format!("{ENV_PREFIX}STREAM"))
        .map(str::to_owned)
        .or(raw.name)
        .unwrap_or_else(|| "AMI".to_owned());
    check_token(&name).map_err(|r| invalid("stream.name", r))?;
    let prefix = env
        .get(&format!("{ENV_PREFIX}PREFIX"))
        .map(str::to_owned)
        .or(raw.prefix)
        .unwrap_or_else(|| "ami".to_owned());
    for token in prefix.split('.') {
        check_token(token).map_err(|r| invalid("stream.prefix", r))?;
    }
    let replicas = raw.replicas.unwrap_or(1);
    if !(1..=5).contains(&replicas) {
        return Err(invalid("stream.replicas", "must be from 1 to 5"));
    }
    let positive_limit = |field: &str, v: Option<i64>| match v {
        Some(n) if n <= 0 => Err(invalid(
            field,
            "must be positive (leave it out for no limit)",
        )),
        other => Ok(other),
    };
    Ok(StreamConfig {
        name,
        prefix,
        storage: raw.storage.unwrap_or(Storage::File),
        replicas,
        max_age: match raw.max_age_secs {
            Some(0) => None,
            Some(s) => Some(Duration::from_secs(s)),
            None => Some(Duration::from_secs(7 * 24 * 3600)),
        },
        max_bytes: positive_limit("stream.max_bytes", raw.max_bytes.or(Some(10 << 30)))?,
        max_messages: positive_limit("stream.max_messages", raw.max_messages)?,
        duplicate_window: Duration::from_secs(raw.duplicate_window_secs.unwrap_or(120).max(1)),
    })
}

fn build_pbx(raw: RawPbx, env: &Env, buffer: &BufferConfig) -> Result<PbxConfig, ConfigError> {
    let upper = env_name(&raw.name);
    let url = env
        .get(&format!("{ENV_PREFIX}PBX_{upper}_URL"))
        .map(str::to_owned)
        .unwrap_or(raw.url);
    let mut client = ClientConfig::from_url(&url).map_err(|error| ConfigError::BadAmiUrl {
        pbx: raw.name.clone(),
        error,
    })?;
    let from_env = env.get(&format!("{ENV_PREFIX}PBX_{upper}_SECRET"));
    let what = format!("pbx {:?} secret", raw.name);
    let secret = match (from_env, raw.secret_env, raw.secret_file) {
        (Some(s), ..) => Some(s.to_owned()),
        (None, Some(var), None) => Some(env_var(env, &var, &what)?),
        (None, None, Some(path)) => Some(read_secret_file(&path, &what)?),
        (None, None, None) => None,
        (None, Some(_), Some(_)) => {
            return Err(invalid(
                &format!("pbx {:?}", raw.name),
                "give only one of secret_env, secret_file",
            ))
        }
    };
    if let Some(s) = secret {
        client.ami.secret = amiproto::Secret::new(s);
    } else if client.ami.secret.expose().is_empty() {
        return Err(ConfigError::MissingSecret { pbx: raw.name });
    }
    if let Some(mask) = &raw.events {
        client.ami.events = EventMask::parse(mask);
    }
    if let Some(t) = raw.action_timeout_ms {
        client.ami.action_timeout = Some(Duration::from_millis(t));
    }
    if let Some(k) = raw.keepalive_secs.filter(|k| *k > 0) {
        client = client.keepalive(Duration::from_secs(k), Duration::from_secs(k.max(5)));
    }
    client = client
        .reconnect(Reconnect::default().delays(Duration::from_millis(200), Duration::from_secs(30)))
        .events_overflow(Overflow::Lossy {
            capacity: buffer.ami_queue,
        });
    Ok(PbxConfig {
        name: raw.name,
        client,
        filters: raw.filters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
        [[pbx]]
        name = "a"
        url = "ami://admin:amp111@127.0.0.1:5038"
    "#;

    #[test]
    fn defaults() {
        let c = BridgeConfig::from_toml(ONE, &Env::default()).unwrap();
        assert_eq!(c.nats.urls, ["nats://127.0.0.1:4222"]);
        assert_eq!(c.publish.window, 512);
        assert_eq!(c.stream.replicas, 1);
        assert_eq!(c.stream.storage, Storage::File);
        assert!(c.actions.allow.allows("CoreShowChannels"));
        assert!(!c.actions.allow.allows("Originate"));
        assert_eq!(c.pbxs[0].client.endpoint.port, 5038);
    }

    #[test]
    fn env_overrides() {
        let env = Env::from_pairs([
            ("AMI_BRIDGE_NATS_URL", "nats://n1:4222, nats://n2:4222"),
            ("AMI_BRIDGE_PBX_A_URL", "ami://bridge@10.1.1.1:5039"),
            ("AMI_BRIDGE_PBX_A_SECRET", "xyz"),
            ("AMI_BRIDGE_PREFIX", "acme.ami"),
        ]);
        let c = BridgeConfig::from_toml(ONE, &env).unwrap();
        assert_eq!(c.nats.urls, ["nats://n1:4222", "nats://n2:4222"]);
        assert_eq!(c.stream.prefix, "acme.ami");
        assert_eq!(c.pbxs[0].client.endpoint.host, "10.1.1.1");
        assert_eq!(c.pbxs[0].client.ami.username, "bridge");
        assert_eq!(c.pbxs[0].client.ami.secret.expose(), "xyz");
    }

    #[test]
    fn unknown_pbx_in_env() {
        let env = Env::from_pairs([("AMI_BRIDGE_PBX_NOPE_URL", "ami://x:y@h")]);
        let e = BridgeConfig::from_toml(ONE, &env).unwrap_err();
        assert!(
            matches!(&e, ConfigError::UnknownPbx { name, .. } if name == "NOPE"),
            "{e}"
        );
    }

    #[test]
    fn bad_urls_and_names() {
        let bad_ami = ONE.replace("ami://admin:amp111@127.0.0.1:5038", "http://x");
        let e = BridgeConfig::from_toml(&bad_ami, &Env::default()).unwrap_err();
        assert!(matches!(e, ConfigError::BadAmiUrl { .. }), "{e}");

        let bad_nats = format!("[nats]\nurls = [\"nats://host:99999\"]\n{ONE}");
        let e = BridgeConfig::from_toml(&bad_nats, &Env::default()).unwrap_err();
        assert!(matches!(e, ConfigError::BadNatsUrl { .. }), "{e}");

        let bad_scheme = format!("[nats]\nurls = [\"http://host:4222\"]\n{ONE}");
        let e = BridgeConfig::from_toml(&bad_scheme, &Env::default()).unwrap_err();
        assert!(matches!(e, ConfigError::BadNatsUrl { .. }), "{e}");

        let bad_name = ONE.replace("name = \"a\"", "name = \"a.b\"");
        let e = BridgeConfig::from_toml(&bad_name, &Env::default()).unwrap_err();
        assert!(e.to_string().contains("a.b"), "{e}");

        let dup = format!("{ONE}{ONE}");
        let e = BridgeConfig::from_toml(&dup, &Env::default()).unwrap_err();
        assert!(matches!(e, ConfigError::DuplicatePbx(_)), "{e}");

        let e = BridgeConfig::from_toml("", &Env::default()).unwrap_err();
        assert!(matches!(e, ConfigError::NoPbx), "{e}");

        let typo = format!("[stream]\nnmae = \"X\"\n{ONE}");
        let e = BridgeConfig::from_toml(&typo, &Env::default()).unwrap_err();
        assert!(e.to_string().contains("nmae"), "{e}");
    }

    #[test]
    fn secrets() {
        let no_secret = ONE.replace("admin:amp111@", "admin@");
        let e = BridgeConfig::from_toml(&no_secret, &Env::default()).unwrap_err();
        assert!(matches!(e, ConfigError::MissingSecret { .. }), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "from-file\n").unwrap();
        let with_file = format!(
            "{no_secret}secret_file = {:?}\n",
            path.display().to_string()
        );
        let c = BridgeConfig::from_toml(&with_file, &Env::default()).unwrap();
        assert_eq!(c.pbxs[0].client.ami.secret.expose(), "from-file");

        let missing = format!("{no_secret}secret_file = \"/nonexistent/secret\"\n");
        let e = BridgeConfig::from_toml(&missing, &Env::default()).unwrap_err();
        assert!(matches!(e, ConfigError::SecretFile { .. }), "{e}");
    }
}
