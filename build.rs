//! Compiles the one C file: long-double arithmetic for INCRBYFLOAT (see src/ld.c).
fn main() {
    println!("cargo:rerun-if-changed=src/ld.c");
    cc::Build::new()
        .file("src/ld.c")
        .opt_level(2)
        .compile("tollgate_ld");
}
