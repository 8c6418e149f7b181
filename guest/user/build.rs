//! Links every ring-3 program with `user.ld`: a static ELF at 0x400000, entry `_start`.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bins=-T{dir}/user.ld");
    println!("cargo:rerun-if-changed={dir}/user.ld");
}
