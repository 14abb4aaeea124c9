//! Integer ids numbered in order of first appearance, as `funkd import`
//! numbers the ids of a text file: one pass over the column with a hash
//! map, and each distinct id written in decimal (the text a file would
//! hold), without a Python object per rating.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::errors::usage;

/// Numbers the ids of `ids` in order of first appearance. Returns each
/// id's number (`uint32`) and the decimal text of the distinct ids, in
/// number order.
#[pyfunction]
pub fn number_ints<'py>(
    py: Python<'py>,
    ids: PyReadonlyArray1<'py, i64>,
) -> PyResult<(Bound<'py, PyArray1<u32>>, Vec<String>)> {
    let ids = ids.as_array();
    let numbered = py.detach(|| number(ids.iter().copied()));
    let (codes, distinct) = numbered.ok_or_else(|| {
        usage(format!(
            "more than {} distinct ids: a rating file numbers them with 32 bits",
            u32::MAX
        ))
    })?;
    let names = distinct.iter().map(i64::to_string).collect();
    Ok((codes.into_pyarray(py), names))
}

/// Each id's number and the distinct ids in number order; `None` beyond
/// `u32::MAX` distinct ids.
fn number(ids: impl ExactSizeIterator<Item = i64>) -> Option<(Vec<u32>, Vec<i64>)> {
    let mut numbers: HashMap<i64, u32, BuildHasherDefault<IntHasher>> = HashMap::default();
    let mut distinct = Vec::new();
    let mut codes = Vec::with_capacity(ids.len());
    for id in ids {
        let code = match numbers.get(&id) {
            Some(&code) => code,
            None => {
                let code = u32::try_from(distinct.len()).ok()?;
                numbers.insert(id, code);
                distinct.push(id);
                code
            }
        };
        codes.push(code);
    }
    Some((codes, distinct))
}

/// A hasher for one integer key: MurmurHash3's 64-bit finaliser, which
/// spreads every input bit over the bits hashbrown takes its buckets
/// from. Ids come from the caller's own data, so hash flooding is not a
/// concern.
#[derive(Default)]
struct IntHasher(u64);

impl Hasher for IntHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_i64` is used for an `i64` key; any other input
        // still hashes, a byte at a time.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_i64(&mut self, n: i64) {
        self.0 ^= n as u64;
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}
