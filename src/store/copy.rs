//! `orderdeck copy`: a whole store into an empty one of any backend, part by part through the
//! transfer port (`ports::transfer`), reading the next page while the last one is written.

use crate::ports::{Part, Storage, StoreError};

/// Records read and written at a time.
pub const PAGE: usize = 500;

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the destination is not empty; copy only writes into an empty store")]
    NotEmpty,
    #[error(
        "the source's {part} changed during the copy ({read} read, {now} there now); \
         stop every server using it and copy into a new destination"
    )]
    SourceChanged {
        part: &'static str,
        read: u64,
        now: u64,
    },
    #[error("the destination holds {there} {part} after the copy, but {read} were copied")]
    Short {
        part: &'static str,
        read: u64,
        there: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a copy wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Records of each part, in copy order.
    pub parts: Vec<(Part, u64)>,
    /// The number the destination gives its next order.
    pub next_number: u64,
}

impl Copied {
    /// Records of one part.
    pub fn count(&self, part: Part) -> u64 {
        self.parts
            .iter()
            .find(|(p, _)| *p == part)
            .map_or(0, |(_, n)| *n)
    }
}

impl std::fmt::Display for Copied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|(p, n)| format!("{n} {}", p.label()))
            .collect();
        write!(
            f,
            "{}; the next order number is {}",
            parts.join(", "),
            self.next_number
        )
    }
}

/// Copies every record of `src` into `dst`, which must be empty. `progress` hears
/// `(part, records copied, records in the part)` after each page. The source must not change
/// meanwhile (a part whose size moved is refused).
pub async fn copy(
    src: &dyn Storage,
    dst: &dyn Storage,
    progress: &mut (dyn FnMut(Part, u64, u64) + Send),
) -> Result<Copied, CopyError> {
    if !dst.is_empty().await? {
        return Err(CopyError::NotEmpty);
    }
    let next_number = src.next_number().await?;
    let mut parts = Vec::new();
    for part in Part::ALL {
        let total = src.export_count(part).await?;
        progress(part, 0, total);
        let mut done = 0u64;
        let mut page = src.export_page(part, None, PAGE).await?;
        loop {
            let following = async {
                match &page.next {
                    Some(after) => Some(src.export_page(part, Some(after), PAGE).await),
                    None => None,
                }
            };
            let (written, following) = tokio::join!(dst.import(&page.records), following);
            written?;
            done += page.records.len() as u64;
            progress(part, done, total.max(done));
            match following {
                Some(next) => page = next?,
                None => break,
            }
        }
        let now = src.export_count(part).await?;
        if now != done {
            return Err(CopyError::SourceChanged {
                part: part.label(),
                read: done,
                now,
            });
        }
        let there = dst.export_count(part).await?;
        if there != done {
            return Err(CopyError::Short {
                part: part.label(),
                read: done,
                there,
            });
        }
        parts.push((part, done));
    }
    dst.set_next_number(next_number).await?;
    Ok(Copied {
        parts,
        next_number: dst.next_number().await?,
    })
}
