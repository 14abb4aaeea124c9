//! `funkd gradcheck`.
