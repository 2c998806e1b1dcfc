//! `Connection::handle_read` (bytes read straight into the connection's
//! buffer) behaves exactly as `handle_input` (bytes copied in).

mod conn_support;

use std::time::Instant;

use amiproto::{AuthMethod, CloseReason, Config, Connection, ConnectionError, Event, State};
use conn_support::capture;

fn config() -> Config {
    Config::new("admin", "amp111").auth(AuthMethod::Plain)
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

#[test]
fn the_flood_read_in_place_gives_the_same_events_at_every_chunking() {
    let (server, _) = capture(conn_support::A22, "13-event-flood");
    let now = Instant::now();
    let mut copied = Connection::new(config(), now);
    copied.handle_input(now, &server);
    let want = events(&mut copied);
    assert!(want.len() > 1000, "{} events", want.len());
    for chunk in [1, 7, 1500, 65536, usize::MAX] {
        let mut conn = Connection::new(config(), now);
        let mut got = Vec::new();
        for piece in server.chunks(chunk.min(server.len())) {
            let n = conn.handle_read(now, 4096, |buf| {
                assert!(buf.capacity() - buf.len() >= 4096, "room promised");
                buf.extend_from_slice(piece);
                piece.len()
            });
            assert_eq!(n, piece.len());
            got.extend(events(&mut conn));
        }
        assert_eq!(got, want, "chunk {chunk}");
    }
}

#[test]
fn nothing_read_changes_nothing_and_a_closed_connection_drops_what_is_read() {
    let now = Instant::now();
    let mut conn = Connection::new(config(), now);
    conn.handle_read(now, 16, |_| ());
    assert!(conn.poll_event().is_none());
    conn.handle_read(now, 16, |buf| {
        buf.extend_from_slice(b"Asterisk Call Manager/11.0.0\r\n")
    });
    assert!(matches!(conn.poll_event(), Some(Event::Banner(_))));
    conn.abort(ConnectionError::Aborted);
    let _ = events(&mut conn);
    conn.handle_read(now, 16, |buf| buf.extend_from_slice(b"Event: Late\r\n\r\n"));
    assert!(conn.poll_event().is_none());
    assert_eq!(conn.state(), State::Closed);
}

#[test]
fn a_reader_that_shortens_the_buffer_closes_the_connection() {
    let now = Instant::now();
    let mut conn = Connection::new(config(), now);
    conn.handle_read(now, 16, |buf| buf.extend_from_slice(b"Asterisk Call"));
    conn.handle_read(now, 16, |buf| buf.truncate(3));
    assert_eq!(conn.state(), State::Closed);
    assert!(matches!(
        conn.close_reason(),
        Some(CloseReason::Error(ConnectionError::Transport(_)))
    ));
}
