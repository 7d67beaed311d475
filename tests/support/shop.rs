//! examples/shop with its platform block edited as text: tests/workflow.rs and tests/validators.rs
//! include this file alone (`#[path]`), the rest of `support` being heavier than they need.
#![allow(dead_code)]

/// examples/shop copied, with `platform.hcl` edited by `edit` (text in, text out), then loaded
/// as `glidepath` loads it: a setting changed here reaches everything the decoder derives from
/// it (`platform.delivery` sets each environment's `delivery`), as a hand-edited model would not.
pub fn shop_with_platform(edit: impl FnOnce(String) -> String) -> Result<glidepath::catalog::Model, String> {
    let dir = tempfile::tempdir().unwrap();
    let shop = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/shop"));
    for entry in std::fs::read_dir(shop).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let platform = dir.path().join("platform.hcl");
    std::fs::write(&platform, edit(std::fs::read_to_string(&platform).unwrap())).unwrap();
    glidepath::catalog::load(dir.path()).map_err(|e| format!("{e:?}"))
}

/// examples/shop with `platform { delivery = "gitops" }`, loaded.
pub fn shop_in_gitops_mode() -> glidepath::catalog::Model {
    shop_with_platform(|text| {
        text.replacen("  ecr_keep_images = 50\n", "  ecr_keep_images = 50\n  delivery = \"gitops\"\n", 1)
    })
    .unwrap()
}
