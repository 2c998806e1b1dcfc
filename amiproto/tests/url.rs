//! `ami://` / `amis://` URLs: every parameter honoured or refused, and errors
//! that name the part and byte position without ever quoting the secret.

use std::time::Duration;

use amiproto::{AuthMethod, Config, EventMask, UrlError, UrlPart, UrlProblem};

fn err(url: &str) -> UrlError {
    match Config::from_url(url) {
        Ok((e, _)) => panic!("{url} accepted as {e:?}"),
        Err(e) => e,
    }
}

/// The error's part, position and problem; and its text quotes neither the
/// secret nor the URL.
fn refused(url: &str, secret: &str) -> (UrlPart, usize, UrlProblem) {
    let e = err(url);
    let text = e.to_string();
    assert!(!text.contains(url), "{text}");
    if !secret.is_empty() {
        assert!(!text.contains(secret), "secret in {text:?}");
        assert!(!format!("{e:?}").contains(secret), "secret in {e:?}");
    }
    assert!(text.contains(&format!("byte {}", e.position())), "{text}");
    assert!(
        text.contains(&e.part().to_string()),
        "{text} does not name the {}",
        e.part()
    );
    (e.part(), e.position(), e.problem().clone())
}

/// Checks written against the API as it was before URL errors were typed:
/// TLS is honoured, and no error text quotes the secret or the URL.
#[test]
fn tls_is_honoured_and_errors_never_quote_the_secret() {
    let (e, _) = Config::from_url("ami://admin:secret@pbx?tls=true").unwrap();
    assert!(
        e.tls,
        "tls=true ignored: the secret would go out in plaintext"
    );
    assert_eq!(e.port, 5039);
    assert!(Config::from_url("amis://admin:secret@pbx?tls=false").is_err());
    for (url, secret) in [
        ("ami://admin:50%off@pbx", "50%off"),
        ("admin:hunter2@pbx", "hunter2"),
        ("ami:/admin:hunter2@pbx", "hunter2"),
        ("ami://admin:hunter2@pbx?timeout=hunter2", "hunter2"),
    ] {
        let text = Config::from_url(url).unwrap_err().to_string();
        assert!(!text.contains(secret), "{url}: {text}");
        assert!(!text.contains(url), "{url}: {text}");
    }
}

#[test]
fn tls_true_turns_tls_on_with_its_default_port() {
    for q in ["tls=true", "tls=yes", "tls=1", "tls=on", "tls=TRUE"] {
        let (e, _) = Config::from_url(&format!("ami://admin:secret@pbx?{q}")).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("pbx", 5039, true), "{q}");
    }
    // An explicit port stays.
    let (e, _) = Config::from_url("ami://admin:secret@pbx:6000?tls=true").unwrap();
    assert_eq!((e.port, e.tls), (6000, true));
    // Redundant with amis://, or false with ami://: fine.
    let (e, _) = Config::from_url("amis://admin:secret@pbx?tls=true").unwrap();
    assert_eq!((e.port, e.tls), (5039, true));
    let (e, _) = Config::from_url("ami://admin:secret@pbx?tls=false").unwrap();
    assert_eq!((e.port, e.tls), (5038, false));
}

#[test]
fn contradicting_or_bad_tls_is_an_error() {
    assert_eq!(
        refused("amis://admin:secret@pbx?tls=false", "secret"),
        (UrlPart::Query, 24, UrlProblem::Contradiction("tls"))
    );
    assert_eq!(
        refused("ami://admin:secret@pbx?tls=maybe", "secret"),
        (UrlPart::Query, 27, UrlProblem::BadValue("tls"))
    );
    assert_eq!(
        refused("ami://admin:secret@pbx?tls=true&tls=false", "secret"),
        (UrlPart::Query, 32, UrlProblem::Repeated("tls"))
    );
}

#[test]
fn unknown_parameters_are_errors() {
    assert_eq!(
        refused("ami://admin:secret@pbx?events=off&bogus=1", "secret"),
        (
            UrlPart::Query,
            34,
            UrlProblem::UnknownParam(Some("bogus".into()))
        )
    );
    // A misspelt tls is not silently plaintext.
    assert!(matches!(
        refused("ami://admin:secret@pbx?ssl=true", "secret").2,
        UrlProblem::UnknownParam(_)
    ));
    // A "name" that could be anything (here: the secret pasted in the
    // wrong place) is not quoted back.
    assert_eq!(
        refused("ami://admin:x@pbx?hunter2!", "hunter2").2,
        UrlProblem::UnknownParam(None)
    );
    for bad in [
        "events=",
        "events=%0d%0aAction:%20Hangup",
        "auth=none",
        "timeout=soon",
        "timeout=99999999999999999999999",
        "keepalive=-1",
        "prefix=",
        "prefix=a%20b",
        "prefix=0123456789012345678901234567890123",
    ] {
        let name = bad.split('=').next().unwrap();
        let (part, _, problem) = refused(&format!("ami://admin:secret@pbx?{bad}"), "secret");
        assert_eq!(part, UrlPart::Query, "{bad}");
        assert!(
            matches!(problem, UrlProblem::BadValue(n) if n == name),
            "{bad}: {problem:?}"
        );
    }
}

#[test]
fn every_parameter_is_honoured() {
    let (e, c) = Config::from_url(
        "amis://u:p@[::1]/?timeout=500ms&keepalive=30s&auth=plain&prefix=x-&events=system,call",
    )
    .unwrap();
    assert_eq!((e.host.as_str(), e.port, e.tls), ("::1", 5039, true));
    assert_eq!(c.action_timeout, Some(Duration::from_millis(500)));
    assert_eq!(c.keepalive.unwrap().interval, Duration::from_secs(30));
    assert_eq!(c.auth, AuthMethod::Plain);
    assert_eq!(c.action_id_prefix, "x-");
    assert_eq!(
        c.events,
        EventMask::Classes(vec!["system".into(), "call".into()])
    );
    let (e, c) = Config::from_url("ami://u@h?timeout=0&events=off&").unwrap();
    assert_eq!((e.host.as_str(), e.port), ("h", 5038));
    assert_eq!(c.action_timeout, None);
    assert_eq!(c.events, EventMask::Off);
    assert_eq!(c.secret.expose(), "");
    let (_, c) = Config::from_url("AMI://u:a%2Fb%3Fc%25@h:1").unwrap();
    assert_eq!(c.secret.expose(), "a/b?c%");
    // An unescaped @ in the secret: the last @ ends the user info.
    let (e, c) = Config::from_url("ami://u:p@ss@h").unwrap();
    assert_eq!((e.host.as_str(), c.secret.expose()), ("h", "p@ss"));
}

#[test]
fn a_bad_escape_in_the_secret_is_located_not_quoted() {
    assert_eq!(
        refused("ami://admin:50%off@pbx", "50%off"),
        (UrlPart::Secret, 14, UrlProblem::BadEscape)
    );
    let e = err("ami://admin:50%off@pbx");
    assert!(!e.to_string().contains("off"), "{e}");
    assert_eq!(
        refused("ami://admin:ok%ff@pbx", "ok%ff"),
        (UrlPart::Secret, 12, UrlProblem::NotUtf8)
    );
    assert_eq!(
        refused("ami://ad%min:s3cr3t@pbx", "s3cr3t"),
        (UrlPart::User, 8, UrlProblem::BadEscape)
    );
    assert_eq!(
        refused("ami://u:s3cr3t@pbx?prefix=%zz", "s3cr3t"),
        (UrlPart::Query, 26, UrlProblem::BadEscape)
    );
}

#[test]
fn structural_errors_are_located_not_quoted() {
    let cases: &[(&str, &str, (UrlPart, usize, UrlProblem))] = &[
        // Missing `://`: the URL is never echoed whole.
        (
            "admin:hunter2@pbx",
            "hunter2",
            (UrlPart::Scheme, 0, UrlProblem::MissingSeparator),
        ),
        (
            "ami:/admin:hunter2@pbx",
            "hunter2",
            (UrlPart::Scheme, 0, UrlProblem::MissingSeparator),
        ),
        (
            "http://admin:hunter2@pbx",
            "hunter2",
            (UrlPart::Scheme, 0, UrlProblem::UnsupportedScheme),
        ),
        (
            "hunter2://pbx",
            "hunter2",
            (UrlPart::Scheme, 0, UrlProblem::UnsupportedScheme),
        ),
        (
            "ami://pbx:5038",
            "",
            (UrlPart::User, 6, UrlProblem::Missing),
        ),
        (
            "ami://:hunter2@pbx",
            "hunter2",
            (UrlPart::User, 6, UrlProblem::Missing),
        ),
        // A `?` in an unescaped secret cuts it: reported, not quoted.
        (
            "ami://admin:hunt?er2@pbx",
            "hunt?er2",
            (UrlPart::User, 6, UrlProblem::Missing),
        ),
        (
            "ami://admin:hunter2@",
            "hunter2",
            (UrlPart::Host, 20, UrlProblem::Missing),
        ),
        (
            "ami://admin:hunter2@:5038",
            "hunter2",
            (UrlPart::Host, 20, UrlProblem::Missing),
        ),
        (
            "ami://admin:hunter2@[::1",
            "hunter2",
            (UrlPart::Host, 20, UrlProblem::UnclosedBracket),
        ),
        (
            "ami://admin:hunter2@[::1]5038",
            "hunter2",
            (UrlPart::Port, 25, UrlProblem::BadPort),
        ),
        (
            "ami://admin:hunter2@pb x",
            "hunter2",
            (UrlPart::Host, 22, UrlProblem::BadHost),
        ),
        (
            "ami://admin:hunter2@pbx:99999",
            "hunter2",
            (UrlPart::Port, 24, UrlProblem::BadPort),
        ),
        (
            "ami://admin:hunter2@pbx:0",
            "hunter2",
            (UrlPart::Port, 24, UrlProblem::BadPort),
        ),
        (
            "ami://admin:hunter2@pbx:+80",
            "hunter2",
            (UrlPart::Port, 24, UrlProblem::BadPort),
        ),
        (
            "ami://admin:hunter2@pbx:",
            "hunter2",
            (UrlPart::Port, 24, UrlProblem::BadPort),
        ),
        (
            "ami://admin:hunter2@pbx:5038/manager",
            "hunter2",
            (UrlPart::Path, 28, UrlProblem::UnexpectedPath),
        ),
    ];
    for (url, secret, want) in cases {
        assert_eq!(&refused(url, secret), want, "{url}");
    }
}
