//! Group commit: a write is acknowledged only after a flush that started after it. One flush on a
//! dedicated thread serves every writer waiting at that moment, so durability stays cheap under load.

use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::watch;

/// How long a flush waits for more writers while they arrive together. sled's flush seals and
/// writes its IO buffer however little is in it, so under load fewer, fuller flushes leave more
/// of the two cores to the writers: at 32 clients durable intake went from ~1,670 to ~1,950
/// orders/s and payments from ~2,650 to ~3,700/s with 3 ms, for 3 ms more latency only when
/// busy (a lone write is flushed at once).
const COALESCE: std::time::Duration = std::time::Duration::from_millis(3);

type FlushFn = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

struct State {
    requested: u64,
    stop: bool,
}

/// Shared by every writer. Cloning is cheap.
#[derive(Clone)]
pub struct GroupCommit {
    inner: Arc<Inner>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

struct Inner {
    state: Mutex<State>,
    wake: Condvar,
    done: watch::Sender<(u64, Option<String>)>,
}

impl GroupCommit {
    /// Starts the flusher thread.
    pub fn start(flush: FlushFn) -> Self {
        let (done, _) = watch::channel((0u64, None));
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                requested: 0,
                stop: false,
            }),
            wake: Condvar::new(),
            done,
        });
        let worker = inner.clone();
        let handle = std::thread::Builder::new()
            .name("orderdeck-flush".into())
            .spawn(move || worker.run(flush))
            .expect("cannot start the flush thread");
        GroupCommit {
            inner,
            thread: Arc::new(Mutex::new(Some(handle))),
        }
    }

    /// Waits until everything written before this call is on disk.
    pub async fn wait(&self) -> Result<(), String> {
        let ticket = self.request();
        let mut rx = self.inner.done.subscribe();
        let r = rx
            .wait_for(|(completed, _)| *completed >= ticket)
            .await
            .map_err(|_| "the flush thread stopped".to_string())?;
        match &r.1 {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Blocking variant for command-line tools and shutdown.
    pub fn wait_blocking(&self) -> Result<(), String> {
        let ticket = self.request();
        let mut rx = self.inner.done.subscribe();
        loop {
            {
                let v = rx.borrow_and_update();
                if v.0 >= ticket {
                    return v.1.clone().map_or(Ok(()), Err);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn request(&self) -> u64 {
        let mut st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        st.requested += 1;
        let t = st.requested;
        self.inner.wake.notify_one();
        t
    }

    /// Stops the flusher after a final flush and waits for it, so the database (and its
    /// directory lock) is released when this returns.
    pub fn stop(&self) {
        {
            let mut st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
            st.stop = true;
            self.inner.wake.notify_one();
        }
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

impl Inner {
    fn run(&self, flush: FlushFn) {
        let mut completed = 0u64;
        // How many writes the previous flush served: more than one means writers are arriving
        // together, and waiting a moment lets one flush serve more of them.
        let mut last_batch = 0u64;
        loop {
            let target = {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                while st.requested == completed && !st.stop {
                    st = self.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                if st.stop && st.requested == completed {
                    let _ = flush();
                    return;
                }
                st.requested
            };
            let target = if last_batch > 1 {
                std::thread::sleep(COALESCE);
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .requested
            } else {
                target
            };
            last_batch = target - completed;
            let result = flush().err();
            if let Some(e) = &result {
                log::error!("flushing the store to disk failed: {e}");
            }
            completed = target;
            self.done.send_replace((completed, result));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn concurrent_writers_share_flushes_and_every_one_is_answered() {
        let flushes = Arc::new(AtomicU64::new(0));
        let f = flushes.clone();
        let gc = GroupCommit::start(Box::new(move || {
            std::thread::sleep(std::time::Duration::from_millis(2));
            f.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }));
        // A lone write gets its own flush.
        gc.wait_blocking().unwrap();
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
        let threads: Vec<_> = (0..64)
            .map(|_| {
                let gc = gc.clone();
                std::thread::spawn(move || gc.wait_blocking())
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!(n < 40, "64 writers took {n} flushes");
        gc.stop();
    }

    #[test]
    fn a_failed_flush_is_reported_to_its_writers() {
        let gc = GroupCommit::start(Box::new(|| Err("disk full".to_string())));
        assert_eq!(gc.wait_blocking(), Err("disk full".to_string()));
        gc.stop();
    }
}
