//! Raw bytes into the decoder, whole: no panic, no loop, invariants hold.
//! Then the same bytes as a client's input (no raw bodies), followed by a
//! blank line and a well-formed packet: that packet must come out last,
//! whatever came before it (no mode outlives its packet).
#![no_main]

mod common;

use amiproto::{BannerMode, Decoder, Limits};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

const SENTINEL: &[u8] = b"Response: Success\r\nActionID: sentinel\r\nMessage: after\r\n\r\n";

fuzz_target!(|input: &[u8]| {
    // The first bytes pick limits and banner mode; the rest is the stream.
    let split = input.len().min(8);
    let mut u = Unstructured::new(&input[..split]);
    let limits = common::limits(&mut u).unwrap_or_default();
    let mode = common::banner_mode(&mut u, true).unwrap_or_default();
    let data = &input[split..];
    let mut dec = Decoder::with_limits(limits).banner_mode(mode);
    let out = common::decode_cuts(&mut dec, data, &[data.len()]);
    common::check_stats(dec.stats(), &out);

    // Limits the sentinel fits in.
    let limits = Limits::default()
        .max_line_len(limits.max_line_len.max(40))
        .max_packet_len(limits.max_packet_len.max(80))
        .max_headers(limits.max_headers.max(3));
    let stream = [data, b"\r\n\r\n", SENTINEL].concat();
    let mut dec = Decoder::with_limits(limits)
        .banner_mode(BannerMode::Absent)
        .follows_bodies(false);
    let out = common::decode_cuts(&mut dec, &stream, &[stream.len()]);
    match out.last() {
        Some(common::Out::Packet { raw, .. }) if raw == SENTINEL => {}
        other => panic!("the packet after the input was lost: {other:?}"),
    }
});
