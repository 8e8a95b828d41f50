//! The SUT protocol's frames (docs/sut-protocol.md is the byte-by-byte
//! description; this file is its Rust side). Every frame is an 8-byte header,
//! `u32 kind` and `u32 payload length`, both little-endian, then the payload.
//! The timed path only ever sees ISSUE (edgemark to SUT) and COMPLETE (SUT to
//! edgemark), both fixed layouts written into and parsed out of buffers that
//! exist before timing: no text, no allocation.

use std::fmt;

/// First 8 bytes of both hellos.
pub const MAGIC: [u8; 8] = *b"EDGEMSUT";
/// The protocol version this edgemark speaks.
pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 8;
/// Anything longer is garbage (a sample of 1 GiB is not a sample).
pub const MAX_PAYLOAD: u32 = 1 << 30;
/// Environment variable naming the child's protocol file descriptors: "R,W"
/// (the same number twice for a socketpair).
pub const FDS_ENV: &str = "EDGEMARK_SUT_FDS";

/// Frame kinds; each says its direction.
pub mod kind {
    /// edgemark -> SUT: magic, version.
    pub const HELLO: u32 = 1;
    /// SUT -> edgemark: magic, version, names, tensor descriptions.
    pub const HELLO_REPLY: u32 = 2;
    /// edgemark -> SUT: one sample's tensors (untimed).
    pub const LOAD: u32 = 3;
    /// edgemark -> SUT: sample `index` has the same tensors as loaded sample `of`.
    pub const LOAD_ALIAS: u32 = 4;
    /// edgemark -> SUT: drop these samples.
    pub const UNLOAD: u32 = 5;
    /// edgemark -> SUT: answer FLUSHED once everything before is done.
    pub const FLUSH: u32 = 6;
    /// SUT -> edgemark: the token of the FLUSH it answers.
    pub const FLUSHED: u32 = 7;
    /// edgemark -> SUT: flags, (id, index) pairs. The timed frame.
    pub const ISSUE: u32 = 8;
    /// SUT -> edgemark: completed ids. The timed answer.
    pub const COMPLETE: u32 = 9;
    /// SUT -> edgemark: one completed id with its output tensors (accuracy).
    pub const OUTPUTS: u32 = 10;
    /// SUT -> edgemark: a fatal error, code and message; the SUT exits after it.
    pub const ERROR: u32 = 11;
    /// edgemark -> SUT: end of session.
    pub const BYE: u32 = 12;
    /// SUT -> edgemark: acknowledges BYE, then exits 0.
    pub const BYE_REPLY: u32 = 13;
    /// edgemark -> SUT, spin transport only: a request waits in the shared
    /// mapping; stop reading the pipe and spin on it again.
    pub const DOORBELL: u32 = 14;

    pub fn name(k: u32) -> &'static str {
        match k {
            HELLO => "HELLO",
            HELLO_REPLY => "HELLO_REPLY",
            LOAD => "LOAD",
            LOAD_ALIAS => "LOAD_ALIAS",
            UNLOAD => "UNLOAD",
            FLUSH => "FLUSH",
            FLUSHED => "FLUSHED",
            ISSUE => "ISSUE",
            COMPLETE => "COMPLETE",
            OUTPUTS => "OUTPUTS",
            ERROR => "ERROR",
            BYE => "BYE",
            BYE_REPLY => "BYE_REPLY",
            DOORBELL => "DOORBELL",
            _ => "unknown",
        }
    }
}

/// ISSUE flags.
pub mod flags {
    /// Answer with OUTPUTS frames (accuracy mode) instead of COMPLETE.
    pub const OUTPUTS: u32 = 1;
    /// Complete without running the model: the protocol's own round trip.
    pub const NULL: u32 = 2;
}

/// ERROR codes.
pub mod error_code {
    pub const VERSION: u32 = 1;
    pub const MODEL: u32 = 2;
    pub const BAD_FRAME: u32 = 3;
    pub const UNKNOWN_SAMPLE: u32 = 4;
    pub const OTHER: u32 = 5;
}

/// Element types on the wire. Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    F32 = 1,
    U8 = 2,
    I8 = 3,
    I32 = 4,
    I64 = 5,
    F16 = 6,
    F64 = 7,
}

impl WireType {
    pub fn from_code(c: u8) -> Option<WireType> {
        Some(match c {
            1 => WireType::F32,
            2 => WireType::U8,
            3 => WireType::I8,
            4 => WireType::I32,
            5 => WireType::I64,
            6 => WireType::F16,
            7 => WireType::F64,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            WireType::U8 | WireType::I8 => 1,
            WireType::F16 => 2,
            WireType::F32 | WireType::I32 => 4,
            WireType::I64 | WireType::F64 => 8,
        }
    }

    /// The record's dtype names (same as the tract SUT's).
    pub fn name(self) -> &'static str {
        match self {
            WireType::F32 => "f32",
            WireType::U8 => "u8",
            WireType::I8 => "i8",
            WireType::I32 => "i32",
            WireType::I64 => "i64",
            WireType::F16 => "f16",
            WireType::F64 => "f64",
        }
    }
}

/// A tensor as the SUT describes it in its hello.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorDesc {
    pub name: String,
    pub dtype: WireType,
    /// -1 = dynamic.
    pub shape: Vec<i32>,
    /// (scale, zero point) of a quantised integer tensor.
    pub quant: Option<(f32, i32)>,
}

/// The SUT's hello.
#[derive(Debug, Clone, PartialEq)]
pub struct HelloReply {
    pub version: u32,
    pub name: String,
    pub sut_version: String,
    pub model: String,
    pub inputs: Vec<TensorDesc>,
    pub outputs: Vec<TensorDesc>,
}

/// Tensor data on the wire (LOAD, OUTPUTS).
#[derive(Debug, Clone, PartialEq)]
pub struct WireTensor {
    pub dtype: WireType,
    pub shape: Vec<u32>,
    pub bytes: Vec<u8>,
}

/// A frame that does not parse: what was wrong, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFrame(pub String);

impl fmt::Display for BadFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Appends a frame header to `out`.
pub fn put_header(out: &mut Vec<u8>, kind: u32, len: usize) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
}

/// Patches the length of the frame starting at `start` once its payload is written.
pub fn finish_frame(out: &mut [u8], start: usize) {
    let len = (out.len() - start - HEADER_LEN) as u32;
    out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
}

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

/// HELLO flags.
pub mod hello_flags {
    /// The spin transport: attach the mapping named in EDGEMARK_SUT_SHM.
    pub const SPIN: u32 = 1;
}

/// HELLO: magic, version, flags.
pub fn hello(version: u32, flags: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(24);
    put_header(&mut f, kind::HELLO, 16);
    f.extend_from_slice(&MAGIC);
    put_u32(&mut f, version);
    put_u32(&mut f, flags);
    f
}

pub fn put_tensor(out: &mut Vec<u8>, t: &WireTensor) {
    out.push(t.dtype as u8);
    out.push(t.shape.len() as u8);
    out.extend_from_slice(&[0, 0]);
    for &d in &t.shape {
        put_u32(out, d);
    }
    out.extend_from_slice(&(t.bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&t.bytes);
}

pub fn put_desc(out: &mut Vec<u8>, d: &TensorDesc) {
    put_str(out, &d.name);
    out.push(d.dtype as u8);
    out.push(d.shape.len() as u8);
    out.push(d.quant.is_some() as u8);
    out.push(0);
    let (scale, zp) = d.quant.unwrap_or((0.0, 0));
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend_from_slice(&zp.to_le_bytes());
    for &s in &d.shape {
        out.extend_from_slice(&s.to_le_bytes());
    }
}

/// Encodes a SUT hello (used by the tests' in-process SUTs and the checker).
pub fn hello_reply(h: &HelloReply) -> Vec<u8> {
    let mut f = Vec::new();
    put_header(&mut f, kind::HELLO_REPLY, 0);
    f.extend_from_slice(&MAGIC);
    put_u32(&mut f, h.version);
    put_str(&mut f, &h.name);
    put_str(&mut f, &h.sut_version);
    put_str(&mut f, &h.model);
    f.extend_from_slice(&(h.inputs.len() as u16).to_le_bytes());
    f.extend_from_slice(&(h.outputs.len() as u16).to_le_bytes());
    for d in h.inputs.iter().chain(&h.outputs) {
        put_desc(&mut f, d);
    }
    finish_frame(&mut f, 0);
    f
}

/// A cursor over a payload; every read names what it wanted when it runs out.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    frame: &'static str,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], frame: &'static str) -> Self {
        Cursor { buf, pos: 0, frame }
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], BadFrame> {
        if self.buf.len() - self.pos < n {
            return Err(BadFrame(format!(
                "{} frame too short: {what} needs {n} bytes at offset {}, payload has {}",
                self.frame,
                self.pos,
                self.buf.len()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, BadFrame> {
        Ok(self.take(1, what)?[0])
    }
    pub fn u16(&mut self, what: &str) -> Result<u16, BadFrame> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    pub fn u32(&mut self, what: &str) -> Result<u32, BadFrame> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    pub fn i32(&mut self, what: &str) -> Result<i32, BadFrame> {
        Ok(i32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    pub fn u64(&mut self, what: &str) -> Result<u64, BadFrame> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    pub fn f32(&mut self, what: &str) -> Result<f32, BadFrame> {
        Ok(f32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    pub fn str(&mut self, what: &str) -> Result<String, BadFrame> {
        let n = self.u16(what)? as usize;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| BadFrame(format!("{} frame: {what} is not UTF-8", self.frame)))
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn end(&self) -> Result<(), BadFrame> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(BadFrame(format!(
                "{} frame has {} trailing bytes",
                self.frame,
                self.remaining()
            )))
        }
    }
}

fn wire_type(c: &mut Cursor, what: &str) -> Result<WireType, BadFrame> {
    let code = c.u8(what)?;
    WireType::from_code(code).ok_or_else(|| {
        BadFrame(format!(
            "{} frame: {what} has unknown dtype code {code}",
            c.frame
        ))
    })
}

pub fn read_desc(c: &mut Cursor) -> Result<TensorDesc, BadFrame> {
    let name = c.str("tensor name")?;
    let dtype = wire_type(c, "tensor dtype")?;
    let rank = c.u8("rank")? as usize;
    let quantised = c.u8("quantised flag")? != 0;
    c.u8("reserved")?;
    let scale = c.f32("scale")?;
    let zp = c.i32("zero point")?;
    let mut shape = Vec::with_capacity(rank);
    for _ in 0..rank {
        let d = c.i32("dimension")?;
        if d < -1 {
            return Err(BadFrame(format!(
                "{} frame: tensor {name:?} has dimension {d} (only -1 means dynamic)",
                c.frame
            )));
        }
        shape.push(d);
    }
    Ok(TensorDesc {
        name,
        dtype,
        shape,
        quant: quantised.then_some((scale, zp)),
    })
}

pub fn read_tensor(c: &mut Cursor) -> Result<WireTensor, BadFrame> {
    let dtype = wire_type(c, "tensor dtype")?;
    let rank = c.u8("rank")? as usize;
    c.take(2, "reserved")?;
    let mut shape = Vec::with_capacity(rank);
    for _ in 0..rank {
        shape.push(c.u32("dimension")?);
    }
    let len = c.u64("byte length")?;
    let want = shape.iter().map(|&d| d as u64).product::<u64>() * dtype.size() as u64;
    if len != want {
        return Err(BadFrame(format!(
            "{} frame: tensor of shape {shape:?} {} has {len} bytes, expected {want}",
            c.frame,
            dtype.name()
        )));
    }
    let bytes = c.take(len as usize, "tensor bytes")?.to_vec();
    Ok(WireTensor {
        dtype,
        shape,
        bytes,
    })
}

/// Parses a HELLO_REPLY payload. A version other than ours is not a parse
/// error: the caller refuses it naming both.
pub fn read_hello_reply(payload: &[u8]) -> Result<HelloReply, BadFrame> {
    let mut c = Cursor::new(payload, "HELLO_REPLY");
    let magic = c.take(8, "magic")?;
    if magic != MAGIC {
        return Err(BadFrame(format!(
            "HELLO_REPLY magic is {}, expected {:?}",
            show_bytes(magic),
            std::str::from_utf8(&MAGIC).unwrap()
        )));
    }
    let version = c.u32("version")?;
    if version != VERSION {
        // Stop here: a later version may lay out the rest differently.
        return Ok(HelloReply {
            version,
            name: String::new(),
            sut_version: String::new(),
            model: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        });
    }
    let name = c.str("SUT name")?;
    let sut_version = c.str("SUT version")?;
    let model = c.str("model")?;
    let n_in = c.u16("input count")? as usize;
    let n_out = c.u16("output count")? as usize;
    let mut inputs = Vec::with_capacity(n_in);
    for _ in 0..n_in {
        inputs.push(read_desc(&mut c)?);
    }
    let mut outputs = Vec::with_capacity(n_out);
    for _ in 0..n_out {
        outputs.push(read_desc(&mut c)?);
    }
    c.end()?;
    Ok(HelloReply {
        version,
        name,
        sut_version,
        model,
        inputs,
        outputs,
    })
}

/// Up to 16 bytes as hex, for naming garbage.
pub fn show_bytes(b: &[u8]) -> String {
    let mut s: Vec<String> = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
    if b.len() > 16 {
        s.push("..".into());
    }
    let text: String = b
        .iter()
        .take(16)
        .map(|&x| {
            if x.is_ascii_graphic() || x == b' ' {
                x as char
            } else {
                '.'
            }
        })
        .collect();
    format!("[{}] {text:?}", s.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &str, dtype: WireType, shape: &[i32], quant: Option<(f32, i32)>) -> TensorDesc {
        TensorDesc {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
            quant,
        }
    }

    #[test]
    fn hello_reply_round_trips() {
        let h = HelloReply {
            version: VERSION,
            name: "null".into(),
            sut_version: "1.2".into(),
            model: "m.onnx".into(),
            inputs: vec![desc("x", WireType::I8, &[1, 224, 224, 3], Some((0.5, -3)))],
            outputs: vec![desc("y", WireType::F32, &[-1, 1000], None)],
        };
        let f = hello_reply(&h);
        assert_eq!(&f[..4], &kind::HELLO_REPLY.to_le_bytes());
        assert_eq!(
            u32::from_le_bytes(f[4..8].try_into().unwrap()) as usize,
            f.len() - 8
        );
        assert_eq!(read_hello_reply(&f[8..]).unwrap(), h);
    }

    #[test]
    fn the_hello_is_byte_exact() {
        // The documented 24 bytes (docs/sut-protocol.md).
        let f = hello(1, 0);
        assert_eq!(
            f,
            [
                1, 0, 0, 0, 16, 0, 0, 0, b'E', b'D', b'G', b'E', b'M', b'S', b'U', b'T', 1, 0, 0,
                0, 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn truncated_and_foreign_frames_are_named() {
        let h = HelloReply {
            version: VERSION,
            name: "n".into(),
            sut_version: "v".into(),
            model: "m".into(),
            inputs: vec![desc("x", WireType::F32, &[1, 3], None)],
            outputs: vec![],
        };
        let f = hello_reply(&h);
        let e = read_hello_reply(&f[8..f.len() - 3]).unwrap_err();
        assert!(e.0.contains("too short"), "{e}");
        let mut bad = f[8..].to_vec();
        bad[0] = b'X';
        assert!(read_hello_reply(&bad).unwrap_err().0.contains("magic"));
    }

    #[test]
    fn tensor_lengths_must_match_shapes() {
        let t = WireTensor {
            dtype: WireType::F32,
            shape: vec![2, 3],
            bytes: vec![0; 24],
        };
        let mut b = Vec::new();
        put_tensor(&mut b, &t);
        assert_eq!(read_tensor(&mut Cursor::new(&b, "LOAD")).unwrap(), t);
        // Claim 4 more bytes than 2x3 f32.
        b[12..20].copy_from_slice(&28u64.to_le_bytes());
        let e = read_tensor(&mut Cursor::new(&b, "LOAD")).unwrap_err();
        assert!(e.0.contains("expected 24"), "{e}");
    }
}
