//! Newline-delimited framing for stdio, with a maximum message size.
//!
//! An oversized line is reported once and then discarded up to the next newline without being buffered (as
//! rmcp's codec does), so one bad line costs neither memory nor the rest of the stream.

use std::io::{self, BufRead};

/// One item read off the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line without its `\n` (and without a trailing `\r`).
    Message(Vec<u8>),
    /// A line longer than the limit; `seen` bytes were read (at least the limit + 1) and dropped.
    Oversized { seen: usize },
}

pub struct LineReader<R> {
    inner: R,
    max_len: usize,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, max_len: usize) -> Self {
        LineReader { inner, max_len }
    }

    /// The next non-blank line, or `None` at end of input. A final line without `\n` still counts.
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        loop {
            match self.read_one()? {
                None => return Ok(None),
                Some(Line::Message(m)) if m.iter().all(u8::is_ascii_whitespace) => continue,
                Some(line) => return Ok(Some(line)),
            }
        }
    }

    fn read_one(&mut self) -> io::Result<Option<Line>> {
        let mut line = Vec::new();
        let mut discarding = false;
        let mut seen = 0usize;
        loop {
            let (done, used) = {
                let buf = match self.inner.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if buf.is_empty() {
                    // End of input.
                    if seen == 0 {
                        return Ok(None);
                    }
                    (true, 0)
                } else {
                    let (chunk, done) = match memchr_newline(buf) {
                        Some(i) => (&buf[..i], Some(i + 1)),
                        None => (buf, None),
                    };
                    seen += chunk.len();
                    if !discarding {
                        // `\r` is stripped later, so allow one byte of slack for it.
                        if line.len() + chunk.len() > self.max_len + 1 {
                            discarding = true;
                            line = Vec::new();
                        } else {
                            line.extend_from_slice(chunk);
                        }
                    }
                    match done {
                        Some(used) => (true, used),
                        None => (false, buf.len()),
                    }
                }
            };
            self.inner.consume(used);
            if done {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if discarding || line.len() > self.max_len {
                    return Ok(Some(Line::Oversized { seen }));
                }
                return Ok(Some(Line::Message(line)));
            }
        }
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn lines(input: &[u8], max: usize, cap: usize) -> Vec<Line> {
        let mut r = LineReader::new(BufReader::with_capacity(cap, input), max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap_or(None) {
            out.push(l);
        }
        out
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        let got = lines(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}", 100, 4);
        assert_eq!(
            got,
            vec![
                Line::Message(b"{\"a\":1}".to_vec()),
                Line::Message(b"{\"b\":2}".to_vec()),
                Line::Message(b"{\"c\":3}".to_vec()),
            ]
        );
    }

    #[test]
    fn oversized_line_is_discarded_and_reading_continues() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nok\n");
        for cap in [3, 8, 64, 1024] {
            let got = lines(&input, 10, cap);
            assert_eq!(got.len(), 2, "cap {cap}");
            assert!(matches!(got[0], Line::Oversized { seen: 50 }), "cap {cap}: {:?}", got[0]);
            assert_eq!(got[1], Line::Message(b"ok".to_vec()));
        }
    }

    #[test]
    fn limit_is_inclusive_and_cr_does_not_count() {
        assert_eq!(lines(b"0123456789\r\n", 10, 4), vec![Line::Message(b"0123456789".to_vec())]);
        assert!(matches!(lines(b"0123456789a\n", 10, 4)[0], Line::Oversized { .. }));
    }

    #[test]
    fn empty_input() {
        assert!(lines(b"", 10, 4).is_empty());
    }
}
