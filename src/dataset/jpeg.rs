//! Baseline JPEG decoding that reproduces libjpeg(-turbo)'s default output bit for
//! bit: the "islow" integer IDCT, "fancy" (triangle) chroma upsampling and its
//! YCbCr->RGB tables. PIL, and therefore torchvision's ImageNet pipeline and the
//! reference tensors, decode with libjpeg; other decoders round differently and
//! move 4:2:0 photos by up to 3 levels per pixel, more than preprocessing may
//! differ. Progressive, arithmetic-coded, 12-bit, CMYK and Adobe-RGB files are left
//! to the `image` crate (`Ok(None)`).

/// Zig-zag index -> natural (row-major) index.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The largest image decoded, here and through the `image` crate
/// (`image.rs`), in pixels (8192x8192: 192 MiB as RGB). Data set images are
/// photos of a few megapixels; a header declaring more is likelier corrupt or
/// hostile, and the boxes edgemark runs on have 1-8 GB.
pub const MAX_PIXELS: usize = 1 << 26;

/// Why bytes are not a JPEG this decoder can read (the caller names the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JpegError {
    #[error("empty image ({width}x{height})")]
    Empty { width: usize, height: usize },
    #[error(
        "image is {width}x{height}, more than the {MAX_PIXELS} pixels edgemark decodes (corrupt header?)"
    )]
    TooLarge { width: usize, height: usize },
    #[error("not a JPEG (no SOI marker)")]
    NoSoi,
    #[error("truncated: no end-of-image marker")]
    NoEoi,
    /// The data ends inside a marker's length field.
    #[error("truncated")]
    Truncated,
    /// The data ends inside a segment: `segment` (DQT, DHT, SOF, SOS) or
    /// "segment" when its kind is not known yet.
    #[error("truncated {0}")]
    TruncatedSegment(&'static str),
    #[error("bad segment length")]
    SegmentLength,
    #[error("bad quantisation table id")]
    QuantTableId,
    #[error("bad Huffman table id")]
    HuffmanTableId,
    #[error("Huffman table shorter than its counts")]
    HuffmanShort,
    #[error("invalid Huffman table")]
    HuffmanInvalid,
    #[error("bad Huffman code")]
    HuffmanCode,
    #[error("bad sampling factors")]
    Sampling,
    /// More coded blocks than the rest of the file can hold (corrupt or hostile).
    #[error("{width}x{height} needs at least {need} bytes of coded data, {left} left in the file")]
    CodedData {
        width: usize,
        height: usize,
        need: usize,
        left: usize,
    },
    #[error("scan before frame header")]
    ScanBeforeFrame,
    #[error("scan names an unknown component")]
    UnknownComponent,
    /// A scan's DC or AC Huffman table was never defined.
    #[error("missing {0} table")]
    MissingTable(&'static str),
    #[error("no frame header")]
    NoFrame,
    #[error("bad DC coefficient")]
    DcCoefficient,
    #[error("AC coefficient index past 63")]
    AcIndex,
}

/// Refuses a declared size above [`MAX_PIXELS`] (or empty).
pub(crate) fn check_pixels(width: usize, height: usize) -> Result<(), JpegError> {
    if width == 0 || height == 0 {
        return Err(JpegError::Empty { width, height });
    }
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(JpegError::TooLarge { width, height });
    }
    Ok(())
}

/// Code lengths resolved by one table lookup; longer codes take the slow path.
const LOOKUP_BITS: u32 = 9;

#[derive(Clone, Default)]
struct Huffman {
    /// Per code length 1..=16: (first code, last code + 1, index of first symbol).
    lens: [(u32, u32, usize); 17],
    symbols: Vec<u8>,
    /// Indexed by the next LOOKUP_BITS bits: (code length, symbol); length 0 = slow path.
    fast: Vec<(u8, u8)>,
}

impl Huffman {
    fn new(counts: &[u8; 16], symbols: Vec<u8>) -> Result<Self, JpegError> {
        let mut h = Huffman {
            lens: [(0, 0, 0); 17],
            symbols,
            fast: vec![(0, 0); 1 << LOOKUP_BITS],
        };
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16 {
            let n = counts[len - 1] as u32;
            h.lens[len] = (code, code + n, k);
            if k + n as usize > h.symbols.len() {
                return Err(JpegError::HuffmanShort);
            }
            // Checked before the codes are used as indices: an over-subscribed
            // length (more codes than it has bits for) would run past the
            // lookup table (found by fuzzing).
            if code + n > (1 << len) {
                return Err(JpegError::HuffmanInvalid);
            }
            if len as u32 <= LOOKUP_BITS {
                let pad = LOOKUP_BITS - len as u32;
                for i in 0..n {
                    let sym = h.symbols[k + i as usize];
                    let base = ((code + i) << pad) as usize;
                    for slot in &mut h.fast[base..base + (1 << pad)] {
                        *slot = (len as u8, sym);
                    }
                }
            }
            code += n;
            k += n as usize;
            code <<= 1;
        }
        Ok(h)
    }
}

/// Entropy-coded data reader: un-stuffs 0xFF00 and, like libjpeg, feeds zero bits
/// once a marker is reached.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// Bits left-aligned: the next bit is bit 31.
    acc: u32,
    n: u32,
    hit_marker: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            pos: 0,
            acc: 0,
            n: 0,
            hit_marker: false,
        }
    }

    fn fill(&mut self) {
        while self.n <= 24 {
            let mut byte = 0u32;
            if !self.hit_marker && self.pos < self.data.len() {
                let b = self.data[self.pos];
                if b == 0xFF {
                    match self.data.get(self.pos + 1) {
                        Some(0x00) => {
                            byte = 0xFF;
                            self.pos += 2;
                        }
                        _ => self.hit_marker = true,
                    }
                } else {
                    byte = b as u32;
                    self.pos += 1;
                }
            }
            self.acc |= byte << (24 - self.n);
            self.n += 8;
        }
    }

    fn peek(&mut self, count: u32) -> u32 {
        self.fill();
        self.acc >> (32 - count)
    }

    fn consume(&mut self, count: u32) {
        self.acc <<= count;
        self.n -= count;
    }

    fn bits(&mut self, count: u32) -> u32 {
        if count == 0 {
            return 0;
        }
        let v = self.peek(count);
        self.consume(count);
        v
    }

    fn decode(&mut self, h: &Huffman) -> Result<u8, JpegError> {
        let (len, sym) = h.fast[self.peek(LOOKUP_BITS) as usize];
        if len > 0 {
            self.consume(len as u32);
            return Ok(sym);
        }
        let code16 = self.peek(16);
        for len in LOOKUP_BITS as usize + 1..=16 {
            let code = code16 >> (16 - len);
            let (first, end, k) = h.lens[len];
            if code < end && code >= first {
                self.consume(len as u32);
                return h
                    .symbols
                    .get(k + (code - first) as usize)
                    .copied()
                    .ok_or(JpegError::HuffmanCode);
            }
        }
        Err(JpegError::HuffmanCode)
    }

    /// JPEG's EXTEND: `s` raw bits as a signed coefficient.
    fn receive_extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let v = self.bits(s) as i32;
        if v < (1 << (s - 1)) {
            v - (1 << s) + 1
        } else {
            v
        }
    }

    /// Skip to the next RSTn marker after a restart interval. Buffered bits are
    /// dropped; `pos` is past every byte they came from (zero fill adds none).
    fn restart(&mut self) {
        self.n = 0;
        self.acc = 0;
        self.hit_marker = false;
        while self.pos + 1 < self.data.len() {
            if self.data[self.pos] == 0xFF && (0xD0..=0xD7).contains(&self.data[self.pos + 1]) {
                self.pos += 2;
                return;
            }
            self.pos += 1;
        }
    }
}

#[derive(Clone)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// Decoded samples, padded to whole MCUs.
    plane: Vec<u8>,
    stride: usize,
    /// Real (downsampled) size.
    width: usize,
    height: usize,
}

fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// libjpeg's post-IDCT range limit: `x + 128` clamped, indexed with `& 1023`.
fn range_limit(x: i64) -> u8 {
    let v = (x & 1023) as i32;
    match v {
        0..=127 => (v + 128) as u8,
        128..=511 => 255,
        512..=895 => 0,
        _ => (v - 896) as u8,
    }
}

/// `jpeg_idct_islow`: coefficients in natural order, already dequantised.
fn idct_islow(coef: &[i32; 64], out: &mut [u8], stride: usize) {
    const CB: u32 = 13;
    const P1: u32 = 2;
    const F0_298: i64 = 2446;
    const F0_390: i64 = 3196;
    const F0_541: i64 = 4433;
    const F0_765: i64 = 6270;
    const F0_899: i64 = 7373;
    const F1_175: i64 = 9633;
    const F1_501: i64 = 12299;
    const F1_847: i64 = 15137;
    const F1_961: i64 = 16069;
    const F2_053: i64 = 16819;
    const F2_562: i64 = 20995;
    const F3_072: i64 = 25172;

    // Shared butterfly: returns the eight outputs before descaling.
    fn butterfly(x: [i64; 8]) -> [i64; 8] {
        let (z2, z3) = (x[2], x[6]);
        let z1 = (z2 + z3) * F0_541;
        let tmp2 = z1 + z3 * -F1_847;
        let tmp3 = z1 + z2 * F0_765;
        let tmp0 = (x[0] + x[4]) << CB;
        let tmp1 = (x[0] - x[4]) << CB;
        let (tmp10, tmp13) = (tmp0 + tmp3, tmp0 - tmp3);
        let (tmp11, tmp12) = (tmp1 + tmp2, tmp1 - tmp2);
        let (mut t0, mut t1, mut t2, mut t3) = (x[7], x[5], x[3], x[1]);
        let z1 = t0 + t3;
        let z2 = t1 + t2;
        let z3 = t0 + t2;
        let z4 = t1 + t3;
        let z5 = (z3 + z4) * F1_175;
        t0 *= F0_298;
        t1 *= F2_053;
        t2 *= F3_072;
        t3 *= F1_501;
        let z1 = z1 * -F0_899;
        let z2 = z2 * -F2_562;
        let z3 = z3 * -F1_961 + z5;
        let z4 = z4 * -F0_390 + z5;
        t0 += z1 + z3;
        t1 += z2 + z4;
        t2 += z2 + z3;
        t3 += z1 + z4;
        [
            tmp10 + t3,
            tmp11 + t2,
            tmp12 + t1,
            tmp13 + t0,
            tmp13 - t0,
            tmp12 - t1,
            tmp11 - t2,
            tmp10 - t3,
        ]
    }

    let mut ws = [0i64; 64];
    for c in 0..8 {
        let col: [i64; 8] = std::array::from_fn(|r| coef[r * 8 + c] as i64);
        if col[1..].iter().all(|&v| v == 0) {
            for r in 0..8 {
                ws[r * 8 + c] = col[0] << P1;
            }
            continue;
        }
        let o = butterfly(col);
        for r in 0..8 {
            ws[r * 8 + c] = descale(o[r], CB - P1);
        }
    }
    for r in 0..8 {
        let row: [i64; 8] = std::array::from_fn(|c| ws[r * 8 + c]);
        let o = butterfly(row);
        for c in 0..8 {
            out[r * stride + c] = range_limit(descale(o[c], CB + P1 + 3));
        }
    }
}

fn u16_at(d: &[u8], p: usize) -> Result<usize, JpegError> {
    match d.get(p..p + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]]) as usize),
        None => Err(JpegError::Truncated),
    }
}

/// Decoded planes before upsampling.
struct Frame {
    width: usize,
    height: usize,
    hmax: usize,
    vmax: usize,
    comps: Vec<Component>,
}

/// Decode a baseline JPEG to interleaved RGB. `Ok(None)`: valid but a kind this
/// decoder leaves to the general one. `Err`: corrupt.
pub fn decode(data: &[u8]) -> Result<Option<(usize, usize, Vec<u8>)>, JpegError> {
    let Some(frame) = decode_frame(data)? else {
        return Ok(None);
    };
    Ok(Some(to_rgb(&frame)))
}

fn decode_frame(d: &[u8]) -> Result<Option<Frame>, JpegError> {
    if d.len() < 4 || d[0] != 0xFF || d[1] != 0xD8 {
        return Err(JpegError::NoSoi);
    }
    let mut qt = [[0i32; 64]; 4];
    let mut dc: [Option<Huffman>; 4] = Default::default();
    let mut ac: [Option<Huffman>; 4] = Default::default();
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0usize;
    let mut p = 2;
    loop {
        // Skip fill bytes up to a marker.
        while p < d.len() && d[p] != 0xFF {
            p += 1;
        }
        while p < d.len() && d[p] == 0xFF {
            p += 1;
        }
        let Some(&marker) = d.get(p) else {
            return Err(JpegError::NoEoi);
        };
        p += 1;
        match marker {
            0xD9 => break,
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        let len = u16_at(d, p)?;
        let seg = d
            .get(p + 2..p + len)
            .ok_or(JpegError::TruncatedSegment("segment"))?;
        if len < 2 {
            return Err(JpegError::SegmentLength);
        }
        p += len;
        match marker {
            0xDB => {
                let mut s = seg;
                while !s.is_empty() {
                    let (pq, tq) = ((s[0] >> 4) as usize, (s[0] & 15) as usize);
                    if tq > 3 {
                        return Err(JpegError::QuantTableId);
                    }
                    let n = if pq == 0 { 64 } else { 128 };
                    let body = s.get(1..1 + n).ok_or(JpegError::TruncatedSegment("DQT"))?;
                    for k in 0..64 {
                        let v = if pq == 0 {
                            body[k] as i32
                        } else {
                            u16::from_be_bytes([body[2 * k], body[2 * k + 1]]) as i32
                        };
                        qt[tq][ZIGZAG[k]] = v;
                    }
                    s = &s[1 + n..];
                }
            }
            0xC4 => {
                let mut s = seg;
                while !s.is_empty() {
                    let (tc, th) = (s[0] >> 4, (s[0] & 15) as usize);
                    let counts: [u8; 16] = s
                        .get(1..17)
                        .ok_or(JpegError::TruncatedSegment("DHT"))?
                        .try_into()
                        .unwrap();
                    let total: usize = counts.iter().map(|&c| c as usize).sum();
                    let syms = s
                        .get(17..17 + total)
                        .ok_or(JpegError::TruncatedSegment("DHT"))?
                        .to_vec();
                    if th > 3 || tc > 1 {
                        return Err(JpegError::HuffmanTableId);
                    }
                    let h = Huffman::new(&counts, syms)?;
                    if tc == 0 {
                        dc[th] = Some(h);
                    } else {
                        ac[th] = Some(h);
                    }
                    s = &s[17 + total..];
                }
            }
            0xDD => restart_interval = u16_at(seg, 0)?,
            0xC0 | 0xC1 => {
                if seg.len() < 6 || seg[0] != 8 {
                    return Ok(None); // 12-bit or malformed: leave to the general decoder
                }
                let height = u16_at(seg, 1)?;
                let width = u16_at(seg, 3)?;
                let n = seg[5] as usize;
                check_pixels(width, height)?;
                if n != 1 && n != 3 {
                    return Ok(None);
                }
                let mut comps = Vec::new();
                for i in 0..n {
                    let c = seg
                        .get(6 + 3 * i..9 + 3 * i)
                        .ok_or(JpegError::TruncatedSegment("SOF"))?;
                    let (h, v) = ((c[1] >> 4) as usize, (c[1] & 15) as usize);
                    if !(1..=4).contains(&h) || !(1..=4).contains(&v) || c[2] > 3 {
                        return Err(JpegError::Sampling);
                    }
                    comps.push(Component {
                        id: c[0],
                        h,
                        v,
                        tq: c[2] as usize,
                        plane: Vec::new(),
                        stride: 0,
                        width: 0,
                        height: 0,
                    });
                }
                let hmax = comps.iter().map(|c| c.h).max().unwrap();
                let vmax = comps.iter().map(|c| c.v).max().unwrap();
                let mcux = width.div_ceil(8 * hmax);
                let mcuy = height.div_ceil(8 * vmax);
                for c in &mut comps {
                    c.width = (width * c.h).div_ceil(hmax);
                    c.height = (height * c.v).div_ceil(vmax);
                    c.stride = mcux * c.h * 8;
                }
                // Every block costs at least 2 bits of coded data (a DC code and
                // an end-of-block code, each at least 1 bit). Checked before the
                // planes are allocated: the zero fill past a marker would
                // otherwise decode a 953-byte file declaring 8211x23819 as
                // 3 M blocks, ~800 MB and over 10 s (found by fuzzing).
                let blocks: usize = comps
                    .iter()
                    .map(|c| c.width.div_ceil(8) * c.height.div_ceil(8))
                    .sum();
                let left = d.len() - p;
                if blocks.div_ceil(4) > left {
                    return Err(JpegError::CodedData {
                        width,
                        height,
                        need: blocks.div_ceil(4),
                        left,
                    });
                }
                for c in &mut comps {
                    c.plane = vec![0; c.stride * mcuy * c.v * 8];
                }
                frame = Some(Frame {
                    width,
                    height,
                    hmax,
                    vmax,
                    comps,
                });
            }
            // Progressive, lossless, arithmetic, hierarchical: not ours.
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return Ok(None),
            0xEE if seg.len() >= 12 && &seg[..5] == b"Adobe" && seg[11] == 0 => {
                return Ok(None); // Adobe: components are RGB, not YCbCr
            }
            0xDA => {
                let f = frame.as_mut().ok_or(JpegError::ScanBeforeFrame)?;
                let ns = *seg.first().ok_or(JpegError::TruncatedSegment("SOS"))? as usize;
                let mut scan = Vec::new();
                for i in 0..ns {
                    let s = seg
                        .get(1 + 2 * i..3 + 2 * i)
                        .ok_or(JpegError::TruncatedSegment("SOS"))?;
                    let ci = f
                        .comps
                        .iter()
                        .position(|c| c.id == s[0])
                        .ok_or(JpegError::UnknownComponent)?;
                    let (td, ta) = ((s[1] >> 4) as usize, (s[1] & 15) as usize);
                    let dct = dc
                        .get(td)
                        .and_then(|h| h.clone())
                        .ok_or(JpegError::MissingTable("DC"))?;
                    let act = ac
                        .get(ta)
                        .and_then(|h| h.clone())
                        .ok_or(JpegError::MissingTable("AC"))?;
                    scan.push((ci, dct, act));
                }
                let used = decode_scan(f, &qt, &scan, restart_interval, &d[p..])?;
                p += used;
            }
            _ => {} // APPn, COM, ...
        }
    }
    match frame {
        Some(f) => Ok(Some(f)),
        None => Err(JpegError::NoFrame),
    }
}

/// Decode one baseline scan into the component planes; returns bytes consumed.
fn decode_scan(
    f: &mut Frame,
    qt: &[[i32; 64]; 4],
    scan: &[(usize, Huffman, Huffman)],
    restart_interval: usize,
    data: &[u8],
) -> Result<usize, JpegError> {
    let mut bits = Bits::new(data);
    let mut pred = vec![0i32; scan.len()];
    let mut coef = [0i32; 64];
    let sampling: Vec<(usize, usize)> = scan
        .iter()
        .map(|(ci, _, _)| (f.comps[*ci].h, f.comps[*ci].v))
        .collect();
    // Non-interleaved scans cover only the component's own blocks.
    let (mcux, mcuy) = if scan.len() == 1 {
        let c = &f.comps[scan[0].0];
        (c.width.div_ceil(8), c.height.div_ceil(8))
    } else {
        (f.width.div_ceil(8 * f.hmax), f.height.div_ceil(8 * f.vmax))
    };
    let mut block = |bits: &mut Bits, si: usize, bx: usize, by: usize, pred: &mut [i32]| {
        let (ci, dct, act) = &scan[si];
        coef.fill(0);
        let s = bits.decode(dct)? as u32;
        if s > 11 {
            return Err(JpegError::DcCoefficient);
        }
        pred[si] = pred[si].wrapping_add(bits.receive_extend(s));
        let q = &qt[f.comps[*ci].tq];
        // libjpeg stores coefficients as 16-bit JCOEF before dequantising.
        coef[0] = (pred[si] as i16) as i32 * q[0];
        let mut k = 1;
        while k < 64 {
            let rs = bits.decode(act)?;
            let (r, s) = ((rs >> 4) as usize, (rs & 15) as u32);
            if s == 0 {
                if r == 15 {
                    k += 16;
                    continue;
                }
                break;
            }
            k += r;
            if k > 63 {
                return Err(JpegError::AcIndex);
            }
            coef[ZIGZAG[k]] = (bits.receive_extend(s) as i16) as i32 * q[ZIGZAG[k]];
            k += 1;
        }
        let c = &mut f.comps[*ci];
        let off = by * 8 * c.stride + bx * 8;
        idct_islow(&coef, &mut c.plane[off..], c.stride);
        Ok(())
    };
    let mut count = 0usize;
    for my in 0..mcuy {
        for mx in 0..mcux {
            if restart_interval > 0 && count > 0 && count.is_multiple_of(restart_interval) {
                bits.restart();
                pred.fill(0);
            }
            count += 1;
            if scan.len() == 1 {
                block(&mut bits, 0, mx, my, &mut pred)?;
            } else {
                for (si, &(h, v)) in sampling.iter().enumerate() {
                    for y in 0..v {
                        for x in 0..h {
                            block(&mut bits, si, mx * h + x, my * v + y, &mut pred)?;
                        }
                    }
                }
            }
        }
    }
    Ok(bits.pos)
}

/// A component upsampled to the full image size the way libjpeg's default
/// ("fancy") upsampler does it, with its alternating rounding biases.
fn upsample(f: &Frame, c: &Component) -> Vec<u8> {
    let (w, h) = (f.width, f.height);
    let (cw, ch) = (c.width, c.height);
    let at = |x: usize, y: usize| c.plane[y * c.stride + x] as i32;
    let mut out = vec![0u8; w * h];
    let (fx, fy) = (f.hmax / c.h, f.vmax / c.v);
    let exact_x = f.hmax.is_multiple_of(c.h);
    let exact_y = f.vmax.is_multiple_of(c.v);
    if fx == 1 && fy == 1 && exact_x && exact_y {
        for y in 0..h {
            for x in 0..w {
                out[y * w + x] = at(x, y) as u8;
            }
        }
        return out;
    }
    // Output rows for input row r (`row` holds the full-width result).
    let mut row = vec![0u8; 2 * cw + 2];
    if fx == 2 && fy == 1 && cw > 2 && exact_x && exact_y {
        for y in 0..h.min(ch) {
            h2v1_row(&|x| at(x, y), cw, &mut row);
            out[y * w..y * w + w].copy_from_slice(&row[..w]);
        }
        return out;
    }
    if fx == 2 && fy == 2 && cw > 2 && exact_x && exact_y {
        for r in 0..ch {
            for v in 0..2 {
                let y = 2 * r + v;
                if y >= h {
                    break;
                }
                let far = if v == 0 {
                    r.saturating_sub(1)
                } else {
                    (r + 1).min(ch - 1)
                };
                let (bias_even, bias_odd) = (8, 7);
                let colsum = |x: usize| at(x, r) * 3 + at(x, far);
                let mut this = colsum(0);
                let mut next = colsum(1);
                row[0] = ((this * 4 + bias_even) >> 4) as u8;
                row[1] = ((this * 3 + next + bias_odd) >> 4) as u8;
                let mut last = this;
                this = next;
                for x in 1..cw - 1 {
                    next = colsum(x + 1);
                    row[2 * x] = ((this * 3 + last + bias_even) >> 4) as u8;
                    row[2 * x + 1] = ((this * 3 + next + bias_odd) >> 4) as u8;
                    last = this;
                    this = next;
                }
                row[2 * cw - 2] = ((this * 3 + last + bias_even) >> 4) as u8;
                row[2 * cw - 1] = ((this * 4 + bias_odd) >> 4) as u8;
                out[y * w..y * w + w].copy_from_slice(&row[..w]);
            }
        }
        return out;
    }
    if fx == 1 && fy == 2 && exact_x && exact_y {
        for r in 0..ch {
            for v in 0..2 {
                let y = 2 * r + v;
                if y >= h {
                    break;
                }
                let (far, bias) = if v == 0 {
                    (r.saturating_sub(1), 1)
                } else {
                    ((r + 1).min(ch - 1), 2)
                };
                for x in 0..w {
                    out[y * w + x] = ((at(x, r) * 3 + at(x, far) + bias) >> 2) as u8;
                }
            }
        }
        return out;
    }
    // Anything else: libjpeg's box replication (int_upsample / h2v1_upsample).
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = at(
                (x * c.h / f.hmax).min(cw - 1),
                (y * c.v / f.vmax).min(ch - 1),
            ) as u8;
        }
    }
    out
}

/// `h2v1_fancy_upsample` for one row of `cw` samples.
fn h2v1_row(at: &dyn Fn(usize) -> i32, cw: usize, row: &mut [u8]) {
    row[0] = at(0) as u8;
    row[1] = ((at(0) * 3 + at(1) + 2) >> 2) as u8;
    for x in 1..cw - 1 {
        let v = at(x) * 3;
        row[2 * x] = ((v + at(x - 1) + 1) >> 2) as u8;
        row[2 * x + 1] = ((v + at(x + 1) + 2) >> 2) as u8;
    }
    row[2 * cw - 2] = ((at(cw - 1) * 3 + at(cw - 2) + 1) >> 2) as u8;
    row[2 * cw - 1] = at(cw - 1) as u8;
}

/// libjpeg's YCbCr -> RGB (jdcolor.c tables, 16-bit fixed point), or grey.
fn to_rgb(f: &Frame) -> (usize, usize, Vec<u8>) {
    let (w, h) = (f.width, f.height);
    let planes: Vec<Vec<u8>> = f.comps.iter().map(|c| upsample(f, c)).collect();
    let mut out = vec![0u8; w * h * 3];
    if planes.len() == 1 {
        for (o, &y) in out.chunks_exact_mut(3).zip(&planes[0]) {
            o.fill(y);
        }
        return (w, h, out);
    }
    const SB: u32 = 16;
    const HALF: i64 = 1 << (SB - 1);
    let fix = |x: f64| (x * (1i64 << SB) as f64 + 0.5) as i64;
    let mut cr_r = [0i32; 256];
    let mut cb_b = [0i32; 256];
    let mut cr_g = [0i64; 256];
    let mut cb_g = [0i64; 256];
    for i in 0..256 {
        let x = i as i64 - 128;
        cr_r[i] = ((fix(1.40200) * x + HALF) >> SB) as i32;
        cb_b[i] = ((fix(1.77200) * x + HALF) >> SB) as i32;
        cr_g[i] = -fix(0.71414) * x;
        cb_g[i] = -fix(0.34414) * x + HALF;
    }
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    for i in 0..w * h {
        let y = planes[0][i] as i32;
        let cb = planes[1][i] as usize;
        let cr = planes[2][i] as usize;
        out[3 * i] = clamp(y + cr_r[cr]);
        out[3 * i + 1] = clamp(y + ((cb_g[cb] + cr_g[cr]) >> SB) as i32);
        out[3 * i + 2] = clamp(y + cb_b[cb]);
    }
    (w, h, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idct_of_dc_only_block_is_flat() {
        // DC 80 (dequantised) -> pass 1: 80 << 2 = 320; pass 2: (320 + 16) >> 5 = 10 -> 138.
        let mut c = [0i32; 64];
        c[0] = 80;
        let mut out = [0u8; 64];
        idct_islow(&c, &mut out, 8);
        assert!(out.iter().all(|&v| v == 138), "{out:?}");
    }

    #[test]
    fn range_limit_wraps_like_libjpeg() {
        assert_eq!(range_limit(0), 128);
        assert_eq!(range_limit(-128), 0);
        assert_eq!(range_limit(127), 255);
        assert_eq!(range_limit(300), 255);
        assert_eq!(range_limit(-300), 0);
    }

    #[test]
    fn h2v1_fancy_weights() {
        let src = [0, 40, 80];
        let mut row = [0u8; 6];
        h2v1_row(&|x| src[x], 3, &mut row);
        // 0 | (0*3+40+2)>>2=10 | (120+0+1)>>2=30 | (120+80+2)>>2=50 | (240+40+1)>>2=70 | 80
        assert_eq!(row, [0, 10, 30, 50, 70, 80]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"nope").is_err());
        let mut d = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, 0, 16, 0, 16, 3];
        d.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        d.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x0C, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0]);
        d.extend_from_slice(&[0x12, 0x34]);
        assert!(decode(&d).is_err()); // scan without Huffman tables
        d.truncate(9);
        assert!(decode(&d).is_err());
    }

    /// Found by fuzzing: a frame header declaring far more blocks than the
    /// rest of the file can code (2 bits each at least) is refused before its
    /// planes are allocated, not decoded from zero fill for seconds.
    #[test]
    fn frame_larger_than_its_coded_data_is_an_error() {
        let header = |h: u16, w: u16, tail: usize| {
            let mut d = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8];
            d.extend_from_slice(&h.to_be_bytes());
            d.extend_from_slice(&w.to_be_bytes());
            d.extend_from_slice(&[1, 1, 0x11, 0]);
            d.resize(d.len() + tail, 0);
            d.extend_from_slice(&[0xFF, 0xD9]);
            d
        };
        // 8192x8192 grey: 1 M blocks need 262,144 bytes; 2 + 100 are left.
        let e = decode(&header(8192, 8192, 100)).err().unwrap();
        assert!(e.to_string().contains("needs at least 262144 bytes"), "{e}");
        // 16x16 grey: 4 blocks fit in the 2 bytes left.
        if let Err(e) = decode(&header(16, 16, 0)) {
            assert!(!e.to_string().contains("needs at least"), "{e}");
        }
        // The fuzzer's file (8211x23819, 953 bytes) fails the same way.
        let found = include_bytes!("../../fuzz/regressions/jpeg/giant-frame-zero-fill.jpg");
        let e = decode(found).err().unwrap();
        assert!(matches!(e, JpegError::CodedData { .. }), "{e}");
    }

    /// Found by fuzzing: three 1-bit codes (only two exist) indexed past the
    /// lookup table before the table was found invalid.
    #[test]
    fn over_subscribed_huffman_table_is_an_error() {
        let mut counts = [0u8; 16];
        counts[0] = 3;
        assert!(Huffman::new(&counts, vec![1, 2, 3]).is_err());
        // One 1-bit code leaves two 2-bit codes, not three.
        counts[0] = 1;
        counts[1] = 3;
        assert!(Huffman::new(&counts, vec![0; 4]).is_err());
        // A full but valid length is fine: two 1-bit codes.
        let mut counts = [0u8; 16];
        counts[0] = 2;
        assert!(Huffman::new(&counts, vec![1, 2]).is_ok());
    }
}
