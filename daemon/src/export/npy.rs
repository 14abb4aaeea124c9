//! A writer for NumPy's `.npy` format, version 1.0: the magic
//! `\x93NUMPY`, the version bytes, a little-endian u16 header length, a
//! Python dict literal (`descr`, `fortran_order`, `shape`) padded with
//! spaces and a newline so the data starts on a 64-byte boundary, then
//! the values in C order. `numpy.load` reads it back.

use std::io::Write;
use std::path::Path;

use anyhow::{ensure, Context, Result};

use crate::atomic::write_atomically;

/// The element types funkd writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// Little-endian f32 (`<f4`).
    F32,
    /// Little-endian f64 (`<f8`).
    F64,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }
}

/// The complete `.npy` header (magic to padding) for an array of `dtype`
/// with `shape` in C order.
pub fn header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}",
        dtype.descr()
    );
    const PREAMBLE: usize = 10; // magic (6) + version (2) + length (2)
    let unpadded = PREAMBLE + dict.len() + 1;
    dict.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    dict.push('\n');
    let mut out = Vec::with_capacity(PREAMBLE + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    // A header of a few dozen characters always fits the u16 of v1.0.
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes an f32 array of `shape` atomically; `values` must yield exactly
/// the product of `shape` values, in C order.
pub fn write_f32(
    path: &Path,
    shape: &[usize],
    values: impl IntoIterator<Item = f32>,
) -> Result<()> {
    write_values(
        path,
        Dtype::F32,
        shape,
        values.into_iter().map(|v| v.to_le_bytes()),
    )
}

/// Writes an f64 array of `shape` atomically (see [`write_f32`]).
pub fn write_f64(
    path: &Path,
    shape: &[usize],
    values: impl IntoIterator<Item = f64>,
) -> Result<()> {
    write_values(
        path,
        Dtype::F64,
        shape,
        values.into_iter().map(|v| v.to_le_bytes()),
    )
}

fn write_values<const N: usize>(
    path: &Path,
    dtype: Dtype,
    shape: &[usize],
    values: impl Iterator<Item = [u8; N]>,
) -> Result<()> {
    let expected: usize = shape.iter().product();
    write_atomically(path, |w| {
        let io = || format!("cannot write {}", path.display());
        w.write_all(&header(dtype, shape)).with_context(io)?;
        let mut written = 0usize;
        for bytes in values {
            w.write_all(&bytes).with_context(io)?;
            written += 1;
        }
        ensure!(
            written == expected,
            "{}: {written} values for an array of shape {shape:?}",
            path.display()
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_64_byte_aligned_and_spells_the_shape() {
        for shape in [&[3usize, 4][..], &[7][..], &[][..], &[480_189, 256][..]] {
            let h = header(Dtype::F32, shape);
            assert_eq!(h.len() % 64, 0, "{shape:?}");
            assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
            let len = u16::from_le_bytes([h[8], h[9]]) as usize;
            assert_eq!(len + 10, h.len());
            assert_eq!(*h.last().unwrap(), b'\n');
        }
        let h = String::from_utf8(header(Dtype::F64, &[5])[10..].to_vec()).unwrap();
        assert!(
            h.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }"),
            "{h}"
        );
        let h = String::from_utf8(header(Dtype::F32, &[2, 3])[10..].to_vec()).unwrap();
        assert!(h.contains("'shape': (2, 3)"), "{h}");
    }

    #[test]
    fn values_follow_the_header_little_endian() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        write_f32(&path, &[2, 2], [1.0, 2.0, 3.0, -0.5]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let start = header(Dtype::F32, &[2, 2]).len();
        assert_eq!(bytes.len(), start + 16);
        assert_eq!(&bytes[start..start + 4], &1.0f32.to_le_bytes());
        assert_eq!(&bytes[start + 12..], &(-0.5f32).to_le_bytes());
    }

    #[test]
    fn a_value_count_that_disagrees_with_the_shape_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        assert!(write_f64(&path, &[3], [1.0, 2.0]).is_err());
        assert!(!path.exists());
    }
}
