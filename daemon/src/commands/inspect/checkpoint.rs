//! `funkd inspect` on a checkpoint: what run it belongs to, where it stands,
//! and whether it is intact.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use funk_kernel::{LearningRate, ModelKind};

use crate::checkpoint::{model_hash, store, Checkpoint, CheckpointDir, MAGIC};

/// Prints what a checkpoint holds. Reading it always checks the checksum
/// and every length; `verify` also checks that every parameter is finite.
/// With `json`, prints exactly one JSON object on stdout.
pub fn inspect_command(path: &Path, verify: bool, json: bool) -> anyhow::Result<()> {
    let (checkpoint, file);
    let mut run = None;
    if path.is_dir() {
        run = crate::service::status::run_report(path);
        let found = match CheckpointDir::new(path).newest_good() {
            Ok(found) => found,
            Err(e) => {
                if let Some(run) = run.as_ref().filter(|_| !json) {
                    println!(
                        "run             {}",
                        crate::service::status::describe_run(run)
                    );
                }
                return Err(e.into());
            }
        };
        for (skipped, why) in &found.skipped {
            eprintln!(
                "funkd: warning: skipping unreadable checkpoint {}: {why}",
                skipped.display()
            );
        }
        (checkpoint, file) = (found.checkpoint, found.path);
    } else {
        checkpoint =
            store::read(path).with_context(|| format!("cannot inspect {}", path.display()))?;
        file = path.to_path_buf();
    }
    let path = file.as_path();
    let version = format_version(path)?;
    let finite = verify.then(|| all_finite(&checkpoint));
    let mut report = report(&checkpoint, version, path, finite);
    if let Some(run) = run {
        report["run"] = run;
    }
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_human(&report);
    }
    if finite == Some(false) {
        anyhow::bail!(
            "{}: the checkpoint holds non-finite parameters",
            path.display()
        );
    }
    Ok(())
}

/// The format version a checkpoint file was written in (the `u32` after
/// the magic): what the file holds, not what this build writes. The file
/// was just decoded, so its header is known to be good.
fn format_version(path: &Path) -> anyhow::Result<u32> {
    let mut header = [0u8; MAGIC.len() + 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .with_context(|| format!("cannot read the header of {}", path.display()))?;
    if &header[..MAGIC.len()] != MAGIC {
        anyhow::bail!(
            "{}: no FUNKCKPT magic (was the file replaced while it was read?)",
            path.display()
        );
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&header[MAGIC.len()..]);
    Ok(u32::from_le_bytes(version))
}

fn all_finite(c: &Checkpoint) -> bool {
    let p = &c.params;
    p.mu.is_finite()
        && [
            &p.user_bias,
            &p.item_bias,
            &p.user_grad_sq,
            &p.item_grad_sq,
            &p.user_factors,
            &p.item_factors,
        ]
        .iter()
        .all(|v| v.iter().all(|x| x.is_finite()))
}

fn report(c: &Checkpoint, version: u32, path: &Path, finite: Option<bool>) -> serde_json::Value {
    let s = &c.settings;
    let p = &c.progress;
    // The model the checkpoint delivers (the best validation epoch's).
    let params = c.best.as_ref().unwrap_or(&c.params);
    let (schedule, decay) = match s.schedule {
        LearningRate::Constant => ("constant", None),
        LearningRate::Decay { decay } => ("decay", Some(decay)),
        LearningRate::Adaptive => ("adaptive", None),
    };
    let finite_or_null = |v: &Vec<f64>| -> Vec<Option<f64>> {
        v.iter().map(|x| x.is_finite().then_some(*x)).collect()
    };
    serde_json::json!({
        "kind": "checkpoint",
        "path": path.display().to_string(),
        "version": version,
        "checksum_ok": true,
        "finite": finite,
        "model": match s.kind { ModelKind::Plain => "plain", ModelKind::Biased => "biased" },
        "method": s.method.name(),
        "schedule": schedule,
        "decay": decay.map(short),
        "rank": s.rank,
        "k": s.k,
        "users": s.users,
        "items": s.items,
        "grid": s.grid,
        "learning_rate": short(s.learning_rate),
        "base_learning_rate": short(s.base_learning_rate),
        "reg": short(s.reg),
        "reg_bias": short(s.reg_bias),
        "seed": s.seed,
        "data_identity": format!("{:016x}", s.data_identity),
        "isa": s.isa,
        "epochs": s.epochs,
        "early_stop": s.early_stop,
        "validation": short(s.validation),
        "hold_out": s.hold_out,
        "reg_row": short(s.reg_row),
        "epoch": p.epoch,
        "stratum": p.stratum,
        "backoffs": p.backoffs,
        "updates": p.updates,
        "train_rmse": finite_or_null(&p.train_rmse),
        "test_rmse": finite_or_null(&p.test_rmse),
        "validation_rmse": finite_or_null(&p.validation_rmse),
        "mid_epoch_restore_point": c.epoch_start.is_some(),
        "best_model_kept": c.best.is_some(),
        "mu": short(params.mu),
        "model_hash": model_hash(params.mu, &params.user_bias, &params.item_bias, &params.user_factors, &params.item_factors),
    })
}

/// An f32 as the shortest decimal that reads back to it (0.01, not
/// 0.009999999776482582).
fn short(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::NAN)
}

fn print_human(r: &serde_json::Value) {
    let field = |k: &str| -> String {
        match &r[k] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "-".to_string(),
            other => other.to_string(),
        }
    };
    println!("checkpoint      {}", field("path"));
    if !r["run"].is_null() {
        println!(
            "run             {}",
            crate::service::status::describe_run(&r["run"])
        );
    }
    println!("format          version {}, checksum ok", field("version"));
    if !r["finite"].is_null() {
        println!("all finite      {}", field("finite"));
    }
    println!(
        "model           {} rank {} (rows of {}), {} users × {} items, μ {}",
        field("model"),
        field("rank"),
        field("k"),
        field("users"),
        field("items"),
        field("mu")
    );
    println!(
        "training        {} {} lr {} (started at {}), reg {}, reg-bias {}, isa {}",
        field("method"),
        field("schedule"),
        field("learning_rate"),
        field("base_learning_rate"),
        field("reg"),
        field("reg_bias"),
        field("isa")
    );
    println!(
        "position        epoch {} of {}, stratum {} of {}, {} updates, {} back-offs",
        field("epoch"),
        field("epochs"),
        field("stratum"),
        field("grid"),
        field("updates"),
        field("backoffs")
    );
    println!("seed            {}", field("seed"));
    println!("data identity   {}", field("data_identity"));
    let history = |k: &str| -> String {
        let values: Vec<String> = r[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_f64().map_or("-".into(), |x| format!("{x:.4}")))
                    .collect()
            })
            .unwrap_or_default();
        if values.is_empty() {
            "-".into()
        } else {
            values.join(" ")
        }
    };
    println!("train rmse      {}", history("train_rmse"));
    println!("test rmse       {}", history("test_rmse"));
    println!(
        "validation      {} of the train ratings (held out by {}), λ₀ {}, rmse {}",
        field("validation"),
        r["hold_out"].as_str().unwrap_or("?").replace('-', " "),
        field("reg_row"),
        history("validation_rmse")
    );
    if r["best_model_kept"].as_bool() == Some(true) {
        println!(
            "model           the best validation epoch's (kept beside the current parameters)"
        );
    }
    println!("model hash      {}", field("model_hash"));
}
