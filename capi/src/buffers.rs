//! From C's (pointer, length) pairs to Rust slices: every check that can
//! be made on a pointer (NULL, alignment, size, overlap with the other
//! buffers of the call) is made here, before any slice exists. What cannot
//! be checked (that the memory is really there and nobody else uses it
//! during the call) is the caller's contract, stated on each entry point.

use core::ptr::NonNull;

use crate::FunkStatus;

/// A pointer and element count that passed the checks of
/// [`Raw::required`] / [`Raw::optional`]: non-NULL (or a dangling pointer
/// for an empty buffer), aligned for `T`, and at most `isize::MAX` bytes
/// without wrapping the address space.
#[derive(Debug)]
pub(crate) struct Raw<T> {
    ptr: NonNull<T>,
    len: usize,
}

impl<T> Clone for Raw<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Raw<T> {}

impl<T> Raw<T> {
    /// `len` elements at `ptr`; `ptr` may be NULL only when `len` is 0.
    pub(crate) fn required(ptr: *const T, len: usize) -> Result<Self, FunkStatus> {
        if len == 0 {
            return Ok(Self::empty());
        }
        let ptr = NonNull::new(ptr.cast_mut()).ok_or(FunkStatus::NullPointer)?;
        Self::checked(ptr, len)
    }

    /// `len` elements at `ptr`, or none when `ptr` is NULL (an optional
    /// per-row array that the model does not use).
    pub(crate) fn optional(ptr: *const T, len: usize) -> Result<Self, FunkStatus> {
        match NonNull::new(ptr.cast_mut()) {
            None => Ok(Self::empty()),
            Some(_) if len == 0 => Ok(Self::empty()),
            Some(p) => Self::checked(p, len),
        }
    }

    /// One element at `ptr`, which must not be NULL.
    pub(crate) fn one(ptr: *const T) -> Result<Self, FunkStatus> {
        let ptr = NonNull::new(ptr.cast_mut()).ok_or(FunkStatus::NullPointer)?;
        Self::checked(ptr, 1)
    }

    fn empty() -> Self {
        Self {
            ptr: NonNull::dangling(),
            len: 0,
        }
    }

    fn checked(ptr: NonNull<T>, len: usize) -> Result<Self, FunkStatus> {
        if !ptr.as_ptr().is_aligned() {
            return Err(FunkStatus::Misaligned);
        }
        let bytes = len
            .checked_mul(size_of::<T>())
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or(FunkStatus::TooLarge)?;
        if ptr.addr().get().checked_add(bytes).is_none() {
            return Err(FunkStatus::TooLarge);
        }
        Ok(Self { ptr, len })
    }

    /// The same memory as elements of another type, `len` of them (for
    /// viewing `rows * k` floats as `rows` aligned factor rows). The
    /// caller makes sure the byte size is unchanged; the alignment is
    /// checked again.
    pub(crate) fn cast<U>(self, len: usize) -> Result<Raw<U>, FunkStatus> {
        debug_assert_eq!(len * size_of::<U>(), self.len * size_of::<T>());
        if self.len == 0 {
            return Ok(Raw::empty());
        }
        Raw::checked(self.ptr.cast(), len)
    }

    /// The bytes it spans, for the overlap check.
    pub(crate) fn span(&self) -> Span {
        Span {
            start: self.ptr.addr().get(),
            len: self.len * size_of::<T>(),
        }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The elements as a shared slice.
    ///
    /// # Safety
    ///
    /// The memory must hold `len` initialised `T`s, and must not be
    /// written by anyone during `'a`.
    pub(crate) unsafe fn as_slice<'a>(self) -> &'a [T] {
        // SAFETY: non-NULL (dangling only for len 0), aligned and at most
        // isize::MAX bytes by construction; initialised and unaliased by
        // the caller's promise.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The elements as an exclusive slice.
    ///
    /// # Safety
    ///
    /// The memory must hold `len` initialised `T`s and must not be read or
    /// written through any other pointer during `'a` (in particular, its
    /// [`Raw::span`] must not overlap any other buffer in use).
    pub(crate) unsafe fn as_mut_slice<'a>(self) -> &'a mut [T] {
        // SAFETY: as in `as_slice`; exclusivity by the caller's promise.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Copies the first element out (an in-parameter struct).
    ///
    /// # Safety
    ///
    /// The buffer must hold at least one initialised `T`.
    pub(crate) unsafe fn read(self) -> T
    where
        T: Copy,
    {
        debug_assert!(self.len >= 1);
        // SAFETY: non-NULL and aligned by construction; initialised by the
        // caller's promise.
        unsafe { self.ptr.as_ptr().read() }
    }

    /// Writes one value at the start of the buffer (an out-parameter).
    ///
    /// # Safety
    ///
    /// The buffer must be valid for writing one `T`, and no reference to it
    /// may be alive.
    pub(crate) unsafe fn write(self, value: T) {
        debug_assert!(self.len >= 1);
        // SAFETY: non-NULL and aligned by construction; writable and
        // unreferenced by the caller's promise.
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

/// The three in-parameters an entry point over two bands starts with (its
/// parameters, its user band and its item band), each checked by
/// [`Raw::one`] for NULL and alignment and copied in.
///
/// # Safety
///
/// Each pointer that is not NULL must point to an initialised value of its
/// type (the entry point's contract with its caller).
pub(crate) unsafe fn read_inputs<P: Copy, U: Copy, I: Copy>(
    params: *const P,
    users: *const U,
    items: *const I,
) -> Result<(P, U, I), FunkStatus> {
    let (params, users, items) = (Raw::one(params)?, Raw::one(users)?, Raw::one(items)?);
    // SAFETY: non-NULL and aligned, checked just above; initialised by the
    // caller's promise.
    Ok(unsafe { (params.read(), users.read(), items.read()) })
}

/// A range of bytes a call reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    len: usize,
}

impl Span {
    /// Whether the two ranges share a byte (empty ranges share none).
    fn overlaps(self, other: Span) -> bool {
        self.len != 0
            && other.len != 0
            && self.start < other.start + other.len
            && other.start < self.start + self.len
    }
}

/// Checks that no buffer the call writes shares a byte with another buffer
/// of the call, read or written (`FUNK_STATUS_OVERLAP` otherwise): what
/// makes the exclusive slices of a call sound.
pub(crate) fn check_disjoint(writes: &[Span], reads: &[Span]) -> Result<(), FunkStatus> {
    for (i, w) in writes.iter().enumerate() {
        let others = writes[i + 1..].iter().chain(reads);
        if others.into_iter().any(|o| w.overlaps(*o)) {
            return Err(FunkStatus::Overlap);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_is_refused_unless_empty_or_optional() {
        assert_eq!(
            Raw::<f32>::required(core::ptr::null(), 1).unwrap_err(),
            FunkStatus::NullPointer
        );
        assert_eq!(Raw::<f32>::required(core::ptr::null(), 0).unwrap().len(), 0);
        assert_eq!(Raw::<f32>::optional(core::ptr::null(), 5).unwrap().len(), 0);
        assert_eq!(
            Raw::<f32>::one(core::ptr::null()).unwrap_err(),
            FunkStatus::NullPointer
        );
    }

    #[test]
    fn misaligned_and_oversized_buffers_are_refused() {
        let buf = [0u32; 4];
        let odd = buf.as_ptr().cast::<u8>().wrapping_add(1).cast::<f32>();
        assert_eq!(Raw::required(odd, 1).unwrap_err(), FunkStatus::Misaligned);
        let ok = buf.as_ptr().cast::<f32>();
        assert_eq!(
            Raw::required(ok, usize::MAX / 2).unwrap_err(),
            FunkStatus::TooLarge
        );
        assert_eq!(Raw::required(ok, 4).unwrap().len(), 4);
    }

    #[test]
    fn overlap_is_found_between_writes_and_reads_but_not_between_reads() {
        let buf = [0f32; 8];
        let span = |at: usize, len: usize| Raw::required(buf[at..].as_ptr(), len).unwrap().span();
        let (a, b, c) = (span(0, 4), span(4, 4), span(3, 2));
        assert_eq!(check_disjoint(&[a, b], &[]), Ok(()));
        assert_eq!(check_disjoint(&[a], &[c]), Err(FunkStatus::Overlap));
        assert_eq!(check_disjoint(&[b, c], &[]), Err(FunkStatus::Overlap));
        assert_eq!(check_disjoint(&[], &[a, c]), Ok(()));
        assert_eq!(check_disjoint(&[span(0, 0)], &[a]), Ok(()));
    }
}
