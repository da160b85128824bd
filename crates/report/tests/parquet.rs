//! Parquet output: read back with `read_parquet`.

mod common;

use std::path::Path;

use vnetsim_report::{
    parquet_row_groups, read_parquet, read_rows, FlowRow, OutputFormat, RowWriter,
};

fn write(path: &Path, rows: impl IntoIterator<Item = FlowRow>) {
    let mut w = RowWriter::create(path, OutputFormat::Parquet).unwrap();
    for r in rows {
        w.write(&r).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn parquet_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.parquet");
    let rows = common::awkward();
    write(&path, rows.clone());
    assert_eq!(read_parquet(&path).unwrap(), rows);
    assert_eq!(read_rows(&path).unwrap(), rows);
    assert_eq!(parquet_row_groups(&path).unwrap(), vec![rows.len() as i64]);
}

#[test]
fn parquet_without_rows_reads_back_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.parquet");
    write(&path, Vec::new());
    assert!(read_parquet(&path).unwrap().is_empty());
}

#[test]
fn parquet_large_output_is_split_into_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.parquet");
    let n = 150_000u32;
    write(&path, (0..n).map(common::row));
    let groups = parquet_row_groups(&path).unwrap();
    assert_eq!(groups.iter().sum::<i64>(), n as i64);
    assert!(groups.len() >= 3, "row groups: {groups:?}");
    assert!(
        groups.iter().all(|g| *g <= 64 * 1024),
        "row groups: {groups:?}"
    );
    let back = read_parquet(&path).unwrap();
    assert_eq!(back.len(), n as usize);
    for (i, r) in back.iter().enumerate() {
        assert_eq!(*r, common::row(i as u32), "row {i}");
    }
}

#[test]
fn parquet_bytes_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    let rows: Vec<FlowRow> = (0..20_000)
        .map(common::row)
        .chain(common::awkward())
        .collect();
    write(&a, rows.clone());
    write(&b, rows);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn reading_a_file_that_is_not_parquet_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.parquet");
    std::fs::write(&path, b"not parquet at all").unwrap();
    let e = read_parquet(&path).unwrap_err();
    assert!(e.contains("bad.parquet"), "{e}");
}
