//! The same stream whole and cut into fuzz-chosen chunks: identical frames,
//! errors and counters.
#![no_main]

mod common;

use amiproto::Decoder;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn run(input: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(input);
    let limits = common::limits(&mut u)?;
    // Required mode reports a rejected greeting as soon as it differs from a
    // banner, so its bytes depend on the cuts; the other modes do not.
    let mode = common::banner_mode(&mut u, false)?;
    let sizes: Vec<u8> = u.arbitrary()?;
    let data = u.take_rest();
    let mut cuts = Vec::new();
    let mut at = 0;
    for s in sizes {
        at += usize::from(s);
        if at >= data.len() {
            break;
        }
        cuts.push(at);
    }
    cuts.push(data.len());

    let mut whole_dec = Decoder::with_limits(limits).banner_mode(mode);
    let whole = common::decode_cuts(&mut whole_dec, data, &[data.len()]);
    let mut chunked_dec = Decoder::with_limits(limits).banner_mode(mode);
    let chunked = common::decode_cuts(&mut chunked_dec, data, &cuts);
    assert_eq!(whole, chunked, "cuts {cuts:?}");
    assert_eq!(whole_dec.stats(), chunked_dec.stats());
    common::check_stats(whole_dec.stats(), &whole);
    Ok(())
}

fuzz_target!(|input: &[u8]| {
    let _ = run(input);
});
