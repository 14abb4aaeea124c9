//! Work over the bands of a model on scoped threads: each band is done
//! alone, so the results do not depend on how many threads share them.

/// Runs `f` on each item of `items` on up to `threads` threads (each
/// takes every n-th item) and returns the results in the items' order.
pub(super) fn each_in_parallel<I: Send, R: Send>(
    threads: usize,
    items: Vec<I>,
    f: impl Fn(I) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let n = items.len();
    let mut shares: Vec<Vec<(usize, I)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        shares[i % threads].push((i, item));
    }
    let mut slots: Vec<Option<R>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let f = &f;
        let mut shares = shares.into_iter();
        // The calling thread takes the first share itself.
        let own = shares.next().unwrap_or_default();
        let handles: Vec<_> = shares
            .map(|share| {
                scope.spawn(move || {
                    share
                        .into_iter()
                        .map(|(i, item)| (i, f(item)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for (i, r) in own.into_iter().map(|(i, item)| (i, f(item))) {
            slots[i] = Some(r);
        }
        for handle in handles {
            // A panic in a helper thread is a bug: pass it on.
            let done = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (i, r) in done {
                slots[i] = Some(r);
            }
        }
    });
    slots
        .into_iter()
        .map(|r| r.unwrap_or_else(|| unreachable!("every item was done")))
        .collect()
}
