//! The HTTP API, version 1: routes, handlers, and JSON errors.
//!
//! Every answer is JSON; every error is `{"error": "…"}` with its status:
//! 400 for a malformed query or body, 404 for an unknown id or path, 405
//! for a wrong method, 408 for a request not completed in time, 413 for a
//! body over the limit, 500 for a refused reload or an internal fault.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};

use super::intake::{self, BatchError, BodyFormat, Refreshed};
use super::reload::{reload, Outcome, Trigger};
use super::request::{self, BadRequest, RecommendQuery, MAX_N};
use super::snapshot::Snapshot;
use super::state::AppState;
use crate::model::{Scored, Source};

/// An error answer: a status and a message, sent as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with this status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn not_found(what: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no {what} {id:?} in the data (ids are the original ids of the imported data)"),
        )
    }
}

/// A 500 for a fault of the service's own (written to the log as
/// `serve: {error}`).
fn internal(log: &super::Log, error: impl std::fmt::Display) -> ApiError {
    log.line(&format!("serve: {error}"));
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

impl From<BadRequest> for ApiError {
    fn from(e: BadRequest) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, e.0)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The router of the whole API over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/predict", get(predict))
        .route("/v1/recommend", get(recommend))
        .route("/v1/similar", get(similar))
        .route("/v1/fold-in", post(fold_in))
        .route("/v1/status", get(status))
        .route("/v1/reload", post(reload_now))
        .route("/v1/ratings", post(take_ratings))
        .route("/v1/train", post(train_now))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such endpoint (see /v1/status; the API is under /v1/)",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: predict, recommend, similar, status, metrics and healthz \
                 are GET; fold-in, reload, ratings and train are POST",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            track,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            },
        ))
        .with_state(state)
}

/// The endpoint name of a path, for the metrics.
fn endpoint_of(path: &str) -> &'static str {
    match path {
        "/v1/predict" => "predict",
        "/v1/recommend" => "recommend",
        "/v1/similar" => "similar",
        "/v1/fold-in" => "fold-in",
        "/v1/status" => "status",
        "/v1/reload" => "reload",
        "/v1/ratings" => "ratings",
        "/v1/train" => "train",
        "/metrics" => "metrics",
        "/healthz" => "healthz",
        _ => "other",
    }
}

/// Times each request out, and counts it with its status and latency.
async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let endpoint = endpoint_of(req.uri().path());
    let started = Instant::now();
    let response = match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request was not completed within {} ms (a slow or stalled client?)",
                state.request_timeout.as_millis()
            ),
        )
        .into_response(),
    };
    state.metrics.observe(
        endpoint,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    checkpoint: String,
    epoch: u32,
}

async fn healthz(State(state): State<Arc<AppState>>) -> Json<Health> {
    let snapshot = state.current();
    Json(Health {
        status: "ok",
        checkpoint: snapshot.checkpoint.display().to_string(),
        epoch: snapshot.epoch,
    })
}

#[derive(Serialize)]
struct PredictAnswer {
    user: String,
    item: String,
    prediction: f32,
    source: Source,
    epoch: u32,
}

async fn predict(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> ApiResult<PredictAnswer> {
    let q = request::parse_predict(query.as_deref())?;
    let snapshot = state.current();
    let item = snapshot.item(&q.item);
    if let (Some(i), Some(fresh)) = (item, refreshed(&state, &snapshot, &q.user)) {
        let m = &snapshot.model;
        let dot: f32 = fresh
            .row
            .iter()
            .zip(m.item_row(i))
            .map(|(p, q)| p * q)
            .sum();
        let value = match m.kind {
            funk_kernel::ModelKind::Biased => m.mu + fresh.bias + m.item_bias[i] + dot,
            funk_kernel::ModelKind::Plain => dot,
        };
        return Ok(Json(PredictAnswer {
            user: q.user,
            item: q.item,
            prediction: snapshot.clamp(value),
            source: Source::FoldIn,
            epoch: snapshot.epoch,
        }));
    }
    let p = snapshot.predict(snapshot.user(&q.user), item);
    Ok(Json(PredictAnswer {
        user: q.user,
        item: q.item,
        prediction: p.value,
        source: p.source,
        epoch: snapshot.epoch,
    }))
}

/// One item of a list answer.
#[derive(Serialize)]
struct ListedItem {
    rank: usize,
    item: String,
    score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    prediction: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
}

/// Scored items as the answer lists them: original ids, the clamped
/// prediction when `predictions`, titles when known.
fn listed(
    state: &AppState,
    snapshot: &Snapshot,
    found: &[Scored],
    predictions: bool,
) -> Vec<ListedItem> {
    found
        .iter()
        .enumerate()
        .map(|(position, s)| {
            let id = snapshot.data.item_id(s.item);
            ListedItem {
                rank: position + 1,
                item: id.to_owned(),
                score: s.score,
                prediction: predictions.then(|| snapshot.clamp(s.score)),
                title: title_of(state, id),
            }
        })
        .collect()
}

fn title_of(state: &AppState, id: &str) -> Option<String> {
    state
        .titles
        .as_ref()
        .and_then(|t| t.get(id))
        .map(str::to_owned)
}

/// The row of a user with ratings taken in since training, folded in
/// against `snapshot` (see [`super::intake`]); `None` without intake, for
/// a user without new ratings, or when none of their items is known.
fn refreshed(state: &AppState, snapshot: &Snapshot, user: &str) -> Option<Refreshed> {
    let news = state.intake.as_ref()?.ratings_of(user)?;
    intake::refresh(snapshot, user, &news)
}

#[derive(Serialize)]
struct RecommendAnswer {
    user: String,
    source: Source,
    epoch: u32,
    excluded: usize,
    items: Vec<ListedItem>,
}

async fn recommend(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> ApiResult<RecommendAnswer> {
    let q = request::parse_recommend(query.as_deref())?;
    let snapshot = state.current();
    let job = Arc::clone(&state);
    let answer = state
        .scoring
        .run(move || recommend_now(&job, &snapshot, q))
        .await?;
    Ok(Json(answer))
}

/// A recommend query's work, on a scoring thread.
fn recommend_now(
    state: &AppState,
    snapshot: &Snapshot,
    q: RecommendQuery,
) -> Result<RecommendAnswer, ApiError> {
    // A user with ratings taken in since the model was trained is answered
    // from their folded-in row; anyone else from the model's own row.
    let (found, excluded, source) = match refreshed(state, snapshot, &q.user) {
        Some(f) => {
            let excluded: &[bool] = if q.include_rated { &[] } else { &f.excluded };
            let found = snapshot
                .top_for_row(state.isa, &f.row, f.bias, excluded, q.n)
                .map_err(|e| internal(&state.log, e))?;
            let count = excluded.iter().filter(|&&e| e).count();
            (found, count, Source::FoldIn)
        }
        None => {
            let user = snapshot
                .user(&q.user)
                .ok_or_else(|| ApiError::not_found("user", &q.user))?;
            let rated = if q.include_rated {
                Vec::new()
            } else {
                snapshot
                    .rated_ids(user)
                    .map_err(|e| internal(&state.log, e))?
            };
            let found = snapshot
                .recommend(state.isa, user, &rated, q.n)
                .map_err(|e| internal(&state.log, e))?;
            (found, rated.len(), Source::Model)
        }
    };
    Ok(RecommendAnswer {
        items: listed(state, snapshot, &found, true),
        excluded,
        user: q.user,
        source,
        epoch: snapshot.epoch,
    })
}

#[derive(Serialize)]
struct SimilarAnswer {
    item: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    epoch: u32,
    items: Vec<ListedItem>,
}

async fn similar(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> ApiResult<SimilarAnswer> {
    let q = request::parse_similar(query.as_deref())?;
    let snapshot = state.current();
    let item = snapshot
        .item(&q.item)
        .ok_or_else(|| ApiError::not_found("item", &q.item))?;
    let (job, n) = (Arc::clone(&snapshot), q.n);
    let isa = state.isa;
    let found = state.scoring.run(move || job.similar(isa, item, n)).await;
    Ok(Json(SimilarAnswer {
        items: listed(&state, &snapshot, &found, false),
        title: title_of(&state, &q.item),
        item: q.item,
        epoch: snapshot.epoch,
    }))
}

/// Reads a request body of at most `limit` bytes: 413 beyond it (at once
/// when `Content-Length` says so), 400 when the body cannot be read.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, limit);
    match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {e}"),
        )),
    }
}

#[derive(Serialize)]
struct FoldInAnswer {
    epoch: u32,
    ratings: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    bias: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<Vec<f32>>,
    items: Vec<ListedItem>,
}

async fn fold_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<FoldInAnswer> {
    let bytes = read_body(&headers, body, state.max_body_bytes).await?;
    let q = request::parse_fold_in(&bytes)?;
    let snapshot = state.current();
    let mut ratings = Vec::with_capacity(q.ratings.len());
    let mut excluded = vec![false; snapshot.model.items()];
    for (id, value) in &q.ratings {
        let item = snapshot
            .item(id)
            .ok_or_else(|| ApiError::not_found("item", id))?;
        excluded[item] = true;
        ratings.push((item, *value));
    }
    let (job, isa, n, log) = (Arc::clone(&snapshot), state.isa, q.n, state.log.clone());
    let solved = state
        .scoring
        .run(move || {
            let (row, bias) = job.fold_in(&ratings).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("cannot fold this user in: {e}"),
                )
            })?;
            let found = job
                .top_for_row(isa, &row, bias, &excluded, n)
                .map_err(|e| internal(&log, e))?;
            Ok::<_, ApiError>((row, bias, found, ratings.len()))
        })
        .await;
    let (row, bias, found, rated) = solved?;
    Ok(Json(FoldInAnswer {
        epoch: snapshot.epoch,
        ratings: rated,
        items: listed(&state, &snapshot, &found, true),
        bias: q.return_row.then_some(bias),
        row: q.return_row.then_some(row),
    }))
}

#[derive(Serialize)]
struct ModelStatus {
    checkpoint: String,
    epoch: u32,
    model_epoch: u32,
    kind: &'static str,
    rank: usize,
    users: usize,
    items: usize,
    ratings: u64,
    train_rmse: Option<f64>,
    test_rmse: Option<f64>,
    written_unix: f64,
    age_seconds: f64,
    loaded_unix: f64,
    load_seconds: f64,
}

#[derive(Serialize)]
struct RefusedStatus {
    checkpoint: String,
    error: String,
    at_unix: f64,
}

#[derive(Serialize)]
struct Limits {
    max_n: usize,
    max_fold_in_ratings: usize,
    max_body_bytes: usize,
    max_connections: usize,
    request_timeout_ms: u128,
}

#[derive(Serialize)]
struct StatusAnswer {
    dir: String,
    data: String,
    model: ModelStatus,
    uptime_seconds: f64,
    isa: &'static str,
    requests: Vec<super::metrics::EndpointCount>,
    refused_connections: u64,
    last_refused: Option<RefusedStatus>,
    writer: Option<crate::dirlock::Writer>,
    intake: Option<IntakeStatus>,
    rounds: Option<RoundStatus>,
    limits: Limits,
}

#[derive(Serialize)]
struct IntakeStatus {
    log: String,
    segments: usize,
    active_segment: u64,
    log_bytes: u64,
    log_records: u64,
    batches: u64,
    ratings: u64,
    users: usize,
    syncs: u64,
    failed_writes: u64,
}

fn intake_status(state: &AppState) -> Option<IntakeStatus> {
    use std::sync::atomic::Ordering::Relaxed;
    let intake = state.intake.as_ref()?;
    let stats = &intake.log.stats;
    let (pending, segments) = stats.pending();
    Some(IntakeStatus {
        log: intake
            .log
            .dir
            .join(super::segments::file_name(stats.active.load(Relaxed)))
            .display()
            .to_string(),
        segments,
        active_segment: stats.active.load(Relaxed),
        log_bytes: pending.bytes,
        log_records: pending.records,
        batches: pending.batches,
        ratings: pending.ratings,
        users: intake
            .overlay
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .users(),
        syncs: stats.syncs.load(Relaxed),
        failed_writes: stats.failures.load(Relaxed),
    })
}

#[derive(Serialize)]
struct RoundTrigger {
    auto: bool,
    after_ratings: u64,
    after_fraction: f64,
    every_seconds: Option<f64>,
    threads: usize,
    epochs: u32,
}

#[derive(Serialize)]
struct RoundStatus {
    generation: u64,
    applied_through_segment: u64,
    published_unix: f64,
    seconds_since_publish: f64,
    running: Option<Value>,
    rounds_published: u64,
    rounds_failed: u64,
    last_error: Option<Value>,
    trigger: RoundTrigger,
}

/// The round running now, with its run's epoch and RMSEs while it trains.
fn running_status(running: &super::round::Running) -> Value {
    serde_json::to_value(running).unwrap_or(Value::Null)
}

fn round_status(state: &AppState) -> Option<RoundStatus> {
    let rounds = state.rounds.as_ref()?;
    let p = rounds.progress();
    let s = &rounds.settings;
    Some(RoundStatus {
        generation: p.generation,
        applied_through_segment: p.applied_through,
        published_unix: p.published_unix,
        seconds_since_publish: (crate::service::status::unix_now() - p.published_unix).max(0.0),
        running: p.running.as_ref().map(running_status),
        rounds_published: p.published,
        rounds_failed: p.failed,
        last_error: p
            .last_error
            .map(|(error, at_unix)| json!({"error": error, "at_unix": at_unix})),
        trigger: RoundTrigger {
            auto: s.auto,
            after_ratings: s.after_ratings,
            after_fraction: s.after_fraction,
            every_seconds: s.every.map(|d| d.as_secs_f64()),
            threads: s.threads,
            epochs: s.epochs,
        },
    })
}

/// The gauges `/metrics` shows of intake and rounds.
fn round_gauges(state: &AppState, snapshot: &Snapshot) -> super::metrics::RoundGauges {
    let mut g = super::metrics::RoundGauges {
        since_publish: (crate::service::status::unix_now() - snapshot.written_unix).max(0.0),
        ..Default::default()
    };
    if let Some(intake) = state.intake.as_ref() {
        let (pending, _) = intake.log.stats.pending();
        g.log_bytes = pending.bytes;
        g.pending_ratings = pending.ratings;
    }
    if let Some(status) = round_status(state) {
        g.generation = status.generation;
        g.since_publish = status.seconds_since_publish;
        if let Some(running) = &status.running {
            g.running = true;
            g.epoch = running["epoch"].as_u64().unwrap_or(0) as u32;
            g.train_rmse = running["train_rmse"].as_f64();
        }
    }
    g
}

async fn status(State(state): State<Arc<AppState>>) -> Json<StatusAnswer> {
    let s = state.current();
    let now = crate::service::status::unix_now();
    let dir = state.dir.clone();
    Json(StatusAnswer {
        dir: state.dir.display().to_string(),
        data: s.data.path().display().to_string(),
        model: ModelStatus {
            checkpoint: s.checkpoint.display().to_string(),
            epoch: s.epoch,
            model_epoch: s.model_epoch,
            kind: match s.model.kind {
                funk_kernel::ModelKind::Biased => "biased",
                funk_kernel::ModelKind::Plain => "plain",
            },
            rank: s.model.rank,
            users: s.model.users(),
            items: s.model.items(),
            ratings: s.ratings(),
            train_rmse: s.train_rmse,
            test_rmse: s.test_rmse,
            written_unix: s.written_unix,
            age_seconds: (now - s.written_unix).max(0.0),
            loaded_unix: s.loaded_unix,
            load_seconds: s.load_seconds,
        },
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        isa: state.isa.name(),
        requests: state.metrics.counts(),
        refused_connections: state.metrics.refused_connections(),
        last_refused: state.last_refused().map(|r| RefusedStatus {
            checkpoint: r.path.display().to_string(),
            error: r.error,
            at_unix: r.at_unix,
        }),
        writer: crate::dirlock::writer(&dir),
        intake: intake_status(&state),
        rounds: round_status(&state),
        limits: Limits {
            max_n: MAX_N,
            max_fold_in_ratings: request::MAX_FOLD_IN_RATINGS,
            max_body_bytes: state.max_body_bytes,
            max_connections: state.max_connections,
            request_timeout_ms: state.request_timeout.as_millis(),
        },
    })
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let s = state.current();
    let age = (crate::service::status::unix_now() - s.written_unix).max(0.0);
    state.metrics.set_rounds(&round_gauges(&state, &s));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(age, s.epoch),
    )
        .into_response()
}

async fn reload_now(State(state): State<Arc<AppState>>) -> Response {
    let outcome = reload(&state, Trigger::Request).await;
    match &outcome {
        Outcome::Refused { checkpoint, error } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({
                "error": format!("newer checkpoint refused: {error}"),
                "outcome": "refused",
                "checkpoint": checkpoint,
            })),
        )
            .into_response(),
        _ => Json(outcome).into_response(),
    }
}

#[derive(Serialize)]
struct RatingsAnswer {
    accepted: usize,
    users: usize,
    new_users: usize,
    new_items: usize,
    epoch: u32,
}

/// `POST /v1/ratings`: a batch checked whole, appended to the ingest log,
/// answered once it is durable.
async fn take_ratings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(intake) = state.intake.as_ref() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "this service does not take in ratings: start it with --intake",
        )
        .into_response();
    };
    let bytes = match read_body(&headers, body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => return e.into_response(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = match BodyFormat::of(content_type) {
        Ok(format) => format,
        Err(e) => return ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, e).into_response(),
    };
    let snapshot = state.current();
    let batch = match intake::parse_batch(&bytes, format, snapshot.range) {
        Ok(batch) => batch,
        Err(BatchError::Body(e)) => {
            return ApiError::new(StatusCode::BAD_REQUEST, e).into_response()
        }
        Err(BatchError::Records(bad)) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "error": format!(
                        "{} record(s) of the batch are invalid; none of the batch was taken",
                        bad.len()
                    ),
                    "records": bad,
                })),
            )
                .into_response()
        }
    };
    let accepted = batch.len();
    let (users, items) = snapshot.count_batch_ids(&batch);
    match intake.log.append(batch).await {
        Ok(()) => Json(RatingsAnswer {
            accepted,
            users: users.distinct,
            new_users: users.unknown,
            new_items: items.unknown,
            epoch: snapshot.epoch,
        })
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            Json(json!({
                "error": format!("{e}; none of the batch was taken (queries are still answered)")
            })),
        )
            .into_response(),
    }
}

/// `POST /v1/train`: start a training round now (202), unless one is
/// running (409) or the service takes in no ratings (404).
async fn train_now(State(state): State<Arc<AppState>>) -> Response {
    let Some(rounds) = state.rounds.as_ref() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "this service does not train: start it with --intake",
        )
        .into_response();
    };
    if rounds.request("request") {
        let generation = rounds.progress().generation + 1;
        (
            StatusCode::ACCEPTED,
            Json(json!({
                "outcome": "started",
                "round": generation,
                "status": "/v1/status (rounds.running)",
            })),
        )
            .into_response()
    } else {
        let running = rounds.progress().running.as_ref().map(running_status);
        (
            StatusCode::CONFLICT,
            Json(json!({
                "error": "a training round is already running or about to start; \
                          see /v1/status (rounds.running)",
                "running": running,
            })),
        )
            .into_response()
    }
}
