//! A sans-IO parser of `text/event-stream` bodies: feed it bytes as they arrive (split
//! anywhere, even inside a line or a UTF-8 character), take out the `data` of each
//! complete event. Comments (`: keep-alive`) and other fields are skipped.

/// Incremental server-sent-events parser.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    data: Option<String>,
    ready: std::collections::VecDeque<String>,
}

/// Longest line accepted; a longer one means the peer is not speaking SSE.
pub const MAX_LINE: usize = 1 << 20;

/// The body is not an event stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event stream line longer than {MAX_LINE} bytes")]
pub struct LineTooLong;

impl SseParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; complete events become available from [`Self::next_event`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), LineTooLong> {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let mut line = &self.buf[start..end];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            let line = String::from_utf8_lossy(line).into_owned();
            self.handle_line(&line);
            start = end + 1;
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE {
            return Err(LineTooLong);
        }
        Ok(())
    }

    /// Ends the input: an event not closed by a blank line is still delivered.
    pub fn finish(&mut self) {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let line = String::from_utf8_lossy(&rest).into_owned();
            self.handle_line(line.trim_end_matches('\r'));
        }
        self.dispatch();
    }

    /// The data of the next complete event, if any.
    pub fn next_event(&mut self) -> Option<String> {
        self.ready.pop_front()
    }

    fn handle_line(&mut self, line: &str) {
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            }
        }
    }

    fn dispatch(&mut self) {
        if let Some(d) = self.data.take() {
            self.ready.push_back(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: &mut SseParser) -> Vec<String> {
        std::iter::from_fn(|| p.next_event()).collect()
    }

    #[test]
    fn events_split_anywhere_give_the_same_result() {
        let body = ": keep-alive\n\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: é1\ndata: 2\n\ndata: [DONE]\n\n";
        let bytes = body.as_bytes();
        for split in 0..bytes.len() {
            let mut p = SseParser::new();
            p.push(&bytes[..split]).unwrap();
            p.push(&bytes[split..]).unwrap();
            p.finish();
            assert_eq!(
                all(&mut p),
                ["{\"a\":1}", "é1\n2", "[DONE]"],
                "split at {split}"
            );
        }
    }

    #[test]
    fn unterminated_last_event_is_delivered_at_finish() {
        let mut p = SseParser::new();
        p.push(b"data: tail").unwrap();
        assert!(p.next_event().is_none());
        p.finish();
        assert_eq!(all(&mut p), ["tail"]);
    }

    #[test]
    fn refuses_endless_lines() {
        let mut p = SseParser::new();
        assert!(p.push(&vec![b'x'; MAX_LINE + 1]).is_err());
    }
}
