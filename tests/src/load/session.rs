//! One connection of the load server: banner, login, then the flood or the
//! answers.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Instant;

use super::answers::{answer, After, BANNER};
use super::requests::{Request, RequestReader};
use super::{ConnReport, Corpus, LoadConfig, LoadMode, END_MARKER};

/// Serve one connection to its end and say what was sent.
pub(crate) fn run(stream: TcpStream, conn: u64, config: &LoadConfig) -> ConnReport {
    let mut report = ConnReport {
        conn,
        mode: match config.mode {
            LoadMode::Events { .. } => "events",
            LoadMode::Ping => "ping",
        },
        events: 0,
        bytes: 0,
        actions: 0,
        seconds: 0.0,
        error: None,
    };
    if let Err(e) = serve(stream, config, &mut report) {
        report.error = Some(e.to_string());
    }
    report
}

fn serve(mut stream: TcpStream, config: &LoadConfig, report: &mut ConnReport) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.write_all(BANNER)?;
    let mut session = Answering {
        reader: RequestReader::new(),
        out: Vec::with_capacity(64 << 10),
        logged_in: false,
        actions: 0,
    };
    // Login (plain or after a Challenge), answered on this thread.
    let logged_in = session.answer_until(&mut stream, true)?;
    if !logged_in {
        report.actions = session.actions;
        return Ok(());
    }
    let t0 = Instant::now();
    match &config.mode {
        LoadMode::Ping => {
            session.answer_until(&mut stream, false)?;
            report.actions = session.actions;
        }
        LoadMode::Events { corpus, events } => {
            // Actions sent during the flood (a keepalive, a Logoff) are
            // answered by a second thread, between whole write blocks.
            let writer = Arc::new(Mutex::new(stream.try_clone()?));
            let mut read_half = stream;
            let w = Arc::clone(&writer);
            let answering = thread::spawn(move || {
                let mut shared = SharedWriter(&w);
                let _ = session.answer_until_with(&mut read_half, &mut shared, false);
                session.actions
            });
            let flooded = flood(&writer, corpus, *events, config.write_chunk);
            report.seconds = t0.elapsed().as_secs_f64();
            if let Ok(bytes) = &flooded {
                report.events = *events;
                report.bytes = *bytes;
            }
            // Keep the connection until the client closes it.
            report.actions = answering.join().unwrap_or(0);
            flooded?;
            return Ok(());
        }
    }
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(())
}

/// Writes through the lock shared with the flood.
struct SharedWriter<'a>(&'a Mutex<TcpStream>);

impl Write for SharedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Write `events` events of `corpus` in turn, in blocks of whole packets of
/// about `chunk` bytes, then the end marker. Returns the bytes written.
fn flood(writer: &Mutex<TcpStream>, corpus: &Corpus, events: u64, chunk: usize) -> io::Result<u64> {
    let copies = events / corpus.events();
    let rest = events % corpus.events();
    let copies_per_block = ((chunk / corpus.bytes().len()) as u64).clamp(1, copies.max(1));
    let mut block = Vec::with_capacity(corpus.bytes().len() * copies_per_block as usize);
    for _ in 0..copies_per_block {
        block.extend_from_slice(corpus.bytes());
    }
    let mut bytes = 0u64;
    let mut left = copies;
    let write = |b: &[u8]| {
        writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(b)
    };
    while left >= copies_per_block {
        write(&block)?;
        bytes += block.len() as u64;
        left -= copies_per_block;
    }
    block.clear();
    for _ in 0..left {
        block.extend_from_slice(corpus.bytes());
    }
    block.extend_from_slice(corpus.prefix(rest));
    block.extend_from_slice(END_MARKER);
    write(&block)?;
    Ok(bytes + block.len() as u64)
}

/// Reads actions and answers them, pipelined: every action of one read is
/// answered in one write.
struct Answering {
    reader: RequestReader,
    out: Vec<u8>,
    logged_in: bool,
    actions: u64,
}

impl Answering {
    /// Answer on `stream` until the login (`until_login`) or the end of the
    /// connection. Returns whether the client is logged in.
    fn answer_until(&mut self, stream: &mut TcpStream, until_login: bool) -> io::Result<bool> {
        let mut writer = stream.try_clone()?;
        self.answer_until_with(stream, &mut writer, until_login)
    }

    fn answer_until_with(
        &mut self,
        input: &mut TcpStream,
        output: &mut impl Write,
        until_login: bool,
    ) -> io::Result<bool> {
        loop {
            let mut close = false;
            let mut stop = false;
            while let Some(p) = self.reader.next_packet() {
                let req = Request::parse(&self.reader.bytes()[p]);
                self.actions += 1;
                match answer(&req, self.logged_in, &mut self.out) {
                    After::Continue => {}
                    After::LoggedIn => {
                        self.logged_in = true;
                        if until_login {
                            stop = true;
                            break;
                        }
                    }
                    After::Close => {
                        close = true;
                        break;
                    }
                }
            }
            if !self.out.is_empty() {
                output.write_all(&self.out)?;
                self.out.clear();
            }
            if close {
                let _ = input.shutdown(Shutdown::Both);
                return Ok(self.logged_in);
            }
            if stop {
                return Ok(true);
            }
            if self.reader.fill(input)? == 0 {
                return Ok(self.logged_in);
            }
        }
    }
}
