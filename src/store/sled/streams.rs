//! A search's order numbers: one term's postings read block by block, a word's terms merged in
//! number order, and several words intersected on their postings. Each hands out numbers in
//! the page's direction and can skip ahead to a number, so a page costs the blocks it reads.

use super::{KvIter, TIME_BUDGET};
use crate::ports::StoreError;
use crate::store::keys;
use std::collections::BinaryHeap;
use std::time::Instant;

/// One term's postings as order numbers, in the merge's direction: blocks are read one at a
/// time, and numbers at or before the cursor are skipped.
pub(super) struct Postings {
    tree: sled::Tree,
    term: String,
    blocks: KvIter,
    /// The current block's numbers still to hand out, the next one last.
    ready: Vec<u64>,
    /// The block the last numbers were read from.
    block: Option<u64>,
    desc: bool,
    after: Option<u64>,
}

impl Postings {
    /// `term`'s postings in the direction `desc`, after the order number `after` (exclusive).
    fn open(tree: &sled::Tree, term: &str, desc: bool, after: Option<u64>) -> Self {
        let mut p = Postings {
            tree: tree.clone(),
            term: term.to_string(),
            blocks: Box::new(std::iter::empty()),
            ready: Vec::new(),
            block: None,
            desc,
            after,
        };
        p.read_from(after);
        p
    }

    /// Reads blocks from the one holding `number` on (from the first or last without one).
    /// That block is read whole; its numbers up to `after` are skipped.
    fn read_from(&mut self, number: Option<u64>) {
        let start = keys::posting_key(&self.term, 0);
        let end = keys::posting_key(&self.term, u64::MAX);
        let (lo, hi) = match (number, self.desc) {
            (Some(n), true) => (start, keys::posting_key(&self.term, n)),
            (Some(n), false) => (keys::posting_key(&self.term, n), end),
            (None, _) => (start, end),
        };
        let r = self.tree.range(lo..=hi);
        self.blocks = if self.desc {
            Box::new(r.rev())
        } else {
            Box::new(r)
        };
        self.ready.clear();
        self.block = None;
    }

    fn next_number(&mut self) -> Result<Option<u64>, StoreError> {
        loop {
            if let Some(n) = self.ready.pop() {
                return Ok(Some(n));
            }
            let Some(item) = self.blocks.next() else {
                return Ok(None);
            };
            let (k, v) = item?;
            let numbers = keys::posting_numbers(&k, &v).ok_or_else(|| {
                StoreError::Corrupt("search posting is not a list of orders".into())
            })?;
            self.block = keys::number_of_key(&k);
            let (desc, after) = (self.desc, self.after);
            self.ready = numbers
                .into_iter()
                .filter(|&n| comes_after(n, after, desc))
                .collect();
            // Ascending from the block; handed out from the end.
            if !desc {
                self.ready.reverse();
            }
        }
    }

    /// Skips to `target`: the next number handed out is `target` or one after it. Within the
    /// current block or the next one the numbers are skipped; further on, the blocks are read
    /// again from `target`'s own (one seek instead of every block between).
    fn seek(&mut self, target: u64) {
        let desc = self.desc;
        let past = |n: u64| if desc { n > target } else { n < target };
        while self.ready.last().is_some_and(|&n| past(n)) {
            self.ready.pop();
        }
        self.after = if desc {
            target.checked_add(1)
        } else {
            target.checked_sub(1)
        };
        if !self.ready.is_empty() {
            return;
        }
        let to = target / keys::block_orders(self.term.as_bytes());
        let near = self.block.is_some_and(|b| {
            if desc {
                to.saturating_add(1) >= b
            } else {
                to <= b.saturating_add(1)
            }
        });
        if !near {
            self.read_from(Some(target));
        }
    }
}

/// A search word's matching order numbers, in the order the page wants them.
pub(super) enum Matches {
    /// Read whole from its terms' postings (`SledStore::gather`); the next one last.
    Read(Vec<u64>),
    /// Merged from its terms' posting lists (may repeat a number).
    Merged {
        streams: Vec<Postings>,
        heap: BinaryHeap<(u64, usize)>,
        desc: bool,
    },
}

impl Matches {
    /// A word's matches read whole (ascending), those after the order number `after`.
    pub(super) fn read(mut numbers: Vec<u64>, desc: bool, after: Option<u64>) -> Self {
        numbers.retain(|&n| comes_after(n, after, desc));
        // Handed out from the end.
        if !desc {
            numbers.reverse();
        }
        Matches::Read(numbers)
    }

    /// A word's terms' postings merged, after the order number `after`.
    pub(super) fn merged(
        tree: &sled::Tree,
        terms: &[String],
        desc: bool,
        after: Option<u64>,
    ) -> Result<Self, StoreError> {
        let mut streams: Vec<Postings> = terms
            .iter()
            .map(|t| Postings::open(tree, t, desc, after))
            .collect();
        // k-way merge on order number.
        let mut heap = BinaryHeap::new();
        for (i, it) in streams.iter_mut().enumerate() {
            if let Some(n) = it.next_number()? {
                heap.push(heap_key(desc, n, i));
            }
        }
        Ok(Matches::Merged {
            streams,
            heap,
            desc,
        })
    }

    fn next_number(&mut self) -> Result<Option<u64>, StoreError> {
        match self {
            Matches::Read(numbers) => Ok(numbers.pop()),
            Matches::Merged {
                streams,
                heap,
                desc,
            } => {
                let Some((hk, i)) = heap.pop() else {
                    return Ok(None);
                };
                let n = if *desc { hk } else { u64::MAX - hk };
                if let Some(m) = streams[i].next_number()? {
                    heap.push(heap_key(*desc, m, i));
                }
                Ok(Some(n))
            }
        }
    }

    /// Skips to `target` ([`Postings::seek`]) in the direction `desc`.
    fn seek(&mut self, target: u64, desc: bool) -> Result<(), StoreError> {
        match self {
            Matches::Read(numbers) => {
                // The next one last: ascending when read newest first, descending otherwise.
                let keep = if desc {
                    numbers.partition_point(|&n| n <= target)
                } else {
                    numbers.partition_point(|&n| n >= target)
                };
                numbers.truncate(keep);
            }
            Matches::Merged { streams, heap, .. } => {
                let heads = std::mem::take(heap).into_vec();
                for (hk, i) in heads {
                    let n = if desc { hk } else { u64::MAX - hk };
                    let past = if desc { n > target } else { n < target };
                    if !past {
                        heap.push((hk, i));
                        continue;
                    }
                    streams[i].seek(target);
                    if let Some(m) = streams[i].next_number()? {
                        heap.push(heap_key(desc, m, i));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Where a search's order numbers come from: one word's matches, or several words' together.
pub(super) enum Source {
    One(Matches),
    All(Intersection),
}

impl Source {
    pub(super) fn next_number(&mut self) -> Result<Option<u64>, StoreError> {
        match self {
            Source::One(m) => m.next_number(),
            Source::All(all) => all.next_number(),
        }
    }
}

/// Whether order number `n` comes after `cursor` (exclusive) in the direction `desc`.
fn comes_after(n: u64, cursor: Option<u64>, desc: bool) -> bool {
    match cursor {
        Some(c) if desc => n < c,
        Some(c) => n > c,
        None => true,
    }
}

/// The heap key of order number `n` from stream `i`: the heap pops the largest, so an
/// ascending merge stores numbers reversed.
fn heap_key(desc: bool, n: u64, i: usize) -> (u64, usize) {
    if desc {
        (n, i)
    } else {
        (u64::MAX - n, i)
    }
}

/// The order numbers every word matches, found by leapfrogging: the word that is furthest
/// behind skips to where the furthest ahead stands, so two common words that seldom meet cost
/// their postings, block by block, never their orders' rows. Bounded like a list request: it
/// stops after [`TIME_BUDGET`] (or its step budget) and says where to go on from.
pub(super) struct Intersection {
    words: Vec<Matches>,
    /// Each word's next number; empty until the first is asked for.
    heads: Vec<u64>,
    desc: bool,
    done: bool,
    steps: usize,
    max_steps: usize,
    started: Instant,
    /// Where a search stopped for its budget goes on from: the cursor number (exclusive).
    pub(super) paused: Option<u64>,
}

impl Intersection {
    pub(super) fn new(words: Vec<Matches>, desc: bool, max_steps: usize, started: Instant) -> Self {
        Intersection {
            words,
            heads: Vec::new(),
            desc,
            done: false,
            steps: 0,
            max_steps,
            started,
            paused: None,
        }
    }

    fn next_number(&mut self) -> Result<Option<u64>, StoreError> {
        if self.done {
            return Ok(None);
        }
        if self.heads.is_empty() {
            for w in &mut self.words {
                match w.next_number()? {
                    Some(n) => self.heads.push(n),
                    None => {
                        self.done = true;
                        return Ok(None);
                    }
                }
            }
        }
        let desc = self.desc;
        loop {
            let furthest = if desc {
                self.heads.iter().min()
            } else {
                self.heads.iter().max()
            };
            let Some(&target) = furthest else {
                self.done = true;
                return Ok(None);
            };
            if self.heads.iter().all(|&h| h == target) {
                // A match: every word moves past it (a word's terms may repeat it).
                for (w, head) in self.words.iter_mut().zip(self.heads.iter_mut()) {
                    loop {
                        match w.next_number()? {
                            Some(n) if n == target => continue,
                            Some(n) => *head = n,
                            None => self.done = true,
                        }
                        break;
                    }
                }
                return Ok(Some(target));
            }
            self.steps += 1;
            if self.steps > self.max_steps
                || (self.steps.is_multiple_of(64) && self.started.elapsed() > TIME_BUDGET)
            {
                // Every match before `target` has been handed out; go on from it.
                self.paused = if desc {
                    target.checked_add(1)
                } else {
                    target.checked_sub(1)
                };
                self.done = true;
                return Ok(None);
            }
            for (w, head) in self.words.iter_mut().zip(self.heads.iter_mut()) {
                if *head == target {
                    continue;
                }
                w.seek(target, desc)?;
                match w.next_number()? {
                    Some(n) => *head = n,
                    None => {
                        self.done = true;
                        return Ok(None);
                    }
                }
            }
        }
    }
}
