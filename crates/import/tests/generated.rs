//! The generated bundle imports and validates; its size is what was asked.

#[test]
fn generated_bundle_of_50_vnets_imports() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-gen-{}", std::process::id()));
    vnetsim_import::generate::write_az_bundle(&dir, 50).unwrap();
    let i = vnetsim_import::import(std::slice::from_ref(&dir), &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let v = vnetsim_model::load_str("g.yaml", &i.yaml).expect("validates");
    assert_eq!(v.topology().vnets.len(), 50);
    assert_eq!(v.topology().peerings.len(), 2 * 49);
    assert_eq!(v.topology().nsgs.len(), 49);
    std::fs::remove_dir_all(&dir).ok();
}
