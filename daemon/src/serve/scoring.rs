//! Where the queries that score every item run: on tokio's blocking
//! threads, at most one per request thread at a time.
//!
//! A top-N query is a millisecond of pure CPU. Run on the request threads
//! it would hold one for that long, and every request behind it on that
//! thread (a predict of a few microseconds included) would wait. Here the
//! request thread hands the work to a blocking thread and goes on serving
//! other connections; a fair semaphore with one permit per request thread
//! lets no more scans run at once than there are cores to run them, so
//! scans queue in arrival order (their tail latency is their queue, not
//! the scheduler's luck) and a burst of them cannot crowd out the rest.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Runs CPU-heavy query work off the request threads, `limit` at a time.
#[derive(Debug)]
pub struct ScoringPool {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl ScoringPool {
    /// A pool that runs at most `limit` (at least 1) jobs at once.
    pub fn new(limit: usize) -> ScoringPool {
        let limit = limit.max(1);
        ScoringPool {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// Jobs run at once, at most.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Runs `job` on a blocking thread once a permit is free (waiting in
    /// arrival order) and returns its result. A panic in `job` resumes
    /// here, so the caller's panic handling answers it.
    pub async fn run<T, F>(&self, job: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the pool never closes its semaphore");
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        });
        match handle.await {
            Ok(value) => value,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("a scoring job was cancelled: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn no_more_jobs_run_at_once_than_the_limit() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let pool = Arc::new(ScoringPool::new(2));
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
    fn a_panicking_job_panics_its_caller_and_frees_its_permit() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pool = Arc::new(ScoringPool::new(1));
        runtime.block_on(async {
            let p = Arc::clone(&pool);
            let failed = tokio::spawn(async move { p.run(|| panic!("boom")).await }).await;
            assert!(failed.unwrap_err().is_panic());
            assert_eq!(pool.run(|| 7).await, 7);
        });
    }
}
