//! The `serde` feature: packets into user structs, packets out as lists and
//! maps. Run with `cargo test -p amiproto --features serde`.
#![cfg(feature = "serde")]

use std::collections::{BTreeMap, HashMap};

use amiproto::serde::{from_packet, Error, PacketMap};
use amiproto::{BannerMode, Decoder, Frame, Packet};
use bytes::BytesMut;
use serde::Deserialize;

/// A packet as the decoder produces it from wire bytes.
fn decode(wire: &[u8]) -> Packet {
    let mut dec = Decoder::new().banner_mode(BannerMode::Absent);
    let mut buf = BytesMut::from(wire);
    match dec.decode(&mut buf) {
        Ok(Some(Frame::Packet(p))) => p,
        other => panic!("{other:?}"),
    }
}

const NEWCHANNEL: &[u8] = b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/100-0000002a\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: 100\r\nCallerIDName: Jos\xe9\r\nConnectedLineNum: <unknown>\r\nAccountCode: \r\nExten: 200\r\nPriority: 1\r\nUniqueid: 1700000000.42\r\nLinkedid: 1700000000.42\r\nChanVariable(PJSIP/100-0000002a): a=b\r\nChanVariable(PJSIP/100-0000002a): c=d\r\n\r\n";

#[derive(Debug, Deserialize, PartialEq)]
struct Newchannel<'a> {
    event: &'a str,
    channel: &'a str,
    channel_state: u8,
    #[serde(rename = "channelstatedesc")]
    desc: State,
    caller_id_num: u32,
    caller_id_name: String,
    account_code: Option<String>,
    exten: String,
    priority: i64,
    uniqueid: f64,
    missing: Option<u32>,
    #[serde(default)]
    absent_list: Vec<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
enum State {
    Down,
    Ring,
    Up,
}

#[test]
fn struct_fields_match_case_insensitively_and_parse() {
    let p = decode(NEWCHANNEL);
    let n: Newchannel = from_packet(&p).unwrap();
    assert_eq!(
        n,
        Newchannel {
            event: "Newchannel",
            channel: "PJSIP/100-0000002a",
            channel_state: 4,
            desc: State::Ring,
            caller_id_num: 100,
            caller_id_name: "Jos\u{e9}".to_string(),
            account_code: None, // `AccountCode: ` is empty
            exten: "200".into(),
            priority: 1,
            uniqueid: 1_700_000_000.42,
            missing: None,
            absent_list: vec![],
        }
    );
}

#[test]
fn repeated_keys_into_vec_and_first_value_for_scalars() {
    #[derive(Deserialize)]
    struct Out {
        output: Vec<String>,
        #[serde(rename = "Output")]
        first: Option<String>,
    }
    let p = Packet::builder()
        .header("Response", "Success")
        .header("Output", "one")
        .header("OUTPUT", "two")
        .header("output", "")
        .build()
        .unwrap();
    // Two fields reading the same key both see it.
    let o: Out = from_packet(&p).unwrap();
    assert_eq!(o.output, ["one", "two", ""]);
    assert_eq!(o.first.as_deref(), Some("one"));

    #[derive(Deserialize)]
    struct Vars {
        #[serde(rename = "ChanVariable(PJSIP/100-0000002a)")]
        vars: Vec<String>,
    }
    let v: Vars = from_packet(&decode(NEWCHANNEL)).unwrap();
    assert_eq!(v.vars, ["a=b", "c=d"]);
}

#[test]
fn booleans_take_asterisk_spellings() {
    #[derive(Deserialize)]
    struct B {
        a: bool,
        b: bool,
        c: bool,
        d: bool,
        e: Option<bool>,
    }
    let p = Packet::builder()
        .header("A", "Yes")
        .header("B", "off")
        .header("C", " 1 ")
        .header("D", "False")
        .build()
        .unwrap();
    let b: B = from_packet(&p).unwrap();
    assert!(b.a && !b.b && b.c && !b.d && b.e.is_none());
    let p = Packet::builder().header("A", "maybe").build().unwrap();
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct A {
        a: bool,
    }
    assert_eq!(
        from_packet::<A>(&p).unwrap_err(),
        Error::InvalidValue {
            key: "A".into(),
            value: "maybe".into(),
            expected: "a boolean"
        }
    );
}

#[test]
fn bad_values_and_missing_fields_are_typed_errors() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct N {
        count: u8,
    }
    let p = Packet::builder().header("Count", "300").build().unwrap();
    let e = from_packet::<N>(&p).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidValue { key, expected: "a u8", .. } if key == "Count"),
        "{e}"
    );
    let p = Packet::builder().header("Other", "1").build().unwrap();
    let e = from_packet::<N>(&p).unwrap_err();
    assert_eq!(e, Error::Custom("missing field `count`".into()));
    // A bare line never matches a field.
    let p = decode(b"Response: Success\r\ncount\r\n\r\n");
    assert!(from_packet::<N>(&p).is_err());
}

#[test]
fn bytes_and_borrowing() {
    #[derive(Deserialize)]
    struct R<'a> {
        #[serde(borrow, with = "serde_bytes_like")]
        caller_id_name: &'a [u8],
        #[serde(borrow)]
        channel: &'a str,
    }
    mod serde_bytes_like {
        pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'de [u8], D::Error> {
            <&[u8] as serde::Deserialize>::deserialize(d)
        }
    }
    let p = decode(NEWCHANNEL);
    let r: R = from_packet(&p).unwrap();
    assert_eq!(r.caller_id_name, b"Jos\xe9");
    // Borrowed from the packet's own bytes, not copied.
    let raw = p.raw().as_ptr_range();
    assert!(raw.contains(&r.channel.as_ptr()));
}

#[test]
fn maps_sequences_and_flatten() {
    let p = decode(NEWCHANNEL);
    let m: HashMap<String, String> = from_packet(&p).unwrap();
    assert_eq!(m["Channel"], "PJSIP/100-0000002a");
    assert_eq!(m["ChanVariable(PJSIP/100-0000002a)"], "a=b");
    assert_eq!(m.len(), 14);
    let m: BTreeMap<String, Vec<String>> = from_packet(&p).unwrap();
    assert_eq!(m["ChanVariable(PJSIP/100-0000002a)"], ["a=b", "c=d"]);
    assert_eq!(m["Exten"], ["200"]);

    let pairs: Vec<(String, String)> = from_packet(&p).unwrap();
    assert_eq!(pairs.len(), p.len());
    assert_eq!(pairs[1], ("Privilege".to_string(), "call,all".to_string()));

    // Under flatten, serde matches the other fields exactly (documented).
    #[derive(Deserialize)]
    struct Known {
        #[serde(rename = "Event")]
        event: String,
        // Repeated keys reach a flattened map as lists.
        #[serde(flatten)]
        rest: HashMap<String, serde_json::Value>,
    }
    let k: Known = from_packet(&p).unwrap();
    assert_eq!(k.event, "Newchannel");
    assert_eq!(k.rest["Exten"], "200");
    assert_eq!(
        k.rest["ChanVariable(PJSIP/100-0000002a)"],
        serde_json::json!(["a=b", "c=d"])
    );
    assert!(!k.rest.contains_key("Event"));
}

#[test]
fn any_target_sees_strings_and_lists() {
    let p = Packet::builder()
        .header("Event", "X")
        .header("Variable", "a=1")
        .header("Variable", "b=2")
        .build()
        .unwrap();
    let v: serde_json::Value = from_packet(&p).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"Event": "X", "Variable": ["a=1", "b=2"]})
    );
}

#[test]
fn serialize_as_list_and_as_map() {
    let p = decode(b"Response: Success\r\nActionID: 7\r\nOutput: one\r\noutput: two\r\nbare line\r\nName: Jos\xe9\r\n\r\n");
    let list = serde_json::to_value(&p).unwrap();
    assert_eq!(
        list,
        serde_json::json!([
            ["Response", "Success"],
            ["ActionID", "7"],
            ["Output", "one"],
            ["output", "two"],
            ["", "bare line"],
            ["Name", "Jos\u{e9}"],
        ])
    );
    // The list form is lossless for text: it rebuilds the same packet.
    let pairs: Vec<(String, String)> = serde_json::from_value(list).unwrap();
    let mut b = Packet::builder();
    for (k, v) in pairs.iter().filter(|(k, _)| !k.is_empty()) {
        b = b.header(k, v);
    }
    let rebuilt = b.build().unwrap();
    assert_eq!(rebuilt.get_all("output").count(), 2);
    assert_eq!(rebuilt.get_str("actionid"), Some("7"));

    let map = serde_json::to_string(&PacketMap(&p)).unwrap();
    assert_eq!(
        map,
        r#"{"Response":"Success","ActionID":"7","Output":["one","two"],"":"bare line","Name":"José"}"#
    );
}
