//! Raw bytes into the decoder, whole: no panic, no loop, invariants hold.
#![no_main]

mod common;

use amiproto::Decoder;
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

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
});
