//! Requests as the API reads them: query strings and JSON bodies parsed by
//! pure functions (no I/O, no model), so that every rule about what is
//! well-formed lives here and a fuzzer can drive it.
//!
//! Ids are the data's original ids, as strings; in JSON an id may also be
//! written as a number (`12` means the id `"12"`). Query parameters that
//! the endpoint does not know are refused, so a typo (`?usr=`) is a 400
//! rather than a silently missing parameter.

use serde::Deserialize;

/// How many items a list query returns when `n` is not given.
pub const DEFAULT_N: usize = 10;
/// The largest `n` a list query accepts (a larger one is a 400).
pub const MAX_N: usize = 1000;
/// The most ratings a fold-in request may carry.
pub const MAX_FOLD_IN_RATINGS: usize = 10_000;

/// A request that is not well-formed: answered with 400 and this text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

fn bad(text: impl Into<String>) -> BadRequest {
    BadRequest(text.into())
}

/// `GET /v1/predict?user=U&item=I`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PredictQuery {
    /// The user's original id.
    pub user: String,
    /// The item's original id.
    pub item: String,
}

/// `GET /v1/recommend?user=U&n=N&include_rated=false`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecommendQuery {
    /// The user's original id.
    pub user: String,
    /// How many items (1..=[`MAX_N`]).
    pub n: usize,
    /// Whether items the user rated may be recommended.
    pub include_rated: bool,
}

/// `GET /v1/similar?item=I&n=N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimilarQuery {
    /// The item's original id.
    pub item: String,
    /// How many items (1..=[`MAX_N`]).
    pub n: usize,
}

/// `POST /v1/fold-in`: a new user's ratings.
#[derive(Clone, Debug, PartialEq)]
pub struct FoldInRequest {
    /// (item id, rating), each item once.
    pub ratings: Vec<(String, f32)>,
    /// How many items to recommend (1..=[`MAX_N`]).
    pub n: usize,
    /// Whether to return the folded-in row and bias.
    pub return_row: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    user: Option<String>,
    item: Option<String>,
    n: Option<String>,
    include_rated: Option<String>,
}

/// Parses a query string into its parameters, allowing only `allowed`.
fn parse_query(query: Option<&str>, allowed: &[&str]) -> Result<RawQuery, BadRequest> {
    let text = query.unwrap_or("");
    let raw: RawQuery = serde_urlencoded::from_str(text)
        .map_err(|e| bad(format!("malformed query string: {e}")))?;
    let given = [
        ("user", raw.user.is_some()),
        ("item", raw.item.is_some()),
        ("n", raw.n.is_some()),
        ("include_rated", raw.include_rated.is_some()),
    ];
    for (name, present) in given {
        if present && !allowed.contains(&name) {
            return Err(bad(format!(
                "unknown query parameter `{name}` (this endpoint takes: {})",
                allowed.join(", ")
            )));
        }
    }
    Ok(raw)
}

fn required(value: Option<String>, name: &str) -> Result<String, BadRequest> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err(bad(format!("query parameter `{name}` is empty"))),
        None => Err(bad(format!("missing query parameter `{name}`"))),
    }
}

/// `n` from its text: absent means [`DEFAULT_N`]; 0, more than [`MAX_N`]
/// or not a number is refused.
pub fn parse_n(text: Option<&str>) -> Result<usize, BadRequest> {
    let Some(text) = text else {
        return Ok(DEFAULT_N);
    };
    match text.parse::<u64>() {
        Ok(n) if (1..=MAX_N as u64).contains(&n) => Ok(n as usize),
        Ok(_) => Err(bad(format!("n must be between 1 and {MAX_N}, not {text}"))),
        Err(_) => Err(bad(format!(
            "n must be a whole number between 1 and {MAX_N}, not {text:?}"
        ))),
    }
}

fn parse_bool(text: Option<&str>, name: &str) -> Result<bool, BadRequest> {
    match text {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(other) => Err(bad(format!("{name} must be true or false, not {other:?}"))),
    }
}

/// Parses the query of `GET /v1/predict`.
pub fn parse_predict(query: Option<&str>) -> Result<PredictQuery, BadRequest> {
    let raw = parse_query(query, &["user", "item"])?;
    Ok(PredictQuery {
        user: required(raw.user, "user")?,
        item: required(raw.item, "item")?,
    })
}

/// Parses the query of `GET /v1/recommend`.
pub fn parse_recommend(query: Option<&str>) -> Result<RecommendQuery, BadRequest> {
    let raw = parse_query(query, &["user", "n", "include_rated"])?;
    Ok(RecommendQuery {
        user: required(raw.user, "user")?,
        n: parse_n(raw.n.as_deref())?,
        include_rated: parse_bool(raw.include_rated.as_deref(), "include_rated")?,
    })
}

/// Parses the query of `GET /v1/similar`.
pub fn parse_similar(query: Option<&str>) -> Result<SimilarQuery, BadRequest> {
    let raw = parse_query(query, &["item", "n"])?;
    Ok(SimilarQuery {
        item: required(raw.item, "item")?,
        n: parse_n(raw.n.as_deref())?,
    })
}

/// An id in JSON: a string, or a number standing for its decimal text.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonId {
    Text(String),
    Number(serde_json::Number),
}

impl JsonId {
    fn into_string(self) -> String {
        match self {
            JsonId::Text(s) => s,
            JsonId::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRating {
    item: JsonId,
    rating: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFoldIn {
    ratings: Vec<RawRating>,
    #[serde(default)]
    n: Option<u64>,
    #[serde(default)]
    return_row: bool,
}

/// Parses the JSON body of `POST /v1/fold-in`:
/// `{"ratings": [{"item": "12", "rating": 4.5}, …], "n": 10, "return_row": false}`.
/// At least one and at most [`MAX_FOLD_IN_RATINGS`] ratings, each finite,
/// each item once.
pub fn parse_fold_in(body: &[u8]) -> Result<FoldInRequest, BadRequest> {
    let raw: RawFoldIn =
        serde_json::from_slice(body).map_err(|e| bad(format!("malformed JSON body: {e}")))?;
    if raw.ratings.is_empty() {
        return Err(bad("ratings is empty: give at least one {item, rating}"));
    }
    if raw.ratings.len() > MAX_FOLD_IN_RATINGS {
        return Err(bad(format!(
            "{} ratings; at most {MAX_FOLD_IN_RATINGS} are accepted",
            raw.ratings.len()
        )));
    }
    let n = match raw.n {
        None => DEFAULT_N,
        Some(n) => parse_n(Some(&n.to_string()))?,
    };
    let mut ratings = Vec::with_capacity(raw.ratings.len());
    let mut seen = std::collections::HashSet::with_capacity(raw.ratings.len());
    for (index, r) in raw.ratings.into_iter().enumerate() {
        let item = r.item.into_string();
        let rating = r.rating as f32;
        if !rating.is_finite() {
            return Err(bad(format!(
                "ratings[{index}]: rating {} is not a finite number",
                r.rating
            )));
        }
        if item.is_empty() {
            return Err(bad(format!("ratings[{index}]: empty item id")));
        }
        if !seen.insert(item.clone()) {
            return Err(bad(format!(
                "ratings[{index}]: item {item:?} is rated more than once"
            )));
        }
        ratings.push((item, rating));
    }
    Ok(FoldInRequest {
        ratings,
        n,
        return_row: raw.return_row,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predict_needs_both_ids_and_nothing_else() {
        assert_eq!(
            parse_predict(Some("user=7&item=a%20b")).unwrap(),
            PredictQuery {
                user: "7".into(),
                item: "a b".into()
            }
        );
        assert!(parse_predict(Some("user=7"))
            .unwrap_err()
            .0
            .contains("item"));
        assert!(parse_predict(None).is_err());
        assert!(parse_predict(Some("user=&item=1"))
            .unwrap_err()
            .0
            .contains("empty"));
        let typo = parse_predict(Some("usr=7&item=1")).unwrap_err();
        assert!(typo.0.contains("usr"), "{typo}");
        let extra = parse_predict(Some("user=7&item=1&n=3")).unwrap_err();
        assert!(extra.0.contains("`n`"), "{extra}");
    }

    #[test]
    fn n_is_bounded_and_defaults_to_ten() {
        assert_eq!(parse_recommend(Some("user=1")).unwrap().n, DEFAULT_N);
        assert_eq!(parse_recommend(Some("user=1&n=1000")).unwrap().n, 1000);
        for bad_n in ["0", "1001", "1000000000", "-1", "x", "", "1e3"] {
            let q = format!("user=1&n={bad_n}");
            assert!(parse_recommend(Some(&q)).is_err(), "n={bad_n} accepted");
        }
        assert_eq!(parse_similar(Some("item=3&n=5")).unwrap().n, 5);
    }

    #[test]
    fn include_rated_is_a_boolean() {
        assert!(
            parse_recommend(Some("user=1&include_rated=true"))
                .unwrap()
                .include_rated
        );
        assert!(!parse_recommend(Some("user=1")).unwrap().include_rated);
        assert!(parse_recommend(Some("user=1&include_rated=maybe")).is_err());
    }

    #[test]
    fn fold_in_bodies_are_checked() {
        let ok = parse_fold_in(
            br#"{"ratings":[{"item":"a","rating":4},{"item":12,"rating":1.5}],"n":3,"return_row":true}"#,
        )
        .unwrap();
        assert_eq!(
            ok.ratings,
            vec![("a".to_string(), 4.0), ("12".to_string(), 1.5)]
        );
        assert_eq!(ok.n, 3);
        assert!(ok.return_row);
        let defaults = parse_fold_in(br#"{"ratings":[{"item":"a","rating":4}]}"#).unwrap();
        assert_eq!((defaults.n, defaults.return_row), (DEFAULT_N, false));
        for body in [
            &b"not json"[..],
            br#"{"ratings":[]}"#,
            br#"{"ratings":[{"item":"a","rating":4},{"item":"a","rating":3}]}"#,
            br#"{"ratings":[{"item":"a","rating":1e40}]}"#,
            br#"{"ratings":[{"item":"a","rating":"4"}]}"#,
            br#"{"ratings":[{"item":"a","rating":4}],"n":0}"#,
            br#"{"ratings":[{"item":"a","rating":4}],"n":-1}"#,
            br#"{"ratings":[{"item":"","rating":4}]}"#,
            br#"{"ratings":[{"item":"a","rating":4}],"extra":1}"#,
            br#"[]"#,
        ] {
            assert!(
                parse_fold_in(body).is_err(),
                "accepted {}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
