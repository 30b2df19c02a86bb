//! Lists and search over the list indexes: a page of orders through an index and a keyset
//! cursor, and word search through the term postings, never by reading every order.

use super::streams::{Intersection, Matches, Source};
use super::{prefix_end, read_summary, KvIter, SledStore, TIME_BUDGET};
use crate::ports::{ListPage, ListQuery, Refusal, SortField, StoreError, Summary};
use crate::store::keys;
use std::collections::HashSet;
use std::ops::Bound;
use std::time::Instant;

/// Most terms a search word may expand to before the search falls back to a bounded index scan
/// (a short word begins many terms; a surname's e-mail user parts, "andersen12", are skipped
/// for its stem, [`keys::letter_stem`]).
pub(super) const MAX_EXPANSION: usize = 256;
/// Most posting blocks besides each term's first that a search word's matches are read whole
/// from; a word with more is read as it is needed, its terms' postings merged newest first, so
/// a page of a common word costs the page, not the word.
pub(super) const WORD_GATHER_BLOCKS: usize = 16;
/// Most terms a search word's matches are read whole from (one block each at least).
const MAX_GATHER_TERMS: usize = 512;
/// Most posting blocks of a phone run ([`keys::phone_grams`]) read whole: digits are narrowed
/// to the orders with every run of them.
const GATHER_BLOCKS: usize = 4_096;
/// Most order numbers a search word's matches are read whole from.
const GATHER_NUMBERS: usize = 20_000;
/// Most matches a search sorts in memory when sorted by something other than date.
const SORT_CAP: usize = 2_000;

/// The phone term of the first four digits of `word` ([`keys::phone_grams`]).
fn phone_gram(word: &str) -> String {
    format!("{}{}", keys::PHONE_MARK, &word[..keys::MIN_PHONE_DIGITS])
}

fn bad_cursor(message: &str) -> StoreError {
    StoreError::Refused(Refusal::BadCursor(message.to_string()))
}

fn too_broad(message: String) -> StoreError {
    StoreError::Refused(Refusal::TooBroad(message))
}

impl SledStore {
    /// Sets the most index entries one list request examines before it answers with what it
    /// found and a cursor to go on from (the default is [`super::SCAN_BUDGET`]).
    pub fn with_scan_budget(mut self, entries: usize) -> Self {
        self.scan_budget = entries.max(1);
        self
    }

    /// Sets the most posting blocks besides each term's first that a search word's matches are
    /// read whole from (0: never, always merge its terms' posting lists; default
    /// [`WORD_GATHER_BLOCKS`]).
    #[cfg(test)]
    pub(crate) fn with_gather_blocks(mut self, blocks: usize) -> Self {
        self.gather_blocks = blocks;
        self
    }

    /// Whether a list request has looked long enough: `examined` entries since `started`.
    fn out_of_budget(&self, examined: usize, started: Instant) -> bool {
        examined > self.scan_budget
            || (examined.is_multiple_of(256) && started.elapsed() > TIME_BUDGET)
    }

    /// An order's list row, with its search terms when `with_terms`.
    fn summary(
        &self,
        number: u64,
        with_terms: bool,
    ) -> Result<Option<(Summary, Vec<String>)>, StoreError> {
        match self.summaries.get(number.to_be_bytes())? {
            Some(b) => Ok(Some(read_summary(&b, with_terms)?)),
            None => Ok(None),
        }
    }

    fn matches_filters(q: &ListQuery, s: &Summary) -> bool {
        q.payment.is_none_or(|p| p == s.payment_status)
            && q.fulfillment.is_none_or(|f| f == s.fulfillment_status)
            && q.test.is_none_or(|t| t == s.test)
            && q.created_from.is_none_or(|from| s.created_at >= from)
            && q.created_before.is_none_or(|to| s.created_at < to)
            && q.tags.iter().all(|t| s.tags.contains(t))
    }

    fn matches_words(words: &[String], terms: &[String]) -> bool {
        words.iter().all(|w| keys::row_matches(w, terms))
    }

    /// A list straight off one index (no search words, or too broad ones checked row by row).
    pub(super) fn list_by_index(
        &self,
        q: &ListQuery,
        words: &[String],
    ) -> Result<ListPage, StoreError> {
        let part = keys::partition_for(q.sort, q.payment, q.fulfillment, q.test);
        let prefix = keys::index_prefix(q.sort, part);
        // Cursors carry the whole index key; the pinned part only narrows the range read.
        let mut range_prefix = prefix.clone();
        range_prefix.extend_from_slice(&keys::pinned_sort_bytes(q.sort, q.payment, q.fulfillment));
        let mut lo = Bound::Included(range_prefix.clone());
        let mut hi = match prefix_end(&range_prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        if q.sort == SortField::Created {
            if let Some(from) = q.created_from {
                let mut k = prefix.clone();
                k.extend_from_slice(&keys::time_key(from));
                lo = Bound::Included(k);
            }
            if let Some(to) = q.created_before {
                let mut k = prefix.clone();
                k.extend_from_slice(&keys::time_key(to));
                hi = Bound::Excluded(k);
            }
        }
        if let Some(c) = &q.cursor {
            let key = c
                .strip_prefix('k')
                .and_then(|h| hex::decode(h).ok())
                .filter(|k| k.starts_with(&range_prefix) && k.len() >= prefix.len() + 8)
                .ok_or_else(|| bad_cursor("The cursor does not belong to this list"))?;
            if q.desc {
                hi = Bound::Excluded(key);
            } else {
                lo = Bound::Excluded(key);
            }
        }
        let iter = self.idx.range::<Vec<u8>, _>((lo, hi));
        let iter: KvIter = if q.desc {
            Box::new(iter.rev())
        } else {
            Box::new(iter)
        };
        let mut rows = Vec::new();
        let mut last_key: Option<Vec<u8>> = None;
        let mut examined = 0usize;
        let started = Instant::now();
        for item in iter {
            let (k, _) = item?;
            examined += 1;
            if self.out_of_budget(examined, started) && last_key.is_some() {
                // Bounded work per request: hand back what we have and where to go on.
                return Ok(ListPage {
                    orders: rows,
                    next_cursor: last_key.map(|k| format!("k{}", hex::encode(k))),
                });
            }
            let number = keys::number_of_key(&k)
                .ok_or_else(|| StoreError::Corrupt("index key without a number".into()))?;
            let (s, terms) = self.summary(number, !words.is_empty())?.ok_or_else(|| {
                StoreError::Corrupt(format!("index names missing order {number}"))
            })?;
            if Self::matches_filters(q, &s) && Self::matches_words(words, &terms) {
                if rows.len() == q.limit {
                    return Ok(ListPage {
                        orders: rows,
                        next_cursor: last_key.map(|k| format!("k{}", hex::encode(k))),
                    });
                }
                rows.push(s);
            }
            last_key = Some(k.to_vec());
        }
        Ok(ListPage {
            orders: rows,
            next_cursor: None,
        })
    }

    /// Terms starting with `word` that some order has, up to `max + 1`, in byte order. Read
    /// from the postings themselves: the first posting at or after a point names a term, and
    /// the next term begins after that term's postings (`term 0 number` < `term 1`), so each
    /// term found costs one seek however many orders it has.
    fn expand(&self, word: &str, max: usize) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let end = prefix_end(word.as_bytes());
        let mut from = word.as_bytes().to_vec();
        while out.len() <= max {
            let next = match &end {
                Some(e) => self.terms.range(from.clone()..e.clone()).next(),
                None => self.terms.range(from.clone()..).next(),
            };
            let Some(item) = next else { break };
            let (k, _) = item?;
            let term = keys::posting_term(&k)
                .ok_or_else(|| StoreError::Corrupt("search posting without a block".into()))?;
            if let Some(next) = keys::skip_covered(word, term) {
                from = next;
                continue;
            }
            out.push(String::from_utf8_lossy(term).into_owned());
            from = term.to_vec();
            from.push(1);
        }
        Ok(out)
    }

    /// The order numbers of every term that begins with `word`, ascending, read in one pass over
    /// the terms' postings when they are at most `max` numbers, [`MAX_GATHER_TERMS`] terms and
    /// `max_blocks` blocks besides each term's first (counted before they are read; 0: never);
    /// `None` when there are more. A term's first block is as dear to merge as to read (one seek
    /// each), so a word of many small terms (four digits beginning a hundred order numbers) is
    /// read whole. Terms within a stem the word begins ("patel42" for "patel",
    /// [`keys::letter_stem`]) are skipped: the stem's postings hold their orders.
    fn gather(
        &self,
        word: &str,
        max: usize,
        max_blocks: usize,
    ) -> Result<Option<Vec<u64>>, StoreError> {
        if max_blocks == 0 {
            return Ok(None);
        }
        let end = prefix_end(word.as_bytes());
        let mut from = word.as_bytes().to_vec();
        let mut blocks: Vec<(sled::IVec, sled::IVec)> = Vec::new();
        let (mut count, mut terms, mut more_blocks) = (0, 0, 0);
        'runs: loop {
            let iter = match &end {
                Some(end) => self.terms.range(from.clone()..end.clone()),
                None => self.terms.range(from.clone()..),
            };
            for item in iter {
                let (k, v) = item?;
                let term = keys::posting_term(&k)
                    .ok_or_else(|| StoreError::Corrupt("search posting without a block".into()))?;
                if let Some(next) = keys::skip_covered(word, term) {
                    from = next;
                    continue 'runs;
                }
                let same_term = blocks
                    .last()
                    .and_then(|(last, _)| keys::posting_term(last))
                    .is_some_and(|last| last == term);
                if same_term {
                    more_blocks += 1;
                } else {
                    terms += 1;
                }
                count += keys::posting_len(&k, &v);
                if more_blocks > max_blocks || terms > MAX_GATHER_TERMS || count > max {
                    return Ok(None);
                }
                blocks.push((k, v));
            }
            break;
        }
        let mut out = Vec::with_capacity(count);
        for (k, v) in blocks {
            out.extend(keys::posting_numbers(&k, &v).ok_or_else(|| {
                StoreError::Corrupt("search posting is not a list of orders".into())
            })?);
        }
        out.sort_unstable();
        out.dedup();
        Ok(Some(out))
    }

    /// [`Self::gather`] for a search word; a word of four or more digits also gathers the
    /// orders whose phone number has each of its runs of four digits ([`keys::phone_grams`];
    /// each row is then checked for the whole word).
    fn gather_word(&self, word: &str, max: usize) -> Result<Option<Vec<u64>>, StoreError> {
        let Some(mut numbers) = self.gather(word, max, self.gather_blocks)? else {
            return Ok(None);
        };
        if keys::is_digit_word(word) {
            // Orders with every run; a run too common to gather narrows nothing.
            let mut phones: Option<Vec<u64>> = None;
            for start in 0..=word.len() - keys::MIN_PHONE_DIGITS {
                let gram = phone_gram(&word[start..]);
                if let Some(with) = self.gather(&gram, GATHER_NUMBERS, GATHER_BLOCKS)? {
                    phones = Some(match phones {
                        None => with,
                        Some(p) => p
                            .into_iter()
                            .filter(|n| with.binary_search(n).is_ok())
                            .collect(),
                    });
                }
            }
            let Some(phones) = phones else {
                return Ok(None);
            };
            numbers.extend(phones);
            numbers.sort_unstable();
            numbers.dedup();
            if numbers.len() > max {
                return Ok(None);
            }
        }
        Ok(Some(numbers))
    }

    /// Search: each word's matches, read whole when they are few ([`Self::gather`]), otherwise
    /// by merging the posting lists of its terms in number order; several words are intersected
    /// on their postings ([`Intersection`]). A word that begins too many terms to merge, and
    /// digits that may be in a phone number, are checked on each row.
    pub(super) fn search(&self, q: &ListQuery, words: &[String]) -> Result<ListPage, StoreError> {
        let nothing = || {
            if q.cursor
                .as_deref()
                .is_some_and(|c| !c.starts_with('s') && !c.starts_with('o'))
            {
                return Err(bad_cursor("The cursor does not belong to this search"));
            }
            Ok(ListPage {
                orders: Vec::new(),
                next_cursor: None,
            })
        };
        if q.cursor.as_deref().is_some_and(|c| c.starts_with('k')) {
            // A search of very short words goes on along the index it began on.
            return self.list_by_index(q, words);
        }
        let by_date = matches!(q.sort, SortField::Created | SortField::Number);
        let (desc, cursor_number, offset) = if by_date {
            let n = match &q.cursor {
                Some(c) => Some(
                    c.strip_prefix('s')
                        .and_then(|n| n.parse::<u64>().ok())
                        .ok_or_else(|| bad_cursor("The cursor does not belong to this search"))?,
                ),
                None => None,
            };
            (q.desc, n, 0)
        } else {
            let off = match &q.cursor {
                Some(c) => c
                    .strip_prefix('o')
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| *n <= SORT_CAP)
                    .ok_or_else(|| bad_cursor("The cursor does not belong to this search"))?,
                None => 0,
            };
            (true, None, off)
        };
        // Words read whole first, the longest first (they tend to match fewest): a word that
        // matches nothing ends the search before any other is read.
        let mut by_length: Vec<&String> = words.iter().collect();
        by_length.sort_by_key(|w| std::cmp::Reverse(w.len()));
        let mut sources: Vec<Matches> = Vec::new();
        let mut common = Vec::new();
        for w in by_length {
            match self.gather_word(w, GATHER_NUMBERS)? {
                Some(numbers) if numbers.is_empty() => return nothing(),
                Some(numbers) => sources.push(Matches::read(numbers, desc, cursor_number)),
                None => common.push(w),
            }
        }
        let mut unmerged = false;
        for w in common {
            let mut terms = self.expand(w, MAX_EXPANSION)?;
            if keys::is_digit_word(w) {
                terms.extend(self.expand(&phone_gram(w), 0)?);
            }
            if terms.is_empty() {
                return nothing();
            }
            if terms.len() > MAX_EXPANSION {
                // Checked on each row instead.
                unmerged = true;
                continue;
            }
            sources.push(Matches::merged(&self.terms, &terms, desc, cursor_number)?);
        }
        if sources.is_empty() {
            // Every word is very short: walk the chosen index and check each row (bounded).
            return self.list_by_index(q, words);
        }
        let check_rows = unmerged || words.iter().any(|w| keys::is_digit_word(w));
        let started = Instant::now();
        let mut matches = if sources.len() == 1 {
            Source::One(sources.remove(0))
        } else {
            Source::All(Intersection::new(
                sources,
                desc,
                self.scan_budget.saturating_mul(4),
                started,
            ))
        };
        let limit = if by_date { q.limit } else { SORT_CAP };
        let mut rows: Vec<Summary> = Vec::new();
        let mut seen = HashSet::new();
        let mut examined = 0usize;
        let mut last_number = None;
        while let Some(n) = matches.next_number()? {
            if !seen.insert(n) {
                continue;
            }
            examined += 1;
            // Sorted by date, a page can stop early with a cursor; sorted otherwise, every match
            // must be read before the first page is known.
            let stop = if by_date {
                self.out_of_budget(examined, started) && last_number.is_some()
            } else {
                examined > self.scan_budget
            };
            if stop {
                if by_date {
                    return Ok(ListPage {
                        orders: rows,
                        next_cursor: last_number.map(|n| format!("s{n}")),
                    });
                }
                return Err(too_broad("The search matches too many orders to sort this way; refine it or sort by date".into()));
            }
            // One word: its postings are the matches. More, or digits that may be in a phone
            // number: check them on the row.
            let Some((s, terms)) = self.summary(n, check_rows)? else {
                continue;
            };
            if Self::matches_filters(q, &s) && (!check_rows || Self::matches_words(words, &terms)) {
                if rows.len() == limit {
                    if by_date {
                        return Ok(ListPage {
                            orders: rows,
                            next_cursor: last_number.map(|n| format!("s{n}")),
                        });
                    }
                    return Err(too_broad(format!(
                        "The search matches more than {SORT_CAP} orders; refine it or sort by date"
                    )));
                }
                rows.push(s);
            }
            last_number = Some(n);
        }
        if let Source::All(Intersection {
            paused: Some(from), ..
        }) = matches
        {
            // The words' postings took the whole budget: what was found, and where to go on.
            if by_date {
                return Ok(ListPage {
                    orders: rows,
                    next_cursor: Some(format!("s{from}")),
                });
            }
            return Err(too_broad(
                "The search takes too long to sort this way; refine it or sort by date".into(),
            ));
        }
        if by_date {
            return Ok(ListPage {
                orders: rows,
                next_cursor: None,
            });
        }
        let sort_key = |s: &Summary| -> Vec<u8> {
            let mut k = keys::sort_bytes(q.sort, &keys::IndexFields::of_summary(s));
            k.extend_from_slice(&s.number.to_be_bytes());
            k
        };
        rows.sort_by_cached_key(sort_key);
        if q.desc {
            rows.reverse();
        }
        let total = rows.len();
        let page: Vec<Summary> = rows.into_iter().skip(offset).take(q.limit).collect();
        let next = offset + page.len();
        Ok(ListPage {
            orders: page,
            next_cursor: (next < total).then(|| format!("o{next}")),
        })
    }
}
