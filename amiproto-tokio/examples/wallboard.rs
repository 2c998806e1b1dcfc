//! A queue wallboard: the state of every queue from `QueueStatus`, kept
//! current by queue events, redrawn on each change.
//!
//! ```text
//! cargo run -p amiproto-tokio --example wallboard -- ami://admin:secret@pbx   # until Ctrl-C
//! cargo run -p amiproto-tokio --example wallboard                            # simulated Asterisk
//! ```
//!
//! Subscribe first, then read the snapshot: an event that arrives while the
//! list is collected is applied after it, never lost. After a reconnect the
//! snapshot is read again (events sent while disconnected are gone).

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Duration;

use amiproto::{Action, Packet};
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, Client, ClientConfig, EventFilter, EventItem, Overflow};

/// One queue as the board shows it.
#[derive(Debug, Default)]
struct Queue {
    strategy: String,
    waiting: u32,
    completed: u32,
    abandoned: u32,
    holdtime: u32,
    /// Members by interface (`Location`).
    members: BTreeMap<String, Member>,
}

#[derive(Debug, Default)]
struct Member {
    name: String,
    status: String,
    paused: bool,
}

#[derive(Debug, Default)]
struct Board {
    queues: BTreeMap<String, Queue>,
}

/// Device states of `QueueMember`'s `Status:` (Asterisk's `ast_device_state`).
fn device_state(code: &str) -> &str {
    match code {
        "1" => "idle",
        "2" => "in use",
        "3" => "busy",
        "4" => "invalid",
        "5" => "unavailable",
        "6" => "ringing",
        "7" => "ring+inuse",
        "8" => "on hold",
        _ => "unknown",
    }
}

fn num(p: &Packet, key: &str) -> u32 {
    p.get_str(key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

impl Board {
    /// Replace the board with a `QueueStatus` snapshot.
    async fn load(client: &Client) -> Result<Board, amiproto_tokio::Error> {
        let list = client.list(Action::new("QueueStatus")).await?;
        let mut board = Board::default();
        for item in &list.items {
            board.apply(item);
        }
        Ok(board)
    }

    /// Apply one packet (a snapshot item or a live event); whether the board
    /// changed.
    fn apply(&mut self, p: &Packet) -> bool {
        let Some(name) = p.get_str("Event") else {
            return false;
        };
        let Some(queue) = p.get_str("Queue") else {
            return false;
        };
        let q = self.queues.entry(queue.to_owned()).or_default();
        let location = || {
            p.get_str("Location")
                .or(p.get_str("Interface"))
                .unwrap_or_default()
                .to_owned()
        };
        match name.to_ascii_lowercase().as_str() {
            "queueparams" => {
                q.strategy = p.get_str("Strategy").unwrap_or_default().to_owned();
                q.waiting = num(p, "Calls");
                q.completed = num(p, "Completed");
                q.abandoned = num(p, "Abandoned");
                q.holdtime = num(p, "Holdtime");
            }
            "queuemember" | "queuememberadded" | "queuememberstatus" | "queuememberpause" => {
                let m = q.members.entry(location()).or_default();
                if let Some(n) = p.get_str("Name").or(p.get_str("MemberName")) {
                    m.name = n.to_owned();
                }
                if let Some(s) = p.get_str("Status") {
                    m.status = device_state(s).to_owned();
                }
                if let Some(paused) = p.get_str("Paused") {
                    m.paused = paused == "1";
                }
            }
            "queuememberremoved" => {
                q.members.remove(&location());
            }
            "queuecallerjoin" | "queuecallerleave" => q.waiting = num(p, "Count"),
            "queuecallerabandon" => q.abandoned += 1,
            "agentcomplete" => q.completed += 1,
            _ => return false,
        }
        true
    }

    fn draw(&self) {
        println!("{:-<64}", "");
        println!(
            "{:<12} {:<12} {:>7} {:>9} {:>9} {:>8}",
            "queue", "strategy", "waiting", "completed", "abandoned", "holdtime"
        );
        for (name, q) in &self.queues {
            println!(
                "{:<12} {:<12} {:>7} {:>9} {:>9} {:>7}s",
                name, q.strategy, q.waiting, q.completed, q.abandoned, q.holdtime
            );
            for (location, m) in &q.members {
                println!(
                    "    {:<20} {:<24} {}{}",
                    m.name,
                    location,
                    m.status,
                    if m.paused { " (paused)" } else { "" }
                );
            }
        }
    }
}

const QUEUE_EVENTS: [&str; 9] = [
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "QueueMemberStatus",
    "QueueMemberPause",
    "AgentComplete",
    "QueueParams",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::args().nth(1);
    let sim = match url {
        Some(_) => None,
        None => Some(Simulator::start(SimConfig::default()).await?),
    };
    let url = url.unwrap_or_else(|| sim.as_ref().map(Simulator::url).unwrap_or_default());
    let (client, _all) = connect(ClientConfig::from_url(&url)?).await?;
    // Lossless: a board that silently skipped an event would show wrong counts.
    let mut events =
        client.events_matching_with(EventFilter::names(QUEUE_EVENTS), Overflow::Lossless);
    let mut board = Board::load(&client).await?;
    board.draw();

    if sim.is_some() {
        // Two callers join queue `emptyq` (extension 301 of the simulator)
        // and hang up after 1 and 2 seconds.
        for secs in ["1", "2"] {
            let call = Action::originate("Local/301@default")
                .header("Application", "Wait")
                .header("Data", secs);
            client.originate(call).await?;
        }
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        // Against the simulator, stop once it has been quiet for 3 s.
        let quiet = tokio::time::sleep(if sim.is_some() {
            Duration::from_secs(3)
        } else {
            Duration::MAX / 4
        });
        tokio::select! {
            item = events.recv() => match item {
                Some(EventItem::Event(e)) => {
                    if board.apply(&e) {
                        board.draw();
                    }
                }
                Some(EventItem::Reconnected { .. }) => {
                    board = Board::load(&client).await?;
                    board.draw();
                }
                Some(_) => {}
                None => break,
            },
            _ = quiet => break,
            _ = &mut ctrl_c => break,
        }
    }
    client.logoff().await?;
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}
