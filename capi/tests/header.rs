//! include/funk.h is what cbindgen makes of the sources today.

use std::path::Path;

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("capi/cbindgen.toml parses");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = crate_dir.join("include/funk.h");
    if std::env::var_os("FUNK_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/funk.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "capi/include/funk.h is out of date with capi/src; regenerate it with\n    \
         FUNK_BLESS_HEADER=1 cargo test -p funk-capi --test header\n\
         --- generated ---\n{}",
        String::from_utf8_lossy(&generated)
    );
}
