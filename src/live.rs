//! The live loop: runs the tick (aggregate::tick) on its own thread every
//! `--tick-ms`, hands each audience's view to its hub (publish), and saves
//! the figures beside the database now and then (store). It is the wiring
//! between the stages, so it sits above them: aggregate computes, publish
//! sends, neither knows the other.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::aggregate::saved;
use crate::aggregate::tick::TickEngine;
use crate::metrics::Metrics;
use crate::publish::Hubs;
use crate::store::{SAVED_FIGURES_SETTING, Store};
use crate::time;

/// When the tick saves the figures beside the database (`aggregate::saved`).
#[derive(Debug, Clone)]
pub struct SavePolicy {
    /// The database file; the saved figures go beside it.
    pub database: std::path::PathBuf,
    /// Save once this many events were folded since the last save...
    pub every_events: u64,
    /// ...and this long has passed since it.
    pub min_interval: Duration,
}

/// The tick's own OS thread. The tick never waits for tokio's blocking
/// pool, which password checks, store calls and exports share: a flood of
/// those cannot hold the walls still.
struct TickThread {
    jobs: std_mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl TickThread {
    fn start() -> TickThread {
        let (jobs, rx) = std_mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("weibing-tick".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("the tick's thread starts");
        TickThread { jobs }
    }

    /// Runs `f` on the tick's thread; `Err` if it panicked.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into())
            });
            let _ = tx.send(result);
        };
        self.jobs
            .send(Box::new(job))
            .map_err(|_| "the tick's thread is gone".to_string())?;
        rx.await
            .map_err(|_| "the tick's thread is gone".to_string())?
    }
}

/// Runs ticks until `shutdown` turns true. A tick runs on its own thread
/// (`TickThread`); a late tick is skipped rather than queued. The figures
/// are saved beside the database as `save` says and once more when
/// stopping; `store` is held until then, so the store stays open for the
/// last save.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    engine: TickEngine,
    hub: Arc<Hubs>,
    every: Duration,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
    store: Store,
    save: SavePolicy,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut engine = Some(engine);
    let mut last_save: Option<std::time::Instant> = None;
    let mut saving: Option<tokio::task::JoinHandle<()>> = None;
    let thread = TickThread::start();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = wake.notified() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
        let mut e = engine.take().expect("the engine is back after each tick");
        let hub = hub.clone();
        let tick_metrics = metrics.clone();
        // One save at a time, and not more often than the policy allows.
        let may_save = saving.as_ref().is_none_or(|s| s.is_finished())
            && last_save.is_none_or(|t| t.elapsed() >= save.min_interval);
        let every_events = save.every_events;
        let joined = thread
            .run(move || {
                let started = std::time::Instant::now();
                let now = time::now_beijing_micros();
                match e.tick(now) {
                    Ok(views) => {
                        let computed = started.elapsed();
                        hub.publish(&views, now);
                        let took = started.elapsed();
                        tick_metrics.ticked(took.as_secs_f64(), now);
                        // One line per tick at debug: what the benchmark reads
                        // (docs/performance.md, "The scenarios"); off at the
                        // default level.
                        tracing::debug!(
                            folded = e.last().0,
                            compute_us = computed.as_micros() as u64,
                            fold_us = e.last().1.fold_us,
                            index_us = e.last().1.index_us,
                            views_us = e.last().1.views_us,
                            publish_us = (took - computed).as_micros() as u64,
                            "tick"
                        );
                    }
                    Err(err) => {
                        tick_metrics.tick_failures.inc();
                        tracing::error!(error = %err, "tick failed; the last state stays up");
                    }
                }
                let took = started.elapsed();
                e.took(took.as_secs_f64() * 1000.0);
                if took > Duration::from_millis(500) {
                    tracing::warn!(ms = took.as_millis() as u64, "slow tick");
                }
                // After the publish, so the screens do not wait for it.
                let saved = (may_save && e.unsaved() >= every_events && e.needs_saving())
                    .then(|| encode(&mut e));
                (e, saved.flatten())
            })
            .await;
        match joined {
            Ok((e, saved)) => {
                engine = Some(e);
                if let Some(saved) = saved {
                    last_save = Some(std::time::Instant::now());
                    let (store, path) = (store.clone(), save.database.clone());
                    saving = Some(tokio::spawn(write_saved(
                        store,
                        metrics.clone(),
                        path,
                        saved,
                    )));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "tick panicked; stopping the tick");
                break;
            }
        }
    }
    if let Some(previous) = saving {
        let _ = previous.await;
    }
    if let Some(mut e) = engine.filter(|e| e.needs_saving()) {
        let encoded = thread.run(move || encode(&mut e)).await;
        if let Ok(Some(saved)) = encoded {
            write_saved(store, metrics, save.database, saved).await;
        }
    }
}

/// The saved file's bytes, the token the database must name, and the
/// events they cover.
pub struct Saved {
    bytes: Vec<u8>,
    token: String,
    events: u64,
}

/// The engine's figures as the saved file's bytes (logged; `None` if they
/// could not be encoded).
fn encode(e: &mut TickEngine) -> Option<Saved> {
    let started = std::time::Instant::now();
    match e.save(time::now_beijing_micros()) {
        Ok((bytes, token)) => {
            tracing::info!(
                events = e.covered().events,
                bytes = bytes.len(),
                ms = started.elapsed().as_millis() as u64,
                "encoded the figures to save"
            );
            Some(Saved {
                bytes,
                token,
                events: e.covered().events,
            })
        }
        Err(err) => {
            tracing::error!(error = %err, "the figures could not be encoded to save");
            None
        }
    }
}

/// Writes the saved file beside `database`, then has the database name it.
/// Until the database names it, a start does not use it.
async fn write_saved(
    store: Store,
    metrics: Arc<Metrics>,
    database: std::path::PathBuf,
    saved: Saved,
) {
    let Saved {
        bytes,
        token,
        events,
    } = saved;
    let path = saved::path_for(&database);
    let started = std::time::Instant::now();
    let written =
        tokio::task::spawn_blocking(move || saved::write(&path, &bytes).map(|()| bytes.len()))
            .await;
    let result = match written {
        Ok(Ok(bytes)) => match store.set_setting(SAVED_FIGURES_SETTING, &token).await {
            Ok(()) => {
                metrics.saved_events.set(events as i64);
                tracing::info!(
                    bytes,
                    ms = started.elapsed().as_millis() as u64,
                    "saved the figures beside the database"
                );
                return;
            }
            Err(e) => e.to_string(),
        },
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::warn!(error = %result, "the figures were not saved; a start will replay the events");
}
