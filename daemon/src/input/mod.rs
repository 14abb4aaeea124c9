//! Small text files a user hands in beside a rating file: the titles of
//! the items ([`titles`], for `recommend` and the service) and lists of
//! (user, item) pairs ([`pairs`], for `predict`).

pub mod pairs;
pub mod titles;
