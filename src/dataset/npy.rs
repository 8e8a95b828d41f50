//! A minimal `.npy` reader (format versions 1-3, little-endian f32, i8, u8, C order):
//! enough for preprocessed samples and reference tensors.
//! The tract branch has its own `src/npy.rs`; the lead may unify the two at merge.

use std::path::Path;

use super::{DatasetError, Tensor, TensorData};

/// Read one `.npy` file into a [`Tensor`].
pub fn read(path: &Path) -> Result<Tensor, DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes).map_err(|why| DatasetError::Format {
        path: path.to_owned(),
        why: format!("not a supported .npy file: {why}"),
    })
}

/// Parse `.npy` bytes; the error says what is wrong, the caller adds the path.
pub fn parse(bytes: &[u8]) -> Result<Tensor, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("missing the \\x93NUMPY magic".into());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported format version {v}")),
    };
    let header = bytes
        .get(start..start + hlen)
        .ok_or("header runs past the end of the file")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = dict_value(header, "descr").ok_or("header has no 'descr'")?;
    let quote = descr.chars().next().filter(|c| *c == '\'' || *c == '"');
    let descr = quote
        .and_then(|q| descr[1..].split(q).next())
        .ok_or("malformed 'descr'")?;
    if dict_value(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err("Fortran-order arrays are not supported".into());
    }
    let shape_txt = dict_value(header, "shape").ok_or("header has no 'shape'")?;
    let inner = shape_txt
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("malformed 'shape'")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension {s:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count: usize = shape.iter().product();
    let body = &bytes[start + hlen..];
    let data = match descr {
        "<f4" => {
            let raw = body
                .get(..count * 4)
                .ok_or("data shorter than the shape says")?;
            TensorData::F32(
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
        "|i1" | "i1" | "<i1" => {
            let raw = body
                .get(..count)
                .ok_or("data shorter than the shape says")?;
            TensorData::I8(raw.iter().map(|&b| b as i8).collect())
        }
        "|u1" | "u1" | "<u1" => {
            let raw = body
                .get(..count)
                .ok_or("data shorter than the shape says")?;
            TensorData::U8(raw.to_vec())
        }
        other => return Err(format!("unsupported dtype {other:?} (f4, i1, u1 only)")),
    };
    Ok(Tensor {
        shape,
        data,
        quant: None,
    })
}

/// The raw text of `'key': VALUE` in numpy's Python-literal header.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[at + key.len() + 2..];
    Some(rest.trim_start().strip_prefix(':')?.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn reads_f32_i8_u8() {
        let body: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = parse(&npy("<f4", "(1, 2)", &body)).unwrap();
        assert_eq!(t.shape, vec![1, 2]);
        assert_eq!(t.data, TensorData::F32(vec![1.5, -2.0]));
        let t = parse(&npy("|i1", "(3,)", &[255, 0, 7])).unwrap();
        assert_eq!(t.data, TensorData::I8(vec![-1, 0, 7]));
        let t = parse(&npy("|u1", "()", &[9])).unwrap();
        assert_eq!((t.shape.len(), t.data), (0, TensorData::U8(vec![9])));
    }

    #[test]
    fn rejects_bad_files() {
        assert!(parse(b"not numpy at all").unwrap_err().contains("magic"));
        assert!(
            parse(&npy("<f8", "(1,)", &[0; 8]))
                .unwrap_err()
                .contains("dtype")
        );
        assert!(
            parse(&npy("<f4", "(4,)", &[0; 8]))
                .unwrap_err()
                .contains("shorter")
        );
        let mut short = npy("<f4", "(1,)", &[0; 4]);
        short.truncate(20);
        assert!(parse(&short).is_err());
    }
}
