//! The block framings of Spark's `lz4`, `snappy` and `lzf` event-log codecs, read as byte
//! streams. Spark writes them through Java libraries whose framings are their own, not the
//! standard frame formats Rust crates read, so the framing is decoded here and only the
//! blocks go to a codec:
//!
//! - `lz4`: lz4-java's `LZ4BlockOutputStream`. Each block is a 21-byte header (`LZ4Block`, a
//!   token whose high nibble is the method, raw or LZ4, the compressed and original lengths and
//!   an xxHash32 checksum of the original bytes, masked to 28 bits, all little-endian) and
//!   the block. An empty block ends a stream; another may follow (Spark concatenates).
//!   Blocks are decoded by `lz4_flex`, the checksums checked here.
//! - `snappy`: snappy-java's `SnappyOutputStream`. A 16-byte header (`\x82SNAPPY\0`, version,
//!   compatible version) and then chunks, each a big-endian length and one raw snappy block
//!   (`snap`); a header may appear again where a chunk would (concatenated streams).
//! - `lzf`: compress-lzf's `LZFOutputStream`: chunks of at most 64 KiB, `ZV`, a type byte and
//!   big-endian lengths, each raw or LZF-compressed. LZF is decoded here (a dozen lines).
//!
//! A stream that ends at a block's edge has ended; one that ends inside a block is
//! `UnexpectedEof` (a writer mid-block: the reader waits for more); anything else that does
//! not fit the framing is `InvalidData` naming the byte where it went wrong.

use std::io::{self, BufRead, ErrorKind, Read};

/// The largest block any of these framings writes: lz4-java's is `1 << (10 + 15)`.
const MAX_BLOCK: usize = 1 << 25;

/// What a framing says about its next block.
trait Framing {
    /// Reads what comes next from `input`: a block, into `out` (empty on entry), or
    /// something that holds no bytes (a stream header, an end mark), leaving `out` empty.
    /// Answers false at the stream's clean end. `at` is the compressed byte it starts at,
    /// for errors.
    fn next_block(&mut self, input: &mut dyn Read, at: u64, out: &mut Vec<u8>) -> io::Result<bool>;
}

/// A framed, block-compressed stream as plain bytes.
pub struct Blocks<R> {
    input: Counted<R>,
    framing: Box<dyn Framing + Send>,
    block: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> Blocks<R> {
    /// lz4-java's `LZ4BlockOutputStream` framing (Spark's `lz4` codec).
    pub fn lz4(input: R) -> Self {
        Self::new(input, Box::<Lz4Block>::default())
    }

    /// snappy-java's `SnappyOutputStream` framing (Spark's `snappy` codec).
    pub fn snappy(input: R) -> Self {
        Self::new(input, Box::<SnappyJava>::default())
    }

    /// compress-lzf's `LZFOutputStream` framing (Spark's `lzf` codec).
    pub fn lzf(input: R) -> Self {
        Self::new(input, Box::<LzfChunks>::default())
    }

    fn new(input: R, framing: Box<dyn Framing + Send>) -> Self {
        Self {
            input: Counted { inner: input, n: 0 },
            framing,
            block: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl<R> std::fmt::Debug for Blocks<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocks")
            .field("read", &self.input.n)
            .field("block_len", &self.block.len())
            .field("pos", &self.pos)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<R: Read> BufRead for Blocks<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // Until a block with bytes in it, or the end.
        while self.pos == self.block.len() && !self.done {
            self.block.clear();
            self.pos = 0;
            let at = self.input.n;
            self.done = !self
                .framing
                .next_block(&mut self.input, at, &mut self.block)?;
        }
        Ok(&self.block[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.block.len());
    }
}

impl<R: Read> Read for Blocks<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// Fills `buf` from `input`. Answers false if the input had ended before the first byte;
/// ending after it is `UnexpectedEof`.
fn read_or_end(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(cut()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads exactly `n` bytes of a block's body into `buf`.
fn read_body(input: &mut dyn Read, n: usize, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let got = (&mut *input).take(n as u64).read_to_end(buf)?;
    if got < n { Err(cut()) } else { Ok(()) }
}

fn cut() -> io::Error {
    io::Error::new(ErrorKind::UnexpectedEof, "the stream ends inside a block")
}

fn invalid(codec: &str, at: u64, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        ErrorKind::InvalidData,
        format!("not a valid {codec} event log: the block at byte {at} {what}"),
    )
}

/// A codec's answer for a block that must decode to `len` bytes.
fn decoded<E: std::fmt::Display>(
    codec: &str,
    at: u64,
    len: usize,
    result: Result<usize, E>,
) -> io::Result<()> {
    match result {
        Ok(n) if n == len => Ok(()),
        Ok(n) => Err(invalid(
            codec,
            at,
            format_args!("holds {n} bytes, not {len}"),
        )),
        Err(e) => Err(invalid(codec, at, format_args!("does not decode: {e}"))),
    }
}

#[derive(Default)]
struct Lz4Block {
    scratch: Vec<u8>,
}

impl Lz4Block {
    const CODEC: &'static str = "lz4 (lz4-java LZ4Block)";
    const MAGIC: &'static [u8; 8] = b"LZ4Block";
    /// lz4-java's default seed, which Spark's codec uses too.
    const SEED: u32 = 0x9747_b28c;
    const RAW: u8 = 0x10;
    const LZ4: u8 = 0x20;
}

impl Framing for Lz4Block {
    fn next_block(&mut self, input: &mut dyn Read, at: u64, out: &mut Vec<u8>) -> io::Result<bool> {
        let mut header = [0u8; 21];
        if !read_or_end(input, &mut header)? {
            return Ok(false);
        }
        let le =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        if &header[..8] != Self::MAGIC {
            return Err(invalid(Self::CODEC, at, "does not start with LZ4Block"));
        }
        let method = header[8] & 0xf0;
        let (packed, len, checksum) = (le(9) as usize, le(13) as usize, le(17));
        if len > MAX_BLOCK
            || (method == Self::RAW && packed != len)
            || (method != Self::RAW && method != Self::LZ4)
        {
            return Err(invalid(
                Self::CODEC,
                at,
                format_args!("has method {method:#x} and lengths {packed}/{len}"),
            ));
        }
        if len == 0 {
            // An empty block ends a stream; another may follow.
            return Ok(true);
        }
        read_body(input, packed, &mut self.scratch)?;
        if method == Self::RAW {
            out.extend_from_slice(&self.scratch);
        } else {
            out.resize(len, 0);
            let result = lz4_flex::block::decompress_into(&self.scratch, out);
            decoded(Self::CODEC, at, len, result)?;
        }
        if xxh32(out, Self::SEED) & 0x0fff_ffff != checksum {
            return Err(invalid(Self::CODEC, at, "fails its checksum"));
        }
        Ok(true)
    }
}

#[derive(Default)]
struct SnappyJava {
    /// The stream header has been read.
    started: bool,
    scratch: Vec<u8>,
}

impl SnappyJava {
    const CODEC: &'static str = "snappy (snappy-java)";
    const MAGIC: &'static [u8; 8] = b"\x82SNAPPY\0";
}

impl Framing for SnappyJava {
    fn next_block(&mut self, input: &mut dyn Read, at: u64, out: &mut Vec<u8>) -> io::Result<bool> {
        let mut head = [0u8; 4];
        if !read_or_end(input, &mut head)? {
            return Ok(false);
        }
        if !self.started || head == Self::MAGIC[..4] {
            // A stream header, at the start or where streams were concatenated.
            let mut rest = [0u8; 12];
            if !read_or_end(input, &mut rest)? {
                return Err(cut());
            }
            if head != Self::MAGIC[..4] || rest[..4] != Self::MAGIC[4..] {
                return Err(invalid(
                    Self::CODEC,
                    at,
                    "does not start with snappy-java's header",
                ));
            }
            self.started = true;
            return Ok(true);
        }
        let packed = u32::from_be_bytes(head) as usize;
        if packed > MAX_BLOCK {
            return Err(invalid(
                Self::CODEC,
                at,
                format_args!("claims {packed} bytes"),
            ));
        }
        if packed == 0 {
            return Ok(true);
        }
        read_body(input, packed, &mut self.scratch)?;
        let len = snap::raw::decompress_len(&self.scratch)
            .map_err(|e| invalid(Self::CODEC, at, format_args!("does not decode: {e}")))?;
        if len > MAX_BLOCK {
            return Err(invalid(
                Self::CODEC,
                at,
                format_args!("would hold {len} bytes"),
            ));
        }
        out.resize(len, 0);
        let result = snap::raw::Decoder::new().decompress(&self.scratch, out);
        decoded(Self::CODEC, at, len, result)?;
        Ok(true)
    }
}

#[derive(Default)]
struct LzfChunks {
    scratch: Vec<u8>,
}

impl LzfChunks {
    const CODEC: &'static str = "lzf (compress-lzf)";
}

impl Framing for LzfChunks {
    fn next_block(&mut self, input: &mut dyn Read, at: u64, out: &mut Vec<u8>) -> io::Result<bool> {
        let mut head = [0u8; 5];
        if !read_or_end(input, &mut head)? {
            return Ok(false);
        }
        if &head[..2] != b"ZV" || head[2] > 1 {
            return Err(invalid(
                Self::CODEC,
                at,
                "does not start with ZV and a chunk type",
            ));
        }
        let packed = usize::from(u16::from_be_bytes([head[3], head[4]]));
        if head[2] == 0 {
            read_body(input, packed, out)?;
            return Ok(true);
        }
        let mut len = [0u8; 2];
        if !read_or_end(input, &mut len)? {
            return Err(cut());
        }
        let len = usize::from(u16::from_be_bytes(len));
        read_body(input, packed, &mut self.scratch)?;
        out.reserve(len);
        lzf_decompress(&self.scratch, out, len).map_err(|what| invalid(Self::CODEC, at, what))?;
        Ok(true)
    }
}

/// Decodes one LZF chunk into `out` (empty on entry), which must come to `len` bytes.
fn lzf_decompress(input: &[u8], out: &mut Vec<u8>, len: usize) -> Result<(), &'static str> {
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            // ctrl + 1 literal bytes.
            let literal = input
                .get(i..i + ctrl + 1)
                .ok_or("has a literal run past its end")?;
            out.extend_from_slice(literal);
            i += ctrl + 1;
        } else {
            // A copy of earlier output: 3 bits of length (7: one more byte of it), 13 of
            // distance.
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i).ok_or("ends inside a back reference")?);
                i += 1;
            }
            let low = usize::from(*input.get(i).ok_or("ends inside a back reference")?);
            i += 1;
            let start = out
                .len()
                .checked_sub(((ctrl & 0x1f) << 8) + low + 1)
                .ok_or("refers back before its start")?;
            // The copy may overlap what it writes (a run), so byte by byte.
            for k in start..start + n + 2 {
                out.push(out[k]);
            }
        }
        if out.len() > len {
            return Err("decodes to more than its stated length");
        }
    }
    if out.len() == len {
        Ok(())
    } else {
        Err("decodes to less than its stated length")
    }
}

/// xxHash32 (the checksum of lz4-java's blocks).
fn xxh32(data: &[u8], seed: u32) -> u32 {
    const P1: u32 = 0x9e37_79b1;
    const P2: u32 = 0x85eb_ca77;
    const P3: u32 = 0xc2b2_ae3d;
    const P4: u32 = 0x27d4_eb2f;
    const P5: u32 = 0x1656_67b1;
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let mut rest = data;
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 16 {
            for (k, lane) in v.iter_mut().enumerate() {
                *lane = lane
                    .wrapping_add(word(&rest[k * 4..]).wrapping_mul(P2))
                    .rotate_left(13)
                    .wrapping_mul(P1);
            }
            rest = &rest[16..];
        }
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    // The length modulo 2^32, as the reference does.
    h = h.wrapping_add(data.len() as u32);
    while rest.len() >= 4 {
        h = h
            .wrapping_add(word(rest).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
        rest = &rest[4..];
    }
    for &b in rest {
        h = h
            .wrapping_add(u32::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text, in lz4-java's framing: two blocks, one LZ4 and one raw, an end mark, and a
    /// second stream concatenated after it.
    fn lz4_java(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let block = |out: &mut Vec<u8>, method: u8, packed: &[u8], raw: &[u8]| {
            out.extend_from_slice(Lz4Block::MAGIC);
            out.push(method | 6);
            out.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            out.extend_from_slice(&(xxh32(raw, Lz4Block::SEED) & 0x0fff_ffff).to_le_bytes());
            out.extend_from_slice(packed);
        };
        let (a, b) = text.split_at(text.len() / 2);
        block(&mut out, Lz4Block::LZ4, &lz4_flex::block::compress(a), a);
        block(&mut out, Lz4Block::RAW, &b[..3], &b[..3]);
        block(&mut out, Lz4Block::RAW, &[], &[]);
        block(
            &mut out,
            Lz4Block::LZ4,
            &lz4_flex::block::compress(&b[3..]),
            &b[3..],
        );
        block(&mut out, Lz4Block::RAW, &[], &[]);
        out
    }

    fn snappy_java(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, part) in text.chunks(text.len() / 3 + 1).enumerate() {
            if i != 1 {
                out.extend_from_slice(SnappyJava::MAGIC);
                out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
            }
            let packed = snap::raw::Encoder::new().compress_vec(part).unwrap();
            out.extend_from_slice(&(packed.len() as u32).to_be_bytes());
            out.extend_from_slice(&packed);
        }
        out
    }

    /// compress-lzf's framing, with chunks LZF-compressed by hand: a raw chunk, then a
    /// chunk of literals and back references (an overlapping run among them).
    fn lzf(text: &[u8]) -> Vec<u8> {
        let mut out = b"ZV\0\0\x04".to_vec();
        out.extend_from_slice(&text[..4]);
        // "abcabcabcabc!" = literals "abc", a copy of 9 from 3 back, literal "!".
        let packed = [2, b'a', b'b', b'c', 7 << 5, 0, 2, 0, b'!'];
        out.extend_from_slice(b"ZV\x01");
        out.extend_from_slice(&(packed.len() as u16).to_be_bytes());
        out.extend_from_slice(&13u16.to_be_bytes());
        out.extend_from_slice(&packed);
        out
    }

    fn make<'a>(name: &str, bytes: &'a [u8]) -> Blocks<&'a [u8]> {
        if name == "lz4" {
            Blocks::lz4(bytes)
        } else {
            Blocks::snappy(bytes)
        }
    }

    fn decode(mut blocks: Blocks<&[u8]>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        blocks.read_to_end(&mut out)?;
        Ok(out)
    }

    fn text() -> Vec<u8> {
        (0..2000)
            .map(|i| format!("{{\"Event\":\"SparkListenerTaskEnd\",\"n\":{i}}}\n"))
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn xxh32_matches_the_reference_vectors() {
        assert_eq!(xxh32(b"", 0), 0x02cc_5d05);
        assert_eq!(xxh32(b"a", 0), 0x550d_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32d1_53ff);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xe229_3b2f
        );
    }

    #[test]
    fn each_framing_decodes_to_the_text_and_a_cut_one_is_unexpected_eof() {
        let text = text();
        for name in ["lz4", "snappy"] {
            let framed = if name == "lz4" {
                lz4_java(&text)
            } else {
                snappy_java(&text)
            };
            assert_eq!(decode(make(name, &framed)).unwrap(), text, "{name}");
            // Cut short of the last byte, and midway.
            for cut_at in [framed.len() - 1, framed.len() / 2] {
                let err = decode(make(name, &framed[..cut_at])).unwrap_err();
                assert_eq!(
                    err.kind(),
                    ErrorKind::UnexpectedEof,
                    "{name} at {cut_at}: {err}"
                );
            }
            assert!(decode(make(name, &[])).unwrap().is_empty());
        }
        let framed = lzf(&text);
        let mut want = text[..4].to_vec();
        want.extend_from_slice(b"abcabcabcabc!");
        assert_eq!(decode(Blocks::lzf(&framed)).unwrap(), want);
        let err = decode(Blocks::lzf(&framed[..framed.len() - 2])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    }

    #[test]
    fn damage_is_invalid_data_naming_the_block() {
        let text = text();
        let mut framed = lz4_java(&text);
        let last = framed.len() - 30;
        framed[last] ^= 0x55;
        let err = decode(Blocks::lz4(&framed)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("the block at byte"), "{err}");

        let err = decode(Blocks::snappy(b"\x82SNAPPX\0\0\0\0\x01\0\0\0\x01")).unwrap_err();
        assert!(err.to_string().contains("snappy-java's header"), "{err}");

        // A back reference before the chunk's start, and a plain text file.
        let err = decode(Blocks::lzf(b"ZV\x01\0\x02\0\x05\x20\x09")).unwrap_err();
        assert!(
            err.to_string().contains("refers back before its start"),
            "{err}"
        );
        let err = decode(Blocks::lz4(b"{\"Event\":\"SparkListenerLogStart\"}\n")).unwrap_err();
        assert!(
            err.to_string().contains("does not start with LZ4Block"),
            "{err}"
        );
    }
}
