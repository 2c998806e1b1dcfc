//! Property tests of the codec: what the encoder writes decodes back to the
//! same thing, the way a stream is cut into reads never changes what comes
//! out, and no input makes the decoder panic or loop.
//!
//! Case counts are modest so the file runs in seconds in a debug build; raise
//! them with `PROPTEST_CASES=…` for a longer search.

mod common;

use amiproto::{Action, BannerMode, Decoder, Frame, Limits, Packet};
use bytes::BytesMut;
use common::{run_cuts, run_whole, Item, Line, Run, Snap};
use proptest::prelude::*;

/// A key the encoder accepts: visible ASCII without `:`. `Response` is left
/// out so that a generated `Response: Follows` as a packet's first line
/// cannot turn later lines into a raw body (the one place where the wire is
/// ambiguous by design).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[A-Za-z][A-Za-z0-9_-]{0,12}",
        3 => "[!-9;-~]{1,20}",
        2 => Just("Variable".to_string()),
        // Reserved: the encoder refuses it.
        1 => Just("ActionId".to_string()),
    ]
    .prop_filter("Response is special", |k| {
        !k.eq_ignore_ascii_case("Response")
    })
}

/// A value the encoder accepts: any bytes but CR, LF and NUL (Latin-1,
/// colons, leading and trailing spaces included), sometimes empty.
fn value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x20u8..0x7f,
        1 => 0x80u8..=0xff,
        1 => prop_oneof![Just(b':'), Just(b' '), Just(b'\t'), Just(0x01u8)],
    ];
    prop_oneof![
        8 => prop::collection::vec(byte.clone(), 0..40),
        1 => prop::collection::vec(byte, 900..1100),
    ]
}

fn id() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[!-~][ -~]{0,70}")
}

fn action() -> impl Strategy<Value = Action> {
    (
        "[A-Za-z][ -~]{0,20}",
        id(),
        prop::collection::vec((key(), value()), 0..12),
        0usize..140,
    )
        .prop_map(|(name, id, headers, pad)| {
            let mut a = Action::new(name);
            for (k, v) in headers {
                a.push_header(k, v);
            }
            // Sometimes go over the 128-line limit.
            if pad > 120 {
                for i in 0..pad {
                    a.push_header("Pad", format!("{i}"));
                }
            }
            match id {
                Some(id) => a.action_id(id),
                None => a,
            }
        })
}

/// Decode a whole stream and return its items, asserting it ends cleanly.
fn decode_all(dec: Decoder, data: &[u8]) -> Run {
    let r = run_whole(dec, data);
    assert!(!r.fatal);
    r
}

fn client_decoder() -> Decoder {
    Decoder::new().banner_mode(BannerMode::Absent)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    /// A valid action decodes to exactly its lines; an invalid one is
    /// refused by a typed error with nothing written.
    #[test]
    fn action_round_trip(a in action(), override_id in prop::option::weighted(0.2, "[a-z0-9-]{1,20}")) {
        let mut buf = BytesMut::from(&b"prefix"[..]);
        let res = a.encode(override_id.as_deref(), &mut buf);
        prop_assert_eq!(res.is_ok(), a.validate(override_id.as_deref()).is_ok());
        if res.is_err() {
            prop_assert_eq!(&buf[..], b"prefix");
            return Ok(());
        }
        let wire = buf.split_off(6);
        let r = decode_all(client_decoder(), &wire);
        prop_assert_eq!(r.items.len(), 1);
        let p = r.items[0].packet().expect("a packet");
        prop_assert_eq!(&p.raw()[..], &wire[..]);
        let mut want = vec![Line { key: b"Action".to_vec(), value: a.name().as_bytes().to_vec(), bare: false }];
        if let Some(id) = override_id.as_deref().or(a.get_action_id()) {
            want.push(Line { key: b"ActionID".to_vec(), value: id.as_bytes().to_vec(), bare: false });
            prop_assert_eq!(p.action_id().unwrap().as_bytes(), id.as_bytes());
        }
        want.extend(a.headers().map(|(k, v)| Line { key: k.as_bytes().to_vec(), value: v.to_vec(), bare: false }));
        prop_assert_eq!(Snap::of(p).lines, want);
        prop_assert_eq!(p.action().unwrap().as_bytes(), a.name().as_bytes());
        // Every header is found case-insensitively, repeated keys in order.
        for (k, _) in a.headers() {
            let lower = k.to_ascii_lowercase();
            let all: Vec<&[u8]> = p.get_all(&lower).map(|v| v.as_bytes()).collect();
            let want: Vec<&[u8]> = a.headers().filter(|(k2, _)| k2.eq_ignore_ascii_case(k)).map(|(_, v)| v).collect();
            prop_assert_eq!(all, want);
        }
    }

    /// Built packets (headers, optionally a `Response: Follows` raw body)
    /// decode to the same index, whole and one byte at a time.
    #[test]
    fn packet_round_trip(
        headers in prop::collection::vec((key(), value()), 1..10),
        body in prop::option::of(prop::collection::vec(("[^\r\n\0]{0,20}", any::<bool>()), 0..6)),
        glued in any::<bool>(),
    ) {
        let mut b = Packet::builder();
        if body.is_some() {
            b = b.header("Response", "Follows");
        }
        for (k, v) in &headers {
            b = b.header(k, v);
        }
        if let Some(lines) = &body {
            let mut text = Vec::new();
            for (line, _) in lines {
                text.extend_from_slice(line.as_bytes());
                text.push(b'\n');
            }
            if glued && !text.is_empty() {
                text.pop(); // the marker glued to the last line
            }
            b = b.follows_body(text);
        }
        let Ok(built) = b.build() else {
            // Only a body that happens to contain the marker is refused.
            prop_assert!(body.is_some());
            return Ok(());
        };
        let data = built.raw().clone();
        let whole = decode_all(client_decoder(), &data);
        prop_assert_eq!(whole.items.len(), 1, "{:?}", whole.items);
        prop_assert_eq!(Snap::of(whole.items[0].packet().unwrap()), Snap::of(&built));
        let cuts: Vec<usize> = (1..=data.len()).collect();
        let bytewise = run_cuts(client_decoder(), &data, &cuts);
        prop_assert_eq!(bytewise.items, whole.items);
    }

    /// However a stream of packet-like fragments is cut, the decoder reports
    /// the same frames, errors and counters, and never loops (`run_cuts`
    /// bounds the calls).
    #[test]
    fn chunking_never_changes_the_output(
        data in stream(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        limits in limits(),
        banner in prop_oneof![Just(BannerMode::Auto), Just(BannerMode::Absent)],
    ) {
        let dec = || Decoder::with_limits(limits).banner_mode(banner);
        let whole = run_whole(dec(), &data);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        cuts.push(data.len());
        cuts.sort_unstable();
        let chunked = run_cuts(dec(), &data, &cuts);
        prop_assert_eq!(&chunked.items, &whole.items);
        prop_assert_eq!(chunked.stats, whole.stats);
        check_counts(&whole);
    }

    /// Arbitrary bytes, in arbitrary reads, with arbitrary limits and banner
    /// modes: no panic, no loop, counters consistent.
    #[test]
    fn arbitrary_bytes_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..600),
        chunk in 0usize..20,
        limits in limits(),
        banner in prop_oneof![Just(BannerMode::Auto), Just(BannerMode::Absent), Just(BannerMode::Required)],
    ) {
        let dec = Decoder::with_limits(limits).banner_mode(banner);
        let r = common::run(dec, &data, chunk);
        if !r.fatal {
            check_counts(&r);
        }
    }
}

/// One line of a packet someone else wrote: what a `UserEvent` echoes
/// (anything its sender put in the action), the protocol's own keywords
/// among it.
fn foreign_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(
            prop_oneof![8 => 0x20u8..0x7f, 1 => 0x80u8..=0xff, 1 => Just(b'\r'), 1 => Just(0u8)],
            1..40,
        ),
        1 => Just(b"Response: Follows".to_vec()),
        1 => Just(b"response:follows".to_vec()),
        1 => Just(b"Response: Success".to_vec()),
        1 => Just(b"--END COMMAND--".to_vec()),
        1 => Just(b"text--END COMMAND--".to_vec()),
        1 => Just(b"hello".to_vec()),
        1 => Just(b"ActionID: sentinel".to_vec()),
        1 => Just(b"EventList: Complete".to_vec()),
        1 => Just(b"Event: UserEvent".to_vec()),
        1 => Just(b"Output: x".to_vec()),
    ]
    .prop_filter("a line, not a terminator", |l| {
        !l.is_empty() && l != b"\r" && !l.contains(&b'\n')
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_shrink_iters: 4000,
        ..ProptestConfig::default()
    })]

    /// After any packet that does not open with `Response: Follows` (the
    /// only packet a server frames with a raw body), under any limits the
    /// next packet fits, the next packet decodes: no mode a peer can put the
    /// decoder in outlives the packet that set it. A decoder for client
    /// input (no raw bodies) holds this after any packet at all.
    #[test]
    fn a_well_formed_packet_after_any_packet_decodes(
        first in prop_oneof![
            Just(b"Event: UserEvent".to_vec()),
            Just(b"Response: Success".to_vec()),
            Just(b"Action: UserEvent".to_vec()),
            foreign_line(),
        ],
        lines in prop::collection::vec((foreign_line(), any::<bool>()), 0..12),
        limits in (30usize..2000, 120usize..4000, 3usize..20).prop_map(|(l, p, h)| Limits::default()
            .max_line_len(l)
            .max_packet_len(p)
            .max_headers(h)),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        server in any::<bool>(),
    ) {
        let opens_body = {
            let line = String::from_utf8_lossy(&first).to_ascii_lowercase();
            line.split_once(':').is_some_and(|(k, v)| k == "response" && v.trim() == "follows")
        };
        prop_assume!(!server || !opens_body);
        let mut data = first.clone();
        data.extend_from_slice(b"\r\n");
        for (line, crlf) in &lines {
            data.extend_from_slice(line);
            data.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
        }
        data.extend_from_slice(b"\r\n");
        let sentinel = b"Response: Success\r\nActionID: sentinel\r\nMessage: after\r\n\r\n";
        data.extend_from_slice(sentinel);
        let dec = || {
            Decoder::with_limits(limits)
                .banner_mode(BannerMode::Absent)
                .follows_bodies(server)
        };
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        cuts.push(data.len());
        cuts.sort_unstable();
        for r in [run_whole(dec(), &data), run_cuts(dec(), &data, &cuts)] {
            let last = r.items.last().and_then(Item::packet);
            prop_assert!(
                last.is_some_and(|p| p.raw() == &sentinel[..] && p.message().is_some_and(|m| m == "after")),
                "{:?}",
                r.items
            );
        }
    }
}

proptest! {
    /// Looking a key up (`get`, `get_str`, `get_all`, `get_bytes`,
    /// `contains`) finds exactly what walking the headers and comparing
    /// keys finds, on lines someone else wrote: bare lines, colons without
    /// a space, empty keys, keys in any case.
    #[test]
    fn key_lookups_agree_with_the_header_walk(
        lines in prop::collection::vec(foreign_line(), 1..12),
        extra in prop::collection::vec("[A-Za-z:]{0,10}", 0..4),
    ) {
        let mut data = b"Event: UserEvent\r\n".to_vec();
        for line in &lines {
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b"\r\n");
        let r = run_whole(Decoder::new().banner_mode(BannerMode::Absent), &data);
        let Some(p) = r.items.first().and_then(Item::packet) else {
            // Lines that break a limit are skipped as a whole: nothing to look up.
            return Ok(());
        };
        let mut keys: Vec<String> = p.headers().map(|h| h.key_str().into_owned()).collect();
        keys.extend(keys.clone().iter().map(|k| k.to_ascii_uppercase()));
        keys.extend(extra);
        keys.push(String::new());
        for key in &keys {
            let walked: Vec<&[u8]> = p
                .headers()
                .filter(|h| h.is(key))
                .map(|h| h.value().as_bytes())
                .collect();
            let got: Vec<&[u8]> = p.get_all(key).map(|v| v.as_bytes()).collect();
            prop_assert_eq!(&got, &walked, "{:?}", key);
            prop_assert_eq!(p.get(key).map(|v| v.as_bytes()), walked.first().copied());
            let bytes = p.get_bytes(key);
            prop_assert_eq!(bytes.as_deref(), walked.first().copied());
            prop_assert_eq!(p.contains(key), !walked.is_empty());
            prop_assert_eq!(
                p.get_str(key),
                walked.first().and_then(|v| std::str::from_utf8(v).ok())
            );
        }
    }
}

/// Limits from tiny (every packet trips one) to the defaults.
fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        1 => Just(Limits::default()),
        3 => (0usize..80, 0usize..300, 0usize..8).prop_map(|(l, p, h)| Limits::default()
            .max_line_len(l)
            .max_packet_len(p)
            .max_headers(h)),
    ]
}

/// Streams made of the pieces that matter to the decoder: terminators,
/// colons, the banner, `Response: Follows`, the end marker, Latin-1.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"\r\n"[..]),
        Just(&b"\n"[..]),
        Just(&b"\r"[..]),
        Just(&b": "[..]),
        Just(&b":"[..]),
        Just(&b"Asterisk Call Manager/2.10.4\r\n"[..]),
        Just(&b"Response: Follows\r\n"[..]),
        Just(&b"Response: Success\r\n"[..]),
        Just(&b"Event: X\r\n"[..]),
        Just(&b"ActionID: a1\r\n"[..]),
        Just(&b"--END COMMAND--"[..]),
        Just(&b"Output: x\n"[..]),
        Just(&b"Key"[..]),
        Just(&b"value text "[..]),
        Just(&b"Jos\xe9"[..]),
        Just(&b"\r\n\r\n"[..]),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

/// Counters agree with what was reported.
fn check_counts(r: &Run) {
    let packets = r
        .items
        .iter()
        .filter(|i| matches!(i, Item::Packet(..)))
        .count();
    assert_eq!(r.stats.packets, packets as u64);
    for e in r.errors() {
        assert!(e.is_recoverable() || matches!(e, amiproto::DecodeError::Truncated { .. }));
    }
}

/// The decoder's own output for one frame at a time agrees with `run` (a
/// sanity check of the harness itself: a property test that cannot fail is
/// no test).
#[test]
fn harness_sees_packets() {
    let data = b"Response: Success\r\nActionID: 1\r\n\r\nEvent: E\r\n\r\n";
    let r = run_whole(client_decoder(), data);
    assert_eq!(r.packets().count(), 2);
    let mut buf = BytesMut::from(&data[..]);
    let mut dec = client_decoder();
    let Some(Frame::Packet(p)) = dec.decode(&mut buf).unwrap() else {
        panic!("a packet")
    };
    assert_eq!(r.items[0].packet(), Some(&p));
}
