//! Decoding request frames without trusting them.
//!
//! tarpc sends a request's deadline as a duration from now and turns it back into
//! `Instant::now() + duration`, which panics when the duration is absurd (found by
//! `fuzz::mutated_rpc_frames_never_panic_the_decoder`). So the server's codec reads the
//! deadline of each request frame first and caps it at [`MAX_DEADLINE`] before bincode sees
//! it. No honest client asks for more: long-polls wait at most `MAX_WAIT_MS` plus a margin.

use std::io;
use std::pin::Pin;

use harbour_shared::{HarbourRequest, HarbourResponse};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_serde::{Deserializer, Serializer};
use tarpc::tokio_util::bytes::{Bytes, BytesMut};

/// The longest deadline a request may carry.
pub const MAX_DEADLINE_SECS: u64 = 24 * 3600;

type Req = tarpc::ClientMessage<HarbourRequest>;
type Resp = tarpc::Response<HarbourResponse>;

/// Bincode (varint, as tokio-serde's default options) with request deadlines capped.
#[derive(Debug, Default)]
pub struct ServerCodec(Bincode<Req, Resp>);

impl Deserializer<Req> for ServerCodec {
    type Error = io::Error;

    fn deserialize(self: Pin<&mut Self>, src: &BytesMut) -> Result<Req, io::Error> {
        let inner = Pin::new(&mut self.get_mut().0);
        match capped(src) {
            Some(fixed) => inner.deserialize(&fixed),
            None => inner.deserialize(src),
        }
    }
}

impl Serializer<Resp> for ServerCodec {
    type Error = io::Error;

    fn serialize(self: Pin<&mut Self>, item: &Resp) -> Result<Bytes, io::Error> {
        Pin::new(&mut self.get_mut().0).serialize(item)
    }
}

/// A bincode varint (u64) at the start of `b`: its value and length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let fixed = |n: usize| -> Option<u64> {
        let bytes = b.get(1..=n)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(bytes);
        Some(u64::from_le_bytes(v))
    };
    match *b.first()? {
        x @ 0..=250 => Some((u64::from(x), 1)),
        251 => Some((fixed(2)?, 3)),
        252 => Some((fixed(4)?, 5)),
        253 => Some((fixed(8)?, 9)),
        _ => None,
    }
}

/// The frame with its deadline capped, or `None` when it needs no change (or is not a
/// request, or too broken to tell: bincode then reports it).
fn capped(src: &[u8]) -> Option<BytesMut> {
    // ClientMessage::Request is variant 0; its Request starts with Context, which starts
    // with the deadline as a Duration: secs (u64) then nanos (u32).
    let (variant, at) = varint(src)?;
    if variant != 0 {
        return None;
    }
    let (secs, len) = varint(&src[at..])?;
    if secs <= MAX_DEADLINE_SECS {
        return None;
    }
    let mut out = BytesMut::with_capacity(src.len());
    out.extend_from_slice(&src[..at]);
    // MAX_DEADLINE_SECS needs the u32 form: 252 then 4 bytes.
    out.extend_from_slice(&[252]);
    out.extend_from_slice(
        &u32::try_from(MAX_DEADLINE_SECS)
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&src[at + len..]);
    Some(out)
}

/// Decodes one request frame as the server does (for the fuzz targets).
#[cfg(test)]
pub fn decode(frame: &[u8]) -> Result<Req, io::Error> {
    let mut codec = ServerCodec::default();
    Pin::new(&mut codec).deserialize(&BytesMut::from(frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bincode::Options as _;
    use harbour_shared::PROTOCOL_VERSION;
    use std::time::{Duration, Instant};

    fn frame(deadline: Duration) -> Vec<u8> {
        let mut ctx = tarpc::context::current();
        ctx.deadline = Instant::now() + deadline;
        let msg: Req = tarpc::ClientMessage::Request(tarpc::Request {
            context: ctx,
            id: 7,
            message: HarbourRequest::Hello {
                client_protocol: PROTOCOL_VERSION,
            },
        });
        bincode::DefaultOptions::new().serialize(&msg).unwrap()
    }

    #[test]
    fn an_absurd_deadline_is_capped_not_a_panic() {
        let bytes = frame(Duration::from_secs(10));
        // Rewrite the deadline's seconds to u64::MAX (253 + 8 bytes).
        let (_, len) = varint(&bytes[1..]).unwrap();
        let mut evil = vec![bytes[0], 253];
        evil.extend_from_slice(&u64::MAX.to_le_bytes());
        evil.extend_from_slice(&bytes[1 + len..]);
        let Ok(tarpc::ClientMessage::Request(req)) = decode(&evil) else {
            panic!("the request decodes");
        };
        assert_eq!(req.id, 7);
        let left = req.context.deadline.duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(MAX_DEADLINE_SECS + 1),
            "nanos add under a second"
        );
        assert!(left > Duration::from_secs(MAX_DEADLINE_SECS - 60));
        // An ordinary frame passes untouched.
        assert!(capped(&bytes).is_none());
        assert!(decode(&bytes).is_ok());
    }

    #[test]
    fn varints_read_like_bincode_writes_them() {
        for v in [
            0u64,
            250,
            251,
            65_535,
            65_536,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let b = bincode::DefaultOptions::new().serialize(&v).unwrap();
            assert_eq!(varint(&b), Some((v, b.len())), "{v}");
        }
        assert_eq!(varint(&[]), None);
        assert_eq!(varint(&[253, 1]), None);
    }
}
