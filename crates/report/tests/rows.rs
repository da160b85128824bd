//! CSV and JSON lines output: read back with the csv and serde_json crates.

mod common;

use std::path::Path;

use vnetsim_report::{read_rows, FlowRow, OutputFormat, RowWriter, COLUMNS, HOPS_COLUMN};

fn write(path: &Path, rows: &[FlowRow]) {
    let mut w = RowWriter::create(path, OutputFormat::from_path(path).unwrap()).unwrap();
    for r in rows {
        w.write(r).unwrap();
    }
    assert_eq!(w.rows_written(), rows.len() as u64);
    w.finish().unwrap();
}

#[test]
fn format_follows_the_extension() {
    assert_eq!(
        OutputFormat::from_path(Path::new("a.csv")),
        Ok(OutputFormat::Csv)
    );
    assert_eq!(
        OutputFormat::from_path(Path::new("dir.x/a.CSV")),
        Ok(OutputFormat::Csv)
    );
    assert_eq!(
        OutputFormat::from_path(Path::new("a.jsonl")),
        Ok(OutputFormat::Jsonl)
    );
    assert_eq!(
        OutputFormat::from_path(Path::new("a.ndjson")),
        Ok(OutputFormat::Jsonl)
    );
    assert_eq!(
        OutputFormat::from_path(Path::new("a.parquet")),
        Ok(OutputFormat::Parquet)
    );
    let e = OutputFormat::from_path(Path::new("out.json")).unwrap_err();
    assert!(
        e.contains("out.json") && e.contains(".json") && e.contains(".csv"),
        "{e}"
    );
    let e = OutputFormat::from_path(Path::new("out")).unwrap_err();
    assert!(e.contains("no file extension"), "{e}");
}

#[test]
fn csv_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    let rows = common::awkward();
    write(&path, &rows);

    let mut r = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, COLUMNS);
    let back: Vec<FlowRow> = r.deserialize().collect::<Result<_, _>>().unwrap();
    assert_eq!(back, rows);
    assert_eq!(read_rows(&path).unwrap(), rows);

    // None is an empty cell; booleans are spelled out.
    let mut r = csv::Reader::from_path(&path).unwrap();
    let recs: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().unwrap();
    let col = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
    assert_eq!(&recs[2][col("fqdn")], "");
    assert_eq!(&recs[2][col("deliveredTo")], "");
    assert_eq!(&recs[0][col("symmetric")], "true");
    assert_eq!(&recs[1][col("srcPort")], "65535");
}

#[test]
fn csv_without_rows_has_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.csv");
    write(&path, &[]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, format!("{}\n", COLUMNS.join(",")));
    assert!(read_rows(&path).unwrap().is_empty());
}

/// No whitespace outside string literals.
fn compact(json: &str) -> bool {
    let (mut in_str, mut escaped) = (false, false);
    for c in json.chars() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
        } else if c.is_whitespace() {
            return false;
        }
    }
    !in_str
}

#[test]
fn jsonl_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    let rows = common::awkward();
    write(&path, &rows);

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), rows.len());
    assert!(text.ends_with('\n'));
    for (line, row) in lines.iter().zip(&rows) {
        let back: FlowRow = serde_json::from_str(line).unwrap();
        assert_eq!(&back, row);
        // Compact, camelCase keys in the fixed column order (the hops list last), null for None.
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let order: Vec<&str> = COLUMNS.iter().copied().chain([HOPS_COLUMN]).collect();
        let mut sorted = order.clone();
        sorted.sort();
        let mut got = keys.clone();
        got.sort();
        assert_eq!(got, sorted);
        let mut at = 0;
        for c in order {
            let p = line
                .find(&format!("\"{c}\":"))
                .unwrap_or_else(|| panic!("{c} missing in {line}"));
            assert!(p >= at, "{c} out of order in {line}");
            at = p;
        }
        assert!(compact(line), "not compact: {line}");
    }
    assert!(lines[2].contains("\"fqdn\":null"));
    // The path as a list, one string per hop, escaped as JSON strings.
    let hops =
        |i: usize| serde_json::from_str::<serde_json::Value>(lines[i]).unwrap()["hops"].clone();
    assert_eq!(
        hops(0),
        serde_json::json!(["nic:vm", "subnet:vnet-hub/snet-a", "pe:pe-app"])
    );
    assert_eq!(
        hops(3),
        serde_json::json!(["internet", "gateway:vgw & <co>", "firewall:afw-hub"])
    );
    assert!(lines[2].contains("\"deliveredTo\":null"));
    assert_eq!(read_rows(&path).unwrap(), rows);
}

#[test]
fn jsonl_bytes_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.ndjson"));
    let rows: Vec<FlowRow> = (0..500).map(common::row).chain(common::awkward()).collect();
    write(&a, &rows);
    write(&b, &rows);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn csv_bytes_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let rows: Vec<FlowRow> = (0..500).map(common::row).collect();
    write(&a, &rows);
    write(&b, &rows);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn writes_to_any_sink() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Shared::default();
    let mut w = RowWriter::new(Box::new(sink.clone()), OutputFormat::Jsonl).unwrap();
    w.write(&common::row(7)).unwrap();
    w.finish().unwrap();
    let bytes = sink.0.lock().unwrap().clone();
    let back: FlowRow = serde_json::from_slice(bytes.strip_suffix(b"\n").unwrap()).unwrap();
    assert_eq!(back, common::row(7));
}

#[test]
fn unwritable_path_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/rows.csv");
    let e = RowWriter::create(&path, OutputFormat::Csv)
        .err()
        .expect("must fail");
    assert!(!e.to_string().is_empty());
}
