//! The hot path of a replay: a successful `SparkListenerTaskEnd` (half of a log's lines and
//! nearly all of its bytes) read in one pass over its text, without serde's per-key work.
//!
//! It reads only the shape Spark writes for a successful task: keys without escapes, the
//! kept strings (executor, host) without escapes, integers where integers are kept, and a
//! `Task End Reason` of `{"Reason":"Success"}`. Anything else (a failure with its message,
//! a `null`, a key twice, a number where a string is kept, text that is not JSON) makes it
//! answer `None`, and [`super::events`] parses the line with serde, which gives the same
//! figures or says what is wrong. Values it does not keep are skipped by their structure
//! (strings with their escapes, brackets balanced), not validated to the letter; a
//! malformed value inside an unread one is therefore not reported.

use super::events::TaskEnd;

/// Reads a successful task's end; `None` when the line is not the plain shape above.
pub fn task_end(text: &str) -> Option<TaskEnd> {
    let mut c = Cursor {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    let mut t = TaskEnd {
        status: "SUCCESS",
        ..TaskEnd::default()
    };
    let mut seen = Seen::default();
    let (mut stage, mut info, mut reason) = (false, false, false);
    c.object(|c, key| {
        match key {
            b"Event" => {
                seen.once(0)?;
                (c.plain_string()? == "SparkListenerTaskEnd").then_some(())?;
            }
            b"Stage ID" => {
                seen.once(1)?;
                t.stage_id = c.int()?;
                stage = true;
            }
            b"Stage Attempt ID" => {
                seen.once(2)?;
                t.stage_attempt = c.int()?;
            }
            b"Task End Reason" => {
                seen.once(3)?;
                c.object(|c, key| match key {
                    b"Reason" if !reason => {
                        reason = c.plain_string()? == "Success";
                        reason.then_some(())
                    }
                    _ => None,
                })?;
            }
            b"Task Info" => {
                seen.once(4)?;
                task_info(c, &mut t)?;
                info = true;
            }
            b"Task Metrics" => {
                seen.once(5)?;
                metrics(c, &mut t)?;
            }
            _ => c.skip_value()?,
        }
        Some(())
    })?;
    c.end()?;
    (stage && info && reason).then(|| {
        t.reason = "Success".to_owned();
        t
    })
}

fn task_info(c: &mut Cursor<'_>, t: &mut TaskEnd) -> Option<()> {
    let mut seen = Seen::default();
    let mut id = false;
    c.object(|c, key| {
        match key {
            b"Task ID" => {
                seen.once(0)?;
                t.task_id = c.int()?;
                id = true;
            }
            b"Index" => {
                seen.once(1)?;
                t.index = c.int()?;
            }
            b"Attempt" => {
                seen.once(2)?;
                t.attempt = c.int()?;
            }
            b"Launch Time" => {
                seen.once(3)?;
                t.launch_ms = Some(c.int()?);
            }
            b"Executor ID" => {
                seen.once(4)?;
                c.plain_string()?.clone_into(&mut t.executor);
            }
            b"Host" => {
                seen.once(5)?;
                c.plain_string()?.clone_into(&mut t.host);
            }
            b"Speculative" => {
                seen.once(6)?;
                t.speculative = c.bool()?;
            }
            b"Finish Time" => {
                seen.once(7)?;
                t.finish_ms = Some(c.int()?).filter(|f| *f > 0);
            }
            b"Accumulables" => {
                seen.once(8)?;
                c.skip_value()?;
            }
            _ => c.skip_value()?,
        }
        Some(())
    })?;
    id.then_some(())
}

fn metrics(c: &mut Cursor<'_>, t: &mut TaskEnd) -> Option<()> {
    let mut seen = Seen::default();
    c.object(|c, key| {
        match key {
            b"Executor Run Time" => {
                seen.once(0)?;
                t.run_ms = c.int()?;
            }
            b"JVM GC Time" => {
                seen.once(1)?;
                t.gc_ms = c.int()?;
            }
            b"Input Metrics" => {
                seen.once(2)?;
                let mut once = Seen::default();
                c.object(|c, key| match key {
                    b"Bytes Read" => {
                        once.once(0)?;
                        t.input_bytes = c.int()?;
                        Some(())
                    }
                    _ => c.skip_value(),
                })?;
            }
            b"Shuffle Read Metrics" => {
                seen.once(3)?;
                let mut once = Seen::default();
                let (mut remote, mut local) = (0, 0);
                c.object(|c, key| match key {
                    b"Remote Bytes Read" => {
                        once.once(0)?;
                        remote = c.int()?;
                        Some(())
                    }
                    b"Local Bytes Read" => {
                        once.once(1)?;
                        local = c.int()?;
                        Some(())
                    }
                    _ => c.skip_value(),
                })?;
                t.shuffle_read_bytes = remote.saturating_add(local);
            }
            b"Shuffle Write Metrics" => {
                seen.once(4)?;
                let mut once = Seen::default();
                c.object(|c, key| match key {
                    b"Shuffle Bytes Written" => {
                        once.once(0)?;
                        t.shuffle_write_bytes = c.int()?;
                        Some(())
                    }
                    _ => c.skip_value(),
                })?;
            }
            _ => c.skip_value()?,
        }
        Some(())
    })
}

/// Which kept keys an object had: a key twice is left to serde (which refuses it).
#[derive(Default)]
struct Seen(u32);

impl Seen {
    fn once(&mut self, bit: u32) -> Option<()> {
        let mask = 1 << bit;
        (self.0 & mask == 0).then(|| self.0 |= mask)
    }
}

struct Cursor<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Nothing but whitespace left.
    fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// A string without escapes.
    fn plain_string(&mut self) -> Option<&'a str> {
        let (start, end) = self.plain_bytes()?;
        // Next to ASCII quotes: character boundaries.
        self.text.get(start..end)
    }

    /// Where the text of a string without escapes starts and ends.
    fn plain_bytes(&mut self) -> Option<(usize, usize)> {
        self.eat(b'"')?;
        let start = self.i;
        let end = start + quote_or_backslash(self.b.get(start..)?)?;
        (self.b[end] == b'"').then_some(())?;
        self.i = end + 1;
        Some((start, end))
    }

    /// An integer that fits an i64 (as serde reads an `i64`: no fraction, no exponent).
    fn int(&mut self) -> Option<i64> {
        self.peek()?;
        let start = self.i;
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let digits = self.i;
        while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let len = self.i - digits;
        // JSON allows no leading zeros; fractions and exponents are not integers.
        if len == 0
            || len > 19
            || (len > 1 && self.b[digits] == b'0')
            || matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        // At most 19 digits: no overflow in an i128.
        let magnitude = self.b[digits..self.i]
            .iter()
            .fold(0i128, |n, d| n * 10 + i128::from(d - b'0'));
        i64::try_from(if digits > start {
            -magnitude
        } else {
            magnitude
        })
        .ok()
    }

    fn bool(&mut self) -> Option<bool> {
        self.peek()?;
        let rest = self.b.get(self.i..)?;
        let (value, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.i += len;
        Some(value)
    }

    /// Skips a value of any kind by its structure.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i = end_of_string(self.b, self.i + 1)?;
            }
            b'[' | b'{' => {
                self.i = end_of_container(self.b, self.i)? + 1;
            }
            _ => {
                let start = self.i;
                while matches!(
                    self.b.get(self.i),
                    Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'a'..=b'z')
                ) {
                    self.i += 1;
                }
                (self.i > start).then_some(())?;
            }
        }
        Some(())
    }

    /// The members of the object at the cursor: `each` gets the key and reads the value.
    fn object(&mut self, mut each: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let (start, end) = self.plain_bytes()?;
            if self.b.get(self.i) == Some(&b':') {
                self.i += 1;
            } else {
                self.eat(b':')?;
            }
            each(self, &self.b[start..end])?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// The first `"` or `\\` in `bytes`, eight bytes at a time (keys and strings are short: a
/// vectorised search costs more to start than it saves).
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // The lowest flagged byte is exact (higher ones may be false alarms).
        let found =
            zero_byte(w ^ (ONES * u64::from(b'"'))) | zero_byte(w ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| at + p)
}

/// The index after the quote that ends the string whose text starts at `from`.
fn end_of_string(bytes: &[u8], mut from: usize) -> Option<usize> {
    loop {
        from += quote_or_backslash(bytes.get(from..)?)?;
        if bytes[from] == b'"' {
            return Some(from + 1);
        }
        // A backslash and the character it escapes.
        from += 2;
    }
}

/// The index of the bracket that closes the array or object opening at `open`, strings
/// skipped whole; `None` when the text ends first or the brackets do not pair.
pub fn end_of_container(bytes: &[u8], open: usize) -> Option<usize> {
    let mut stack: Vec<u8> = Vec::new();
    let mut i = open;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                i = end_of_string(bytes, i + 1)?;
                continue;
            }
            b'[' => stack.push(b']'),
            b'{' => stack.push(b'}'),
            b']' | b'}' => {
                (stack.pop()? == b).then_some(())?;
                if stack.is_empty() {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::analytics::events::task_end_by_serde;

    /// What serde makes of a line (the reference).
    fn by_serde(line: &str) -> Option<TaskEnd> {
        task_end_by_serde(line).ok()
    }

    const SPARK: &str = r#"{"Event":"SparkListenerTaskEnd","Stage ID":3,"Stage Attempt ID":1,"Task Type":"ShuffleMapTask","Task End Reason":{"Reason":"Success"},"Task Info":{"Task ID":812,"Index":4,"Attempt":1,"Partition ID":4,"Launch Time":1700000000100,"Executor ID":"driver","Host":"10.1.2.3","Locality":"PROCESS_LOCAL","Speculative":false,"Getting Result Time":0,"Finish Time":1700000000350,"Failed":false,"Killed":false,"Accumulables":[{"ID":3,"Name":"internal.metrics.executorRunTime","Update":240,"Value":9000,"Internal":true,"Count Failed Values":true}]},"Task Executor Metrics":{"JVMHeapMemory":0,"MinorGCCount":0},"Task Metrics":{"Executor Deserialize Time":3,"Executor Run Time":240,"Executor CPU Time":123,"JVM GC Time":7,"Shuffle Read Metrics":{"Remote Blocks Fetched":0,"Remote Bytes Read":11,"Local Bytes Read":31,"Push Based Shuffle":{"Merged Remote Bytes Read":0}},"Shuffle Write Metrics":{"Shuffle Bytes Written":4567,"Shuffle Write Time":1},"Input Metrics":{"Bytes Read":99,"Records Read":1},"Output Metrics":{"Bytes Written":0},"Updated Blocks":[]}}"#;

    #[test]
    fn reads_what_serde_reads() {
        let fast = task_end(SPARK).unwrap();
        assert_eq!(Some(fast.clone()), by_serde(SPARK));
        assert_eq!(
            (fast.task_id, fast.stage_id, fast.stage_attempt),
            (812, 3, 1)
        );
        assert_eq!((fast.run_ms, fast.gc_ms, fast.input_bytes), (240, 7, 99));
        assert_eq!(
            (fast.shuffle_read_bytes, fast.shuffle_write_bytes),
            (42, 4567)
        );
        assert_eq!(fast.duration_ms(), Some(250));
    }

    #[test]
    fn leaves_everything_else_to_serde() {
        for (what, from, to) in [
            (
                "a failure",
                r#""Reason":"Success""#,
                r#""Reason":"TaskKilled""#,
            ),
            (
                "an escape in a kept string",
                r#""Host":"10.1.2.3""#,
                r#""Host":"a\"b""#,
            ),
            ("a fraction", r#""Task ID":812"#, r#""Task ID":812.5"#),
            (
                "a null",
                r#""Launch Time":1700000000100"#,
                r#""Launch Time":null"#,
            ),
            ("a key twice", r#""Index":4,"#, r#""Index":4,"Index":5,"#),
            (
                "a string for a number",
                r#""Stage ID":3"#,
                r#""Stage ID":"3""#,
            ),
            ("no task id", r#""Task ID":812,"#, ""),
        ] {
            let line = SPARK.replacen(from, to, 1);
            assert_ne!(line, SPARK, "{what}");
            assert_eq!(task_end(&line), None, "{what}");
        }
        assert_eq!(task_end(&format!("{SPARK}x")), None, "trailing text");
        // Whitespace is JSON too.
        let spaced = SPARK.replace(":", " : ").replace(",", " , ");
        assert_eq!(task_end(&spaced), by_serde(&spaced));
    }

    #[test]
    fn containers_are_skipped_by_their_brackets() {
        let b = br#"[{"a":"]}\"\\"},[1,{}]] tail"#;
        assert_eq!(end_of_container(b, 0), Some(b.len() - 6));
        assert_eq!(end_of_container(b"[{]}", 0), None);
        assert_eq!(end_of_container(b"[1,2", 0), None);
    }

    /// Members of a TaskEnd, each a (key, JSON value) pair, to be written in any order.
    fn member() -> impl Strategy<Value = (String, String)> {
        let int = prop_oneof![
            Just("0".to_owned()),
            any::<i64>().prop_map(|n| n.to_string())
        ];
        let text = prop_oneof![
            Just("\"driver\"".to_owned()),
            "[a-z0-9.]{0,8}".prop_map(|s| format!("\"{s}\"")),
            Just("\"a\\\"b\"".to_owned()),
        ];
        let junk = prop_oneof![
            Just("[]".to_owned()),
            Just("{\"x\":[1,{\"y\":\"]\"}]}".to_owned()),
            Just("null".to_owned()),
            Just("1.5e3".to_owned()),
            Just("true".to_owned()),
        ];
        prop_oneof![
            int.clone().prop_map(|v| ("Stage ID".to_owned(), v)),
            int.clone().prop_map(|v| ("Stage Attempt ID".to_owned(), v)),
            junk.clone().prop_map(|v| ("Task Type".to_owned(), v)),
            junk.prop_map(|v| ("Other".to_owned(), v)),
            text.prop_map(|v| ("Task Type".to_owned(), v)),
            int.prop_map(|v| ("Launch Time".to_owned(), v)),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_serde_or_steps_aside(
            members in proptest::collection::vec(member(), 0..6),
            task_id in any::<i64>(),
            finish in -5i64..1_000_000,
            executor in prop_oneof![Just("\"driver\"".to_owned()), Just("\"e\\\\1\"".to_owned()), Just("7".to_owned())],
            reason in prop_oneof![Just("{\"Reason\":\"Success\"}"), Just("{\"Reason\":\"ExceptionFailure\",\"Description\":\"x\"}")],
            metrics in prop_oneof![
                Just("{\"Executor Run Time\":5,\"Input Metrics\":{\"Bytes Read\":3}}".to_owned()),
                Just("null".to_owned()),
                Just("{}".to_owned()),
            ],
            space in prop_oneof![Just(""), Just(" ")],
            stage_first in any::<bool>(),
        ) {
            let mut parts = vec![
                "\"Event\":\"SparkListenerTaskEnd\"".to_owned(),
                format!("\"Task End Reason\":{reason}"),
                format!(
                    "\"Task Info\":{{\"Task ID\":{task_id},\"Executor ID\":{executor},\
                     \"Finish Time\":{finish},\"Accumulables\":[{{\"ID\":1}}]}}"
                ),
                format!("\"Task Metrics\":{metrics}"),
            ];
            if stage_first {
                parts.insert(1, "\"Stage ID\":1".to_owned());
            }
            parts.extend(members.iter().map(|(k, v)| format!("\"{k}\":{v}")));
            let line = format!("{{{}}}", parts.join(&format!(",{space}")));
            let reference = by_serde(&line);
            let fast = task_end(&line);
            if fast.is_some() {
                prop_assert_eq!(&fast, &reference, "{}", line);
            }
            // The plain shape is read, not left to serde.
            let times = |key: &str| members.iter().filter(|(k, _)| k == key).count();
            let plain = reason.contains("Success")
                && executor == "\"driver\""
                && metrics != "null"
                && times("Stage ID") + usize::from(stage_first) == 1
                && times("Stage Attempt ID") <= 1;
            if plain {
                prop_assert!(fast.is_some(), "{}", line);
            }
        }
    }
}
