//! One test per quirk of the wire (shared/PROTOCOL.md), each decoded whole
//! and at several chunkings, plus every limit's recovery and the encoder's
//! refusals not covered by the unit tests in action.rs / packet.rs.

mod common;

use amiproto::{
    Action, BannerMode, DecodeError, Decoder, EncodeError, Frame, Limits, Packet, PacketKind,
    ResponseStatus,
};
use bytes::{Bytes, BytesMut};
use common::{run, run_whole, Item, Run};

/// Decode `data` whole and at chunk sizes 1, 2, 3, 5 and 17; all must agree.
fn decode_with(dec: impl Fn() -> Decoder, data: &[u8]) -> Run {
    let whole = run_whole(dec(), data);
    for chunk in [1, 2, 3, 5, 17] {
        let r = run(dec(), data, chunk);
        assert_eq!(r.items, whole.items, "chunk size {chunk}");
        assert_eq!(r.stats, whole.stats, "chunk size {chunk}");
    }
    whole
}

fn decode(data: &[u8]) -> Run {
    decode_with(|| Decoder::new().banner_mode(BannerMode::Absent), data)
}

fn limited(limits: Limits, data: &[u8]) -> Run {
    decode_with(
        || Decoder::with_limits(limits).banner_mode(BannerMode::Absent),
        data,
    )
}

fn only_packet(r: &Run) -> Packet {
    assert_eq!(r.items.len(), 1, "{:?}", r.items);
    r.items[0].packet().expect("a packet").clone()
}

fn lines(p: &Packet) -> Vec<Vec<u8>> {
    p.body_lines().map(|v| v.to_vec()).collect()
}

fn id(s: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(s.as_bytes()))
}

/// The packet after a skipped one: small enough (2 headers, 37 bytes, lines
/// of at most 17 bytes) to fit every limit the tests below set.
const PING: &[u8] = b"Response: Success\r\nActionID: next\r\n\r\n";

fn is_ping(i: &Item) -> bool {
    i.packet().is_some_and(|p| p.raw() == PING)
}

// ---------------------------------------------------------------------------
// Response: Follows

#[test]
fn follows_body_with_blank_lines() {
    let data = b"Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\nline one\n\nline: three\n\n--END COMMAND--\r\n\r\n";
    let r = decode(&[&data[..], PING].concat());
    assert_eq!(r.items.len(), 2);
    let p = r.items[0].packet().unwrap();
    assert_eq!(p.response_status(), Some(ResponseStatus::Follows));
    assert_eq!(p.len(), 3);
    assert_eq!(p.action_id().unwrap(), "c1");
    assert_eq!(p.body().unwrap(), b"line one\n\nline: three\n\n");
    assert_eq!(
        lines(p),
        [&b"line one"[..], b"", b"line: three", b""].map(<[u8]>::to_vec)
    );
    // A body line with a colon is not a header.
    assert!(!p.contains("line"));
    assert!(is_ping(&r.items[1]));
}

#[test]
fn follows_body_starting_with_a_blank_line() {
    // `core show settings` output starts with "\n".
    let data = b"Response: Follows\r\nPrivilege: Command\r\n\nPBX Core settings\n-----\n--END COMMAND--\r\n\r\n";
    let p = only_packet(&decode(data));
    assert_eq!(p.body().unwrap(), b"\nPBX Core settings\n-----\n");
    assert_eq!(lines(&p).len(), 3);
    assert_eq!(p.len(), 2);
}

#[test]
fn follows_first_body_line_with_a_colon() {
    // LF-only, so not a header even though it has ": ".
    let data = b"Response: Follows\r\nPrivilege: Command\r\nUptime: 5 minutes\nReload: 1 minute\n--END COMMAND--\r\n\r\n";
    let p = only_packet(&decode(data));
    assert_eq!(p.len(), 2);
    assert_eq!(p.body().unwrap(), b"Uptime: 5 minutes\nReload: 1 minute\n");
    assert!(!p.contains("Uptime"));
}

#[test]
fn follows_glued_end_marker() {
    // Output without a final LF: the marker is glued to the last line.
    let data = b"Response: Follows\r\nPrivilege: Command\r\nActionID: g\r\nfirst\nlast line--END COMMAND--\r\n\r\n";
    let p = only_packet(&decode(data));
    assert_eq!(p.body().unwrap(), b"first\nlast line");
    assert_eq!(lines(&p), [b"first".to_vec(), b"last line".to_vec()]);
    // Glued to the only line, right after the headers.
    let data = b"Response: Follows\r\nPrivilege: Command\r\nonly--END COMMAND--\r\n\r\n";
    let p = only_packet(&decode(data));
    assert_eq!(p.body().unwrap(), b"only");
    assert_eq!(p.len(), 2);
}

#[test]
fn follows_with_no_body() {
    let data = b"Response: Follows\r\nPrivilege: Command\r\nActionID: e\r\n--END COMMAND--\r\n\r\n";
    let r = decode(&[&data[..], PING].concat());
    let p = r.items[0].packet().unwrap();
    assert_eq!(p.body(), Some(&b""[..]));
    assert_eq!(p.body_lines().count(), 0);
    assert_eq!(p.len(), 3);
    assert!(is_ping(&r.items[1]));
    // A Follows response with no marker at all ends at its blank line.
    let data = b"Response: Follows\r\nActionID: x\r\n\r\n";
    let r = decode(&[&data[..], PING].concat());
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.items[0].packet().unwrap().body(), None);
    assert!(is_ping(&r.items[1]));
}

#[test]
fn follows_only_from_the_first_response_header() {
    // Only the word `Follows` of the first Response header starts a body,
    // case-insensitively.
    let data = b"response: follows\r\nActionID: a\r\nbody\n--END COMMAND--\r\n\r\n";
    assert_eq!(only_packet(&decode(data)).body(), Some(&b"body\n"[..]));
    let data = b"Response: Success\r\nResponse: Follows\r\nbare line\r\n\r\n";
    let p = only_packet(&decode(data));
    assert_eq!(p.body(), None);
    assert!(p.header(2).unwrap().is_bare());
    // An Event with `Response: Follows` is an ordinary event: no body, its
    // bare lines kept as bare lines.
    let data = b"Event: X\r\nResponse: Follows\r\ntext\n--END COMMAND--\r\n\r\n";
    let p = only_packet(&decode(data));
    assert_eq!(p.kind(), PacketKind::Event);
    assert_eq!(p.body(), None);
    assert!(p.header(2).unwrap().is_bare());
    assert!(p.header(3).unwrap().is_bare());
}

#[test]
fn a_user_event_with_response_follows_does_not_swallow_the_stream() {
    // What every session with the `user` read class receives, byte for byte,
    // when another session sends `Action: UserEvent` with the lines
    // `Response: Follows` and `hello` (Asterisk 22.10.1).
    let forged = b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Hi\r\nResponse: Follows\r\nhello\r\n\r\n";
    let mut data = forged.to_vec();
    for i in 0..50 {
        data.extend_from_slice(
            format!("Response: Success\r\nActionID: {i}\r\nPing: Pong\r\n\r\n").as_bytes(),
        );
    }
    let r = decode(&data);
    assert_eq!(r.errors().count(), 0);
    let packets: Vec<_> = r.packets().collect();
    assert_eq!(packets.len(), 51);
    let ev = packets[0];
    assert_eq!(ev.kind(), PacketKind::Event);
    assert!(ev.event().is_some_and(|e| e == "UserEvent"));
    assert_eq!(ev.body(), None);
    assert_eq!(ev.get_str("Response"), Some("Follows"));
    let hello = ev.header(4).unwrap();
    assert!(hello.is_bare());
    assert_eq!(hello.value().as_bytes(), b"hello");
    for (i, p) in packets[1..].iter().enumerate() {
        assert!(p.action_id().is_some_and(|a| a == i.to_string().as_str()));
    }
    // The same for a client's input (no raw bodies at all), even with
    // `Response: Follows` first.
    let input = [&b"Response: Follows\r\nhello\r\n\r\n"[..], PING].concat();
    let r = decode_with(
        || {
            Decoder::new()
                .banner_mode(BannerMode::Absent)
                .follows_bodies(false)
        },
        &input,
    );
    assert_eq!(r.packets().count(), 2);
    assert_eq!(r.items[0].packet().unwrap().body(), None);
    assert!(is_ping(&r.items[1]));
}

// ---------------------------------------------------------------------------
// Headers

#[test]
fn keys_with_colons() {
    let data =
        b"Event: Status\r\nChanVariable(IAX2/10.0.0.1:4569-3): x=y\r\nVariable: a: b\r\n\r\n";
    let p = only_packet(&decode(data));
    assert_eq!(p.get("ChanVariable(IAX2/10.0.0.1:4569-3)").unwrap(), "x=y");
    assert_eq!(p.get("chanvariable(iax2/10.0.0.1:4569-3)").unwrap(), "x=y");
    assert_eq!(p.get("Variable").unwrap(), "a: b");
    assert_eq!(
        p.header(1).unwrap().key_str(),
        "ChanVariable(IAX2/10.0.0.1:4569-3)"
    );
    assert!(p.get("ChanVariable(IAX2/10.0.0.1").is_none());
}

#[test]
fn empty_values() {
    let data = b"Response: Success\r\nValue: \r\nNoSpace:\r\nSpaces:   \r\n\r\n";
    let p = only_packet(&decode(data));
    assert_eq!(p.get("Value").unwrap(), "");
    assert!(p.contains("Value"));
    assert_eq!(p.get("NoSpace").unwrap(), "");
    assert_eq!(p.get("Spaces").unwrap(), "  ");
    assert!(p.headers().all(|h| !h.is_bare()));
    assert_eq!(p.get_bytes("Value").unwrap(), "");
}

#[test]
fn bare_lf_lines() {
    let data = b"Response: Success\nActionID: lf\r\nPing: Pong\n\nEvent: A\n\r\n";
    let r = decode(data);
    assert_eq!(r.items.len(), 2);
    let p = r.items[0].packet().unwrap();
    assert_eq!(
        &p.raw()[..],
        b"Response: Success\nActionID: lf\r\nPing: Pong\n\n"
    );
    assert_eq!(p.action_id().unwrap(), "lf");
    assert_eq!(p.get("Ping").unwrap(), "Pong");
    assert_eq!(r.items[1].packet().unwrap().event().unwrap(), "A");
    // A CR not followed by LF is part of the value.
    let p = only_packet(&decode(b"Key: a\rb\r\r\n\r\n"));
    assert_eq!(p.get("Key").unwrap(), "a\rb\r");
}

#[test]
fn latin1_and_other_bytes() {
    let data = b"Event: Newchannel\r\nCallerIDName: Jos\xe9\r\nConnectedLineName: \xcf\xf0\xe8\xe2\xe5\xf2\r\nNul: a\0b\r\n\r\n";
    let p = only_packet(&decode(data));
    let v = p.get("CallerIDName").unwrap();
    assert_eq!(v.as_bytes(), b"Jos\xe9");
    assert_eq!(v.decode_text(), "Jos\u{e9}");
    assert_eq!(p.get_str("CallerIDName"), None);
    assert_eq!(p.get("ConnectedLineName").unwrap().len(), 6);
    assert_eq!(p.get("Nul").unwrap().as_bytes(), b"a\0b");
}

#[test]
fn lines_without_colon_are_bare() {
    // GetConfig's bare line, IAXnetstats' raw lines (no Response header).
    let data = b"Response: Error\r\nActionID: g\r\nNo categories found\r\n\r\nIAX2/100 1 2 3\nIAX2/200 4 5 6\n\r\n";
    let r = decode(data);
    let p = r.items[0].packet().unwrap();
    let h = p.header(2).unwrap();
    assert!(h.is_bare() && h.key().is_empty());
    assert_eq!(h.value(), "No categories found");
    assert!(!h.is("No categories found"));
    assert_eq!(p.get(""), None, "bare lines are not found by key");
    let q = r.items[1].packet().unwrap();
    assert_eq!(q.kind(), PacketKind::Other);
    assert_eq!(q.len(), 2);
    assert!(q.headers().all(|h| h.is_bare()));
    assert_eq!(q.header(1).unwrap().value(), "IAX2/200 4 5 6");
}

#[test]
fn repeated_keys_in_order() {
    let data =
        b"Event: Status\r\nVariable: A=1\r\nOther: x\r\nvariable: B=2\r\nVARIABLE: C=3\r\n\r\n";
    let p = only_packet(&decode(data));
    let v: Vec<String> = p.get_all("Variable").map(|v| v.to_string()).collect();
    assert_eq!(v, ["A=1", "B=2", "C=3"]);
    let keys: Vec<String> = p
        .headers()
        .rev()
        .map(|h| h.key_str().into_owned())
        .collect();
    assert_eq!(keys, ["VARIABLE", "variable", "Other", "Variable", "Event"]);
}

#[test]
fn first_action_id_wins() {
    let data = b"Response: Success\r\nActionID: one\r\nActionID: two\r\n\r\n";
    let p = only_packet(&decode(data));
    assert_eq!(p.action_id().unwrap(), "one");
    assert_eq!(p.action_id_bytes().unwrap(), "one");
    assert_eq!(p.get_all("actionid").count(), 2);
}

// ---------------------------------------------------------------------------
// Empty packets

#[test]
fn queuerule_empty_packet() {
    let data = b"Response: Success\r\nActionID: q\r\nRuleList: r\r\nRule: 10,+2,+0\r\nRule: 20,+4,+1\r\n\r\n\r\n";
    let r = decode(&[&data[..], PING].concat());
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.stats.empty_packets, 1);
    assert_eq!(r.stats.packets, 2);
    assert!(is_ping(&r.items[1]));
    let rules: Vec<String> = r.items[0]
        .packet()
        .unwrap()
        .get_all("Rule")
        .map(|v| v.to_string())
        .collect();
    assert_eq!(rules, ["10,+2,+0", "20,+4,+1"]);
}

#[test]
fn leading_blank_lines() {
    let r = decode(&[&b"\r\n\n\r\n"[..], PING, b"\n"].concat());
    assert_eq!(r.items.len(), 1);
    assert!(is_ping(&r.items[0]));
    assert_eq!(r.stats.empty_packets, 4);
    // After a banner too.
    let r = decode_with(
        Decoder::new,
        &[&b"Asterisk Call Manager/11.0.0\r\n\r\n"[..], PING].concat(),
    );
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.stats.empty_packets, 1);
}

// ---------------------------------------------------------------------------
// The banner

fn banner_of(r: &Run) -> &Bytes {
    match &r.items[0] {
        Item::Banner(b) => b,
        other => panic!("not a banner: {other:?}"),
    }
}

#[test]
fn banner_auto() {
    let data = [&b"Asterisk Call Manager/11.0.0\r\n"[..], PING].concat();
    let r = decode_with(Decoder::new, &data);
    assert_eq!(banner_of(&r), "Asterisk Call Manager/11.0.0");
    assert!(is_ping(&r.items[1]));
    // No banner: the first line is a header.
    let r = decode_with(Decoder::new, PING);
    assert_eq!(r.items.len(), 1);
    assert!(is_ping(&r.items[0]));
    // A banner-looking line later is not a banner.
    let data = [PING, b"Asterisk Call Manager/11.0.0\r\n\r\n"].concat();
    let r = decode_with(Decoder::new, &data);
    assert_eq!(r.items.len(), 2);
    assert!(r.items[1].packet().unwrap().header(0).unwrap().is_bare());
    // A first line that only starts like the banner.
    let r = decode_with(Decoder::new, b"Asterisk Call\r\n\r\n");
    assert!(r.items[0].packet().is_some());
}

#[test]
fn banner_versions() {
    for (line, parts) in [
        (&b"Asterisk Call Manager/1.1"[..], (1, 1, None)),
        (b"Asterisk Call Manager/1.0", (1, 0, None)),
        (b"Asterisk Call Manager/2.10.6", (2, 10, Some(6))),
        (b"Asterisk Call Manager/11.0.0", (11, 0, Some(0))),
        (b"Asterisk Call Manager/12.0.0", (12, 0, Some(0))),
    ] {
        for mode in [BannerMode::Auto, BannerMode::Required] {
            for term in [&b"\r\n"[..], b"\n"] {
                let mut buf = BytesMut::from(&[line, term].concat()[..]);
                let mut dec = Decoder::new().banner_mode(mode);
                let Ok(Some(Frame::Banner(b))) = dec.decode(&mut buf) else {
                    panic!("{line:?}")
                };
                assert_eq!(b.raw(), line);
                let v = b.version().unwrap();
                assert_eq!((v.major, v.minor, v.patch), parts);
                assert!(buf.is_empty());
                assert_eq!(dec.decode(&mut buf), Ok(None));
            }
        }
    }
    // An unparsable version is still a banner.
    let r = decode_with(
        || Decoder::new().banner_mode(BannerMode::Required),
        b"Asterisk Call Manager/unknown\r\n",
    );
    assert_eq!(banner_of(&r), "Asterisk Call Manager/unknown");
}

#[test]
fn banner_required_rejects_other_greetings() {
    let req = || Decoder::new().banner_mode(BannerMode::Required);
    // Whole line.
    let mut buf = BytesMut::from(&b"SSH-2.0-OpenSSH_9.6\r\nmore"[..]);
    assert_eq!(
        req().decode(&mut buf),
        Err(DecodeError::NotAmi {
            greeting: Bytes::from_static(b"SSH-2.0-OpenSSH_9.6\r\n")
        })
    );
    // Before the line's LF arrives, as soon as a byte differs.
    let mut dec = req();
    let mut buf = BytesMut::from(&b"Asterisk Call"[..]);
    assert_eq!(
        dec.decode(&mut buf),
        Ok(None),
        "a prefix of the banner waits"
    );
    buf.extend_from_slice(b" Manager-");
    let err = dec.decode(&mut buf).unwrap_err();
    assert!(!err.is_recoverable());
    let DecodeError::NotAmi { greeting } = err else {
        panic!("{err:?}")
    };
    assert_eq!(greeting, "Asterisk Call Manager-");
    let mut buf = BytesMut::from(&b"HTTP/1.1 400"[..]);
    assert!(matches!(
        req().decode(&mut buf),
        Err(DecodeError::NotAmi { .. })
    ));
    // A packet instead of the banner.
    let r = run_whole(req(), PING);
    assert!(r.fatal);
    assert!(matches!(
        r.items[..],
        [Item::Error(DecodeError::NotAmi { .. })]
    ));
    // A blank first line.
    let r = run_whole(req(), b"\r\nAsterisk Call Manager/1.1\r\n");
    assert!(matches!(
        r.items[..],
        [Item::Error(DecodeError::NotAmi { .. })]
    ));
    // Detected at every chunking, greeting always a prefix of the line.
    let data = b"220 smtp.example.com ESMTP\r\n";
    for chunk in 1..data.len() {
        let r = run(req(), data, chunk);
        assert!(r.fatal);
        let [Item::Error(DecodeError::NotAmi { greeting })] = &r.items[..] else {
            panic!("{:?}", r.items)
        };
        assert!(!greeting.is_empty() && data.starts_with(greeting));
    }
}

#[test]
fn banner_absent() {
    // The client-to-server direction: a banner line is just a bare line.
    let data = b"Asterisk Call Manager/11.0.0\r\nAction: Ping\r\n\r\n";
    let p = only_packet(&decode(data));
    assert!(p.header(0).unwrap().is_bare());
    assert_eq!(p.action().unwrap(), "Ping");
}

// ---------------------------------------------------------------------------
// Limits

fn lim(max_line_len: usize, max_packet_len: usize, max_headers: usize) -> Limits {
    Limits::default()
        .max_line_len(max_line_len)
        .max_packet_len(max_packet_len)
        .max_headers(max_headers)
}

#[test]
fn line_limit_is_exact_and_excludes_the_terminator() {
    let l = lim(20, 1000, 100);
    // "K: " and 17 digits is 20 bytes: fits, with CRLF or LF.
    for data in [
        &b"K: 12345678901234567\r\n\r\n"[..],
        b"K: 12345678901234567\n\n",
    ] {
        let p = only_packet(&limited(l, data));
        assert_eq!(p.get("K").unwrap(), "12345678901234567");
    }
    // One more byte does not.
    let r = limited(
        l,
        &[&b"ActionID: a\r\nK: 123456789012345678\r\n\r\n"[..], PING].concat(),
    );
    assert_eq!(
        r.items[0],
        Item::Error(DecodeError::LineTooLong {
            limit: 20,
            action_id: id("a")
        })
    );
    assert!(is_ping(&r.items[1]));
    assert_eq!(r.items.len(), 2);
    // A lone CR counts as content.
    let r = limited(l, b"K: 12345678901234567\r\r\n\r\n");
    assert!(matches!(
        r.items[..],
        [Item::Error(DecodeError::LineTooLong { .. })]
    ));
}

#[test]
fn packet_limit_is_exact_and_includes_terminators() {
    let data = b"Response: Success\r\nActionID: p\r\nMessage: longer than the next one\r\n\r\n";
    let n = data.len();
    assert!(n > PING.len() + 1);
    let p = only_packet(&limited(lim(100, n, 100), data));
    assert_eq!(&p.raw()[..], data);
    let r = limited(lim(100, n - 1, 100), &[&data[..], PING].concat());
    assert_eq!(
        r.items[0],
        Item::Error(DecodeError::PacketTooLarge {
            limit: n - 1,
            action_id: id("p")
        })
    );
    assert_eq!(r.items.len(), 2);
    assert!(is_ping(&r.items[1]));
    assert_eq!(r.stats.skipped_packets, 1);
}

#[test]
fn header_limit_is_exact_and_counts_bare_lines() {
    let data = b"Response: Success\r\nActionID: h\r\nbare\r\n\r\n";
    assert_eq!(only_packet(&limited(lim(100, 1000, 3), data)).len(), 3);
    let r = limited(lim(100, 1000, 2), &[&data[..], PING].concat());
    assert_eq!(
        r.items[0],
        Item::Error(DecodeError::TooManyHeaders {
            limit: 2,
            action_id: id("h")
        })
    );
    assert!(is_ping(&r.items[1]));
    // Body lines are not headers.
    let data = b"Response: Follows\r\nActionID: b\r\n1\n2\n3\n4\n--END COMMAND--\r\n\r\n";
    assert_eq!(
        lines(&only_packet(&limited(lim(100, 1000, 2), data))).len(),
        4
    );
}

#[test]
fn every_limit_recovers_on_the_next_packet() {
    let long = [
        &b"Response: Success\r\nActionID: L\r\nX: "[..],
        &[b'x'; 200],
        b"\r\nY: y\r\n\r\n",
    ]
    .concat();
    let big = [
        &b"Response: Success\r\nActionID: P\r\n"[..],
        &b"Y: 0123456789\r\n".repeat(20),
        b"\r\n",
    ]
    .concat();
    let many = [
        &b"Response: Success\r\nActionID: H\r\n"[..],
        &b"Y: y\r\n".repeat(30),
        b"\r\n",
    ]
    .concat();
    let l = lim(100, 200, 20);
    let data = [&long[..], PING, &big, PING, &many, PING].concat();
    let r = limited(l, &data);
    assert_eq!(
        r.items,
        [
            Item::Error(DecodeError::LineTooLong {
                limit: 100,
                action_id: id("L")
            }),
            r.items[1].clone(),
            Item::Error(DecodeError::PacketTooLarge {
                limit: 200,
                action_id: id("P")
            }),
            r.items[3].clone(),
            Item::Error(DecodeError::TooManyHeaders {
                limit: 20,
                action_id: id("H")
            }),
            r.items[5].clone(),
        ]
    );
    assert!([1, 3, 5].iter().all(|&i| is_ping(&r.items[i])));
    assert_eq!(r.stats.skipped_packets, 3);
    assert_eq!(r.stats.packets, 3);
    for e in r.errors() {
        assert!(e.is_recoverable());
        assert!(e.action_id().is_some());
    }
}

#[test]
fn skipped_packet_action_id_after_the_offending_line() {
    type Case = (Limits, &'static [u8], fn(Option<Bytes>) -> DecodeError);
    let cases: [Case; 3] = [
        (
            lim(50, 300, 5),
            b"Action: Ping\r\nX-Long: 0123456789012345678901234567890123456789012345678901234567890123456789\r\nActionID: after\r\nActionID: second\r\n\r\n",
            |a| DecodeError::LineTooLong { limit: 50, action_id: a },
        ),
        (
            lim(50, 300, 50),
            b"Action: Ping\r\nA: 0123456789012345678901234567890123456789\r\nB: 0123456789012345678901234567890123456789\r\nC: 0123456789012345678901234567890123456789\r\nD: 0123456789012345678901234567890123456789\r\nE: 0123456789012345678901234567890123456789\r\nF: 0123456789012345678901234567890123456789\r\nActionID: after\r\nActionID: second\r\n\r\n",
            |a| DecodeError::PacketTooLarge { limit: 300, action_id: a },
        ),
        (
            lim(50, 300, 5),
            b"Action: Ping\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nActionID: after\r\nActionID: second\r\n\r\n",
            |a| DecodeError::TooManyHeaders { limit: 5, action_id: a },
        ),
    ];
    for (l, data, err) in cases {
        let r = limited(l, &[data, PING].concat());
        assert_eq!(
            r.items[0],
            Item::Error(err(id("after"))),
            "{:?}",
            String::from_utf8_lossy(data)
        );
        assert!(is_ping(&r.items[1]));
        assert_eq!(r.items.len(), 2);
    }
    // The ActionID on the very line that crosses the packet or header limit.
    let data = b"Action: Ping\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nActionID: on-the-line\r\n\r\n";
    let r = limited(lim(50, 1000, 5), data);
    assert_eq!(
        r.items[0],
        Item::Error(DecodeError::TooManyHeaders {
            limit: 5,
            action_id: id("on-the-line")
        })
    );
    let r = limited(lim(50, 40, 50), data);
    assert_eq!(
        r.items[0],
        Item::Error(DecodeError::PacketTooLarge {
            limit: 40,
            action_id: id("on-the-line")
        })
    );
    // No ActionID anywhere.
    let r = limited(lim(5, 1000, 50), b"Event: Long\r\n\r\n");
    assert_eq!(
        r.items[0],
        Item::Error(DecodeError::LineTooLong {
            limit: 5,
            action_id: None
        })
    );
}

/// What follows a raw body abandoned at a limit: the report first, then the
/// rest of the stream decoded as packets (the body's remaining lines among
/// them), ending with the Ping that followed the packet; nothing else is
/// skipped.
fn assert_abandoned(r: &Run, err: DecodeError) {
    assert_eq!(r.items[0], Item::Error(err), "{:?}", r.items);
    assert_eq!(r.errors().count(), 1, "{:?}", r.items);
    assert!(is_ping(r.items.last().unwrap()), "{:?}", r.items);
}

#[test]
fn over_limit_inside_a_follows_body() {
    // A long body line, then blank lines inside the body. A raw body over a
    // limit ends where the limit is hit (its end marker may never come):
    // reported then, decoding goes on with the next line.
    let body = [&b"short\n"[..], &[b'x'; 300], b"\n\n\nmore: text\n\n"].concat();
    let pkt = [
        &b"Response: Follows\r\nPrivilege: Command\r\nActionID: f\r\n"[..],
        &body,
        b"--END COMMAND--\r\n\r\n",
    ]
    .concat();
    let data = [&pkt[..], PING].concat();
    let line_err = |limit, a: &str| DecodeError::LineTooLong {
        limit,
        action_id: id(a),
    };
    let packet_err = |limit, a: &str| DecodeError::PacketTooLarge {
        limit,
        action_id: id(a),
    };
    assert_abandoned(&limited(lim(100, 10_000, 100), &data), line_err(100, "f"));
    // The same packet over the packet limit, crossed inside the body.
    assert_abandoned(&limited(lim(1000, 100, 100), &data), packet_err(100, "f"));
    // The limit crossed on the Follows headers, before the body started.
    assert_abandoned(
        &limited(lim(1000, 1000, 2), &data),
        DecodeError::TooManyHeaders {
            limit: 2,
            action_id: id("f"),
        },
    );
    // Crossed by the ActionID line of the Follows headers: the body's
    // leftovers, over the same small limit, are reported in turn.
    let r = limited(lim(1000, 45, 100), &data);
    assert_eq!(
        r.items[0],
        Item::Error(packet_err(45, "f")),
        "{:?}",
        r.items
    );
    assert!(is_ping(r.items.last().unwrap()), "{:?}", r.items);
    // The first body line (blank, or LF-only with a colon) is the long one.
    for first in [&b"\n"[..], b"k: v\n"] {
        let pkt = [
            &b"Response: Follows\r\nActionID: g\r\n"[..],
            first,
            &[b'y'; 300],
            b"\n\n--END COMMAND--\r\n\r\n",
        ]
        .concat();
        let r = limited(lim(100, 10_000, 100), &[&pkt[..], PING].concat());
        assert_abandoned(&r, line_err(100, "g"));
    }
    // A long line glued to the marker.
    let pkt = [
        &b"Response: Follows\r\nActionID: h\r\n"[..],
        &[b'z'; 300],
        b"--END COMMAND--\r\n\r\n",
    ]
    .concat();
    let r = limited(lim(100, 10_000, 100), &[&pkt[..], PING].concat());
    assert_abandoned(&r, line_err(100, "h"));
}

#[test]
fn an_unterminated_follows_body_is_reported_when_the_limit_is_hit() {
    // A body whose marker never comes: the report must come as soon as the
    // limit is crossed, however the bytes arrive, and what follows decodes.
    let limits = lim(1000, 4096, 100);
    let head = b"Response: Follows\r\nPrivilege: Command\r\nActionID: u\r\n";
    let mut body = Vec::new();
    while body.len() < 5000 {
        body.extend_from_slice(b"a line of cli output without any end marker\n");
    }
    let stream = [&head[..], &body].concat();
    for chunk in [1, 7, 64, 1500, stream.len()] {
        let mut dec = Decoder::with_limits(limits).banner_mode(BannerMode::Absent);
        let mut buf = BytesMut::new();
        let mut errors = Vec::new();
        for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => errors.push(e),
                }
            }
        }
        assert_eq!(
            errors,
            [DecodeError::PacketTooLarge {
                limit: 4096,
                action_id: id("u")
            }],
            "chunk {chunk}"
        );
        assert!(buf.len() <= 4096 + chunk, "chunk {chunk}: {}", buf.len());
        // The stream lives on: a blank line ends the body's leftovers, and
        // the next packet decodes.
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(PING);
        let mut packets = Vec::new();
        while let Some(Frame::Packet(p)) = dec.decode(&mut buf).unwrap() {
            packets.push(p);
        }
        assert!(
            packets
                .last()
                .is_some_and(|p| p.action_id().is_some_and(|a| a == "next")),
            "chunk {chunk}: {packets:?}"
        );
    }
    // A line that never ends, inside a body: reported once it passes the
    // line limit.
    let mut dec = Decoder::with_limits(lim(100, 150, 100)).banner_mode(BannerMode::Absent);
    let mut buf = BytesMut::from(&head[..]);
    assert!(dec.decode(&mut buf).unwrap().is_none());
    buf.extend_from_slice(&[b'q'; 90]);
    assert!(dec.decode(&mut buf).unwrap().is_none());
    buf.extend_from_slice(&[b'q'; 50]);
    assert_eq!(
        dec.decode(&mut buf),
        Err(DecodeError::LineTooLong {
            limit: 100,
            action_id: id("u")
        })
    );
    for _ in 0..100 {
        buf.extend_from_slice(&[b'q'; 1000]);
        assert!(dec.decode(&mut buf).unwrap().is_none());
        assert!(buf.len() <= 2);
    }
    buf.extend_from_slice(b"\n");
    buf.extend_from_slice(PING);
    let Some(Frame::Packet(p)) = dec.decode(&mut buf).unwrap() else {
        panic!("the Ping after the endless line")
    };
    assert!(p.action_id().is_some_and(|a| a == "next"));
}

#[test]
fn skipping_a_huge_line_keeps_memory_bounded() {
    let limits = lim(1024, 1 << 20, 100);
    let mut dec = Decoder::with_limits(limits).banner_mode(BannerMode::Absent);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(b"Action: Ping\r\nActionID: huge\r\nX: ");
    assert_eq!(dec.decode(&mut buf), Ok(None));
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..160 {
        // 10 MiB without LF
        buf.extend_from_slice(&chunk);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(buf.len() <= 1024, "buffer grew to {}", buf.len());
    }
    assert!(dec.is_mid_packet(&buf));
    buf.extend_from_slice(b"\r\nY: z\r\n\r\n");
    assert_eq!(
        dec.decode(&mut buf),
        Err(DecodeError::LineTooLong {
            limit: 1024,
            action_id: id("huge")
        })
    );
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(buf.is_empty());
    assert!(!dec.is_mid_packet(&buf));
    assert_eq!(dec.stats().skipped_packets, 1);

    // Byte by byte, the buffer never holds more than the line limit.
    let mut dec = Decoder::with_limits(limits).banner_mode(BannerMode::Absent);
    let mut buf = BytesMut::new();
    for _ in 0..5000 {
        buf.extend_from_slice(b"b");
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(buf.len() <= 1025);
    }
    // With default limits too: at most the 1 MiB line limit plus a read.
    let mut dec = Decoder::new();
    let mut buf = BytesMut::new();
    for _ in 0..160 {
        buf.extend_from_slice(&chunk);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(buf.len() <= (1 << 20) + chunk.len());
    }
}

#[test]
fn decode_eof_truncated() {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::from(&[PING, b"Response: Succ"].concat()[..]);
    assert!(matches!(
        dec.decode_eof(&mut buf),
        Ok(Some(Frame::Packet(_)))
    ));
    assert!(dec.is_mid_packet(&buf));
    let e = dec.decode_eof(&mut buf).unwrap_err();
    assert_eq!(e, DecodeError::Truncated { bytes: 14 });
    assert!(!e.is_recoverable());
    assert!(buf.is_empty());
    assert_eq!(dec.decode_eof(&mut buf), Ok(None));
    // At a packet boundary, nothing to report.
    let r = decode(PING);
    assert!(!r.fatal);
    // Mid-header, mid-body, mid-skip: all truncated, same count at every chunking.
    let cases: [(&[u8], Limits); 4] = [
        (b"Response: Success\r\nActionID: x\r\n", Limits::default()),
        (b"Response: Success\r\nActionID: x\r\n\r", Limits::default()),
        (
            b"Response: Follows\r\nActionID: x\r\nbody\n\n",
            Limits::default(),
        ),
        (
            b"Response: Success\r\nActionID: x\r\nLong: 0123456789012345678901234567890",
            lim(20, 1000, 100),
        ),
    ];
    for (data, l) in cases {
        let r = limited(l, data);
        assert!(r.fatal);
        assert_eq!(
            r.items,
            [Item::Error(DecodeError::Truncated { bytes: data.len() })]
        );
    }
}

// ---------------------------------------------------------------------------
// Encoder refusals not covered by the unit tests.

fn refused(r: Result<(), EncodeError>, buf: &BytesMut) -> EncodeError {
    assert_eq!(&buf[..], b"keep", "nothing written on refusal");
    r.unwrap_err()
}

fn encode(a: &Action, id: Option<&str>) -> EncodeError {
    let mut buf = BytesMut::from(&b"keep"[..]);
    let r = a.encode(id, &mut buf);
    refused(r, &buf)
}

#[test]
fn encoder_refusals() {
    // The ActionID passed by the connection is checked like the action's own.
    assert!(matches!(
        encode(&Action::ping(), Some("a\nb")),
        EncodeError::InvalidActionId(_)
    ));
    assert!(matches!(
        encode(&Action::ping().action_id("ok"), Some("")),
        EncodeError::InvalidActionId(_)
    ));
    // Non-ASCII and control bytes in an ActionID.
    for bad in ["caf\u{e9}", "tab\there", "del\u{7f}"] {
        assert!(matches!(
            encode(&Action::ping().action_id(bad), None),
            EncodeError::InvalidActionId(_)
        ));
    }
    // 64 bytes pass, and trailing spaces are allowed (echoed verbatim).
    assert!(Action::ping().action_id("x".repeat(64)).to_bytes().is_ok());
    assert!(Action::ping().action_id("sp  ").to_bytes().is_ok());
    // Keys: non-ASCII, DEL, tab.
    for bad in ["K\u{e9}y", "K\u{7f}", "K\tey"] {
        assert!(matches!(
            encode(&Action::ping().header(bad.to_owned(), "v"), None),
            EncodeError::InvalidKey { .. }
        ));
    }
    // A key too long for the server's line buffer.
    assert!(matches!(
        encode(&Action::ping().header("K".repeat(1021), ""), None),
        EncodeError::LineTooLong {
            len: 1023,
            max: 1022,
            ..
        }
    ));
    // An action name too long, or with NUL.
    assert!(matches!(
        encode(&Action::new("P".repeat(1015)), None),
        EncodeError::LineTooLong { .. }
    ));
    assert!(Action::new("P".repeat(1014)).to_bytes().is_ok());
    assert!(matches!(
        encode(&Action::new("Pi\0ng"), None),
        EncodeError::InvalidValue { byte: 0, .. }
    ));
    // Reserved keys in any case.
    assert!(matches!(
        encode(&Action::ping().header("ACTIONID", "x"), None),
        EncodeError::ReservedKey(_)
    ));
    // The line count includes the ActionID the connection adds.
    let mut a = Action::new("UserEvent");
    for i in 0..127 {
        a.push_header(format!("H{i}"), "v");
    }
    assert!(a.to_bytes().is_ok(), "Action + 127 headers = 128 lines");
    assert!(matches!(
        encode(&a, Some("gen-1")),
        EncodeError::TooManyLines {
            count: 129,
            max: 128
        }
    ));
    // An ActionID line within limits but a header that isn't: first error wins, nothing written.
    assert!(matches!(
        encode(
            &Action::ping().header("Ok", "v").header("Bad", "\r"),
            Some("id")
        ),
        EncodeError::InvalidValue { .. }
    ));
}

#[test]
fn builder_refusals() {
    let e = Packet::builder()
        .header("Response", "Follows")
        .follows_body("x\n")
        .header("After", "body")
        .build()
        .unwrap_err();
    assert_eq!(e, EncodeError::HeaderAfterBody);
    let e = Packet::builder()
        .header("Response", "Follows")
        .follows_body("a\n--END COMMAND--\nb\n")
        .build()
        .unwrap_err();
    assert_eq!(e, EncodeError::MarkerInBody);
    // The first error is the one reported.
    let e = Packet::builder()
        .header("Bad Key", "v")
        .header("Good", "\n")
        .build()
        .unwrap_err();
    assert!(matches!(e, EncodeError::InvalidKey { byte: b' ', .. }));
    let e = Packet::builder().header("K", "a\0").build().unwrap_err();
    assert!(matches!(e, EncodeError::InvalidValue { byte: 0, .. }));
    // A body alone is a packet (it ends with the marker line).
    let p = Packet::builder().follows_body("").build().unwrap();
    assert_eq!(&p.raw()[..], b"--END COMMAND--\r\n\r\n");
}

#[test]
fn encoded_actions_decode_back() {
    let a = Action::new("Originate")
        .header("Channel", "Local/100@default")
        .header("Data", "a:b: c")
        .header("Empty", "")
        .header("Latin", &b"Jos\xe9"[..])
        .variable("A", "1")
        .variable("A", "2");
    let mut buf = BytesMut::new();
    a.encode(Some("o-7"), &mut buf).unwrap();
    let p = only_packet(&decode(&buf));
    assert_eq!(p.kind(), PacketKind::Action);
    assert_eq!(p.action().unwrap(), "Originate");
    assert_eq!(p.action_id().unwrap(), "o-7");
    let got: Vec<(String, Vec<u8>)> = p
        .headers()
        .skip(2)
        .map(|h| (h.key_str().into_owned(), h.value().to_vec()))
        .collect();
    let want: Vec<(String, Vec<u8>)> = a
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_vec()))
        .collect();
    assert_eq!(got, want);
}
