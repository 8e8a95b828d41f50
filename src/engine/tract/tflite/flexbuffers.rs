//! A reader for the FlexBuffers maps that MediaPipe's custom ops keep their
//! options in: string keys to integers, floats, booleans and vectors of those.
//! Every read is bounds-checked; a malformed buffer is an error, never a panic.

use super::rewrite_error::FlexError;

/// One value of an options map.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Vector(Vec<Value>),
    /// Strings, blobs, nested maps: not used by the options read here.
    Other,
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_i64_vec(&self) -> Option<Vec<i64>> {
        match self {
            Value::Vector(v) => v.iter().map(Value::as_i64).collect(),
            _ => None,
        }
    }
}

type R<T> = Result<T, FlexError>;

fn bytes(b: &[u8], pos: usize, width: usize) -> R<&[u8]> {
    b.get(pos..pos.checked_add(width).ok_or("offset overflow")?)
        .ok_or_else(|| format!("read of {width} bytes at {pos} past the end ({})", b.len()).into())
}

fn uint(b: &[u8], pos: usize, width: usize) -> R<u64> {
    let s = bytes(b, pos, width)?;
    Ok(match width {
        1 => s[0] as u64,
        2 => u16::from_le_bytes([s[0], s[1]]) as u64,
        4 => u32::from_le_bytes(s.try_into().unwrap()) as u64,
        8 => u64::from_le_bytes(s.try_into().unwrap()),
        w => return Err(format!("byte width {w}").into()),
    })
}

fn int(b: &[u8], pos: usize, width: usize) -> R<i64> {
    let u = uint(b, pos, width)?;
    let shift = 64 - 8 * width as u32;
    Ok(((u << shift) as i64) >> shift)
}

fn float(b: &[u8], pos: usize, width: usize) -> R<f64> {
    let s = bytes(b, pos, width)?;
    Ok(match width {
        4 => f32::from_le_bytes(s.try_into().unwrap()) as f64,
        8 => f64::from_le_bytes(s.try_into().unwrap()),
        w => return Err(format!("float of byte width {w}").into()),
    })
}

/// The position an offset stored at `pos` points back to.
fn indirect(b: &[u8], pos: usize, width: usize) -> R<usize> {
    let off = uint(b, pos, width)? as usize;
    pos.checked_sub(off)
        .ok_or_else(|| "offset before the buffer start".into())
}

// Type codes of the FlexBuffers format.
const INT: u8 = 1;
const UINT: u8 = 2;
const FLOAT: u8 = 3;
const KEY: u8 = 4;
const INDIRECT_INT: u8 = 6;
const INDIRECT_UINT: u8 = 7;
const INDIRECT_FLOAT: u8 = 8;
const MAP: u8 = 9;
const VECTOR: u8 = 10;
const VECTOR_INT: u8 = 11;
const VECTOR_FLOAT: u8 = 13;
const VECTOR_INT2: u8 = 16;
const VECTOR_FLOAT4: u8 = 24;
const BOOL: u8 = 26;
const VECTOR_BOOL: u8 = 36;

/// Element type and fixed length (0 = length-prefixed) of a typed vector type.
fn typed_vector(ty: u8) -> Option<(u8, usize)> {
    match ty {
        VECTOR_INT..=VECTOR_FLOAT => Some((ty - VECTOR_INT + INT, 0)),
        14 => Some((KEY, 0)),
        VECTOR_INT2..=VECTOR_FLOAT4 => {
            let k = ty - VECTOR_INT2;
            Some((k % 3 + INT, 2 + (k / 3) as usize))
        }
        VECTOR_BOOL => Some((BOOL, 0)),
        _ => None,
    }
}

/// The value stored at `pos` in a slot `width` bytes wide, of packed type `packed`.
fn value(b: &[u8], pos: usize, width: usize, packed: u8, depth: u32) -> R<Value> {
    if depth > 8 {
        return Err("nesting too deep".into());
    }
    let (ty, child_width) = (packed >> 2, 1usize << (packed & 3));
    Ok(match ty {
        0 => Value::Other,
        INT => Value::Int(int(b, pos, width)?),
        UINT | BOOL => Value::Int(uint(b, pos, width)? as i64),
        FLOAT => Value::Float(float(b, pos, width)?),
        INDIRECT_INT => Value::Int(int(b, indirect(b, pos, width)?, child_width)?),
        INDIRECT_UINT => Value::Int(uint(b, indirect(b, pos, width)?, child_width)? as i64),
        INDIRECT_FLOAT => Value::Float(float(b, indirect(b, pos, width)?, child_width)?),
        VECTOR => {
            let at = indirect(b, pos, width)?;
            let n = uint(
                b,
                at.checked_sub(child_width).ok_or("bad vector")?,
                child_width,
            )?;
            let n = usize::try_from(n).map_err(|_| "vector length")?;
            let types = at + n * child_width;
            let mut v = vec![];
            for i in 0..n {
                let t = *b.get(types + i).ok_or("vector types past the end")?;
                v.push(value(b, at + i * child_width, child_width, t, depth + 1)?);
            }
            Value::Vector(v)
        }
        _ => match typed_vector(ty) {
            Some((elem, fixed)) => {
                let at = indirect(b, pos, width)?;
                let n = if fixed > 0 {
                    fixed
                } else {
                    let p = at.checked_sub(child_width).ok_or("bad vector")?;
                    uint(b, p, child_width)? as usize
                };
                if n > b.len() {
                    return Err("vector longer than the buffer".into());
                }
                let mut v = vec![];
                for i in 0..n {
                    let p = at + i * child_width;
                    v.push(value(b, p, child_width, elem << 2, depth + 1)?);
                }
                Value::Vector(v)
            }
            None => Value::Other,
        },
    })
}

fn key_at(b: &[u8], pos: usize) -> R<String> {
    let end = b[pos.min(b.len())..]
        .iter()
        .position(|&c| c == 0)
        .ok_or("unterminated key")?;
    String::from_utf8(b[pos..pos + end].to_vec()).map_err(|_| "key is not UTF-8".into())
}

/// Reads a FlexBuffers buffer whose root is a map, as (key, value) pairs.
pub fn read_map(b: &[u8]) -> R<Vec<(String, Value)>> {
    let n = b.len();
    if n < 3 {
        return Err("buffer too short for a FlexBuffers root".into());
    }
    let (root_width, packed) = (b[n - 1] as usize, b[n - 2]);
    if !matches!(root_width, 1 | 2 | 4 | 8) || n < 2 + root_width {
        return Err(format!("root byte width {root_width}").into());
    }
    if packed >> 2 != MAP {
        return Err(format!("root of type {}, not a map", packed >> 2).into());
    }
    let root = n - 2 - root_width;
    let width = 1usize << (packed & 3);
    let at = indirect(b, root, root_width)?;
    let len_pos = at.checked_sub(width).ok_or("bad map")?;
    let len = uint(b, len_pos, width)? as usize;
    let keys_pos = at.checked_sub(3 * width).ok_or("bad map")?;
    let keys = indirect(b, keys_pos, width)?;
    let key_width = uint(b, at - 2 * width, width)? as usize;
    if !matches!(key_width, 1 | 2 | 4 | 8) || len > n {
        return Err("bad map keys".into());
    }
    let mut out = vec![];
    for i in 0..len {
        let key = key_at(b, indirect(b, keys + i * key_width, key_width)?)?;
        let t = *b
            .get(at + len * width + i)
            .ok_or("map types past the end")?;
        out.push((key, value(b, at + i * width, width, t, 0)?));
    }
    Ok(out)
}

/// `read_map`, then a lookup.
pub fn get<'m>(map: &'m [(String, Value)], key: &str) -> Option<&'m Value> {
    map.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}
