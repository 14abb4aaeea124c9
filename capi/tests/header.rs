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
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = String::from_utf8(generated).expect("cbindgen writes UTF-8");
    if committed != generated {
        let (line, (old, new)) = committed
            .lines()
            .chain(std::iter::repeat("<end of file>"))
            .zip(generated.lines().chain(std::iter::repeat("<end of file>")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .expect("the texts differ, so some line does");
        panic!(
            "capi/include/funk.h differs from what cbindgen generates from capi/src, \
             first at line {}:\n  committed: {old}\n  generated: {new}\n\
             regenerate it with\n    FUNK_BLESS_HEADER=1 cargo test -p funk-capi --test header",
            line + 1
        );
    }
}
