//! `funkd export`.
