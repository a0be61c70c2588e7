//! The log view's state: a bounded window of one run's output, paged in from the daemon by
//! byte offset. Following appends at the end and drops lines from the front; scrolling above
//! the window loads the previous page and drops lines from the back, so memory stays bounded
//! however long the log is. Lines of both streams sit in one buffer in arrival order; the
//! stream toggle shows both or one of them.
//!
//! A container's output (from the Docker engine, through the daemon) uses the same view:
//! its lines arrive as one stream, followed by the engine's timestamp cursor; there is no
//! history beyond the tail the view opened with, so nothing is paged in and searches stay in
//! the window.
//!
//! The timestamps shown by `t` come from the daemon's time index of each stream (when its
//! bytes were written, sampled every 50 ms); a log without an index (written before there
//! was one) shows when lines reached this client while following, and nothing for history.

use std::collections::VecDeque;

use harbour_shared::{ContainerLogChunk, LogChunk, LogStream, Run, RunId, UnixMillis};

/// Bytes asked for per page when scrolling through history.
pub const PAGE_BYTES: u64 = 256 * 1024;
/// Longer lines are cut into pieces of this many bytes, so one endless line cannot grow
/// without bound.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// The most bytes of text the view holds, whatever `max_lines` says (long lines).
pub const MAX_HELD_BYTES: usize = 64 << 20;
/// Absolute line numbers start here so that lines prepended from history still have one.
const FIRST_LINE_NO: u64 = 1 << 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamView {
    Both,
    Stdout,
    Stderr,
}

impl StreamView {
    pub fn shows(self, s: LogStream) -> bool {
        match self {
            Self::Both => true,
            Self::Stdout => s == LogStream::Stdout,
            Self::Stderr => s == LogStream::Stderr,
        }
    }

    pub fn streams(self) -> &'static [LogStream] {
        match self {
            Self::Both => &[LogStream::Stdout, LogStream::Stderr],
            Self::Stdout => &[LogStream::Stdout],
            Self::Stderr => &[LogStream::Stderr],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Both => "stdout+stderr",
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }

    fn next(self) -> Self {
        match self {
            Self::Both => Self::Stdout,
            Self::Stdout => Self::Stderr,
            Self::Stderr => Self::Both,
        }
    }
}

/// What a page of log was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    /// From the follower, or a page after the window: appended.
    Append,
    /// A page before the window: prepended.
    Older,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: LogStream,
    pub text: String,
    /// Byte range of the line in its stream (the newline included).
    pub offset: u64,
    pub end: u64,
    /// When the line reached this client, if it came live.
    pub at_ms: Option<UnixMillis>,
}

/// The part of one stream held in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    /// Offset of the first byte held.
    pub start: u64,
    /// Offset after the last byte received (a partial line included).
    pub end: u64,
    /// The stream's size as last reported.
    pub size: u64,
    /// Bytes of a line whose newline has not come yet.
    pub partial: Vec<u8>,
    /// The window starts mid-line: drop bytes up to the first newline.
    pub skip_head: bool,
    /// The run has ended and the window reaches the end of the stream.
    pub complete: bool,
    /// A page request is out.
    pub loading: bool,
}

/// What the view asks the shell to do after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRequest {
    Read {
        stream: LogStream,
        offset: u64,
        max: u64,
        kind: ChunkKind,
    },
    /// (Re)start following `stream` from `offset`.
    Follow {
        stream: LogStream,
        offset: u64,
    },
    StopFollow,
}

/// Whose output the view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    Run(RunId),
    /// A container; `cursor_ns` is the engine's timestamp of the last line received.
    Container {
        id: String,
        name: String,
        cursor_ns: i64,
    },
}

#[derive(Debug, Clone)]
pub struct LogView {
    pub source: LogSource,
    pub run_info: Option<Run>,
    /// Messages for an older view of the log (before a reload) carry another number.
    pub epoch: u64,
    pub lines: VecDeque<LogLine>,
    first_no: u64,
    /// Absolute numbers of the lines the stream toggle shows.
    visible: VecDeque<u64>,
    pub win: [Window; 2],
    pub show: StreamView,
    pub follow: bool,
    /// Index into the shown lines.
    pub cursor: usize,
    pub top: usize,
    pub hscroll: usize,
    pub wrap: bool,
    pub timestamps: bool,
    pub search: Option<String>,
    /// Which match the cursor is on and how many there are, as of the last jump (counting
    /// takes a pass over the window, too much for every frame).
    pub search_hits: Option<(usize, usize)>,
    /// A search beyond the window is out, in this direction (forward when true).
    pub searching: Option<bool>,
    /// After a jump to a match beyond the window: the line (stream, byte offset) to put the
    /// cursor on when its page arrives.
    pending_jump: Option<(LogStream, u64)>,
    pub error: Option<String>,
    pub max_lines: usize,
    /// The most bytes of text held ([`MAX_HELD_BYTES`]), for lines far longer than usual.
    pub max_bytes: usize,
    pub tail_bytes: u64,
    bytes_held: usize,
}

fn idx(s: LogStream) -> usize {
    match s {
        LogStream::Stdout => 0,
        LogStream::Stderr => 1,
    }
}

/// Text fit for a terminal cell grid: escape sequences dropped, tabs expanded, other control
/// characters shown as `?`.
pub fn sanitize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                // CSI: ESC [ params final-byte; OSC: ESC ] ... BEL|ST; others: one char.
                match chars.peek() {
                    Some('[') => {
                        chars.next();
                        for n in chars.by_ref() {
                            if ('@'..='~').contains(&n) {
                                break;
                            }
                        }
                    }
                    Some(']') => {
                        chars.next();
                        while let Some(n) = chars.next() {
                            if n == '\x07' || (n == '\x1b' && chars.peek() == Some(&'\\')) {
                                if n == '\x1b' {
                                    chars.next();
                                }
                                break;
                            }
                        }
                    }
                    Some(_) => {
                        chars.next();
                    }
                    None => {}
                }
            }
            '\t' => {
                let col = out.chars().count();
                out.extend(std::iter::repeat_n(' ', 8 - col % 8));
            }
            '\r' => {}
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

impl LogView {
    pub fn new(source: LogSource, epoch: u64, max_lines: usize, tail_bytes: u64) -> Self {
        Self {
            source,
            run_info: None,
            epoch,
            lines: VecDeque::new(),
            first_no: FIRST_LINE_NO,
            visible: VecDeque::new(),
            win: [Window::default(), Window::default()],
            show: StreamView::Both,
            follow: true,
            cursor: 0,
            top: 0,
            hscroll: 0,
            wrap: false,
            timestamps: false,
            search: None,
            search_hits: None,
            searching: None,
            pending_jump: None,
            error: None,
            max_lines: max_lines.max(100),
            max_bytes: MAX_HELD_BYTES,
            tail_bytes,
            bytes_held: 0,
        }
    }

    /// The run whose log this is, if it is a run's.
    pub fn run(&self) -> Option<RunId> {
        match self.source {
            LogSource::Run(id) => Some(id),
            LogSource::Container { .. } => None,
        }
    }

    fn is_container(&self) -> bool {
        matches!(self.source, LogSource::Container { .. })
    }

    /// Loads the tail again and follows: of a run's streams, given their sizes, or of a
    /// container's output from its last lines.
    pub fn reload(&mut self, sizes: [u64; 2]) -> Vec<LogRequest> {
        if let LogSource::Container { cursor_ns, .. } = &mut self.source {
            *cursor_ns = 0;
            let out = self.start_tail([0, 0]);
            // A container has one interleaved stream, kept as stdout.
            self.win[1].complete = true;
            return out
                .into_iter()
                .filter(|r| !matches!(r, LogRequest::Follow { stream, .. } if *stream == LogStream::Stderr))
                .collect();
        }
        self.start_tail(sizes)
    }

    /// Takes in a container's lines, appended after what the view holds.
    pub fn take_container_chunk(
        &mut self,
        chunk: ContainerLogChunk,
        at_ms: UnixMillis,
    ) -> Vec<LogRequest> {
        let LogSource::Container { cursor_ns, .. } = &mut self.source else {
            return Vec::new();
        };
        *cursor_ns = chunk.cursor_ns;
        let offset = self.win[0].end;
        let page = LogChunk {
            offset,
            size: offset + chunk.data.len() as u64,
            data: chunk.data,
            complete: !chunk.running,
            marks: Vec::new(),
        };
        self.take_chunk(LogStream::Stdout, ChunkKind::Append, page, at_ms)
    }

    /// Starts following from the last `tail_bytes` of each stream, given their sizes.
    pub fn start_tail(&mut self, sizes: [u64; 2]) -> Vec<LogRequest> {
        self.clear();
        self.follow = true;
        let mut out = vec![LogRequest::StopFollow];
        for s in [LogStream::Stdout, LogStream::Stderr] {
            let size = sizes[idx(s)];
            let from = size.saturating_sub(self.tail_bytes);
            let w = &mut self.win[idx(s)];
            w.start = from;
            w.end = from;
            w.size = size;
            w.skip_head = from > 0;
            out.push(LogRequest::Follow {
                stream: s,
                offset: from,
            });
        }
        out
    }

    /// Shows the start of the log, not following.
    pub fn start_head(&mut self) -> Vec<LogRequest> {
        let sizes = [self.win[0].size, self.win[1].size];
        self.clear();
        self.follow = false;
        let mut out = vec![LogRequest::StopFollow];
        for s in self.show.streams() {
            let w = &mut self.win[idx(*s)];
            w.size = sizes[idx(*s)];
            w.loading = true;
            out.push(LogRequest::Read {
                stream: *s,
                offset: 0,
                max: PAGE_BYTES,
                kind: ChunkKind::Append,
            });
        }
        out
    }

    fn clear(&mut self) {
        self.epoch += 1;
        self.search_hits = None;
        self.searching = None;
        self.pending_jump = None;
        self.lines.clear();
        self.visible.clear();
        self.first_no = FIRST_LINE_NO;
        self.bytes_held = 0;
        self.cursor = 0;
        self.top = 0;
        self.error = None;
        self.win = [Window::default(), Window::default()];
    }

    pub fn shown_len(&self) -> usize {
        self.visible.len()
    }

    /// The shown line at index `i` of the view.
    pub fn shown(&self, i: usize) -> Option<&LogLine> {
        let no = *self.visible.get(i)?;
        self.lines.get(usize::try_from(no - self.first_no).ok()?)
    }

    pub fn held_bytes(&self) -> usize {
        self.bytes_held
    }

    /// Whether every shown stream is complete and wholly in the window's end.
    pub fn at_end(&self) -> bool {
        self.show.streams().iter().all(|s| {
            let w = &self.win[idx(*s)];
            w.end >= w.size
        })
    }

    fn push_back(&mut self, line: LogLine) {
        let no = self.first_no + self.lines.len() as u64;
        if self.show.shows(line.stream) {
            self.visible.push_back(no);
        }
        self.bytes_held += line.text.len();
        self.lines.push_back(line);
    }

    fn evict_front(&mut self) {
        while self.lines.len() > self.max_lines || self.bytes_held > self.max_bytes {
            let Some(line) = self.lines.pop_front() else {
                break;
            };
            self.bytes_held -= line.text.len();
            self.win[idx(line.stream)].start = line.end;
            if self.visible.front() == Some(&self.first_no) {
                self.visible.pop_front();
                self.cursor = self.cursor.saturating_sub(1);
                self.top = self.top.saturating_sub(1);
            }
            self.first_no += 1;
        }
    }

    fn evict_back(&mut self) {
        while self.lines.len() > self.max_lines || self.bytes_held > self.max_bytes {
            let Some(line) = self.lines.pop_back() else {
                break;
            };
            self.bytes_held -= line.text.len();
            let no = self.first_no + self.lines.len() as u64;
            if self.visible.back() == Some(&no) {
                self.visible.pop_back();
            }
            let w = &mut self.win[idx(line.stream)];
            w.end = line.offset;
            w.partial.clear();
            w.complete = false;
        }
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
    }

    /// Splits `bytes` (starting at stream offset `pos`) into lines; returns the lines and
    /// the unfinished tail.
    fn split(
        stream: LogStream,
        mut pos: u64,
        bytes: &[u8],
        stamp: &dyn Fn(u64) -> Option<UnixMillis>,
    ) -> (Vec<LogLine>, usize) {
        let mut out = Vec::new();
        let mut rest = bytes;
        let mut consumed = 0;
        loop {
            let nl = rest.iter().position(|b| *b == b'\n');
            let cut = match nl {
                Some(i) if i <= MAX_LINE_BYTES => i + 1,
                _ if rest.len() > MAX_LINE_BYTES => MAX_LINE_BYTES,
                _ => break,
            };
            let body = &rest[..cut];
            let text_bytes = body.strip_suffix(b"\n").unwrap_or(body);
            out.push(LogLine {
                stream,
                text: sanitize(text_bytes),
                offset: pos,
                end: pos + cut as u64,
                at_ms: stamp(pos + cut as u64),
            });
            pos += cut as u64;
            consumed += cut;
            rest = &rest[cut..];
        }
        (out, consumed)
    }

    /// Takes in a page. Returns what to ask of the daemon next.
    pub fn take_chunk(
        &mut self,
        stream: LogStream,
        kind: ChunkKind,
        chunk: LogChunk,
        at_ms: UnixMillis,
    ) -> Vec<LogRequest> {
        let i = idx(stream);
        self.win[i].size = self.win[i].size.max(chunk.size);
        self.win[i].loading = false;
        match kind {
            ChunkKind::Append => self.append(stream, chunk, at_ms),
            ChunkKind::Older => self.prepend(stream, chunk),
        }
        if self.follow {
            self.cursor = self.visible.len().saturating_sub(1);
        }
        if let Some((s, off)) = self.pending_jump
            && s == stream
            && kind == ChunkKind::Append
        {
            self.pending_jump = None;
            if let Some(i) = (0..self.visible.len()).find(|i| {
                self.shown(*i)
                    .is_some_and(|l| l.stream == s && l.offset <= off && off < l.end)
            }) {
                self.cursor = i;
                self.top = i.saturating_sub(8);
            }
            self.search_hits = self.match_position();
        }
        Vec::new()
    }

    fn append(&mut self, stream: LogStream, chunk: LogChunk, at_ms: UnixMillis) {
        let i = idx(stream);
        let w = &mut self.win[i];
        // Drop what we already have (a repeated page), and refuse a gap.
        if chunk.offset > w.end || chunk.next_offset() <= w.end && !chunk.data.is_empty() {
            return;
        }
        let skip = usize::try_from(w.end - chunk.offset).unwrap_or(0);
        let mut data = std::mem::take(&mut w.partial);
        let mut pos = w.end - data.len() as u64;
        data.extend_from_slice(&chunk.data[skip.min(chunk.data.len())..]);
        w.end = chunk.next_offset().max(w.end);
        if w.skip_head {
            match data.iter().position(|b| *b == b'\n') {
                Some(nl) => {
                    data.drain(..=nl);
                    pos += nl as u64 + 1;
                    w.skip_head = false;
                    w.start = pos;
                }
                None => {
                    w.start = w.end;
                    return;
                }
            }
        }
        let live = self.follow.then_some(at_ms);
        // A line was written when its last byte was.
        let stamp = |end: u64| chunk.written_at(end.saturating_sub(1)).or(live);
        let (lines, consumed) = Self::split(stream, pos, &data, &stamp);
        let mut tail = data.split_off(consumed);
        let complete = chunk.complete;
        let tail_pos = pos + consumed as u64;
        for l in lines {
            self.push_back(l);
        }
        if complete && !tail.is_empty() {
            let end = tail_pos + tail.len() as u64;
            self.push_back(LogLine {
                stream,
                text: sanitize(&tail),
                offset: tail_pos,
                end,
                at_ms: stamp(end),
            });
            tail.clear();
        }
        let w = &mut self.win[i];
        w.partial = tail;
        w.complete = complete;
        self.evict_front();
    }

    fn prepend(&mut self, stream: LogStream, chunk: LogChunk) {
        let i = idx(stream);
        let start = self.win[i].start;
        if chunk.offset >= start {
            return;
        }
        let len = usize::try_from(start - chunk.offset)
            .unwrap_or(0)
            .min(chunk.data.len());
        let mut data = &chunk.data[..len];
        let mut pos = chunk.offset;
        if pos > 0
            && let Some(nl) = data.iter().position(|b| *b == b'\n')
            && nl + 1 < data.len()
        {
            data = &data[nl + 1..];
            pos += nl as u64 + 1;
        }
        let stamp = |end: u64| chunk.written_at(end.saturating_sub(1));
        let (mut lines, consumed) = Self::split(stream, pos, data, &stamp);
        if consumed < data.len() {
            // The page ends where the window starts, so whatever is left is a whole line
            // whose newline is already... missing only for an unterminated line: keep it.
            let tail = &data[consumed..];
            lines.push(LogLine {
                stream,
                text: sanitize(tail),
                offset: pos + consumed as u64,
                end: start,
                at_ms: stamp(start),
            });
        }
        // Take at most half the window from one page, so the lines around the cursor stay.
        let room = self.max_lines / 2;
        if lines.len() > room {
            lines.drain(..lines.len() - room);
        }
        if let Some(first) = lines.first() {
            pos = first.offset;
        }
        let shows = self.show.shows(stream);
        let n = lines.len();
        for line in lines.into_iter().rev() {
            self.first_no -= 1;
            if shows {
                self.visible.push_front(self.first_no);
            }
            self.bytes_held += line.text.len();
            self.lines.push_front(line);
        }
        if shows {
            self.cursor += n;
            self.top += n;
        }
        self.win[i].start = pos;
        if self.lines.len() > self.max_lines || self.bytes_held > self.max_bytes {
            self.follow = false;
            self.evict_back();
        }
    }

    /// Streams whose history before the window can still be paged in.
    fn older_requests(&mut self) -> Vec<LogRequest> {
        let mut out = Vec::new();
        if self.is_container() {
            return out;
        }
        for s in self.show.streams() {
            let w = &mut self.win[idx(*s)];
            if w.start > 0 && !w.loading {
                w.loading = true;
                let from = w.start.saturating_sub(PAGE_BYTES);
                out.push(LogRequest::Read {
                    stream: *s,
                    offset: from,
                    max: w.start - from,
                    kind: ChunkKind::Older,
                });
            }
        }
        out
    }

    fn newer_requests(&mut self) -> Vec<LogRequest> {
        let mut out = Vec::new();
        if self.follow || self.is_container() {
            return out;
        }
        for s in self.show.streams() {
            let w = &mut self.win[idx(*s)];
            if w.end < w.size && !w.loading {
                w.loading = true;
                out.push(LogRequest::Read {
                    stream: *s,
                    offset: w.end,
                    max: PAGE_BYTES,
                    kind: ChunkKind::Append,
                });
            }
        }
        out
    }

    /// Moves the cursor by `delta` lines; pages in history at either edge.
    pub fn scroll(&mut self, delta: isize, height: usize) -> Vec<LogRequest> {
        let len = self.visible.len();
        let mut out = Vec::new();
        if delta < 0 {
            if self.follow {
                self.follow = false;
                out.push(LogRequest::StopFollow);
            }
            self.cursor = self.cursor.saturating_sub(delta.unsigned_abs());
            if self.cursor < height {
                out.extend(self.older_requests());
            }
        } else if delta > 0 {
            self.cursor = (self.cursor + delta as usize).min(len.saturating_sub(1));
            if self.cursor + height >= len {
                out.extend(self.newer_requests());
            }
        }
        self.keep_cursor_visible(height);
        out
    }

    pub fn keep_cursor_visible(&mut self, height: usize) {
        let height = height.max(1);
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if self.cursor >= self.top + height {
            self.top = self.cursor + 1 - height;
        }
    }

    /// The first shown line to draw for a viewport of `height` rows (without wrapping).
    pub fn top_for(&self, height: usize) -> usize {
        let len = self.visible.len();
        if self.follow {
            return len.saturating_sub(height);
        }
        let mut top = self.top.min(self.cursor);
        if self.cursor >= top + height {
            top = self.cursor + 1 - height;
        }
        top.min(len.saturating_sub(1))
    }

    /// `G`: back to the end and following. Reloads the tail when the window is far behind.
    pub fn follow_tail(&mut self) -> Vec<LogRequest> {
        let running = self.run_info.as_ref().is_none_or(|r| r.is_active())
            || self
                .show
                .streams()
                .iter()
                .any(|s| !self.win[idx(*s)].complete);
        let behind: u64 = [0, 1]
            .iter()
            .map(|i| self.win[*i].size.saturating_sub(self.win[*i].end))
            .sum();
        if behind > self.tail_bytes
            || self
                .win
                .iter()
                .any(|w| w.start == w.end && w.size > 0 && self.lines.is_empty())
        {
            let sizes = [self.win[0].size, self.win[1].size];
            return self.start_tail(sizes);
        }
        self.follow = true;
        self.search_hits = None;
        self.cursor = self.visible.len().saturating_sub(1);
        let mut out = vec![LogRequest::StopFollow];
        if running {
            for s in [LogStream::Stdout, LogStream::Stderr] {
                let w = &self.win[idx(s)];
                if !w.complete {
                    out.push(LogRequest::Follow {
                        stream: s,
                        offset: w.end,
                    });
                }
            }
        }
        out
    }

    /// `g`: the first line, loading the start of the log when it is not in memory.
    pub fn go_top(&mut self) -> Vec<LogRequest> {
        if self
            .show
            .streams()
            .iter()
            .all(|s| self.win[idx(*s)].start == 0)
        {
            let mut out = Vec::new();
            if self.follow {
                self.follow = false;
                out.push(LogRequest::StopFollow);
            }
            self.cursor = 0;
            self.top = 0;
            return out;
        }
        self.start_head()
    }

    /// Shows the next of both / stdout / stderr. A newly shown stream with nothing in memory
    /// (after a jump to a match in the other one) is loaded from where its window stands.
    pub fn toggle_stream(&mut self) -> Vec<LogRequest> {
        if self.is_container() {
            return Vec::new();
        }
        let anchor = self.shown(self.cursor).map(|l| (l.stream, l.offset));
        self.show = self.show.next();
        self.search_hits = None;
        self.visible = (0..self.lines.len())
            .filter(|i| self.show.shows(self.lines[*i].stream))
            .map(|i| self.first_no + i as u64)
            .collect();
        self.cursor = if self.follow {
            self.visible.len().saturating_sub(1)
        } else {
            anchor
                .and_then(|(s, off)| {
                    (0..self.visible.len()).find(|i| {
                        self.shown(*i)
                            .is_some_and(|l| l.stream == s && l.offset >= off)
                    })
                })
                .unwrap_or(0)
        };
        self.top = self.cursor;
        let mut out = Vec::new();
        if !self.follow {
            for s in self.show.streams() {
                let held = self.lines.iter().any(|l| l.stream == *s);
                let w = &mut self.win[idx(*s)];
                if !held && w.end < w.size && !w.loading {
                    w.loading = true;
                    out.push(LogRequest::Read {
                        stream: *s,
                        offset: w.end,
                        max: PAGE_BYTES,
                        kind: ChunkKind::Append,
                    });
                }
            }
        }
        out
    }

    /// Whether `text` matches the search (case-insensitive unless it has capitals).
    pub fn matches(query: &str, text: &str) -> bool {
        if query.chars().any(char::is_uppercase) {
            text.contains(query)
        } else {
            text.to_lowercase().contains(query)
        }
    }

    /// Moves the cursor to the next (or previous) line that matches; wraps within memory.
    /// Returns whether a match was found.
    pub fn find(&mut self, forward: bool, include_current: bool, height: usize) -> bool {
        self.find_in(forward, include_current, true, height)
    }

    /// [`find`](Self::find), wrapping around the window's ends only when `wrap`.
    pub fn find_in(
        &mut self,
        forward: bool,
        include_current: bool,
        wrap: bool,
        height: usize,
    ) -> bool {
        let Some(q) = self.search.clone().filter(|q| !q.is_empty()) else {
            return false;
        };
        let len = self.visible.len();
        if len == 0 {
            return false;
        }
        let start = self.cursor.min(len - 1);
        for step in 0..len {
            let off = if include_current { step } else { step + 1 };
            if !wrap
                && (if forward {
                    start + off >= len
                } else {
                    off > start
                })
            {
                break;
            }
            let i = if forward {
                (start + off) % len
            } else {
                (start + len * 2 - off % len) % len
            };
            if self.shown(i).is_some_and(|l| Self::matches(&q, &l.text)) {
                self.follow = false;
                self.cursor = i;
                // Keep context: put the match a third of the way down the screen.
                self.top = i.saturating_sub(height / 3);
                self.search_hits = self.match_position();
                return true;
            }
        }
        false
    }

    /// Where a search that found nothing in the window goes on: for each shown stream with
    /// bytes beyond the window in that direction, the offset of the window's edge.
    pub fn beyond(&self, forward: bool) -> Vec<(LogStream, u64)> {
        if self.is_container() {
            return Vec::new();
        }
        self.show
            .streams()
            .iter()
            .filter_map(|s| {
                let w = &self.win[idx(*s)];
                if forward {
                    (w.end < w.size).then_some((*s, w.end))
                } else {
                    (w.start > 0).then_some((*s, w.start))
                }
            })
            .collect()
    }

    /// Loads the part of the log around the line at `offset` of `stream` (a match found
    /// beyond the window) and puts the cursor on it when it arrives. In the merged view it
    /// switches to that stream, as a byte offset does not place a line among the other
    /// stream's.
    pub fn jump_to(&mut self, stream: LogStream, offset: u64) -> Vec<LogRequest> {
        let sizes = [self.win[0].size, self.win[1].size];
        self.clear();
        self.follow = false;
        self.win[0].size = sizes[0];
        self.win[1].size = sizes[1];
        if !self.show.shows(stream) || self.show == StreamView::Both {
            self.show = match stream {
                LogStream::Stdout => StreamView::Stdout,
                LogStream::Stderr => StreamView::Stderr,
            };
        }
        let from = offset.saturating_sub(PAGE_BYTES / 2);
        let w = &mut self.win[idx(stream)];
        w.start = from;
        w.end = from;
        w.skip_head = from > 0;
        w.loading = true;
        self.pending_jump = Some((stream, offset));
        vec![
            LogRequest::StopFollow,
            LogRequest::Read {
                stream,
                offset: from,
                max: PAGE_BYTES,
                kind: ChunkKind::Append,
            },
        ]
    }

    /// How many shown lines match, and which of them the cursor is on (1-based).
    pub fn match_position(&self) -> Option<(usize, usize)> {
        let q = self.search.as_deref().filter(|q| !q.is_empty())?;
        let mut total = 0;
        let mut at = 0;
        for i in 0..self.visible.len() {
            if self.shown(i).is_some_and(|l| Self::matches(q, &l.text)) {
                total += 1;
                if i <= self.cursor {
                    at = total;
                }
            }
        }
        Some((at, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(offset: u64, data: &str, size: u64, complete: bool) -> LogChunk {
        LogChunk {
            offset,
            data: data.as_bytes().to_vec(),
            size,
            complete,
            marks: Vec::new(),
        }
    }

    fn texts(v: &LogView) -> Vec<String> {
        (0..v.shown_len())
            .map(|i| v.shown(i).unwrap().text.clone())
            .collect()
    }

    #[test]
    fn follow_splits_lines_across_chunks() {
        let mut v = LogView::new(LogSource::Run(RunId(1)), 0, 1000, 1024);
        v.start_tail([0, 0]);
        v.take_chunk(
            LogStream::Stdout,
            ChunkKind::Append,
            chunk(0, "one\ntw", 6, false),
            1,
        );
        assert_eq!(texts(&v), ["one"]);
        v.take_chunk(
            LogStream::Stdout,
            ChunkKind::Append,
            chunk(6, "o\nthree", 13, true),
            2,
        );
        assert_eq!(texts(&v), ["one", "two", "three"]);
        assert_eq!(v.cursor, 2);
        assert!(v.win[0].complete);
    }

    #[test]
    fn a_containers_output_is_one_stream_followed_by_its_cursor() {
        let source = LogSource::Container {
            id: "abc".into(),
            name: "web".into(),
            cursor_ns: 0,
        };
        let mut v = LogView::new(source, 0, 100, 1024);
        let reqs = v.reload([0, 0]);
        assert_eq!(
            reqs,
            [
                LogRequest::StopFollow,
                LogRequest::Follow {
                    stream: LogStream::Stdout,
                    offset: 0
                }
            ]
        );
        let got = |data: &str, cursor_ns, running| ContainerLogChunk {
            data: data.as_bytes().to_vec(),
            cursor_ns,
            running,
        };
        v.take_container_chunk(got("one\ntwo\n", 5, true), 1);
        v.take_container_chunk(got("three\n", 9, true), 2);
        assert_eq!(texts(&v), ["one", "two", "three"]);
        assert!(matches!(
            v.source,
            LogSource::Container { cursor_ns: 9, .. }
        ));
        // Nothing older to page in, the stream toggle has nothing to split, searches stay here.
        assert!(
            v.scroll(-10, 5)
                .iter()
                .all(|r| *r == LogRequest::StopFollow)
        );
        assert!(v.toggle_stream().is_empty());
        assert!(v.beyond(false).is_empty() && v.beyond(true).is_empty());
        // Following again goes on from the cursor's place, not from the start.
        assert_eq!(
            v.follow_tail(),
            [
                LogRequest::StopFollow,
                LogRequest::Follow {
                    stream: LogStream::Stdout,
                    offset: 14
                }
            ]
        );
        v.take_container_chunk(got("", 9, false), 3);
        assert!(
            v.win[0].complete,
            "a stopped container's output is complete"
        );
    }

    #[test]
    fn lines_carry_the_daemons_write_times() {
        let mut v = LogView::new(LogSource::Run(RunId(1)), 0, 1000, 1024);
        v.start_tail([0, 0]);
        let mut page = chunk(0, "one\ntwo\nthree\n", 14, true);
        page.marks = vec![
            harbour_shared::LogMark {
                end: 4,
                at_ms: 1_000,
            },
            harbour_shared::LogMark {
                end: 14,
                at_ms: 2_000,
            },
        ];
        v.take_chunk(LogStream::Stdout, ChunkKind::Append, page, 99_999);
        let times: Vec<_> = (0..v.shown_len())
            .map(|i| v.shown(i).unwrap().at_ms)
            .collect();
        assert_eq!(times, [Some(1_000), Some(2_000), Some(2_000)]);
    }

    #[test]
    fn tail_drops_the_partial_first_line() {
        let mut v = LogView::new(LogSource::Run(RunId(1)), 0, 1000, 5);
        v.start_tail([12, 0]);
        assert_eq!(v.win[0].start, 7);
        // bytes 7.. of "line1\nline2\n" are "ne2\n": the cut line is dropped.
        v.take_chunk(
            LogStream::Stdout,
            ChunkKind::Append,
            chunk(7, "ne2\nline3\n", 18, false),
            1,
        );
        assert_eq!(texts(&v), ["line3"]);
        assert_eq!(v.win[0].start, 11);
    }

    #[test]
    fn memory_is_bounded_and_history_pages_back_in() {
        let mut v = LogView::new(LogSource::Run(RunId(1)), 0, 100, 1 << 20);
        v.start_tail([0, 0]);
        let mut off = 0u64;
        for n in 0..1000 {
            let s = format!("line {n}\n");
            v.take_chunk(
                LogStream::Stdout,
                ChunkKind::Append,
                chunk(off, &s, off + s.len() as u64, false),
                1,
            );
            off += s.len() as u64;
        }
        assert_eq!(v.shown_len(), 100);
        assert_eq!(v.shown(0).unwrap().text, "line 900");
        let first_off = v.win[0].start;
        // Scrolling to the top asks for the page before the window and stops following.
        let reqs = v.scroll(-1000, 20);
        assert!(reqs.contains(&LogRequest::StopFollow));
        let Some(LogRequest::Read {
            offset,
            max,
            kind: ChunkKind::Older,
            ..
        }) = reqs
            .iter()
            .find(|r| matches!(r, LogRequest::Read { .. }))
            .cloned()
        else {
            panic!("no page request: {reqs:?}")
        };
        assert_eq!(offset + max, first_off);
        let mut all = String::new();
        for n in 0..1000 {
            all.push_str(&format!("line {n}\n"));
        }
        let page = &all[offset as usize..(offset + max) as usize];
        v.take_chunk(
            LogStream::Stdout,
            ChunkKind::Older,
            chunk(offset, page, off, false),
            2,
        );
        assert_eq!(v.shown_len(), 100, "still bounded");
        // The lines just before the old window are now shown, in order, and the cursor
        // kept its line.
        let t = texts(&v);
        assert_eq!(t.first().unwrap(), "line 850", "half a window paged in");
        for w in t.windows(2) {
            let a: u32 = w[0][5..].parse().unwrap();
            let b: u32 = w[1][5..].parse().unwrap();
            assert_eq!(a + 1, b);
        }
        assert!(!v.follow);
        assert_eq!(v.shown(v.cursor).unwrap().text, "line 900");
    }

    #[test]
    fn long_lines_are_bounded_by_bytes_too() {
        let mut v = LogView::new(LogSource::Run(RunId(1)), 0, 1000, 1 << 20);
        v.max_bytes = 64 * 1024;
        v.start_tail([0, 0]);
        let line = format!("{}\n", "x".repeat(20_000));
        let mut off = 0u64;
        for _ in 0..100 {
            v.take_chunk(
                LogStream::Stdout,
                ChunkKind::Append,
                chunk(off, &line, off + line.len() as u64, false),
                1,
            );
            off += line.len() as u64;
        }
        assert!(v.held_bytes() <= 64 * 1024, "{}", v.held_bytes());
        // Lines longer than MAX_LINE_BYTES are cut into pieces, none lost.
        assert!(v.shown(0).unwrap().text.len() <= MAX_LINE_BYTES);
        assert_eq!(v.win[0].end, off);
    }

    #[test]
    fn merged_and_single_stream_views() {
        let mut v = LogView::new(LogSource::Run(RunId(1)), 0, 1000, 1024);
        v.start_tail([0, 0]);
        v.take_chunk(
            LogStream::Stdout,
            ChunkKind::Append,
            chunk(0, "out1\n", 5, false),
            1,
        );
        v.take_chunk(
            LogStream::Stderr,
            ChunkKind::Append,
            chunk(0, "err1\n", 5, false),
            1,
        );
        v.take_chunk(
            LogStream::Stdout,
            ChunkKind::Append,
            chunk(5, "out2\n", 10, false),
            1,
        );
        assert_eq!(texts(&v), ["out1", "err1", "out2"]);
        assert!(v.toggle_stream().is_empty());
        assert_eq!(texts(&v), ["out1", "out2"]);
        v.toggle_stream();
        assert_eq!(texts(&v), ["err1"]);
        v.toggle_stream();
        assert_eq!(v.shown_len(), 3);
    }

    #[test]
    fn search_jumps_and_wraps() {
        let mut v = LogView::new(LogSource::Run(RunId(1)), 0, 1000, 1024);
        v.start_tail([0, 0]);
        v.take_chunk(
            LogStream::Stdout,
            ChunkKind::Append,
            chunk(0, "a\nERROR x\nb\nerror y\nc\n", 24, false),
            1,
        );
        v.search = Some("error".into());
        assert!(v.find(true, false, 10));
        assert_eq!(
            v.shown(v.cursor).unwrap().text,
            "ERROR x",
            "wraps to the first match"
        );
        assert!(!v.follow);
        assert!(v.find(true, false, 10));
        assert_eq!(v.shown(v.cursor).unwrap().text, "error y");
        assert_eq!(v.match_position(), Some((2, 2)));
        assert!(v.find(false, false, 10));
        assert_eq!(v.shown(v.cursor).unwrap().text, "ERROR x");
        v.search = Some("Error".into());
        assert!(!v.find(true, false, 10), "capitals make it case-sensitive");
    }

    #[test]
    fn control_sequences_are_dropped() {
        assert_eq!(sanitize(b"\x1b[31mred\x1b[0m\tx\x07"), "red     x?");
        assert_eq!(sanitize(b"\x1b]0;title\x07ok"), "ok");
    }
}
