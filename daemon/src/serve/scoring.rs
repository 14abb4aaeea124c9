//! Where the queries that score every item run: on scoring threads of
//! their own, one per request thread, fed from one queue.
//!
//! A top-N query is a few hundred microseconds of pure CPU. Run on the
//! request threads it would hold one for that long, and every request
//! behind it on that thread (a predict of a few microseconds included)
//! would wait. Here the request thread puts the work in the queue and goes
//! on serving other connections. No more scans run at once than there are
//! scoring threads (as many as cores to run them), so scans wait in
//! arrival order (their tail latency is their queue, not the scheduler's
//! luck) and a burst of them cannot crowd out the rest.
//!
//! The threads are long-lived and take job after job from the queue: under
//! load a scoring thread runs the queued scans back to back instead of
//! going to sleep and being woken for each one, and no request thread has
//! to run between two scans to hand the next one over. A job whose caller
//! has gone (the client disconnected, the request timed out) before it
//! started is skipped.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

type Job = Box<dyn FnOnce() + Send>;

/// Runs CPU-heavy query work off the request threads, `limit` at a time.
#[derive(Debug)]
pub struct ScoringPool {
    jobs: crossbeam_channel::Sender<Job>,
    limit: usize,
}

impl ScoringPool {
    /// A pool of `limit` (at least 1) scoring threads. The threads stop
    /// when the pool is dropped, after the jobs queued.
    pub fn new(limit: usize) -> std::io::Result<ScoringPool> {
        let limit = limit.max(1);
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for n in 0..limit {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("funkd-score-{n}"))
                .spawn(move || {
                    while let Ok(job) = queue.recv() {
                        job();
                    }
                })?;
        }
        Ok(ScoringPool { jobs, limit })
    }

    /// Jobs run at once, at most.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Jobs waiting for a scoring thread.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// Runs `job` on a scoring thread once one is free (jobs start in
    /// arrival order) and returns its result. A panic in `job` resumes
    /// here, so the caller's panic handling answers it. If this future is
    /// dropped before the job starts, the job is skipped.
    pub async fn run<T, F>(&self, job: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        let wrapped: Job = Box::new(move || {
            if done.is_closed() {
                return;
            }
            // The job owns everything it touches; a panic leaves nothing
            // of the pool's half-updated.
            let _ = done.send(catch_unwind(AssertUnwindSafe(job)));
        });
        if self.jobs.send(wrapped).is_err() {
            panic!("the scoring threads have stopped");
        }
        match result.await {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => resume_unwind(panic),
            Err(_) => panic!("a scoring thread stopped before answering"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn no_more_jobs_run_at_once_than_the_limit() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let pool = Arc::new(ScoringPool::new(2).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        runtime.block_on(async {
            let jobs: Vec<_> = (0..12)
                .map(|i| {
                    let (pool, running, most) =
                        (Arc::clone(&pool), Arc::clone(&running), Arc::clone(&most));
                    tokio::spawn(async move {
                        pool.run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(5));
                            running.fetch_sub(1, Ordering::SeqCst);
                            i * 2
                        })
                        .await
                    })
                })
                .collect();
            for (i, job) in jobs.into_iter().enumerate() {
                assert_eq!(job.await.unwrap(), i * 2);
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_panicking_job_panics_its_caller_and_the_pool_goes_on() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pool = Arc::new(ScoringPool::new(1).unwrap());
        runtime.block_on(async {
            let p = Arc::clone(&pool);
            let failed = tokio::spawn(async move { p.run(|| panic!("boom")).await }).await;
            assert!(failed.unwrap_err().is_panic());
            assert_eq!(pool.run(|| 7).await, 7);
        });
    }

    #[test]
    fn a_job_whose_caller_went_away_before_it_started_is_skipped() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pool = Arc::new(ScoringPool::new(1).unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        let (release, hold) = crossbeam_channel::bounded::<()>(0);
        let (started, busy_now) = crossbeam_channel::bounded::<()>(1);
        runtime.block_on(async {
            // The one scoring thread is busy until released.
            let p = Arc::clone(&pool);
            let busy = tokio::spawn(async move {
                p.run(move || {
                    started.send(()).unwrap();
                    hold.recv().unwrap()
                })
                .await
            });
            while busy_now.try_recv().is_err() {
                tokio::task::yield_now().await;
            }
            let (p, r) = (Arc::clone(&pool), Arc::clone(&ran));
            let gone =
                tokio::spawn(async move { p.run(move || r.fetch_add(1, Ordering::SeqCst)).await });
            while pool.queued() == 0 {
                tokio::task::yield_now().await;
            }
            gone.abort();
            assert!(gone.await.unwrap_err().is_cancelled());
            release.send(()).unwrap();
            busy.await.unwrap();
            // Jobs start in order: once this one ran, the skipped one was
            // taken from the queue before it.
            assert_eq!(pool.run(|| 5).await, 5);
        });
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}
