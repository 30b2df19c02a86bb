//! Index keys and search terms. Numbers and timestamps are big-endian so byte order is sort order.

use crate::domain::{FulfillmentStatus, Order, PaymentStatus};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeSet;

pub use crate::ports::SortField;

/// A sort field's byte in index keys.
fn sort_id(f: SortField) -> u8 {
    match f {
        SortField::Created => 1,
        SortField::Number => 2,
        SortField::Total => 3,
        SortField::PaymentStatus => 4,
        SortField::FulfillmentStatus => 5,
        SortField::Customer => 6,
    }
}

/// Which slice of the orders an index covers: all of them, or those with one filter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    All,
    Payment(PaymentStatus),
    Fulfillment(FulfillmentStatus),
    Test(bool),
}

impl Partition {
    fn bytes(self) -> [u8; 2] {
        match self {
            Partition::All => [0, 0],
            Partition::Payment(s) => [1, s.code()],
            Partition::Fulfillment(s) => [2, s.code()],
            Partition::Test(t) => [3, u8::from(t)],
        }
    }
}

/// Bytes of the customer name used in sort keys (lower-cased, fixed width).
pub const NAME_KEY_LEN: usize = 24;

/// The fields of an order that indexes are built from.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexFields {
    pub number: u64,
    pub created_at: DateTime<Utc>,
    pub total: Decimal,
    pub payment: PaymentStatus,
    pub fulfillment: FulfillmentStatus,
    pub test: bool,
    pub customer_name: String,
}

impl IndexFields {
    /// Reads the indexed fields off an order.
    pub fn of(order: &Order) -> Self {
        IndexFields {
            number: order.number,
            created_at: order.created_at,
            total: order.total,
            payment: order.payment_status(),
            fulfillment: order.fulfillment_status(),
            test: order.test,
            customer_name: order.customer.name.clone(),
        }
    }

    /// Reads the indexed fields off an order's list row.
    pub fn of_summary(s: &crate::ports::Summary) -> Self {
        IndexFields {
            number: s.number,
            created_at: s.created_at,
            total: s.total,
            payment: s.payment_status,
            fulfillment: s.fulfillment_status,
            test: s.test,
            customer_name: s.customer_name.clone(),
        }
    }
}

/// Timestamp as sortable bytes.
pub fn time_key(t: DateTime<Utc>) -> [u8; 8] {
    ((t.timestamp_millis() as u64) ^ (1u64 << 63)).to_be_bytes()
}

/// Money as sortable bytes (hundredths, saturating).
pub fn money_key(d: Decimal) -> [u8; 8] {
    let cents = (d * Decimal::from(100)).trunc();
    let v: u64 = cents.try_into().unwrap_or(u64::MAX);
    v.to_be_bytes()
}

/// A customer name as fixed-width, case-insensitive sort bytes.
pub fn name_key(name: &str) -> [u8; NAME_KEY_LEN] {
    let mut out = [0u8; NAME_KEY_LEN];
    let lower = name.to_lowercase();
    let mut n = 0;
    for ch in lower.chars() {
        let mut buf = [0u8; 4];
        let b = ch.encode_utf8(&mut buf).as_bytes();
        if n + b.len() > NAME_KEY_LEN {
            break;
        }
        out[n..n + b.len()].copy_from_slice(b);
        n += b.len();
    }
    out
}

/// The fixed prefix of one index: sort field and partition.
pub fn index_prefix(sort: SortField, part: Partition) -> Vec<u8> {
    let p = part.bytes();
    vec![sort_id(sort), p[0], p[1]]
}

/// The sort-key bytes (between prefix and number) for one sort field.
pub fn sort_bytes(sort: SortField, f: &IndexFields) -> Vec<u8> {
    match sort {
        SortField::Created => time_key(f.created_at).to_vec(),
        SortField::Number => Vec::new(),
        SortField::Total => money_key(f.total).to_vec(),
        SortField::PaymentStatus => vec![f.payment.code()],
        SortField::FulfillmentStatus => vec![f.fulfillment.code()],
        SortField::Customer => name_key(&f.customer_name).to_vec(),
    }
}

/// One index key.
pub fn index_key(sort: SortField, part: Partition, f: &IndexFields) -> Vec<u8> {
    let mut k = index_prefix(sort, part);
    k.extend_from_slice(&sort_bytes(sort, f));
    k.extend_from_slice(&f.number.to_be_bytes());
    k
}

/// The layout of the derived list data: [`index_keys`] and the `summaries` records; stored in
/// the database so that a store written with another layout has them rebuilt when opened.
/// 1: 24 index keys per order; 2: nine; 3: compact list rows with their terms as a tail; 4: a
/// phone number is also indexed by every ending of four or more of its digits
/// ([`phone_terms`]), so the search postings are rebuilt too; 5: no separate vocabulary of
/// terms (a search word finds its terms in the postings), nothing rebuilt; 6: a term's postings
/// are one value per block of [`BLOCK_ORDERS`] orders ([`posting_key`]; wider for phone terms), an order's phone
/// number is posted as its runs of four digits ([`phone_grams`]) and kept whole in its list
/// row ([`row_terms`]), so rows and postings are rebuilt; 7: a term of letters and digits
/// ("patel42") also posts its letters ([`letter_stem`]), rows and postings rebuilt.
pub const INDEX_SCHEME: u64 = 7;

/// Every index key an order has. The default sort (newest first) is indexed over all orders and
/// within each filter value; every other sort over all orders (a filter is then checked row by
/// row, bounded per request) and within test orders, which are too few to find that way.
/// Nine keys per order (fourteen for a test order) rather than 24: every key is
/// a write on each status change.
pub fn index_keys(f: &IndexFields) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    for part in [
        Partition::All,
        Partition::Payment(f.payment),
        Partition::Fulfillment(f.fulfillment),
        Partition::Test(f.test),
    ] {
        out.insert(index_key(SortField::Created, part, f));
    }
    for sort in SortField::ALL {
        if sort != SortField::Created {
            out.insert(index_key(sort, Partition::All, f));
            if f.test {
                out.insert(index_key(sort, Partition::Test(true), f));
            }
        }
    }
    out
}

/// The index a list reads: the sort over the filter's partition where that index exists,
/// otherwise the sort over all orders (the caller checks filters row by row).
pub fn partition_for(
    sort: SortField,
    payment: Option<PaymentStatus>,
    fulfillment: Option<FulfillmentStatus>,
    test: Option<bool>,
) -> Partition {
    if sort == SortField::Created {
        if let Some(p) = payment {
            return Partition::Payment(p);
        }
        if let Some(f) = fulfillment {
            return Partition::Fulfillment(f);
        }
        if let Some(t) = test {
            return Partition::Test(t);
        }
    } else if test == Some(true) {
        return Partition::Test(true);
    }
    Partition::All
}

/// Extra prefix bytes a filter pins within a status sort (sorting by payment status while
/// showing one payment status reads just that run of the index).
pub fn pinned_sort_bytes(
    sort: SortField,
    payment: Option<PaymentStatus>,
    fulfillment: Option<FulfillmentStatus>,
) -> Vec<u8> {
    match (sort, payment, fulfillment) {
        (SortField::PaymentStatus, Some(p), _) => vec![p.code()],
        (SortField::FulfillmentStatus, _, Some(f)) => vec![f.code()],
        _ => Vec::new(),
    }
}

/// The number at the end of an index key.
pub fn number_of_key(k: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = k.get(k.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// Longest search term kept (longer words are cut; prefixes still match).
pub const MAX_TERM_LEN: usize = 32;

fn push_term(out: &mut BTreeSet<String>, t: &str) {
    let t: String = t.chars().take(MAX_TERM_LEN).collect();
    if !t.is_empty() {
        out.insert(t);
    }
}

/// Splits free text into lower-case search words. Whole e-mail addresses and digit-only phone
/// numbers are kept as words too, so "ann@shop.com" and "+1 (555) 010" both find their order.
pub fn terms_of_text(text: &str, out: &mut BTreeSet<String>) {
    let lower = text.to_lowercase();
    for word in lower.split_whitespace() {
        if word.contains('@') {
            // Whole addresses live under their own "@" prefix so that a name search ("olivia")
            // does not expand to every "olivia.…@…" address.
            let whole = word.trim_matches(|c: char| !c.is_alphanumeric());
            if !whole.is_empty() {
                push_term(out, &format!("@{whole}"));
            }
        }
        for part in word.split(|c: char| !c.is_alphanumeric()) {
            push_term(out, part);
        }
    }
}

/// Digits only (for phone numbers).
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Fewest digits a phone search needs (fewer would match most of the store).
pub const MIN_PHONE_DIGITS: usize = 4;

/// A phone number's search terms: its digits, and every ending of at least
/// [`MIN_PHONE_DIGITS`] of them. Search matches terms by prefix, so any run of four or more
/// digits of the number — with or without the country code, typed with spaces, dashes, brackets
/// or a plus — finds it.
pub fn phone_terms(phone: &str, out: &mut BTreeSet<String>) {
    let d = digits(phone);
    if d.len() < MIN_PHONE_DIGITS {
        push_term(out, &d);
        return;
    }
    for start in 0..=d.len() - MIN_PHONE_DIGITS {
        push_term(out, &d[start..]);
    }
}

/// The digits of a query that is a phone number (only digits and phone punctuation, at least
/// [`MIN_PHONE_DIGITS`] digits), searched as one term.
fn phone_query(q: &str) -> Option<String> {
    let phone_like = q
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace() || "+-().".contains(c));
    let d = digits(q);
    (phone_like && d.len() >= MIN_PHONE_DIGITS).then_some(d)
}

/// Marks a phone number's terms in an order's postings and list row ([`phone_grams`]): no
/// search word begins with it.
pub const PHONE_MARK: char = '%';

/// An order's phone number as posted search terms: each run of four of its digits, marked
/// ("%5231"). Unlike every ending of the number ([`phone_terms`]), which no other order shares,
/// a run of four digits is one of 10,000, so its postings fill blocks. A number of fewer digits
/// is a plain term.
pub fn phone_grams(phone: &str, out: &mut BTreeSet<String>) {
    let d = digits(phone);
    if d.len() < MIN_PHONE_DIGITS {
        push_term(out, &d);
        return;
    }
    for start in 0..=d.len() - MIN_PHONE_DIGITS {
        out.insert(format!(
            "{PHONE_MARK}{}",
            &d[start..start + MIN_PHONE_DIGITS]
        ));
    }
}

/// Whether a search word is four or more digits: it also finds the orders whose phone number
/// holds it ([`phone_grams`], then checked on the list row).
pub fn is_digit_word(word: &str) -> bool {
    word.len() >= MIN_PHONE_DIGITS && word.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a list row's terms ([`row_terms`]) match a search word: a term begins with it, or
/// for a digit word, the phone number holds it.
pub fn row_matches(word: &str, terms: &[String]) -> bool {
    let in_phone = is_digit_word(word);
    terms.iter().any(|t| {
        t.starts_with(word)
            || (in_phone
                && t.strip_prefix(PHONE_MARK)
                    .is_some_and(|digits| digits.contains(word)))
    })
}

/// An order's search terms as the embedded store posts them: [`search_words`], with the phone
/// number as [`phone_grams`], and the [`letter_stem`] of each term that has one.
pub fn order_terms(order: &Order) -> BTreeSet<String> {
    let mut out = terms_with(order, phone_grams);
    let stems: Vec<String> = out
        .iter()
        .filter_map(|t| letter_stem(t))
        .map(str::to_string)
        .collect();
    out.extend(stems);
    out
}

/// The letters a term begins with when a digit follows them ("patel" of "patel42", an e-mail
/// user part). The embedded store posts the stem too, so every term that begins with a stem
/// and a digit matches a subset of the stem's orders: a search word that the stem begins with
/// reads the stem's postings and skips the whole run of such terms ([`stem_run_end`]) instead
/// of merging a posting list per e-mail address.
pub fn letter_stem(term: &str) -> Option<&str> {
    let end = term
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map(|(i, _)| i)?;
    (end > 0 && term.as_bytes()[end].is_ascii_digit()).then(|| &term[..end])
}

/// Where the run of terms that begin with `stem` and a digit ends, in key order (`:` follows
/// `9`): every term between `stem0` and here has `stem` as its [`letter_stem`].
pub fn stem_run_end(stem: &str) -> Vec<u8> {
    let mut k = stem.as_bytes().to_vec();
    k.push(b':');
    k
}

/// The first key after the run of terms that `term` belongs to when every term of that run
/// matches a subset of the orders of a shorter term that `word` begins too, so that term's
/// postings, read for `word`, already hold them:
/// - letters then a digit ("patel42", an e-mail user part): the run under its [`letter_stem`]
///   ("patel"), posted by [`order_terms`];
/// - a whole SKU or tracking number ("btl-stl-1l"): the run of terms that begin with its first
///   part and the same separator ("btl-"); [`search_words`] posts the parts too.
pub fn skip_covered(word: &str, term: &[u8]) -> Option<Vec<u8>> {
    let term = std::str::from_utf8(term).ok()?;
    if let Some(stem) = letter_stem(term) {
        if word.len() <= stem.len() && stem.starts_with(word) {
            return Some(stem_run_end(stem));
        }
    }
    let (at, sep) = term.char_indices().find(|(_, c)| !c.is_alphanumeric())?;
    let first = &term[..at];
    if at == 0 || word.len() > first.len() || !first.starts_with(word) {
        return None;
    }
    // Past every term that begins with the first part and this separator (UTF-8 never holds
    // 0xFF, so the last byte can always go up by one).
    let mut end = term.as_bytes()[..at + sep.len_utf8()].to_vec();
    *end.last_mut()? += 1;
    Some(end)
}

/// The terms kept in an order's list row: its postings' terms and its phone number's digits,
/// marked, so a search for more than four digits is checked on the row.
pub fn row_terms(order: &Order) -> BTreeSet<String> {
    let mut out = order_terms(order);
    let d = digits(&order.customer.phone);
    if d.len() > MIN_PHONE_DIGITS {
        out.insert(format!("{PHONE_MARK}{d}"));
    }
    out
}

/// Every search word of an order: number, customer name, email, phone (with every ending of
/// four or more digits, [`phone_terms`]), item names and SKUs, tracking numbers, tags.
pub fn search_words(order: &Order) -> BTreeSet<String> {
    terms_with(order, phone_terms)
}

fn terms_with(order: &Order, phone: fn(&str, &mut BTreeSet<String>)) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    push_term(&mut out, &order.number.to_string());
    terms_of_text(&order.customer.name, &mut out);
    terms_of_text(&order.customer.email, &mut out);
    phone(&order.customer.phone, &mut out);
    for item in &order.items {
        terms_of_text(&item.name, &mut out);
        push_term(&mut out, &item.sku.to_lowercase());
        terms_of_text(&item.sku, &mut out);
    }
    for s in &order.shipments {
        if let Some(t) = &s.tracking_number {
            push_term(&mut out, &t.to_lowercase());
            terms_of_text(t, &mut out);
        }
    }
    for tag in &order.tags {
        terms_of_text(tag, &mut out);
        push_term(&mut out, &tag_term(tag));
    }
    out
}

/// The term a tag filter reads postings from: `#` and the tag (no query word starts with
/// `#`, so search words never expand to it; longer tags share a cut term, and the filter
/// checks each row's tags exactly).
pub fn tag_term(tag: &str) -> String {
    let t: String = format!("#{tag}").chars().take(MAX_TERM_LEN).collect();
    t
}

/// The words of a search query (same rules as indexing; `#1001` finds order 1001).
pub fn query_terms(q: &str) -> Vec<String> {
    if let Some(d) = phone_query(q) {
        return vec![d];
    }
    let mut set = BTreeSet::new();
    for word in q.split_whitespace() {
        // "@shop.com" is a domain: whole-address terms ("@ann@shop.com") never begin with it,
        // so only its words are searched.
        terms_of_text(word.trim_start_matches('@'), &mut set);
    }
    // A word that is only a prefix of a longer one adds nothing (both must match anyway).
    let all: Vec<String> = set.into_iter().collect();
    all.iter()
        .filter(|t| !all.iter().any(|o| o != *t && o.starts_with(t.as_str())))
        .cloned()
        .collect()
}

/// Order numbers per search-posting block of an ordinary term (a power of two): a term's
/// postings are one value per run of this many consecutive order numbers, naming those that
/// have the term. A term most orders have ("com", a product word) is one entry per 256 orders
/// instead of one per order, and its value (at most a 32-byte bitmap) stays small, because
/// every new order rewrites it.
pub const BLOCK_ORDERS: u64 = 256;
/// Order numbers per posting block of a phone term ([`phone_grams`]): each of the 10,000 runs
/// of four digits is in about one order in a thousand, so only a wide block gathers several.
pub const PHONE_BLOCK_ORDERS: u64 = 4096;

/// The block width of a term's postings.
pub fn block_orders(term: &[u8]) -> u64 {
    if term.first() == Some(&(PHONE_MARK as u8)) {
        PHONE_BLOCK_ORDERS
    } else {
        BLOCK_ORDERS
    }
}

/// Posting key: term, separator, the block of order numbers (`number / width`).
pub fn posting_key(term: &str, number: u64) -> Vec<u8> {
    let mut k = term.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&(number / block_orders(term.as_bytes())).to_be_bytes());
    k
}

/// A posting's term (the key without its separator and block).
pub fn posting_term(key: &[u8]) -> Option<&[u8]> {
    key.get(..key.len().checked_sub(9)?)
}

/// A block holding at least `width / 16` orders is a bitmap (one bit per number); fewer are a
/// list of 2-byte offsets, so a value is never longer than the bitmap.
fn bitmap_bytes(width: u64) -> usize {
    (width / 8) as usize
}

/// A posting value's offsets within its block of `width` numbers, ascending; `None` when it
/// is neither a bitmap nor an ascending list of offsets.
pub fn block_offsets(width: u64, value: &[u8]) -> Option<Vec<u16>> {
    let bitmap = bitmap_bytes(width);
    if value.len() == bitmap {
        let mut out = Vec::new();
        for (i, byte) in value.iter().enumerate() {
            let mut b = *byte;
            while b != 0 {
                out.push((i * 8) as u16 + b.trailing_zeros() as u16);
                b &= b - 1;
            }
        }
        return Some(out);
    }
    if !value.len().is_multiple_of(2) || value.len() > bitmap {
        return None;
    }
    let out: Vec<u16> = value
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let ascending = out.windows(2).all(|w| w[0] < w[1]);
    (ascending && out.last().is_none_or(|o| u64::from(*o) < width)).then_some(out)
}

/// How many orders a posting value names, without reading them.
pub fn block_len(width: u64, value: &[u8]) -> usize {
    if value.len() == bitmap_bytes(width) {
        value.iter().map(|b| b.count_ones() as usize).sum()
    } else {
        value.len() / 2
    }
}

/// The value of a block of `width` numbers holding `offsets` (ascending, at least one).
pub fn block_value(width: u64, offsets: &[u16]) -> Vec<u8> {
    let bitmap = bitmap_bytes(width);
    if offsets.len() * 2 >= bitmap {
        let mut bits = vec![0u8; bitmap];
        for o in offsets {
            bits[usize::from(*o) / 8] |= 1 << (o % 8);
        }
        bits
    } else {
        offsets.iter().flat_map(|o| o.to_le_bytes()).collect()
    }
}

/// `number`'s offset within its block of `width` numbers.
pub fn block_offset(width: u64, number: u64) -> u16 {
    (number % width) as u16
}

/// The value of `term`'s block after `number` is added (`on`) or taken out: `Some(None)` when
/// the block is left empty, `None` when `value` is no posting value.
pub fn posting_with(
    term: &str,
    value: Option<&[u8]>,
    number: u64,
    on: bool,
) -> Option<Option<Vec<u8>>> {
    let width = block_orders(term.as_bytes());
    let mut offsets = match value {
        Some(v) => block_offsets(width, v)?,
        None => Vec::new(),
    };
    let o = block_offset(width, number);
    match (offsets.binary_search(&o), on) {
        (Err(at), true) => offsets.insert(at, o),
        (Ok(at), false) => {
            offsets.remove(at);
        }
        _ => {}
    }
    Some((!offsets.is_empty()).then(|| block_value(width, &offsets)))
}

/// Whether `term`'s posting value names `number` (of the block it is stored under).
pub fn posting_has(term: &str, value: &[u8], number: u64) -> bool {
    let width = block_orders(term.as_bytes());
    block_offsets(width, value)
        .is_some_and(|o| o.binary_search(&block_offset(width, number)).is_ok())
}

/// The order numbers of a posting (key and value), in ascending order; `None` when the entry
/// is no posting.
pub fn posting_numbers(key: &[u8], value: &[u8]) -> Option<Vec<u64>> {
    let width = block_orders(posting_term(key)?);
    let base = number_of_key(key)?.checked_mul(width)?;
    Some(
        block_offsets(width, value)?
            .into_iter()
            .map(|o| base + u64::from(o))
            .collect(),
    )
}

/// How many orders a posting names, without reading them (0 for an entry that is no posting).
pub fn posting_len(key: &[u8], value: &[u8]) -> usize {
    posting_term(key).map_or(0, |t| block_len(block_orders(t), value))
}

/// The status counters an order with these fields counts towards (`c:all`, `c:test:<0|1>`,
/// `c:ps:<code>`, `c:fs:<code>`).
pub fn counter_names(f: &IndexFields) -> Vec<String> {
    vec![
        "c:all".to_string(),
        format!("c:test:{}", u8::from(f.test)),
        format!("c:ps:{}", f.payment.code()),
        format!("c:fs:{}", f.fulfillment.code()),
    ]
}

/// A customer's search terms: name, e-mail and phone.
pub fn customer_terms(c: &crate::ports::CustomerRecord) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    terms_of_text(&c.name, &mut out);
    terms_of_text(&c.email, &mut out);
    phone_terms(&c.phone, &mut out);
    out
}

/// The key an intake finds its customer by: the e-mail, or the phone's digits when there is no
/// e-mail.
pub fn contact_key(email: &str, phone: &str) -> String {
    if email.is_empty() {
        format!("p:{}", digits(phone))
    } else {
        format!("e:{email}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posting_block_names_the_orders_of_consecutive_numbers() {
        let k = posting_key("ann", 256 + 7);
        assert_eq!(k, posting_key("ann", 511));
        assert_ne!(k, posting_key("ann", 512));
        assert_ne!(k, posting_key("ann", 255));
        assert_eq!(posting_term(&k), Some(&b"ann"[..]));
        // Phone terms have wider blocks.
        assert_eq!(posting_key("%5231", 7), posting_key("%5231", 4095));
        assert_ne!(posting_key("%5231", 7), posting_key("%5231", 4096));
        // A few orders: a list of offsets; adding one already there changes nothing.
        let mut v = None;
        for n in [256 + 90, 256 + 7, 256 + 255, 256 + 7] {
            v = posting_with("ann", v.as_deref(), n, true).unwrap();
        }
        let v = v.unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(posting_len(&k, &v), 3);
        assert_eq!(posting_numbers(&k, &v), Some(vec![263, 346, 511]));
        assert!(posting_has("ann", &v, 346) && !posting_has("ann", &v, 347));
        // Taking out the last one leaves nothing; one not there changes nothing.
        let one = posting_with("ann", Some(&v), 263, false).unwrap().unwrap();
        let one = posting_with("ann", Some(&one), 511, false)
            .unwrap()
            .unwrap();
        assert_eq!(
            posting_with("ann", Some(&one), 300, false),
            Some(Some(one.clone()))
        );
        assert_eq!(posting_with("ann", Some(&one), 346, false), Some(None));
        // Many orders: a bitmap (32 bytes for 256 numbers, 512 for 4,096), never longer, that
        // reads back the same.
        for width in [BLOCK_ORDERS, PHONE_BLOCK_ORDERS] {
            let all: Vec<u16> = (0..width as u16).step_by(3).collect();
            let bitmap = block_value(width, &all);
            assert_eq!(bitmap.len(), width as usize / 8);
            assert_eq!(block_offsets(width, &bitmap), Some(all.clone()));
            assert_eq!(block_len(width, &bitmap), all.len());
            let short = width as usize / 16 - 1;
            let list = block_value(width, &all[..short]);
            assert_eq!(list.len(), short * 2);
            assert_eq!(block_offsets(width, &list), Some(all[..short].to_vec()));
            assert_eq!(
                block_value(width, &all[..short + 1]).len(),
                width as usize / 8
            );
        }
        // Blocks sort by number within a term, and every block of a term before the next term.
        assert!(posting_key("ann", 5) < posting_key("ann", 1_000_000));
        assert!(posting_key("ann", u64::MAX) < posting_key("anna", 0));
        // Not posting values: odd lengths, offsets out of order or past the block, keys
        // without a block.
        assert_eq!(block_offsets(BLOCK_ORDERS, b"abc"), None);
        assert_eq!(block_offsets(BLOCK_ORDERS, &[2, 0, 1, 0]), None);
        assert_eq!(block_offsets(BLOCK_ORDERS, &[0, 1]), None);
        assert_eq!(posting_numbers(b"ann", &v), None);
        assert_eq!(posting_with("ann", Some(b"abc"), 1, true), None);
    }

    #[test]
    fn keys_sort_like_their_values() {
        let a = chrono::DateTime::from_timestamp(1_000, 0).unwrap();
        let b = chrono::DateTime::from_timestamp(2_000, 0).unwrap();
        assert!(time_key(a) < time_key(b));
        assert!(money_key(Decimal::new(999, 2)) < money_key(Decimal::new(1000, 2)));
        assert!(name_key("Alice") < name_key("bob"));
        assert_eq!(name_key("ALICE"), name_key("alice"));
    }

    #[test]
    fn long_names_are_cut_on_character_boundaries() {
        let k = name_key("Zoë Zoë Zoë Zoë Zoë Zoë Zoë Zoë");
        assert!(std::str::from_utf8(k.split(|b| *b == 0).next().unwrap()).is_ok());
    }

    /// The number "+1 555 446 5066" as a merchant may type it, whole or in part.
    const PHONE_QUERIES: [&str; 6] = [
        "+1 555 446 5066",
        "5554465066",
        "446 5066",
        "(555) 446-5066",
        "4465",
        "5066",
    ];

    #[test]
    fn any_run_of_four_or_more_phone_digits_finds_the_number() {
        let mut terms = BTreeSet::new();
        phone_terms("+1 555 446 5066", &mut terms);
        for q in PHONE_QUERIES {
            let words = query_terms(q);
            assert_eq!(words.len(), 1, "{q}: one digit term");
            assert!(
                terms.iter().any(|t| t.starts_with(words[0].as_str())),
                "{q} finds the number"
            );
        }
        // Three digits are too few to be a phone search (they stay an ordinary word).
        assert_eq!(query_terms("506"), vec!["506".to_string()]);
        assert!(!terms.iter().any(|t| t.starts_with("9999")));
    }

    /// A random sample order, numbered 1001.
    fn sample_order_1001() -> Order {
        crate::domain::sample::sample_order(false)
            .validate()
            .unwrap()
            .build(
                &crate::domain::intake::NewOrderIds {
                    order_id: uuid::Uuid::nil(),
                    number: 1001,
                    customer_id: crate::domain::CustomerId(uuid::Uuid::nil()),
                    item_ids: vec![uuid::Uuid::nil(); 8],
                    payment_id: uuid::Uuid::nil(),
                },
                "USD",
                chrono::Utc::now(),
                &crate::domain::Actor::Token("t".into()),
            )
    }

    #[test]
    fn an_orders_phone_is_posted_as_runs_of_four_digits_and_checked_whole_on_its_row() {
        let mut o = sample_order_1001();
        o.customer.phone = "+1 555 446 5066".into();
        let posted = order_terms(&o);
        let grams: Vec<&String> = posted
            .iter()
            .filter(|t| t.starts_with(PHONE_MARK))
            .collect();
        // Eleven digits: eight runs of four, and no ending of the number is posted.
        assert_eq!(grams.len(), 8, "{grams:?}");
        assert!(posted.contains("%4465") && !posted.contains("15554465066"));
        let row: Vec<String> = row_terms(&o).into_iter().collect();
        assert!(row.contains(&"%15554465066".to_string()));
        for q in PHONE_QUERIES {
            let words = query_terms(q);
            assert_eq!(words.len(), 1, "{q}: one digit term");
            assert!(is_digit_word(&words[0]), "{q}");
            assert!(row_matches(&words[0], &row), "{q} finds the number");
        }
        // Digits the number does not hold in that order, and three digits (an ordinary word
        // that only begins terms), do not find it by its phone.
        assert!(!row_matches("5066555", &row));
        assert!(!is_digit_word("506") && !row_matches("506", &row));
        // PostgreSQL's search text keeps every ending of the number.
        assert!(search_words(&o).contains("4465066"));
    }

    #[test]
    fn a_whole_sku_is_skipped_for_its_first_part_which_is_posted_too() {
        assert_eq!(skip_covered("btl", b"btl-stl-1l"), Some(b"btl.".to_vec()));
        assert_eq!(skip_covered("bt", b"btl-stl-1l"), Some(b"btl.".to_vec()));
        assert_eq!(
            skip_covered("sku", "sku 12".as_bytes()),
            Some(b"sku!".to_vec())
        );
        let mut past_dash = "ab–".as_bytes().to_vec();
        *past_dash.last_mut().unwrap() += 1;
        assert_eq!(skip_covered("ab", "ab–7".as_bytes()), Some(past_dash));
        for (word, term) in [
            ("btlx", "btl-stl"),
            ("stl", "btl-stl"),
            ("ann", "@ann@shop.test"),
            ("vip", "#vip"),
            ("btl", "btl"),
        ] {
            assert_eq!(skip_covered(word, term.as_bytes()), None, "{word} {term}");
        }
        // Every term of the run sorts between the first part's postings and the run's end.
        for t in ["btl-a", "btl-stl-1l", "btl-zzz-9"] {
            assert!(posting_key("btl", u64::MAX) < posting_key(t, 0), "{t}");
            assert!(posting_key(t, u64::MAX) < b"btl.".to_vec(), "{t}");
        }
        assert!(b"btl.".to_vec() < posting_key("btl0", 0));
        // The whole SKU and tracking number are posted with their first parts.
        let mut o = sample_order_1001();
        o.items[0].sku = "BTL-STL-1L".into();
        let terms = search_words(&o);
        assert!(terms.contains("btl-stl-1l") && terms.contains("btl"));
    }

    #[test]
    fn a_term_of_letters_and_digits_posts_its_letters_and_its_run_is_skipped_for_them() {
        assert_eq!(letter_stem("patel42"), Some("patel"));
        assert_eq!(letter_stem("chloé7x"), Some("chloé"));
        for none in ["patel", "42", "a-5", "%4465", "@ann1@x.com", "#vip1", ""] {
            assert_eq!(letter_stem(none), None, "{none}");
        }
        // A word the stem begins skips the run; one that reaches into the digits does not.
        assert_eq!(skip_covered("pat", b"patel42"), Some(b"patel:".to_vec()));
        assert_eq!(skip_covered("patel", b"patel42"), Some(b"patel:".to_vec()));
        assert_eq!(skip_covered("patel4", b"patel42"), None);
        assert_eq!(skip_covered("patel", b"patella"), None);
        // Every term of the run sorts between the stem's own postings and the run's end.
        for t in ["patel0", "patel42", "patel9zz", "patel99999"] {
            assert!(posting_key("patel", u64::MAX) < posting_key(t, 0), "{t}");
            assert!(posting_key(t, u64::MAX) < stem_run_end("patel"), "{t}");
        }
        assert!(stem_run_end("patel") < posting_key("patela", 0));

        let mut o = sample_order_1001();
        o.customer.name = "Ann Smith".into();
        o.customer.email = "jpatel42@example.com".into();
        let posted = order_terms(&o);
        assert!(posted.contains("jpatel42") && posted.contains("jpatel"));
        // PostgreSQL's search text matches inside words and needs no stems.
        assert!(!search_words(&o).contains("jpatel"));
    }

    #[test]
    fn text_is_split_into_searchable_terms() {
        let mut t = BTreeSet::new();
        terms_of_text("Ann-Marie O'Neil ann@Shop.example", &mut t);
        for w in [
            "ann",
            "marie",
            "o",
            "neil",
            "@ann@shop.example",
            "shop",
            "example",
        ] {
            assert!(t.contains(w), "{w} in {t:?}");
        }
    }

    #[test]
    fn every_sort_and_filter_has_an_index_to_read() {
        use crate::domain::tests_support;
        let mut o = tests_support::order();
        for test in [false, true] {
            o.test = test;
            let f = IndexFields::of(&o);
            let keys = index_keys(&f);
            assert_eq!(keys.len(), if test { 14 } else { 9 });
            for sort in SortField::ALL {
                for (p, fl, t) in [
                    (None, None, None),
                    (Some(f.payment), None, None),
                    (None, Some(f.fulfillment), None),
                    (None, None, Some(test)),
                ] {
                    let part = partition_for(sort, p, fl, t);
                    assert!(
                        keys.contains(&index_key(sort, part, &f)),
                        "{sort:?} {part:?} test={test}"
                    );
                }
            }
        }
    }

    #[test]
    fn query_words_drop_prefixes_of_other_words() {
        assert_eq!(query_terms("jo john"), vec!["john".to_string()]);
        assert_eq!(query_terms("#1001"), vec!["1001".to_string()]);
    }

    #[test]
    fn an_email_domain_with_its_at_sign_is_searched_by_its_words() {
        let words = |q: &str| {
            let mut w = query_terms(q);
            w.sort();
            w
        };
        assert_eq!(words("@shop.com"), vec!["com", "shop"]);
        assert_eq!(words("shop.com"), vec!["com", "shop"]);
        // A whole address still finds exactly that address.
        assert!(words("Ann@Shop.com").contains(&"@ann@shop.com".to_string()));
        assert!(words("@ann@shop.com").contains(&"@ann@shop.com".to_string()));
    }
}
