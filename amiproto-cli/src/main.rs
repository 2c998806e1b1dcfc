//! `ami`: an Asterisk Manager Interface command-line client and a
//! standalone simulated Asterisk, built on `amiproto-tokio` and
//! `amiproto-testkit`.
//!
//! ```text
//! ami                                         # tour against a simulated Asterisk
//! ami sim [--port P] [--legacy] [--tls]       # serve a simulated Asterisk
//! ami URL ping | action Name K=V… | command "…" | list Name K=V…
//!         | originate CHANNEL --exten E … | events [--name X…] [--json]
//! ```
//!
//! Exit status: 0 success, 1 server or connection failure, 2 usage error.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod connect;
mod demo;
mod failure;
mod output;
mod progress;
mod sim;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use args::{Cli, Task};
use failure::Failure;
use output::Printer;

fn main() -> ExitCode {
    // clap prints --help/--version to stdout (exit 0) and usage errors to
    // stderr (exit 2).
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ami: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("ami: {failure}");
            if let Failure::Usage(_) = failure {
                eprintln!("(ami --help for usage)");
            }
            failure.exit_code()
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let Cli { url, options, task } = cli;
    let task = match task {
        None if url.is_none() => return demo::run().await,
        None => {
            return Err(Failure::Usage(
                "what should be done with this server? (ping, action, command, list, originate, events)".into(),
            ))
        }
        Some(Task::Sim {
            port,
            bind,
            legacy,
            tls,
            cert_out,
        }) => {
            if url.is_some() {
                return Err(Failure::Usage("`ami sim` takes no URL".into()));
            }
            let options = sim::SimOptions {
                port,
                bind,
                legacy,
                tls,
                cert_out,
            };
            return sim::run(options).await;
        }
        Some(t) => t,
    };
    let out = Printer::new(options.json);
    // Everything the command line can get wrong is checked before connecting.
    let config = connect::config(url.as_deref(), &options)?;
    let timeout = config.ami.action_timeout;
    let job = Job::from_task(task)?;
    let (client, events) = connect::open(config).await?;
    let result = match job {
        Job::Ping => commands::ping(&client, out).await,
        Job::Action(a) => commands::action(&client, a, out).await,
        Job::Command(line) => commands::command(&client, &line, out).await,
        Job::List(a) => commands::list(&client, a, out).await,
        Job::Originate(a, ring) => commands::originate(&client, a, timeout, ring, out).await,
        Job::Events(names, count) => commands::events(&client, events, &names, count, out).await,
    };
    connect::close(&client).await;
    result
}

/// A server command, checked and ready to send.
enum Job {
    Ping,
    Action(amiproto::Action),
    Command(String),
    List(amiproto::Action),
    Originate(amiproto::Action, Duration),
    Events(Vec<String>, Option<u64>),
}

impl Job {
    fn from_task(task: Task) -> Result<Job, Failure> {
        Ok(match task {
            Task::Ping => Job::Ping,
            Task::Action { name, headers } => Job::Action(commands::build_action(&name, &headers)?),
            Task::Command { words } => {
                let line = words.join(" ");
                commands::checked(amiproto::Action::command(line.clone()))?;
                Job::Command(line)
            }
            Task::List { name, headers } => Job::List(commands::build_action(&name, &headers)?),
            Task::Originate {
                channel,
                exten,
                context,
                priority,
                app,
                data,
                caller_id,
                ring,
                vars,
                headers,
            } => {
                let mut a = amiproto::Action::originate(channel);
                if let Some(exten) = exten {
                    a = a
                        .header("Exten", exten)
                        .header("Context", context)
                        .header("Priority", priority);
                }
                if let Some(app) = app {
                    a = a.header("Application", app);
                    if let Some(data) = data {
                        a = a.header("Data", data);
                    }
                }
                if let Some(cid) = caller_id {
                    a = a.header("CallerID", cid);
                }
                let ring = Duration::from_secs(ring);
                a = a.header("Timeout", ring.as_millis().to_string());
                for (k, v) in &vars {
                    a = a.variable(k, v);
                }
                for (k, v) in headers {
                    a = a.header(k, v);
                }
                Job::Originate(commands::checked(a)?, ring)
            }
            Task::Events { names, count } => Job::Events(names, count),
            Task::Sim { .. } => return Err(Failure::Usage("`ami sim` takes no URL".into())),
        })
    }
}
