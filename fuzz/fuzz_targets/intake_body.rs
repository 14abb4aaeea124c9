//! Fuzz target: the body parser of `POST /v1/ratings` (JSON array, NDJSON,
//! CSV; the format picked by the first byte) must never panic, and
//! whatever it accepts must keep the documented rules: at least one
//! rating, ids non-empty and at most 256 bytes, ratings finite and within
//! the range given, and every accepted rating encoded into a log record
//! that decodes back to the same batch.
#![no_main]

use funkd::serve::ingest_log::{decode, encode, MAX_ID_BYTES};
use funkd::serve::intake::{parse_batch, BatchError, BodyFormat};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let format = match choice % 3 {
        0 => BodyFormat::Json,
        1 => BodyFormat::Ndjson,
        _ => BodyFormat::Csv,
    };
    let range = (choice & 0x80 != 0).then_some((1.0f32, 5.0f32));
    match parse_batch(body, format, range) {
        Ok(batch) => {
            assert!(!batch.is_empty());
            for r in &batch {
                assert!(!r.user.is_empty() && r.user.len() <= MAX_ID_BYTES);
                assert!(!r.item.is_empty() && r.item.len() <= MAX_ID_BYTES);
                assert!(r.value.is_finite());
                if let Some((lo, hi)) = range {
                    assert!((lo..=hi).contains(&r.value));
                }
            }
            assert_eq!(decode(&encode(&batch)), Ok(vec![batch]));
        }
        Err(BatchError::Records(bad)) => {
            assert!(!bad.is_empty());
            assert!(bad.windows(2).all(|w| w[0].index < w[1].index));
        }
        Err(BatchError::Body(message)) => assert!(!message.is_empty()),
    }
});
