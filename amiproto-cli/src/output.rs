//! Printing packets: AMI's own `Key: Value` text, or one JSON object per line.

use std::io::{self, Write};

use amiproto::serde::PacketMap;
use amiproto::{CommandOutput, Packet, Value};
use serde::Serialize;

/// Where and how packets are printed (stdout).
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    json: bool,
}

/// `command --json`: the response and the output lines.
#[derive(Serialize)]
struct CommandJson<'a> {
    response: PacketMap<'a>,
    output: Vec<String>,
}

impl Printer {
    /// JSON lines when `json`, text otherwise.
    pub fn new(json: bool) -> Printer {
        Printer { json }
    }

    /// Whether packets are printed as JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// One packet: a JSON line (keys in wire order, a repeated key's values
    /// as an array), or its header lines and a blank line (with a raw
    /// `Response: Follows` body after the headers).
    pub fn packet(&self, p: &Packet) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if self.json {
            serde_json::to_writer(&mut out, &PacketMap(p))?;
            writeln!(out)?;
        } else {
            for h in p.headers() {
                writeln!(out, "{}: {}", h.key_str(), h.value().decode_text())?;
            }
            if let Some(body) = p.body() {
                out.write_all(body)?;
                if !body.ends_with(b"\n") {
                    writeln!(out)?;
                }
            }
            writeln!(out)?;
        }
        out.flush()
    }

    /// A CLI command's output: its text, or one JSON line with the response
    /// and the output lines.
    pub fn command(&self, c: &CommandOutput) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if self.json {
            let json = CommandJson {
                response: PacketMap(&c.response),
                output: c
                    .lines
                    .iter()
                    .map(|l| Value::new(l).decode_text().into_owned())
                    .collect(),
            };
            serde_json::to_writer(&mut out, &json)?;
            writeln!(out)?;
        } else {
            let text = c.text();
            write!(out, "{text}")?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
        }
        out.flush()
    }

    /// A line of plain text (not printed in JSON mode, where stdout holds
    /// only JSON).
    pub fn note(&self, line: &str) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_order_and_groups_repeats() {
        let p = Packet::builder()
            .header("Response", "Success")
            .header("Output", "a")
            .header("ActionID", "1")
            .header("Output", "b")
            .build()
            .unwrap();
        let json = serde_json::to_string(&PacketMap(&p)).unwrap();
        assert_eq!(
            json,
            r#"{"Response":"Success","Output":["a","b"],"ActionID":"1"}"#
        );
    }
}
