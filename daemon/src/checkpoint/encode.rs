//! Writing a checkpoint: every field in order through a hashing writer,
//! the xxh3-64 checksum last.

use std::io::Write;

use funk_kernel::{LearningRate, ModelKind};
use xxhash_rust::xxh3::Xxh3Default;

use super::format::{
    Checkpoint, CheckpointView, HoldOut, Method, ParamParts, ISA_NAME_BYTES, MAGIC, VERSION,
};

pub(super) fn kind_code(kind: ModelKind) -> u8 {
    match kind {
        ModelKind::Plain => 0,
        ModelKind::Biased => 1,
    }
}

pub(super) fn schedule_code(schedule: LearningRate) -> (u8, f32) {
    match schedule {
        LearningRate::Constant => (0, 0.0),
        LearningRate::Decay { decay } => (1, decay),
        LearningRate::Adaptive => (2, 0.0),
    }
}

/// A writer that hashes everything it writes.
struct HashingWriter<'w, W: Write> {
    inner: &'w mut W,
    hasher: Xxh3Default,
}

impl<W: Write> HashingWriter<'_, W> {
    /// Hashes and writes `b` in pieces, with a pause point after each
    /// (`crate::courtesy`): the factors are tens of MB.
    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        for piece in b.chunks(crate::courtesy::BYTES_BETWEEN_PAUSES) {
            self.hasher.update(piece);
            self.inner.write_all(piece)?;
            crate::courtesy::pause_point();
        }
        Ok(())
    }
    fn u8(&mut self, v: u8) -> std::io::Result<()> {
        self.bytes(&[v])
    }
    fn u32(&mut self, v: u32) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn f32(&mut self, v: f32) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn f64(&mut self, v: f64) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    /// A length, then the values of every slice in order.
    fn f32s(&mut self, parts: &[&[f32]]) -> std::io::Result<()> {
        self.u64(parts.iter().map(|p| p.len() as u64).sum())?;
        for v in parts {
            if cfg!(target_endian = "little") {
                self.bytes(bytemuck::cast_slice(v))?;
            } else {
                v.iter().try_for_each(|x| self.f32(*x))?;
            }
        }
        Ok(())
    }
    fn f64s(&mut self, v: &[f64]) -> std::io::Result<()> {
        self.u64(v.len() as u64)?;
        v.iter().try_for_each(|x| self.f64(*x))
    }
    fn params(&mut self, p: &ParamParts<'_>) -> std::io::Result<()> {
        self.f32(p.mu)?;
        self.f32s(&p.user_bias)?;
        self.f32s(&p.item_bias)?;
        self.f32s(&p.user_grad_sq)?;
        self.f32s(&p.item_grad_sq)?;
        self.f32s(&p.user_factors)?;
        self.f32s(&p.item_factors)
    }
}

impl Checkpoint {
    /// Writes the checkpoint, checksum last.
    pub fn encode<W: Write>(&self, out: &mut W) -> std::io::Result<()> {
        self.view().encode(out)
    }
}

impl CheckpointView<'_> {
    /// Writes the checkpoint, checksum last.
    pub fn encode<W: Write>(&self, out: &mut W) -> std::io::Result<()> {
        let mut w = HashingWriter {
            inner: out,
            hasher: Xxh3Default::new(),
        };
        let s = self.settings;
        w.bytes(MAGIC)?;
        w.u32(VERSION)?;
        w.u8(kind_code(s.kind))?;
        w.u8(match s.method {
            Method::Sgd => 0,
            Method::Gd => 1,
        })?;
        let (schedule, decay) = schedule_code(s.schedule);
        w.u8(schedule)?;
        w.f32(decay)?;
        w.u32(s.rank)?;
        w.u32(s.k)?;
        w.u64(s.users)?;
        w.u64(s.items)?;
        w.u32(s.grid)?;
        w.f32(s.base_learning_rate)?;
        w.f32(s.learning_rate)?;
        w.f32(s.reg)?;
        w.f32(s.reg_bias)?;
        w.u64(s.seed)?;
        w.u64(s.data_identity)?;
        let mut isa = [0u8; ISA_NAME_BYTES];
        let name = s.isa.as_bytes();
        let n = name.len().min(ISA_NAME_BYTES);
        isa[..n].copy_from_slice(&name[..n]);
        w.bytes(&isa)?;
        w.u32(s.epochs)?;
        w.u32(s.early_stop)?;
        w.f32(s.validation)?;
        w.f32(s.reg_row)?;
        w.u8(match s.hold_out {
            HoldOut::OriginalIds => 0,
            HoldOut::InternalIds => 1,
        })?;

        let p = self.progress;
        w.u32(p.epoch)?;
        w.u32(p.stratum)?;
        w.u32(p.backoffs)?;
        w.f64(p.partial_sse)?;
        w.u64(p.partial_count)?;
        w.u64(p.updates)?;
        w.f64s(&p.train_rmse)?;
        w.f64s(&p.test_rmse)?;
        w.f64s(&p.validation_rmse)?;

        w.params(&self.params)?;
        match &self.epoch_start {
            Some(start) => {
                w.u8(1)?;
                w.params(start)?;
            }
            None => w.u8(0)?,
        }
        match &self.best {
            Some(best) => {
                w.u8(1)?;
                w.params(best)?;
            }
            None => w.u8(0)?,
        }
        let sum = w.hasher.digest();
        w.inner.write_all(&sum.to_le_bytes())
    }
}
