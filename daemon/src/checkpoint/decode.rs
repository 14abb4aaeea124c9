//! Reading a checkpoint: the checksum first, then every field, every
//! length checked against the settings before anything is allocated.

use std::path::{Path, PathBuf};

use funk_kernel::{LearningRate, ModelKind};

use super::format::{
    Checkpoint, HoldOut, Method, Parameters, Progress, Settings, ISA_NAME_BYTES, MAGIC,
    OLDEST_VERSION, VERSION,
};
use super::CheckpointError;

impl Checkpoint {
    /// Reads a checkpoint from its bytes, checking the checksum first and
    /// every length against the settings. `path` only names the file in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Checkpoint, CheckpointError> {
        let mut r = Reader {
            bytes,
            pos: 0,
            path,
            size: bytes.len() as u64,
        };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(CheckpointError::NotACheckpoint {
                path: path.to_path_buf(),
            });
        }
        r.pos = MAGIC.len();
        let version = r.u32("version")?;
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(CheckpointError::Version {
                path: path.to_path_buf(),
                found: version,
            });
        }
        let body_len = bytes
            .len()
            .checked_sub(8)
            .filter(|&n| n >= r.pos)
            .ok_or_else(|| r.truncated("checksum", 0))?;
        let mut stored = [0u8; 8];
        stored.copy_from_slice(&bytes[body_len..]);
        let stored = u64::from_le_bytes(stored);
        let computed = crate::courtesy::xxh3_64(&bytes[..body_len]);
        if stored != computed {
            // A file cut short fails its checksum too (its last 8 bytes are
            // not the checksum); say so when its own fields run past its end.
            let mut whole = Reader {
                bytes,
                pos: r.pos,
                path,
                size: r.size,
            };
            match whole.body(version) {
                Err(e @ CheckpointError::Truncated { .. }) => return Err(e),
                Ok(_) if bytes.len() - whole.pos < CHECKSUM_BYTES as usize => {
                    return Err(whole.truncated("checksum", 0))
                }
                _ => {}
            }
            return Err(CheckpointError::Checksum {
                path: path.to_path_buf(),
                stored,
                computed,
            });
        }
        r.bytes = &bytes[..body_len];
        let checkpoint = r.body(version)?;
        if r.pos != r.bytes.len() {
            return Err(r.invalid(format!(
                "{} unexpected bytes after the parameters",
                r.bytes.len() - r.pos
            )));
        }
        Ok(checkpoint)
    }
}

impl Reader<'_> {
    /// Every field after the version, up to the checksum (the caller
    /// checks that nothing follows).
    fn body(&mut self, version: u32) -> Result<Checkpoint, CheckpointError> {
        let r = self;

        let kind = match r.u8("model kind")? {
            0 => ModelKind::Plain,
            1 => ModelKind::Biased,
            other => return Err(r.invalid(format!("unknown model kind {other}"))),
        };
        let method = match r.u8("method")? {
            0 => Method::Sgd,
            1 => Method::Gd,
            other => return Err(r.invalid(format!("unknown method {other}"))),
        };
        let schedule_tag = r.u8("schedule")?;
        let decay = r.f32("decay")?;
        let schedule = match schedule_tag {
            0 => LearningRate::Constant,
            1 => LearningRate::Decay { decay },
            2 => LearningRate::Adaptive,
            other => return Err(r.invalid(format!("unknown schedule {other}"))),
        };
        let rank = r.u32("rank")?;
        let k = r.u32("k")?;
        let users = r.u64("users")?;
        let items = r.u64("items")?;
        let grid = r.u32("grid")?;
        let base_learning_rate = r.f32("base learning rate")?;
        let learning_rate = r.f32("learning rate")?;
        let reg = r.f32("reg")?;
        let reg_bias = r.f32("reg bias")?;
        let seed = r.u64("seed")?;
        let data_identity = r.u64("data identity")?;
        let isa_bytes = r.take(ISA_NAME_BYTES, "isa name")?;
        let isa_len = isa_bytes
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(ISA_NAME_BYTES);
        let isa = String::from_utf8_lossy(&isa_bytes[..isa_len]).into_owned();
        let epochs = r.u32("epochs")?;
        let early_stop = r.u32("early stop")?;
        let (validation, reg_row) = if version >= 2 {
            (r.f32("validation fraction")?, r.f32("row prior")?)
        } else {
            (0.0, 0.0)
        };
        let hold_out = if version >= 3 {
            match r.u8("hold-out rule")? {
                0 => HoldOut::OriginalIds,
                1 => HoldOut::InternalIds,
                other => return Err(r.invalid(format!("unknown hold-out rule {other}"))),
            }
        } else {
            HoldOut::InternalIds
        };
        let settings = Settings {
            kind,
            method,
            schedule,
            rank,
            k,
            users,
            items,
            grid,
            base_learning_rate,
            learning_rate,
            reg,
            reg_bias,
            seed,
            data_identity,
            isa,
            epochs,
            early_stop,
            validation,
            reg_row,
            hold_out,
        };
        if rank == 0 || k < rank || k % 16 != 0 {
            return Err(r.invalid(format!("rank {rank} does not fit rows of {k}")));
        }

        let progress = Progress {
            epoch: r.u32("epoch")?,
            stratum: r.u32("stratum")?,
            backoffs: r.u32("back-offs")?,
            partial_sse: r.f64("partial sse")?,
            partial_count: r.u64("partial count")?,
            updates: r.u64("updates")?,
            train_rmse: r.f64s("train rmse history")?,
            test_rmse: r.f64s("test rmse history")?,
            validation_rmse: if version >= 2 {
                r.f64s("validation rmse history")?
            } else {
                Vec::new()
            },
        };
        let params = r.params(&settings, "parameters")?;
        let epoch_start = match r.u8("restore flag")? {
            0 => None,
            1 => Some(r.params(&settings, "epoch-start parameters")?),
            other => return Err(r.invalid(format!("unknown restore flag {other}"))),
        };
        let best = if version >= 2 {
            match r.u8("best flag")? {
                0 => None,
                1 => Some(r.params(&settings, "best parameters")?),
                other => return Err(r.invalid(format!("unknown best flag {other}"))),
            }
        } else {
            None
        };
        Ok(Checkpoint {
            settings,
            progress,
            params,
            epoch_start,
            best,
        })
    }
}

/// The checksum's bytes at the end of a checkpoint.
const CHECKSUM_BYTES: u64 = 8;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
    /// The size of the whole file.
    size: u64,
}

impl<'a> Reader<'a> {
    /// The file ends before the `bytes` of field `what` at the current
    /// position (and the checksum after everything).
    fn truncated(&self, what: &'static str, bytes: u64) -> CheckpointError {
        CheckpointError::Truncated {
            path: self.path.to_path_buf(),
            what,
            offset: self.pos as u64,
            size: self.size,
            needed: (self.pos as u64)
                .saturating_add(bytes)
                .saturating_add(CHECKSUM_BYTES),
        }
    }
    fn invalid(&self, what: String) -> CheckpointError {
        CheckpointError::Invalid {
            path: PathBuf::from(self.path),
            offset: self.pos as u64,
            what,
        }
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CheckpointError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.truncated(what, n as u64))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CheckpointError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, CheckpointError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, CheckpointError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, CheckpointError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn f32(&mut self, what: &'static str) -> Result<f32, CheckpointError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }
    fn f64(&mut self, what: &'static str) -> Result<f64, CheckpointError> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }
    fn len(&mut self, elem: usize, what: &'static str) -> Result<usize, CheckpointError> {
        let n = self.u64(what)?;
        let remaining = (self.bytes.len() - self.pos) as u64;
        let bytes = n.checked_mul(elem as u64);
        if bytes.is_none_or(|b| b > remaining) {
            return Err(self.truncated(what, bytes.unwrap_or(u64::MAX)));
        }
        Ok(n as usize)
    }
    fn f64s(&mut self, what: &'static str) -> Result<Vec<f64>, CheckpointError> {
        let n = self.len(8, what)?;
        (0..n).map(|_| self.f64(what)).collect()
    }
    fn f32s(
        &mut self,
        expected: &[usize],
        what: &'static str,
    ) -> Result<Vec<f32>, CheckpointError> {
        // The count is checked against the settings before the file's
        // length: a damaged count is invalid, not a sign of truncation.
        let n = self.u64(what)?;
        let Some(n) = usize::try_from(n).ok().filter(|n| expected.contains(n)) else {
            let expected: Vec<String> = expected.iter().map(usize::to_string).collect();
            return Err(self.invalid(format!(
                "{what}: {n} values, expected {}",
                expected.join(" or ")
            )));
        };
        let raw = self.take(n * 4, what)?;
        // In pieces, with a pause point after each (crate::courtesy).
        let mut values = Vec::with_capacity(n);
        for piece in raw.chunks(crate::courtesy::BYTES_BETWEEN_PAUSES) {
            values.extend(
                piece
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
            crate::courtesy::pause_point();
        }
        Ok(values)
    }
    fn params(&mut self, s: &Settings, what: &'static str) -> Result<Parameters, CheckpointError> {
        let too_big = || {
            self.invalid(format!(
                "{what}: {} users × {} items × k {} overflows",
                s.users, s.items, s.k
            ))
        };
        let users = usize::try_from(s.users).map_err(|_| too_big())?;
        let items = usize::try_from(s.items).map_err(|_| too_big())?;
        let k = s.k as usize;
        let uf = users.checked_mul(k).ok_or_else(too_big)?;
        let itf = items.checked_mul(k).ok_or_else(too_big)?;
        let adaptive = matches!(s.schedule, LearningRate::Adaptive);
        let (u_acc, i_acc) = if adaptive { (users, items) } else { (0, 0) };
        Ok(Parameters {
            mu: self.f32("mu")?,
            user_bias: self.f32s(&[users], "user biases")?,
            item_bias: self.f32s(&[items], "item biases")?,
            user_grad_sq: self.f32s(&[u_acc], "user accumulators")?,
            item_grad_sq: self.f32s(&[i_acc], "item accumulators")?,
            user_factors: self.f32s(&[uf], "user factors")?,
            item_factors: self.f32s(&[itf], "item factors")?,
        })
    }
}
