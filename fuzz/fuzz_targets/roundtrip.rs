//! An arbitrary action: either refused with a typed error and nothing
//! written, or encoded and decoded back to exactly its lines.
#![no_main]

mod common;

use amiproto::{Action, BannerMode, Decoder};
use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn run(input: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(input);
    let name: String = u.arbitrary()?;
    let id: Option<String> = u.arbitrary()?;
    let override_id: Option<String> = if u.ratio(1, 8)? {
        Some(u.arbitrary()?)
    } else {
        None
    };
    let headers: Vec<(String, Vec<u8>)> = u.arbitrary()?;
    let mut action = Action::new(name.clone());
    for (k, v) in &headers {
        action.push_header(k.clone(), v.clone());
    }
    if let Some(id) = &id {
        action = action.action_id(id.clone());
    }

    let mut buf = BytesMut::from(&b"before"[..]);
    match action.encode(override_id.as_deref(), &mut buf) {
        Err(e) => {
            assert_eq!(&buf[..], b"before", "{e}: bytes written");
            assert_eq!(action.validate(override_id.as_deref()), Err(e));
            return Ok(());
        }
        Ok(()) => assert!(action.validate(override_id.as_deref()).is_ok()),
    }
    let wire = buf.split_off(6).freeze();
    assert!(wire.ends_with(b"\r\n\r\n"));

    // A `Response: Follows` line makes the decoder read later lines as a raw
    // body, as Asterisk's own output would be: not an action's shape.
    if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("Response"))
    {
        return Ok(());
    }
    let mut want: Vec<(Vec<u8>, Vec<u8>)> = vec![(b"Action".to_vec(), name.into_bytes())];
    if let Some(id) = override_id.or(id) {
        want.push((b"ActionID".to_vec(), id.into_bytes()));
    }
    want.extend(headers.into_iter().map(|(k, v)| (k.into_bytes(), v)));

    let mut dec = Decoder::new().banner_mode(BannerMode::Absent);
    let out = common::decode_cuts(&mut dec, &wire, &[wire.len()]);
    let [common::Out::Packet {
        raw,
        lines,
        body: None,
    }] = &out[..]
    else {
        panic!("{out:?}");
    };
    assert_eq!(&raw[..], &wire[..]);
    let got: Vec<(Vec<u8>, Vec<u8>)> = lines
        .iter()
        .map(|(k, v, bare)| {
            assert!(!bare);
            (k.clone(), v.clone())
        })
        .collect();
    assert_eq!(got, want);
    Ok(())
}

fuzz_target!(|input: &[u8]| {
    let _ = run(input);
});
