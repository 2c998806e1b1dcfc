//! What the simulated Asterisk is configured with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

/// A manager user (`manager.conf` section): name, secret and its read and
/// write classes as Asterisk spells them (`all`, `system,call`, …).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// Login name (matched case-insensitively, like Asterisk).
    pub username: String,
    /// Secret for plaintext and MD5 challenge login.
    pub secret: String,
    /// Classes of events the user may read (`read =`).
    pub read: String,
    /// Classes of actions the user may run (`write =`).
    pub write: String,
}

impl User {
    /// A user with every read and write class.
    pub fn new(username: impl Into<String>, secret: impl Into<String>) -> User {
        User {
            username: username.into(),
            secret: secret.into(),
            read: "all".into(),
            write: "all".into(),
        }
    }

    /// Set the read classes (`system,call`…).
    pub fn read(mut self, classes: impl Into<String>) -> User {
        self.read = classes.into();
        self
    }

    /// Set the write classes.
    pub fn write(mut self, classes: impl Into<String>) -> User {
        self.write = classes.into();
        self
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .field("read", &self.read)
            .field("write", &self.write)
            .finish()
    }
}

/// What happens to a call originated to `Local/<exten>@<context>`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallOutcome {
    /// The far end answers (after [`SimConfig::ring_time`]); `OriginateResponse`
    /// `Reason: 4`.
    Answer,
    /// The far end is busy: `Reason: 5`, `DialStatus: BUSY`.
    Busy,
    /// Nobody answers before the originate's `Timeout` (30 s by default):
    /// `Reason: 3`, `DialStatus: NOANSWER`.
    NoAnswer,
    /// The extension does not exist: both halves hang up at once, `Reason: 0`.
    NoSuchExtension,
    /// Answered, and the callee half waits in this queue (listed by
    /// `QueueStatus` as a `QueueEntry`).
    Queue(String),
}

/// A member of a simulated queue.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueMember {
    /// `Name:` (`Agent One`).
    pub name: String,
    /// `Location:` (`Local/400@ami-test/n`).
    pub location: String,
    /// `StateInterface:`.
    pub state_interface: String,
}

impl QueueMember {
    /// A member named `name`, dialled at `location`, whose device state is
    /// read from `state_interface`.
    pub fn new(
        name: impl Into<String>,
        location: impl Into<String>,
        state_interface: impl Into<String>,
    ) -> QueueMember {
        QueueMember {
            name: name.into(),
            location: location.into(),
            state_interface: state_interface.into(),
        }
    }
}

/// A simulated queue (`queues.conf` section).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueConfig {
    /// Queue name.
    pub name: String,
    /// `Strategy:` (`ringall`, `leastrecent`…).
    pub strategy: String,
    /// Static members.
    pub members: Vec<QueueMember>,
}

impl QueueConfig {
    /// Queue `name` with strategy `strategy` and these static members.
    pub fn new(
        name: impl Into<String>,
        strategy: impl Into<String>,
        members: Vec<QueueMember>,
    ) -> QueueConfig {
        QueueConfig {
            name: name.into(),
            strategy: strategy.into(),
            members,
        }
    }
}

/// A simulated parking lot (`res_parking.conf` / `features.conf`), listed
/// by `Parkinglots`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParkingLot {
    /// Lot name (`default`).
    pub name: String,
    /// First parking space (`701`).
    pub start: u32,
    /// Last parking space (`720`).
    pub stop: u32,
    /// Seconds a call stays parked (`45`).
    pub timeout: u32,
}

impl ParkingLot {
    /// Lot `name` with spaces `start..=stop`, parking calls for `timeout`
    /// seconds.
    pub fn new(name: impl Into<String>, start: u32, stop: u32, timeout: u32) -> ParkingLot {
        ParkingLot {
            name: name.into(),
            start,
            stop,
            timeout,
        }
    }
}

/// Faults the simulator applies to every session, changeable while it runs
/// with [`crate::Simulator::set_faults`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Faults {
    /// Close each connection once this many bytes were written to it
    /// (counted from its first byte, banner included), cutting the last
    /// write short: the client sees a truncated packet.
    pub close_after_bytes: Option<u64>,
    /// Wait this long before answering each action.
    pub response_delay: Option<Duration>,
    /// Asterisk's write timeout (`writetimeout`, 100 ms by default in
    /// `manager.conf`), applied as Asterisk applies it: per message (event
    /// or response), from the moment that message's write starts. A session
    /// whose client takes no complete message within this time is dropped,
    /// possibly mid-packet; a slow client that keeps reading is not, however
    /// long a flood lasts. `None` (the default): wait forever, so
    /// paused-time tests cannot trip it.
    pub write_timeout: Option<Duration>,
    /// Accept connections and close them at once, before the banner (what
    /// Asterisk does over its unauthenticated-session limit).
    pub close_before_banner: bool,
    /// Write nothing while set (a hung server: the socket stays open and
    /// actions are read, but no byte goes out until it is cleared).
    pub stall: bool,
    /// Answer at most this many of the actions one read of the socket
    /// brings; the others wait, unanswered, until the client writes again.
    /// This is how a real Asterisk 22 behaves over TLS with a deep pipeline
    /// (it answers a few actions, then stalls with the connection open): a
    /// client with more actions in flight than this, waiting for answers
    /// before it writes again, hangs.
    pub answers_per_read: Option<usize>,
}

/// Shortcuts for [`Faults`]' fields (more faults may come, so a struct
/// literal cannot be written outside this crate):
/// `Faults::default().stall()`.
impl Faults {
    /// Set [`Faults::close_after_bytes`].
    pub fn close_after_bytes(mut self, bytes: u64) -> Faults {
        self.close_after_bytes = Some(bytes);
        self
    }

    /// Set [`Faults::response_delay`].
    pub fn response_delay(mut self, delay: Duration) -> Faults {
        self.response_delay = Some(delay);
        self
    }

    /// Set [`Faults::write_timeout`].
    pub fn write_timeout(mut self, timeout: Duration) -> Faults {
        self.write_timeout = Some(timeout);
        self
    }

    /// Turn [`Faults::close_before_banner`] on.
    pub fn close_before_banner(mut self) -> Faults {
        self.close_before_banner = true;
        self
    }

    /// Turn [`Faults::stall`] on.
    pub fn stall(mut self) -> Faults {
        self.stall = true;
        self
    }

    /// Set [`Faults::answers_per_read`].
    pub fn answers_per_read(mut self, answers: usize) -> Faults {
        self.answers_per_read = Some(answers);
        self
    }
}

/// Replay mode: every connection is served the bytes of a capture instead of
/// a simulated session (the client's bytes are read, recorded, and ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replay {
    /// The bytes to serve (a `*.server.bin` capture, banner included).
    pub bytes: Bytes,
    /// Write in pieces of this many bytes (`None`: all at once).
    pub chunk_size: Option<usize>,
    /// Wait this long between pieces (tokio time).
    pub pace: Option<Duration>,
    /// Close the connection after the last byte (`true` by default);
    /// otherwise keep it open until the client leaves.
    pub close_at_end: bool,
    /// Give the client's own `ActionID` to the capture's answers recorded
    /// under this one (see [`Replay::adopt_client_id`]).
    pub adopt_client_id: Option<String>,
}

impl Replay {
    /// Serve `bytes` in one write, then close.
    pub fn new(bytes: impl Into<Bytes>) -> Replay {
        Replay {
            bytes: bytes.into(),
            chunk_size: None,
            pace: None,
            close_at_end: true,
            adopt_client_id: None,
        }
    }

    /// Serve the banner line, wait for the client's first action (its
    /// login), and replace every `ActionID: <recorded>` line of the rest
    /// with that action's `ActionID`: a client whose generated ids are
    /// random (as amiproto's adapters' are) then logs in on a recorded
    /// answer. The capture file itself is never changed.
    pub fn adopt_client_id(mut self, recorded: impl Into<String>) -> Replay {
        self.adopt_client_id = Some(recorded.into());
        self
    }

    /// Write in pieces of `n` bytes (at least 1).
    pub fn chunk_size(mut self, n: usize) -> Replay {
        self.chunk_size = Some(n.max(1));
        self
    }

    /// Wait `every` between pieces.
    pub fn pace(mut self, every: Duration) -> Replay {
        self.pace = Some(every);
        self
    }

    /// Keep the connection open after the last byte.
    pub fn keep_open(mut self) -> Replay {
        self.close_at_end = false;
        self
    }
}

/// Everything the simulated Asterisk is started with.
///
/// [`SimConfig::default`] behaves like the Asterisk 22.10.1 of the captures
/// in `tests/data/asterisk-22.10.1` (user `admin` / `amp111`);
/// [`SimConfig::legacy`] like the Asterisk 13 of `tests/data/asterisk-13.38.3`.
/// Fields are public; the builder methods are shortcuts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SimConfig {
    /// Where to listen; `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// The AMI version of the banner, `11.0.0` by default. It decides what
    /// the server does as a real one of that version would:
    /// - below 4 (Asterisk ≤ 14): a `Queues` action, answered with bare CLI
    ///   text (no `Response:`, no `ActionID`);
    /// - below 3 (such as `2.10.6`, Asterisk 13): `Command` answers with the
    ///   `Response: Follows` raw output;
    /// - below 2 (`1.3`, Asterisk 11): lists without `EventList` markers
    ///   (`Status` ending with `Items: N`, `QueueStatus`, `QueueSummary`,
    ///   `Parkinglots`), Asterisk 11's `Status`, `QueueStatus` and
    ///   `Parkinglot` header sets, `Parkinglot` items without `ActionID`,
    ///   and `FullyBooted` without `Uptime`.
    pub ami_version: String,
    /// The Asterisk version (`CoreSettings`, `core show version`).
    pub asterisk_version: String,
    /// `SystemName:` of `CoreSettings` (empty by default, like the captures).
    pub system_name: String,
    /// Manager users: `admin`/`amp111` (all classes) and `limited`/`amp111`
    /// (read and write `system` only) by default.
    pub users: Vec<User>,
    /// How long a failed login waits before `Authentication failed` and the
    /// close (Asterisk: 1 s; tests usually set it near zero).
    pub auth_failure_delay: Duration,
    /// An unauthenticated connection is closed silently after this long
    /// (`authtimeout`, 30 s).
    pub auth_timeout: Duration,
    /// Canned CLI output for `Command`, by command line; LF-separated text.
    /// `core show channels` and `core show calls` are generated from the
    /// simulated channels unless given here.
    pub commands: BTreeMap<String, String>,
    /// Global variables (`Getvar`/`Setvar` without `Channel`);
    /// `TESTGLOBAL=hello` by default, like the captures.
    pub globals: BTreeMap<String, String>,
    /// Call outcome by extension (`Local/<exten>@…`); `999` is busy, `600`
    /// does not answer, `55555` does not exist and `301` waits in queue
    /// `emptyq` by default.
    pub call_outcomes: BTreeMap<String, CallOutcome>,
    /// The outcome of an extension not in [`SimConfig::call_outcomes`].
    pub default_outcome: CallOutcome,
    /// Ringing time before an answer or a busy signal (0 by default).
    pub ring_time: Duration,
    /// How long an answered call stays up unless it runs `Wait` with a
    /// number of seconds or is hung up; 30 s by default.
    pub call_duration: Duration,
    /// Simulated queues: `testq` (one member) and `emptyq` by default.
    pub queues: Vec<QueueConfig>,
    /// Queue rules for `QueueRule`: name and its `Rule:` values.
    pub queue_rules: Vec<(String, Vec<String>)>,
    /// Parking lots for `Parkinglots`: `default` (701–720, 45 s) by
    /// default.
    pub parking_lots: Vec<ParkingLot>,
    /// Wall-clock time at start (`None`: now). Timestamps move with tokio's
    /// clock, so a fixed start and paused time give repeatable output.
    pub start_time: Option<SystemTime>,
    /// Seed of the challenge and bridge-id generator.
    pub seed: u64,
    /// Faults in force from the start.
    pub faults: Faults,
    /// Serve a capture instead of simulating (see [`Replay`]).
    pub replay: Option<Replay>,
    /// Serve TLS (implicit, like port 5039) with a self-signed certificate
    /// made at start; see [`crate::Simulator::tls_cert_der`].
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        let commands = [(
            "core show version",
            "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-22 09:00:52 UTC\n",
        )]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let call_outcomes = [
            ("999", CallOutcome::Busy),
            ("600", CallOutcome::NoAnswer),
            ("55555", CallOutcome::NoSuchExtension),
            ("301", CallOutcome::Queue("emptyq".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        SimConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ami_version: "11.0.0".into(),
            asterisk_version: "22.10.1".into(),
            system_name: String::new(),
            users: vec![
                User::new("admin", "amp111"),
                User::new("limited", "amp111")
                    .read("system")
                    .write("system"),
            ],
            auth_failure_delay: Duration::from_secs(1),
            auth_timeout: Duration::from_secs(30),
            commands,
            globals: [("TESTGLOBAL".to_owned(), "hello".to_owned())].into(),
            call_outcomes,
            default_outcome: CallOutcome::Answer,
            ring_time: Duration::ZERO,
            call_duration: Duration::from_secs(30),
            queues: vec![
                QueueConfig {
                    name: "testq".into(),
                    strategy: "ringall".into(),
                    members: vec![QueueMember {
                        name: "Agent One".into(),
                        location: "Local/400@ami-test/n".into(),
                        state_interface: "Local/400@ami-test".into(),
                    }],
                },
                QueueConfig {
                    name: "emptyq".into(),
                    strategy: "leastrecent".into(),
                    members: Vec::new(),
                },
            ],
            queue_rules: vec![
                (
                    "testrule".into(),
                    vec!["10,+2,+0".into(), "20,+4,+1".into(), "30,10,5".into()],
                ),
                ("otherrule".into(), vec!["60,-1,0".into()]),
            ],
            parking_lots: vec![ParkingLot {
                name: "default".into(),
                start: 701,
                stop: 720,
                timeout: 45,
            }],
            start_time: None,
            seed: 0x5eed_a5e7_15c0_ffee,
            faults: Faults::default(),
            replay: None,
            #[cfg(feature = "tls")]
            tls: false,
        }
    }
}

/// What the banner's AMI version makes the simulated server do.
impl SimConfig {
    fn ami_major(&self) -> Option<u32> {
        self.ami_version.split('.').next()?.trim().parse().ok()
    }

    /// `Command` answers `Response: Follows` with a raw body (AMI < 3).
    pub(crate) fn follows_command(&self) -> bool {
        self.ami_major().is_some_and(|m| m < 3)
    }

    /// A `Queues` action exists, answering bare text (AMI < 4).
    pub(crate) fn has_queues_action(&self) -> bool {
        self.ami_major().is_some_and(|m| m < 4)
    }

    /// Asterisk 11 (AMI 1.x): unmarked lists and 11's header sets.
    pub(crate) fn asterisk11_lists(&self) -> bool {
        self.ami_major().is_some_and(|m| m < 2)
    }
}

impl SimConfig {
    /// Asterisk 13.38.3 (AMI `2.10.6`): `Command` answers with
    /// `Response: Follows` and raw text ending in `--END COMMAND--`.
    pub fn legacy() -> SimConfig {
        let mut c = SimConfig::default().ami_version("2.10.6");
        c.asterisk_version = "13.38.3".into();
        c.commands.insert(
            "core show version".into(),
            "Asterisk 13.38.3 built by root @ vm on a x86_64 running Linux on 2026-11-22 10:23:27 UTC\n"
                .into(),
        );
        c
    }

    /// Asterisk 11.25.3 (AMI `1.3`), built from its source since no capture
    /// exists: everything of [`SimConfig::legacy`], and lists as
    /// main/manager.c, apps/app_queue.c and main/features.c of 11.25.3 write
    /// them (see [`SimConfig::ami_version`]). Events of calls keep
    /// Asterisk 22's header sets.
    pub fn asterisk11() -> SimConfig {
        let mut c = SimConfig::legacy().ami_version("1.3");
        c.asterisk_version = "11.25.3".into();
        c.commands.insert(
            "core show version".into(),
            "Asterisk 11.25.3 built by root @ vm on a x86_64 running Linux on 2026-11-22 11:02:41 UTC\n"
                .into(),
        );
        c
    }

    /// Set the banner's AMI version.
    pub fn ami_version(mut self, version: impl Into<String>) -> SimConfig {
        self.ami_version = version.into();
        self
    }

    /// Add a user (or replace one of the same name).
    pub fn user(mut self, user: User) -> SimConfig {
        self.users
            .retain(|u| !u.username.eq_ignore_ascii_case(&user.username));
        self.users.push(user);
        self
    }

    /// Set the delay before a failed login is answered.
    pub fn auth_failure_delay(mut self, delay: Duration) -> SimConfig {
        self.auth_failure_delay = delay;
        self
    }

    /// Set how long an unauthenticated connection may stay silent.
    pub fn auth_timeout(mut self, timeout: Duration) -> SimConfig {
        self.auth_timeout = timeout;
        self
    }

    /// Listen on this address (a fixed port, or another loopback address).
    pub fn bind(mut self, addr: SocketAddr) -> SimConfig {
        self.bind = addr;
        self
    }

    /// Fix the wall-clock time at start (repeatable timestamps with paused
    /// tokio time).
    pub fn start_time(mut self, at: SystemTime) -> SimConfig {
        self.start_time = Some(at);
        self
    }

    /// Set a global variable.
    pub fn global(mut self, name: impl Into<String>, value: impl Into<String>) -> SimConfig {
        self.globals.insert(name.into(), value.into());
        self
    }

    /// Add a canned CLI command output.
    pub fn command(mut self, command: impl Into<String>, output: impl Into<String>) -> SimConfig {
        self.commands.insert(command.into(), output.into());
        self
    }

    /// Set the outcome of calls to `exten`.
    pub fn call_outcome(mut self, exten: impl Into<String>, outcome: CallOutcome) -> SimConfig {
        self.call_outcomes.insert(exten.into(), outcome);
        self
    }

    /// Set how long answered calls stay up.
    pub fn call_duration(mut self, duration: Duration) -> SimConfig {
        self.call_duration = duration;
        self
    }

    /// Set the faults in force from the start.
    pub fn faults(mut self, faults: Faults) -> SimConfig {
        self.faults = faults;
        self
    }

    /// Serve a capture instead of simulating.
    pub fn replay(mut self, replay: Replay) -> SimConfig {
        self.replay = Some(replay);
        self
    }

    /// Serve over TLS with a self-signed certificate.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self) -> SimConfig {
        self.tls = true;
        self
    }
}
