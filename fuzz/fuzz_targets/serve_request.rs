//! Fuzz target: the service's request parsing (query strings of predict,
//! recommend and similar; the JSON body of fold-in) must never panic, and
//! whatever it accepts must keep the documented bounds.
#![no_main]

use funkd::serve::request::{
    parse_fold_in, parse_predict, parse_recommend, parse_similar, MAX_FOLD_IN_RATINGS, MAX_N,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(fold) = parse_fold_in(data) {
        assert!(!fold.ratings.is_empty() && fold.ratings.len() <= MAX_FOLD_IN_RATINGS);
        assert!((1..=MAX_N).contains(&fold.n));
        let mut items: Vec<&str> = fold.ratings.iter().map(|(i, _)| i.as_str()).collect();
        assert!(fold.ratings.iter().all(|(i, r)| !i.is_empty() && r.is_finite()));
        items.sort_unstable();
        items.dedup();
        assert_eq!(items.len(), fold.ratings.len(), "an item accepted twice");
    }
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = parse_predict(Some(query)) {
        assert!(!p.user.is_empty() && !p.item.is_empty());
    }
    if let Ok(r) = parse_recommend(Some(query)) {
        assert!(!r.user.is_empty() && (1..=MAX_N).contains(&r.n));
    }
    if let Ok(s) = parse_similar(Some(query)) {
        assert!(!s.item.is_empty() && (1..=MAX_N).contains(&s.n));
    }
});
