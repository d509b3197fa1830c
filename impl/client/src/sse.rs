//! A parser for server-sent events (the `text/event-stream` format of the HTML standard),
//! enough for `/webapi/headless/events`: `event:`, `data:` (joined with newlines), `id:`,
//! comments and blank-line dispatch, over byte chunks that may split lines anywhere.

/// Longest line kept: an event is one request view, a few kilobytes at most; past this the
/// stream is broken or hostile.
pub const LINE_MAX_BYTES: usize = 64 * 1024;

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, `message` when none was given.
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

/// Why the stream cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an event stream line is longer than {LINE_MAX_BYTES} bytes")]
    LineTooLong,
}

/// Incremental parser: feed chunks, collect the events each completes.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
    id: Option<String>,
    /// The previous chunk ended with `\r`, so a leading `\n` belongs to that line ending.
    after_cr: bool,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Parses `chunk` and returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                        events.push(event);
                    }
                }
                _ => {
                    if self.line.len() >= LINE_MAX_BYTES {
                        return Err(SseError::LineTooLong);
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            "id" => self.id = Some(value.to_owned()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent {
            event: event.unwrap_or_else(|| "message".to_owned()),
            data,
            id: self.id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_dispatched_on_blank_lines_with_joined_data() {
        let mut p = SseParser::new();
        let events = p.feed(b"event: pending\ndata: {\"a\":\ndata: 1}\nid: 7\n\n").unwrap();
        assert_eq!(
            events,
            vec![SseEvent {
                event: "pending".into(),
                data: "{\"a\":\n1}".into(),
                id: Some("7".into())
            }]
        );
    }

    #[test]
    fn lines_split_across_chunks_and_crlf_endings_still_parse() {
        let mut p = SseParser::new();
        assert!(p.feed(b"event: deci").unwrap().is_empty());
        assert!(p.feed(b"ded\r").unwrap().is_empty());
        assert!(p.feed(b"\ndata: x\r\n").unwrap().is_empty());
        let events = p.feed(b"\r\n").unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "decided");
        assert_eq!(events[0].data, "x");
    }

    #[test]
    fn comments_and_events_without_data_dispatch_nothing() {
        let mut p = SseParser::new();
        assert!(p.feed(b": keep-alive\n\nevent: pending\n\n").unwrap().is_empty());
        let events = p.feed(b"data: y\n\n").unwrap();
        assert_eq!(events[0].event, "message", "the event name does not leak to the next event");
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut p = SseParser::new();
        let long = vec![b'a'; LINE_MAX_BYTES + 1];
        assert_eq!(p.feed(&long), Err(SseError::LineTooLong));
    }
}
