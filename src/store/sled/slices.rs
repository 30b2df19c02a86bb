//! Reading a whole tree while the store keeps serving: in slices that each pause writes for a
//! few milliseconds, with progress for whoever waits (`orderdeck check`).

use super::SledStore;
use crate::ports::StoreError;
use crate::store::report::Progress;
use std::ops::Bound;
use std::time::{Duration, Instant};

/// Longest one slice of the check keeps writers waiting.
pub(crate) const SLICE: Duration = Duration::from_millis(4);
/// How long writers get between two slices.
pub(crate) const BREATHER: Duration = Duration::from_micros(500);
/// How often progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Reports progress at most every [`PROGRESS_EVERY`], and at the end of every stage.
pub(crate) struct Reporter<'a> {
    pub sink: &'a mut dyn FnMut(&Progress),
    pub last: Option<Instant>,
}

impl Reporter<'_> {
    pub fn report(&mut self, stage: &str, done: u64, total: u64, end: bool) {
        if end || self.last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            self.last = Some(Instant::now());
            (self.sink)(&Progress {
                stage: stage.to_string(),
                done,
                total,
            });
        }
    }
}

/// Walks a tree in slices: each slice pauses writes for at most [`SLICE`], then lets the
/// writers that waited through. Every entry is seen once, in key order, each in a consistent
/// state with the entries read in the same slice.
pub(crate) fn walk(
    store: &SledStore,
    tree: &sled::Tree,
    stage: &str,
    total: u64,
    reporter: &mut Reporter<'_>,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut after: Option<sled::IVec> = None;
    let mut done = 0u64;
    loop {
        let paused = store.pause_writes();
        let started = Instant::now();
        let iter = match &after {
            Some(k) => tree.range::<&[u8], _>((Bound::Excluded(k.as_ref()), Bound::Unbounded)),
            None => tree.iter(),
        };
        let mut finished = true;
        for item in iter {
            let (k, v) = item?;
            each(&k, &v)?;
            done += 1;
            let out_of_time = done.is_multiple_of(8) && started.elapsed() >= SLICE;
            after = Some(k);
            if out_of_time {
                finished = false;
                break;
            }
        }
        drop(paused);
        reporter.report(stage, done, total, finished);
        if finished {
            return Ok(());
        }
        std::thread::sleep(BREATHER);
    }
}
