//! Properties of the event queue under any mix of pushes, pops and a
//! reader that takes batches: the lossy bound holds at every step, nothing
//! but events is ever dropped, every drop is counted once and reported
//! exactly where it happened, and a reconnect is never lost.

use std::collections::VecDeque;

use amiproto::{Action, Config, Connection, EventItem, EventQueue, Overflow, Packet};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Event,
    ListItem,
    Reconnected,
    Pop,
    /// Take a batch of at most this many items into the reader's hands.
    Take(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => Just(Op::Event),
        1 => Just(Op::ListItem),
        1 => Just(Op::Reconnected),
        5 => Just(Op::Pop),
        1 => (1usize..6).prop_map(Op::Take),
    ]
}

/// What went in or came out, by id (events and list items are numbered in
/// one sequence, markers by generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Event(u32),
    List(u32),
    Dropped,
}

fn packet(id: u32) -> Packet {
    Packet::builder()
        .header("Event", "E")
        .header("Id", id.to_string())
        .build()
        .unwrap()
}

fn id_of(p: &Packet) -> u32 {
    p.get_str("Id").unwrap().parse().unwrap()
}

struct Reader {
    local: VecDeque<EventItem>,
    out: Vec<EventItem>,
}

impl Reader {
    fn pop(&mut self, q: &mut EventQueue) {
        let item = match self.local.pop_front() {
            Some(item) => item,
            None => match q.pop() {
                Some(item) => item,
                None => return,
            },
        };
        q.set_held(self.local.iter().filter(|i| i.is_droppable()).count());
        self.out.push(item);
    }
}

fn run(capacity: Option<usize>, ops: &[Op]) -> Result<(), TestCaseError> {
    let overflow = match capacity {
        Some(capacity) => Overflow::Lossy { capacity },
        None => Overflow::Lossless,
    };
    let handle = {
        let now = std::time::Instant::now();
        let mut c = Connection::new(Config::new("u", "s"), now);
        c.send(Action::ping(), now).unwrap()
    };
    let mut q = EventQueue::new(overflow);
    let mut r = Reader {
        local: VecDeque::new(),
        out: Vec::new(),
    };
    // What was pushed, markers as (stripped position, generation).
    let mut pushed: Vec<Unit> = Vec::new();
    let mut markers: Vec<(usize, u32)> = Vec::new();
    let mut next_id = 0u32;
    let mut generation = 0u32;
    for op in ops {
        match op {
            Op::Event => {
                q.push(EventItem::Event(packet(next_id)));
                pushed.push(Unit::Event(next_id));
                next_id += 1;
            }
            Op::ListItem => {
                q.push(EventItem::ListItem {
                    handle,
                    item: packet(next_id),
                });
                pushed.push(Unit::List(next_id));
                next_id += 1;
            }
            Op::Reconnected => {
                generation += 1;
                q.push(EventItem::Reconnected { generation });
                markers.push((pushed.len(), generation));
            }
            Op::Pop => r.pop(&mut q),
            Op::Take(max) if r.local.is_empty() => {
                let events = q.drain_into(&mut r.local, *max);
                q.set_held(events);
            }
            Op::Take(_) => {}
        }
        if let Some(cap) = capacity {
            let held = r.local.iter().filter(|i| i.is_droppable()).count();
            prop_assert!(q.events() + held <= cap, "{} + {held} > {cap}", q.events());
        }
    }
    while !r.local.is_empty() || !q.is_empty() {
        r.pop(&mut q);
    }

    // Stripped of markers, with each Lagged(n) as n dropped units.
    let mut got: Vec<Unit> = Vec::new();
    let mut got_markers: Vec<(usize, u32)> = Vec::new();
    let mut lagged = 0u64;
    for item in &r.out {
        match item {
            EventItem::Event(p) => got.push(Unit::Event(id_of(p))),
            EventItem::ListItem { item, .. } => got.push(Unit::List(id_of(item))),
            EventItem::Lagged(n) => {
                prop_assert!(*n > 0);
                lagged += n;
                got.extend(std::iter::repeat_n(Unit::Dropped, *n as usize));
            }
            EventItem::Reconnected { generation } => got_markers.push((got.len(), *generation)),
            other => prop_assert!(false, "unexpected {other:?}"),
        }
    }
    prop_assert_eq!(lagged, q.lagged_total());
    if capacity.is_none() {
        prop_assert_eq!(lagged, 0);
    }
    // Same length, and each unit is what was pushed there or a dropped
    // event: drops are reported exactly in place, list items never drop.
    prop_assert_eq!(got.len(), pushed.len());
    for (i, (g, p)) in got.iter().zip(&pushed).enumerate() {
        match (g, p) {
            (Unit::Dropped, Unit::Event(_)) => {}
            (g, p) => prop_assert_eq!(g, p, "at {}", i),
        }
    }
    // Every reconnect is told: by its own marker or a later one with only
    // dropped events between.
    for &(at, g) in &markers {
        let told = got_markers.iter().any(|&(pos, gen)| {
            gen >= g && pos >= at && got[at..pos].iter().all(|u| *u == Unit::Dropped)
        });
        prop_assert!(told, "reconnect {g} at {at} lost: {got_markers:?}");
    }
    prop_assert!(got_markers.windows(2).all(|w| w[0].1 < w[1].1));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lossy_queue_keeps_its_promises(cap in 1usize..8, ops in proptest::collection::vec(op(), 0..200)) {
        run(Some(cap), &ops)?;
    }

    #[test]
    fn lossless_queue_keeps_everything(ops in proptest::collection::vec(op(), 0..200)) {
        run(None, &ops)?;
    }
}
