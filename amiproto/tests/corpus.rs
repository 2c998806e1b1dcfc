//! The decoder against byte-exact captures of real Asterisk sessions
//! (`tests/data/asterisk-22.10.1` and `tests/data/asterisk-13.38.3`).
//!
//! Every capture, in both directions, must decode into the same frames
//! whatever the chunking; the number of packets and events must match both an
//! independent, deliberately naive count done here and the numbers in the
//! captures' README tables.
//!
//! How the READMEs count: "msgs" is every packet the server sent, i.e.
//! responses + events (checked below: every server packet is one or the
//! other). The banner is not a message, and neither are the empty packets
//! that follow each `QueueRule` response (08-queuerule has 7 msgs and 3 empty
//! packets). "events" is the packets with an `Event:` header, `OriginateResponse`
//! included even though it also carries `Response:`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use amiproto::{BannerMode, DecodeError, Decoder, Limits, Packet, PacketKind, ResponseStatus};
use common::{run, run_whole, Item, Run};

const CHUNKS: [usize; 8] = [1, 2, 3, 7, 64, 1500, 4096, 0];
const V22: &str = "asterisk-22.10.1";
const V13: &str = "asterisk-13.38.3";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

fn read(version: &str, name: &str) -> Vec<u8> {
    let path = data_dir().join(version).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Server,
    Client,
}

struct Capture {
    version: &'static str,
    scenario: String,
    dir: Dir,
    data: Vec<u8>,
}

impl Capture {
    fn name(&self) -> String {
        let d = match self.dir {
            Dir::Server => "server",
            Dir::Client => "client",
        };
        format!("{}/{}.{d}.bin", self.version, self.scenario)
    }

    fn decoder(&self) -> Decoder {
        self.decoder_with(Limits::default())
    }

    fn decoder_with(&self, limits: Limits) -> Decoder {
        let mode = match self.dir {
            Dir::Server => BannerMode::Required,
            Dir::Client => BannerMode::Absent,
        };
        Decoder::with_limits(limits).banner_mode(mode)
    }
}

/// Every `*.bin` file under tests/data.
fn captures() -> Vec<Capture> {
    let mut out = Vec::new();
    for version in [V22, V13] {
        let mut names: Vec<String> = std::fs::read_dir(data_dir().join(version))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".bin"))
            .collect();
        names.sort();
        for n in names {
            let (scenario, dir) = if let Some(s) = n.strip_suffix(".server.bin") {
                (s, Dir::Server)
            } else if let Some(s) = n.strip_suffix(".client.bin") {
                (s, Dir::Client)
            } else {
                panic!("unexpected capture file {n}");
            };
            out.push(Capture {
                version,
                scenario: scenario.to_owned(),
                dir,
                data: read(version, &n),
            });
        }
    }
    out
}

fn capture(version: &str, scenario: &str, dir: Dir) -> Capture {
    captures()
        .into_iter()
        .find(|c| c.version == version && c.scenario == scenario && c.dir == dir)
        .unwrap_or_else(|| panic!("no capture {version}/{scenario} {dir:?}"))
}

fn decode(c: &Capture) -> Run {
    let r = run_whole(c.decoder(), &c.data);
    assert!(!r.fatal, "{}: fatal error {:?}", c.name(), r.items.last());
    r
}

fn packets(r: &Run) -> Vec<Packet> {
    r.packets().cloned().collect()
}

fn s(v: Option<amiproto::Value<'_>>) -> Option<String> {
    v.map(|v| v.to_string())
}

// ---------------------------------------------------------------------------
// The naive reference.

#[derive(Debug, Default, PartialEq, Eq)]
struct RefCount {
    banner: bool,
    packets: usize,
    events: usize,
    responses: usize,
    actions: usize,
    empty: usize,
}

/// Count packets the simplest way there is: split at LF, drop one CR, skip
/// the banner line, and count blank lines that close a non-empty run of
/// lines. After a `Response: Follows` line everything up to a line ending in
/// `--END COMMAND--` is raw body, where blank lines don't count. A blank line
/// closing nothing is an empty packet (QueueRule).
fn reference_count(data: &[u8]) -> RefCount {
    let mut rc = RefCount::default();
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    // The piece after the last LF is not a line (it is empty in every capture).
    assert_eq!(lines.pop(), Some(&b""[..]), "capture ends mid-line");
    let mut cur: Vec<&[u8]> = Vec::new();
    let mut in_body = false;
    for (i, line) in lines.into_iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if i == 0 && line.starts_with(b"Asterisk Call Manager/") {
            rc.banner = true;
            continue;
        }
        if in_body {
            in_body = !line.ends_with(b"--END COMMAND--");
            continue;
        }
        if line.is_empty() {
            if cur.is_empty() {
                rc.empty += 1;
            } else {
                rc.packets += 1;
                let has = |k: &str| {
                    cur.iter().any(|l| {
                        l.len() > k.len() && l[..k.len()].eq_ignore_ascii_case(k.as_bytes())
                    })
                };
                if has("event:") {
                    rc.events += 1;
                } else if has("response:") {
                    rc.responses += 1;
                } else if has("action:") {
                    rc.actions += 1;
                }
                cur.clear();
            }
            continue;
        }
        if line.eq_ignore_ascii_case(b"Response: Follows") {
            in_body = true;
        }
        cur.push(line);
    }
    assert!(cur.is_empty(), "capture ends mid-packet");
    rc
}

fn decoded_count(r: &Run) -> RefCount {
    let mut rc = RefCount {
        banner: r.items.iter().any(|i| matches!(i, Item::Banner(_))),
        empty: r.stats.empty_packets as usize,
        ..RefCount::default()
    };
    for p in r.packets() {
        rc.packets += 1;
        match p.kind() {
            PacketKind::Event => rc.events += 1,
            PacketKind::Response => rc.responses += 1,
            PacketKind::Action => rc.actions += 1,
            PacketKind::Other => {}
        }
    }
    rc
}

// ---------------------------------------------------------------------------
// The README tables.

struct Row {
    scenario: String,
    server_bytes: usize,
    msgs: usize,
    events: Option<usize>,
    client_bytes: Option<usize>,
}

fn readme_rows(version: &str) -> Vec<Row> {
    let text = String::from_utf8(read(version, "README.md")).unwrap();
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let scenario = cells[1].trim_matches('`').to_owned();
        let nums: Vec<usize> = cells[2]
            .split('/')
            .map(|n| n.trim().parse().unwrap())
            .collect();
        let client_bytes = cells.get(3).and_then(|c| c.parse().ok());
        rows.push(Row {
            scenario,
            server_bytes: nums[0],
            msgs: nums[1],
            events: nums.get(2).copied(),
            client_bytes,
        });
    }
    rows
}

// ---------------------------------------------------------------------------

#[test]
fn the_corpus_is_all_there() {
    let all = captures();
    let count = |v: &str| all.iter().filter(|c| c.version == v).count();
    assert_eq!(count(V22), 36, "18 scenarios x 2 directions");
    assert_eq!(count(V13), 2);
    for version in [V22, V13] {
        let rows = readme_rows(version);
        assert!(!rows.is_empty());
        for row in &rows {
            for dir in [Dir::Server, Dir::Client] {
                assert!(
                    all.iter().any(|c| c.version == version
                        && c.scenario == row.scenario
                        && c.dir == dir),
                    "{version}/{} {dir:?} missing",
                    row.scenario
                );
            }
        }
        assert_eq!(
            rows.len() * 2,
            count(version),
            "{version}: README rows vs files"
        );
    }
}

#[test]
fn every_capture_decodes_identically_at_every_chunk_size() {
    for c in captures() {
        let whole = decode(&c);
        assert_eq!(
            whole.errors().count(),
            0,
            "{}: errors with default limits: {:?}",
            c.name(),
            whole.errors().collect::<Vec<_>>()
        );
        for chunk in CHUNKS {
            let r = run(c.decoder(), &c.data, chunk);
            assert_eq!(r.items, whole.items, "{} at chunk size {chunk}", c.name());
            assert_eq!(r.stats, whole.stats, "{} at chunk size {chunk}", c.name());
            assert!(!r.fatal);
        }
    }
}

/// Frames are slices of the input, in order, and what lies between them is
/// blank lines only: nothing is lost, duplicated or reordered.
#[test]
fn frames_tile_the_input() {
    for c in captures() {
        let r = decode(&c);
        let mut pos = 0;
        let mut gaps = 0;
        for item in &r.items {
            let (raw, term): (&[u8], &[u8]) = match item {
                Item::Banner(b) => (b, b"\r\n"),
                Item::Packet(_, p) => (p.raw(), b""),
                Item::Error(e) => panic!("{}: {e}", c.name()),
            };
            let at = memchr::memmem::find(&c.data[pos..], raw)
                .unwrap_or_else(|| panic!("{}: frame not found after {pos}", c.name()));
            let gap = &c.data[pos..pos + at];
            assert!(
                gap.split_inclusive(|&b| b == b'\n')
                    .all(|l| l == b"\r\n" || l == b"\n"),
                "{}: non-blank bytes between frames: {:?}",
                c.name(),
                String::from_utf8_lossy(gap)
            );
            gaps += gap.split_inclusive(|&b| b == b'\n').count();
            pos += at + raw.len();
            assert!(c.data[pos..].starts_with(term));
            pos += term.len();
        }
        assert_eq!(pos, c.data.len(), "{}: trailing bytes", c.name());
        assert_eq!(gaps as u64, r.stats.empty_packets, "{}", c.name());
    }
}

#[test]
fn packet_and_event_counts_match_a_naive_reference() {
    for c in captures() {
        let r = decode(&c);
        let expected = reference_count(&c.data);
        assert_eq!(decoded_count(&r), expected, "{}", c.name());
        assert_eq!(r.stats.packets as usize, expected.packets, "{}", c.name());
        assert_eq!(expected.banner, c.dir == Dir::Server, "{}", c.name());
    }
}

#[test]
fn server_counts_match_the_readme_tables() {
    for version in [V22, V13] {
        for row in readme_rows(version) {
            let server = capture(version, &row.scenario, Dir::Server);
            let client = capture(version, &row.scenario, Dir::Client);
            let name = server.name();
            assert_eq!(server.data.len(), row.server_bytes, "{name}: bytes");
            if let Some(n) = row.client_bytes {
                assert_eq!(client.data.len(), n, "{name}: client bytes");
            }
            let r = decode(&server);
            let got = decoded_count(&r);
            // "msgs" = responses + events: nothing else comes from a server.
            assert_eq!(got.responses + got.events, got.packets, "{name}");
            assert_eq!(got.packets, row.msgs, "{name}: msgs");
            // The 13.38.3 table has no events column: no events there.
            assert_eq!(got.events, row.events.unwrap_or(0), "{name}: events");
        }
    }
}

#[test]
fn server_banners() {
    for c in captures().into_iter().filter(|c| c.dir == Dir::Server) {
        let r = decode(&c);
        let Some(Item::Banner(raw)) = r.items.first() else {
            panic!("{}: no banner first", c.name())
        };
        let expected: &[u8] = if c.version == V13 {
            b"Asterisk Call Manager/2.10.6"
        } else {
            b"Asterisk Call Manager/11.0.0"
        };
        assert_eq!(&raw[..], expected, "{}", c.name());
        let banners = r
            .items
            .iter()
            .filter(|i| matches!(i, Item::Banner(_)))
            .count();
        assert_eq!(banners, 1);
    }
    // The banner also comes out as a parsed version.
    let c = capture(V13, "06-command", Dir::Server);
    let mut buf = bytes::BytesMut::from(&c.data[..]);
    let Some(amiproto::Frame::Banner(b)) = c.decoder().decode(&mut buf).unwrap() else {
        panic!()
    };
    let v = b.version().unwrap();
    assert_eq!((v.major, v.minor, v.patch), (2, 10, Some(6)));
    assert!(v.uses_follows_command_output());
}

// ---------------------------------------------------------------------------
// Client captures: actions, quirks included.

#[test]
fn client_captures_are_actions() {
    for c in captures().into_iter().filter(|c| c.dir == Dir::Client) {
        let r = decode(&c);
        for p in r.packets() {
            let expected =
                if c.scenario == "09a-errors" && p.action_id().is_some_and(|v| v == "noaction") {
                    PacketKind::Other
                } else {
                    PacketKind::Action
                };
            assert_eq!(p.kind(), expected, "{}: {p:?}", c.name());
        }
    }
}

#[test]
fn client_quirks_in_09a() {
    let r = decode(&capture(V22, "09a-errors", Dir::Client));
    let ps = packets(&r);
    let by_id = |id: &str| -> &Packet {
        ps.iter()
            .find(|p| p.action_id().is_some_and(|v| v == id))
            .unwrap_or_else(|| panic!("no packet {id}"))
    };
    // The Ping without ActionID.
    assert_eq!(ps[1].action_id(), None);
    assert_eq!(s(ps[1].action()).as_deref(), Some("Ping"));
    // A line without a colon is kept as a bare line.
    let p = by_id("nocolon");
    let h = p.header(2).unwrap();
    assert!(h.is_bare());
    assert_eq!(h.key().as_bytes(), b"");
    assert_eq!(h.value(), "this line has no colon");
    assert!(!p.contains("this line has no colon"));
    // LF-only lines.
    let p = by_id("lf-only");
    assert_eq!(&p.raw()[..], b"Action: Ping\nActionID: lf-only\n\n");
    assert_eq!(s(p.action()).as_deref(), Some("Ping"));
    // Lower-case keys.
    let p = by_id("lower");
    assert_eq!(s(p.action()).as_deref(), Some("ping"));
    assert_eq!(p.kind(), PacketKind::Action);
    // `Action:Ping` splits at the colon; the ActionID keeps its spaces after ": ".
    let p = by_id("  spaces   ");
    assert_eq!(s(p.action()).as_deref(), Some("Ping"));
    // `Action: ` with an empty value.
    let p = by_id("emptyaction");
    assert_eq!(p.action().map(|v| v.len()), Some(0));
    assert_eq!(p.kind(), PacketKind::Action);
}

/// 14b sends three actions with a line over Asterisk's 1024-byte buffer. With
/// default limits they decode; with the limit lowered to what Asterisk takes,
/// the decoder skips exactly the actions Asterisk refused, reporting the same
/// ActionIDs Asterisk echoed (even the one that comes after the long line).
#[test]
fn client_14b_long_lines() {
    let c = capture(V22, "14b-line-too-long", Dir::Client);
    let r = decode(&c);
    let p = r
        .packets()
        .find(|p| p.action_id().is_some_and(|v| v == "ping-10k"))
        .unwrap();
    // "X-Long: " + 10000 bytes + CRLF: the 10009-byte line of the README.
    assert_eq!(p.get("X-Long").unwrap().len(), 10000);
    assert!(p.get("X-Long").unwrap().iter().all(|&b| b == b'z'));
    assert_eq!(r.packets().count(), 8);

    let server = decode(&capture(V22, "14b-line-too-long", Dir::Server));
    let refused: Vec<String> = server
        .packets()
        .filter(|p| {
            p.message()
                .is_some_and(|m| m == "Failed to parse message: line too long")
        })
        .map(|p| p.action_id().unwrap().to_string())
        .collect();
    assert_eq!(refused, ["set2000", "ping-10k", "id-after-long"]);
    let answered: Vec<String> = server
        .packets()
        // Every answer but the refusals (Logoff's is `Response: Goodbye`).
        .filter(|p| p.response_status().is_some())
        .filter(|p| {
            !p.message()
                .is_some_and(|m| m == "Failed to parse message: line too long")
        })
        .map(|p| p.action_id().unwrap().to_string())
        .collect();

    let limits = Limits::default().max_line_len(1022);
    // Until a line is known to be over the limit, the packet's earlier lines
    // must stay buffered (the line may still end in time and the packet be
    // valid), so the bound is: the longest head before an over-long line, the
    // line up to the limit, a CR, and one chunk. Computed from the capture:
    // the Setvar's three lines (54 bytes) here.
    let longest_head = c
        .data
        .split(|&b| b == b'\n')
        .scan(0usize, |head, line| {
            let content = line.strip_suffix(b"\r").unwrap_or(line);
            let this = *head;
            *head = if content.is_empty() {
                0
            } else {
                *head + line.len() + 1
            };
            Some((content.len() > 1022).then_some(this))
        })
        .flatten()
        .max()
        .unwrap();
    assert_eq!(longest_head, 54);
    let whole = run_whole(c.decoder_with(limits), &c.data);
    for chunk in CHUNKS {
        let r = run(c.decoder_with(limits), &c.data, chunk);
        assert_eq!(r.items, whole.items, "chunk size {chunk}");
        assert_eq!(r.stats, whole.stats);
        // Buffering stays near the limit while the 10000-byte line is skipped
        // (not the 10 KB it would take to buffer the line).
        if chunk != 0 && chunk <= 64 {
            let bound = longest_head + 1022 + 1 + chunk;
            assert!(
                r.max_buffered <= bound,
                "{} > {bound} at {chunk}",
                r.max_buffered
            );
        }
    }
    let skipped: Vec<String> = whole
        .errors()
        .map(|e| match e {
            DecodeError::LineTooLong {
                limit: 1022,
                action_id: Some(id),
            } => String::from_utf8(id.to_vec()).unwrap(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(skipped, refused);
    let decoded: Vec<String> = whole
        .packets()
        .map(|p| p.action_id().unwrap().to_string())
        .collect();
    assert_eq!(decoded, answered);
    assert_eq!(whole.stats.skipped_packets, 3);
    assert_eq!(whole.stats.packets, 5);
}

/// 14c sends 128 and 140 header lines; with Asterisk's limit of 128 the
/// decoder refuses the same action Asterisk refused.
#[test]
fn client_14c_too_many_headers() {
    let c = capture(V22, "14c-too-many-headers", Dir::Client);
    let r = decode(&c);
    let lines: Vec<usize> = r.packets().map(Packet::len).collect();
    assert_eq!(lines, [5, 128, 140, 2, 2]);

    let limits = Limits::default().max_headers(128);
    let whole = run_whole(c.decoder_with(limits), &c.data);
    for chunk in CHUNKS {
        assert_eq!(
            run(c.decoder_with(limits), &c.data, chunk).items,
            whole.items
        );
    }
    let errors: Vec<_> = whole.errors().cloned().collect();
    assert_eq!(
        errors,
        [DecodeError::TooManyHeaders {
            limit: 128,
            action_id: Some(bytes::Bytes::from_static(b"hdr140")),
        }]
    );
    let ids: Vec<String> = whole
        .packets()
        .map(|p| p.action_id().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["login", "hdr128", "ping-after", "logoff"]);
    // The item after the error is the next action: the skip ended exactly at
    // the refused action's blank line.
    let pos = whole
        .items
        .iter()
        .position(|i| matches!(i, Item::Error(_)))
        .unwrap();
    let next = whole.items[pos + 1].packet().unwrap();
    assert_eq!(
        &next.raw()[..],
        b"Action: Ping\r\nActionID: ping-after\r\n\r\n"
    );
}

// ---------------------------------------------------------------------------
// Asterisk 13: `Response: Follows` raw bodies.

/// The raw body of the Follows response with this ActionID, found in the
/// capture without the decoder: between the ActionID line and the marker.
fn raw_body<'a>(data: &'a [u8], id: &str) -> &'a [u8] {
    let head = format!("ActionID: {id}\r\n");
    let start = memchr::memmem::find(data, head.as_bytes()).unwrap() + head.len();
    let len = memchr::memmem::find(&data[start..], b"--END COMMAND--\r\n\r\n").unwrap();
    &data[start..start + len]
}

fn outputs_22(r: &Run, id: &str) -> Vec<Vec<u8>> {
    let p = r
        .packets()
        .find(|p| p.action_id().is_some_and(|v| v == id))
        .unwrap();
    assert_eq!(p.body(), None);
    p.get_all("Output").map(|v| v.to_vec()).collect()
}

#[test]
fn asterisk13_follows_bodies() {
    let c = capture(V13, "06-command", Dir::Server);
    let r = decode(&c);
    let ps = packets(&r);
    let statuses: Vec<_> = ps.iter().map(|p| p.response_status().unwrap()).collect();
    use ResponseStatus::*;
    assert_eq!(
        statuses,
        [Success, Follows, Follows, Follows, Follows, Follows, Error, Goodbye]
    );
    let ids = [
        "cmd-version",
        "cmd-channels",
        "cmd-unknown",
        "cmd-help",
        "cmd-mgr",
    ];
    let r22 = decode(&capture(V22, "06-command", Dir::Server));
    for (p, id) in ps[1..6].iter().zip(ids) {
        assert_eq!(p.kind(), PacketKind::Response);
        assert_eq!(s(p.action_id()).as_deref(), Some(id));
        // Exactly the three header lines; the body is not indexed as headers.
        let keys: Vec<String> = p.headers().map(|h| h.key_str().into_owned()).collect();
        assert_eq!(keys, ["Response", "Privilege", "ActionID"], "{id}");
        assert_eq!(s(p.get("Privilege")).as_deref(), Some("Command"));
        let body = p.body().expect("Follows body");
        assert_eq!(body, raw_body(&c.data, id), "{id}");
        assert_eq!(p.body_bytes().unwrap(), body);
        assert!(body.ends_with(b"\n") && !body.contains(&b'\r'));
        let lines: Vec<&[u8]> = p.body_lines().map(|v| v.as_bytes()).collect();
        let lf = body.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(lines.len(), lf, "{id}");
        assert!(p.raw().ends_with(b"\n--END COMMAND--\r\n\r\n"));

        // The same commands on Asterisk 22 (Output: headers).
        let out = outputs_22(&r22, id);
        match id {
            "cmd-version" => {
                assert_eq!(lines.len(), 1);
                assert_eq!(out.len(), 1);
                assert!(lines[0].starts_with(b"Asterisk 13.38.3 built by root"));
                assert!(out[0].starts_with(b"Asterisk 22.10.1 built by root"));
            }
            "cmd-channels" => {
                assert_eq!(lines.len(), 4);
                assert_eq!(out.len(), 4);
                assert_eq!(
                    lines[1..],
                    out[1..].iter().map(Vec::as_slice).collect::<Vec<_>>()[..]
                );
            }
            "cmd-unknown" => assert_eq!(lines, out),
            "cmd-help" => {
                // 22's help has 229 lines (README), 13's fewer commands: the
                // counts differ but the line format is the same, and most
                // lines are identical.
                assert_eq!(out.len(), 229);
                assert_eq!(lines.len(), 200);
                assert_eq!(lines[0], out[0]);
                let common = lines.iter().filter(|l| out.iter().any(|o| o == *l)).count();
                assert!(common > 100, "{common} help lines in common");
            }
            "cmd-mgr" => {
                assert_eq!(out.len(), 102);
                assert_eq!(
                    lines[..2],
                    out[..2].iter().map(Vec::as_slice).collect::<Vec<_>>()[..]
                );
                assert_eq!(lines.len(), 98);
            }
            _ => unreachable!(),
        }
    }
    // The Command without a Command header: a plain Error, no body.
    assert_eq!(s(ps[6].message()).as_deref(), Some("No command provided"));
    assert_eq!(ps[6].body(), None);
}

/// CLI output can contain blank lines (and start with one: `core show
/// settings`). Put some into the real capture's bodies: nothing else changes.
#[test]
fn asterisk13_follows_bodies_keep_blank_lines() {
    let c = capture(V13, "06-command", Dir::Server);
    let edit = |data: &[u8], from: &[u8], to: &[u8]| -> Vec<u8> {
        let at = memchr::memmem::find(data, from).unwrap();
        [&data[..at], to, &data[at + from.len()..]].concat()
    };
    let data = edit(&c.data, b"0 active channels\n", b"0 active channels\n\n\n");
    // A body that starts with a blank line.
    let data = edit(
        &data,
        b"ActionID: cmd-version\r\n",
        b"ActionID: cmd-version\r\n\n",
    );
    // A body whose last line has no LF: the marker is glued to it.
    let data = edit(
        &data,
        b"0 calls processed\n--END",
        b"0 calls processed--END",
    );
    let edited = Capture { data, ..c };
    let whole = decode(&edited);
    for chunk in CHUNKS {
        assert_eq!(
            run(edited.decoder(), &edited.data, chunk).items,
            whole.items
        );
    }
    let ps = packets(&whole);
    assert_eq!(ps.len(), 8);
    assert_eq!(whole.stats.empty_packets, 0);
    let lines = |p: &Packet| -> Vec<Vec<u8>> { p.body_lines().map(|v| v.to_vec()).collect() };
    let v = lines(&ps[1]);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0], b"");
    assert!(v[1].starts_with(b"Asterisk 13.38.3"));
    let ch = lines(&ps[2]);
    assert_eq!(ch.len(), 6);
    assert_eq!(
        &ch[1..],
        [
            &b"0 active channels"[..],
            b"",
            b"",
            b"0 active calls",
            b"0 calls processed"
        ]
    );
    assert!(ps[2].body().unwrap().ends_with(b"0 calls processed"));
}

/// Both Command captures ask the same things of different servers: the two
/// styles agree on which commands were run and in which order.
#[test]
fn command_styles_agree() {
    let r13 = decode(&capture(V13, "06-command", Dir::Server));
    let r22 = decode(&capture(V22, "06-command", Dir::Server));
    let ids = |r: &Run| -> Vec<String> { r.packets().map(|p| s(p.action_id()).unwrap()).collect() };
    assert_eq!(ids(&r13), ids(&r22));
    // The client side of both sessions is the same bytes.
    assert_eq!(
        capture(V13, "06-command", Dir::Client).data,
        capture(V22, "06-command", Dir::Client).data
    );
    // The README's notes on each 22 Command: status, Output lines, and the
    // size of the message (its raw bytes less the final CRLF CRLF).
    let readme = String::from_utf8(read(V22, "README.md")).unwrap();
    let notes: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("- `06-command`: "))
        .collect();
    assert_eq!(notes.len(), 5);
    let cmds: Vec<&Packet> = r22.packets().skip(1).take(5).collect();
    for (note, p) in notes.iter().zip(cmds) {
        let expected = format!(
            "Response={}, {} Output lines, {} bytes",
            p.response().unwrap(),
            p.get_all("Output").count(),
            p.raw().len() - 4
        );
        assert!(note.ends_with(&expected), "{note} vs {expected}");
    }
}

// ---------------------------------------------------------------------------
// Asterisk 22 scenarios.

#[test]
fn queuerule_empty_packets_and_repeated_keys() {
    let r = decode(&capture(V22, "08-queuerule", Dir::Server));
    assert_eq!(r.stats.empty_packets, 3);
    assert_eq!(r.stats.packets, 7);
    let ps = packets(&r);
    let all = &ps[1];
    assert_eq!(s(all.action_id()).as_deref(), Some("qr-all"));
    let rules: Vec<String> = all.get_all("rule").map(|v| v.to_string()).collect();
    assert_eq!(rules, ["10,+2,+0", "20,+4,+1", "30,10,5", "60,-1,0"]);
    let lists: Vec<String> = all.get_all("RuleList").map(|v| v.to_string()).collect();
    assert_eq!(lists, ["testrule", "otherrule"]);
    // Wire order is kept across different keys.
    let order: Vec<String> = all
        .headers()
        .map(|h| format!("{}={}", h.key_str(), h.value()))
        .collect();
    assert_eq!(
        order,
        [
            "Response=Success",
            "ActionID=qr-all",
            "RuleList=testrule",
            "Rule=10,+2,+0",
            "Rule=20,+4,+1",
            "Rule=30,10,5",
            "RuleList=otherrule",
            "Rule=60,-1,0"
        ]
    );
    assert_eq!(s(all.get("Rule")).as_deref(), Some("10,+2,+0"));
    assert_eq!(ps[2].get_all("Rule").count(), 3);
    assert_eq!(ps[3].len(), 2);
    assert_eq!(s(ps[4].action_id()).as_deref(), Some("queues-raw"));
    assert_eq!(ps[4].response_status(), Some(ResponseStatus::Error));
}

#[test]
fn userevent_values_verbatim() {
    let r = decode(&capture(V22, "11-userevent", Dir::Server));
    let ev: Vec<Packet> = r
        .packets()
        .filter(|p| p.is_event("userevent"))
        .cloned()
        .collect();
    assert_eq!(ev.len(), 2);
    let e = &ev[0];
    assert_eq!(
        &e.raw()[..],
        &b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: MyTestEvent\r\nActionID: ue-1\r\nHeader1: one\r\nDup: first\r\nDup: second\r\nColon: a:b: c :d\r\nSpaced:    padded value   \r\nEmpty:\r\nNoSpace:tight\r\n\r\n"[..]
    );
    assert_eq!(e.kind(), PacketKind::Event);
    assert_eq!(s(e.action_id()).as_deref(), Some("ue-1"));
    assert_eq!(e.get("Colon").unwrap(), "a:b: c :d");
    // Split at the first ": ", everything after it kept.
    assert_eq!(e.get("Spaced").unwrap(), "   padded value   ");
    assert_eq!(e.get("Empty").unwrap(), "");
    assert!(e.get("Empty").unwrap().is_empty());
    assert_eq!(e.get("NoSpace").unwrap(), "tight");
    let dups: Vec<String> = e.get_all("DUP").map(|v| v.to_string()).collect();
    assert_eq!(dups, ["first", "second"]);
    assert_eq!(e.len(), 11);
    assert!(e.headers().all(|h| !h.is_bare()));
    // The second event: `UserEvent: ` with an empty value.
    assert_eq!(ev[1].get("UserEvent").unwrap(), "");
    assert_eq!(s(ev[1].action_id()).as_deref(), Some("ue-2"));
    // The client side: the same headers as sent.
    let c = decode(&capture(V22, "11-userevent", Dir::Client));
    let a = c
        .packets()
        .find(|p| p.action_id().is_some_and(|v| v == "ue-1"))
        .unwrap();
    assert_eq!(a.get("Spaced").unwrap(), "   padded value   ");
    assert_eq!(a.get("NoSpace").unwrap(), "tight");
}

#[test]
fn lists_have_their_items() {
    let r = decode(&capture(V22, "07-list-actions", Dir::Server));
    let ps = packets(&r);
    let mut lists = 0;
    for (i, p) in ps.iter().enumerate() {
        if !p
            .get("EventList")
            .is_some_and(|v| v.eq_ignore_case("start"))
        {
            continue;
        }
        lists += 1;
        assert_eq!(p.kind(), PacketKind::Response);
        assert_eq!(p.response_status(), Some(ResponseStatus::Success));
        assert!(p.message().unwrap().to_string().ends_with("will follow"));
        let id = p.action_id().unwrap();
        let mine: Vec<&Packet> = ps[i + 1..]
            .iter()
            .filter(|q| q.action_id() == Some(id))
            .collect();
        let end = mine
            .iter()
            .position(|q| {
                q.get("EventList")
                    .is_some_and(|v| v.eq_ignore_case("complete"))
            })
            .unwrap_or_else(|| panic!("{id:?}: no Complete"));
        let complete = mine[end];
        assert_eq!(complete.kind(), PacketKind::Event);
        assert!(complete.event().unwrap().to_string().ends_with("Complete"));
        let items: usize = complete.get_str("ListItems").unwrap().parse().unwrap();
        assert_eq!(items, end, "{id:?}");
        assert!(mine[..end].iter().all(|q| q.kind() == PacketKind::Event));
    }
    assert_eq!(lists, 13);
    // The failing list actions: an Error and no Complete.
    for id in ["sippeers", "pjsip-eps"] {
        let mine: Vec<&Packet> = ps
            .iter()
            .filter(|q| q.action_id().is_some_and(|v| v == id))
            .collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].response_status(), Some(ResponseStatus::Error));
    }
    // ListCommands: one response, one `Name: description (Priv: ...)` line per action.
    let lc = ps
        .iter()
        .find(|p| p.action_id().is_some_and(|v| v == "listcmds"))
        .unwrap();
    assert!(lc.len() > 100);
    assert_eq!(
        lc.get("AbsoluteTimeout").unwrap(),
        "Set absolute timeout.  (Priv: system,call,all)"
    );
    // QueueSummary puts its ActionID last.
    let qs = ps
        .iter()
        .find(|p| p.is_event("QueueSummaryComplete"))
        .unwrap();
    assert_eq!(s(qs.action_id()).as_deref(), Some("qsummary"));
}

#[test]
fn originate_response_is_an_event_with_a_response() {
    let r = decode(&capture(V22, "10-originate-events", Dir::Server));
    let or: Vec<&Packet> = r
        .packets()
        .filter(|p| p.is_event("OriginateResponse"))
        .collect();
    let got: Vec<(String, ResponseStatus, String)> = or
        .iter()
        .map(|p| {
            assert_eq!(p.kind(), PacketKind::Event);
            (
                s(p.action_id()).unwrap(),
                p.response_status().unwrap(),
                p.get_str("Reason").unwrap().to_owned(),
            )
        })
        .collect();
    let mut got_sorted = got.clone();
    got_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    use ResponseStatus::*;
    assert_eq!(
        got_sorted,
        [
            ("orig-badexten".into(), Failure, "0".into()),
            ("orig-busy".into(), Failure, "5".into()),
            ("orig-dial".into(), Success, "4".into()),
            ("orig-noanswer".into(), Failure, "3".into()),
            ("orig-queue".into(), Success, "4".into()),
        ]
    );
    // Event counts from the README.
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for p in r.packets().filter(|p| p.kind() == PacketKind::Event) {
        *by_name.entry(s(p.event()).unwrap()).or_default() += 1;
    }
    for (name, n) in [
        ("VarSet", 53),
        ("Newexten", 35),
        ("DeviceStateChange", 30),
        ("Newchannel", 16),
        ("Hangup", 16),
        ("OriginateResponse", 5),
        ("UserEvent", 3),
        ("FullyBooted", 1),
    ] {
        assert_eq!(by_name.get(name).copied(), Some(n), "{name}");
    }
    assert_eq!(by_name.values().sum::<usize>(), 234);
}

#[test]
fn event_flood() {
    let r = decode(&capture(V22, "13-event-flood", Dir::Server));
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for p in r.packets().filter(|p| p.kind() == PacketKind::Event) {
        *by_name.entry(s(p.event()).unwrap()).or_default() += 1;
    }
    // README: 27 distinct event types during the flood, plus the login's
    // FullyBooted and SuccessfulAuth.
    assert_eq!(by_name.len(), 29);
    assert_eq!(by_name["VarSet"], 610);
    assert_eq!(by_name["OriginateResponse"], 50);
    let mut ids: Vec<String> = r
        .packets()
        .filter(|p| p.is_event("OriginateResponse"))
        .map(|p| s(p.action_id()).unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "one OriginateResponse per action");
}

#[test]
fn error_responses_14b_14c() {
    let r = decode(&capture(V22, "14b-line-too-long", Dir::Server));
    let errs: Vec<(String, String)> = r
        .packets()
        .filter(|p| p.response_status() == Some(ResponseStatus::Error))
        .map(|p| (s(p.action_id()).unwrap(), s(p.message()).unwrap()))
        .collect();
    let long = "Failed to parse message: line too long".to_owned();
    assert_eq!(
        errs,
        [
            ("set2000".into(), long.clone()),
            ("ping-10k".into(), long.clone()),
            ("id-after-long".into(), long)
        ]
    );
    // The Getvar after the refused Setvar: the variable is unset, `Value: `.
    let gv = r
        .packets()
        .find(|p| p.action_id().is_some_and(|v| v == "get2000"))
        .unwrap();
    assert!(gv.get("Value").unwrap().is_empty());
    assert_eq!(&gv.raw()[gv.raw().len() - 11..], b"Value: \r\n\r\n");

    let r = decode(&capture(V22, "14c-too-many-headers", Dir::Server));
    let errs: Vec<(String, String)> = r
        .packets()
        .filter(|p| p.response_status() == Some(ResponseStatus::Error))
        .map(|p| (s(p.action_id()).unwrap(), s(p.message()).unwrap()))
        .collect();
    assert_eq!(
        errs,
        [(
            "hdr140".into(),
            "Too many lines in message or allocation failure".into()
        )]
    );
    let ev = r.packets().find(|p| p.is_event("UserEvent")).unwrap();
    let xh: Vec<String> = ev
        .headers()
        .filter(|h| h.key_str().starts_with("X-H"))
        .map(|h| h.key_str().into_owned())
        .collect();
    assert_eq!(xh.len(), 125);
    assert!(xh
        .iter()
        .enumerate()
        .all(|(i, k)| *k == format!("X-H{i:03}")));
}

#[test]
fn pipelined_pings_in_order() {
    let r = decode(&capture(V22, "05-pipelined-200-pings", Dir::Server));
    let ids: Vec<String> = r
        .packets()
        .filter(|p| p.get("Ping").is_some_and(|v| v == "Pong"))
        .map(|p| s(p.action_id()).unwrap())
        .collect();
    let expected: Vec<String> = (0..200).map(|i| format!("ping-{i:03}")).collect();
    assert_eq!(ids, expected);
    let c = decode(&capture(V22, "05-pipelined-200-pings", Dir::Client));
    let sent: Vec<String> = c
        .packets()
        .filter(|p| p.action().is_some_and(|v| v == "Ping"))
        .map(|p| s(p.action_id()).unwrap())
        .collect();
    assert_eq!(sent, expected);
}

/// The capture truncated anywhere: every complete packet before the cut
/// still comes out, and `decode_eof` reports the rest as truncated.
#[test]
fn truncated_captures() {
    let c = capture(V22, "01-login-logoff", Dir::Server);
    let whole = decode(&c);
    let ends: Vec<usize> = {
        // Offsets just after each frame.
        let mut v = Vec::new();
        let mut pos = 0;
        for i in &whole.items {
            let raw: &[u8] = match i {
                Item::Banner(b) => b,
                Item::Packet(_, p) => p.raw(),
                Item::Error(_) => unreachable!(),
            };
            pos = memchr::memmem::find(&c.data[pos..], raw).unwrap() + pos + raw.len();
            if matches!(i, Item::Banner(_)) {
                pos += 2;
            }
            v.push(pos);
        }
        v
    };
    for cut in 0..=c.data.len() {
        let r = run_whole(c.decoder(), &c.data[..cut]);
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        let at = ends
            .iter()
            .copied()
            .filter(|&e| e <= cut)
            .max()
            .unwrap_or(0);
        let mut expected = whole.items[..complete].to_vec();
        if at < cut {
            expected.push(Item::Error(DecodeError::Truncated { bytes: cut - at }));
        }
        assert_eq!(r.items, expected, "cut at {cut}");
    }
}
