//! `Action::variable` against Asterisk's reading of `Variable:` headers
//! (the test kit's model of `man_do_variable_value` and
//! `__ast_app_separate_args`, which the simulator uses for `Originate`):
//! one header sets exactly one variable, named and valued exactly as given.

use std::time::Duration;

use amiproto::{check_variable_name, encode_variable, Action, Outcome};
use amiproto_testkit::{separate_args, variables_from_header, SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig};
use proptest::prelude::*;

fn pairs(v: &[(&str, &str)]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    Some(
        v.iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
    )
}

#[test]
fn the_model_reads_what_asterisk_reads() {
    let r = |s: &str| variables_from_header(s.as_bytes());
    assert_eq!(r("A=1"), pairs(&[("A", "1")]));
    assert_eq!(r("A=1,B=2"), pairs(&[("A", "1"), ("B", "2")]));
    assert_eq!(r(r#"A="1,2",B=x"#), pairs(&[("A", "1,2"), ("B", "x")]));
    assert_eq!(r(r"A=1\,2\\3"), pairs(&[("A", r"1,2\3")]));
    assert_eq!(r("HASH(a,b)=1"), pairs(&[("HASH(a,b)", "1")]));
    assert_eq!(r("  A=x=y"), pairs(&[("A", "x=y")]));
    assert_eq!(r("noequals,=empty,B="), pairs(&[("B", "")]));
    assert_eq!(r("A=x\\"), None, "Asterisk reads past the end");
    // 64 slots: the 64th piece is the unparsed rest.
    let many: Vec<String> = (0..70).map(|i| format!("V{i}=\"{i}\"")).collect();
    let args = separate_args(many.join(",").as_bytes(), b',', 64).unwrap();
    assert_eq!(args.len(), 64);
    assert_eq!(args[62], b"V62=62");
    assert!(args[63].starts_with(b"V63=\"63\",V64="));
}

#[test]
fn a_value_never_sets_a_second_variable() {
    let a = Action::originate("Local/100@default")
        .variable("CALLERNAME", "Bob,__TRANSFER_CONTEXT=evil")
        .variable("QUOTED", r#"say "hi", then \leave"#)
        .variable("PARENS", "a(b,c)d[e,f]g")
        .variable("TRAILING", "x\\");
    let wire = a.to_bytes().unwrap();
    let read: Vec<_> = wire
        .split(|&b| b == b'\n')
        .filter_map(|l| l.strip_prefix(b"Variable: "))
        .map(|v| variables_from_header(v.strip_suffix(b"\r").unwrap()))
        .collect();
    assert_eq!(
        read,
        [
            pairs(&[("CALLERNAME", "Bob,__TRANSFER_CONTEXT=evil")]),
            pairs(&[("QUOTED", r#"say "hi", then \leave"#)]),
            pairs(&[("PARENS", "a(b,c)d[e,f]g")]),
            pairs(&[("TRAILING", "x\\")]),
        ]
    );
}

#[tokio::test]
async fn the_simulated_asterisk_sets_exactly_the_variable_given() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let config = ClientConfig::from_url(&sim.url()).unwrap();
    let (client, _events) = connect(config).await.unwrap();
    let call = client
        .originate(
            Action::originate("Local/200@ami-test")
                .header("Application", "Wait")
                .header("Data", "5")
                .variable("CALLERNAME", "Bob,__TRANSFER_CONTEXT=evil"),
        )
        .await
        .unwrap();
    assert!(call.is_success());
    let chan = call.event.get_str("Channel").unwrap().to_owned();
    let getvar = |name: &'static str| {
        let client = client.clone();
        let chan = chan.clone();
        async move {
            match client
                .send(Action::getvar(name, Some(&chan)))
                .await
                .unwrap()
            {
                Outcome::Response(p) => p.get_str("Value").unwrap_or("").to_owned(),
                other => panic!("{other:?}"),
            }
        }
    };
    assert_eq!(getvar("CALLERNAME").await, "Bob,__TRANSFER_CONTEXT=evil");
    assert_eq!(getvar("__TRANSFER_CONTEXT").await, "");
    assert_eq!(getvar("TRANSFER_CONTEXT").await, "");
    tokio::time::timeout(Duration::from_secs(10), client.logoff())
        .await
        .unwrap()
        .unwrap();
    sim.shutdown().await;
}

proptest! {
    #[test]
    fn any_value_round_trips(
        name in "[A-Za-z_][A-Za-z0-9_]{0,20}(\\([a-z]{0,5}\\))?",
        value in proptest::collection::vec(
            prop_oneof![
                4 => any::<u8>().prop_filter("no line breaks", |b| !matches!(b, b'\r' | b'\n' | 0)),
                1 => prop::sample::select(b"\\\",()[]= ".to_vec()),
            ],
            0..120,
        ),
    ) {
        let header = encode_variable(&name, &value).unwrap();
        prop_assert_eq!(
            variables_from_header(&header),
            Some(vec![(name.as_bytes().to_vec(), value.clone())])
        );
    }

    #[test]
    fn any_accepted_name_round_trips(name in "\\PC{1,20}", value in "[a-z,\\\\\"]{0,10}") {
        if check_variable_name(&name).is_ok() {
            let header = encode_variable(&name, value.as_bytes()).unwrap();
            prop_assert_eq!(
                variables_from_header(&header),
                Some(vec![(name.as_bytes().to_vec(), value.as_bytes().to_vec())])
            );
        }
    }
}
