//! `funkd cv`.
