//! The command line: `ami [URL] COMMAND …`, parsed by clap.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

/// `ami`: talk to an Asterisk Manager Interface, or run a simulated one.
///
/// With no arguments, runs a tour of AMI against the built-in simulated
/// Asterisk (no server needed).
#[derive(Debug, Parser)]
#[command(
    name = "ami",
    version,
    about = "Talk to an Asterisk Manager Interface (AMI), or run a simulated Asterisk",
    after_help = "\
With no arguments, `ami` runs a short tour against a simulated Asterisk.

URL: ami://user[:secret]@host[:port][?param=value&…] (port 5038), or
amis://… for TLS (port 5039). Taken from AMI_URL when not given. The secret
comes from --secret-file, the URL, AMI_SECRET, or a prompt on a terminal, in
that order: it never has to be on the command line.

Exit status: 0 success, 1 connection, login or action failure (the server's
answer is printed), 2 usage error (nothing was sent).

Examples:
  ami sim                                   # a simulated Asterisk on :5038
  ami ami://admin:amp111@127.0.0.1 ping
  AMI_URL=ami://admin@pbx AMI_SECRET=… ami command \"core show channels\"
  ami ami://admin@pbx action Getvar Variable=CDR(dst)
  ami ami://admin@pbx list QueueStatus Queue=support --json
  ami ami://admin@pbx originate PJSIP/100 --exten 200 --context from-internal
  ami ami://admin@pbx events --name Hangup --name Newchannel --json"
)]
pub struct Cli {
    /// The server's URL (default: `$AMI_URL`).
    #[arg(
        value_name = "URL",
        help = "The server: ami://user[:secret]@host[:port] or amis://… (default: $AMI_URL)"
    )]
    pub url: Option<String>,

    /// How to connect and print.
    #[command(flatten)]
    pub options: Options,

    /// What to do.
    #[command(subcommand)]
    pub task: Option<Task>,
}

/// Options shared by every command that talks to a server.
#[derive(Debug, Args)]
pub struct Options {
    /// Print every packet as one JSON object per line (keys in wire order;
    /// repeated keys become arrays).
    #[arg(long, global = true)]
    pub json: bool,

    /// Read the secret from this file (first line).
    #[arg(long, value_name = "FILE", global = true)]
    pub secret_file: Option<PathBuf>,

    /// amis://: trust only the CA certificates in this PEM file (default:
    /// the system's roots).
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        conflicts_with = "accept_self_signed"
    )]
    pub ca: Option<PathBuf>,

    /// amis://: trust exactly this server certificate (PEM or DER), whatever
    /// its issuer and name; for test servers such as `ami sim --tls`.
    #[arg(long, value_name = "CERT", global = true)]
    pub accept_self_signed: Option<PathBuf>,

    /// Seconds to wait for each answer (0: forever).
    #[arg(long, value_name = "SECS", default_value_t = 10.0, global = true)]
    pub timeout: f64,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
pub enum Task {
    /// Send a Ping and print the round-trip time.
    Ping,

    /// Send any action and print its answer (a list, command output or
    /// OriginateResponse included).
    Action {
        /// The action's name (`CoreStatus`, `Getvar`, `Redirect`…).
        name: String,
        /// Headers, in order (a key may repeat).
        #[arg(value_name = "KEY=VALUE", value_parser = parse_header)]
        headers: Vec<(String, String)>,
    },

    /// Run an Asterisk CLI command and print its output.
    Command {
        /// The command line; several words are joined with spaces.
        #[arg(required = true, value_name = "COMMAND")]
        words: Vec<String>,
    },

    /// Send a list action (`CoreShowChannels`, `QueueStatus`…) and print
    /// its response, every item and its completion event.
    List {
        /// The action's name.
        name: String,
        /// Headers, in order.
        #[arg(value_name = "KEY=VALUE", value_parser = parse_header)]
        headers: Vec<(String, String)>,
    },

    /// Originate a call (asynchronously) and wait for its OriginateResponse.
    #[command(group(ArgGroup::new("target").required(true).args(["exten", "app"])))]
    Originate {
        /// The channel to call: `PJSIP/100`, `Local/200@default`…
        channel: String,
        /// Connect the answered channel to this extension…
        #[arg(long)]
        exten: Option<String>,
        /// …in this context.
        #[arg(long, default_value = "default", requires = "exten")]
        context: String,
        /// …at this priority.
        #[arg(long, default_value = "1", requires = "exten")]
        priority: String,
        /// Or run this dialplan application on the answered channel…
        #[arg(long, conflicts_with = "exten")]
        app: Option<String>,
        /// …with these arguments.
        #[arg(long, requires = "app")]
        data: Option<String>,
        /// Caller ID to present: `"Name" <100>`.
        #[arg(long, value_name = "CALLERID")]
        caller_id: Option<String>,
        /// Seconds to let the channel ring.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        ring: u64,
        /// A channel variable (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_header)]
        vars: Vec<(String, String)>,
        /// More headers of the Originate action.
        #[arg(value_name = "KEY=VALUE", value_parser = parse_header)]
        headers: Vec<(String, String)>,
    },

    /// Print events as they arrive, until Ctrl-C or the connection ends.
    Events {
        /// Only events of this name (repeatable; case-insensitive).
        #[arg(long = "name", value_name = "EVENT")]
        names: Vec<String>,
        /// Stop after this many events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },

    /// Run a simulated Asterisk that any AMI client can connect to, until
    /// Ctrl-C.
    Sim {
        /// Port to listen on (default 5038, or 5039 with --tls; 0 picks a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Answer like Asterisk 13 (AMI 2.10.6, `Response: Follows` command output).
        #[arg(long)]
        legacy: bool,
        /// Serve TLS (amis://) with a self-signed certificate made at start.
        #[arg(long)]
        tls: bool,
        /// Where to write that certificate (PEM); default: a file in the
        /// temporary directory.
        #[arg(long, value_name = "FILE", requires = "tls")]
        cert_out: Option<PathBuf>,
    },
}

/// `KEY=VALUE` into its two halves (the value may be empty or hold `=`).
fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn url_then_subcommand() {
        let cli = Cli::try_parse_from(["ami", "ami://a:b@h", "action", "Getvar", "Variable=X=1"])
            .unwrap();
        assert_eq!(cli.url.as_deref(), Some("ami://a:b@h"));
        match cli.task {
            Some(Task::Action { name, headers }) => {
                assert_eq!(name, "Getvar");
                assert_eq!(headers, [("Variable".to_owned(), "X=1".to_owned())]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn subcommand_without_url() {
        let cli = Cli::try_parse_from(["ami", "ping", "--json"]).unwrap();
        assert!(cli.url.is_none());
        assert!(cli.options.json);
        assert!(matches!(cli.task, Some(Task::Ping)));
    }

    #[test]
    fn bad_header_is_refused() {
        assert!(Cli::try_parse_from(["ami", "u", "action", "X", "novalue"]).is_err());
        assert!(Cli::try_parse_from(["ami", "u", "action", "X", "=v"]).is_err());
    }

    #[test]
    fn originate_needs_a_target() {
        assert!(Cli::try_parse_from(["ami", "u", "originate", "PJSIP/1"]).is_err());
        assert!(Cli::try_parse_from([
            "ami",
            "u",
            "originate",
            "PJSIP/1",
            "--exten",
            "1",
            "--app",
            "X"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["ami", "u", "originate", "PJSIP/1", "--app", "Wait"]).is_ok());
    }
}
