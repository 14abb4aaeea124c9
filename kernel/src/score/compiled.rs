//! The scan behind [`top_n`](super::top_n) and
//! [`top_n_cosine`](super::top_n_cosine), written once as plain loops over
//! sixteen-item lanes and compiled once per instruction set: the
//! compiler turns each lane's sixteen multiply-adds into one AVX-512 or
//! two AVX2 (four SSE or NEON) operations. Vectorising across items keeps
//! every item's sum in dimension order, with no fused multiply-add, so
//! every ISA gives the scalar loop's bits.

use super::panels::{ItemPanels, PANEL_ITEMS};
use super::select::TopN;
use crate::{FactorRow, Isa};

/// Panels scored together: four independent sums per dimension hide the
/// add latency.
const GROUP: usize = 4;

/// A row to score against every item.
pub(super) struct Scan<'s, 'a> {
    /// The items.
    pub items: &'s ItemPanels<'a>,
    /// The row, `items.rank()` long.
    pub row: &'s [f32],
}

/// row·q for the sixteen items of one panel.
#[inline(always)]
fn panel_dots(row: &[f32], panel: &[FactorRow<PANEL_ITEMS>]) -> [f32; PANEL_ITEMS] {
    let mut acc = [0.0f32; PANEL_ITEMS];
    for (&p, lane) in row.iter().zip(panel) {
        for (sum, &q) in acc.iter_mut().zip(&lane.0) {
            *sum += p * q;
        }
    }
    acc
}

/// row·q for the sixty-four items of four panels.
#[inline(always)]
fn group_dots(
    row: &[f32],
    panels: [&[FactorRow<PANEL_ITEMS>]; GROUP],
) -> [[f32; PANEL_ITEMS]; GROUP] {
    let mut acc = [[0.0f32; PANEL_ITEMS]; GROUP];
    let [a, b, c, d] = panels;
    for ((((&p, la), lb), lc), ld) in row.iter().zip(a).zip(b).zip(c).zip(d) {
        for (sums, lane) in acc.iter_mut().zip([la, lb, lc, ld]) {
            for (sum, &q) in sums.iter_mut().zip(&lane.0) {
                *sum += p * q;
            }
        }
    }
    acc
}

/// Scores every item (`map(item, dot)`; `None` leaves the item out) and
/// offers the eligible ones to `top`, asking `excluded` only about those
/// that would be kept.
#[inline(always)]
fn scan_items<M, E>(scan: &Scan<'_, '_>, top: &mut TopN<'_>, map: M, excluded: &E)
where
    M: Fn(usize, f32) -> Option<f32>,
    E: Fn(usize) -> bool,
{
    let (items, row) = (scan.items, scan.row);
    let (count, panels) = (items.items(), items.panels());
    let mut offer = |panel: usize, dots: &[f32; PANEL_ITEMS]| {
        let first = panel * PANEL_ITEMS;
        for (item, &dot) in (first..count.min(first + PANEL_ITEMS)).zip(dots) {
            if let Some(score) = map(item, dot) {
                if top.would_take(item, score) && !excluded(item) {
                    top.offer(item, score);
                }
            }
        }
    };
    let mut panel = 0;
    while panel + GROUP <= panels {
        let lanes = core::array::from_fn(|g| items.panel(panel + g));
        let dots = group_dots(row, lanes);
        for (g, dots) in dots.iter().enumerate() {
            offer(panel + g, dots);
        }
        panel += GROUP;
    }
    while panel < panels {
        offer(panel, &panel_dots(row, items.panel(panel)));
        panel += 1;
    }
}

/// [`scan_items`] compiled for AVX2.
///
/// # Safety
///
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn scan_avx2<M, E>(scan: &Scan<'_, '_>, top: &mut TopN<'_>, map: M, excluded: &E)
where
    M: Fn(usize, f32) -> Option<f32>,
    E: Fn(usize) -> bool,
{
    scan_items(scan, top, map, excluded);
}

/// [`scan_items`] compiled for AVX-512F.
///
/// # Safety
///
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scan_avx512<M, E>(scan: &Scan<'_, '_>, top: &mut TopN<'_>, map: M, excluded: &E)
where
    M: Fn(usize, f32) -> Option<f32>,
    E: Fn(usize) -> bool,
{
    scan_items(scan, top, map, excluded);
}

/// [`scan_items`] in `isa`'s compiled copy (chosen once per scan).
pub(super) fn select<M, E>(isa: Isa, scan: &Scan<'_, '_>, top: &mut TopN<'_>, map: M, excluded: &E)
where
    M: Fn(usize, f32) -> Option<f32>,
    E: Fn(usize) -> bool,
{
    match isa {
        Isa::Scalar => scan_items(scan, top, map, excluded),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: an `Avx2FmaToken` exists only where AVX2 and FMA are
        // reported with OS support for the YMM state.
        Isa::Avx2Fma(_) => unsafe { scan_avx2(scan, top, map, excluded) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: an `Avx512Token` exists only where AVX-512F is reported
        // with OS support for the ZMM state.
        Isa::Avx512(_) => unsafe { scan_avx512(scan, top, map, excluded) },
        // NEON is part of the aarch64 baseline: the plain loop is already
        // compiled with it.
        #[cfg(target_arch = "aarch64")]
        Isa::Neon(_) => scan_items(scan, top, map, excluded),
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx2Fma(token) => token.unreachable(),
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx512(token) => token.unreachable(),
        #[cfg(not(target_arch = "aarch64"))]
        Isa::Neon(token) => token.unreachable(),
    }
}
