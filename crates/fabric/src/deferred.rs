//! Tables that a compiled fabric file holds as bytes until a command first uses them.
//!
//! A fabric compiled in this process has every table built. A fabric read back from a compiled
//! file ([`Fabric::nsg_tables`](crate::Fabric::nsg_tables), nine tenths of the file) keeps each
//! table as its encoded bytes, in place in the file's mapping, and decodes a table the first
//! time it is indexed: `routes` for one subnet or a trace of one flow decodes the few tables it
//! meets, a sweep of every subnet decodes them all, once each, from whichever thread gets there
//! first. Indexing a table already decoded costs one atomic load.
//!
//! The bytes were checked when the file was read (its length and checksum, `vnetsim-store`), so
//! a table that does not decode was not written by this vnetsim: indexing it then panics with
//! the table's number and the decoder's message. [`Deferred::decode_all`] decodes every table
//! and returns that message instead, for whoever must know up front.

use std::ops::{Index, IndexMut};
use std::sync::{Arc, OnceLock};

/// Where the tables not yet decoded are: the file's bytes, each table's range in them, and the
/// decoder of one table's bytes.
pub struct Source<T> {
    bytes: Box<dyn AsRef<[u8]> + Send + Sync>,
    /// Table `i` is `bytes[ends[i - 1]..ends[i]]` (`start` for the first).
    start: usize,
    ends: Vec<usize>,
    decode: fn(&[u8]) -> Result<T, String>,
}

impl<T> Source<T> {
    /// `count` tables in `bytes`, the first at `start`, each ending where `ends` says, decoded
    /// by `decode`. Refuses ranges that run backwards or past the bytes.
    pub fn new(
        bytes: Box<dyn AsRef<[u8]> + Send + Sync>,
        start: usize,
        ends: Vec<usize>,
        decode: fn(&[u8]) -> Result<T, String>,
    ) -> Result<Source<T>, String> {
        let len = (*bytes).as_ref().len();
        let mut at = start;
        for (i, &end) in ends.iter().enumerate() {
            if end < at || end > len {
                return Err(format!("table {i} ends at byte {end}, outside {at}..{len}"));
            }
            at = end;
        }
        Ok(Source {
            bytes,
            start,
            ends,
            decode,
        })
    }
    fn bytes_of(&self, i: usize) -> &[u8] {
        let from = if i == 0 { self.start } else { self.ends[i - 1] };
        &(*self.bytes).as_ref()[from..self.ends[i]]
    }
}

/// A vector of tables, each built or decoded on first use (see the module's text).
pub struct Deferred<T> {
    cells: Vec<OnceLock<T>>,
    source: Option<Arc<Source<T>>>,
}

impl<T> Deferred<T> {
    /// Tables built in this process: nothing is left to decode.
    pub fn built(items: Vec<T>) -> Deferred<T> {
        Deferred {
            cells: items.into_iter().map(OnceLock::from).collect(),
            source: None,
        }
    }
    /// Tables still encoded in `source`, decoded as they are used.
    pub fn encoded(source: Source<T>) -> Deferred<T> {
        Deferred {
            cells: (0..source.ends.len()).map(|_| OnceLock::new()).collect(),
            source: Some(Arc::new(source)),
        }
    }
    pub fn len(&self) -> usize {
        self.cells.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
    /// How many tables are built or decoded so far.
    pub fn decoded(&self) -> usize {
        self.cells.iter().filter(|c| c.get().is_some()).count()
    }
    /// Table `i`, decoded now if it was not yet (`None` past the end). A table that does not
    /// decode panics here, as the module's text says.
    pub fn get(&self, i: usize) -> Option<&T> {
        let cell = self.cells.get(i)?;
        Some(cell.get_or_init(|| self.decode(i).unwrap_or_else(|e| panic!("{e}"))))
    }
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            tables: self,
            at: 0,
        }
    }
    /// Decodes every table not decoded yet; the first one that does not decode is the error.
    pub fn decode_all(&self) -> Result<(), String> {
        for (i, cell) in self.cells.iter().enumerate() {
            if cell.get().is_none() {
                let table = self.decode(i)?;
                let _ = cell.set(table);
            }
        }
        Ok(())
    }
    fn decode(&self, i: usize) -> Result<T, String> {
        let source = self
            .source
            .as_ref()
            .ok_or_else(|| format!("table {i} was neither built nor read"))?;
        (source.decode)(source.bytes_of(i))
            .map_err(|e| format!("compiled fabric damaged: table {i} does not decode: {e}"))
    }
}

impl<T> Default for Deferred<T> {
    fn default() -> Deferred<T> {
        Deferred::built(Vec::new())
    }
}

impl<T: Clone> Clone for Deferred<T> {
    fn clone(&self) -> Deferred<T> {
        Deferred {
            cells: self.cells.clone(),
            source: self.source.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Deferred({} tables, {} decoded)",
            self.len(),
            self.decoded()
        )
    }
}

impl<T> Index<usize> for Deferred<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        match self.cells[i].get() {
            Some(t) => t,
            None => self.get(i).expect("in bounds"),
        }
    }
}

impl<T> IndexMut<usize> for Deferred<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        let _ = self.get(i);
        self.cells[i].get_mut().expect("decoded just now")
    }
}

/// The tables in order, each decoded as the iteration reaches it.
pub struct Iter<'a, T> {
    tables: &'a Deferred<T>,
    at: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        let t = self.tables.get(self.at)?;
        self.at += 1;
        Some(t)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.tables.len() - self.at;
        (n, Some(n))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<'a, T> IntoIterator for &'a Deferred<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_u32s(b: &[u8]) -> Result<Vec<u32>, String> {
        if !b.len().is_multiple_of(4) {
            return Err(format!("{} bytes is not a whole number of u32", b.len()));
        }
        Ok(b.chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }

    fn encoded(words: &[&[u32]], tail: &[u8]) -> Deferred<Vec<u32>> {
        let mut bytes = vec![0xAA, 0xBB]; // a header the tables start after
        let mut ends = Vec::new();
        for w in words {
            bytes.extend(w.iter().flat_map(|x| x.to_le_bytes()));
            ends.push(bytes.len());
        }
        bytes.extend_from_slice(tail);
        if !tail.is_empty() {
            ends.push(bytes.len());
        }
        Deferred::encoded(Source::new(Box::new(bytes), 2, ends, decode_u32s).unwrap())
    }

    #[test]
    fn a_table_is_decoded_when_first_indexed_and_only_then() {
        let d = encoded(&[&[1, 2], &[], &[7, 8, 9]], &[]);
        assert_eq!((d.len(), d.decoded()), (3, 0));
        assert_eq!(d[2], vec![7, 8, 9]);
        assert_eq!(d.decoded(), 1);
        assert_eq!(d[2], vec![7, 8, 9]);
        assert_eq!(d.decoded(), 1);
        let all: Vec<Vec<u32>> = d.iter().cloned().collect();
        assert_eq!(all, vec![vec![1, 2], vec![], vec![7, 8, 9]]);
        assert_eq!(d.decoded(), 3);
        assert!(d.get(3).is_none());
    }

    #[test]
    fn a_table_changed_in_place_keeps_its_change_in_clones() {
        let mut d = encoded(&[&[1], &[2]], &[]);
        d[1].push(3);
        let c = d.clone();
        assert_eq!((c[0].clone(), c[1].clone()), (vec![1], vec![2, 3]));
    }

    #[test]
    fn built_tables_need_no_source() {
        let d = Deferred::built(vec![vec![5u32], vec![6]]);
        assert_eq!((d.decoded(), d[1][0]), (2, 6));
        assert!(d.decode_all().is_ok());
    }

    #[test]
    fn a_table_that_does_not_decode_is_an_error_naming_it() {
        let d = encoded(&[&[1]], &[1, 2, 3]);
        let e = d.decode_all().unwrap_err();
        assert!(e.contains("table 1 does not decode: 3 bytes"), "{e}");
        assert_eq!(d[0], vec![1]);
    }

    #[test]
    fn ranges_outside_the_bytes_are_refused() {
        let bytes = Box::new(vec![0u8; 8]);
        let e = Source::new(bytes, 0, vec![4, 12], decode_u32s)
            .err()
            .unwrap();
        assert!(e.contains("table 1 ends at byte 12, outside 4..8"), "{e}");
        let e = Source::new(Box::new(vec![0u8; 8]), 6, vec![4], decode_u32s)
            .err()
            .unwrap();
        assert!(e.contains("table 0 ends at byte 4"), "{e}");
    }
}
