//! Reading event-log files as lines, streaming, from a decompressed byte offset, handing out
//! only complete lines: plain JSON lines and every codec Spark writes event logs with. Also
//! what a log directory holds: single files and Spark 4's rolling `eventlog_v2_*`
//! directories. The live progress replay (`spark::eventlog`) reads through here too.
//!
//! zstd (Spark 4's default) is read with the `zstd` crate (bindings to the reference libzstd,
//! the library Spark itself writes with through zstd-jni): it is the fastest decoder, which
//! matters for replaying gigabytes. Spark's `lz4`, `snappy` and `lzf` codecs write their Java
//! libraries' own framings, which [`super::framings`] decodes. No compressed stream can seek:
//! reading from an offset decodes from the start and drops what was read before.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::framings::Blocks;

/// How a file is compressed, from its name (Spark names a compressed log after its codec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Plain,
    Zstd,
    Lz4,
    Snappy,
    Lzf,
}

/// `name` without `.inprogress`.
pub fn strip_inprogress(name: &str) -> &str {
    name.strip_suffix(".inprogress").unwrap_or(name)
}

pub fn codec_of(path: &Path) -> Codec {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    split_codec(strip_inprogress(&name)).1
}

/// A log's name (without `.inprogress`) as its stem and the codec its extension names; a
/// name without a codec's extension is all stem.
fn split_codec(name: &str) -> (&str, Codec) {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return (name, Codec::Plain);
    };
    let codec = match ext {
        "zstd" | "zst" => Codec::Zstd,
        "lz4" => Codec::Lz4,
        "snappy" => Codec::Snappy,
        "lzf" => Codec::Lzf,
        _ => return (name, Codec::Plain),
    };
    (stem, codec)
}

/// Read buffers: memory does not grow with the file.
const BUFFER: usize = 1 << 16;

/// The whole decompressed stream of a file.
pub fn open(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    decoded(codec_of(path), File::open(path)?)
}

/// `file`'s bytes decompressed, from its start.
fn decoded(codec: Codec, file: File) -> io::Result<Box<dyn BufRead + Send>> {
    Ok(match codec {
        Codec::Plain => Box::new(BufReader::with_capacity(BUFFER, file)),
        Codec::Zstd => Box::new(BufReader::with_capacity(
            BUFFER,
            zstd::stream::read::Decoder::new(file)?,
        )),
        Codec::Lz4 => Box::new(Blocks::lz4(BufReader::with_capacity(BUFFER, file))),
        Codec::Snappy => Box::new(Blocks::snappy(BufReader::with_capacity(BUFFER, file))),
        Codec::Lzf => Box::new(Blocks::lzf(BufReader::with_capacity(BUFFER, file))),
    })
}

/// Where reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Decompressed bytes before the next unread line.
    pub offset: u64,
    /// Lines before it.
    pub line: u64,
}

/// Calls `each(line number (1-based), line bytes without the newline, position after it)`
/// for every complete line after `from`. A last line without its newline is read only
/// when `finished` (the writer is done); otherwise it waits for the next call. A compressed
/// stream cut short (the writer is mid-block) ends the read without an error unless
/// `finished`. Answers the position after the last line handed out.
pub fn read_lines(
    path: &Path,
    from: Position,
    finished: bool,
    mut each: impl FnMut(u64, &[u8], Position),
) -> io::Result<Position> {
    let mut file = File::open(path)?;
    let codec = codec_of(path);
    let mut reader: Box<dyn BufRead> = if codec == Codec::Plain {
        io::Seek::seek(&mut file, io::SeekFrom::Start(from.offset))?;
        Box::new(BufReader::with_capacity(BUFFER, file))
    } else {
        let mut decoder = decoded(codec, file)?;
        // Compressed streams cannot seek: decode and drop what was read before.
        let skipped = io::copy(&mut (&mut decoder).take(from.offset), &mut io::sink());
        match skipped {
            Ok(n) if n == from.offset => {}
            Ok(_) | Err(_) if !finished => return Ok(from),
            Ok(n) => {
                return Err(io::Error::other(format!(
                    "{} holds {n} bytes, fewer than the {} already read",
                    path.display(),
                    from.offset
                )));
            }
            Err(e) => return Err(e),
        }
        decoder
    };
    let mut pos = from;
    let mut buf = Vec::with_capacity(1 << 14);
    loop {
        buf.clear();
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(n) => n,
            // A compressed block still being written.
            Err(_) if codec != Codec::Plain && !finished => return Ok(pos),
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(pos);
        }
        let complete = buf.last() == Some(&b'\n');
        if !complete && !finished {
            return Ok(pos);
        }
        let line = if complete { &buf[..n - 1] } else { &buf[..] };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = Position {
            offset: pos.offset + n as u64,
            line: pos.line + 1,
        };
        each(pos.line, line, pos);
    }
}

/// One application's log in a directory: its files in order and whether it is still being
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    /// The application id its name gives (the file or `eventlog_v2_` directory name).
    pub app_hint: String,
    /// The path users know it by (the file, or the rolling directory).
    pub display: PathBuf,
    /// Its files in order, each with whether it is finished.
    pub files: Vec<(PathBuf, bool)>,
}

/// The event logs in `dir`. Hidden and temporary files are left alone.
pub fn scan(dir: &Path) -> io::Result<Vec<LogSource>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".crc") {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if let Some(app) = name.strip_prefix("eventlog_v2_")
                && let Ok(files) = rolling_files(&path)
            {
                found.push(LogSource {
                    app_hint: app.to_owned(),
                    display: path,
                    files,
                });
            }
        } else if kind.is_file() {
            let finished = !name.ends_with(".inprogress");
            let (app, _) = split_codec(strip_inprogress(&name));
            found.push(LogSource {
                app_hint: app.to_owned(),
                display: path.clone(),
                files: vec![(path, finished)],
            });
        }
    }
    found.sort_by(|a, b| a.app_hint.cmp(&b.app_hint));
    Ok(found)
}

/// The `events_N_<app>` files of a rolling directory in order; all finished but the last,
/// which is finished once `appstatus_<app>` lost its `.inprogress`.
fn rolling_files(dir: &Path) -> io::Result<Vec<(PathBuf, bool)>> {
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    let mut in_progress = false;
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("appstatus_") {
            in_progress |= name.ends_with(".inprogress");
            continue;
        }
        let Some(n) = name
            .strip_prefix("events_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        files.push((n, entry.path()));
    }
    files.sort();
    let last = files.len().saturating_sub(1);
    Ok(files
        .into_iter()
        .enumerate()
        .map(|(i, (_, p))| (p, i < last || !in_progress))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn lines_of(path: &Path, from: Position, finished: bool) -> (Vec<String>, Position) {
        let mut out = Vec::new();
        let pos = read_lines(path, from, finished, |_, l, _| {
            out.push(String::from_utf8_lossy(l).into_owned());
        })
        .unwrap();
        (out, pos)
    }

    #[test]
    fn a_cut_last_line_waits_until_it_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app-1.inprogress");
        fs::write(&path, "{\"a\":1}\n{\"b\":").unwrap();
        let start = Position { offset: 0, line: 0 };
        let (lines, pos) = lines_of(&path, start, false);
        assert_eq!(lines, ["{\"a\":1}"]);
        assert_eq!(pos, Position { offset: 8, line: 1 });
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"2}\n")
            .unwrap();
        let (lines, pos) = lines_of(&path, pos, false);
        assert_eq!(lines, ["{\"b\":2}"]);
        assert_eq!(pos.line, 2);
    }

    #[test]
    fn zstd_is_read_from_an_offset_and_a_cut_stream_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events_1_app-1.zstd");
        let text = "one\ntwo\nthree\n";
        let packed = zstd::encode_all(text.as_bytes(), 3).unwrap();
        fs::write(&path, &packed[..packed.len() - 3]).unwrap();
        let start = Position { offset: 0, line: 0 };
        let (_, pos) = lines_of(&path, start, false);
        assert!(
            pos.line < 3,
            "a cut stream gives no more than what is whole"
        );
        fs::write(&path, &packed).unwrap();
        let (lines, end) = lines_of(&path, pos, true);
        assert_eq!(end.line, 3);
        assert_eq!(lines.last().map(String::as_str), Some("three"));
    }

    #[test]
    fn finds_single_files_and_rolling_directories() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("local-1.inprogress"), "").unwrap();
        fs::write(dir.path().join("local-2.zstd"), "").unwrap();
        let rolling = dir.path().join("eventlog_v2_local-3");
        fs::create_dir(&rolling).unwrap();
        fs::write(rolling.join("events_2_local-3.zstd"), "").unwrap();
        fs::write(rolling.join("events_1_local-3.zstd"), "").unwrap();
        fs::write(rolling.join("appstatus_local-3.inprogress"), "").unwrap();
        let found = scan(dir.path()).unwrap();
        let apps: Vec<&str> = found.iter().map(|s| s.app_hint.as_str()).collect();
        assert_eq!(apps, ["local-1", "local-2", "local-3"]);
        assert!(!found[0].files[0].1, "in progress");
        assert!(found[1].files[0].1);
        let names: Vec<(String, bool)> = found[2]
            .files
            .iter()
            .map(|(p, f)| (p.file_name().unwrap().to_string_lossy().into_owned(), *f))
            .collect();
        assert_eq!(
            names,
            [
                ("events_1_local-3.zstd".to_owned(), true),
                ("events_2_local-3.zstd".to_owned(), false)
            ]
        );
        assert_eq!(codec_of(Path::new("x.lz4")), Codec::Lz4);
        assert_eq!(codec_of(Path::new("x.snappy.inprogress")), Codec::Snappy);
    }
}
